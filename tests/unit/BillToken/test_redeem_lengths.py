"""redeem with parallel arrays of different lengths: refused with the three lengths, nothing paid."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, warp
from tests.unit.BillToken.helpers import snapshot

ZERO32 = b"\0" * 32


@pytest.mark.parametrize("holders,amounts", [(1, 2), (1, 0), (0, 1)])
def test_redeem__array_lengths_differ__reverts_unchanged(
    bills, cash, bill_cast, make_bill, chain, maturity, holders, amounts
):
    bill_id = make_bill()
    warp(chain, maturity)
    tier1, core = bill_cast.tier1.address, bill_cast.core.address
    before = snapshot(bills, [bill_id], [tier1]), cash.balanceOf(tier1), cash.balanceOf(core)
    with brownie.reverts(f"BillBatchLengthMismatch: 1, {holders}, {amounts}"):
        bills.redeem(
            doc_hash(f"redeem lengths {holders} {amounts}"),
            [bill_id],
            [tier1] * holders,
            [FACE] * amounts,
            ZERO32,
            {"from": bill_cast.core.inst.account},
        )
    assert (
        snapshot(bills, [bill_id], [tier1]),
        cash.balanceOf(tier1),
        cash.balanceOf(core),
    ) == before
