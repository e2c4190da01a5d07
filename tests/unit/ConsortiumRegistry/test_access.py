"""Permission table: every manager-only registry function, called by every account that must not."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash
from consortium.domain.roles import ROLES

H = doc_hash("x")

# function name -> args builder (given the fixtures dict); all require PERMISSION_MANAGER
MANAGER_ONLY = {
    "auditMembership": lambda f: (f["applicant"], True, H),
    "grantRole": lambda f: (f["broker"], ROLES["CUSTODIAN"]),
    "revokeRole": lambda f: (f["broker"], ROLES["BROKER"]),
    "registerRoleType": lambda f: (doc_hash("NEW_ROLE"),),
    "suspendMember": lambda f: (f["broker"], H),
    "reinstateMember": lambda f: (f["suspended"], H),
    "openChannel": lambda f: (f["broker"], f["regulator"]),
    "enactAmendment": lambda f: (H, f["broker"], f["regulator"], H),
    "addNode": lambda f: (f["broker"], "enode://" + "ab" * 64 + "@127.0.0.1:30303"),
    "removeNode": lambda f: (H,),
}

CALLERS = {
    "regulator": r"RegistryMissingRole:.*",
    "broker": r"RegistryMissingRole:.*",
    "broker_operator": r"RegistryMissingRole:.*",
    "suspended_manager": r"RegistryNotActiveMember:.*",
    "applicant": r"RegistryNotActiveMember:.*",
    "stranger": r"RegistryNotActiveMember:.*",
}


@pytest.fixture(scope="module")
def cast(registry, manager, admit, regulator_cn, accounts, stranger):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    broker.add_operator(accounts[6].address)
    suspended_manager = admit(accounts[7], ["PERMISSION_MANAGER"], regulator=regulator_cn)
    manager.suspend(suspended_manager.address, "x")
    suspended = admit(accounts[8], ["BROKER"], regulator=regulator_cn)
    manager.suspend(suspended.address, "x")
    registry.applyForMembership(
        b"\x01" * 32,
        b"CN".ljust(32, b"\0"),
        regulator_cn.address,
        [ROLES["BROKER"]],
        H,
        {"from": accounts[9]},
    )
    broker.request_channel(regulator_cn.address, "agreement")
    return {
        "broker": broker.address,
        "regulator": regulator_cn.address,
        "suspended": suspended.address,
        "applicant": accounts[9].address,
        "accounts": {
            "regulator": regulator_cn.account,
            "broker": broker.account,
            "broker_operator": accounts[6],
            "suspended_manager": suspended_manager.account,
            "applicant": accounts[9],
            "stranger": stranger,
        },
    }


@pytest.mark.parametrize("fn", sorted(MANAGER_ONLY))
@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_manager_only__wrong_caller__reverts(registry, cast, fn, caller):
    args = MANAGER_ONLY[fn](cast)
    with brownie.reverts(revert_pattern=CALLERS[caller]):
        getattr(registry, fn)(*args, {"from": cast["accounts"][caller]})


@pytest.mark.parametrize("fn", sorted(MANAGER_ONLY))
def test_manager_only__table_covers_abi(registry, fn):
    """Every manager-only entry names a real state-changing function."""
    abi = {x["name"]: x for x in registry.abi if x["type"] == "function"}
    assert abi[fn]["stateMutability"] == "nonpayable"


def test_table__every_state_changing_function_is_classified(registry):
    member_functions = {
        "applyForMembership",
        "addOperator",
        "removeOperator",
        "requestChannel",
        "withdrawChannelRequest",
        "closeChannel",
        "approveAmendment",
    }
    changing = {
        x["name"]
        for x in registry.abi
        if x["type"] == "function" and x["stateMutability"] != "view"
    }
    assert changing == set(MANAGER_ONLY) | member_functions


@pytest.mark.parametrize(
    "fn,args",
    [
        ("addOperator", lambda c: ("0x" + "12" * 20,)),
        ("removeOperator", lambda c: ("0x" + "12" * 20,)),
        ("requestChannel", lambda c: (c["regulator"], H)),
        ("withdrawChannelRequest", lambda c: (c["regulator"],)),
        ("closeChannel", lambda c: (c["broker"], c["regulator"], H)),
        ("approveAmendment", lambda c: (H, c["broker"], c["regulator"], H)),
    ],
)
@pytest.mark.parametrize("caller", ["suspended_manager", "applicant", "stranger"])
def test_member_only__non_member_or_suspended__reverts(registry, cast, fn, args, caller):
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        getattr(registry, fn)(*args(cast), {"from": cast["accounts"][caller]})
