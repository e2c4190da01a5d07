"""One business day of the enterprise annuity line.

Employees are enrolled, an employer's monthly contributions arrive (one batch), employees choose
plans (most keep new money only, some ask for a reset), the trustee invests the month, the
investment manager executes at the day's prices and reports feedback, the trustee forwards it, and
the service platform reads every employee's statement. Checks recompute every leg off chain.
"""

from __future__ import annotations

from consortium.domain.allocation import INITIAL_UNIT_PRICE, split, value_of
from consortium.domain.hashing import code32
from consortium.roles.annuity import (
    AccountManagerPlatform,
    AnnuityServicePlatform,
    InvestmentManagerPlatform,
    PriceSeries,
    TrusteePlatform,
    instructions_in,
)
from consortium.scenarios import DayContext, LineResult

PLANS = {
    "BALANCED": {"CN_EQUITY": 4000, "CN_BOND": 5000, "MONEY_MKT": 1000},
    "CONSERVATIVE": {"CN_BOND": 7000, "MONEY_MKT": 3000},
    "GROWTH": {"CN_EQUITY": 5500, "HK_EQUITY": 2500, "CN_BOND": 1500, "MONEY_MKT": 500},
}


def _platforms(ctx: DayContext):
    ledger, plans = ctx.suite["AnnuityLedger"], ctx.suite["AnnuityPlans"]
    trustee, manager = ctx.members.one("TRUSTEE"), ctx.members.one("ACCOUNT_MANAGER")
    return (
        AnnuityServicePlatform(ctx.members.one("ANNUITY_PLATFORM"), ledger, plans),
        TrusteePlatform(trustee, ledger, plans, ctx.store(trustee)),
        AccountManagerPlatform(manager, ledger, ctx.store(manager)),
        InvestmentManagerPlatform(ctx.members.one("INVESTMENT_MANAGER"), ledger, PriceSeries()),
    )


def agents(ctx: DayContext) -> list:
    """The line's role objects that send keyed batches (each with its outbox), over their stores."""
    _, trustee, account_manager, _ = _platforms(ctx)
    return [trustee, account_manager]


def run_day(ctx: DayContext) -> LineResult:
    """Run the day; sizes: annuity_employees (default 12), annuity_resets (default 2)."""
    result = LineResult(line="annuity")
    platform, trustee, account_manager, im = _platforms(ctx)
    rng = ctx.rng
    n = max(2, int(ctx.size.get("annuity_employees", 12)))
    resets = min(n, int(ctx.size.get("annuity_resets", 2)))
    ledger = platform.ledger

    versions = {}
    for code, ratios in PLANS.items():
        versions[code] = trustee.define_plan(code, ratios)

    # prices: day 0 initial, day 1 moved (the investment manager's simulated market)
    items = sorted({i for r in PLANS.values() for i in r})
    im.series = PriceSeries(
        {
            code32(i): [INITIAL_UNIT_PRICE, INITIAL_UNIT_PRICE * rng.randint(95, 112) // 100]
            for i in items
        }
    )

    employees = [f"EMP-{rng.randrange(10**8):08d}-{k}" for k in range(n)]
    for tx in platform.enrol(employees):
        result.record(tx)
    ids = [platform.account_id(e) for e in employees]
    for tx in account_manager.open_accounts(ids):
        result.record(tx)

    # month 1: plans chosen at enrolment (no money yet), contributions arrive, trustee invests
    chosen = {}
    for e in employees:
        chosen[e] = rng.choice(sorted(PLANS))
        result.record(platform.choose_plan(e, chosen[e], versions[chosen[e]]))
    month1 = {a: rng.randint(50_000, 300_000) for a in ids}
    for batch in trustee.receive_contributions("employer payroll month 1", month1):
        result.record(account_manager.post_contributions(batch))
    exact = True
    issued = []
    for tx_ins in _allocate(trustee, ids, result):
        issued.append(tx_ins)
        ratios = list(PLANS[chosen[employees[ids.index(tx_ins.account_id)]]].values())
        exact &= list(tx_ins.legs) == split(month1[tx_ins.account_id], ratios)
    _settle_all(im, trustee, issued, result)
    im.series.advance()

    # month 2: contributions; some employees switch plan with reset, the rest invest new money
    month2 = {a: rng.randint(50_000, 300_000) for a in ids}
    for batch in trustee.receive_contributions("employer payroll month 2", month2):
        result.record(account_manager.post_contributions(batch))
    resetters = employees[:resets]
    reset_ok = True
    for e in resetters:
        target = "CONSERVATIVE" if chosen[e] != "CONSERVATIVE" else "GROWTH"
        result.record(platform.choose_plan(e, target, versions[target], reset=True))
        tx = ledger.resetHoldings(
            platform.account_id(e), {"from": account_manager.institution.account}
        )
        result.record(tx)
        (ins,) = instructions_in(tx)
        exact &= sum(ins.legs) == ins.amount
        prices = [int(ledger.unitPrice(i)) for i in ins.items]
        a = platform.account_id(e)
        current = [value_of(int(ledger.unitsOf(a, i)), p) for i, p in zip(ins.items, prices)]
        result.record(im.execute(ins, prices))
        goal = [c + leg for c, leg in zip(current, ins.legs)]
        after = [value_of(int(ledger.unitsOf(a, i)), p) for i, p in zip(ins.items, prices)]
        reset_ok &= all(g - 1 <= v <= g for g, v in zip(goal, after))
        fb = im.report_feedback(ins, prices)
        result.record(fb.tx, trustee.forward_feedback(fb))
        chosen[e] = target
    others = [platform.account_id(e) for e in employees[resets:]]
    issued = _allocate(trustee, others, result)
    exact &= all(sum(i.legs) == i.amount == month2[i.account_id] for i in issued)
    _settle_all(im, trustee, issued, result)

    statements = [platform.statement(e) for e in employees]
    contributed = sum(month1.values()) + sum(month2.values())
    result.counts = {
        "employees": n,
        "contributions": 2 * n,
        "instructions": int(ledger.instructionCount()),
        "resets": resets,
    }
    result.metrics = {
        "contributed_minor_units": contributed,
        "assets_minor_units": sum(s.total for s in statements),
        "return_minor_units": sum(s.total_return for s in statements),
    }
    result.checks = {
        "allocation legs exact": exact,
        "reset within one minor unit per item": reset_ok,
        "contributions booked": sum(s.contributed for s in statements) == contributed,
        "no cash left unallocated": all(s.cash == 0 for s in statements),
        "statements add up": all(s.total - s.contributed == s.total_return for s in statements),
    }
    return result


def _allocate(trustee: TrusteePlatform, ids, result: LineResult):
    issued = []
    for i in range(0, len(ids), 50):
        tx = trustee.ledger.allocateCash(
            list(ids[i : i + 50]), {"from": trustee.institution.account}
        )
        result.record(tx)
        issued += instructions_in(tx)
    return issued


def _settle_all(
    im: InvestmentManagerPlatform, trustee: TrusteePlatform, issued, result: LineResult
) -> None:
    for ins in issued:
        result.record(im.execute(ins))
        fb = im.report_feedback(ins)
        result.record(fb.tx, trustee.forward_feedback(fb))
