"""requestTransfer and requestFinancing of a bill no longer active (overdue, settled): refused with
the bill's status, before any maturity or balance check, and nothing moves."""

import brownie
import pytest

from consortium.domain.bills import BillStatus
from tests.fixtures.bills import FACE, warp
from tests.unit.BillToken.helpers import snapshot

PART = 300_000_00


@pytest.fixture
def overdue(make_bill, bill_cast, chain, maturity):
    bill_id = make_bill()
    warp(chain, maturity + 1)
    bill_cast.tier1.mark_overdue(bill_id)
    return bill_id


def _split_calls(c, node):
    return [
        lambda: c.tier1.request_transfer(node, c.tier2a.address, PART, "sub-contract"),
        lambda: c.tier1.request_financing(node, PART, "financing request"),
    ]


def test_requestTransfer_requestFinancing__overdue_bill__revert_unchanged(
    bills, bill_cast, overdue
):
    before = snapshot(bills, [overdue], [bill_cast.tier1.address, bill_cast.tier2a.address])
    for call in _split_calls(bill_cast, overdue):
        with brownie.reverts(f"BillNotActive: {overdue}, {BillStatus.OVERDUE}"):
            call()
    assert snapshot(bills, [overdue], [bill_cast.tier1.address, bill_cast.tier2a.address]) == before


def test_requestTransfer_requestFinancing__settled_bill__revert_unchanged(
    bills, bill_cast, overdue
):
    bill_cast.core.redeem([(overdue, bill_cast.tier1.address, FACE)])
    assert bills.bill(overdue)["status"] == BillStatus.SETTLED
    before = snapshot(bills, [overdue], [bill_cast.tier1.address, bill_cast.tier2a.address])
    for call in _split_calls(bill_cast, overdue):
        with brownie.reverts(f"BillNotActive: {overdue}, {BillStatus.SETTLED}"):
            call()
    assert snapshot(bills, [overdue], [bill_cast.tier1.address, bill_cast.tier2a.address]) == before
