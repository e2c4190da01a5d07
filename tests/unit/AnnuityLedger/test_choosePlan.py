"""choosePlan: the First allocation instruction for new money, exact legs; reset requests; refusals."""

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash
from consortium.roles.annuity import instructions_in
from tests.fixtures.annuity import PLANS, c32

CHOICE = b"\xc4" * 32  # a plan choice's evidence hash (the platform keeps the evidence)


def test_choosePlan__with_cash__issues_first_instruction_exact(
    ledger, enrol, fund, platform, annuity_world
):
    (a,) = enrol(["E1"])
    fund({a: 100_001})
    tx = platform.choose_plan("E1", "BALANCED")
    chosen = tx.events["PlanChosen"]
    assert (chosen["account"], chosen["planCode"], chosen["version"], chosen["reset"]) == (
        "0x" + a.hex(),
        c32("BALANCED"),
        1,
        False,
    )
    ev = tx.events["InstructionIssued"]
    assert ev["instructionId"] == 1 and ev["kind"] == 0 and ev["issuer"] == platform.address
    assert ev["items"] == [c32(i) for i in PLANS["BALANCED"]]
    assert ev["legs"] == [
        40_000,
        50_001,
        10_000,
    ]  # remainders 4000, 5000, 1000: the bond gets the unit
    assert ev["amount"] == 100_001
    assert tx.return_value == 1
    account = ledger.getAccount(a)
    assert (account["cash"], account["openInstruction"], account["planCode"]) == (
        0,
        1,
        c32("BALANCED"),
    )
    ins = ledger.getInstruction(1)
    assert (ins["status"], ins["amount"], ins["account"]) == (1, 100_001, "0x" + a.hex())


@pytest.mark.parametrize("amount,legs", [(100, [33, 33, 34]), (2, [1, 0, 1]), (1, [0, 0, 1])])
def test_choosePlan__thirds__largest_remainder_lowest_index_on_ties(
    enrol, fund, platform, annuity_world, amount, legs
):
    (a,) = enrol(["E1"])
    fund({a: amount})
    (ins,) = instructions_in(platform.choose_plan("E1", "THIRDS"))
    assert list(ins.legs) == legs and sum(ins.legs) == amount


def test_choosePlan__no_cash__records_plan_without_instruction(
    ledger, enrol, platform, annuity_world
):
    (a,) = enrol(["E1"])
    tx = platform.choose_plan("E1", "CONSERVATIVE")
    assert "InstructionIssued" not in tx.events and tx.return_value == 0
    assert ledger.getAccount(a)["planCode"] == c32("CONSERVATIVE")
    assert ledger.instructionCount() == 0


def test_choosePlan__reset__waits_for_account_manager(ledger, enrol, fund, platform, annuity_world):
    (a,) = enrol(["E1"])
    fund({a: 500})
    tx = platform.choose_plan("E1", "CONSERVATIVE", reset=True)
    assert tx.events["PlanChosen"]["reset"] is True
    assert "InstructionIssued" not in tx.events
    account = ledger.getAccount(a)
    assert (account["resetPending"], account["cash"]) == (True, 500)


@pytest.mark.parametrize(
    "case,error",
    [
        ("unknown_plan", r"AnnuityUnknownPlan:.*"),
        ("unknown_version", r"AnnuityUnknownPlan:.*, 2"),
        ("unknown_account", r"AnnuityAccountNotOpen:.*, 0"),
        ("in_flight", r"AnnuityInstructionOpen:.*, 1"),
    ],
)
def test_choosePlan__bad_input__reverts_and_changes_nothing(
    ledger, enrol, fund, platform, annuity_world, case, error
):
    (a,) = enrol(["E1"])
    fund({a: 1_000})
    code, version, account = code32("BALANCED"), 1, a
    if case == "unknown_plan":
        code = code32("NOPE")
    elif case == "unknown_version":
        version = 2
    elif case == "unknown_account":
        account = doc_hash("nobody")
    else:
        platform.choose_plan("E1", "BALANCED")
    before = ledger.getAccount(account)
    with brownie.reverts(revert_pattern=error):
        ledger.choosePlan(
            account, code, version, False, CHOICE, {"from": platform.institution.account}
        )
    assert ledger.getAccount(account) == before


def test_choosePlan__too_many_items_held__reverts(
    ledger, enrol, fund, trustee, platform, settle, investment_manager, annuity_world
):
    (a,) = enrol(["E1"])
    for n in range(
        3
    ):  # three 16-item plans without reset: 32 items held, then 48 would be too many
        trustee.define_plan(f"WIDE{n}", {f"W{n}_{i}": 625 for i in range(16)})
        trustee.appoint_investment_manager(f"WIDE{n}", investment_manager.address)
        fund({a: 16_000}, ref=f"p{n}")
        if n < 2:
            (ins,) = instructions_in(platform.choose_plan("E1", f"WIDE{n}"))
            settle(ins)
    with brownie.reverts(revert_pattern=r"AnnuityTooManyHoldings:.*, 48, 32"):
        platform.choose_plan("E1", "WIDE2")
    assert ledger.getAccount(a)["cash"] == 16_000
