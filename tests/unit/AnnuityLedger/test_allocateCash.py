"""allocateCash: the trustee invests the month's new money of many accounts by their plans."""

import brownie
import pytest

from consortium.domain.allocation import split
from consortium.domain.hashing import doc_hash
from consortium.roles.annuity import instructions_in, skipped_in
from tests.fixtures.annuity import PLANS


def test_allocateCash__accounts_with_plans__one_exact_instruction_each(
    ledger, enrol, fund, platform, trustee, annuity_world
):
    ids = enrol(["E1", "E2", "E3"])
    for e, plan in zip(["E1", "E2", "E3"], ["BALANCED", "THIRDS", "DIVERSIFIED8"]):
        platform.choose_plan(e, plan)
    amounts = {ids[0]: 99_999, ids[1]: 100, ids[2]: 1_234_567}
    fund(amounts)
    issued = trustee.allocate_cash(ids)
    assert [i.instruction_id for i in issued] == [1, 2, 3]
    for ins, plan in zip(issued, ["BALANCED", "THIRDS", "DIVERSIFIED8"]):
        assert list(ins.legs) == split(amounts[ins.account_id], list(PLANS[plan].values()))
        assert sum(ins.legs) == ins.amount == amounts[ins.account_id]
        assert ledger.getAccount(ins.account_id)["cash"] == 0


@pytest.mark.parametrize(
    "case,reason",
    [
        ("no_plan", "NoPlan"),
        ("reset_pending", "ResetPending"),
        ("in_flight", "InstructionOpen"),
        ("no_cash", "NothingToAllocate"),
        ("requested", "NotOpen"),
    ],
)
def test_allocateCash__one_bad_account__skipped_and_reported_others_allocated(
    ledger, enrol, fund, platform, trustee, annuity_world, case, reason
):
    good, bad = enrol(["E1", "E2"])
    platform.choose_plan("E1", "BALANCED")
    if case != "no_plan":
        platform.choose_plan("E2", "BALANCED", reset=case == "reset_pending")
    if case != "no_cash":
        fund({good: 1_000, bad: 1_000})
    else:
        fund({good: 1_000})
    batch = [bad, good]
    if case == "in_flight":
        trustee.allocate_cash([bad])
        fund({bad: 5}, ref="again")
    if case == "requested":
        platform.enrol(["E3"])
        batch = [platform.account_id("E3"), good]
    before = ledger.getAccount(batch[0])
    first = ledger.instructionCount() + 1
    tx = ledger.allocateCash(batch, {"from": trustee.institution.account})
    assert skipped_in(tx) == [(batch[0], reason)]
    assert tx.events["AllocationSkipped"]["trustee"] == trustee.address
    (ins,) = instructions_in(tx)
    assert (ins.instruction_id, ins.account_id, ins.amount) == (first, good, 1_000)
    assert ledger.getAccount(good)["cash"] == 0
    assert ledger.getAccount(batch[0]) == before


@pytest.mark.parametrize(
    "case,error",
    [
        ("unknown", r"AnnuityNotTrustee:.*, 0x0000000000000000000000000000000000000000"),
        ("empty", r"AnnuityEmptyBatch.*"),
        ("too_many", r"AnnuityBatchTooLarge: 51, 50"),
    ],
)
def test_allocateCash__bad_batch__reverts_and_changes_nothing(
    ledger, enrol, fund, platform, trustee, annuity_world, case, error
):
    (good,) = enrol(["E1"])
    platform.choose_plan("E1", "BALANCED")
    fund({good: 1_000})
    batch = {"unknown": [good, doc_hash("nobody")], "empty": [], "too_many": [good] * 51}[case]
    with brownie.reverts(revert_pattern=error):
        ledger.allocateCash(batch, {"from": trustee.institution.account})
    assert ledger.getAccount(good)["cash"] == 1_000
    assert ledger.instructionCount() == 0
