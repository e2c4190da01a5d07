"""Permission table: every state-changing Reconciliation function from every role that must not call it."""

import brownie
import pytest

pytest_plugins = ["tests.fixtures.confirmations"]

H = b"\x42" * 32
SUMMARY = (0, 0, 0, 0, 0, 0, b"\0" * 32)

TABLE = {
    "commitBilateral": ("bank", lambda c: (c.fc.address, 1, H, 1, 1)),
    "recordReconciliation": ("reconciler", lambda c: (c.bank.address, c.fc.address, 1, SUMMARY)),
    "recordBreaks": ("reconciler", lambda c: (H, [(0, H, 1, 1, 0, 0)])),
    "settleDay": ("fc", lambda c: (c.bank.address, 1, H)),
}
WRONG = ["sales_bank", "issuer_a", "bank", "fc", "reconciler", "cash_issuer", "regulator"]


def _cases():
    for fn, (allowed, _) in sorted(TABLE.items()):
        for caller in WRONG + ["suspended", "stranger"]:
            if caller != allowed:
                yield fn, caller


@pytest.mark.parametrize("fn,caller", list(_cases()))
def test_access__wrong_caller__reverts(recon, cast, stranger, fn, caller):
    args = TABLE[fn][1](cast)
    account = stranger if caller == "stranger" else getattr(cast, caller).account
    pattern = r"RegistryNotActiveMember:.*" if caller in ("suspended", "stranger") else r"RegistryMissingRole:.*"
    with brownie.reverts(revert_pattern=pattern):
        getattr(recon, fn)(*args, {"from": account})


def test_access__table_covers_every_state_changing_function(recon):
    changing = {x["name"] for x in recon.abi if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")}
    assert changing == set(TABLE)
