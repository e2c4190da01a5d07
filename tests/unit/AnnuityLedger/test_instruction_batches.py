"""executeInstructions / reportFeedbacks / forwardFeedbacks: one call for many instructions, all or
none, with the same effects and events as the one-by-one calls (a refused entry names its
instruction and nothing of the batch happens)."""

import brownie
import pytest

from consortium.domain.allocation import INITIAL_UNIT_PRICE
from consortium.roles.annuity import MAX_INSTRUCTION_BATCH, Feedback, instructions_in
from tests.fixtures.annuity import item_of

EQ = item_of("CN_EQUITY")
AMOUNTS = (100_000, 250_000, 7_777)
PRICES = [11 * 10**11, 10**12, 10**12 + 1]


@pytest.fixture
def issued(enrol, fund, platform, annuity_world):
    employees = [f"B{k}" for k in range(len(AMOUNTS))]
    ids = enrol(employees)
    fund(dict(zip(ids, AMOUNTS)))
    return [instructions_in(platform.choose_plan(e, "BALANCED"))[0] for e in employees]


def _state(ledger, issued):
    return (
        [tuple(ledger.getInstruction(i.instruction_id)) for i in issued],
        [ledger.holdingsOf(i.account_id) for i in issued],
        [tuple(ledger.getAccount(i.account_id)) for i in issued],
        ledger.unitPrice(EQ),
        ledger.totalUnits(EQ),
    )


def test_batches__one_call_each__the_same_events_and_state_as_one_by_one(
    ledger, issued, investment_manager, trustee, chain
):
    work = [(i, PRICES) for i in issued]
    ((group, tx),) = investment_manager.execute_many(work)
    assert group == issued
    executed = [dict(e) for e in tx.events["InstructionExecuted"]]
    assert [e["instructionId"] for e in executed] == [i.instruction_id for i in issued]
    feedback = investment_manager.report_feedbacks(work)
    assert len({f.tx.txid for f in feedback}) == 1
    reported = [dict(e) for e in feedback[0].tx.events["FeedbackReported"]]
    (forward,) = trustee.forward_feedbacks(feedback)
    settled = [dict(e) for e in forward.events["InstructionSettled"]]
    assert [e["instructionId"] for e in settled] == [i.instruction_id for i in issued]
    assert len(forward.events["UnitPriceUpdated"]) == 3 * len(issued)
    batched = _state(ledger, issued)
    assert all(ledger.getInstruction(i.instruction_id)["status"] == 4 for i in issued)

    chain.undo(3)  # the same three instructions, one call each
    assert all(ledger.getInstruction(i.instruction_id)["status"] == 1 for i in issued)
    one_by_one = [
        dict(investment_manager.execute(i, PRICES).events["InstructionExecuted"]) for i in issued
    ]
    fbs = [investment_manager.report_feedback(i, PRICES) for i in issued]
    forwards = [trustee.forward_feedback(f) for f in fbs]
    assert one_by_one == executed
    assert [dict(f.tx.events["FeedbackReported"]) for f in fbs] == reported
    assert [dict(t.events["InstructionSettled"]) for t in forwards] == settled
    assert _state(ledger, issued) == batched


@pytest.mark.parametrize("step", ["execute", "report", "forward"])
def test_batch__one_refused_entry__names_it_and_nothing_of_the_batch_happens(
    ledger, issued, investment_manager, trustee, step
):
    im, tr = investment_manager.institution.account, trustee.institution.account
    bad = issued[1].instruction_id
    if step != "execute":
        investment_manager.execute_many([(i, None) for i in issued])
    if step == "forward":
        feedback = investment_manager.report_feedbacks([(i, None) for i in issued])
    before = _state(ledger, issued)
    with brownie.reverts(revert_pattern=rf"AnnuityInstructionMismatch: {bad}"):
        if step == "execute":
            rows = [
                (i.instruction_id, list(i.items), list(i.legs), [INITIAL_UNIT_PRICE] * 3)
                for i in issued
            ]
            rows[1][2][0] += 1  # a leg not as issued
            ledger.executeInstructions(rows, {"from": im})
        elif step == "report":
            rows = [
                (i.instruction_id, list(i.items), [INITIAL_UNIT_PRICE] * 3, b"\1" * 32)
                for i in issued
            ]
            rows[1] = (bad, list(issued[1].items), [INITIAL_UNIT_PRICE] * 2, b"\1" * 32)
            ledger.reportFeedbacks(rows, {"from": im})
        else:
            rows = [(f.instruction_id, list(f.items), list(f.unit_prices)) for f in feedback]
            rows[1][2][0] += 1  # a price not as reported
            ledger.forwardFeedbacks(rows, {"from": tr})
    assert _state(ledger, issued) == before


def test_batch__an_instruction_twice__the_second_refused_and_the_batch_with_it(
    ledger, issued, investment_manager
):
    first = issued[0]
    before = _state(ledger, issued)
    with brownie.reverts(
        revert_pattern=rf"AnnuityInstructionNotInState: {first.instruction_id}, 2, 1"
    ):
        investment_manager.execute_many([(first, None), (first, None)])
    assert _state(ledger, issued) == before


@pytest.mark.parametrize("fn", ["executeInstructions", "reportFeedbacks", "forwardFeedbacks"])
def test_batch__empty_or_over_the_limit__refused(
    ledger, investment_manager, trustee, annuity_world, fn
):
    sender = (trustee if fn == "forwardFeedbacks" else investment_manager).institution.account
    entry = {
        "executeInstructions": (1, [EQ], [1], [INITIAL_UNIT_PRICE]),
        "reportFeedbacks": (1, [EQ], [INITIAL_UNIT_PRICE], b"\1" * 32),
        "forwardFeedbacks": (1, [EQ], [INITIAL_UNIT_PRICE]),
    }[fn]
    assert ledger.MAX_INSTRUCTION_BATCH() == MAX_INSTRUCTION_BATCH
    with brownie.reverts(revert_pattern=r"AnnuityEmptyBatch: "):
        getattr(ledger, fn)([], {"from": sender})
    n = MAX_INSTRUCTION_BATCH + 1
    with brownie.reverts(revert_pattern=rf"AnnuityBatchTooLarge: {n}, {MAX_INSTRUCTION_BATCH}"):
        getattr(ledger, fn)([entry] * n, {"from": sender})


def test_forward_feedbacks__a_feedback_of_an_instruction_not_reported__refused_whole(
    ledger, issued, investment_manager, trustee
):
    investment_manager.execute_many([(i, None) for i in issued])
    feedback = investment_manager.report_feedbacks([(i, None) for i in issued[:2]])
    late = Feedback(issued[2].instruction_id, issued[2].items, (INITIAL_UNIT_PRICE,) * 3, b"")
    before = _state(ledger, issued)
    with brownie.reverts(
        revert_pattern=rf"AnnuityInstructionNotInState: {late.instruction_id}, 2, 3"
    ):
        trustee.forward_feedbacks([*feedback, late])
    assert _state(ledger, issued) == before
