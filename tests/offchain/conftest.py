"""Chain-free tests: no snapshot and revert of the test chain around each one."""

import pytest
from brownie import network, web3


def _height():
    return web3.eth.block_number if network.is_connected() else None


@pytest.fixture(autouse=True)
def isolation():
    """Replaces tests/conftest.py's per-test revert (two requests and brownie's bookkeeping: ~0.15 s
    a test on a loaded ganache, for ~500 tests that never touch the chain). A module that does use
    the chain overrides this with `isolation(fn_isolation)` (test_coverage_summary.py); a test that
    mines a block without it fails here, so the next test cannot inherit its state unnoticed."""
    before = _height()
    yield
    assert _height() == before, "a chain-free test mined blocks: give its module fn_isolation"
