"""Permission table: every state-changing ReportAnchor function, called by every account that must not."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash
from consortium.domain.roles import ROLES

H = doc_hash("rules v9")
ROOT = doc_hash("root")

# function -> (args builder, callers refused with the expected error)
TABLE = {
    "setRules": lambda c: (H, 9),
    "anchor": lambda c: (c["regulator"], c["day"], 1, ROOT, c["rules_hash"], 3),
}
REFUSED = {
    "setRules": {
        "regulator": r"RegistryMissingRole:.*",
        "broker": r"RegistryMissingRole:.*",
        "suspended_reporter": r"RegistryNotActiveMember:.*",
        "applicant": r"RegistryNotActiveMember:.*",
        "stranger": r"RegistryNotActiveMember:.*",
    },
    "anchor": {
        "manager": r"RegistryMissingRole:.*",
        "regulator": r"RegistryMissingRole:.*",
        "broker": r"RegistryMissingRole:.*",
        "suspended_reporter": r"RegistryNotActiveMember:.*",
        "applicant": r"RegistryNotActiveMember:.*",
        "stranger": r"RegistryNotActiveMember:.*",
        # a REPORTER, but not the regulator's: no channel with it (issue 17 item 14)
        "other_reporter": r"RegistryChannelNotOpen:.*",
    },
}
ALLOWED = {"setRules": ["manager", "reporter"], "anchor": ["reporter"]}


@pytest.fixture(scope="module")
def cast(
    report_anchor,
    rules,
    manager,
    admit,
    regulator_cn,
    reporter,
    cn,
    accounts,
    stranger,
    registry,
    chain,
):
    suspended = admit(accounts[10], ["REPORTER"], "CN", regulator=regulator_cn)
    manager.suspend(suspended.address, "x")
    other_reporter = admit(accounts[12], ["REPORTER"], "CN", regulator=regulator_cn)
    registry.applyForMembership(
        b"\x01" * 32,
        b"CN".ljust(32, b"\0"),
        regulator_cn.address,
        [ROLES["BROKER"]],
        doc_hash("dossier"),
        {"from": accounts[11]},
    )
    return {
        "regulator": regulator_cn.address,
        "day": report_anchor.today(),
        "rules_hash": rules.rules_hash,
        "accounts": {
            "manager": manager.account,
            "reporter": reporter.account,
            "regulator": regulator_cn.account,
            "broker": cn["broker"].account,
            "suspended_reporter": suspended.account,
            "other_reporter": other_reporter.account,
            "applicant": accounts[11],
            "stranger": stranger,
        },
    }


@pytest.mark.parametrize("fn,caller", [(f, c) for f in sorted(REFUSED) for c in sorted(REFUSED[f])])
def test_refused__wrong_caller__reverts(report_anchor, cast, fn, caller):
    with brownie.reverts(revert_pattern=REFUSED[fn][caller]):
        getattr(report_anchor, fn)(*TABLE[fn](cast), {"from": cast["accounts"][caller]})


@pytest.mark.parametrize("fn,caller", [(f, c) for f in sorted(ALLOWED) for c in ALLOWED[f]])
def test_allowed__right_caller__succeeds(report_anchor, cast, fn, caller):
    tx = getattr(report_anchor, fn)(*TABLE[fn](cast), {"from": cast["accounts"][caller]})
    assert tx.status == 1


def test_table__covers_every_state_changing_function(report_anchor):
    changing = {
        x["name"]
        for x in report_anchor.abi
        if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")
    }
    assert changing == set(TABLE) == set(REFUSED) == set(ALLOWED)
