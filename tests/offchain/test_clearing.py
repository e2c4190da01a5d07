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
