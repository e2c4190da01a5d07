"""The vectorised engine: every break class, exact corrected totals, the explain-every-unit invariant."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain import reconciliation as R


def _day():
    b = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6, 7],
            "amount": [100, 200, 300, 400, 500, 600, 700],
            "committed": [True] * 5 + [False, False],
            "resolved_amount": [np.nan] * 5 + [650, np.nan],
        }
    )
    d = pd.DataFrame(
        {"id": [1, 2, 2, 3, 5, 6, 9, 7], "amount": [100, 200, 200, 300, 500, 650, 7, 1]}
    )
    c = pd.DataFrame({"id": [1, 2, 3, 4, 6], "amount": [100, 200, 310, 400, 650]})
    return b, d, c


def test_reconcile__every_class__one_break_each():
    res = R.reconcile(*_day())
    got = {(r.id, r.side): r.cause for r in res.breaks.itertuples()}
    assert got == {
        (2, R.DEBIT): R.DUPLICATE,
        (3, R.CREDIT): R.AMOUNT_MISMATCH,
        (4, R.DEBIT): R.MISSING,
        (5, R.CREDIT): R.MISSING,
        (6, R.BILATERAL): R.COMMITMENT_MISMATCH,
        (7, R.BILATERAL): R.COMMITMENT_MISMATCH,
        (7, R.DEBIT): R.COMMITMENT_MISMATCH,
        (9, R.DEBIT): R.UNKNOWN_ID,
    }
    assert res.unresolved == [7]
    with pytest.raises(R.UnresolvedCommitment, match="obtain the original"):
        R.require_resolved(res)


def test_reconcile__clean_day__ok_and_root_zero():
    b = pd.DataFrame({"id": [1, 2], "amount": [5, 6], "committed": True})
    res = R.reconcile(b, b[["id", "amount"]], b[["id", "amount"]])
    assert (
        res.ok
        and res.matched == 2
        and res.corrected_total == 11
        and res.breaks_root() == b"\0" * 32
    )


def test_reconcile__missing_columns__names_them():
    with pytest.raises(ValueError, match="amount"):
        R.reconcile(
            pd.DataFrame({"id": [1]}),
            pd.DataFrame({"id": [1], "amount": [1]}),
            pd.DataFrame({"id": [1], "amount": [1]}),
        )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=60), st.data())
def test_reconcile__random_breaks__every_unit_explained(amounts, data):
    n = len(amounts)
    b = pd.DataFrame({"id": np.arange(n), "amount": amounts, "committed": True})
    sides = []
    for _ in range(2):
        s = b[["id", "amount"]].copy()
        drop = data.draw(st.sets(st.integers(0, n - 1), max_size=3))
        s = s[~s.id.isin(drop)]
        dup = data.draw(st.sets(st.integers(0, n - 1), max_size=2))
        s = pd.concat(
            [
                s,
                s[s.id.isin(dup)],
                pd.DataFrame({"id": [10**6 + data.draw(st.integers(0, 5))], "amount": [3]}),
            ],
            ignore_index=True,
        )
        s.loc[s.index[: data.draw(st.integers(0, 2))], "amount"] += 1
        sides.append(s)
    res = R.reconcile(b, *sides)
    assert res.corrected_total == sum(amounts)
    for side, frame in zip((R.DEBIT, R.CREDIT), sides):
        br = res.breaks[res.breaks.side == side]
        assert res.presented[side] - int((br.presented - br.corrected).sum()) == res.corrected_total
        assert int(frame.amount.sum()) == res.presented[side]
    assert res.matched == n - len(set(res.breaks[res.breaks.cause != R.UNKNOWN_ID].id))
