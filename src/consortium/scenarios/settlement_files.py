"""The settlement line as business files, for the multi-process day (consortium.scenarios.files).

The day is the in-process day's (scenarios.settlement): seeded executions between two overseas
brokers (a local broker and a custodian on most sides, the exchange on every one) at the same
reference prices and charge rates, sized by `executions` and `owners`. Here it reaches the
agents (agent/lines/settlement.py) only as the files each institution's own systems would drop:

    funding  the CSD's custody deposits (what each seller delivers) and the cash issuer's deposits
             (what each buyer pays), as `issues`; every first party's `charges`
    trades   every first party's `trades` of the trade date (the rows it is named on)
    cycle    the CCP's `cycles` calendar: one cycle for the trade date

Everything after the calendar is the agents reacting to the chain: cycle opened -> uploads ->
uploads closed -> second clearing -> reconciliations at every level -> netting -> DvP. The CCP is
told in agent.yaml which first parties to wait for (those the seed names on a trade: a party
with no trade never uploads). `checks` recomputes the netting from the same rows and reads the
outcome from the chain (cycle, Reconciled events, balances) and the outboxes (the CCP's netting,
each participant's instructions and results). With the consortium file's holding chain the
intermediaries then step down it and each publishes its investors' positions sealed to their
regulators (agent/lines/holding.py; the regulators' public keys in agent.yaml `regulator_keys`):
the line ends once every one has, and `checks` opens each regulator's records with its key and
proves them against the holding chain, as its follower (`consortium watch`) would.

Not played here (no agent path yet): the CCP's and CSD's own charge configuration (no `charges`
format for them; the in-process day sets it), and a cash issuer per currency (the first
CASH_ISSUER of the consortium file issues every deposit token, as consortium.bootstrap deploys
them).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from consortium.domain.clearing import SIDES, Trade, clear
from consortium.domain.hashing import code32
from consortium.domain.holding import chain_from_config, plan
from consortium.domain.netting import CASH, SECURITY, NettingResult, currency_asset, net
from consortium.lookthrough import Position
from consortium.roles.lookthrough import (
    complete,
    positions_from_steps,
    publication,
    read_sealed,
    records_per_regulator,
)
from consortium.roles.settlement import (
    CURRENCIES,
    date_number,
    owner_ticket,
    security_number,
    trade_of,
)
from consortium.scenarios import LineResult
from consortium.scenarios.settlement_tables import CHARGES, SECURITIES, TRADE_DATE

ROLES = ("BROKER", "CUSTODIAN", "EXCHANGE", "CCP", "CSD", "CASH_ISSUER")
PHASES = ("funding", "trades", "cycle")
FIRST_ROLES = ("BROKER", "CUSTODIAN", "EXCHANGE")
TRADE_HEADER = [
    "trade_id",
    "security",
    "currency",
    "side",
    "quantity",
    "price",
    "trade_date",
    "owner_ref",
    "participant",
    "local_broker",
    "custodian",
    "exchange",
]
PARTY_COLUMNS = ("participant", "local_broker", "custodian", "exchange")
SETTLED = 3  # ISettlementEngine.CycleStatus.Settled


@dataclass(frozen=True)
class FileDay:
    """The seeded content of the settlement day's files; `checks` recomputes from it."""

    ccp: str
    csd: str
    cash_issuer: str
    participants: tuple[str, ...]  # the overseas brokers (clearing participants)
    locals: tuple[str, ...]
    custodians: tuple[str, ...]
    exchange: str | None
    securities: dict[str, tuple[str, int]]  # security id -> (currency, reference price)
    rows: tuple[dict[str, Any], ...]  # one per execution side, as the trades files carry them
    cycle: str
    trade_date: date
    fee_collector: str = ""  # where the participants' fees and taxes go (institution ids)
    tax_authority: str = ""

    def rows_of(self, ident: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if ident in (r[c] for c in PARTY_COLUMNS)]

    @property
    def first_parties(self) -> list[str]:
        """Every institution a trade names, in the order the rows first name them."""
        named = [r[c] for r in self.rows for c in PARTY_COLUMNS if r[c]]
        return list(dict.fromkeys(named))

    def funding(self) -> tuple[Counter, Counter]:
        """(seller, security) -> shares it delivers; (buyer, currency) -> cash it pays, and every
        participant's fees and taxes in the currency."""
        securities: Counter = Counter()
        cash: Counter = Counter()
        for r in self.rows:
            if r["side"] == "sell":
                securities[(r["participant"], r["security"])] += r["quantity"]
            else:
                cash[(r["participant"], r["currency"])] += r["quantity"] * r["price"]
        for key, (fees, taxes) in self.charges().items():
            cash[key] += fees + taxes
        return securities, cash

    def charges(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(participant, currency) -> (fees, taxes) it pays at settlement: its brokers' charges
        (the in-process day's table by currency) on every trade it clears."""
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for r in self.rows:
            table = CHARGES["broker_hk" if r["currency"] == "HKD" else "broker_cn"]
            line = clear(SIDES[r["side"]], r["quantity"], r["price"], table)
            fees, taxes = out.get((r["participant"], r["currency"]), (0, 0))
            out[(r["participant"], r["currency"])] = (fees + line.fees, taxes + line.taxes)
        return out


def _reference_prices(cfg: Any, seed: int) -> dict[str, tuple[str, int]]:
    """The consortium file's securities settled in a deposit token the suite deploys, each at the
    in-process day's reference price (its "HK.0700" is the file's "0700.HK"), else a seeded one."""
    known = {f"{c.split('.', 1)[1]}.{c.split('.', 1)[0]}": p for c, _, p in SECURITIES.values()}
    out = {}
    for sec in cfg.securities:
        code, ccy = str(sec["id"]), str(sec.get("currency", ""))
        if ccy in CURRENCIES and ccy in cfg.currencies:
            price = known.get(code) or random.Random(f"{seed}:price:{code}").randint(1_000, 99_000)
            out[code] = (ccy, price)
    return out


def _brokers(cfg: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(participants, local brokers) as the in-process day casts them: the brokers outside CN
    clear, the CN ones are local (every broker clears when fewer than two are outside CN)."""
    brokers = cfg.with_role("BROKER")
    overseas = [b for b in brokers if b.jurisdiction != "CN"]
    if len(overseas) < 2:
        overseas = brokers
    return tuple(b.id for b in overseas), tuple(b.id for b in brokers if b not in overseas)


def _first(cfg: Any, role: str) -> str:
    found = cfg.with_role(role)
    if not found:
        raise ValueError(
            f"the settlement day needs an institution holding {role} in the consortium file; add "
            "one or leave the settlement line out"
        )
    return found[0].id


def file_day(cfg: Any, sizes: dict, seed: int) -> FileDay:
    """The day's seeded content: the in-process generator's draws (scenarios.settlement.
    generate_trades) over the consortium file's institutions and securities."""
    rng = random.Random(f"{seed}:settlement-files")
    securities = _reference_prices(cfg, seed)
    participants, locals_ = _brokers(cfg)
    if len(participants) < 2 or not securities:
        raise ValueError(
            "the settlement day needs two brokers and a security in CNY or HKD in the consortium "
            "file; add them or leave the settlement line out"
        )
    custodians = tuple(i.id for i in cfg.with_role("CUSTODIAN"))
    exchanges = cfg.with_role("EXCHANGE")
    exchange = exchanges[0].id if exchanges else None
    day = date(TRADE_DATE // 10_000, TRADE_DATE // 100 % 100, TRADE_DATE % 100)
    owners = [f"client-{k:04d}" for k in range(max(1, int(sizes.get("owners", 6))))]
    rows = []
    for k in range(int(sizes.get("executions", 20))):
        code = rng.choice(sorted(securities))
        ccy, ref = securities[code]
        price = max(1, ref + rng.randint(-ref // 50, ref // 50))
        qty = 100 * rng.randint(1, 50)
        buyer, seller = rng.sample(participants, 2)
        for side, party in (("buy", buyer), ("sell", seller)):
            local = rng.choice(locals_) if locals_ and rng.random() < 0.7 else ""
            cust = rng.choice(custodians) if custodians and rng.random() < 0.7 else ""
            rows.append(
                {
                    "trade_id": f"T-{TRADE_DATE}-{k + 1:04d}-{side[0].upper()}",
                    "security": code,
                    "currency": ccy,
                    "side": side,
                    "quantity": qty,
                    "price": price,
                    "trade_date": day,
                    "owner_ref": rng.choice(owners),
                    "participant": party,
                    "local_broker": local,
                    "custodian": cust,
                    "exchange": exchange or "",
                }
            )
    return FileDay(
        _first(cfg, "CCP"),
        _first(cfg, "CSD"),
        _first(cfg, "CASH_ISSUER"),  # the issuer of every deposit token (token_issuers)
        participants,
        locals_,
        custodians,
        exchange,
        securities,
        tuple(rows),
        f"SETTLE-{TRADE_DATE}-{rng.getrandbits(32):08x}",
        day,
        _first(cfg, "CASH_ISSUER"),
        _tax_authority(cfg),
    )


def _tax_authority(cfg: Any) -> str:
    """The first regulator of the CCP's jurisdiction (the market's tax authority on chain)."""
    where = cfg.by_id(_first(cfg, "CCP")).jurisdiction
    found = [r.id for r in cfg.with_role("REGULATOR") if r.jurisdiction == where]
    return found[0] if found else _first(cfg, "CASH_ISSUER")


def agent_settings(cfg: Any, sizes: dict, seed: int) -> dict[str, dict]:
    """agent.yaml's `settlement:` section: the first parties whose uploads close the cycle (those
    the day's trades name), for every institution of the line."""
    d = file_day(cfg, sizes, seed)
    section = {
        "first_parties": d.first_parties,
        "fee_collector": d.fee_collector,
        "tax_authority": d.tax_authority,
        "regulator_keys": regulator_keys(cfg, seed),
    }
    idents = [i.id for i in cfg.institutions if set(ROLES) & set(i.roles)]
    return {ident: {"settlement": section} for ident in idents}


def regulator_keys(cfg: Any, seed: int) -> dict[str, str]:
    """Each regulator's public encryption key (its member key's, as for channels), as the
    operations office hands them to the intermediaries: the look-through records are sealed to
    them. The demo's keys are bootstrap's; a real regulator publishes its own."""
    from consortium.bootstrap import institution_key
    from consortium.envelope import public_key_of

    return {
        r.id: "0x" + public_key_of(institution_key(seed, r.id)).hex()
        for r in cfg.with_role("REGULATOR")
    }


def _charges_rows(cfg: Any, ident: str, d: FileDay) -> list[list[Any]]:
    """A first party's whole configuration, per security, at the in-process day's rates."""
    roles = set(cfg.by_id(ident).roles)
    kind = next(r for r in FIRST_ROLES if r in roles).lower()
    rows = []
    for code, (ccy, _) in sorted(d.securities.items()):
        table = kind if kind != "broker" else ("broker_hk" if ccy == "HKD" else "broker_cn")
        for c in CHARGES[table]:
            rows.append([code, c.kind.name.lower(), c.payer.name.lower(), c.bps, c.minimum])
    return rows


def input_files(cfg: Any, sizes: dict, seed: int) -> dict[str, list]:
    """The CSD's and the cash issuer's funding, each first party's charges and trades, the CCP's
    cycle calendar."""
    from consortium.scenarios.files import InputFile, csv_bytes

    d = file_day(cfg, sizes, seed)
    securities, cash = d.funding()
    header = ["ref", "holder", "asset", "amount"]
    out: dict[str, list] = {}

    def add(ident: str, f: InputFile) -> None:
        out.setdefault(ident, []).append(f)

    rows = [[f"CUST-{d.cycle}-{w}-{s}", w, s, n] for (w, s), n in sorted(securities.items())]
    add(d.csd, InputFile(f"issues-custody-{d.cycle}.csv", csv_bytes(header, rows), "funding"))
    rows = [[f"PAY-{d.cycle}-{w}-{c}", w, c, n] for (w, c), n in sorted(cash.items())]
    add(d.cash_issuer, InputFile(f"issues-cash-{d.cycle}.csv", csv_bytes(header, rows), "funding"))
    charge_header = ["security", "kind", "payer", "bps", "minimum"]
    for ident in d.first_parties:
        add(
            ident,
            InputFile(
                "charges.csv", csv_bytes(charge_header, _charges_rows(cfg, ident, d)), "funding"
            ),
        )
        trades = [[r[c] for c in TRADE_HEADER] for r in d.rows_of(ident)]
        add(
            ident,
            InputFile(f"trades-{d.trade_date}.csv", csv_bytes(TRADE_HEADER, trades), "trades"),
        )
    calendar = csv_bytes(["cycle_id", "trade_date"], [[d.cycle, d.trade_date.isoformat()]])
    add(d.ccp, InputFile(f"cycles-{d.trade_date}.csv", calendar, "cycle"))
    return out


# ---------------------------------------------------------------------------- following the day


@dataclass(frozen=True)
class _Expected:
    """What the chain should show, recomputed from the files."""

    day: FileDay
    files: dict[str, list]
    addresses: dict[str, str]  # institution id -> member address
    brokers: frozenset[str]
    trades: tuple[Trade, ...]
    netting: NettingResult
    # each intermediary's investors' positions the holding chain settles (address -> positions):
    # what it publishes sealed; {} without a holding chain wiring every leg's participant
    positions: dict[str, list[Position]]

    def sealed_to(self, regulators: dict[str, str]) -> Counter:
        """(regulator address, intermediary, commitment, asset, amount) of every position sealed
        (`regulators`: jurisdiction -> its regulator's address, the first per jurisdiction)."""
        return Counter(
            (regulators[p.jurisdiction].lower(), who.lower(), p.commitment, p.asset, p.amount)
            for who, ps in self.positions.items()
            for p in ps
            if p.jurisdiction in regulators
        )


def _positions(cfg: Any, d: FileDay, addresses: dict, trades: tuple, netting: Any) -> dict:
    """The look-through positions the intermediaries publish: the investor leaves of the holding
    chain's steps (domain.holding.plan over the consortium file's holding chain), each owner's
    ticket as every party derives it (roles.settlement.owner_ticket)."""
    chain = chain_from_config(cfg.holding_chain, addresses)
    legs = netting.legs
    if not legs or any(chain.tier(g.participant) != 1 for g in legs):
        return {}  # not wired: the CSD opens no tiers (roles.holding.wired)
    day = date_number(d.trade_date)
    tickets = {}
    for r in d.rows:
        ticket = owner_ticket(r["owner_ref"], day)
        tickets[ticket.commitment] = ticket
    where = {addresses[i.id].lower(): i.jurisdiction for i in cfg.institutions}
    return positions_from_steps(plan(legs, trades, chain), tickets, where)


def _expected(view: Any) -> _Expected:
    def make() -> _Expected:
        from eth_account import Account

        from consortium.bootstrap import institution_key

        sizes = view.sizes_of("settlement")
        d = file_day(view.cfg, sizes, view.seed)
        addresses = {
            i.id: Account.from_key(institution_key(view.seed, i.id)).address
            for i in view.cfg.institutions
        }
        trades = tuple(trade_of(r, addresses) for r in d.rows)
        brokers = frozenset(i.id for i in view.cfg.with_role("BROKER"))
        files = input_files(view.cfg, sizes, view.seed)
        netting = net(trades)
        positions = _positions(view.cfg, d, addresses, trades, netting)
        return _Expected(d, files, addresses, brokers, trades, netting, positions)

    return view.memo("settlement", make)


def expected_counts(cfg: Any, sizes: dict, seed: int) -> dict[str, int]:
    """The counts `checks` should read from the chain for this (cfg, sizes, seed)."""
    from consortium.scenarios.files import DayView

    e = _expected(DayView(None, {}, cfg, {"settlement": sizes}, seed))
    return {
        "trades": len(e.trades),
        "legs": len(e.netting.legs),
        "reconciliations": expected_reconciliations(e),
        "totals_mismatches": 0,  # the agents' second clearing is every party's first
        "lookthrough_positions": sum(len(ps) for ps in e.positions.values()),
    }


def _results_in(view: Any, e: _Expected, phase: str) -> bool:
    """Every file of `phase` has its result (done or rejected: a rejection fails the day's
    "every input file processed" instead of stalling it)."""
    return all(
        view.result(ident, f.name) is not None
        for ident, fs in e.files.items()
        for f in fs
        if f.phase == phase
    )


def ready(phase: str, view: Any) -> bool:
    """funding once the CSD listed the securities (a charge names a listed security); trades once
    the charges and the funding are in; the cycle once every party holds its trades."""
    e = _expected(view)
    if phase == "funding":
        token = view.suite["SecurityToken"]
        return all(token.isListed(security_number(s)) for s in e.day.securities)
    if phase == "trades":
        return _results_in(view, e, "funding")
    if phase == "cycle":
        return _results_in(view, e, "trades")
    raise ValueError(f"unknown settlement phase {phase!r}")


def _report(view: Any, ident: str, cycle: str) -> dict:
    import json

    path = view.outbox(ident) / "settlement" / f"{cycle}.json"
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError:  # written by rename, but be safe
        return {}


def _cycle(view: Any, e: _Expected) -> Any:
    return view.suite["SettlementEngine"].getCycle(code32(e.day.cycle))


def _holders_of_legs(e: _Expected) -> list[str]:
    ident_of = {a.lower(): i for i, a in e.addresses.items()}
    return list(dict.fromkeys(ident_of[g.participant.lower()] for g in e.netting.legs))


def done(view: Any) -> bool:
    """The cycle settled and every participant's results in its outbox; or the CCP gave up
    netting (nothing left after deferrals): the line has ended either way, `checks` says how."""
    e = _expected(view)
    netting = _report(view, e.day.ccp, e.day.cycle).get("netting")
    if netting is not None and not netting.get("instructed"):
        return True
    if int(_cycle(view, e)["status"]) != SETTLED:
        return False
    if not all("settled" in _report(view, i, e.day.cycle) for i in _holders_of_legs(e)):
        return False
    return _all_published(view, e)


def _all_published(view: Any, e: _Expected) -> bool:
    """Every intermediary with investors' positions published them (nothing due without)."""
    if not e.positions or "SealedRecords" not in view.suite.contracts:
        return True
    sealed, cycle = view.suite["SealedRecords"], code32(e.day.cycle)
    return all(complete(publication(sealed, who, cycle)) for who in e.positions)


def lookthrough(view: Any, e: _Expected) -> tuple[int, bool]:
    """The positions published for the cycle (PositionsPublished leaf counts), and whether each
    regulator, with its own key, opens exactly the records of its jurisdiction's positions, each
    proved against the published root and the holding chain (roles.lookthrough.read_sealed: what
    its follower and `consortium watch --regulator` do)."""
    from consortium import chain
    from consortium.bootstrap import institution_key

    if "SealedRecords" not in view.suite.contracts:
        return 0, not e.positions
    w3, since = chain.web3(), int(view.suite.block)
    sealed, cycle = view.suite["SealedRecords"], code32(e.day.cycle)
    events = w3.eth.contract(address=sealed.address, abi=sealed.abi).events
    published = events.PositionsPublished.get_logs(
        from_block=since, argument_filters={"cycleId": cycle}
    )
    leaves = sum(int(log["args"]["leafCount"]) for log in published)
    regulators: dict[str, str] = {}
    for r in view.cfg.with_role("REGULATOR"):
        regulators.setdefault(r.jurisdiction, e.addresses[r.id])
    opened: Counter = Counter()
    ok = True
    holding = view.suite.contracts.get("HoldingChain")
    for r in view.cfg.with_role("REGULATOR"):
        address, key = e.addresses[r.id], institution_key(view.seed, r.id)
        records = [
            o for o in read_sealed(sealed, address, key, w3, since, holding) if o.cycle_id == cycle
        ]
        ok &= all(o.proven and o.held for o in records)
        for o in records:
            rec = o.record
            opened[
                (address.lower(), o.intermediary.lower(), rec.commitment, rec.asset, rec.amount)
            ] += 1
    return leaves, ok and opened == e.sealed_to(regulators)


def _events(view: Any, e: _Expected, name: str) -> list:
    """The engine's `name` events of the day's cycle, in chain order."""
    engine = view.suite["SettlementEngine"]
    found = engine.events.get_sequence(int(view.suite.block), event_type=name)
    return [ev for ev in found if bytes(ev.args["cycleId"]) == code32(e.day.cycle)]


def expected_reconciliations(e: _Expected) -> int:
    """What the first parties reconcile, as the agents do: each with the CCP and the CSD, with
    each counterparty along its trades' chains and (brokers) with each investor."""
    count = 0
    for ident in e.day.first_parties:
        me = e.addresses[ident]
        mine = [t for t in e.trades if t.involves(me)]
        count += 2 + len({a for t in mine for a in t.chain_parties()} - {me})
        if ident in e.brokers:
            count += len({t.owner_commitment for t in mine})
    return count


def _balances(view: Any, e: _Expected, holders: list[str]) -> dict[tuple, int]:
    """{(address, kind, asset): amount} on chain, as the in-process day's `balances`."""
    token = view.suite["SecurityToken"]
    out = {}
    currencies = sorted({ccy for ccy, _ in e.day.securities.values()})
    for h in holders:
        a = e.addresses[h]
        for code in e.day.securities:
            out[(a, SECURITY, security_number(code))] = int(
                token.balanceOf(a, security_number(code))
            )
        for ccy in currencies:
            out[(a, CASH, currency_asset(code32(ccy)))] = int(
                view.suite[f"DepositToken:{ccy}"].balanceOf(a)
            )
    return out


def _funded(e: _Expected, keys: list[tuple]) -> dict[tuple, int]:
    """What the funding files credited each holder: its balance before the cycle settled."""
    securities, cash = e.day.funding()
    out = dict.fromkeys(keys, 0)
    for (who, code), n in securities.items():
        out[(e.addresses[who], SECURITY, security_number(code))] += n
    for (who, ccy), n in cash.items():
        out[(e.addresses[who], CASH, currency_asset(code32(ccy)))] += n
    return out


def _legs_key(legs: list) -> Counter:
    return Counter((str(g[0]).lower(), int(g[1]), str(g[2]), int(g[3])) for g in legs)


def _outboxes_ok(view: Any, e: _Expected) -> bool:
    """Each participant's outbox lists its instructions as the netting computes, and its result."""
    for ident in _holders_of_legs(e):
        me = e.addresses[ident]
        report = _report(view, ident, e.day.cycle)
        want = Counter(
            ("cash" if g.kind == CASH else "security", str(g.asset), g.amount)
            for g in e.netting.legs
            if g.participant.lower() == me.lower()
        )
        got = Counter(
            (x["kind"], x["asset"], x["amount"]) for x in report.get("instructions", {}).values()
        )
        if got != want or "settled" not in report:
            return False
    return True


def _gas_of(view: Any, events: list) -> int:
    from consortium import chain

    if not events:
        return 0
    receipt = chain.web3().eth.get_transaction_receipt(events[-1]["transactionHash"])
    return int(receipt["gasUsed"])


def checks(view: Any) -> LineResult:
    """The cycle recomputed from the files; the outcome read from the chain and the outboxes."""
    e = _expected(view)
    cycle = _cycle(view, e)
    recon = [ev.args for ev in _events(view, e, "Reconciled")]
    breaks = dict(Counter(int(r["level"]) for r in recon if not r["matched"]))
    # reconciliation by amounts against the CCP and CSD: a currency whose totals differ
    mismatches = _events(view, e, "ClearingTotalsMismatch")
    netting = _report(view, e.day.ccp, e.day.cycle).get("netting") or {}
    efficiency = netting.get("efficiency") or {"count": 0.0, "value": 0.0}
    holders = [i for i in e.day.participants if i in e.day.first_parties] + [e.day.ccp]
    holders += [i for i in (e.day.fee_collector, e.day.tax_authority) if i not in holders]
    after = _balances(view, e, holders)
    expected = _funded(e, list(after))
    for leg in e.netting.legs:
        expected[(leg.participant, leg.kind, leg.asset)] += leg.amount
    for (who, ccy), (fees, taxes) in e.day.charges().items():  # paid at settlement
        asset = currency_asset(code32(ccy))
        expected[(e.addresses[who], CASH, asset)] -= fees + taxes
        expected[(e.addresses[e.day.fee_collector], CASH, asset)] += fees
        expected[(e.addresses[e.day.tax_authority], CASH, asset)] += taxes
    ccp = e.addresses[e.day.ccp]
    computed = [(g.participant, g.kind, str(g.asset), g.amount) for g in e.netting.legs]
    reported = [
        (x["participant"], x["kind"], x["asset"], x["amount"]) for x in netting.get("legs", [])
    ]
    positions, looked_through = lookthrough(view, e)
    result = LineResult("settlement")
    result.counts = {
        "trades": int(cycle["tradeCount"]),
        "legs": int(cycle["legCount"]),
        "reconciliations": len(recon),
        "totals_mismatches": len(mismatches),
        "lookthrough_positions": positions,
    }
    result.metrics = {
        "netting_efficiency_count": round(float(efficiency["count"]), 4),
        "netting_efficiency_value": round(float(efficiency["value"]), 4),
        "breaks_per_level": breaks,
        "settle_gas": _gas_of(view, _events(view, e, "CycleSettled")),
        "lookthrough_records": _records(view, e),
    }
    result.checks = {
        "every reconciliation matched": bool(recon)
        and not breaks
        and not mismatches
        and len(recon) == expected_reconciliations(e),
        "netting as the files compute": bool(computed)
        and _legs_key(reported) == _legs_key(computed)
        and int(cycle["legCount"]) == len(computed),
        "balances exact": after == expected,
        "ccp flat": all(v == 0 for k, v in after.items() if k[0] == ccp),
        "cycle settled": int(cycle["status"]) == SETTLED
        and int(cycle["tradeCount"]) == len(e.trades),
        "instructions and results in the participants' outboxes": _outboxes_ok(view, e),
        "positions sealed to their regulators, opened and proved": looked_through,
    }
    return result


def _records(view: Any, e: _Expected) -> dict[str, int]:
    """Each regulator's look-through records of the cycle (first clearing, sealed positions),
    by institution id, as the in-process day's summary counts them."""
    from consortium import chain

    return records_per_regulator(
        chain.web3(),
        view.suite["SettlementEngine"],
        view.suite.contracts.get("SealedRecords"),
        view.suite["ConsortiumRegistry"],
        code32(e.day.cycle),
        int(view.suite.block),
        {a.lower(): i for i, a in e.addresses.items()},
    )
