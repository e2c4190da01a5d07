"""Permission table: every state-changing ConfirmationAnchor function from every role that must not call it."""

import brownie
import pytest

pytest_plugins = ["tests.fixtures.confirmations"]

H = b"\x42" * 32

# function -> (required role holder in the cast, args builder)
TABLE = {
    "submitRegistration": ("sales_bank", lambda c: (c.issuer_a.address, H, H)),
    "decideRegistration": ("issuer_a", lambda c: (H, True, H)),
    "anchorPacket": ("sales_bank", lambda c: (c.issuer_a.address, H, 1)),
    "anchorPeriod": ("sales_bank", lambda c: (1, H, 1)),
}
WRONG = ["sales_bank", "issuer_a", "bank", "fc", "reconciler", "cash_issuer", "regulator"]


def _cases():
    for fn, (allowed, _) in sorted(TABLE.items()):
        for caller in WRONG + ["suspended", "stranger"]:
            if caller != allowed:
                yield fn, caller


@pytest.mark.parametrize("fn,caller", list(_cases()))
def test_access__wrong_caller__reverts(anchor, cast, stranger, fn, caller):
    args = TABLE[fn][1](cast)
    account = stranger if caller == "stranger" else getattr(cast, caller).account
    pattern = r"RegistryNotActiveMember:.*" if caller in ("suspended", "stranger") else r"RegistryMissingRole:.*"
    with brownie.reverts(revert_pattern=pattern):
        getattr(anchor, fn)(*args, {"from": account})


def test_access__table_covers_every_state_changing_function(anchor):
    changing = {x["name"] for x in anchor.abi if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")}
    assert changing == set(TABLE)
