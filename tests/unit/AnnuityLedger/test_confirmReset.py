"""The trustee takes part in the reset (source 000: the second investment information comes from the
trustee platform): a Reset instruction awaits the trustee's confirmation before the investment
manager can execute it. Each refusal leaves the instruction and the holdings as they were."""

import re

import brownie
import pytest

from consortium.roles.annuity import instructions_in

AWAITING_TRUSTEE, ISSUED, EXECUTED = 5, 1, 2  # IAnnuityLedger.InstructionStatus


@pytest.fixture
def reset_ins(ledger, enrol, fund, platform, settle, account_manager, annuity_world):
    """E1 invested in BALANCED, then switched to CONSERVATIVE with a reset: the Reset instruction."""
    (a,) = enrol(["E1"])
    fund({a: 100_000})
    (ins,) = instructions_in(platform.choose_plan("E1", "BALANCED"))
    settle(ins)
    platform.choose_plan("E1", "CONSERVATIVE", reset=True)
    return account_manager.reset_holdings(a)


def _prices(ledger, ins):
    return [ledger.unitPrice(i) for i in ins.items]


def test_reset__issued__awaits_the_trustee(ledger, reset_ins):
    assert ledger.getInstruction(reset_ins.instruction_id)["status"] == AWAITING_TRUSTEE


def test_execute__reset_not_confirmed__refused_holdings_unchanged(
    ledger, reset_ins, investment_manager, trustee
):
    before = ledger.holdingsOf(reset_ins.account_id)
    with brownie.reverts(
        f"AnnuityResetNotConfirmed: {reset_ins.instruction_id}, {trustee.address.lower()}"
    ):
        investment_manager.execute(reset_ins, _prices(ledger, reset_ins))
    assert ledger.getInstruction(reset_ins.instruction_id)["status"] == AWAITING_TRUSTEE
    assert ledger.holdingsOf(reset_ins.account_id) == before


def test_confirm__not_the_accounts_trustee__refused(
    ledger, reset_ins, admit, accounts, regulator_cn, investment_manager, account_manager
):
    other = admit(accounts[13], ["TRUSTEE"], regulator=regulator_cn, name="another trustee")
    for who, error in (
        (other, re.escape(f"AnnuityNotTrustee: {reset_ins.account_id!r}, {other.address.lower()}")),
        (investment_manager.institution, "RegistryMissingRole"),
        (account_manager.institution, "RegistryMissingRole"),
    ):
        with brownie.reverts(revert_pattern=f"{error}.*"):
            ledger.confirmReset(reset_ins.instruction_id, {"from": who.account})
    assert ledger.getInstruction(reset_ins.instruction_id)["status"] == AWAITING_TRUSTEE


def test_confirm__a_first_instruction_or_twice__refused(
    ledger, reset_ins, trustee, enrol, fund, platform
):
    (b,) = enrol(["E2"])
    fund({b: 5_000}, ref="e2")
    (first,) = instructions_in(platform.choose_plan("E2", "BALANCED"))
    with brownie.reverts(
        f"AnnuityInstructionNotInState: {first.instruction_id}, {ISSUED}, {AWAITING_TRUSTEE}"
    ):
        trustee.confirm_reset(first)
    with brownie.reverts(f"AnnuityUnknownInstruction: {10**6}"):
        trustee.confirm_reset(10**6)
    trustee.confirm_reset(reset_ins)
    with brownie.reverts(
        f"AnnuityInstructionNotInState: {reset_ins.instruction_id}, {ISSUED}, {AWAITING_TRUSTEE}"
    ):
        trustee.confirm_reset(reset_ins)


def test_confirm__by_the_trustee__then_executed(ledger, reset_ins, trustee, investment_manager):
    tx = trustee.confirm_reset(reset_ins)
    ev = tx.events["ResetConfirmed"]
    assert (ev["instructionId"], ev["trustee"]) == (reset_ins.instruction_id, trustee.address)
    assert ledger.getInstruction(reset_ins.instruction_id)["status"] == ISSUED
    investment_manager.execute(reset_ins, _prices(ledger, reset_ins))
    assert ledger.getInstruction(reset_ins.instruction_id)["status"] == EXECUTED
