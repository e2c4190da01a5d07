"""Permission table of SecurityToken: CSD-only functions, the settlement agent, member-only holders."""

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash


H = doc_hash("x")
CSD_ONLY = {
    "listSecurity": lambda f: (99, code32("NEW")),
    "issue": lambda f: (f["broker"], 1, 10, H),
    "redeem": lambda f: (f["broker"], 1, 10, H),
    "setSettlementAgent": lambda f: (f["broker"], True),
}
HOLDER_FUNCTIONS = {"safeTransferFrom", "safeBatchTransferFrom", "setApprovalForAll"}
CALLERS = ["ccp", "cash", "broker", "settle_auditor", "suspended", "stranger"]


@pytest.fixture(scope="module")
def who(settle_cast, suspended, settle_auditor, stranger):
    settle_cast.csd.issue(settle_cast.participants[0].address, 1, 100)
    return {
        "accounts": {
            "ccp": settle_cast.ccp.account,
            "cash": settle_cast.cash.account,
            "broker": settle_cast.participants[0].account,
            "settle_auditor": settle_auditor.account,
            "suspended": suspended.account,
            "stranger": stranger,
        },
        "broker": settle_cast.participants[0].address,
    }


@pytest.mark.parametrize("fn", sorted(CSD_ONLY))
@pytest.mark.parametrize("caller", CALLERS)
def test_csd_only__wrong_caller__reverts(security_token, who, fn, caller):
    error = (
        "RegistryNotActiveMember" if caller in ("suspended", "stranger") else "RegistryMissingRole"
    )
    with brownie.reverts(revert_pattern=rf"{error}:.*"):
        getattr(security_token, fn)(*CSD_ONLY[fn](who), {"from": who["accounts"][caller]})


@pytest.mark.parametrize("caller", CALLERS)
def test_agent_transfer__not_agent__reverts(security_token, who, caller):
    with brownie.reverts(revert_pattern=r"SecurityNotSettlementAgent:.*"):
        security_token.agentTransfer(
            who["broker"], who["broker"], 1, 1, {"from": who["accounts"][caller]}
        )


def test_transfer__to_stranger__reverts_and_balances_unchanged(security_token, who, stranger):
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        security_token.safeTransferFrom(
            who["broker"], stranger, 1, 5, b"", {"from": who["accounts"]["broker"]}
        )
    assert security_token.balanceOf(who["broker"], 1) == 100
    assert security_token.balanceOf(stranger, 1) == 0


def test_table__covers_every_state_changing_function(security_token):
    changing = {
        x["name"]
        for x in security_token.abi
        if x["type"] == "function" and x["stateMutability"] != "view"
    }
    assert changing == set(CSD_ONLY) | HOLDER_FUNCTIONS | {"agentTransfer"}


def test_list_issue_redeem__happy_path_events(security_token, settle_cast, who):
    tx = settle_cast.csd.list_security(42, "HK.0001")
    assert tx.events["SecurityListed"]["securityId"] == 42
    assert (
        security_token.isListed(42) and security_token.codeOf(42) == "0x" + code32("HK.0001").hex()
    )
    tx = settle_cast.csd.issue(who["broker"], 42, 500)
    assert tx.events["SecurityIssued"]["amount"] == 500
    tx = security_token.redeem(who["broker"], 42, 200, H, {"from": settle_cast.csd.account})
    assert tx.events["SecurityRedeemed"]["amount"] == 200
    assert security_token.balanceOf(who["broker"], 42) == 300


@pytest.mark.parametrize(
    "args,error",
    [
        ((1, code32("DUP")), "SecurityAlreadyListed"),
        ((77, b"\x00" * 32), "SecurityZeroCode"),
    ],
)
def test_list__bad_input__reverts(security_token, settle_cast, args, error):
    with brownie.reverts(revert_pattern=rf"{error}:.*"):
        security_token.listSecurity(*args, {"from": settle_cast.csd.account})
    assert not security_token.isListed(77)


@pytest.mark.parametrize(
    "sid,amount,error", [(500, 1, "SecurityUnknown"), (1, 0, "SecurityZeroAmount")]
)
def test_issue__bad_input__reverts(security_token, settle_cast, who, sid, amount, error):
    with brownie.reverts(revert_pattern=rf"{error}:.*"):
        security_token.issue(who["broker"], sid, amount, H, {"from": settle_cast.csd.account})
    assert security_token.balanceOf(who["broker"], 1) == 100
