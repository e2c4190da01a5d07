"""Off-chain redemption (a bill in a currency without a cash token): declared per holding, burned on
the holder's confirmation. A declaration is checked against the holding when it is made, and the
bill is checked again when it is confirmed."""

import brownie
import pytest

from consortium.domain.bills import BillStatus
from tests.fixtures.bills import accepted_foreign_bill, warp

FACE_USD = 100_00


@pytest.fixture
def usd_bill(bills, bill_cast, maturity, chain):
    """A matured USD bill held whole by tier-1 (no USD cash token: redeemed off chain only)."""
    bill_id = accepted_foreign_bill(bills, bill_cast, FACE_USD, maturity, "USD purchase order")
    warp(chain, maturity)
    return bill_id


def test_redeem__declared_above_holding__refused_nothing_declared(bills, bill_cast, usd_bill):
    holder = bill_cast.tier1.address
    with brownie.reverts(
        f"BillAmountExceedsBalance: {usd_bill}, {holder.lower()}, {FACE_USD + 1}, {FACE_USD}"
    ):
        bill_cast.core.redeem([(usd_bill, holder, FACE_USD + 1)], payment_ref="USD wire 1")
    assert bills.balanceOf(holder, usd_bill) == FACE_USD
    b = bills.bill(usd_bill)
    assert (b["redeemed"], b["status"]) == (0, BillStatus.ACTIVE)


def test_confirmPayment__second_declaration_after_bill_settled__refused_unchanged(
    bills, bill_cast, usd_bill
):
    """The debtor declared the same redemption twice; once the first is confirmed the bill is
    settled, and confirming the second cannot burn or redeem anything more."""
    holder = bill_cast.tier1.address
    item = [(usd_bill, holder, FACE_USD)]
    first = bill_cast.core.redeem(item, payment_ref="USD wire 1")
    second = bill_cast.core.redeem(item, payment_ref="USD wire 2")
    (d1,) = bill_cast.core.declarations(first)
    (d2,) = bill_cast.core.declarations(second)
    tx = bill_cast.tier1.confirm_payment(d1)
    assert tx.events["BillSettled"]["faceValue"] == FACE_USD
    with brownie.reverts(f"BillNotActive: {usd_bill}, {int(BillStatus.SETTLED)}"):
        bill_cast.tier1.confirm_payment(d2)
    assert bills.balanceOf(holder, usd_bill) == 0
    b = bills.bill(usd_bill)
    assert (b["redeemed"], b["status"]) == (FACE_USD, BillStatus.SETTLED)
    # the refused confirmation left the declaration for its payer to withdraw
    assert bills.payment(d2)["amount"] == FACE_USD
