"""Per-test isolation with the cheaper revert (consortium.devtools.revert_cost): a revert still
forgets exactly the contracts it undeploys, and the chain's state is the snapshot's."""

from __future__ import annotations

from brownie import PlainERC1155, chain, web3
from brownie.network import state

from consortium.devtools import revert_cost


def _snapshot() -> str:
    """A snapshot of our own: brownie keeps one id, the per-test isolation's, which stays valid."""
    return web3.provider.make_request("evm_snapshot", [])["result"]


def test_revert_cost__applied_by_the_suite__brownie_notifies_without_a_full_gc():
    assert getattr(state._notify_registry, "_cheap", False)
    revert_cost.apply()  # idempotent: applying again keeps the one patch
    assert getattr(state._notify_registry, "_cheap", False)


def test_revert__deployed_after_the_snapshot__forgotten_earlier_ones_kept(accounts):
    kept = PlainERC1155.deploy({"from": accounts[0]})
    snapshot = _snapshot()
    gone = PlainERC1155.deploy({"from": accounts[0]}).address
    assert [c.address for c in PlainERC1155] == [kept.address, gone]
    chain._revert(snapshot)  # what brownie's revert does: the chain, then every registered object
    assert [c.address for c in PlainERC1155] == [kept.address]
    assert len(web3.eth.get_code(gone)) == 0
    kept.mint(accounts[1], 1, 5, {"from": accounts[0]})  # the kept one still works
    assert kept.balanceOf(accounts[1], 1) == 5


def test_revert__loaded_at_an_address__the_chain_decides(accounts):
    stays = PlainERC1155.deploy({"from": accounts[0]})
    snapshot = _snapshot()
    goes = PlainERC1155.deploy({"from": accounts[0]})
    for deployed in (stays, goes):
        PlainERC1155.remove(deployed)
    loaded = [PlainERC1155.at(stays.address), PlainERC1155.at(goes.address)]
    assert [c.tx for c in loaded] == [None, None]  # no receipt: only the chain can say
    chain._revert(snapshot)
    assert [c.address for c in PlainERC1155] == [stays.address]
