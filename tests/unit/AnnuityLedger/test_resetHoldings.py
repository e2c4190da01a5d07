"""resetHoldings: the second allocation instruction moves holdings and new money to the new ratios."""

import brownie
import pytest

from consortium.domain.allocation import rebalance, split, value_of
from consortium.domain.hashing import doc_hash
from consortium.roles.annuity import instructions_in
from tests.fixtures.annuity import c32, item_of

EQ, BOND, MM = item_of("CN_EQUITY"), item_of("CN_BOND"), item_of("MONEY_MKT")


@pytest.fixture
def invested(ledger, enrol, fund, platform, settle, annuity_world):
    """E1 holds BALANCED bought with 100,000 at the initial price; feedback moved prices up."""
    (a,) = enrol(["E1"])
    fund({a: 100_000})
    (ins,) = instructions_in(platform.choose_plan("E1", "BALANCED"))
    settle(ins, feedback_prices=[12 * 10**11, 105 * 10**10, 10**12])
    return a


def test_reset__moves_holdings_to_new_plan_and_sells_items_outside_it(
    ledger, invested, fund, platform, account_manager, investment_manager, trustee
):
    a = invested
    assert ledger.valuation(a) == (110_500, 0, 100_000, 10_500)
    fund({a: 30_000}, ref="p2")
    platform.choose_plan("E1", "CONSERVATIVE", reset=True)
    tx = account_manager.ledger.resetHoldings(a, {"from": account_manager.institution.account})
    assert tx.events["HoldingsReset"]["investedValue"] == 110_500
    assert tx.events["HoldingsReset"]["accountManager"] == account_manager.address
    ev = tx.events["InstructionIssued"]
    assert ev["kind"] == 1 and ev["amount"] == 30_000
    assert ev["items"] == [c32("CN_BOND"), c32("MONEY_MKT"), c32("CN_EQUITY")]
    assert ev["legs"] == [45_850, 32_150, -48_000]  # targets 98,350 / 42,150 / 0 of 140,500
    assert sum(ev["legs"]) == 30_000
    (ins,) = instructions_in(tx)
    trustee.confirm_reset(ins)
    prices = [ledger.unitPrice(i) for i in ins.items]
    tx = investment_manager.execute(ins, prices)
    assert (
        tx.events["InstructionExecuted"]["unitDeltas"][2] == -4 * 10**10
    )  # equity sold out exactly
    items, _units, values = ledger.holdingsOf(a)
    held = {bytes(i): v for i, v in zip(items, values)}
    assert set(held) == {BOND, MM}
    assert held[BOND] == 98_349  # floor of 98,349.99999993: within one minor unit
    assert held[MM] == 42_150
    assert ledger.totalUnits(EQ) == 0
    feedback = investment_manager.report_feedback(ins, prices)
    tx = trustee.forward_feedback(feedback)
    settled = tx.events["InstructionSettled"]
    assert (
        settled["invested"],
        settled["cash"],
        settled["contributed"],
        settled["totalReturn"],
    ) == (140_499, 0, 130_000, 10_499)


def test_reset__same_prices__targets_within_one_minor_unit(
    ledger, invested, fund, platform, account_manager, investment_manager, trustee
):
    a = invested
    fund({a: 12_345}, ref="p2")
    platform.choose_plan("E1", "DIVERSIFIED8", reset=True)
    ins = account_manager.reset_holdings(a)
    trustee.confirm_reset(ins)
    prices = {i: ledger.unitPrice(i) for i in ins.items}
    current = [value_of(ledger.unitsOf(a, i), prices[i]) for i in ins.items]
    assert len(ins.items) == 8  # every BALANCED item is in DIVERSIFIED8
    investment_manager.execute(ins, [prices[i] for i in ins.items])
    target = [c + leg for c, leg in zip(current, ins.legs)]
    assert sum(ins.legs) == 12_345
    for item, t in zip(ins.items, target):
        assert t - 1 <= value_of(ledger.unitsOf(a, item), prices[item]) <= t
    assert target == split(sum(current) + 12_345, [1700, 1300, 900, 2100, 1100, 700, 500, 1700])
    assert list(ins.legs) == rebalance(
        current, 12_345, [1700, 1300, 900, 2100, 1100, 700, 500, 1700]
    )


def test_reset__not_requested__reverts(ledger, invested, account_manager):
    before = ledger.getAccount(invested)
    with brownie.reverts(revert_pattern=r"AnnuityNoResetRequested:.*"):
        account_manager.reset_holdings(invested)
    assert ledger.getAccount(invested) == before


def test_reset__unknown_account__reverts(ledger, account_manager, annuity_world):
    with brownie.reverts(revert_pattern=r"AnnuityAccountNotOpen:.*, 0"):
        account_manager.reset_holdings(doc_hash("nobody"))


def test_reset__nothing_held_no_cash__reverts(
    ledger, enrol, platform, account_manager, annuity_world
):
    (a,) = enrol(["E1"])
    platform.choose_plan("E1", "BALANCED", reset=True)
    with brownie.reverts(revert_pattern=r"AnnuityNothingToAllocate:.*"):
        account_manager.reset_holdings(a)
    assert ledger.getAccount(a)["resetPending"] is True
    assert ledger.instructionCount() == 0


def test_reset__price_fell_before_execution__sale_capped_at_units_held(
    ledger, invested, platform, account_manager, investment_manager, trustee
):
    """A partial sale (target above zero) valued at the ledger's price but executed after the price
    fell needs more units than the account holds: it sells every unit held, never more, and the
    item leaves the holdings (the market moved: the reset's next feedback tops it back up)."""
    a = invested
    platform.choose_plan("E1", "THIRDS", reset=True)
    ins = account_manager.reset_holdings(a)
    trustee.confirm_reset(ins)
    i = ins.items.index(EQ)
    assert ins.legs[i] < 0 and not ins.sell_out >> i & 1  # a partial sale: target 36,829
    held = ledger.unitsOf(a, EQ)
    total = ledger.totalUnits(EQ)
    prices = [ledger.unitPrice(x) for x in ins.items]
    prices[i] = -ins.legs[i] * 10**18 // held  # the sale now needs at least every unit held
    tx = investment_manager.execute(ins, prices)
    assert tx.events["InstructionExecuted"]["unitDeltas"][i] == -held
    assert tx.events["InstructionExecuted"]["unitsAfter"][i] == 0
    assert ledger.unitsOf(a, EQ) == 0
    assert ledger.totalUnits(EQ) == total - held
    items, _units, _values = ledger.holdingsOf(a)
    assert EQ not in {bytes(x) for x in items}
