"""Permission table: every state-changing Reconciliation function from every role that must not call it."""

import pytest

from tests.fixtures.confirmations import assert_refused, permission_cases, state_changing

H = b"\x42" * 32
SUMMARY = (0, 0, 0, 0, 0, 0, b"\0" * 32)

TABLE = {
    "commitBilateral": ("bank", lambda c: (c.fc.address, 1, H, 1, 1)),
    "closeDay": ("reconciler", lambda c: (c.bank.address, c.fc.address, 1)),
    "recordReconciliation": ("reconciler", lambda c: (c.bank.address, c.fc.address, 1, SUMMARY)),
    "recordBreaks": ("reconciler", lambda c: (H, [(0, H, 1, 1, 0, 0)])),
    "settleDay": ("fc", lambda c: (c.bank.address, 1, H)),
}


@pytest.mark.parametrize("fn,caller", permission_cases(TABLE))
def test_access__wrong_caller__reverts(recon, conf_cast, stranger, fn, caller):
    assert_refused(recon, TABLE, conf_cast, stranger, fn, caller)


def test_access__table_covers_every_state_changing_function(recon):
    assert state_changing(recon) == set(TABLE)
