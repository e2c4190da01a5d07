"""One business day of supply-chain finance bills.

Core enterprises issue bills to tier-1 suppliers; each tier-1 splits its bill to two tier-2
suppliers; one of them sells its part to a factor. Each bill's parties are drawn among the clients
holding the right their step needs (BILL_ISSUER for the core, BILL_TRANSFEROR for the tier-1,
BILL_FINANCING_APPLICANT for the tier-2 that finances: `domain.bills.draw_parties`). Every step
is reviewed by the counterparty and audited. On a local chain the day then moves the clock to the
(short) maturity and the debtors pay the holders of record; on a live network the bills stay
outstanding and the redemption is skipped.

Sizes (ctx.size): `bills` (default 2), `bill_maturity_days` (default 7), `bill_redeem` (default 1:
time-travel to maturity and redeem on local chains; 0 leaves the clock alone for later lines).

Issues, transfer and financing requests, redemptions and the cash issuer's funding are keyed
batches: they go through each institution's outbox (in its store, `ctx.store`) in the same phases,
booked after each phase. The day pays on chain in the line's CNY deposit token (the bills are CNY);
off-chain payments (declared, then confirmed by the payee) are only for bills no cash token pays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consortium.domain import days
from consortium.domain.bills import BillStatus, QuoteWindow, draw_parties, proceeds
from consortium.outbox import close_phase
from consortium.roles.bills import (
    BillAuditor,
    BillClient,
    BillFactor,
)
from consortium.roles.deposits import CashIssuer, currency_code
from consortium.scenarios import DayContext, LineResult

LOCAL_CHAINS = ("development", "ganache-local")
QUOTE_WINDOW = 4 * 3600  # the publicised financing's quote window (seconds)


@dataclass
class _Bill:
    """One bill of the day: its parties, the amounts drawn for it, and the ids the chain gave it."""

    core: BillClient
    tier1: BillClient
    t2a: BillClient  # sells its part to the factor
    t2b: BillClient
    face: int
    part_a: int
    part_b: int
    rate: int  # the factor's annual discount rate, basis points
    issue: Any = None  # the issue request's outbox Submission
    bill_id: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # receiver address -> transfer node id
    fin: int = 0  # financing node id
    due: int = 0  # proceeds the factor pays


def _clock() -> Any:
    from consortium import chain

    return chain


def run_day(ctx: DayContext) -> LineResult:
    """Issue, split, finance and (on local chains) redeem; check balances, lineage and payments.

    The bills advance together, one phase per step (issue requests, reviews, audits, transfers …):
    a step's transactions for every bill go out without waiting, and the next step waits for them.
    """
    result = LineResult(line="bills")
    pipe = ctx.tx_pipe()
    bills = ctx.suite["BillToken"]
    clients, auditor, factor = _roles(ctx, pipe.bind(bills))
    if len(clients) < 4:
        raise LookupError(
            f"bills day needs 4 SUPPLY_CHAIN_CLIENT members (core, tier-1, two tier-2), "
            f"found {len(clients)}: add them to config/consortium.yaml"
        )
    draw_parties(ctx.rng, _rights(ctx, clients))  # the rights allow a bill (NoBillParties)
    cash = _cash_contract(ctx, bills)
    issuers = _cash_issuers(ctx, cash)
    on_chain_cash = cash is not None and bool(issuers)
    n_bills = ctx.size.get("bills", 2)
    maturity_days = ctx.size.get("bill_maturity_days", 7)
    outboxes = [c.outbox for c in clients]  # the clients' issues, requests and redemptions

    issuer = None
    if on_chain_cash:
        issuer = CashIssuer.of(issuers[0], pipe.bind(cash), store=ctx.store(issuers[0]))
        outboxes.append(issuer.outbox)  # the funding
        if not cash.isSettlementAgent(bills):  # governance appoints the bill contract (deploy does)
            ctx.manager.appoint_settlement_agent(pipe.bind(cash), bills)
        issuer.issue(factor.address, currency_code(cash), 10**13, "factor: cash for bill financing")

    day = _BillsDay(
        ctx, pipe, bills, clients, auditor, factor, cash, issuer, on_chain_cash, outboxes
    )
    day.rival = _rival(ctx, pipe.bind(bills))
    plans, maturity = _issue(day, n_bills, maturity_days)
    _split(day, plans)
    quotes, before = _finance(day, plans, result)
    holdings, faces, financed, proceeds_total = _holdings(
        day, plans, quotes, before, maturity, result
    )
    redeemed = _redeem(day, holdings, faces, maturity, result)
    result.record(*pipe.collected)

    result.counts = {
        "bills": len(faces),
        "transfers": 2 * len(faces),
        "financings": len(faces),
        "redemptions": len(faces) if redeemed else 0,
        "competing_quotes": int(day.rival is not None and _clock().network_name() in LOCAL_CHAINS),
    }
    result.metrics = {
        "face_total": sum(f for _, f in faces.values()),
        "financed": financed,
        "proceeds": proceeds_total,
        "redeemed": redeemed,
        "on_chain_cash": on_chain_cash,
        "redeemed_on_chain_clock": bool(redeemed),
    }
    return result


@dataclass
class _BillsDay:
    """Who and what one bills day works with (the steps below share it)."""

    ctx: DayContext
    pipe: Any
    bills: Any
    clients: list[BillClient]
    auditor: BillAuditor
    factor: BillFactor
    cash: Any
    issuer: CashIssuer | None
    on_chain_cash: bool
    outboxes: list
    rival: BillFactor | None = None  # a second factor: the day's first financing gets two quotes


def _issue(day: _BillsDay, n_bills: int, maturity_days: int) -> tuple[list[_Bill], int]:
    """Each bill drawn, requested by its core, reviewed by its tier-1 and audited."""
    ctx, pipe, clients, auditor, outboxes = (
        day.ctx,
        day.pipe,
        day.clients,
        day.auditor,
        day.outboxes,
    )
    now = int(_clock().web3().eth.get_block("latest").timestamp)
    maturity = now + days.days(maturity_days)
    plans = []  # one per bill: who takes part, and the amounts and rate drawn for it
    rights = _rights(ctx, clients)
    by_address = {c.address: c for c in clients}
    for _ in range(n_bills):
        core, tier1, t2a, t2b = (by_address[a] for a in draw_parties(ctx.rng, rights))
        face = ctx.rng.randrange(100_000_00, 5_000_000_00)
        po = f"po {ctx.rng.random()}"
        part_a = face * ctx.rng.randrange(20, 50) // 100
        part_b = face * ctx.rng.randrange(20, 50) // 100
        rate = ctx.rng.choice([400, 600, 800])
        plans.append(_Bill(core, tier1, t2a, t2b, face, part_a, part_b, rate))
        plans[-1].issue = core.submit_issue_request(tier1.address, face, maturity, po)
    close_phase(pipe, *outboxes)
    for b in plans:
        b.bill_id = int(b.issue.value["billId"])
        b.tier1.review(b.bill_id, True, "goods received")
    pipe.wait()
    for b in plans:
        auditor.audit(b.bill_id, True, "issue audit")
    pipe.wait()
    return plans, maturity


def _split(day: _BillsDay, plans: list[_Bill]) -> None:
    """Each tier-1 splits two parts to its tier-2s; they accept, the auditor audits."""
    pipe, auditor, outboxes = day.pipe, day.auditor, day.outboxes
    splits = [(b, r, part) for b in plans for r, part in ((b.t2a, b.part_a), (b.t2b, b.part_b))]
    subs = [
        b.tier1.submit_transfer_request(b.bill_id, r.address, part, "sub-contract")
        for b, r, part in splits
    ]
    close_phase(pipe, *outboxes)
    for (b, receiver, _), sub in zip(splits, subs):
        b.nodes[receiver.address] = int(sub.value["nodeId"])
        receiver.review(b.nodes[receiver.address], True, "accepted")
    pipe.wait()
    for b, receiver, _ in splits:
        auditor.audit(b.nodes[receiver.address], True, "transfer audit")
    pipe.wait()


def _finance(
    day: _BillsDay, plans: list[_Bill], result: LineResult
) -> tuple[list[Any], dict[str, int]]:
    """Each first tier-2 finances its part with the factor: quote, accept, audit, disburse. With a
    second factor on a local chain, the first financing is publicised with a quote window: the
    second factor quotes, the day's factor outbids it, the holder signs the best after the window
    (`_close_window`)."""
    pipe, auditor, factor, cash, on_chain_cash, outboxes = (
        day.pipe,
        day.auditor,
        day.factor,
        day.cash,
        day.on_chain_cash,
        day.outboxes,
    )
    local = _clock().network_name() in LOCAL_CHAINS  # the quote window needs the clock moved
    windowed = plans[0] if day.rival is not None and local else None
    subs = [
        (
            b.t2a.submit_financing_quotes_request(
                b.nodes[b.t2a.address], b.part_a, "financing request", QUOTE_WINDOW
            )
            if b is windowed
            else b.t2a.submit_financing_request(
                b.nodes[b.t2a.address], b.part_a, "financing request"
            )
        )
        for b in plans
    ]
    close_phase(pipe, *outboxes)
    quotes = []
    for b, sub in zip(plans, subs):
        b.fin = int(sub.value["nodeId"])
        if b is windowed and day.rival is not None:  # the second factor first, at a worse rate
            day.rival.quote(b.fin, b.rate + 200, f"factoring agreement {b.fin} (second factor)")
            pipe.wait()
        quotes.append(factor.quote(b.fin, b.rate, f"factoring agreement {b.fin}"))
    pipe.wait()
    if windowed is not None:
        _close_window(day, windowed, quotes[0], result)
    for b in plans:
        b.t2a.accept_financing(b.fin, f"factoring agreement {b.fin}", factor.address, b.rate)
    pipe.wait()
    for b in plans:
        auditor.audit(b.fin, True, "financing audit")
    pipe.wait()
    sellers = {b.t2a.address for b in plans}
    before = {a: int(cash.balanceOf(a)) for a in sellers} if on_chain_cash else {}
    disbursed = [factor.disburse(b.fin, None if on_chain_cash else f"wire {b.fin}") for b in plans]
    pipe.wait()
    if not on_chain_cash:  # declared off chain: each seller confirms the wire it received
        for b, tx in zip(plans, disbursed):
            for d in factor.declarations(tx):
                b.t2a.confirm_payment(d)
        pipe.wait()
    return quotes, before


def _close_window(day: _BillsDay, b: _Bill, best: Any, result: LineResult) -> None:
    """The clock past the quote window (local chains); checks the day's factor's quote stands (as
    the domain twin has it) and released the second factor's."""
    ends = int(day.bills.financing(b.fin)["deadline"])
    clock = _clock().brownie.chain
    clock.sleep(max(1, ends - int(_clock().web3().eth.get_block("latest").timestamp) + 1))
    clock.mine()
    rival = day.rival.address if day.rival is not None else ""
    twin = QuoteWindow(ends)
    twin.quote(rival, b.rate + 200, ends - 2)
    twin.quote(day.factor.address, b.rate, ends - 1)
    f = day.bills.financing(b.fin)
    name = "BillFinancingQuoteReleased"
    released = best.events[name] if best is not None and name in best.events else None
    result.checks["competing quotes: best signed, other released"] = (
        twin.accept(ends) == (str(f["factor"]), int(f["rateBps"]))
        and released is not None
        and (str(released["factor"]), int(released["rateBps"])) == twin.released[0]
    )


def _holdings(
    day: _BillsDay,
    plans: list[_Bill],
    quotes: list[Any],
    before: dict[str, int],
    maturity: int,
    result: LineResult,
) -> tuple[list, dict, int, int]:
    """Who holds what after the financings; checks balances, lineage and the proceeds paid."""
    bills, factor, cash, on_chain_cash = day.bills, day.factor, day.cash, day.on_chain_cash
    holdings: list[tuple[int, int, BillClient | BillFactor, int]] = (
        []
    )  # (bill, node, holder, amount)
    faces: dict[int, tuple[BillClient, int]] = {}
    expected = dict(before)
    for b, quote in zip(plans, quotes):
        faces[b.bill_id] = (b.core, b.face)
        holdings += [
            (b.bill_id, b.bill_id, b.tier1, b.face - b.part_a - b.part_b),
            (b.bill_id, b.nodes[b.t2b.address], b.t2b, b.part_b),
            (b.bill_id, b.fin, factor, b.part_a),
        ]
        b.due = proceeds(b.part_a, b.rate, maturity, int(quote.timestamp))
        expected[b.t2a.address] = expected.get(b.t2a.address, 0) + b.due
    paid_ok = not on_chain_cash or all(int(cash.balanceOf(a)) == v for a, v in expected.items())
    financed = sum(b.part_a for b in plans)
    proceeds_total = sum(b.due for b in plans)

    result.checks["balances exact"] = all(
        int(bills.balanceOf(h.address, node)) == amt for _, node, h, amt in holdings
    ) and all(_conserved(bills, b, face, holdings) for b, (_, face) in faces.items())
    result.checks["lineage complete"] = all(
        h.lineage(node)[-1] == bill for bill, node, h, _ in holdings
    )
    result.checks["financing paid"] = paid_ok

    return holdings, faces, financed, proceeds_total


def _redeem(day: _BillsDay, holdings: list, faces: dict, maturity: int, result: LineResult) -> int:
    """On local chains: the clock past maturity, each core pays its bill's face to the holders."""
    ctx, pipe, bills, clients, factor, cash, issuer, on_chain_cash, outboxes = (
        day.ctx,
        day.pipe,
        day.bills,
        day.clients,
        day.factor,
        day.cash,
        day.issuer,
        day.on_chain_cash,
        day.outboxes,
    )
    redeemed = 0
    local = _clock().network_name() in LOCAL_CHAINS
    if ctx.size.get("bill_redeem", 1) and local:
        clock = _clock().brownie.chain
        clock.sleep(maturity - int(_clock().web3().eth.get_block("latest").timestamp) + 1)
        clock.mine()
        payments = {
            bill_id: [
                (node, h.address, amt) for b, node, h, amt in holdings if b == bill_id and amt
            ]
            for bill_id in faces
        }
        if on_chain_cash:
            code = currency_code(cash)
            for bill_id, (core, face) in faces.items():
                issuer.issue(core.address, code, face, f"core cash {bill_id}")
            close_phase(pipe, issuer.outbox)
        # every cash move of the redemptions: each debtor pays its bill's face, each holder its
        # amount
        moves: dict[str, int] = {}
        for bill_id, (core, face) in faces.items():
            moves[core.address] = moves.get(core.address, 0) - face
            for _, a, amt in payments[bill_id]:
                moves[a] = moves.get(a, 0) + amt
        before = {a: int(cash.balanceOf(a)) for a in moves} if on_chain_cash else {}
        paid = [
            core.redeem(payments[bill_id], None if on_chain_cash else f"maturity wire {bill_id}")
            for bill_id, (core, _) in faces.items()
        ]
        close_phase(pipe, *outboxes)
        if not on_chain_cash:  # declared off chain: each holder confirms the wire it received
            by_address = {r.address: r for r in [*clients, factor]}
            for tx in paid:
                for d in factor.declarations(tx):
                    by_address[str(bills.payment(d)["payee"])].confirm_payment(d)
            pipe.wait()
        settled = not on_chain_cash or all(
            int(cash.balanceOf(a)) == before[a] + moves[a] for a in moves
        )
        for bill_id, (_, face) in faces.items():
            settled &= (
                int(bills.bill(bill_id)["status"]) == BillStatus.SETTLED
                and int(bills.outstanding(bill_id)) == 0
            )
            redeemed += face
        result.checks["maturity paid right holders"] = settled
    return redeemed


def _rights(ctx: DayContext, clients: list[BillClient]) -> dict[str, list[str]]:
    """Each client's roles by address: which of the three bill rights it holds."""
    names = {inst.address: name for name, inst in ctx.members.by_name.items()}
    return {c.address: ctx.members.roles[names[c.address]] for c in clients}


def _rival(ctx: DayContext, bills: Any) -> BillFactor | None:
    """A second factor (ASSET_MANAGER) of the consortium file, if it names one."""
    factors = ctx.members.with_role("ASSET_MANAGER")
    return BillFactor(factors[1], bills, store=ctx.store(factors[1])) if len(factors) > 1 else None


def _roles(ctx: DayContext, bills: Any) -> tuple[list[BillClient], BillAuditor, BillFactor]:
    """The line's institutions acting on `bills` (the contract, or it behind the day's pipe), each
    over its own store (its outbox survives the agent)."""
    clients = [
        BillClient(i, bills, store=ctx.store(i))
        for i in ctx.members.with_role("SUPPLY_CHAIN_CLIENT")
    ]
    auditor = ctx.members.one("AUDITOR")
    factor = ctx.members.one("ASSET_MANAGER")
    return (
        clients,
        BillAuditor(auditor, bills, store=ctx.store(auditor)),
        BillFactor(factor, bills, store=ctx.store(factor)),
    )


def agents(ctx: DayContext) -> list:
    """The line's role objects that send keyed batches (each with its outbox), over their stores."""
    out: list[Any] = _roles(ctx, ctx.suite["BillToken"])[0]
    cash = _cash_contract(ctx, ctx.suite["BillToken"])
    issuers = _cash_issuers(ctx, cash)
    if cash is not None and issuers:
        out.append(CashIssuer.of(issuers[0], cash, store=ctx.store(issuers[0])))
    return out


def _cash_issuers(ctx: DayContext, cash: Any) -> list[Any]:
    """The member that issues the bills' deposit token (DepositToken.issuer()), as a list: empty
    without a cash token or when the token's issuer is no CASH_ISSUER member here."""
    if cash is None:
        return []
    address = str(cash.issuer()).lower()
    return [i for i in ctx.members.with_role("CASH_ISSUER") if i.address.lower() == address]


def _cash_contract(ctx: DayContext, bills: Any) -> Any:
    """The deposit token the bill contract pays in, from the suite (None if it has none)."""
    address = bills.cash()
    if int(address, 16) == 0:
        return None
    for name, contract in getattr(ctx.suite, "contracts", {}).items():
        if name.startswith("DepositToken") and contract.address == address:
            return contract
    return None


def _conserved(bills: Any, bill_id: int, face: int, holdings: list) -> bool:
    """Σ holdings + locked + redeemed = face for one bill, from the chain."""
    held = sum(int(bills.balanceOf(h.address, node)) for b, node, h, _ in holdings if b == bill_id)
    nodes = {node for b, node, _, _ in holdings if b == bill_id}
    locked = sum(int(bills.locked(n)) for n in nodes)
    return held + locked + int(bills.bill(bill_id)["redeemed"]) == face


# the line in the multi-process day (consortium.dayrun): its business files, readiness and checks
from consortium.scenarios.bills_files import (  # noqa: F401
    CLOCK_PHASE,
    PHASES,
    ROLES,
    agent_settings,
    checks,
    done,
    govern,
    input_files,
    ready,
)
