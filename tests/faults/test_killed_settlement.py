"""Settlement agents killed between sending a batch and booking its receipt resume without resending.

Keys: an upload's (cycle, party, first trade id), a second clearing batch's content hash, a deposit
issue's payment reference.
"""

import brownie

from consortium.domain.clearing import peer_key, second_clearing, second_clearing_ref
from consortium.domain.hashing import doc_hash
from consortium.outbox import key_of
from consortium.roles import settlement as roles
from consortium.roles.deposits import CashIssuer, issue_kind
from consortium.store import Store
from tests.faults.helpers import dies_after_send, logs_since, resumed_once

ALL = b"\0" * 32


def _again(role, path):
    """The same institution's role object, rebuilt over its store (a restarted agent)."""
    cls = type(role)
    if isinstance(role, CashIssuer):
        return cls(role.inst, role.tokens, store=Store.at(path))
    if isinstance(role, roles.SecondParty):
        return cls(role.institution, role.engine, None, store=Store.at(path))
    return cls(role.institution, role.engine, None, role.charges, store=Store.at(path))


def test_upload_trades__killed_after_send__booked_once_and_resend_refused(
    engine, settle_cast, trades, cycle, tmp_path, web3
):
    p = settle_cast.participants[0]
    path, start = tmp_path / "broker.sqlite", web3.eth.block_number + 1
    mine = p.mine(trades)
    with dies_after_send(agent := _again(p, path)):
        agent.upload(cycle, mine)
    first = mine[0].trade_id
    count, block = engine.uploadOf(cycle, p.address, first)
    assert count == len(mine) and engine.bucket(cycle, p.address, ALL)[0] == len(mine)

    fresh = _again(p, path)
    booking = resumed_once(fresh, roles.UPLOAD, key_of(cycle, first), {"count": len(mine)})
    assert booking.block == block
    assert fresh.upload(cycle, mine) == [None]  # booked: nothing sent
    assert engine.bucket(cycle, p.address, ALL)[0] == len(mine)
    assert len(logs_since(web3, engine, "TradesUploaded", start)) == 1
    with brownie.reverts(
        f"SettlementBatchAlreadyUploaded: {cycle!r}, {p.address.lower()}, {first!r}, {len(mine)}, {block}"
    ):
        engine.uploadTrades(cycle, [t.as_tuple() for t in mine], {"from": p.account})


def test_submit_second_clearing__killed_after_send__booked_once_and_resend_refused(
    engine, settle_cast, trades, cycle, tmp_path, web3
):
    ccp = settle_cast.ccp
    parties = [p.address for p in settle_cast.participants]
    # entries of any content: the outbox is under test, not the CCP's reading of the chain
    entries = [second_clearing(p.address, trades, p.charges) for p in settle_cast.participants]
    path, start = tmp_path / "ccp.sqlite", web3.eth.block_number + 1
    with dies_after_send(agent := _again(ccp, path)):
        agent.distribute(cycle, entries)
    key = second_clearing_ref(0)
    count, block = engine.secondClearingOf(cycle, ccp.address, key)
    assert count == len(entries)

    fresh = _again(ccp, path)
    resumed_once(fresh, roles.SECOND, key_of(cycle, key), {"count": len(entries)})
    assert fresh.distribute(cycle, entries) == [None]
    assert len(logs_since(web3, engine, "SecondClearingDistributed", start)) == len(entries)
    with brownie.reverts(
        f"SettlementSecondClearingAlreadySubmitted: {cycle!r}, {ccp.address.lower()}, {key!r}, "
        f"{len(entries)}, {block}"
    ):
        engine.submitSecondClearing(
            cycle, [e.as_tuple() for e in entries], key, {"from": ccp.account}
        )
    assert engine.bucket(cycle, ccp.address, peer_key(parties[0]))[0] == entries[0].trade_count


def test_deposit_issue__killed_after_send__booked_once_and_resend_refused(
    settle_cast, tmp_path, web3
):
    cash, to = settle_cast.cash, settle_cast.participants[0].address
    token = cash.tokens["HKD"]
    path, start, held = (
        tmp_path / "cash-issuer.sqlite",
        web3.eth.block_number + 1,
        token.balanceOf(to),
    )
    with dies_after_send(agent := _again(cash, path)):
        agent.issue(to, "HKD", 5_000, "HK wire 88")
    ref = doc_hash("HK wire 88")
    holder, block = token.paymentRefUse(ref)
    assert holder == to and token.balanceOf(to) == held + 5_000

    fresh = _again(cash, path)
    resumed_once(fresh, issue_kind("HKD"), key_of(ref), {"holder": to})
    assert fresh.issue(to, "HKD", 5_000, "HK wire 88") is None
    assert token.balanceOf(to) == held + 5_000
    assert len(logs_since(web3, token, "DepositIssued", start)) == 1
    with brownie.reverts(f"DepositPaymentRefUsed: {ref!r}, {to.lower()}, {block}"):
        token.issue(to, 5_000, ref, {"from": cash.account})
    assert token.balanceOf(to) == held + 5_000
