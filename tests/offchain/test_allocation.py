"""The allocation oracle on its own: exact legs, the remainder rule, rebalancing, unit rounding."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain.allocation import (
    BPS,
    MAX_UNIT_PRICE,
    PRICE_SCALE,
    Book,
    check_ratios,
    execute_leg,
    rebalance,
    sold_out,
    split,
    units_to_buy,
    units_to_sell,
    value_of,
)


@st.composite
def ratio_vectors(draw, max_items=16):
    """Positive basis-point ratios summing to 10,000 (1..max_items of them)."""
    n = draw(st.integers(1, max_items))
    cuts = sorted(
        draw(st.lists(st.integers(1, BPS - 1), min_size=n - 1, max_size=n - 1, unique=True))
    )
    bounds = [0, *cuts, BPS]
    return [b - a for a, b in itertools.pairwise(bounds)]


def test_split__tie__goes_to_lowest_index():
    assert split(1, [5000, 5000]) == [1, 0]
    assert split(2, [3333, 3333, 3334]) == [1, 0, 1]
    assert split(100, [3333, 3333, 3334]) == [33, 33, 34]


def test_split__zero_amount__all_zero():
    assert split(0, [2500] * 4) == [0, 0, 0, 0]


def test_split__ratios_not_summing__raises():
    with pytest.raises(ValueError, match="sum to 10000"):
        split(10, [5000, 4999])


@pytest.mark.parametrize(
    "ratios,message",
    [
        ([], "at least one"),
        ([625] * 17, "at most 16"),
        ([10_000, 0], "positive"),
        ([5000, 4000], "sum"),
    ],
)
def test_check_ratios__bad_plan__raises(ratios, message):
    with pytest.raises(ValueError, match=message):
        check_ratios(ratios)


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(0, 10**30), ratios=ratio_vectors())
def test_split__any_input__exact_nonnegative_and_within_one_of_share(amount, ratios):
    legs = split(amount, ratios)
    assert sum(legs) == amount
    for leg, r in zip(legs, ratios):
        assert leg >= 0
        assert amount * r // BPS <= leg <= amount * r // BPS + 1


@settings(max_examples=300, deadline=None)
@given(
    current=st.lists(st.integers(0, 10**12), min_size=1, max_size=16),
    new_money=st.integers(0, 10**12),
    data=st.data(),
)
def test_rebalance__any_input__legs_sum_to_new_money_and_reach_target(current, new_money, data):
    ratios = data.draw(ratio_vectors(max_items=len(current)))
    ratios = ratios + [0] * (len(current) - len(ratios))  # items leaving the plan: ratio 0
    legs = rebalance(current, new_money, ratios)
    assert sum(legs) == new_money
    target = split(sum(current) + new_money, ratios)
    assert [c + leg for c, leg in zip(current, legs)] == target
    assert all(c + leg >= 0 for c, leg in zip(current, legs))


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(1, 10**15),
    price=st.integers(1, MAX_UNIT_PRICE),
    held=st.integers(0, 10**30),
)
def test_units__buy_floor_sell_ceil(amount, price, held):
    bought = units_to_buy(amount, price)
    assert value_of(bought, price) <= amount
    assert (bought + 1) * price > amount * PRICE_SCALE
    sold = units_to_sell(amount, price, held)
    assert sold <= held
    if sold < held:
        assert sold * price >= amount * PRICE_SCALE


@settings(max_examples=200, deadline=None)
@given(
    units=st.lists(st.integers(0, 10**24), min_size=1, max_size=8),
    prices=st.lists(st.integers(1, MAX_UNIT_PRICE), min_size=8, max_size=8),
    new_money=st.integers(0, 10**12),
    data=st.data(),
)
def test_reset_executed_at_valuation_prices__each_item_within_one_minor_unit(
    units, prices, new_money, data
):
    items = [bytes([i + 1]) * 32 for i in range(len(units))]
    ratios = data.draw(ratio_vectors(max_items=len(units)))
    ratios = ratios + [0] * (len(units) - len(ratios))
    price = dict(zip(items, prices))
    book = Book(units={i: u for i, u in zip(items, units) if u})
    current = book.values(items, price)
    legs = rebalance(current, new_money, ratios)
    book.execute(items, legs, [price[i] for i in items], sold_out(current, new_money, ratios))
    target = split(sum(current) + new_money, ratios)
    after = book.values(items, price)
    for item, t, a in zip(items, target, after):
        assert t - 1 <= a <= t
        assert t > 0 or item not in book.units  # a zero target is sold out: no dust units left


def test_execute_leg__sell_more_than_held__sells_everything():
    assert execute_leg(10, -5, PRICE_SCALE) == (-5, 5)
    assert execute_leg(10, -50, PRICE_SCALE) == (-10, 0)
    assert execute_leg(10, 0, PRICE_SCALE) == (0, 10)


def test_sold_out__bits_of_the_zero_targets():
    # targets split(10, [5000, 5000, 0]) = [5, 5, 0]; split(1, [5000, 5000, 0]) = [1, 0, 0]
    assert sold_out([3, 3, 4], 0, [5000, 5000, 0]) == 0b100
    assert sold_out([0, 1, 0], 0, [5000, 5000, 0]) == 0b110
    assert sold_out([0], 0, [10_000]) == 0b1


def test_execute_leg__sell_all__every_unit_whatever_the_leg():
    # 10 units worth floor(10 * 0.15) = 1 at price 0.15: selling 1 alone would leave 3 units of dust
    price = 15 * 10**16
    assert execute_leg(10, -1, price) == (-7, 3)
    assert execute_leg(10, -1, price, sell_all=True) == (-10, 0)
    assert execute_leg(10, 0, price, sell_all=True) == (-10, 0)  # zero-value dust sold too
