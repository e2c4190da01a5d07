"""How many hypothesis examples a property test or state machine runs where.

Each test names its own budget (`max_examples`): anvil, the default chain, runs it whole. On
ganache each runs a third of it, at least two: the contracts and the EVM rules (shanghai) are
the same on both chains, so a further example there searches the same space again at about three
times anvil's cost per transaction, while what the second chain adds (its receipts, nonces,
reverts and events) shows in every example. Under `make coverage` every property test runs
COVERAGE_EXAMPLES (consortium.devtools.coverage_build).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

GANACHE_SHARE = 3  # ganache runs 1/GANACHE_SHARE of each budget
GANACHE_MIN = 2


def on_ganache(max_examples: int) -> int:
    """A budget as ganache runs it: a third, at least GANACHE_MIN (never more than the budget)."""
    return min(max_examples, max(GANACHE_MIN, max_examples // GANACHE_SHARE))


def is_ganache(network: str | None) -> bool:
    return bool(network) and "ganache" in str(network).lower()


def budget(max_examples: int) -> int:
    """A state machine's budget on the chain this process is connected to (brownie's active
    network)."""
    from brownie import network

    return on_ganache(max_examples) if is_ganache(network.show_active()) else max_examples


def cap_items(items: Iterable[Any], limit: Callable[[int], int]) -> None:
    """Every collected hypothesis test (`@given`) runs `limit(its own max_examples)` examples,
    once per function (a parametrized test is several items of one function)."""
    from hypothesis import settings

    for item in items:
        fn = getattr(item, "obj", None)
        current = getattr(fn, "_hypothesis_internal_use_settings", None)
        if current is None:
            continue
        own = getattr(fn, "_examples_budget", current.max_examples)
        fn._examples_budget = own
        if limit(own) != current.max_examples:
            fn._hypothesis_internal_use_settings = settings(current, max_examples=limit(own))
