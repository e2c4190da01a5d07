"""The employee's choice is evidenced (source 000): choosePlan carries the hash of the employee's
signed choice or of the platform's attestation with the employee's consent reference; every
instruction the choice produces carries that hash, so a statement shows which choice produced which
instruction. A choice without evidence is refused, the account unchanged."""

import brownie
import pytest
from eth_account import Account

from consortium.domain.annuity_choice import ChoiceNotEvidenced, PlanChoice
from consortium.domain.hashing import code32, doc_hash
from consortium.roles.annuity import instructions_in


def test_choosePlan__no_evidence__refused_account_unchanged(
    ledger, enrol, fund, platform, annuity_world
):
    (a,) = enrol(["E1"])
    fund({a: 1_000})
    before = ledger.getAccount(a)
    with brownie.reverts(f"AnnuityChoiceNotEvidenced: {a!r}"):
        ledger.choosePlan(
            a, code32("BALANCED"), 1, False, b"\0" * 32, {"from": platform.institution.account}
        )
    assert ledger.getAccount(a) == before
    assert ledger.instructionCount() == 0


def test_choosePlan__employee_signed__instruction_carries_its_choice(
    ledger, enrol, fund, platform, annuity_world
):
    (a,) = enrol(["E1"])
    fund({a: 1_000})
    employee = Account.create()
    choice = PlanChoice.signed(a, code32("BALANCED"), 1, False, 1_800_000_000, employee.key)
    assert choice.signer() == employee.address
    (ins,) = instructions_in(platform.choose_plan("E1", "BALANCED", 1, evidence=choice))
    h = choice.evidence_hash()
    assert bytes(ledger.getAccount(a)["choiceHash"]) == h
    assert bytes(ledger.getInstruction(ins.instruction_id)["choiceHash"]) == h
    line = platform.choice_of(ins.instruction_id)
    assert (line.choice_hash, line.choice, line.kind) == (h, choice, 0)


def test_choosePlan__evidence_of_another_choice__refused_before_sending(
    ledger, enrol, platform, annuity_world
):
    (a,) = enrol(["E1"])
    employee = Account.create()
    other = PlanChoice.signed(a, code32("GROWTH"), 1, False, 1_800_000_000, employee.key)
    with pytest.raises(ChoiceNotEvidenced, match="another choice"):
        platform.choose_plan("E1", "BALANCED", 1, evidence=other)
    assert bytes(ledger.getAccount(a)["choiceHash"]) == b"\0" * 32


def test_reset__attested_choice__the_reset_instruction_names_it(
    ledger, enrol, fund, platform, settle, account_manager, trustee, annuity_world
):
    (a,) = enrol(["E1"])
    fund({a: 50_000})
    (first,) = instructions_in(platform.choose_plan("E1", "BALANCED"))
    settle(first)
    consent = doc_hash("E1 consent form 2026-11 #7")
    platform.choose_plan("E1", "CONSERVATIVE", reset=True, consent_ref=consent)
    reset = account_manager.reset_holdings(a)
    first_line, reset_line = platform.choice_of(first.instruction_id), platform.choice_of(
        reset.instruction_id
    )
    assert first_line.choice.plan_code == code32("BALANCED") and not first_line.choice.reset
    assert reset_line.choice.consent_ref == consent and reset_line.choice.reset
    assert reset_line.choice_hash != first_line.choice_hash and reset_line.kind == 1
