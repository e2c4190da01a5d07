"""expireRequest on financing nodes: which deadline applies depends on how far the financing got.

A signed (agreed) financing expires at its own deadline, min(signature + FINANCING_WINDOW,
maturity); a financing the holder has not signed yet (requested or quoted) only at the bill's
maturity. Expiry returns the escrow to the holder.
"""

import brownie
import pytest

from consortium.domain.bills import NodeState
from tests.fixtures.bills import DAY, warp
from tests.unit.BillToken.helpers import snapshot

AMOUNT = 400_000_00
RATE = 800
AGREEMENT = "factoring agreement, 8 %"


@pytest.fixture(scope="module")
def requested(make_bill, bill_cast):
    """Factory: a financing node of tier-1's whole-bill holding, requested (not yet quoted)."""

    def _requested(mat=None):
        held = make_bill(mat=mat)
        fin, _ = bill_cast.tier1.request_financing(held, AMOUNT, "financing request")
        return held, fin

    return _requested


def _agree(bill_cast, fin):
    bill_cast.factor.quote(fin, RATE, AGREEMENT)
    return bill_cast.tier1.accept_financing(fin, AGREEMENT, bill_cast.factor.address, RATE)


def test_acceptFinancing__maturity_within_window__deadline_capped_at_maturity(
    bills, bill_cast, requested, chain
):
    mat = chain[-1].timestamp + 3 * DAY  # sooner than the 7-day financing window
    _, fin = requested(mat=mat)
    tx = _agree(bill_cast, fin)
    assert tx.events["BillFinancingAgreed"]["accepted"] is True
    assert bills.financing(fin)["deadline"] == mat
    assert bills.node(fin)["state"] == NodeState.AGREED


def test_acceptFinancing__maturity_after_window__deadline_is_window(bills, bill_cast, requested):
    _, fin = requested()  # maturity 90 days ahead
    tx = _agree(bill_cast, fin)
    assert bills.financing(fin)["deadline"] == tx.timestamp + bills.FINANCING_WINDOW()


def test_expireRequest__agreed_financing__refused_before_its_deadline_then_escrow_returned(
    bills, bill_cast, requested, chain
):
    held, fin = requested()
    _agree(bill_cast, fin)
    deadline = bills.financing(fin)["deadline"]
    holder = bill_cast.tier1.address
    before = snapshot(bills, [held, fin], [holder])
    # the financing's own deadline, not the bill's maturity 90 days later
    with brownie.reverts(revert_pattern=rf"BillDeadlineNotReached: {fin}, {deadline}, \d+"):
        bill_cast.tier1.expire(fin, "factor never paid")
    assert snapshot(bills, [held, fin], [holder]) == before
    warp(chain, deadline)
    tx = bill_cast.tier1.expire(fin, "factor never paid")
    ev = tx.events["BillRequestExpired"]
    assert (ev["nodeId"], ev["amount"], ev["state"]) == (fin, AMOUNT, NodeState.AGREED)
    assert bills.node(fin)["state"] == NodeState.REJECTED
    assert bills.balanceOf(bills.address, fin) == 0
    assert bills.balanceOf(holder, held) == before["balances"][(held, holder)] + AMOUNT


@pytest.mark.parametrize("quoted", [False, True], ids=["requested", "quoted"])
def test_expireRequest__unsigned_financing__waits_for_maturity(
    bills, bill_cast, requested, chain, maturity, quoted
):
    held, fin = requested()
    if quoted:
        bill_cast.factor.quote(fin, RATE, AGREEMENT)
    holder = bill_cast.tier1.address
    warp(chain, chain[-1].timestamp + 8 * DAY)  # past any financing window
    before = snapshot(bills, [held, fin], [holder])
    with brownie.reverts(revert_pattern=rf"BillDeadlineNotReached: {fin}, {maturity}, \d+"):
        bill_cast.tier1.expire(fin, "no factor")
    assert snapshot(bills, [held, fin], [holder]) == before
    warp(chain, maturity)
    bill_cast.tier1.expire(fin, "no factor")
    assert bills.node(fin)["state"] == NodeState.REJECTED
    assert bills.balanceOf(holder, held) == before["balances"][(held, holder)] + AMOUNT
