"""acceptFinancing without an agreement hash: refused whether the holder signs or declines."""

import brownie
import pytest

from consortium.domain.bills import NodeState
from tests.unit.BillToken.helpers import snapshot

AMOUNT = 400_000_00
ZERO32 = b"\0" * 32


@pytest.fixture(scope="module")
def quoted(make_bill, transfer, bill_cast):
    """A financing node of tier-2 supplier A's holding, quoted by the factor."""
    held = transfer(bill_cast.tier1, make_bill(), bill_cast.tier2a, AMOUNT)
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "financing request")
    bill_cast.factor.quote(fin, 800, "agreement v1")
    return held, fin


@pytest.mark.parametrize("accept", [True, False])
def test_acceptFinancing__zero_agreement_hash__reverts_unchanged(bills, bill_cast, quoted, accept):
    held, fin = quoted
    before = snapshot(bills, [held, fin], [bill_cast.tier2a.address])
    with brownie.reverts("BillZeroHash: agreementHash"):
        bill_cast.tier2a.accept_financing(fin, ZERO32, bill_cast.factor.address, 800, accept=accept)
    assert snapshot(bills, [held, fin], [bill_cast.tier2a.address]) == before
    assert bills.node(fin)["state"] == NodeState.QUOTED
    assert bills.financing(fin)["holderSigned"] is False
