"""One business day of cross-border securities settlement, driven by the institutions' role objects.

The day: the CSD lists securities and appoints the engine, the cash issuer appoints it too
(governance listed the currencies at deployment); first parties configure charges and upload the
trades they appear on; the CCP and CSD distribute second clearing data; the CCP closes uploads;
every first party reconciles at each level on its own (a break at one level never holds the others
up); each clearing participant, reconciled with the CCP, uploads its own settlement instruction
(what it delivers, receives and pays in fees and taxes); the CCP novates and nets, accepted only
when its legs are every participant's instruction; the CSD settles DvP and the charges go to the
fee collector and the tax authority; balances are checked exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from consortium.domain import days
from consortium.domain.amounts import AmountReconciliation, reconcile_amounts
from consortium.domain.clearing import (
    BUY,
    SELL,
    Charge,
    Trade,
    first_clearing,
    peer_key,
    set_bucket,
    trade_id,
)
from consortium.domain.hashing import code32, code_text
from consortium.domain.instructions import InstructionLine, apply_charges, charges_paid
from consortium.domain.netting import CASH, SECURITY, NettingResult, apply_legs, currency_asset
from consortium.outbox import close_phase
from consortium.roles.deposits import CashIssuer
from consortium.roles.settlement import (
    Broker,
    CentralCounterparty,
    CentralDepository,
    ConfidentialTicket,
    Custodian,
    Exchange,
    FirstParty,
)
from consortium.scenarios import DayContext, LineResult
from consortium.scenarios.settlement_files import (  # noqa: F401  the day as files (dayrun)
    PHASES,
    ROLES,
    agent_settings,
    checks,
    done,
    input_files,
    ready,
)
from consortium.scenarios.settlement_tables import CHARGES, SECURITIES, TRADE_DATE
from consortium.store import Store


def charges_for(kind: str) -> dict[int, list[Charge]]:
    """A party's configuration for every product; brokers take the stamp duty of the market."""
    if kind == "broker":
        return {
            s: CHARGES["broker_hk" if c == "HKD" else "broker_cn"]
            for s, (_, c, _) in SECURITIES.items()
        }
    return {s: CHARGES[kind] for s in SECURITIES}


@dataclass
class SettlementCast:
    """The institutions of one settlement cycle, as role objects."""

    ccp: CentralCounterparty
    csd: CentralDepository
    cash: CashIssuer
    participants: list[Broker]
    locals: list[Broker] = field(default_factory=list)
    custodians: list[Custodian] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    # where the participants' fees and taxes go (members: deposits move between members only);
    # default the settlement bank (collecting for the market) and, by build_cast, a regulator
    fee_collector: str = ""
    tax_authority: str = ""

    def __post_init__(self) -> None:
        self.fee_collector = self.fee_collector or self.cash.address
        self.tax_authority = self.tax_authority or self.cash.address

    def first_parties(self) -> list[FirstParty]:
        return [*self.participants, *self.locals, *self.custodians, *self.exchanges]


def build_cast(
    suite: Any,
    ccp,
    csd,
    cash_issuer,
    participants,
    locals_=(),
    custodians=(),
    exchanges=(),
    encrypt=None,
    store_of: Callable[[Any], Store] | None = None,
    tax_authority: str = "",
) -> SettlementCast:
    """Role objects from admitted Institutions and the deployed suite; `store_of(institution)` gives
    each its store (default: one in memory each). The participants' taxes go to `tax_authority`
    (a member's address; default the cash issuer), their fees to the cash issuer."""
    engine = suite["SettlementEngine"]
    tokens = {c: suite[f"DepositToken:{c}"] for c in ("CNY", "HKD")}

    def kw(inst):
        return {"store": store_of(inst)} if store_of else {}

    # the second parties look for a cycle's logs from the suite's deployment block when known
    since = {"from_block": int(getattr(suite, "block", 0) or 0)}
    first = lambda cls, inst, kind: cls(inst, engine, encrypt, charges_for(kind), **kw(inst))
    return SettlementCast(
        ccp=CentralCounterparty(ccp, engine, encrypt, **kw(ccp), **since),
        csd=CentralDepository(csd, engine, encrypt, suite["SecurityToken"], **kw(csd), **since),
        cash=CashIssuer(cash_issuer, tokens, **kw(cash_issuer)),
        participants=[first(Broker, i, "broker") for i in participants],
        locals=[first(Broker, i, "broker") for i in locals_],
        custodians=[first(Custodian, i, "custodian") for i in custodians],
        exchanges=[first(Exchange, i, "exchange") for i in exchanges],
        tax_authority=tax_authority,
    )


def set_up(
    cast: SettlementCast, securities: dict[int, tuple[str, str, int]] = SECURITIES
) -> list[Any]:
    """One-time wiring by the CSD, and every first party's configuration (the
    engine was made the tokens' settlement agent and the currencies listed by the permission
    manager at deployment)."""
    txs: list[Any] = []
    token = cast.csd.security_token
    for sid, (code, _, _) in securities.items():
        if not token.isListed(sid):
            txs.append(cast.csd.list_security(sid, code))
    for party in cast.first_parties():
        for sid in securities:
            txs.append(party.configure(sid, party.charges[sid]))
    for party in cast.participants:
        txs.append(party.name_charge_accounts(cast.fee_collector, cast.tax_authority))
    return txs


def generate_trades(
    rng: random.Random,
    executions: int,
    cast: SettlementCast,
    trade_date: int = TRADE_DATE,
    owners: int = 6,
    securities: dict[int, tuple[str, str, int]] = SECURITIES,
) -> tuple[list[Trade], dict[bytes, ConfidentialTicket]]:
    """Seeded executions, each as a buy and a sell trade between two distinct participants."""
    if len(cast.participants) < 2:
        raise ValueError("need at least two clearing participants (overseas brokers) to trade")
    tickets = [
        ConfidentialTicket(
            f"investor-{k}", f"client-{k:04d}", rng.getrandbits(256).to_bytes(32, "big")
        )
        for k in range(owners)
    ]
    exchange = cast.exchanges[0].address if cast.exchanges else None
    trades: list[Trade] = []
    for k in range(executions):
        sid = rng.choice(sorted(securities))
        _, ccy, ref = securities[sid]
        price = max(1, ref + rng.randint(-ref // 50, ref // 50))
        qty = 100 * rng.randint(1, 50)
        buyer, seller = rng.sample(cast.participants, 2)
        for n, side, part in ((2 * k + 1, BUY, buyer), (2 * k + 2, SELL, seller)):
            local = rng.choice(cast.locals).address if cast.locals and rng.random() < 0.7 else None
            cust = (
                rng.choice(cast.custodians).address
                if cast.custodians and rng.random() < 0.7
                else None
            )
            trades.append(
                Trade(
                    trade_id(n),
                    sid,
                    code32(ccy),
                    side,
                    qty,
                    price,
                    trade_date,
                    rng.choice(tickets).commitment,
                    local,
                    part.address,
                    cust,
                    exchange,
                )
            )
    return trades, {t.commitment: t for t in tickets}


def fund(
    cast: SettlementCast, trades: Sequence[Trade], buffer: int = 0, ref: str = "cash received"
) -> list[Any]:
    """Give each participant exactly the securities it sells and the cash it pays, fees and taxes
    included (plus `buffer`).

    Each issue's reference (the cash issue's payment reference, the securities issue's custody
    reference) is `ref` with the trade set, the holder and the asset: funding the same trades twice
    needs another `ref` (a resent funding is booked once). Through a pipe the issues are keyed
    batches in flight: the phase ends with
    `close_phase(pipe, cast.cash.outbox, cast.csd.outbox)`."""
    trade_set = "0x" + set_bucket(trades).hash.hex()
    need: dict[tuple[str, int, Any], int] = {}
    for t in trades:
        key = (
            (t.participant, SECURITY, t.security_id)
            if t.side == SELL
            else (t.participant, CASH, t.currency)
        )
        need[key] = need.get(key, 0) + (t.quantity if t.side == SELL else t.gross)
    for p in cast.participants:  # and the fees and taxes it pays at settlement
        for ccy, tot in first_clearing(p.address, trades, p.charges).totals.items():
            if tot.fees + tot.taxes:
                key = (p.address, CASH, ccy)
                need[key] = need.get(key, 0) + tot.fees + tot.taxes
    txs = []
    for (who, kind, asset), amount in sorted(need.items(), key=str):
        if kind == SECURITY:
            txs.append(
                cast.csd.issue(
                    who, asset, amount + buffer, f"{ref}: trades {trade_set} {who} security {asset}"
                )
            )
        else:
            code = code_text(asset)
            txs.append(
                cast.cash.issue(
                    who, code, amount + buffer, f"{ref}: trades {trade_set} {who} {code}"
                )
            )
    return txs


def after_settlement(
    cast: SettlementCast, before: dict[tuple, int], legs: Sequence[Any], instructions: dict
) -> dict[tuple, int]:
    """The balances a settlement should leave: the legs through the CCP, then the charges."""
    moved = apply_legs(before, legs, cast.ccp.address)
    return apply_charges(moved, instructions, cast.fee_collector, cast.tax_authority)


def balances(
    cast: SettlementCast, holders: Sequence[str], securities=SECURITIES
) -> dict[tuple, int]:
    """On-chain holdings as {(holder, kind, asset): amount}."""
    out = {}
    for h in holders:
        for sid in securities:
            out[(h, SECURITY, sid)] = int(cast.csd.security_token.balanceOf(h, sid))
        for code, token in cast.cash.tokens.items():
            out[(h, CASH, currency_asset(code32(code)))] = int(token.balanceOf(h))
    return out


@dataclass
class CycleOutcome:
    netting: NettingResult
    reconciliations: list[dict[str, Any]] = field(default_factory=list)  # the Reconciled events
    txs: list[Any] = field(default_factory=list)
    # every participant's standing instruction when the CCP netted (read from the chain)
    instructions: dict[str, list[InstructionLine]] = field(default_factory=dict)
    # each broken reconciliation redone by amounts off chain: the trade ids and fields that differ
    amount_breaks: list[AmountReconciliation] = field(default_factory=list)
    # the ClearingTotalsMismatch events of the reconciliations: on chain, per currency
    totals_mismatches: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The day's settlement in figures: trades, legs, instructions matched, charges paid."""
        return {
            "trades": self.netting.trade_set.count,
            "legs": self.netting.net_count,
            "instructions_matched": len(self.instructions),
            "charges_paid": charges_paid(self.instructions),
            "totals_mismatches": [
                {
                    "level": int(m["level"]),
                    "party": str(m["party"]),
                    "counterparty": str(m["counterparty"]),
                    "currency": code_text(bytes(m["currency"]), "replace"),
                    "fields": mismatched_fields(m["ours"], m["theirs"]),
                }
                for m in self.totals_mismatches
            ],
            "amount_breaks": [
                {
                    "level": b.level,
                    "trade_ids": ["0x" + i.hex() for i in b.trade_ids()],
                    "fields": sorted({x.field for x in b.trade_breaks}),
                    "totals": sorted(
                        {(x.currency.rstrip(b"\0").decode(), x.field) for x in b.totals_breaks}
                    ),
                }
                for b in self.amount_breaks
            ],
        }

    def breaks(self) -> dict[int, int]:
        """Breaks per level (0 second party, 1 intermediary, 2 investor)."""
        out: dict[int, int] = {}
        for r in self.reconciliations:
            if not r["matched"]:
                out[int(r["level"])] = out.get(int(r["level"]), 0) + 1
        return out


def tamper(trade: Trade) -> Trade:
    """The same trade with the price off by one minor unit (a break to inject)."""
    return Trade(*trade.as_tuple()[:5], trade.price + 1, *trade.as_tuple()[6:])


def run_cycle(
    cast: SettlementCast,
    cycle_id: bytes,
    trades: Sequence[Trade],
    trade_date: int = TRADE_DATE,
    corrupt: dict[str, bytes] | None = None,
    settle: bool = True,
    pipe: Any = None,
) -> CycleOutcome:
    """Upload, distribute, reconcile at every level, instruct (each participant), net and settle
    one cycle.

    `corrupt` maps a first party's address to a trade id it uploads with a wrong price (injected
    break). `trades` are the first parties' business (each uploads those it appears on); the CCP and
    CSD never see the list: they read the uploads from the chain.
    With a `pipe` (consortium.txpipe.TxPipe) each step is one phase of transactions sent without
    waiting: open; uploads; second clearing data; every reconciliation; the participants'
    instructions; netting; settlement.
    """
    corrupt = corrupt or {}
    if pipe is not None:
        cast = pipe.piped(cast)
    phase = pipe.wait if pipe is not None else (lambda: None)
    txs: list[Any] = [cast.ccp.open_cycle(cycle_id, trade_date)]
    phase()
    for party in cast.first_parties():
        bad = corrupt.get(party.address)
        own = [tamper(t) if t.trade_id == bad else t for t in trades]
        txs += party.upload(cycle_id, own)
    # keyed batches: booked from their receipts once the phase is in; the second parties read the
    # uploads from the chain, so they compute once these are mined
    close_phase(pipe, *(p.outbox for p in cast.first_parties()))
    first = [p.address for p in cast.first_parties()]  # the members, from the registry's roles
    for second in (cast.ccp, cast.csd):
        txs += second.distribute(cycle_id, second.compute(cycle_id, first))
    close_phase(pipe, cast.ccp.outbox, cast.csd.outbox)
    txs.append(cast.ccp.close_uploads(cycle_id))  # the trade set is fixed before netting
    recon: list[Any] = []
    for party in cast.first_parties():
        mine = party.mine(trades)
        peers = {a for t in mine for a in t.chain_parties()} - {party.address}
        for peer in [cast.ccp.address, cast.csd.address] + sorted(peers):
            recon.append(party.reconcile(cycle_id, peer))
        if isinstance(party, Broker):
            for owner in sorted({t.owner_commitment for t in mine}):
                statement = [t for t in mine if t.owner_commitment == owner]
                recon.append(party.reconcile_investor(cycle_id, owner, statement))
    txs += recon
    phase()  # each participant instructs once reconciled with the CCP
    txs += instruct(cast, cycle_id, trades, corrupt)
    phase()  # netting closes the cycle to reconciliation and instructions
    result = cast.ccp.net(cycle_id)  # from the chain: the executions of record
    instructions = cast.ccp.instructions(cycle_id)
    txs.append(cast.ccp.instruct(cycle_id, result))
    phase()
    if settle:
        txs.append(cast.csd.settle(cycle_id))  # the legs the CCP instructed, read from the chain
        phase()
    events = [dict(tx.events["Reconciled"]) for tx in recon]
    breaks = by_amounts(cast, trades, corrupt, events)
    mismatches = [
        dict(m)
        for tx in recon
        if "ClearingTotalsMismatch" in tx.events
        for m in tx.events["ClearingTotalsMismatch"]
    ]
    return CycleOutcome(result, events, txs, instructions, breaks, mismatches)


def mismatched_fields(ours: Any, theirs: Any) -> list[str]:
    """The totals' fields (ClearingTotals, as an event decodes it) that differ."""
    names = ("trades", "gross", "fees", "taxes", "buyNet", "sellNet")
    return [n for n, a, b in zip(names, ours, theirs, strict=True) if int(a) != int(b)]


def by_amounts(
    cast: SettlementCast,
    trades: Sequence[Trade],
    corrupt: dict[str, bytes],
    reconciliations: Sequence[dict[str, Any]],
) -> list[AmountReconciliation]:
    """Each broken reconciliation between first parties (intermediary) or with an investor, redone
    by amounts from both sides' books (each party's uploads; the investor's statement the true
    trades): which trade ids and fields differ, which totals per currency."""
    parties = {p.address: p for p in cast.first_parties()}

    def book(who: str) -> list[Trade]:
        bad = corrupt.get(who)
        return [tamper(t) if t.trade_id == bad else t for t in trades if t.involves(who)]

    out = []
    for r in reconciliations:
        if r["matched"] or int(r["level"]) == 0:
            continue
        party, peer = parties[r["party"]], bytes.fromhex(str(r["peer"])[2:])
        if int(r["level"]) == 1:
            other = to_checksum_address(peer[-20:])
            ours = [t for t in book(party.address) if t.involves(other)]
            theirs = [t for t in book(other) if t.involves(party.address)]
        else:
            ours = [t for t in book(party.address) if t.owner_commitment == peer]
            theirs = [t for t in party.mine(trades) if t.owner_commitment == peer]
        out.append(reconcile_amounts(int(r["level"]), ours, theirs, party.charges))
    return out


def instruct(
    cast: SettlementCast,
    cycle_id: bytes,
    trades: Sequence[Trade],
    corrupt: dict[str, bytes] | None = None,
) -> list[Any]:
    """Every clearing participant that is active and reconciled (matched) with the CCP uploads its
    settlement instruction from its own book (`corrupt`: as in run_cycle), less the chain's
    deferrals: the step before netting, and again after a deferral voided instructions. One whose
    trades net to zero still instructs the charges it owes (the netting asks it, leg or no leg);
    one owing nothing and netting to zero has nothing to send."""
    corrupt = corrupt or {}
    ccp = peer_key(cast.ccp.address)
    txs = []
    for party in cast.participants:
        engine = party.engine
        if not party.institution.registry.isActive(party.address):
            continue  # a suspended participant sends nothing (its trades are deferred)
        if int(engine.reconStatus(cycle_id, party.address, ccp)) != 1:
            continue  # a participant whose reconciliation broke cannot instruct
        bad = corrupt.get(party.address)
        book = [tamper(t) if t.trade_id == bad else t for t in trades]
        tx = party.submit_instruction(cycle_id, book)
        txs += [tx] if tx is not None else []
    return txs


def _cast_from_context(ctx: DayContext) -> SettlementCast:
    brokers = ctx.members.with_role("BROKER")
    overseas = [b for b in brokers if b.jurisdiction != "CN"] or brokers
    if len(overseas) < 2:
        overseas = brokers
    local = [b for b in brokers if b not in overseas]
    return build_cast(
        ctx.suite,
        ctx.members.one("CCP"),
        ctx.members.issuing("CSD", ctx.suite["SecurityToken"].csd()),
        ctx.members.issuing("CASH_ISSUER", ctx.suite["DepositToken:CNY"].issuer()),
        overseas,
        local,
        ctx.members.with_role("CUSTODIAN"),
        ctx.members.with_role("EXCHANGE")[:1],
        store_of=ctx.store,
        tax_authority=_tax_authority(ctx),
    )


def _tax_authority(ctx: DayContext) -> str:
    """The market's tax authority on chain: the CCP's jurisdiction's regulator (a member)."""
    where = ctx.members.one("CCP").jurisdiction
    regulators = [r for r in ctx.members.with_role("REGULATOR") if r.jurisdiction == where]
    return regulators[0].address if regulators else ""


def lookthrough_records(ctx: DayContext, cast: SettlementCast, cycle_id: bytes) -> dict[str, int]:
    """What each regulator's look-through holds of the cycle, read from the chain
    (roles.lookthrough.records_per_regulator; a regulator named by its member name)."""
    from consortium import chain
    from consortium.roles.lookthrough import records_per_regulator

    return records_per_regulator(
        chain.web3(),
        cast.ccp.engine,
        getattr(ctx.suite, "contracts", {}).get("SealedRecords"),
        cast.ccp.institution.registry,
        cycle_id,
        int(getattr(ctx.suite, "block", 0) or 0),
        {i.address.lower(): n for n, i in ctx.members.by_name.items()},
    )


def paid_by_currency(paid: dict[str, int]) -> dict[str, int]:
    """`charges_paid`'s `fees:<asset>` keys as `fees CNY` (the currency's code), for people."""
    out = {}
    for key, amount in paid.items():
        what, asset = key.split(":")
        out[f"{what} {code_text(int(asset).to_bytes(32, 'big'))}"] = amount
    return out


def agents(ctx: DayContext) -> list:
    """The line's role objects that send keyed batches (each with its outbox), over their stores."""
    cast = _cast_from_context(ctx)
    return [*cast.first_parties(), cast.ccp, cast.csd, cast.cash]


def business_date(suite: Any = None) -> int:
    """The business day of the chain's latest block as YYYYMMDD (a settlement cycle run on
    2 December is SETTLE-20261202-…, its trades dated 2026-12-02), counted as the reports count
    days: at the suite's ReportAnchor offset (the consortium's business time zone; UTC for a suite
    without one). In UTC, a day run after 16:00 UTC was dated the day before its Shanghai report."""
    from consortium import chain

    timestamp = int(chain.web3().eth.get_block("latest")["timestamp"])
    anchor = getattr(suite, "contracts", {}).get("ReportAnchor")
    offset = int(anchor.businessUtcOffset()) if anchor is not None else 0
    return days.date_number(days.day_of(timestamp + offset))


def run_day(ctx: DayContext) -> LineResult:
    """The settlement line's day: sizes `executions` (default 20) and `owners` (default 6)."""
    result = LineResult("settlement")
    pipe = ctx.tx_pipe()
    cast = pipe.piped(_cast_from_context(ctx))
    set_up(cast)  # one phase: listings, currencies, every party's charges and the funding
    trade_date = business_date(ctx.suite)  # the day this day runs for: trades and cycle dated by it
    trades, tickets = generate_trades(
        ctx.rng,
        ctx.size.get("executions", 20),
        cast,
        trade_date=trade_date,
        owners=ctx.size.get("owners", 6),
    )
    holders = [p.address for p in cast.participants] + [cast.ccp.address]
    holders += [cast.fee_collector, cast.tax_authority]
    cycle_id = code32(f"SETTLE-{trade_date}-{ctx.rng.getrandbits(32):08x}")
    fund(cast, trades, ref=f"cash received for cycle {cycle_id.hex()}")
    close_phase(pipe, cast.cash.outbox, cast.csd.outbox)  # the set-up phase, with the keyed issues
    before = balances(cast, holders)
    outcome = run_cycle(cast, cycle_id, trades, trade_date=trade_date, pipe=pipe)
    result.record(*pipe.collected)
    from consortium.scenarios import settlement_holding  # down the holding chain, in sequence

    holding = settlement_holding.run_holding(
        cast, ctx.suite, cycle_id, outcome.netting.legs, trades
    )
    settlement_holding.report(result, holding)
    after = balances(cast, holders)
    expected = dict(before)
    for leg in outcome.netting.legs:
        expected[(leg.participant, leg.kind, leg.asset)] += leg.amount
    expected = apply_charges(expected, outcome.instructions, cast.fee_collector, cast.tax_authority)
    eff = outcome.netting.efficiency()
    summary = outcome.summary()
    result.counts.update(
        trades=len(trades),
        legs=outcome.netting.net_count,
        reconciliations=len(outcome.reconciliations),
        instructions_matched=summary["instructions_matched"],
        totals_mismatches=len(summary["totals_mismatches"]),
    )
    result.metrics.update(
        netting_efficiency_count=round(eff["count"], 4),
        netting_efficiency_value=round(eff["value"], 4),
        breaks_per_level=outcome.breaks(),
        settle_gas=int(outcome.txs[-1].gas_used),
        charges_paid=paid_by_currency(summary["charges_paid"]),
    )
    cycle = cast.ccp.engine.getCycle(cycle_id)
    result.checks.update(
        {
            "every reconciliation matched": not outcome.breaks(),
            "every leg participant instructed": {g.participant for g in outcome.netting.legs}
            <= set(outcome.instructions),
            "charges paid as cleared": all(
                x.fees + x.taxes
                == sum(
                    tot.fees + tot.taxes
                    for c, tot in first_clearing(p.address, trades, p.charges).totals.items()
                    if currency_asset(c) == x.asset
                )
                for p in cast.participants
                for x in outcome.instructions.get(p.address, [])
                if x.kind == CASH
            ),
            "balances exact": after == expected,
            "ccp flat": all(after[k] == before[k] for k in after if k[0] == cast.ccp.address),
            "cycle settled": int(cycle[0]) == 3,
        }
    )
    if int(cycle[0]) == 3 and "SealedRecords" in getattr(ctx.suite, "contracts", {}):
        publish_lookthrough(ctx, cycle_id, holding, tickets, result)
    result.metrics["lookthrough_records"] = lookthrough_records(ctx, cast, cycle_id)
    return result


def publish_lookthrough(
    ctx: DayContext, cycle_id: bytes, holding: Any, tickets: dict, result: LineResult
) -> None:
    """After settlement down the holding chain, each intermediary publishes its investors'
    positions as the chain settled them (its steps' investor leaves, `holding` the
    settlement_holding outcome) sealed to their regulators (roles.lookthrough.publish_positions):
    each record proves against the intermediary's investor root on HoldingChain. Without a wired
    holding chain no investor was settled: nothing is published."""
    from consortium.roles.lookthrough import (
        Intermediary,
        positions_from_steps,
        publish_positions,
        regulator_keys,
    )

    if holding is None:
        result.counts.update(lookthrough_positions=0)
        return
    members = {i.address.lower(): i for i in ctx.members.by_name.values()}
    where = {a: i.jurisdiction for a, i in members.items()}
    regulators = regulator_keys(ctx.members.with_role("REGULATOR"))
    published = 0
    for who, positions in sorted(positions_from_steps(holding.steps, tickets, where).items()):
        broker = Intermediary(members[who.lower()], ctx.suite["SealedRecords"])
        result.record(*publish_positions(broker, cycle_id, positions, regulators))
        published += len(positions)
    result.counts.update(lookthrough_positions=published)
