"""SecurityToken: the CSD lists, issues and redeems (events, the custody reference as idempotency
key, input checks); holders must be active members. Refusals by caller (CSD-only, governance-only,
agent-only, not the token's CSD) live in tests/access/matrix.py."""

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash

H = doc_hash("x")


@pytest.fixture(scope="module")
def who(settle_cast):
    settle_cast.csd.issue(settle_cast.participants[0].address, 1, 100, "custody deposit 1")
    return {
        "accounts": {"broker": settle_cast.participants[0].account},
        "broker": settle_cast.participants[0].address,
    }


def test_transfer__to_stranger__reverts_and_balances_unchanged(security_token, who, stranger):
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        security_token.safeTransferFrom(
            who["broker"], stranger, 1, 5, b"", {"from": who["accounts"]["broker"]}
        )
    assert security_token.balanceOf(who["broker"], 1) == 100
    assert security_token.balanceOf(stranger, 1) == 0


def test_list_issue_redeem__happy_path_events(security_token, settle_cast, who):
    tx = settle_cast.csd.list_security(42, "HK.0001")
    assert tx.events["SecurityListed"]["securityId"] == 42
    assert (
        security_token.isListed(42) and security_token.codeOf(42) == "0x" + code32("HK.0001").hex()
    )
    tx = settle_cast.csd.issue(who["broker"], 42, 500, "custody deposit 42")
    ev = tx.events["SecurityIssued"]
    assert (ev["amount"], ev["ref"]) == (500, "0x" + doc_hash("custody deposit 42").hex())
    assert security_token.refUse(doc_hash("custody deposit 42")) == (who["broker"], tx.block_number)
    tx = security_token.redeem(who["broker"], 42, 200, H, {"from": settle_cast.csd.account})
    assert tx.events["SecurityRedeemed"]["amount"] == 200
    assert security_token.balanceOf(who["broker"], 42) == 300
    assert security_token.refUse(H) == (who["broker"], tx.block_number)


def test_csd__is_the_depository_member(security_token, settle_cast):
    assert security_token.csd() == settle_cast.csd.address


@pytest.mark.parametrize("fn", ["issue", "redeem"])
def test_issue_redeem__ref_used__reverts_unchanged(security_token, settle_cast, who, fn):
    first = settle_cast.csd.issue(who["broker"], 1, 50, "custody deposit 7")
    ref = doc_hash("custody deposit 7")
    held = security_token.balanceOf(who["broker"], 1)
    with brownie.reverts(
        f"SecurityRefUsed: {ref!r}, {who['broker'].lower()}, {first.block_number}"
    ):
        getattr(security_token, fn)(who["broker"], 1, 10, ref, {"from": settle_cast.csd.account})
    assert security_token.balanceOf(who["broker"], 1) == held


@pytest.mark.parametrize("fn", ["issue", "redeem"])
def test_issue_redeem__zero_ref__reverts_unchanged(security_token, settle_cast, who, fn):
    with brownie.reverts(revert_pattern=r"SecurityZeroRef.*"):
        getattr(security_token, fn)(
            who["broker"], 1, 10, b"\0" * 32, {"from": settle_cast.csd.account}
        )
    assert security_token.balanceOf(who["broker"], 1) == 100
    assert security_token.refUse(b"\0" * 32) == ("0x" + "00" * 20, 0)


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
