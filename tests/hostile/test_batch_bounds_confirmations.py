"""Oversized batches, confirmations line: breaks per call, batches per day, records per root/batch,
and the Merkle proof length of ConfirmationAnchor.verifyRecord (the bound added with these tests).

Counts (records per root, per batch) are claims, not arrays: one slot whatever their size, so only
the limit itself is checked. The 256th bilateral batch of a day is accepted and the 257th refused:
the first 255 are sent at once through TxPipe (seconds instead of a brownie call each).
"""

from types import SimpleNamespace

import pytest

from consortium.chain import web3
from consortium.txpipe import TxPipe
from tests.fixtures.confirmations import commit_bilateral, countersignature
from tests.fixtures.hostile import Bound, bound_tests

H = b"\x42" * 32
MILLION = 1_000_000


def _root(i):
    return (i + 1).to_bytes(32, "big")


@pytest.fixture(scope="module")
def world(recon, anchor, conf_cast, past_day):
    """Day D reconciled with 101 breaks to publish; day D-1 holding 255 batches; a period root."""
    bank, fc = conf_cast.bank.account, conf_cast.fc.address
    commit_bilateral(recon, bank, fc, past_day, H, 200, 10)
    recon.closeDay(bank.address, fc, past_day, {"from": conf_cast.reconciler.account})
    recon.recordReconciliation(
        bank.address,
        fc,
        past_day,
        (99, 101, 10, 10, 10, 10, H),
        {"from": conf_cast.reconciler.account},
    )
    pipe = TxPipe(web3())
    for i in range(255):
        args = (fc, past_day - 1, _root(i), 1, 1)
        sig = countersignature(recon, bank.address, *args)
        pipe.submit(bank, recon, "commitBilateral", *args, sig, gas=200_000)
    pipe.wait()
    anchor.anchorPeriod(
        1, H, 10, [conf_cast.issuer_a.address], {"from": conf_cast.sales_bank.account}
    )
    return SimpleNamespace(
        recon=recon,
        anchor=anchor,
        cast=conf_cast,
        day=past_day,
        key=recon.dayKey(bank.address, fc, past_day),
        full=recon.dayKey(bank.address, fc, past_day - 1),
    )


def _breaks(w, n):
    entries = [(i, (i + 7).to_bytes(32, "big"), 1 + i % 5, i % 3, i, i + 1) for i in range(n)]
    return w.recon.recordBreaks, (w.key, entries), w.cast.reconciler.account


def _nth_batch(w, n):
    """The n-th batch of the full day (n - 1 are there: the 256th is sent first when n = 257)."""
    bank, fc = w.cast.bank.account, w.cast.fc.address
    if n == 257:
        commit_bilateral(w.recon, bank, fc, w.day - 1, _root(255), 1, 1)
    args = (fc, w.day - 1, _root(n - 1), 1, 1)
    return w.recon.commitBilateral, (*args, countersignature(w.recon, bank.address, *args)), bank


def _commit_count(w, n):
    args = (w.cast.fc.address, w.day + 1, H[:31] + b"\1", n, 1)
    sig = countersignature(w.recon, w.cast.bank.address, *args)
    return (w.recon.commitBilateral, (*args, sig), w.cast.bank.account)


def _anchor_count(w, n):
    return (
        w.anchor.anchorPeriod,
        (2, H[:31] + b"\2", n, [w.cast.issuer_a.address]),
        w.cast.sales_bank.account,
    )


def _proof(w, n):
    return (
        w.anchor.verifyRecord,
        (w.cast.sales_bank.address, H, 1, H, w.cast.issuer_a.address, H, [H] * n),
        w.cast.bank.account,
    )


def _day(key):
    return lambda w: tuple(w.recon.getDay(getattr(w, key)))


def _published(w, tx, n):
    assert len(tx.events["BreakRecorded"]) == n and w.recon.getDay(w.key)["breaksRecorded"] == n


def _batches(w, tx, n):
    assert w.recon.getDay(w.full)["batches"] == n


def _committed(w, tx, n):
    assert tx.events["BilateralCommitted"]["count"] == n


def _anchored(w, tx, n):
    assert w.anchor.anchorOf(w.cast.sales_bank.address, H[:31] + b"\2")["count"] == n


def _refused_quietly(w, result, n):
    assert result is False  # a proof of the longest accepted length that proves nothing


BOUNDS = {
    "recordBreaks": Bound(
        100, _breaks, r"ReconciliationTooManyBreaks: .*, 101, 100", _day("key"), _published
    ),
    "commitBilateral batches per day": Bound(
        256, _nth_batch, r"ReconciliationTooManyBatches: .*, 256", _day("full"), _batches
    ),
    "commitBilateral records per batch": Bound(
        MILLION,
        _commit_count,
        rf"ReconciliationCountOutOfRange: {MILLION + 1}, {MILLION}",
        lambda w: tuple(
            w.recon.getDay(w.recon.dayKey(w.cast.bank.address, w.cast.fc.address, w.day + 1))
        ),
        _committed,
    ),
    "anchorPeriod records per root": Bound(
        MILLION,
        _anchor_count,
        rf"AnchorCountOutOfRange: {MILLION + 1}, {MILLION}",
        lambda w: tuple(w.anchor.anchorOf(w.cast.sales_bank.address, H[:31] + b"\2")),
        _anchored,
    ),
    "verifyRecord proof length": Bound(
        64,
        _proof,
        r"ConfirmationAnchorProofTooLong: 65, 64",
        lambda w: None,
        _refused_quietly,
        view=True,
    ),
}


(
    test_batch__at_bound__accepted_under_gas_cap,
    test_batch__bound_plus_one__named_error_state_unchanged,
) = bound_tests(BOUNDS)
