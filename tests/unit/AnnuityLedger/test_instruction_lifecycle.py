"""executeInstruction → reportFeedback → forwardFeedback: once each, in order, exactly as issued."""

import brownie
import pytest

from consortium.domain.allocation import INITIAL_UNIT_PRICE, MAX_UNIT_PRICE
from consortium.roles.annuity import Feedback, instructions_in
from tests.fixtures.annuity import c32, item_of

EQ, BOND, MM = item_of("CN_EQUITY"), item_of("CN_BOND"), item_of("MONEY_MKT")


@pytest.fixture
def issued(enrol, fund, platform, annuity_world):
    (a,) = enrol(["E1"])
    fund({a: 100_000})
    (ins,) = instructions_in(platform.choose_plan("E1", "BALANCED"))
    return ins


def test_execute__buys_units_at_prices_once(ledger, issued, investment_manager):
    prices = [2 * 10**12, 10**12, 3 * 10**12]
    tx = investment_manager.execute(issued, prices)
    ev = tx.events["InstructionExecuted"]
    assert ev["investmentManager"] == investment_manager.address
    assert ev["prices"] == prices
    assert ev["unitDeltas"] == [2 * 10**10, 5 * 10**10, 3_333_333_333]  # floor(10,000e18 / 3e12)
    assert ev["unitsAfter"] == ev["unitDeltas"]
    assert ledger.getInstruction(issued.instruction_id)["status"] == 2
    assert ledger.totalUnits(MM) == 3_333_333_333
    _items, units, values = ledger.holdingsOf(issued.account_id)
    assert list(units) == ev["unitDeltas"]
    # valuation uses the on-chain prices (still initial until feedback)
    assert list(values) == [20_000, 50_000, 3_333]
    with brownie.reverts(revert_pattern=r"AnnuityInstructionNotInState: 1, 2, 1"):
        investment_manager.execute(issued, prices)


def test_feedback__reported_then_forwarded__settles_and_publishes_returns(
    ledger, issued, investment_manager, trustee, platform
):
    investment_manager.execute(issued)
    prices = [11 * 10**11, 10**12, 10**12 + 1]
    feedback = investment_manager.report_feedback(issued, prices)
    assert ledger.getInstruction(issued.instruction_id)["status"] == 3
    assert ledger.unitPrice(EQ) == INITIAL_UNIT_PRICE  # not yet forwarded
    tx = trustee.forward_feedback(feedback)
    assert [(e["item"], e["price"]) for e in tx.events["UnitPriceUpdated"]] == [
        (c32("CN_EQUITY"), prices[0]),
        (c32("CN_BOND"), prices[1]),
        (c32("MONEY_MKT"), prices[2]),
    ]
    ev = tx.events["InstructionSettled"]
    assert (ev["invested"], ev["cash"], ev["contributed"], ev["totalReturn"]) == (
        104_000,
        0,
        100_000,
        4_000,
    )
    assert ev["trustee"] == trustee.address
    assert ledger.getInstruction(issued.instruction_id)["status"] == 4
    assert ledger.getAccount(issued.account_id)["openInstruction"] == 0
    statement = platform.statement("E1")
    assert (statement.invested, statement.total_return, statement.total) == (
        104_000,
        4_000,
        104_000,
    )
    assert [h.value for h in statement.holdings] == [44_000, 50_000, 10_000]


def test_report__event_carries_prices_and_report_hash(ledger, issued, investment_manager):
    investment_manager.execute(issued)
    fb = investment_manager.report_feedback(issued)
    tx_events = ledger.getInstruction(issued.instruction_id)
    assert tx_events["feedbackHash"] != "0x" + "00" * 32
    assert fb.unit_prices == (INITIAL_UNIT_PRICE,) * 3


@pytest.mark.parametrize(
    "stage,call,error",
    [
        ("issued", "report", r"AnnuityInstructionNotInState: 1, 1, 2"),
        ("issued", "forward", r"AnnuityInstructionNotInState: 1, 1, 3"),
        ("executed", "forward", r"AnnuityInstructionNotInState: 1, 2, 3"),
        ("settled", "report", r"AnnuityInstructionNotInState: 1, 4, 2"),
        ("settled", "forward", r"AnnuityInstructionNotInState: 1, 4, 3"),
        ("settled", "execute", r"AnnuityInstructionNotInState: 1, 4, 1"),
    ],
)
def test_lifecycle__out_of_order_or_repeated__reverts_and_changes_nothing(
    ledger, issued, investment_manager, trustee, stage, call, error
):
    prices = [INITIAL_UNIT_PRICE] * 3
    if stage in ("executed", "settled"):
        investment_manager.execute(issued)
    if stage == "settled":
        trustee.forward_feedback(investment_manager.report_feedback(issued))
    before = (ledger.getInstruction(1), ledger.holdingsOf(issued.account_id), ledger.unitPrice(EQ))
    im, tr = investment_manager.institution.account, trustee.institution.account
    items = list(issued.items)
    with brownie.reverts(revert_pattern=error):
        if call == "execute":
            ledger.executeInstruction(1, items, list(issued.legs), prices, {"from": im})
        elif call == "report":
            ledger.reportFeedback(1, items, prices, b"\1" * 32, {"from": im})
        else:
            ledger.forwardFeedback(1, items, prices, {"from": tr})
    assert (
        ledger.getInstruction(1),
        ledger.holdingsOf(issued.account_id),
        ledger.unitPrice(EQ),
    ) == before


@pytest.mark.parametrize("call", ["execute", "report", "forward"])
def test_lifecycle__unknown_instruction__reverts(
    ledger, investment_manager, trustee, annuity_world, call
):
    im, tr = investment_manager.institution.account, trustee.institution.account
    with brownie.reverts(revert_pattern=r"AnnuityUnknownInstruction: 7"):
        if call == "execute":
            ledger.executeInstruction(7, [EQ], [1], [INITIAL_UNIT_PRICE], {"from": im})
        elif call == "report":
            ledger.reportFeedback(7, [EQ], [INITIAL_UNIT_PRICE], b"\1" * 32, {"from": im})
        else:
            ledger.forwardFeedback(7, [EQ], [INITIAL_UNIT_PRICE], {"from": tr})


@pytest.mark.parametrize(
    "call,tamper",
    [
        ("execute", "legs"),
        ("execute", "items"),
        ("execute", "prices_length"),
        ("report", "items"),
        ("report", "prices_length"),
    ],
)
def test_execute_and_report__not_as_issued__reverts(
    ledger, issued, investment_manager, call, tamper
):
    """Execution repeats the issued items and legs, the report the executed items with one price
    each: anything else is refused and the instruction keeps its status."""
    im = investment_manager.institution.account
    if call == "report":
        investment_manager.execute(issued)
    items, legs, prices = list(issued.items), list(issued.legs), [INITIAL_UNIT_PRICE] * 3
    if tamper == "legs":
        legs[0] += 1
    elif tamper == "items":
        items[0] = item_of("GOLD")
    else:
        prices = prices[:2]
    with brownie.reverts(revert_pattern=r"AnnuityInstructionMismatch: 1"):
        if call == "execute":
            ledger.executeInstruction(1, items, legs, prices, {"from": im})
        else:
            ledger.reportFeedback(1, items, prices, b"\1" * 32, {"from": im})
    assert ledger.getInstruction(1)["status"] == (1 if call == "execute" else 2)


@pytest.mark.parametrize("price", [0, MAX_UNIT_PRICE + 1])
def test_execute_and_report__price_out_of_range__reverts(ledger, issued, investment_manager, price):
    with brownie.reverts(revert_pattern=r"AnnuityPriceOutOfRange:.*"):
        investment_manager.execute(issued, [INITIAL_UNIT_PRICE, price, INITIAL_UNIT_PRICE])
    investment_manager.execute(issued)
    with brownie.reverts(revert_pattern=r"AnnuityPriceOutOfRange:.*"):
        investment_manager.report_feedback(issued, [price, INITIAL_UNIT_PRICE, INITIAL_UNIT_PRICE])
    assert ledger.getInstruction(1)["status"] == 2


@pytest.mark.parametrize("tamper", ["prices", "items"])
def test_forward__not_as_reported__reverts(ledger, issued, investment_manager, trustee, tamper):
    investment_manager.execute(issued)
    fb = investment_manager.report_feedback(issued)
    if tamper == "prices":
        fb = Feedback(
            fb.instruction_id,
            fb.items,
            (fb.unit_prices[0] + 1,) + fb.unit_prices[1:],
            fb.report_hash,
        )
    else:
        fb = Feedback(fb.instruction_id, (MM, BOND, EQ), fb.unit_prices, fb.report_hash)
    with brownie.reverts(revert_pattern=r"AnnuityInstructionMismatch: 1"):
        trustee.forward_feedback(fb)
    assert ledger.getInstruction(1)["status"] == 3
    assert ledger.unitPrice(EQ) == INITIAL_UNIT_PRICE
