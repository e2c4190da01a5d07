"""Acceptance: core enterprise → tier-1 → split to two tier-2 suppliers → one finances with a
factor → maturity redemption pays the right holders."""

from consortium.domain.bills import BillStatus, NodeState, proceeds
from tests.fixtures.bills import FACE, warp

A, B = 350_000_00, 500_000_00  # tier-1 keeps FACE - A - B = 150,000.00
RATE = 600


def test_multitier__issue_split_finance_redeem__right_holders_paid(
    bills, cash, bill_cast, maturity, chain, transfer
):
    core, t1, t2a, t2b, factor, auditor = (
        bill_cast.core,
        bill_cast.tier1,
        bill_cast.tier2a,
        bill_cast.tier2b,
        bill_cast.factor,
        bill_cast.auditor,
    )

    # 开单: the core enterprise owes tier-1 the face value
    bill_id, _ = core.request_issue(t1.address, FACE, maturity, "framework contract + invoices Q3")
    t1.review(bill_id, True, "delivery confirmed")
    auditor.audit(bill_id, True, "issue audit")
    assert t1.holding(bill_id) == FACE

    # 转单: tier-1 splits to two tier-2 suppliers
    node_a = transfer(t1, bill_id, t2a, A)
    node_b = transfer(t1, bill_id, t2b, B)
    assert (t1.holding(bill_id), t2a.holding(node_a), t2b.holding(node_b)) == (FACE - A - B, A, B)

    # 融资: tier-2 A sells its part to the factor
    fin, _ = t2a.request_financing(node_a, A, "financing request")
    quote = factor.quote(fin, RATE, "factoring agreement #1")
    t2a.accept_financing(fin, "factoring agreement #1", factor.address, RATE)
    auditor.audit(fin, True, "financing audit")
    paid = proceeds(A, RATE, maturity, quote.timestamp)
    cash_a = cash.balanceOf(t2a.address)
    factor.disburse(fin)
    assert cash.balanceOf(t2a.address) == cash_a + paid
    assert (t2a.holding(node_a), bills.balanceOf(factor.address, fin)) == (0, A)

    # lineage of every holding goes back to the bill
    assert factor.lineage(fin) == [fin, node_a, bill_id]
    assert t2b.lineage(node_b) == [node_b, bill_id]
    _, hops = bills.lineage(fin)
    assert all(h["state"] == NodeState.VALID for h in hops)

    # maturity: the debtor pays the holders of record, no one else
    warp(chain, maturity)
    holders = [
        (bill_id, t1.address, FACE - A - B),
        (node_b, t2b.address, B),
        (fin, factor.address, A),
    ]
    before = {h: cash.balanceOf(h) for _, h, _ in holders} | {
        t2a.address: cash.balanceOf(t2a.address)
    }
    core_before = cash.balanceOf(core.address)
    tx = core.redeem(holders)
    for _, h, amt in holders:
        assert cash.balanceOf(h) == before[h] + amt
    assert (
        cash.balanceOf(t2a.address) == before[t2a.address]
    )  # sold its claim: paid by the factor already
    assert cash.balanceOf(core.address) == core_before - FACE
    assert tx.events["BillSettled"]["billId"] == bill_id
    assert bills.bill(bill_id)["status"] == BillStatus.SETTLED
    assert all(bills.balanceOf(h, n) == 0 for n, h, _ in holders)
