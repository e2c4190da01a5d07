"""Issue 17, annuity items: the attacks of the review, performed, and what stops them now.

Item 15 (part): every annuity step binds its counterparty. A second platform, trustee, account manager
and investment manager (each holding its role, none appointed) try every step on the first employer's
accounts, plans and instructions: each is refused with its named error carrying (id, caller,
expected) and nothing changes; the appointed party then succeeds.

Item 9: a reset after real price feedback leaves no dust in the items it sells out (all units, whatever
the execution price); repeated resets never push an account past MAX_HELD_ITEMS; an account that
cannot be allocated (here: one past the cap, as old dust left them) is skipped and reported by
allocateCash while the rest of the trustee's batch is allocated.
"""

from types import SimpleNamespace

import brownie
import pytest

from consortium.domain.allocation import Book, sold_out, split, units_to_sell, value_of
from consortium.domain.hashing import code32, doc_hash
from consortium.roles.annuity import (
    AccountManagerPlatform,
    AnnuityServicePlatform,
    InvestmentManagerPlatform,
    PriceSeries,
    TrusteePlatform,
    instructions_in,
    skipped_in,
)
from tests.fixtures.annuity import item_of
from tests.stateful.machine import named_error

CHOICE = b"\xc4" * 32  # a plan choice's evidence hash (the platform keeps the evidence)

EQ, BOND, MM = item_of("CN_EQUITY"), item_of("CN_BOND"), item_of("MONEY_MKT")


# ==================================================================== item 15: counterparties


@pytest.fixture(scope="module")
def rivals(admit, accounts, regulator_cn, ledger, plans):
    """A second platform, trustee, account manager and investment manager: roles held, not appointed."""
    return SimpleNamespace(
        platform=AnnuityServicePlatform(
            admit(accounts[8], ["ANNUITY_PLATFORM"], regulator=regulator_cn, name="rival platform"),
            ledger,
            plans,
        ),
        trustee=TrusteePlatform(
            admit(accounts[9], ["TRUSTEE"], regulator=regulator_cn, name="rival trustee"),
            ledger,
            plans,
        ),
        account_manager=AccountManagerPlatform(
            admit(accounts[10], ["ACCOUNT_MANAGER"], regulator=regulator_cn, name="rival AM"),
            ledger,
        ),
        investment_manager=InvestmentManagerPlatform(
            admit(accounts[11], ["INVESTMENT_MANAGER"], regulator=regulator_cn, name="rival IM"),
            ledger,
            PriceSeries(),
        ),
    )


@pytest.fixture(scope="module")
def world(
    ledger,
    plans,
    platform,
    trustee,
    account_manager,
    investment_manager,
    enrol,
    fund,
    rivals,
    annuity_world,
):
    """Employer 1's accounts in every state a step needs, and a rival employer with its own plan.

    issued: an Issued instruction (E_ISSUED); executed: an Executed one (E_EXEC); reported: a
    FeedbackReported one (E_REP); E_RESET holds BALANCED and asked for a reset; requested: a
    requested account; batch: a received batch not yet posted.
    """
    ids = enrol(["E_ISSUED", "E_EXEC", "E_REP", "E_RESET"])
    fund(dict(zip(ids, [10_000, 20_000, 30_000, 40_000])), ref="world payroll")
    ins = [
        instructions_in(platform.choose_plan(e, "BALANCED"))[0]
        for e in ["E_ISSUED", "E_EXEC", "E_REP", "E_RESET"]
    ]
    investment_manager.execute(ins[1])
    investment_manager.execute(ins[2])
    rep = investment_manager.report_feedback(ins[2])
    investment_manager.execute(ins[3])
    trustee.forward_feedback(investment_manager.report_feedback(ins[3]))
    platform.choose_plan("E_RESET", "CONSERVATIVE", reset=True)
    platform.enrol(["E_REQ"])
    (batch,) = trustee.receive_contributions("unposted", {ids[0]: 500})
    # the rival employer: its own platform, trustee, account manager, plan and investment manager
    rivals.platform.register_employer(
        "rival employer", rivals.trustee.address, rivals.account_manager.address
    )
    rivals.trustee.define_plan("RIVAL", {"CN_EQUITY": 10_000})
    rivals.trustee.appoint_investment_manager("RIVAL", rivals.investment_manager.address)
    rivals.platform.enrol(["R1"])
    rivals.account_manager.open_accounts([rivals.platform.account_id("R1")])
    return SimpleNamespace(
        ids=ids,
        issued=ins[0],
        executed=ins[1],
        reported=ins[2],
        feedback=rep,
        requested=platform.account_id("E_REQ"),
        batch=batch,
        rival_account=rivals.platform.account_id("R1"),
    )


def _state(ledger, plans, w):
    accounts = [*w.ids, w.requested, w.rival_account]
    return (
        [tuple(ledger.getAccount(a)) for a in accounts],
        [tuple(ledger.getInstruction(i)) for i in range(1, ledger.instructionCount() + 1)],
        tuple(ledger.getContributionBatch(w.batch.batch_id)),
        ledger.batchCount(),
        plans.latestVersion(code32("BALANCED")),
        plans.investmentManagerOf(code32("BALANCED")),
        tuple(ledger.getAccount(doc_hash("new"))),
        [ledger.unitsOf(a, i) for a in w.ids for i in (EQ, BOND, MM)],
    )


def _attacks(w, r, ok):
    """step -> (the rival's call, error name, its arguments, the appointed party's call)."""
    P, T, M = (x.institution.account for x in (r.platform, r.trustee, r.account_manager))
    L = ok.ledger
    acc, reset_acc = w.ids[0], w.ids[3]
    ins, ex, rp = w.issued, w.executed, w.reported
    b = w.batch
    return {
        "requestAccounts": (
            lambda: L.requestAccounts(1, [doc_hash("new")], {"from": P}),
            "AnnuityNotEmployerPlatform",
            (1, r.platform.address, ok.platform.address),
            lambda: L.requestAccounts(
                1, [doc_hash("new")], {"from": ok.platform.institution.account}
            ),
        ),
        "choosePlan": (
            lambda: L.choosePlan(acc, code32("THIRDS"), 1, True, CHOICE, {"from": P}),
            "AnnuityNotEmployerPlatform",
            (1, r.platform.address, ok.platform.address),
            None,
        ),
        "openAccounts": (
            lambda: L.openAccounts([w.requested], {"from": M}),
            "AnnuityNotAccountManager",
            (w.requested, r.account_manager.address, ok.account_manager.address),
            lambda: ok.account_manager.open_accounts([w.requested]),
        ),
        "receiveContributions": (
            lambda: L.receiveContributions(doc_hash("rival payroll"), [acc], [1], {"from": T}),
            "AnnuityNotTrustee",
            (acc, r.trustee.address, ok.trustee.address),
            lambda: ok.trustee.receive_contributions("rival payroll", {acc: 1}),
        ),
        "postContributions": (
            lambda: L.postContributions(b.batch_id, list(b.accounts), list(b.amounts), {"from": M}),
            "AnnuityNotAccountManager",
            (acc, r.account_manager.address, ok.account_manager.address),
            lambda: ok.account_manager.post_contributions(b),
        ),
        "resetHoldings": (
            lambda: L.resetHoldings(reset_acc, {"from": M}),
            "AnnuityNotAccountManager",
            (reset_acc, r.account_manager.address, ok.account_manager.address),
            lambda: ok.account_manager.reset_holdings(reset_acc),
        ),
        "allocateCash": (
            lambda: L.allocateCash([w.ids[3]], {"from": T}),
            "AnnuityNotTrustee",
            (w.ids[3], r.trustee.address, ok.trustee.address),
            None,
        ),
        "executeInstruction": (
            lambda: r.investment_manager.execute(ins),
            "AnnuityNotInvestmentManager",
            (ins.instruction_id, r.investment_manager.address, ok.investment_manager.address),
            lambda: ok.investment_manager.execute(ins),
        ),
        "reportFeedback": (
            lambda: r.investment_manager.report_feedback(ex),
            "AnnuityNotInvestmentManager",
            (ex.instruction_id, r.investment_manager.address, ok.investment_manager.address),
            lambda: ok.investment_manager.report_feedback(ex),
        ),
        "forwardFeedback": (
            lambda: r.trustee.forward_feedback(w.feedback),
            "AnnuityNotTrustee",
            (rp.account_id, r.trustee.address, ok.trustee.address),
            lambda: ok.trustee.forward_feedback(w.feedback),
        ),
        # the batched calls: each entry's party checked as one by one (all or none: test_instruction_batches)
        "executeInstructions": (
            lambda: r.investment_manager.execute_many([(ins, None)]),
            "AnnuityNotInvestmentManager",
            (ins.instruction_id, r.investment_manager.address, ok.investment_manager.address),
            lambda: ok.investment_manager.execute_many([(ins, None)]),
        ),
        "reportFeedbacks": (
            lambda: r.investment_manager.report_feedbacks([(ex, None)]),
            "AnnuityNotInvestmentManager",
            (ex.instruction_id, r.investment_manager.address, ok.investment_manager.address),
            lambda: ok.investment_manager.report_feedbacks([(ex, None)]),
        ),
        "forwardFeedbacks": (
            lambda: r.trustee.forward_feedbacks([w.feedback]),
            "AnnuityNotTrustee",
            (rp.account_id, r.trustee.address, ok.trustee.address),
            lambda: ok.trustee.forward_feedbacks([w.feedback]),
        ),
        "definePlan": (
            lambda: r.trustee.define_plan("BALANCED", {"CN_EQUITY": 10_000}),
            "AnnuityNotPlanTrustee",
            (code32("BALANCED"), r.trustee.address, ok.trustee.address),
            lambda: ok.trustee.define_plan("BALANCED", {"CN_EQUITY": 10_000}),
        ),
        "appointInvestmentManager": (
            lambda: r.trustee.appoint_investment_manager("BALANCED", r.investment_manager.address),
            "AnnuityNotPlanTrustee",
            (code32("BALANCED"), r.trustee.address, ok.trustee.address),
            None,
        ),
    }


def _pattern(name, args):
    return named_error(name, *args)


STEPS = [
    "requestAccounts",
    "choosePlan",
    "openAccounts",
    "receiveContributions",
    "postContributions",
    "resetHoldings",
    "allocateCash",
    "executeInstruction",
    "reportFeedback",
    "forwardFeedback",
    "executeInstructions",
    "reportFeedbacks",
    "forwardFeedbacks",
    "definePlan",
    "appointInvestmentManager",
]


@pytest.mark.parametrize("step", STEPS)
def test_step__role_holder_not_appointed__refused_named_error_state_unchanged(
    ledger, plans, platform, trustee, account_manager, investment_manager, world, rivals, step
):
    ok = SimpleNamespace(
        ledger=ledger,
        platform=platform,
        trustee=trustee,
        account_manager=account_manager,
        investment_manager=investment_manager,
    )
    attack, name, args, rightful = _attacks(world, rivals, ok)[step]
    before = _state(ledger, plans, world)
    with brownie.reverts(revert_pattern=_pattern(name, args)):
        attack()
    assert _state(ledger, plans, world) == before
    if rightful is not None:  # the appointed party may: the refusal is about who, not what
        rightful()
        assert _state(ledger, plans, world) != before


def test_choosePlan__plan_of_another_trustee__refused(ledger, platform, trustee, world, rivals):
    acc = world.ids[3]
    before = ledger.getAccount(acc)
    with brownie.reverts(
        revert_pattern=_pattern(
            "AnnuityPlanOfOtherTrustee",
            (acc, code32("RIVAL"), rivals.trustee.address, trustee.address),
        )
    ):
        ledger.choosePlan(
            acc, code32("RIVAL"), 1, False, CHOICE, {"from": platform.institution.account}
        )
    assert ledger.getAccount(acc) == before


def test_choosePlan__plan_without_investment_manager__refused(ledger, platform, trustee, world):
    trustee.define_plan("ORPHAN", {"CN_BOND": 10_000})
    with brownie.reverts(
        revert_pattern=_pattern("AnnuityNoInvestmentManager", (code32("ORPHAN"),))
    ):
        platform.choose_plan("E_RESET", "ORPHAN")
    assert ledger.getAccount(world.ids[3])["planCode"] == "0x" + code32("CONSERVATIVE").hex()


def test_receiveContributions__two_employers_in_one_batch__refused(ledger, trustee, rivals, world):
    count = ledger.batchCount()
    # the rival trustee's own account first: the batch is its employer's, ours is refused by employer
    with brownie.reverts(
        revert_pattern=_pattern("AnnuityBatchMixesEmployers", (world.ids[0], 1, 2))
    ):
        ledger.receiveContributions(
            doc_hash("mixed"),
            [world.rival_account, world.ids[0]],
            [1, 1],
            {"from": rivals.trustee.institution.account},
        )
    assert ledger.batchCount() == count


def test_allocateCash__another_trustees_account_in_batch__whole_batch_refused(
    ledger, trustee, rivals, world
):
    with brownie.reverts(
        revert_pattern=_pattern(
            "AnnuityNotTrustee", (world.rival_account, trustee.address, rivals.trustee.address)
        )
    ):
        ledger.allocateCash(
            [world.ids[3], world.rival_account], {"from": trustee.institution.account}
        )


def test_appointInvestmentManager__replaced__instruction_in_flight_goes_to_successor(
    ledger, plans, trustee, investment_manager, rivals, world
):
    """The exit for an investment manager that stops working: the trustee appoints another."""
    tx = trustee.appoint_investment_manager("BALANCED", rivals.investment_manager.address)
    assert (
        tx.events["InvestmentManagerAppointed"]["investmentManager"]
        == rivals.investment_manager.address
    )
    with brownie.reverts(revert_pattern=r"AnnuityNotInvestmentManager:.*"):
        investment_manager.execute(world.issued)
    rivals.investment_manager.execute(world.issued)
    assert ledger.getInstruction(world.issued.instruction_id)["status"] == 2


def test_registerEmployer__appointee_without_role__refused(
    ledger, platform, investment_manager, trustee
):
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        ledger.registerEmployer(
            doc_hash("x"),
            investment_manager.address,
            trustee.address,
            {"from": platform.institution.account},
        )


# ==================================================================== item 9: reset dust and the cap

# feedback prices at which the floored values leave thousands of units unsold by the old rule
DUSTY = [12 * 10**11 + 123_456_789, 105 * 10**10 + 987_654_321, 10**12 + 55_555_555]


@pytest.fixture
def invested(ledger, enrol, fund, platform, settle, annuity_world):
    """E1 holds BALANCED bought at the initial price; feedback moved prices to DUSTY."""
    (a,) = enrol(["E1"])
    fund({a: 100_000})
    (ins,) = instructions_in(platform.choose_plan("E1", "BALANCED"))
    settle(ins, feedback_prices=DUSTY)
    return a


@pytest.mark.parametrize("exec_factor", [(1, 1), (3, 2), (1, 2)])
def test_reset_after_feedback__items_outside_new_plan__sold_out_no_dust(
    trustee, ledger, invested, fund, platform, account_manager, investment_manager, exec_factor
):
    a = invested
    units_eq = ledger.unitsOf(a, EQ)
    price_eq = ledger.unitPrice(EQ)
    current_eq = value_of(units_eq, price_eq)
    # the attack's premise: the old rule (sell ceil(value/price) units) leaves zero-value dust
    assert units_to_sell(current_eq, price_eq, units_eq) < units_eq
    fund({a: 30_000}, ref="p2")
    platform.choose_plan("E1", "CONSERVATIVE", reset=True)
    ins = account_manager.reset_holdings(a)
    trustee.confirm_reset(ins)  # the trustee confirms the reset first
    assert list(ins.items) == [BOND, MM, EQ]
    valued = [ledger.unitPrice(i) for i in ins.items]
    current = [value_of(ledger.unitsOf(a, i), p) for i, p in zip(ins.items, valued)]
    assert ins.sell_out == 0b100 == sold_out(current, 30_000, [7000, 3000, 0])
    assert ledger.getInstruction(ins.instruction_id)["sellOutMask"] == 0b100
    num, den = exec_factor  # executed at the valuation prices, or after the market moved
    prices = [p * num // den for p in valued]
    book = Book(units={i: ledger.unitsOf(a, i) for i in ins.items if ledger.unitsOf(a, i)})
    total_eq = ledger.totalUnits(EQ)
    tx = investment_manager.execute(ins, prices)
    ev = tx.events["InstructionExecuted"]
    assert ev["unitDeltas"][2] == -units_eq and ev["unitsAfter"][2] == 0
    assert list(ev["unitDeltas"]) == book.execute(ins.items, ins.legs, prices, ins.sell_out)
    assert ledger.unitsOf(a, EQ) == 0 and ledger.totalUnits(EQ) == total_eq - units_eq
    assert {bytes(i) for i in ledger.holdingsOf(a)[0]} == {BOND, MM}


def test_reset__plan_item_with_zero_target__sold_out(
    ledger,
    enrol,
    fund,
    platform,
    trustee,
    account_manager,
    investment_manager,
    settle,
    annuity_world,
):
    """A plan item too small to get a minor unit (target 0) is sold out too, not left as dust."""
    trustee.define_plan("TINY", {"CN_BOND": 9999, "CN_EQUITY": 1})
    trustee.appoint_investment_manager("TINY", investment_manager.address)
    (a,) = enrol(["E1"])
    fund({a: 3})
    (ins,) = instructions_in(platform.choose_plan("E1", "BALANCED"))
    settle(ins, feedback_prices=[10**12 + 1, 10**12 + 1, 10**12 + 1])
    assert ledger.unitsOf(a, EQ) > 0
    platform.choose_plan("E1", "TINY", reset=True)
    ins = account_manager.reset_holdings(a)
    trustee.confirm_reset(ins)  # the trustee confirms the reset first
    assert ins.items[1] == EQ and ins.sell_out >> 1 & 1
    investment_manager.execute(ins, [ledger.unitPrice(i) for i in ins.items])
    assert ledger.unitsOf(a, EQ) == 0


def _wide(trustee, investment_manager, n):
    code = f"WIDE{n}"
    trustee.define_plan(code, {f"W{n}_{i}": 625 for i in range(16)})
    trustee.appoint_investment_manager(code, investment_manager.address)
    return code


def test_repeated_resets__after_feedback__never_past_the_cap_and_allocation_still_works(
    ledger,
    enrol,
    fund,
    platform,
    trustee,
    account_manager,
    investment_manager,
    settle,
    annuity_world,
):
    """The review's sequence: 16-item plans switched with reset after price feedback. With dust left
    behind, the second reset took the account to 48 items and every later allocateCash reverted."""
    (a,) = enrol(["E1"])
    fund({a: 1_000_003})
    code = _wide(trustee, investment_manager, 0)
    (ins,) = instructions_in(platform.choose_plan("E1", code))
    settle(ins, feedback_prices=[10**12 + 7 * k + 3 for k in range(16)])
    for n in (1, 2, 3):
        code = _wide(trustee, investment_manager, n)
        platform.choose_plan("E1", code, reset=True)
        ins = account_manager.reset_holdings(a)
        trustee.confirm_reset(ins)  # the trustee confirms the reset first
        assert len(ins.items) == 32 and ins.sell_out == (2**16 - 1) << 16  # the old plan, sold out
        settle(
            ins,
            exec_prices=[ledger.unitPrice(i) for i in ins.items],
            feedback_prices=[10**12 + 11 * k + 5 for k in range(32)],
        )
        held = {bytes(i) for i in ledger.holdingsOf(a)[0]}
        assert held <= {code32(f"W{n}_{i}") for i in range(16)}
        assert len(held) <= ledger.MAX_HELD_ITEMS()
    fund({a: 5_000}, ref="later")
    (ins,) = trustee.allocate_cash([a])
    assert ins.amount == 5_000 and list(ins.legs) == split(5_000, [625] * 16)


def test_allocateCash__one_account_past_the_cap__skipped_and_reported_batch_allocated(
    ledger,
    enrol,
    fund,
    platform,
    trustee,
    account_manager,
    investment_manager,
    settle,
    annuity_world,
):
    """An account whose plan would take it past MAX_HELD_ITEMS no longer sinks the trustee's batch."""
    bad, good = enrol(["BAD", "GOOD"])
    for n in (0, 1):  # two 16-item plans without reset: 32 items held
        code = _wide(trustee, investment_manager, n)
        fund({bad: 16_000}, ref=f"p{n}")
        (ins,) = instructions_in(platform.choose_plan("BAD", code))
        settle(ins)
    platform.choose_plan("BAD", _wide(trustee, investment_manager, 2))  # no cash: no check yet
    platform.choose_plan("GOOD", "BALANCED")
    fund({bad: 16_000, good: 7_000}, ref="month")
    tx = ledger.allocateCash([bad, good], {"from": trustee.institution.account})
    assert skipped_in(tx) == [(bad, "TooManyHoldings")]
    (ins,) = instructions_in(tx)
    assert (ins.account_id, ins.amount) == (good, 7_000)
    assert (
        ledger.getAccount(bad)["cash"] == 16_000 and ledger.getAccount(bad)["openInstruction"] == 0
    )
    # the exit for the skipped account: a reset to its plan sells everything else out
    platform.choose_plan("BAD", "WIDE2", reset=True)
    ins = account_manager.reset_holdings(bad)
    trustee.confirm_reset(ins)  # the trustee confirms the reset first
    assert len(ins.items) == 48 and ins.sell_out == (2**32 - 1) << 16
    settle(ins, exec_prices=[ledger.unitPrice(i) for i in ins.items])
    assert {bytes(i) for i in ledger.holdingsOf(bad)[0]} == {code32(f"W2_{i}") for i in range(16)}


def test_appointInvestmentManager__plan_never_defined__refused(plans, trustee, investment_manager):
    with brownie.reverts(revert_pattern=r"AnnuityUnknownPlan:.*"):
        trustee.appoint_investment_manager("NO-SUCH-PLAN", investment_manager.address)


def test_requestAccounts__employer_never_registered__refused_nothing_requested(ledger, platform):
    account = doc_hash("account of an unknown employer")
    with brownie.reverts("AnnuityUnknownEmployer: 999"):
        ledger.requestAccounts(999, [account], {"from": platform.institution.account})
    assert ledger.getAccount(account)["status"] == 0
