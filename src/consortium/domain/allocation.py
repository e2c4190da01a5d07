"""Exact allocation of annuity money over investment items:
the oracle for contracts/libraries/Allocation.sol.

Why a mirror: the trustee, the investment manager and the regulators must be able to recompute every
allocation instruction and every valuation off chain, to the minor unit. The rules below are the
contract's NatSpec, word for word:

- split: leg_i = floor(amount * r_i / 10_000); the `amount - sum(leg_i)` minor units left over
  (always fewer than the number of items) go one each to the items with the largest remainder
  `amount * r_i mod 10_000`, ties broken by the lowest item index (largest-remainder method). The
  legs therefore sum to `amount` exactly and no leg is negative.
- rebalance: target_i = split(sum(current) + new_money); leg_i = target_i - current_i (signed:
  positive buys, negative sells); the legs sum to `new_money` exactly. Bit i of `sellOut` (here
  `sold_out`) is set when target_i == 0 (for i < 256): that item is sold out, all of its units
  whatever the leg, so no zero-value dust is left.
- value_of: floor(units * price / 1e18) (the holder never gains from rounding).
- units_to_buy: floor(amount * 1e18 / price) (a buy never gets more units than it paid for).
- units_to_sell: ceil(amount * 1e18 / price), capped at the units held (a sell raises at least
  `amount` unless it sells everything); a leg whose `sellOut` bit is set sells every unit held.

`price` is the minor-unit value of one unit as an 18-decimal fixed-point number (PRICE_SCALE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

BPS = 10_000
PRICE_SCALE = 10**18
INITIAL_UNIT_PRICE = 10**12  # 1e6 units per minor unit, as AnnuityLedger.INITIAL_UNIT_PRICE
MAX_UNIT_PRICE = 10**18  # one unit worth one minor unit, as AnnuityLedger.MAX_UNIT_PRICE
MAX_PLAN_ITEMS = 16


def check_ratios(ratios_bps: Sequence[int]) -> None:
    """Raise ValueError naming the problem when ratios cannot define a plan
    (as AnnuityPlans does)."""
    if not ratios_bps:
        raise ValueError("a plan needs at least one item")
    if len(ratios_bps) > MAX_PLAN_ITEMS:
        raise ValueError(f"a plan has at most {MAX_PLAN_ITEMS} items, got {len(ratios_bps)}")
    if any(r <= 0 for r in ratios_bps):
        raise ValueError(f"every ratio must be positive basis points: {list(ratios_bps)}")
    if sum(ratios_bps) != BPS:
        raise ValueError(f"ratios must sum to {BPS} basis points, got {sum(ratios_bps)}")


def split(amount: int, ratios_bps: Sequence[int]) -> list[int]:
    """Largest-remainder split of `amount` minor units by ratios in basis points (sum 10,000)."""
    if amount < 0:
        raise ValueError(f"amount must not be negative, got {amount}")
    if sum(ratios_bps) != BPS:
        raise ValueError(f"ratios must sum to {BPS} basis points, got {sum(ratios_bps)}")
    legs = [amount * r // BPS for r in ratios_bps]
    rems = [amount * r % BPS for r in ratios_bps]
    left = amount - sum(legs)
    # sort by remainder descending, index ascending: ties go to the lowest index
    order = sorted(range(len(rems)), key=lambda i: (-rems[i], i))
    for i in order[:left]:
        legs[i] += 1
    return legs


def rebalance(current: Sequence[int], new_money: int, ratios_bps: Sequence[int]) -> list[int]:
    """Signed legs taking `current` item values plus `new_money` to the split of their total."""
    target = split(sum(current) + new_money, ratios_bps)
    return [t - c for t, c in zip(target, current)]


def sold_out(current: Sequence[int], new_money: int, ratios_bps: Sequence[int]) -> int:
    """Bitmask of the items `rebalance` takes to a zero target (bit i: item i, i < 256):
    sold out."""
    target = split(sum(current) + new_money, ratios_bps)
    return sum(1 << i for i, t in enumerate(target) if t == 0 and i < 256)


def value_of(units: int, price: int) -> int:
    """Minor-unit value of `units` at `price`, rounded down."""
    return units * price // PRICE_SCALE


def units_to_buy(amount: int, price: int) -> int:
    """Units bought for `amount` minor units at `price`, rounded down."""
    return amount * PRICE_SCALE // price


def units_to_sell(amount: int, price: int, held: int) -> int:
    """Units sold to raise `amount` at `price`: rounded up, at most `held`."""
    return min(-(-amount * PRICE_SCALE // price), held)


def execute_leg(units: int, leg: int, price: int, sell_all: bool = False) -> tuple[int, int]:
    """(unit delta, units after) of executing one signed money leg at `price`; `sell_all` (the leg's
    sold-out bit) sells every unit held whatever the leg."""
    if sell_all:
        return -units, 0
    if leg > 0:
        bought = units_to_buy(leg, price)
        return bought, units + bought
    if leg < 0:
        sold = units_to_sell(-leg, price, units)
        return -sold, units - sold
    return 0, units


@dataclass
class Book:
    """One account's holdings and cash as the contract keeps them: the oracle for stateful tests.

    Items are ordered as the contract's held set would list them only approximately (the set's
    removal swaps entries), so reset instructions are compared item by item, not by position.
    """

    units: dict[bytes, int] = field(default_factory=dict)
    cash: int = 0
    contributed: int = 0

    def contribute(self, amount: int) -> None:
        self.cash += amount
        self.contributed += amount

    def first_legs(self, ratios_bps: Sequence[int]) -> list[int]:
        return split(self.cash, ratios_bps)

    def values(self, items: Sequence[bytes], prices: dict[bytes, int]) -> list[int]:
        return [value_of(self.units.get(i, 0), prices.get(i, INITIAL_UNIT_PRICE)) for i in items]

    def execute(
        self,
        items: Sequence[bytes],
        legs: Sequence[int],
        prices: Sequence[int],
        sell_out: int = 0,
    ) -> list[int]:
        """Apply an instruction's legs (`sell_out`: its sold-out bitmask);
        returns the unit deltas."""
        deltas = []
        for k, (item, leg, price) in enumerate(zip(items, legs, prices)):
            delta, after = execute_leg(self.units.get(item, 0), leg, price, bool(sell_out >> k & 1))
            deltas.append(delta)
            if after:
                self.units[item] = after
            else:
                self.units.pop(item, None)
        return deltas

    def invested(self, prices: dict[bytes, int]) -> int:
        return sum(value_of(u, prices.get(i, INITIAL_UNIT_PRICE)) for i, u in self.units.items())
