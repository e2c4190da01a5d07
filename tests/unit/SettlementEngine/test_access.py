"""Permission table: every state-changing SettlementEngine function from every caller that must not."""

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash

H = doc_hash("x")
FIRST = {"broker", "custodian", "exchange"}
SECOND = {"ccp", "csd"}
# function -> (allowed callers, error for a wrong active member, args builder)
TABLE = {
    # governance (PERMISSION_MANAGER) only: no caller of the table holds it
    "listCurrency": (set(), "RegistryMissingRole", lambda f: (code32("CNY"), f["cny"])),
    "replaceCurrency": (set(), "RegistryMissingRole", lambda f: (code32("CNY"), f["cny"])),
    "closeUploads": ({"ccp"}, "RegistryMissingRole", lambda f: (f["cycle"],)),
    "unwindCycle": ({"ccp"}, "RegistryMissingRole", lambda f: (f["cycle"], H)),
    "deferTrades": ({"ccp"}, "RegistryMissingRole", lambda f: (f["cycle"], [f["trade"]], H)),
    "setClearingConfig": (FIRST, "SettlementNotFirstParty", lambda f: (1, [])),
    "openCycle": ({"ccp"}, "RegistryMissingRole", lambda f: (code32("NEW"), 20261123)),
    "uploadTrades": (FIRST, "SettlementNotFirstParty", lambda f: (f["cycle"], [f["trade"]])),
    "submitSecondClearing": (
        SECOND,
        "SettlementNotSecondParty",
        lambda f: (f["cycle"], [f["entry"]], H),
    ),
    "reconcile": (FIRST, "SettlementNotFirstParty", lambda f: (f["cycle"], f["ccp"])),
    "reconcileInvestor": (FIRST, "SettlementNotFirstParty", lambda f: (f["cycle"], H, 0, H)),
    "submitNetting": ({"ccp"}, "RegistryMissingRole", lambda f: (f["cycle"], 0, H, [f["leg"]])),
    "settle": ({"csd"}, "RegistryMissingRole", lambda f: (f["cycle"], [f["leg"]])),
}
CALLERS = [
    "ccp",
    "csd",
    "cash",
    "broker",
    "custodian",
    "exchange",
    "settle_auditor",
    "suspended",
    "stranger",
]


@pytest.fixture(scope="module")
def who(settle_cast, suspended, settle_auditor, stranger, trades):
    return {
        "accounts": {
            "ccp": settle_cast.ccp.account,
            "csd": settle_cast.csd.account,
            "cash": settle_cast.cash.account,
            "broker": settle_cast.participants[0].account,
            "custodian": settle_cast.custodians[0].account,
            "exchange": settle_cast.exchanges[0].account,
            "settle_auditor": settle_auditor.account,
            "suspended": suspended.account,
            "stranger": stranger,
        },
        "cny": settle_cast.cash.tokens["CNY"].address,
        "ccp": settle_cast.ccp.address,
        "cycle": code32("ACCESS"),
        "trade": trades[0].as_tuple(),
        "entry": (settle_cast.participants[0].address, 0, H, 0, 0, H),
        "leg": (settle_cast.participants[0].address, 0, 1, 1),
    }


WRONG = [(fn, c) for fn in sorted(TABLE) for c in CALLERS if c not in TABLE[fn][0]]


@pytest.mark.parametrize("fn,caller", WRONG)
def test_engine__wrong_caller__reverts_with_named_error(engine, who, fn, caller):
    _allowed, wrong_role_error, args = TABLE[fn]
    error = "RegistryNotActiveMember" if caller in ("suspended", "stranger") else wrong_role_error
    with brownie.reverts(revert_pattern=rf"{error}:.*"):
        getattr(engine, fn)(*args(who), {"from": who["accounts"][caller]})


def test_table__covers_every_state_changing_function(engine):
    changing = {
        x["name"]
        for x in engine.abi
        if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")
    }
    assert changing == set(TABLE)
