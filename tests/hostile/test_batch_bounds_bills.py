"""Oversized batches, bill line: redeem pays at most MAX_REDEMPTION_BATCH holdings per call.

At the bound each item takes the on-chain cash path (burn, bill update, deposit-token payment). The
lineage bound (MAX_LINEAGE_DEPTH) is a depth, refused in tests/unit/BillToken/test_transfer.py.
"""

from types import SimpleNamespace

import pytest

from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, warp
from tests.fixtures.hostile import Bound, bound_tests
from tests.unit.BillToken.helpers import snapshot

ZERO32 = b"\0" * 32


@pytest.fixture(scope="module")
def world(bills, cash, bill_cast, make_bill, maturity, chain):
    """tier-1 holds a matured bill of the core enterprise."""
    bill_id = make_bill()
    warp(chain, maturity)
    return SimpleNamespace(bills=bills, cash=cash, cast=bill_cast, bill=bill_id)


def _redeem(w, n):
    holder = w.cast.tier1.address
    ref = doc_hash(f"hostile redeem batch of {n}")
    args = (ref, [w.bill] * n, [holder] * n, [1] * n, ZERO32)
    return w.bills.redeem, args, w.cast.core.inst.account


def _state(w):
    holder, debtor = w.cast.tier1.address, w.cast.core.address
    return snapshot(w.bills, [w.bill], [holder]), w.cash.balanceOf(holder), w.cash.balanceOf(debtor)


def _paid(w, tx, n):
    assert len(tx.events["BillRedeemed"]) == n
    assert w.bills.balanceOf(w.cast.tier1.address, w.bill) == FACE - n
    assert w.bills.outstanding(w.bill) == FACE - n
    assert w.cash.balanceOf(w.cast.tier1.address) == n  # paid on chain, 1 each (holds none before)


BOUNDS = {
    "redeem": Bound(50, _redeem, r"BillBatchTooLarge: 51, 50", _state, _paid),
}


(
    test_batch__at_bound__accepted_under_gas_cap,
    test_batch__bound_plus_one__named_error_state_unchanged,
) = bound_tests(BOUNDS)
