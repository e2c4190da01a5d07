"""Bill agents killed between sending and booking the receipt resume without resending.

Keys: an issue's trade documents (requestIssue), a redemption's reference (redeem), a deposit
issue's payment reference (the cash issuer funding a member).
"""

import brownie

from consortium.domain.hashing import code32, doc_hash
from consortium.outbox import key_of
from consortium.roles.bills import ISSUE, REDEEM, BillClient
from consortium.roles.deposits import CashIssuer, issue_kind
from consortium.store import Store
from tests.faults.helpers import dies_after_send, logs_since, resumed_once
from tests.fixtures.bills import FACE, warp


def _client(role, path):
    return BillClient(role.inst, role.bills, store=Store.at(path))


def test_request_issue__killed_after_send__booked_once_and_resend_refused(
    bills, bill_cast, maturity, tmp_path, web3
):
    core, path = bill_cast.core, tmp_path / "core.sqlite"
    start, next_id = web3.eth.block_number + 1, bills.nextId()
    with dies_after_send(agent := _client(core, path)):
        agent.request_issue(bill_cast.tier1.address, FACE, maturity, "po 2026-311 + invoice")
    doc = doc_hash("po 2026-311 + invoice")
    bill_id, block = bills.billOfDocuments(core.address, doc)
    assert bill_id == next_id and bills.nextId() == next_id + 1

    fresh = _client(core, path)
    resumed_once(fresh, ISSUE, key_of(doc), {"billId": bill_id})
    again, tx = fresh.request_issue(
        bill_cast.tier1.address, FACE, maturity, "po 2026-311 + invoice"
    )
    assert (again, tx, bills.nextId()) == (bill_id, None, next_id + 1)
    assert len(logs_since(web3, bills, "BillIssueRequested", start)) == 1
    with brownie.reverts(
        f"BillDocumentsAlreadyIssued: {core.address.lower()}, {doc!r}, {bill_id}, {block}"
    ):
        bills.requestIssue(
            bill_cast.tier1.address,
            FACE,
            code32("CNY"),
            maturity,
            doc,
            False,
            {"from": core.inst.account},
        )
    assert bills.nextId() == next_id + 1 and bills.locked(bill_id) == FACE


def test_redeem__killed_after_send__paid_once_and_resend_refused(
    bills, cash, bill_cast, make_bill, maturity, chain, tmp_path, web3
):
    core, holder = bill_cast.core, bill_cast.tier1.address
    bill_id = make_bill()
    warp(chain, maturity)
    path, start, before = (
        tmp_path / "core.sqlite",
        web3.eth.block_number + 1,
        cash.balanceOf(holder),
    )
    items = [(bill_id, holder, 250_000_00)]
    with dies_after_send(agent := _client(core, path)):
        agent.redeem(items, batch_ref="payment order 9")
    ref = doc_hash("payment order 9")
    count, block = bills.redemptionOf(core.address, ref)
    assert count == 1 and cash.balanceOf(holder) == before + 250_000_00

    fresh = _client(core, path)
    resumed_once(fresh, REDEEM, key_of(ref), {"count": 1})
    assert fresh.redeem(items, batch_ref="payment order 9") is None
    assert cash.balanceOf(holder) == before + 250_000_00  # paid once
    assert len(logs_since(web3, bills, "BillRedeemed", start)) == 1
    with brownie.reverts(f"BillRedemptionRefUsed: {core.address.lower()}, {ref!r}, 1, {block}"):
        bills.redeem(
            ref, [bill_id], [holder], [250_000_00], b"\0" * 32, {"from": core.inst.account}
        )
    assert cash.balanceOf(holder) == before + 250_000_00
    assert bills.outstanding(bill_id) == FACE - 250_000_00


def test_fund__killed_after_send__issued_once_and_resend_refused(cash, bill_cast, tmp_path, web3):
    issuer, to = bill_cast.cash_issuer, bill_cast.tier2a.address
    path, start, held = tmp_path / "bank.sqlite", web3.eth.block_number + 1, cash.balanceOf(to)
    with dies_after_send(agent := CashIssuer.of(issuer.inst, cash, store=Store.at(path))):
        agent.issue(to, "CNY", 70_000, "cash in 2026-11-30/17")
    ref = doc_hash("cash in 2026-11-30/17")
    _, block = cash.paymentRefUse(ref)

    fresh = CashIssuer.of(issuer.inst, cash, store=Store.at(path))
    resumed_once(fresh, issue_kind("CNY"), key_of(ref), {"holder": to})
    assert fresh.issue(to, "CNY", 70_000, "cash in 2026-11-30/17") is None
    assert cash.balanceOf(to) == held + 70_000
    assert len(logs_since(web3, cash, "DepositIssued", start)) == 1
    with brownie.reverts(f"DepositPaymentRefUsed: {ref!r}, {to.lower()}, {block}"):
        cash.issue(to, 70_000, ref, {"from": issuer.inst.account})
    assert cash.balanceOf(to) == held + 70_000
