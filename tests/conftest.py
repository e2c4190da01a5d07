"""Shared fixtures: a fresh chain per run on a free port, the registry, and role-named accounts.

Large fixture sets live in tests/fixtures/*.py (one per business line), loaded as plugins.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's package first (worktrees, CI clones)

from consortium.chain import patch_receipt_race, use_free_ports
from consortium.devtools import examples, revert_cost, suite_order

use_free_ports()  # before brownie launches its chain: parallel runs must not share port 8545
patch_receipt_race()  # anvil shows the new nonce before the receipt: see chain.patch_receipt_race
revert_cost.apply()  # a test's revert without brownie's full gc and per-contract getCode calls

pytest_plugins = [
    "tests.fixtures.consortium",
    "tests.fixtures.annuity",
    "tests.fixtures.bills",
    "tests.fixtures.confirmations",
    "tests.fixtures.settlement",
    "tests.fixtures.holding",
    "tests.fixtures.reporting",
    "tests.fixtures.hostile",
    "tests.fixtures.faults",
]


def pytest_configure(config):
    """xdist's own queue (files with most tests first) would undo the longest-first order below."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Test files longest first (tests/durations.json), so the xdist workers end together; on
    ganache each property test on the chain runs a third of its examples
    (consortium.devtools.examples)."""
    items[:] = suite_order.longest_first(
        items, lambda i: i.nodeid.split("::")[0], suite_order.load()
    )
    if examples.is_ganache(config.getoption("network", None)):  # chain-free tests: whole budgets
        examples.cap_items([i for i in items if "/offchain/" not in i.nodeid], examples.on_ganache)


@pytest.fixture(autouse=True, scope="module")
def network_sending_defaults():
    """A module that acts as an agent in this process (onboarding commands switch to estimated gas
    with a short estimate timeout) leaves the worker's later modules the network's own settings."""
    yield
    from consortium.chain import default_sending

    default_sending()


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the module's deployed state."""
