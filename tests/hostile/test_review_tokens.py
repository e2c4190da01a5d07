"""Issue 17, items 1 and 15 (SecurityToken.issue): the tokens' issuers and settlement agents.

Item 1: CASH_ISSUER and CSD are consortium-wide roles, and the tokens did not record who issued
them: the HK settlement bank could issue unbacked CNY to itself, burn any member's CNY, or appoint
its own key as settlement agent and then move any member's balance to itself; any CSD could list,
issue and redeem on another CSD's token. Each token now names its one issuing member at deployment
(only that member or its operators issue and redeem it), and settlement agents are appointed by the
permission manager only, and only contracts.

Item 15 (part): SecurityToken.issue had no idempotency key: a custody deposit resent after a crash
credited the securities twice. Its `ref` is now the key (non-zero, used once, shared with redeem).
"""

import random

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash
from consortium.domain.roles import ROLES
from consortium.roles.settlement import CentralDepository
from consortium.scenarios import settlement as day
from consortium.store import Store

SID = 1  # HK.0700, listed by the fixture's set_up


@pytest.fixture(scope="module")
def hk_cash_issuer(admit, accounts, regulator_hk, settle_cast):
    """A second CASH_ISSUER member (the HK settlement bank): it issues no token of this suite."""
    return admit(accounts[16], ["CASH_ISSUER"], "HK", regulator_hk, name="HK settlement bank")


@pytest.fixture(scope="module")
def second_csd(admit, accounts, regulator_hk, settle_cast):
    """A second CSD member: the suite's SecurityToken names the fixture's CSD, not this one."""
    return admit(accounts[18], ["CSD"], "HK", regulator_hk, name="another depository")


@pytest.fixture(scope="module")
def victim(settle_cast):
    """A clearing participant holding CNY and securities."""
    p = settle_cast.participants[0]
    settle_cast.cash.issue(p.address, "CNY", 1_000_000, "hostile: the victim's cash")
    settle_cast.csd.issue(p.address, SID, 5_000, "hostile: the victim's custody deposit")
    return p


def _lower(*addresses):
    return ", ".join(str(a).lower() for a in addresses)


def _cny(settle_cast):
    return settle_cast.cash.tokens["CNY"]


# ------------------------------------------------------------------ item 1: DepositToken


def test_deposit_issuer__is_the_cash_issuer_named_at_deployment(settle_cast):
    for token in settle_cast.cash.tokens.values():
        assert token.issuer() == settle_cast.cash.address


def test_deposit_issue__other_cash_issuer_mints_cny_to_itself__reverts_unchanged(
    settle_cast, hk_cash_issuer, victim
):
    cny, issuer = _cny(settle_cast), settle_cast.cash.address
    supply = cny.totalSupply()
    with brownie.reverts(
        f"DepositNotIssuer: {_lower(hk_cash_issuer.address, hk_cash_issuer.address, issuer)}"
    ):
        cny.issue(
            hk_cash_issuer.address, 10**12, doc_hash("unbacked"), {"from": hk_cash_issuer.account}
        )
    assert cny.totalSupply() == supply and cny.balanceOf(hk_cash_issuer.address) == 0
    assert cny.paymentRefUse(doc_hash("unbacked")) == ("0x" + "00" * 20, 0)


def test_deposit_redeem__other_cash_issuer_burns_victims_cny__reverts_unchanged(
    settle_cast, hk_cash_issuer, victim
):
    cny = _cny(settle_cast)
    held, supply = cny.balanceOf(victim.address), cny.totalSupply()
    with brownie.reverts(revert_pattern=r"DepositNotIssuer:.*"):
        cny.redeem(victim.address, held, doc_hash("burn"), {"from": hk_cash_issuer.account})
    assert (cny.balanceOf(victim.address), cny.totalSupply()) == (held, supply)


def test_deposit_issue__other_cash_issuers_operator__reverts(settle_cast, hk_cash_issuer, accounts):
    operator = accounts.add()
    accounts[0].transfer(operator, 10**18, silent=True)
    hk_cash_issuer.add_operator(operator.address)
    refusal = _lower(operator.address, hk_cash_issuer.address, settle_cast.cash.address)
    with brownie.reverts(f"DepositNotIssuer: {refusal}"):
        _cny(settle_cast).issue(
            hk_cash_issuer.address, 1, doc_hash("via operator"), {"from": operator}
        )


def test_deposit_issue__issuers_operator__acts_for_the_issuer(settle_cast, victim, accounts):
    operator = accounts.add()
    accounts[0].transfer(operator, 10**18, silent=True)
    settle_cast.cash.inst.add_operator(operator.address)
    cny, before = _cny(settle_cast), _cny(settle_cast).balanceOf(victim.address)
    tx = cny.issue(victim.address, 7, doc_hash("operator issue"), {"from": operator})
    assert tx.events["DepositIssued"]["issuer"] == operator.address
    assert cny.balanceOf(victim.address) == before + 7


def test_deposit_agent__other_cash_issuer_appoints_its_key_then_moves_victims_cny__reverts(
    settle_cast, hk_cash_issuer, victim
):
    cny = _cny(settle_cast)
    held = cny.balanceOf(victim.address)
    with brownie.reverts(
        f"RegistryMissingRole: {hk_cash_issuer.address.lower()}, "
        f"{ROLES['PERMISSION_MANAGER']!r}"
    ):
        cny.setSettlementAgent(hk_cash_issuer.address, True, {"from": hk_cash_issuer.account})
    assert not cny.isSettlementAgent(hk_cash_issuer.address)
    with brownie.reverts(f"DepositNotSettlementAgent: {hk_cash_issuer.address.lower()}"):
        cny.agentTransfer(
            victim.address, hk_cash_issuer.address, held, {"from": hk_cash_issuer.account}
        )
    assert cny.balanceOf(victim.address) == held and cny.balanceOf(hk_cash_issuer.address) == 0


def test_deposit_agent__token_issuer_itself_cannot_appoint(settle_cast):
    cny = _cny(settle_cast)
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        cny.setSettlementAgent(settle_cast.cash.address, True, settle_cast.cash._tx())
    assert not cny.isSettlementAgent(settle_cast.cash.address)


def test_deposit_agent__eoa_refused_even_by_governance(settle_cast, manager, hk_cash_issuer):
    for token in settle_cast.cash.tokens.values():
        with brownie.reverts(f"DepositAgentNotContract: {hk_cash_issuer.address.lower()}"):
            manager.appoint_settlement_agent(token, hk_cash_issuer.address)
        assert not token.isSettlementAgent(hk_cash_issuer.address)


def test_deposit_agent__governance_dismisses_and_reappoints_the_engine(
    settle_cast, manager, engine
):
    cny = _cny(settle_cast)
    tx = manager.appoint_settlement_agent(cny, engine, False)
    assert tx.events["SettlementAgentSet"]["manager"] == manager.address
    assert not cny.isSettlementAgent(engine)
    manager.appoint_settlement_agent(cny, engine)
    assert cny.isSettlementAgent(engine)


def test_deposit_constructor__zero_issuer__reverts(DepositToken, registry, registry_admin):
    with brownie.reverts("DepositZeroIssuer: "):
        DepositToken.deploy(
            registry, code32("CNY"), "0x" + "00" * 20, "d", "d", {"from": registry_admin}
        )


# ------------------------------------------------------------------ item 1: SecurityToken


def test_security_csd__is_the_depository_named_at_deployment(settle_cast, security_token):
    assert security_token.csd() == settle_cast.csd.address


@pytest.mark.parametrize("fn", ["listSecurity", "issue", "redeem"])
def test_security__second_csd_acts_on_first_csds_token__reverts_unchanged(
    settle_cast, security_token, second_csd, victim, fn
):
    args = {
        "listSecurity": (900, code32("FAKE.LISTING")),
        "issue": (second_csd.address, SID, 10**9, doc_hash("phantom shares")),
        "redeem": (victim.address, SID, 5_000, doc_hash("seized")),
    }[fn]
    held = security_token.balanceOf(victim.address, SID)
    with brownie.reverts(
        f"SecurityNotCsd: {_lower(second_csd.address, second_csd.address, settle_cast.csd.address)}"
    ):
        getattr(security_token, fn)(*args, {"from": second_csd.account})
    assert security_token.balanceOf(victim.address, SID) == held
    assert security_token.balanceOf(second_csd.address, SID) == 0
    assert not security_token.isListed(900)


def test_security_agent__csd_cannot_appoint_and_eoa_refused_by_governance(
    settle_cast, security_token, second_csd, manager, victim
):
    for who in (settle_cast.csd.account, second_csd.account):
        with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
            security_token.setSettlementAgent(who.address, True, {"from": who})
    with brownie.reverts(f"SecurityAgentNotContract: {second_csd.address.lower()}"):
        manager.appoint_settlement_agent(security_token, second_csd.address)
    assert not security_token.isSettlementAgent(second_csd.address)
    held = security_token.balanceOf(victim.address, SID)
    with brownie.reverts(f"SecurityNotSettlementAgent: {second_csd.address.lower()}"):
        security_token.agentTransfer(
            victim.address, second_csd.address, SID, held, {"from": second_csd.account}
        )
    assert security_token.balanceOf(victim.address, SID) == held


def test_security_constructor__zero_csd__reverts(SecurityToken, registry, registry_admin):
    with brownie.reverts("SecurityZeroCsd: "):
        SecurityToken.deploy(registry, "0x" + "00" * 20, {"from": registry_admin})


# ------------------------------------------------------------------ item 15: SecurityToken keys


def test_security_issue__resent_with_same_ref__reverts_unchanged(
    settle_cast, security_token, victim
):
    ref = doc_hash("custody deposit 2026-11-23 #0042")
    first = security_token.issue(victim.address, SID, 300, ref, settle_cast.csd._tx())
    assert security_token.refUse(ref) == (victim.address, first.block_number)
    held = security_token.balanceOf(victim.address, SID)
    for to in (victim.address, settle_cast.participants[1].address):
        with brownie.reverts(
            f"SecurityRefUsed: {ref!r}, {victim.address.lower()}, {first.block_number}"
        ):
            security_token.issue(to, SID, 300, ref, settle_cast.csd._tx())
    assert security_token.balanceOf(victim.address, SID) == held


def test_security_issue__agent_restarted_without_its_store__books_not_resends(
    settle_cast, security_token, victim
):
    """The CSD's agent sent an issue, died and lost its store: the new agent's outbox finds the
    reference used on chain (refUse) and books it instead of crediting the securities twice."""
    ref = "custody deposit: restart"
    assert settle_cast.csd.issue(victim.address, SID, 250, ref) is not None
    held = security_token.balanceOf(victim.address, SID)
    csd = settle_cast.csd
    reborn = CentralDepository(
        csd.institution, csd.engine, csd.encrypt, security_token, store=Store()
    )
    assert reborn.issue(victim.address, SID, 250, ref) is None  # booked from the chain
    assert security_token.balanceOf(victim.address, SID) == held


def test_fund__same_trades_twice__booked_once(settle_cast, security_token):
    """The day's funding references are deterministic: funding the same trades again with the same
    reference credits nothing twice (cash and securities alike)."""
    trades = day.generate_trades(random.Random(5), 4, settle_cast)[0]
    holders = [p.address for p in settle_cast.participants]
    day.fund(settle_cast, trades, ref="hostile: funding")
    before = day.balances(settle_cast, holders)
    assert all(tx is None for tx in day.fund(settle_cast, trades, ref="hostile: funding"))
    assert day.balances(settle_cast, holders) == before


# ------------------------------------------------------------------ deployment: who issues what


def test_token_issuers__named_from_the_consortium_file_before_admission():
    """The demo deploys the tokens before anyone is admitted: their issuers come from the file
    and the institutions' deterministic keys (the CSD; the first CASH_ISSUER, as the lines act)."""
    from eth_account import Account

    from consortium.bootstrap import institution_key, token_issuers
    from consortium.chain import ROOT
    from consortium.config import load_consortium

    cfg = load_consortium(ROOT / "config/consortium.yaml")
    at = lambda ident: Account.from_key(institution_key(7, ident)).address
    assert token_issuers(cfg, 7) == {
        "SecurityToken": at("csd"),
        "DepositToken:CNY": at("sales-bank"),
        "DepositToken:HKD": at("sales-bank"),
    }
    assert at("settlement-bank-hk") not in token_issuers(cfg, 7).values()
