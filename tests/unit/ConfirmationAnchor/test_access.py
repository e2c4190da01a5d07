"""Permission table: every state-changing ConfirmationAnchor function from every role that must not call it."""

import pytest

from tests.fixtures.confirmations import assert_refused, permission_cases, state_changing

H = b"\x42" * 32

# function -> (required role holder in the conf_cast, args builder)
TABLE = {
    "submitRegistration": ("sales_bank", lambda c: (c.issuer_a.address, H, H)),
    "decideRegistration": ("issuer_a", lambda c: (H, True, H)),
    "anchorPacket": ("sales_bank", lambda c: (c.issuer_a.address, 1, H, 1)),
    "anchorPeriod": ("sales_bank", lambda c: (1, H, 1, [c.issuer_a.address])),
}


@pytest.mark.parametrize("fn,caller", permission_cases(TABLE))
def test_access__wrong_caller__reverts(anchor, conf_cast, stranger, fn, caller):
    assert_refused(anchor, TABLE, conf_cast, stranger, fn, caller)


def test_access__table_covers_every_state_changing_function(anchor):
    assert state_changing(anchor) == set(TABLE)
