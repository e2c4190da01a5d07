"""Redemption at maturity: the debtor pays the holders, redeemed amounts burn; overdue marking."""

import brownie
import pytest

from consortium.domain.bills import BillStatus
from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, accepted_foreign_bill, warp
from tests.unit.BillToken.helpers import snapshot

PART = 300_000_00
H = doc_hash("redemption batch")


@pytest.fixture(scope="module")
def split(make_bill, transfer, bill_cast):
    """A bill split: tier-1 keeps FACE - PART on the root node, tier-2 A holds PART on a child."""
    bill_id = make_bill()
    child = transfer(bill_cast.tier1, bill_id, bill_cast.tier2a, PART)
    return bill_id, child


@pytest.fixture
def matured(chain, maturity):
    warp(chain, maturity)


def test_redeem__matured__pays_each_holder_and_burns(bills, cash, bill_cast, split, matured):
    bill_id, child = split
    c1, c2 = cash.balanceOf(bill_cast.tier1.address), cash.balanceOf(bill_cast.tier2a.address)
    tx = bill_cast.core.redeem(
        [(bill_id, bill_cast.tier1.address, FACE - PART), (child, bill_cast.tier2a.address, PART)]
    )
    assert [e["holder"] for e in tx.events["BillRedeemed"]] == [
        bill_cast.tier1.address,
        bill_cast.tier2a.address,
    ]
    assert tx.events["BillSettled"]["faceValue"] == FACE
    assert cash.balanceOf(bill_cast.tier1.address) == c1 + FACE - PART
    assert cash.balanceOf(bill_cast.tier2a.address) == c2 + PART
    assert (
        bills.balanceOf(bill_cast.tier1.address, bill_id) == 0
        and bills.balanceOf(bill_cast.tier2a.address, child) == 0
    )
    b = bills.bill(bill_id)
    assert (
        b["redeemed"] == FACE
        and b["status"] == BillStatus.SETTLED
        and bills.outstanding(bill_id) == 0
    )


def test_redeem__reference_where_cash_pays__refused_unchanged(
    bills, cash, bill_cast, split, matured
):
    """A CNY bill on a contract paying in CNY deposits is redeemed on chain only (item 10)."""
    bill_id, child = split
    before = snapshot(bills, [child], [bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"BillOffChainPaymentRefused:.*"):
        bill_cast.core.redeem(
            [(child, bill_cast.tier2a.address, 100_00)], payment_ref="bank transfer 9"
        )
    assert snapshot(bills, [child], [bill_cast.tier2a.address]) == before
    assert bills.outstanding(bill_id) == FACE
    assert bills.bill(bill_id)["status"] == BillStatus.ACTIVE


def test_redeem__before_maturity__reverts_unchanged(bills, bill_cast, split):
    bill_id, child = split
    before = snapshot(bills, [bill_id, child], [bill_cast.tier1.address, bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"BillNotMatured:.*"):
        bill_cast.core.redeem([(child, bill_cast.tier2a.address, 1)])
    assert (
        snapshot(bills, [bill_id, child], [bill_cast.tier1.address, bill_cast.tier2a.address])
        == before
    )


@pytest.mark.parametrize(
    "case,item,error",
    [
        (
            "above balance",
            lambda s, c: (s[1], c.tier2a.address, PART + 1),
            r"BillAmountExceedsBalance:.*",
        ),
        ("wrong holder", lambda s, c: (s[1], c.tier2b.address, 1), r"BillAmountExceedsBalance:.*"),
        ("zero amount", lambda s, c: (s[1], c.tier2a.address, 0), r"BillZeroAmount.*"),
        ("unknown node", lambda s, c: (999, c.tier2a.address, 1), r"BillUnknownNode:.*"),
    ],
)
def test_redeem__bad_item__reverts_unchanged(bills, bill_cast, split, matured, case, item, error):
    bill_id, child = split
    before = snapshot(
        bills,
        [bill_id, child],
        [bill_cast.tier1.address, bill_cast.tier2a.address, bill_cast.tier2b.address],
    )
    with brownie.reverts(revert_pattern=error):
        bill_cast.core.redeem([(bill_id, bill_cast.tier1.address, 1), item(split, bill_cast)])
    assert (
        snapshot(
            bills,
            [bill_id, child],
            [bill_cast.tier1.address, bill_cast.tier2a.address, bill_cast.tier2b.address],
        )
        == before
    )


def test_redeem__not_debtor__reverts(bills, bill_cast, split, matured):
    with brownie.reverts(revert_pattern=r"BillNotDebtor:.*"):
        bill_cast.tier1.redeem([(split[1], bill_cast.tier2a.address, 1)])


def test_redeem__batch_bounds__reverts(bills, bill_cast, split, matured):
    child = split[1]
    with brownie.reverts(revert_pattern=r"BillBatchTooLarge:.*"):
        bill_cast.core.redeem([(child, bill_cast.tier2a.address, 1)] * 51)
    with brownie.reverts(revert_pattern=r"BillBatchLengthMismatch:.*"):
        bills.redeem(H, [child], [], [1], b"\0" * 32, {"from": bill_cast.core.inst.account})
    with brownie.reverts(revert_pattern=r"BillZeroAmount.*"):
        bill_cast.core.redeem([])
    tx = bill_cast.core.redeem([(child, bill_cast.tier2a.address, 1)] * 50)
    assert len(tx.events["BillRedeemed"]) == 50


def test_redeem__batch_ref_used__reverts_and_pays_nothing_twice(
    bills, cash, bill_cast, split, matured
):
    _, child = split
    ref = doc_hash("payment order 2026-0042")
    tx = bill_cast.core.redeem([(child, bill_cast.tier2a.address, 100_00)], batch_ref=ref)
    assert bills.redemptionOf(bill_cast.core.address, ref) == (1, tx.block_number)
    paid = cash.balanceOf(bill_cast.tier2a.address)
    before = snapshot(bills, [child], [bill_cast.tier2a.address])
    with brownie.reverts(
        f"BillRedemptionRefUsed: {bill_cast.core.address.lower()}, {ref!r}, 1, {tx.block_number}"
    ):
        bills.redeem(
            ref,
            [child],
            [bill_cast.tier2a.address],
            [100_00],
            b"\0" * 32,
            {"from": bill_cast.core.inst.account},
        )
    assert snapshot(bills, [child], [bill_cast.tier2a.address]) == before
    assert cash.balanceOf(bill_cast.tier2a.address) == paid
    # the same items again under another reference are another (instalment) payment
    bill_cast.core.redeem([(child, bill_cast.tier2a.address, 100_00)], batch_ref="payment order 43")
    assert cash.balanceOf(bill_cast.tier2a.address) == paid + 100_00
    assert bills.redemptionOf(bill_cast.core.address, doc_hash("never used")) == (0, 0)


def test_redeem__zero_batch_ref__reverts(bills, bill_cast, split, matured):
    _, child = split
    with brownie.reverts(revert_pattern=r"BillZeroHash: batchRef"):
        bills.redeem(
            b"\0" * 32,
            [child],
            [bill_cast.tier2a.address],
            [1],
            b"\0" * 32,
            {"from": bill_cast.core.inst.account},
        )
    assert bills.locked(child) == 0 and bills.balanceOf(bill_cast.tier2a.address, child) == PART


def test_redeem__locked_escrow__not_redeemable_until_rejected(
    bills, bill_cast, split, maturity, chain
):
    _bill_id, child = split
    pending, _ = bill_cast.tier2a.request_transfer(child, bill_cast.tier2b.address, PART, "sub")
    warp(chain, maturity)
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.core.redeem([(pending, bills.address, PART)])
    bill_cast.tier2b.review(pending, False, "matured before review")
    bill_cast.core.redeem([(child, bill_cast.tier2a.address, PART)])
    assert bills.balanceOf(bill_cast.tier2a.address, child) == 0


def test_redeem__currency_without_cash_token__on_chain_refused(bills, bill_cast, maturity, chain):
    bill_id = accepted_foreign_bill(bills, bill_cast, 100, maturity, "po")
    warp(chain, maturity)
    with brownie.reverts(revert_pattern=r"BillCurrencyMismatch:.*"):
        bill_cast.core.redeem([(bill_id, bill_cast.tier1.address, 100)])
    tx = bill_cast.core.redeem([(bill_id, bill_cast.tier1.address, 100)], payment_ref="USD wire")
    # declared only: the holder's claim stands until it confirms receipt
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == 100
    (declared,) = bill_cast.core.declarations(tx)
    bill_cast.tier1.confirm_payment(declared)
    assert bills.bill(bill_id)["status"] == BillStatus.SETTLED


def test_mark_overdue__unpaid_after_maturity__marked_then_redeemable(
    bills, bill_cast, split, maturity, chain
):
    bill_id, child = split
    with brownie.reverts(revert_pattern=r"BillNotMatured:.*"):
        bill_cast.tier2a.mark_overdue(bill_id)
    warp(chain, maturity + 1)
    tx = bill_cast.tier2a.mark_overdue(bill_id)
    ev = tx.events["BillMarkedOverdue"]
    assert (ev["billId"], ev["debtor"], ev["markedBy"], ev["outstanding"]) == (
        bill_id,
        bill_cast.core.address,
        bill_cast.tier2a.address,
        FACE,
    )
    assert bills.bill(bill_id)["status"] == BillStatus.OVERDUE
    with brownie.reverts(revert_pattern=r"BillNotActive:.*"):
        bill_cast.tier1.mark_overdue(bill_id)
    bill_cast.core.redeem(
        [(bill_id, bill_cast.tier1.address, FACE - PART), (child, bill_cast.tier2a.address, PART)]
    )
    assert bills.bill(bill_id)["status"] == BillStatus.SETTLED


def test_redeem__settled_bill__reverts(bills, bill_cast, split, matured):
    bill_id, child = split
    bill_cast.core.redeem(
        [(bill_id, bill_cast.tier1.address, FACE - PART), (child, bill_cast.tier2a.address, PART)]
    )
    with brownie.reverts(revert_pattern=r"BillNotActive:.*"):
        bill_cast.core.redeem([(child, bill_cast.tier2a.address, 1)])
