"""One business day of the enterprise annuity line.

Employees are enrolled, an employer's monthly contributions arrive (one batch), employees choose
plans (most keep new money only, some ask for a reset), the trustee invests the month, the
investment manager executes at the day's prices and reports feedback, the trustee forwards it, and
the service platform reads every employee's statement. Checks recompute every leg off chain.
"""

from __future__ import annotations

from typing import Any

from consortium.domain.allocation import INITIAL_UNIT_PRICE, split, value_of
from consortium.domain.hashing import code32
from consortium.outbox import close_phase
from consortium.roles.annuity import (
    AccountManagerPlatform,
    AnnuityServicePlatform,
    ContributionBatch,
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
    """Run the day; sizes: annuity_employees (default 12), annuity_resets (default 2).

    Each phase's independent transactions go out through the line's pipe without waiting; a phase
    that needs the previous one's results (ids, instructions) waits for that phase only."""
    result = LineResult(line="annuity")
    pipe = ctx.tx_pipe()
    platform, trustee, account_manager, im = pipe.piped(_platforms(ctx))
    rng = ctx.rng
    n = max(2, int(ctx.size.get("annuity_employees", 12)))
    resets = min(n, int(ctx.size.get("annuity_resets", 2)))
    ledger = platform.ledger

    versions, employees, ids = _open_accounts(ctx, pipe, platform, trustee, account_manager, im, n)

    # month 1: plans chosen at enrolment (no money yet), contributions arrive, trustee invests
    chosen = {}
    for e in employees:
        chosen[e] = rng.choice(sorted(PLANS))
        platform.choose_plan(e, chosen[e], versions[chosen[e]])
    month1 = {a: rng.randint(50_000, 300_000) for a in ids}
    _contribute(pipe, trustee, account_manager, "employer payroll month 1", month1)
    exact = True
    issued = trustee.allocate_cash(ids)
    for tx_ins in issued:
        ratios = list(PLANS[chosen[employees[ids.index(tx_ins.account_id)]]].values())
        exact &= list(tx_ins.legs) == split(month1[tx_ins.account_id], ratios)
    _settle_all(pipe, im, trustee, [(ins, None) for ins in issued])
    im.series.advance()

    month2, exact2, reset_ok = _month2(
        ctx,
        pipe,
        (platform, trustee, account_manager, im),
        employees,
        ids,
        resets,
        chosen,
        versions,
    )
    exact &= exact2

    statements = [platform.statement(e) for e in employees]
    contributed = sum(month1.values()) + sum(month2.values())
    result.counts = {
        "employees": n,
        "contributions": 2 * n,
        "instructions": int(ledger.instructionCount()),
        "resets": resets,
    }
    result.record(*pipe.collected)
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


def _open_accounts(
    ctx: DayContext,
    pipe: Any,
    platform: Any,
    trustee: Any,
    account_manager: Any,
    im: Any,
    n: int,
) -> tuple[dict, list[str], list[bytes]]:
    """Plans defined and entrusted, the day's prices set, `n` employees enrolled with accounts."""
    rng = ctx.rng
    versions = {}
    for code, ratios in PLANS.items():
        versions[code] = trustee.define_plan(code, ratios)
        trustee.appoint_investment_manager(code, im.address)
    # the employer entrusted this trustee, its accounts are kept by this account manager
    platform.register_employer("employer", trustee.address, account_manager.address)

    # prices: day 0 initial, day 1 moved (the investment manager's simulated market)
    items = sorted({i for r in PLANS.values() for i in r})
    im.series = PriceSeries(
        {
            code32(i): [INITIAL_UNIT_PRICE, INITIAL_UNIT_PRICE * rng.randint(95, 112) // 100]
            for i in items
        }
    )

    employees = [f"EMP-{rng.randrange(10**8):08d}-{k}" for k in range(n)]
    platform.enrol(employees)
    pipe.wait()
    ids = [platform.account_id(e) for e in employees]
    account_manager.open_accounts(ids)
    pipe.wait()
    return versions, employees, ids


def _month2(
    ctx: DayContext,
    pipe: Any,
    roles: tuple,
    employees: list[str],
    ids: list[bytes],
    resets: int,
    chosen: dict,
    versions: dict,
) -> tuple[dict, bool, bool]:
    """Month 2: contributions; the first `resets` employees switch plan with reset, the rest
    invest new money. Returns the contributions, whether legs were exact, whether resets hit."""
    platform, trustee, account_manager, im = roles
    rng, ledger = ctx.rng, platform.ledger
    exact = True
    # month 2: contributions; some employees switch plan with reset, the rest invest new money
    month2 = {a: rng.randint(50_000, 300_000) for a in ids}
    _contribute(pipe, trustee, account_manager, "employer payroll month 2", month2)
    resetters = employees[:resets]
    for e in resetters:
        target = "CONSERVATIVE" if chosen[e] != "CONSERVATIVE" else "GROWTH"
        platform.choose_plan(e, target, versions[target], reset=True)
        chosen[e] = target
    others = [platform.account_id(e) for e in employees[resets:]]
    issued = trustee.allocate_cash(others)  # the same phase as the plan switches
    exact &= all(sum(i.legs) == i.amount == month2[i.account_id] for i in issued)
    reset_txs = [
        ledger.resetHoldings(platform.account_id(e), {"from": account_manager.institution.account})
        for e in resetters
    ]
    pipe.wait()
    switched, goals = [], {}
    for e, tx in zip(resetters, reset_txs):
        (ins,) = instructions_in(tx)
        exact &= sum(ins.legs) == ins.amount
        prices = [int(ledger.unitPrice(i)) for i in ins.items]
        a = platform.account_id(e)
        current = [value_of(int(ledger.unitsOf(a, i)), p) for i, p in zip(ins.items, prices)]
        goals[a] = (ins.items, prices, [c + leg for c, leg in zip(current, ins.legs)])
        switched.append((ins, prices))
    # resets first: the trustee forwards their feedback before the month's new-money feedback
    _settle_all(pipe, im, trustee, switched + [(ins, None) for ins in issued])
    reset_ok = all(
        g - 1 <= value_of(int(ledger.unitsOf(a, i)), p) <= g
        for a, (its, prices, goal) in goals.items()
        for i, p, g in zip(its, prices, goal)
    )
    return month2, exact, reset_ok


def _contribute(
    pipe,
    trustee: TrusteePlatform,
    manager: AccountManagerPlatform,
    payroll_ref: str,
    amounts: dict[bytes, int],
) -> None:
    """The payroll's batches in one phase (with whatever the phase holds already), their postings
    in the next; both keyed, through the trustee's and the account manager's outboxes."""
    received = trustee.submit_contributions(payroll_ref, amounts)
    close_phase(pipe, trustee.outbox)
    for sub in received:
        manager.post_contributions(ContributionBatch.booked(sub))
    close_phase(pipe, manager.outbox)


def _settle_all(pipe, im: InvestmentManagerPlatform, trustee: TrusteePlatform, work) -> None:
    """Execute and report every instruction (one phase: the investment manager's nonces order each
    execution before its report), then the trustee forwards every feedback (the next phase)."""
    feedback = []
    for ins, prices in work:
        im.execute(ins, prices)
        feedback.append(im.report_feedback(ins, prices))
    pipe.wait()
    for fb in feedback:
        trustee.forward_feedback(fb)
    pipe.wait()
