"""One business day of the enterprise annuity line.

Employees are enrolled, an employer's monthly contributions arrive (one batch), employees choose
plans (most keep new money only, some ask for a reset), the trustee invests the month, the
investment manager executes at the day's prices and reports feedback, the trustee forwards it, and
the service platform reads every employee's statement. Checks recompute every leg off chain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from consortium.domain.allocation import INITIAL_UNIT_PRICE, split, value_of
from consortium.domain.encoding import b32
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

    since = int(_web3().eth.block_number) + 1  # the day's events (the trustee's confirmations)
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
        "resets_confirmed_by_trustee": len(_resets_confirmed(ctx.suite, since)),
    }
    result.record(*pipe.collected)
    result.metrics = {
        "contributed_minor_units": contributed,
        "assets_minor_units": sum(s.total for s in statements),
        "return_minor_units": sum(s.total_return for s in statements),
    }
    result.checks = {
        "allocation legs exact": exact,
        "reset within one minor unit per item, from the employee's evidenced choice": reset_ok,
        "every reset confirmed by the trustee before it was executed": result.counts[
            "resets_confirmed_by_trustee"
        ]
        == resets
        and _confirmed_before_executed(ctx.suite, since, _resets_confirmed(ctx.suite, since)),
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
    # the trustee confirms each reset instruction before the investment manager may execute it
    resets = [instructions_in(tx)[0] for tx in reset_txs]
    confirmed = [trustee.confirm_reset(ins) for ins in resets]
    pipe.wait()
    exact &= all("ResetConfirmed" in tx.events for tx in confirmed)
    switched, goals = [], {}
    for e, ins in zip(resetters, resets):
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
    # the statement of choices: each reset instruction was produced by the employee's reset choice
    lines = [platform.choice_of(ins.instruction_id) for ins in resets]
    reset_ok &= all(ln.choice is not None and ln.choice.reset for ln in lines)
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
    """Execute and report every instruction in batched calls (one phase: the investment manager's
    nonces order each execution batch before the reports), then the trustee forwards every feedback
    in batched calls (the next phase)."""
    work = list(work)
    im.execute_many(work)
    feedback = im.report_feedbacks(work)
    pipe.wait()
    trustee.forward_feedbacks(feedback)
    pipe.wait()


# ---------------------------------------------------------------------------------------------
# The same day as business files, for the multi-process day (consortium.scenarios.files): the
# platform enrols the employees with the plan each chose, the employer's payroll of month 1 reaches
# the trustee, a few employees switch plan with a reset of their holdings, then month 2's payroll.

ROLES = ("ANNUITY_PLATFORM", "TRUSTEE", "ACCOUNT_MANAGER", "INVESTMENT_MANAGER")
PHASES = ("enrol", "payroll-1", "switch", "payroll-2")
MONTHS = ("2026-11", "2026-12")
SETTLED = 4  # IAnnuityLedger.InstructionStatus.Settled
RESET = 1  # IAnnuityLedger.InstructionKind.Reset
_OPEN = 2  # IAnnuityLedger.AccountStatus.Open


@dataclass(frozen=True)
class FileDay:
    """The seeded content of the annuity day's files; `checks` recomputes its expectations."""

    platform: str
    trustee: str
    account_manager: str
    investment_manager: str
    employer: str
    employees: tuple[str, ...]
    chosen: dict[str, str]  # employee -> plan at enrolment
    switched: dict[str, str]  # employee -> plan after the reset
    months: tuple[dict[str, int], dict[str, int]]  # employee -> contribution per month
    prices: dict[str, int]  # item id -> the investment manager's price

    @property
    def final(self) -> dict[str, str]:
        return {e: self.switched.get(e, p) for e, p in self.chosen.items()}

    @property
    def instructions(self) -> int:
        return 2 * len(self.employees) + len(self.switched)


def file_day(cfg: Any, sizes: dict, seed: int) -> FileDay:
    """The day's seeded content: sizes as the in-process day (annuity_employees, annuity_resets)."""
    import random

    rng = random.Random(f"{seed}:annuity-files")
    plans = {str(p["id"]): dict(p["items"]) for p in cfg.products.get("annuity_plans") or []}
    n = max(2, int(sizes.get("annuity_employees", 12)))
    resets = min(n, int(sizes.get("annuity_resets", 2)))
    employees = tuple(f"EMP-{rng.randrange(10**8):08d}-{k}" for k in range(n))
    chosen = {e: rng.choice(sorted(plans)) for e in employees}
    switched = {}
    for e in employees[:resets]:
        others = [p for p in sorted(plans) if p != chosen[e]]
        switched[e] = rng.choice(others)
    months = tuple({e: rng.randint(50_000, 300_000) for e in employees} for _ in MONTHS)
    items = sorted({i for ratios in plans.values() for i in ratios})
    prices = {i: INITIAL_UNIT_PRICE * rng.randint(95, 112) // 100 for i in items}

    def one(role: str) -> str:
        return cfg.with_role(role)[0].id

    return FileDay(
        one("ANNUITY_PLATFORM"),
        one("TRUSTEE"),
        one("ACCOUNT_MANAGER"),
        one("INVESTMENT_MANAGER"),
        f"EMPLOYER-{seed}",
        employees,
        chosen,
        switched,
        months,  # type: ignore[arg-type]
        prices,
    )


def agent_settings(cfg: Any, sizes: dict, seed: int) -> dict[str, dict]:
    """agent.yaml's `annuity:` section: whom the trustee appoints,
    the investment manager's prices."""
    d = file_day(cfg, sizes, seed)
    section = {"investment_manager": d.investment_manager, "prices": d.prices}
    return {
        ident: {"annuity": section}
        for ident in (d.platform, d.trustee, d.account_manager, d.investment_manager)
    }


def input_files(cfg: Any, sizes: dict, seed: int) -> dict[str, list]:
    """The platform's enrolments and plan switches, the trustee's two payrolls (their account ids
    read from the platform's account list when the payroll phase begins)."""
    from consortium.scenarios.files import InputFile, csv_bytes

    d = file_day(cfg, sizes, seed)
    enrol = csv_bytes(
        ["employee_id", "employer_ref", "trustee", "account_manager", "plan_code"],
        [[e, d.employer, d.trustee, d.account_manager, d.chosen[e]] for e in d.employees],
    )
    switch = csv_bytes(
        ["employee_id", "plan_code", "version", "reset"],
        [[e, p, "", "yes"] for e, p in d.switched.items()],
    )

    def payroll(month: int) -> Any:
        def content(view: Any) -> bytes:
            accounts = _accounts(view, d)
            ref = f"{d.employer}-{MONTHS[month]}"
            rows = [[ref, e, d.months[month][e], MONTHS[month], accounts[e]] for e in d.employees]
            header = ["payroll_ref", "employee_id", "amount", "period", "account_id"]
            return csv_bytes(header, rows)

        return content

    platform = [InputFile(f"enrolments-{d.employer}.csv", enrol, "enrol")]
    if d.switched:
        platform.append(InputFile(f"plan-choices-{d.employer}-switch.csv", switch, "switch"))
    return {
        d.platform: platform,
        d.trustee: [
            InputFile(f"contributions-{d.employer}-{MONTHS[m]}.csv", payroll(m), f"payroll-{m + 1}")
            for m in range(len(MONTHS))
        ],
    }


def _accounts(view: Any, d: FileDay) -> dict[str, str]:
    """employee id -> account id, from the platform's outbox list (empty until it is written)."""
    from consortium.scenarios.files import read_csv

    path = view.outbox(d.platform) / "accounts" / f"enrolments-{d.employer}.csv"
    return {r["employee_id"]: r["account_id"] for r in read_csv(path)}


class _ChainAccounts(Mapping):
    """employee id -> the account on chain, read a batch at a time when first asked (one JSON-RPC
    batch of `chunk` accounts, DayView.read_many): a readiness check stops at the first batch with
    an account not there yet instead of reading them all (the agents share the node)."""

    def __init__(
        self, view: Any, ids: dict[str, str], employees: tuple[str, ...], chunk: int = 500
    ):
        self.view, self.ids, self.employees, self.chunk = view, ids, employees, chunk
        self.ledger = view.suite["AnnuityLedger"]
        self.index = {e: n for n, e in enumerate(employees)}
        self.read: dict[str, Any] = {}

    def __getitem__(self, employee: str) -> Any:
        if employee not in self.read:
            start = self.index[employee] // self.chunk * self.chunk
            part = self.employees[start : start + self.chunk]
            accounts = self.view.read_many(
                self.ledger, "getAccount", [(self.ids[e],) for e in part]
            )
            self.read.update(zip(part, accounts))
        return self.read[employee]

    def __iter__(self) -> Iterator[str]:
        return iter(self.employees)

    def __len__(self) -> int:
        return len(self.employees)


def _chain_accounts(view: Any, d: FileDay) -> _ChainAccounts | None:
    """The employees' accounts on chain, None until every employee has an account id."""
    accounts = _accounts(view, d)
    if len(accounts) < len(d.employees):
        return None
    return _ChainAccounts(view, accounts, d.employees)


def _day(view: Any) -> FileDay:
    return view.memo("annuity", lambda: file_day(view.cfg, view.sizes_of("annuity"), view.seed))


def ready(phase: str, view: Any) -> bool:
    """Whether `phase` may begin: each waits for what a bank would wait for before sending on."""
    d = _day(view)
    if phase == "enrol":
        return True
    chain_accounts = _chain_accounts(view, d)
    if chain_accounts is None:
        return False
    a = chain_accounts
    if phase == "payroll-1":  # accounts open, each with its plan
        return all(int(x["status"]) == _OPEN and int(x["planVersion"]) >= 1 for x in a.values())
    if phase == "switch":  # month 1 invested
        return all(_settled(x, d.months[0][e]) for e, x in a.items())
    if phase == "payroll-2":  # the switches done: holdings reset into the new plan
        return all(
            _settled(a[e], d.months[0][e])
            and b32(a[e]["planCode"]) == code32(p)
            and not a[e]["resetPending"]
            for e, p in d.switched.items()
        ) and int(view.suite["AnnuityLedger"].instructionCount()) >= len(d.employees) + len(
            d.switched
        )
    raise ValueError(f"unknown annuity phase {phase!r}")


def _settled(account: Any, contributed: int) -> bool:
    return (
        int(account["contributed"]) == contributed
        and int(account["cash"]) == 0
        and int(account["openInstruction"]) == 0
    )


def _statements(view: Any, d: FileDay) -> dict[str, dict]:
    folder = view.outbox(d.platform) / "statements"
    found = {}
    for e in d.employees:
        path = folder / f"{e}.json"
        if path.exists():
            found[e] = json.loads(path.read_text())
    return found


def done(view: Any) -> bool:
    """Month 2 invested for everyone and every employee's statement in the platform's outbox."""
    d = _day(view)
    a = _chain_accounts(view, d)
    if a is None or not all(_settled(a[e], d.months[0][e] + d.months[1][e]) for e in a):
        return False
    return all(_statement_final(view, d, e) for e in d.employees)  # stops at the first not yet


def _statement_final(view: Any, d: FileDay, employee: str) -> bool:
    """The employee's statement in the platform's outbox shows both months invested."""
    path = view.outbox(d.platform) / "statements" / f"{employee}.json"
    try:
        s = json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet (written by rename, but be safe)
        return False
    return s["contributed"] == d.months[0][employee] + d.months[1][employee] and s["cash"] == 0


def checks(view: Any) -> LineResult:
    """The day's outcome recomputed from its files, read from the chain and the outboxes."""
    d = _day(view)
    ledger = view.suite["AnnuityLedger"]
    a = _chain_accounts(view, d) or {}
    accounts = _accounts(view, d)
    statements = _statements(view, d)
    expected = {e: d.months[0][e] + d.months[1][e] for e in d.employees}
    count = int(ledger.instructionCount())
    plans = {str(p["id"]): p["items"] for p in _plans_of(view)}
    finals = list(d.final.items()) if len(accounts) == len(d.employees) else []
    held = view.read_many(ledger, "holdingsOf", [(accounts[e],) for e, _ in finals])
    holdings_ok = len(held) == len(d.final) and all(
        len(h[0]) == len(plans.get(p, ())) for (_, p), h in zip(finals, held)
    )
    instructions = view.read_many(ledger, "getInstruction", [(i,) for i in range(1, count + 1)])
    confirmed = _resets_confirmed(view.suite, view.suite.block)
    result = LineResult(line="annuity")
    result.counts = {
        "employees": len(d.employees),
        "contributions": 2 * len(d.employees),
        "instructions": count,
        "resets": len(d.switched),
        "resets_confirmed_by_trustee": len(confirmed),
    }
    result.metrics = {
        "contributed_minor_units": sum(expected.values()),
        "assets_minor_units": sum(s["total"] for s in statements.values()),
        "return_minor_units": sum(s["total_return"] for s in statements.values()),
    }
    result.checks = {
        "contributions booked": len(a) == len(d.employees)
        and all(int(a[e]["contributed"]) == v for e, v in expected.items()),
        "no cash left unallocated": bool(a) and all(int(x["cash"]) == 0 for x in a.values()),
        "every instruction settled": count == d.instructions
        and all(int(i["status"]) == SETTLED for i in instructions),
        "plans as chosen, resets applied": bool(a)
        and all(b32(a[e]["planCode"]) == code32(p) for e, p in d.final.items()),
        "every reset confirmed by the trustee before it was executed": len(confirmed)
        == len(d.switched)
        and _confirmed_before_executed(view.suite, view.suite.block, confirmed),
        "holdings follow the plan": bool(a) and holdings_ok,
        "statements add up": len(statements) == len(d.employees)
        and all(
            s["total"] - s["contributed"] == s["total_return"] and s["contributed"] == expected[e]
            for e, s in statements.items()
        ),
    }
    return result


def _resets_confirmed(suite: Any, since: int) -> list:
    """ResetConfirmed events from block `since` on (the trustee's confirmation of each reset)."""
    ledger = suite["AnnuityLedger"]
    return list(ledger.events.get_sequence(since, event_type="ResetConfirmed") or [])


def _confirmed_before_executed(suite: Any, since: int, confirmed: list) -> bool:
    """Each ResetConfirmed of `confirmed` by a TRUSTEE member, for a Reset instruction, before the
    investment manager executed it (its one InstructionExecuted comes after). The executions are
    read once: read again for each reset, the large day's 1,000 resets over 21,000 executions held
    its end for half an hour."""
    from consortium.domain.roles import ROLES as ROLE_IDS

    ledger = suite["AnnuityLedger"]
    executed: dict[int, list[tuple[int, int]]] = {}
    for e in ledger.events.get_sequence(since, event_type="InstructionExecuted") or []:
        at = (int(e["blockNumber"]), int(e["logIndex"]))
        executed.setdefault(int(e["args"]["instructionId"]), []).append(at)

    def before(ev: Any) -> bool:
        iid = int(ev["args"]["instructionId"])
        runs = executed.get(iid, [])
        return (
            bool(suite.registry.hasRole(ev["args"]["trustee"], ROLE_IDS["TRUSTEE"]))
            and int(ledger.getInstruction(iid)["kind"]) == RESET
            and len(runs) == 1
            and runs[0] > (int(ev["blockNumber"]), int(ev["logIndex"]))
        )

    return all(before(ev) for ev in confirmed)


def _plans_of(view: Any) -> list:
    return list(view.cfg.products.get("annuity_plans") or [])


def _web3() -> Any:
    from consortium import chain

    return chain.web3()
