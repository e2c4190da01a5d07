"""Clearing math in Python: the documented rounding rule, bounds and bucket hashing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain.clearing import (
    BUY,
    SELL,
    Charge,
    ChargeKind,
    ClearingError,
    Payer,
    charge_amount,
    clear,
    fold,
    set_bucket,
)


@pytest.mark.parametrize(
    "gross,bps,minimum,want",
    [
        (10_000, 3, 0, 3),  # exact
        (5_000, 1, 0, 1),  # 0.5 rounds half up
        (4_999, 1, 0, 0),  # 0.4999 rounds down
        (15_000, 1, 0, 2),  # 1.5 -> 2
        (1_000_000, 3, 500, 500),  # minimum applies
    ],
)
def test_charge__round_half_up_then_minimum(gross, bps, minimum, want):
    assert charge_amount(gross, bps, minimum) == want


def test_clear__buy_pays_and_sell_receives():
    charges = [
        Charge(ChargeKind.FEE, Payer.BOTH, 3, 500),
        Charge(ChargeKind.TAX, Payer.SELLER, 10, 0),
    ]
    assert clear(BUY, 1_000, 38_000, charges) == clear(BUY, 1_000, 38_000, charges[:1])
    line = clear(SELL, 1_000, 38_000, charges)
    assert (line.gross, line.fees, line.taxes, line.net) == (38_000_000, 11_400, 38_000, 37_950_600)


@pytest.mark.parametrize(
    "args,name",
    [
        ((BUY, 0, 1, []), "ClearingQuantityOutOfRange"),
        ((BUY, -5, 1, []), "ClearingQuantityOutOfRange"),
        ((BUY, 1, 10**18 + 1, []), "ClearingPriceOutOfRange"),
        ((2, 1, 1, []), "ClearingInvalidSide"),
        ((SELL, 1, 1, [Charge(ChargeKind.FEE, Payer.BOTH, 0, 2)]), "ClearingChargesExceedGross"),
    ],
)
def test_clear__bad_input__names_the_contract_error(args, name):
    with pytest.raises(ClearingError) as e:
        clear(*args)
    assert e.value.name == name


def test_charge__bps_above_10000__refused():
    with pytest.raises(ClearingError):
        Charge(ChargeKind.FEE, Payer.BOTH, 10_001)


# chain-free: hypothesis's own given (brownie's reverts the test chain before every example)
@settings(max_examples=50, deadline=None)
@given(
    gross=st.integers(0, 2**128 - 1), bps=st.integers(0, 10_000), minimum=st.integers(0, 2**64 - 1)
)
def test_charge__property_within_half_unit_of_exact(gross, bps, minimum):
    c = charge_amount(gross, bps, minimum)
    exact2 = 2 * gross * bps  # twice the exact charge, in units of 1/10_000
    assert c >= minimum
    if c > minimum:
        assert abs(2 * c * 10_000 - exact2) <= 10_000


def test_set_bucket__order_independent_input_canonical_chain():
    from consortium.domain.clearing import Trade, trade_id

    ts = [
        Trade(trade_id(i), 1, b"HKD".ljust(32, b"\0"), BUY, 1, 1, 1, b"\x01" * 32)
        for i in (3, 1, 2)
    ]
    b = set_bucket(ts)
    h = b"\x00" * 32
    for t in sorted(ts, key=lambda t: t.trade_id):
        h = fold(h, t.record_hash())
    assert (b.count, b.hash) == (3, h)


HKD, CNY = b"HKD".ljust(32, b"\0"), b"CNY".ljust(32, b"\0")
P, Q = "0x" + "11" * 20, "0x" + "22" * 20


def _day():
    from consortium.domain.clearing import Trade, trade_id

    return [
        Trade(
            trade_id(i), 1 + i % 2, HKD if i % 3 else CNY, i % 2, 10 + i, 100 + i, 1, b"\x01" * 32
        )
        for i in range(1, 9)
    ]


def _party_trades():
    from dataclasses import replace

    return [replace(t, participant=P if t.side == BUY else Q) for t in _day()]


def test_second_clearing__the_first_clearing_of_the_party__per_currency():
    """One function for both: the second party's totals are the party's first clearing totals
    under the same charges, its bucket the party's ALL bucket."""
    from consortium.domain.clearing import ALL, first_clearing, second_clearing

    charges = {
        1: [Charge(ChargeKind.FEE, Payer.BOTH, 3, 5)],
        2: [Charge(ChargeKind.TAX, Payer.SELLER, 10)],
    }
    trades = _party_trades()
    first, second = first_clearing(P, trades, charges), second_clearing(P, trades, charges)
    assert second.totals == first.totals and set(second.totals) == {HKD, CNY}
    assert (second.trade_count, second.trade_set_hash) == first.bucket(ALL).as_tuple()
    assert sum(t.trades for t in second.totals.values()) == second.trade_count
    # currency lines strictly ascending, as the engine requires
    assert [c for c, _ in second.as_tuple()[4]] == [CNY, HKD]
    # the configuration hash covers the products the party's trades are in, nothing else
    assert second_clearing(P, trades, charges | {9: []}).config_hash == second.config_hash


def test_totals_mismatches__both_ways__each_currency_with_both_totals():
    from dataclasses import replace

    from consortium.domain.clearing import ClearingTotals, totals_mismatches

    a = {HKD: ClearingTotals(2, 200, 2, 0, 202, 0), CNY: ClearingTotals(1, 50, 1, 1, 0, 48)}
    assert totals_mismatches(a, dict(a)) == []
    fee = replace(a[HKD], fees=3)
    assert totals_mismatches(a, {HKD: fee, CNY: a[CNY]}) == [(HKD, a[HKD], fee)]
    # a currency only one side has: against zeros, whichever side lacks it
    assert totals_mismatches(a, {HKD: a[HKD]}) == [(CNY, a[CNY], ClearingTotals())]
    assert totals_mismatches({HKD: a[HKD]}, a) == [(CNY, ClearingTotals(), a[CNY])]


def test_second_clearing_batches__within_entries_and_lines():
    from consortium.domain.clearing import ClearingTotals, SecondClearing
    from consortium.roles.settlement import second_clearing_batches

    one = SecondClearing(P, 1, b"\0" * 32, b"\0" * 32, {HKD: ClearingTotals(1)})
    two = SecondClearing(
        Q, 2, b"\0" * 32, b"\0" * 32, {HKD: ClearingTotals(1), CNY: ClearingTotals(1)}
    )
    none = SecondClearing(Q, 0, b"\0" * 32, b"\0" * 32)
    batches = second_clearing_batches([two] * 3 + [one] + [none] * 3, max_entries=3, max_lines=5)
    assert [len(b) for b in batches] == [2, 3, 2]
    for b in batches:
        assert len(b) <= 3 and sum(e.lines for e in b) <= 5
    assert [e for b in batches for e in b] == [two] * 3 + [one] + [none] * 3
