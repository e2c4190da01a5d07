"""DepositToken: issue against cash in, redeem for cash out, settlement agents, member-only holders."""

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash


@pytest.fixture(scope="module")
def t(cash, cash_issuer, core, tier1, suspended_client):
    return cash


def test_metadata__currency_issuer_and_zero_decimals(t, cash_issuer):
    assert t.currency() == "0x" + code32("CNY").hex() and t.issuer() == cash_issuer.inst.address
    assert t.decimals() == 0 and t.symbol() == "dCNY"


def test_issue__to_member__mints_and_emits(t, cash_issuer, core):
    tx = cash_issuer.issue(core.address, "CNY", 500, "cash in 1")
    ev = tx.events["DepositIssued"]
    assert (ev["to"], ev["amount"], ev["issuer"]) == (core.address, 500, cash_issuer.inst.address)
    assert ev["paymentRef"] == "0x" + doc_hash("cash in 1").hex()
    assert t.balanceOf(core.address) == 500 and t.totalSupply() == 500


def test_redeem__burns_and_emits(t, cash_issuer, core):
    cash_issuer.issue(core.address, "CNY", 500, "in")
    tx = t.redeem(core.address, 200, doc_hash("out"), {"from": cash_issuer.inst.account})
    assert tx.events["DepositRedeemed"]["amount"] == 200
    assert t.balanceOf(core.address) == 300 and t.totalSupply() == 300


@pytest.mark.parametrize("fn", ["issue", "redeem"])
def test_issue_redeem__zero_amount__reverts_unchanged(t, cash_issuer, core, fn):
    with brownie.reverts(revert_pattern=r"DepositZeroAmount.*"):
        getattr(t, fn)(core.address, 0, doc_hash("x"), {"from": cash_issuer.inst.account})
    assert t.totalSupply() == 0


def test_redeem__above_balance__reverts_unchanged(t, cash_issuer, core):
    cash_issuer.issue(core.address, "CNY", 5, "in")
    with brownie.reverts(revert_pattern=r"ERC20InsufficientBalance:.*"):
        t.redeem(core.address, 6, doc_hash("out"), {"from": cash_issuer.inst.account})
    assert t.balanceOf(core.address) == 5


@pytest.mark.parametrize("fn", ["issue", "redeem"])
def test_issue_redeem__payment_ref_used__reverts_unchanged(t, cash_issuer, core, tier1, fn):
    ref = doc_hash("SWIFT MT103 0042")
    first = cash_issuer.issue(core.address, "CNY", 50, "cash in for the redemption")
    if fn == "redeem":
        first = t.redeem(core.address, 20, ref, {"from": cash_issuer.inst.account})
    else:
        first = t.issue(core.address, 20, ref, {"from": cash_issuer.inst.account})
    assert t.paymentRefUse(ref) == (core.address, first.block_number)
    supply, held = t.totalSupply(), t.balanceOf(core.address)
    # the same reference again, for either kind of movement and any holder, moves nothing
    for again, holder in (("issue", core), ("redeem", core), ("issue", tier1)):
        with brownie.reverts(
            f"DepositPaymentRefUsed: {ref!r}, {core.address.lower()}, {first.block_number}"
        ):
            getattr(t, again)(holder.address, 20, ref, {"from": cash_issuer.inst.account})
    assert (t.totalSupply(), t.balanceOf(core.address)) == (supply, held)


@pytest.mark.parametrize("fn", ["issue", "redeem"])
def test_issue_redeem__zero_payment_ref__reverts_unchanged(t, cash_issuer, core, fn):
    cash_issuer.issue(core.address, "CNY", 5, "cash in")
    with brownie.reverts(revert_pattern=r"DepositZeroPaymentRef.*"):
        getattr(t, fn)(core.address, 1, b"\0" * 32, {"from": cash_issuer.inst.account})
    assert t.totalSupply() == 5 and t.paymentRefUse(b"\0" * 32) == ("0x" + "00" * 20, 0)


@pytest.mark.parametrize("who", ["stranger", "suspended"])
def test_issue__to_non_member_or_suspended__reverts(
    t, cash_issuer, stranger, suspended_client, who
):
    to = stranger.address if who == "stranger" else suspended_client.address
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        cash_issuer.issue(to, "CNY", 1, "in")
    assert t.balanceOf(to) == 0


def test_transfer__between_members__moves(t, cash_issuer, core, tier1):
    cash_issuer.issue(core.address, "CNY", 10, "in")
    t.transfer(tier1.address, 4, {"from": core.inst.account})
    assert (t.balanceOf(core.address), t.balanceOf(tier1.address)) == (6, 4)


def test_transfer__to_stranger_or_from_suspended__reverts(
    t, cash_issuer, core, stranger, suspended_client, manager
):
    cash_issuer.issue(core.address, "CNY", 10, "in")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        t.transfer(stranger.address, 1, {"from": core.inst.account})
    manager.reinstate(suspended_client.address, "cleared")
    cash_issuer.issue(suspended_client.address, "CNY", 3, "in 2")
    manager.suspend(suspended_client.address, "again")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        t.transfer(core.address, 1, {"from": suspended_client.inst.account})
    assert (t.balanceOf(core.address), t.balanceOf(suspended_client.address)) == (10, 3)


@pytest.fixture(scope="module")
def agent(ReentrantReceiver, accounts):
    """A contract the tests appoint as settlement agent (its owner, accounts[15], drives it)."""
    return ReentrantReceiver.deploy({"from": accounts[15]})


def _agent_transfer(t, agent, *args):
    return agent.execute(t, t.agentTransfer.encode_input(*args), {"from": agent.owner()})


def test_set_settlement_agent__allow_then_revoke(t, manager, agent):
    tx = manager.appoint_settlement_agent(t, agent)
    ev = tx.events["SettlementAgentSet"]
    assert (ev["agent"], ev["allowed"], ev["manager"]) == (agent.address, True, manager.address)
    assert t.isSettlementAgent(agent)
    manager.appoint_settlement_agent(t, agent, False)
    assert not t.isSettlementAgent(agent)


def test_set_settlement_agent__eoa__reverts_even_for_governance(t, manager, accounts):
    with brownie.reverts(f"DepositAgentNotContract: {accounts[15].address.lower()}"):
        manager.appoint_settlement_agent(t, accounts[15])
    assert not t.isSettlementAgent(accounts[15])
    manager.appoint_settlement_agent(t, accounts[15], False)  # dismissing any address works
    assert not t.isSettlementAgent(accounts[15])


def test_agent_transfer__agent_moves_without_allowance(t, manager, agent, cash_issuer, core, tier1):
    manager.appoint_settlement_agent(t, agent)
    cash_issuer.issue(core.address, "CNY", 10, "in")
    _agent_transfer(t, agent, core.address, tier1.address, 7)
    assert (t.balanceOf(core.address), t.balanceOf(tier1.address)) == (3, 7)


def test_agent_transfer__not_agent__reverts_unchanged(t, cash_issuer, core, tier1):
    cash_issuer.issue(core.address, "CNY", 10, "in")
    with brownie.reverts(revert_pattern=r"DepositNotSettlementAgent:.*"):
        t.agentTransfer(core.address, tier1.address, 7, {"from": tier1.inst.account})
    assert t.balanceOf(core.address) == 10


def test_agent_transfer__to_non_member__reverts(t, manager, agent, cash_issuer, core, stranger):
    manager.appoint_settlement_agent(t, agent)
    cash_issuer.issue(core.address, "CNY", 10, "in")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        _agent_transfer(t, agent, core.address, stranger.address, 1)
    assert t.balanceOf(core.address) == 10
