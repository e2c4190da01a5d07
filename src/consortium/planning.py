"""The consortium at a market's volume, planned from the measured gas (`consortium plan`).

Nothing here can run a multi-node Besu network, so the step past one machine is computed: a volumes
file says how much business a market has (config/volumes.yaml), bench/results.json says what each
operation costs in gas as the contracts are today, and the plan multiplies them out per line —
transactions and gas per business day, the peak hour, the block gas and block time a QBFT network
needs with headroom, the chain and the stores after a year, and which limit each line meets first.
The numbers follow the code: re-run `make bench` after a gas change and the plan moves with it.

Figures the benchmark does not measure are named where they are estimated (`Operation.source`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from consortium.inputs import InputFileError
from consortium.yamlfile import LineDict, load_yaml

DEFAULT_VOLUMES = Path("config/volumes.yaml")
DEFAULT_RESULTS = Path("bench/results.json")
SECONDS_PER_HOUR = 3_600
SECONDS_PER_YEAR = 365 * 86_400
MEASURED_SETTLEMENT_PARTICIPANTS = 20  # the benchmark's settlement cycles: 20 participants


class VolumesFileError(InputFileError):
    """The volumes file is missing or malformed (file:line and what to write instead)."""


class VolumesKeyMissing(VolumesFileError):
    """A required key is not in its section."""


class VolumesKeyUnknown(VolumesFileError):
    """A key the plan does not read (a typo would otherwise be silently ignored)."""


class VolumesValueInvalid(VolumesFileError):
    """A value is not a number in its allowed range."""


class ResultsFileError(InputFileError):
    """bench/results.json is missing or not the benchmark's JSON object."""


class ResultsFigureMissing(ResultsFileError):
    """A gas or throughput figure the plan needs is not in the results file."""


# section -> key -> (kind, lowest, highest); kind "int" or "float"; the bounds are inclusive
_SCHEMA: dict[str, dict[str, tuple[str, float, float]]] = {
    "market": {
        "annuity_accounts": ("int", 0, 1e12),
        "wealth_orders_per_day": ("int", 0, 1e12),
        "cross_border_trades_per_day": ("int", 0, 1e12),
        "bills_per_month": ("int", 0, 1e12),
        "institutions": ("int", 2, 1e6),
        "regulators": ("int", 1, 1e6),
    },
    "calendar": {
        "business_days_per_month": ("int", 1, 31),
        "business_days_per_year": ("int", 1, 366),
    },
    "network": {
        "peak_hour_share": ("float", 1 / 24, 1),
        "headroom": ("float", 1, 100),
        "block_period_seconds": ("float", 0.1, 3_600),
        "block_gas_limit": ("int", 21_000, 1e15),
        "tx_gas_cap": ("int", 21_000, 1e12),
        "tx_cap_margin": ("float", 0.01, 1),
        "reporting_window_hours": ("float", 0.01, 24),
    },
    "lines.annuity": {
        "instructions_per_contribution": ("float", 0, 100),
        "busiest_agent_share": ("float", 0.001, 1),
    },
    "lines.confirmations": {"busiest_agent_share": ("float", 0.001, 1)},
    "lines.settlement": {
        "cycles_per_day": ("int", 1, 1_000),
        "busiest_agent_share": ("float", 0.001, 1),
    },
    "lines.bills": {
        "splits_per_bill": ("float", 0, 100),
        "financed_share": ("float", 0, 1),
        "busiest_agent_share": ("float", 0.001, 1),
    },
    "lines.reporting": {"reports_per_regulator_per_day": ("int", 0, 1_000)},
    "batches": {
        k: ("int", 1, 1e6)
        for k in (
            "annuity_receive",
            "annuity_post",
            "annuity_allocate",
            "annuity_instructions",
            "confirmations_packet",
            "settlement_upload",
            "bills_redeem",
        )
    },
    "bytes": {
        k: ("int", 0, 1e9)
        for k in ("tx_envelope", "receipt", "event", "block_header", "store_record", "index_event")
    },
}


@dataclass(frozen=True)
class Volumes:
    """The checked volumes file: {section: {key: number}}, sections as in `_SCHEMA`."""

    values: Mapping[str, Mapping[str, float]]
    source: str = ""

    def __getitem__(self, section: str) -> Mapping[str, float]:
        return self.values[section]


def _section(doc: Any, dotted: str, where: str) -> tuple[LineDict, int]:
    """The mapping at `dotted` and the line its key is written on."""
    node, line = doc, getattr(doc, "line", 1)
    for part in dotted.split("."):
        if not isinstance(node, dict):
            raise VolumesValueInvalid(f"{where}:{line}: `{dotted}` must be a mapping of keys")
        if part not in node:
            raise VolumesKeyMissing(f"{where}:{line}: section `{dotted}` is missing")
        line = node.line_of(part)
        node = node[part]
    if not isinstance(node, dict):
        raise VolumesValueInvalid(f"{where}:{line}: `{dotted}` must be a mapping of keys")
    return node, line


def _number(raw: Any, spec: tuple[str, float, float], at: str) -> float:
    kind, low, high = spec
    ok = isinstance(raw, (int, float)) and not isinstance(raw, bool)
    if ok and kind == "int" and not (isinstance(raw, int) or float(raw).is_integer()):
        ok = False
    if not ok or not low <= raw <= high:
        what = "a whole number" if kind == "int" else "a number"
        raise VolumesValueInvalid(f"{at}: must be {what} from {low:g} to {high:g}, got {raw!r}")
    return int(raw) if kind == "int" else float(raw)


def _unknown_keys(doc: LineDict, where: str) -> None:
    sections = {s.split(".")[0] for s in _SCHEMA}
    for key in doc:
        if key not in sections:
            raise VolumesKeyUnknown(
                f"{where}:{doc.line_of(key)}: unknown section `{key}` "
                f"(known: {', '.join(sorted(sections))})"
            )
    lines = doc.get("lines")
    if isinstance(lines, dict):
        known = {s.split(".")[1] for s in _SCHEMA if s.startswith("lines.")}
        for key in lines:
            if key not in known:
                raise VolumesKeyUnknown(
                    f"{where}:{lines.line_of(key)}: unknown line `{key}` "
                    f"(known: {', '.join(sorted(known))})"
                )


def parse_volumes(raw: bytes | str, where: str) -> Volumes:
    """The volumes document `raw` (the contents of `where`), every key checked: a missing, unknown
    or out-of-range key is a VolumesFileError naming `where` and its line."""
    doc = load_yaml(raw, where, VolumesFileError)
    if not isinstance(doc, dict):
        raise VolumesValueInvalid(f"{where}:1: must be a mapping of sections (market, network …)")
    _unknown_keys(doc, where)
    values: dict[str, dict[str, float]] = {}
    for dotted, keys in _SCHEMA.items():
        node, line = _section(doc, dotted, where)
        for key in node:
            if key not in keys:
                raise VolumesKeyUnknown(
                    f"{where}:{node.line_of(key)}: unknown key `{key}` in `{dotted}` "
                    f"(known: {', '.join(keys)})"
                )
        out = values.setdefault(dotted.removeprefix("lines."), {})
        for key, spec in keys.items():
            if key not in node:
                raise VolumesKeyMissing(f"{where}:{line}: `{dotted}` needs `{key}`")
            out[key] = _number(node[key], spec, f"{where}:{node.line_of(key)}: `{dotted}.{key}`")
    return Volumes(values, where)


def load_volumes(path: str | Path = DEFAULT_VOLUMES) -> Volumes:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise VolumesFileError(f"{path}: cannot read the volumes file ({exc.strerror})") from None
    return parse_volumes(raw, str(path))


def load_results(path: str | Path = DEFAULT_RESULTS) -> dict[str, Any]:
    """The benchmark's figures (`make bench` writes them)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read the bench results ({exc.strerror})") from None
    except ValueError as exc:
        raise ResultsFileError(f"{path}: not JSON ({exc}); re-run `make bench`") from None
    if not isinstance(data, dict):
        raise ResultsFileError(f"{path}: must be a JSON object of named figures")
    return data


@dataclass(frozen=True)
class Operation:
    """One kind of transaction of a line at the market's volume.

    A transaction carries `batch` items and costs `fixed_gas + batch * gas_per_item`;
    `txs_per_batch` counts the transactions one batch needs (a bill's issue: request, review,
    audit)."""

    line: str
    name: str
    items_per_day: float
    gas_per_item: float
    batch: int = 1
    source: str = ""
    fixed_gas: float = 0.0
    txs_per_batch: int = 1
    tx_gas: float | None = None  # the largest transaction when not batch * gas_per_item
    contract_max: int | None = None
    events_per_item: float = 0.0
    events_per_tx: float = 1.0
    calldata_per_item: int = 0
    calldata_per_tx: int = 100

    @property
    def txs_per_day(self) -> int:
        return math.ceil(self.items_per_day / self.batch) * self.txs_per_batch

    @property
    def gas_per_day(self) -> float:
        batches = math.ceil(self.items_per_day / self.batch)
        return self.items_per_day * self.gas_per_item + batches * self.fixed_gas

    @property
    def gas_per_tx(self) -> float:
        if self.tx_gas is not None:
            return self.tx_gas
        return self.fixed_gas + self.batch * self.gas_per_item

    @property
    def events_per_day(self) -> float:
        return self.items_per_day * self.events_per_item + self.txs_per_day * self.events_per_tx

    @property
    def calldata_per_day(self) -> float:
        return self.items_per_day * self.calldata_per_item + self.txs_per_day * self.calldata_per_tx


class _Figures:
    """The results file's figures by name; a missing one is a ResultsFigureMissing."""

    def __init__(self, results: Mapping[str, Any], where: str):
        self.results, self.where, self.used = results, where, set()

    def __call__(self, key: str) -> float:
        value = self.results.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ResultsFigureMissing(
                f"{self.where}: the plan needs the figure `{key}` (a number); run `make bench`"
            )
        self.used.add(key)
        return float(value)


def _annuity(v: Volumes, g: _Figures) -> list[Operation]:
    b, line = v["batches"], "annuity"
    per_day = v["market"]["annuity_accounts"] / v["calendar"]["business_days_per_month"]
    instructions = per_day * v["annuity"]["instructions_per_contribution"]
    rx, post = "annuity.contribution.batch_100.receive", "annuity.contribution.batch_100.post_later"
    alloc = "annuity.choosePlan.no_reset.8_items"
    return [
        Operation(
            line,
            "receiveContributions",
            per_day,
            g(rx) / 100,
            int(b["annuity_receive"]),
            f"{rx} / 100",
            contract_max=256,
            calldata_per_item=64,
        ),
        Operation(
            line,
            "postContributions",
            per_day,
            g(post) / 100,
            int(b["annuity_post"]),
            f"{post} / 100",
            contract_max=256,
            events_per_item=1,
            calldata_per_item=64,
        ),
        Operation(
            line,
            "allocateCash",
            instructions,
            g(alloc),
            int(b["annuity_allocate"]),
            f"{alloc} (estimate: an 8-item instruction issued)",
            contract_max=50,
            events_per_item=1,
            calldata_per_item=32,
        ),
        _instruction_step(line, "executeInstructions", "execute", instructions, b, g, 1, 1_024),
        _instruction_step(line, "reportFeedbacks", "report", instructions, b, g, 1, 736),
        # each forwarded instruction: its 8 items' UnitPriceUpdated and its InstructionSettled
        _instruction_step(line, "forwardFeedbacks", "forward", instructions, b, g, 9, 704),
    ]


_INSTRUCTION_FIGURES = {
    "execute": "annuity.executeInstructions.20x8_buys",
    "report": "annuity.reportFeedbacks.20x8_items",
    "forward": "annuity.forwardFeedbacks.20x8_items",
}
_MEASURED_BATCH = 20  # instructions a call in those figures


def _instruction_step(
    line: str,
    name: str,
    step: str,
    instructions: float,
    b: dict,
    g: _Figures,
    events: int,
    calldata: int,
) -> Operation:
    """One of an instruction's three steps, sent in batched calls of `annuity_instructions`
    (the roles group 160 legs a call: 20 instructions of an 8-item plan), at the measured gas
    of a 20-instruction call per instruction; `calldata` bytes an instruction (its 8 items, legs
    or prices and their offsets)."""
    key = _INSTRUCTION_FIGURES[step]
    return Operation(
        line,
        name,
        instructions,
        g(key) / _MEASURED_BATCH,
        int(b["annuity_instructions"]),
        f"{key} / {_MEASURED_BATCH}",
        contract_max=50,
        events_per_item=events,
        events_per_tx=0,
        calldata_per_item=calldata,
    )


def _confirmations(v: Volumes, g: _Figures) -> list[Operation]:
    one, many = "anchor_gas_per_record_1", "anchor_gas_per_record_1000"
    per_record = (g(many) * 1_000 - g(one)) / 999  # a root costs per packet, not per record
    return [
        Operation(
            "confirmations",
            "anchorPacket",
            v["market"]["wealth_orders_per_day"],
            per_record,
            int(v["batches"]["confirmations_packet"]),
            f"{one}, {many}",
            fixed_gas=g(one) - per_record,
            contract_max=1_000,  # roles.confirmations.MAX_PACKET: short proofs, not gas
            calldata_per_tx=164,
        )
    ]


def _settlement(v: Volumes, g: _Figures) -> list[Operation]:
    from consortium.roles.settlement import MAX_UPLOAD_BATCH

    n, p = 10_000, MEASURED_SETTLEMENT_PARTICIPANTS
    cycles = v["settlement"]["cycles_per_day"]
    scale = v["market"]["institutions"] / p  # netting, settlement and reconciliation per member
    sides = 2 * v["market"]["cross_border_trades_per_day"]
    up, legs = (
        f"upload_gas_per_trade_side_{n}_trades",
        f"settlement_legs_{n}_trades_{p}_participants",
    )
    cycle = {"line": "settlement", "items_per_day": cycles, "calldata_per_tx": 200}
    net, settle = (
        f"netting_gas_{n}_trades_{p}_participants",
        f"settlement_gas_{n}_trades_{p}_participants",
    )
    recon = f"reconcile_gas_{n}_trades_{p}_participants"
    return [
        Operation(
            "settlement",
            "uploadTrades",
            sides,
            g(up),
            int(v["batches"]["settlement_upload"]),
            f"{up} (two sides a trade)",
            contract_max=MAX_UPLOAD_BATCH,
            calldata_per_item=384,
        ),
        Operation(
            name="netCycle",
            gas_per_item=g(net) * scale,
            source=f"{net} x members/{p}",
            events_per_tx=1 + g(legs) * scale,
            **cycle,
        ),
        Operation(
            name="settleCycle",
            gas_per_item=g(settle) * scale,
            source=f"{settle} x members/{p}",
            **cycle,
        ),
        Operation(
            name="reconcile",
            gas_per_item=g(recon) / p,
            items_per_day=cycles * v["market"]["institutions"],
            line="settlement",
            source=f"{recon} / {p} per member",
        ),
    ]


def _bills(v: Volumes, g: _Figures) -> list[Operation]:
    bills = v["market"]["bills_per_month"] / v["calendar"]["business_days_per_month"]
    first, two = g("bill_redeem_gas"), g("bill_redeem_batch2_gas")
    marginal = two - first  # one more bill in a redemption batch
    step = {"line": "bills", "calldata_per_tx": 230}
    return [
        Operation(
            name="issue (request, review, audit)",
            items_per_day=bills,
            gas_per_item=g("bill_issue_total_gas"),
            txs_per_batch=3,
            events_per_tx=1,
            tx_gas=g("bill_issue_request_gas"),
            source="bill_issue_total_gas",
            **step,
        ),
        Operation(
            name="split (request, review, audit)",
            items_per_day=bills * v["bills"]["splits_per_bill"],
            gas_per_item=g("bill_split_total_gas"),
            txs_per_batch=3,
            tx_gas=g("bill_split_request_gas"),
            source="bill_split_total_gas",
            **step,
        ),
        Operation(
            name="financing (5 steps)",
            items_per_day=bills * v["bills"]["financed_share"],
            gas_per_item=g("bill_financing_total_gas"),
            txs_per_batch=5,
            tx_gas=g("bill_financing_request_gas"),
            source="bill_financing_total_gas",
            **step,
        ),
        Operation(
            name="redeem",
            items_per_day=bills,
            gas_per_item=marginal,
            fixed_gas=first - marginal,
            batch=int(v["batches"]["bills_redeem"]),
            contract_max=50,
            events_per_item=1,
            calldata_per_item=96,
            source="bill_redeem_gas + (bill_redeem_batch2_gas - bill_redeem_gas) a bill",
            line="bills",
        ),
    ]


def _reporting(v: Volumes, g: _Figures) -> list[Operation]:
    key = "reporting.anchor.next_version"
    anchors = v["market"]["regulators"] * v["reporting"]["reports_per_regulator_per_day"]
    return [Operation("reporting", "ReportAnchor.anchor", anchors, g(key), 1, key)]


LINES: dict[str, Callable[[Volumes, _Figures], list[Operation]]] = {
    "annuity": _annuity,
    "confirmations": _confirmations,
    "settlement": _settlement,
    "bills": _bills,
    "reporting": _reporting,
}
# the business unit each line counts, and what one unit is for the agents (their operations)
UNITS = {
    "annuity": "contributions",
    "confirmations": "orders",
    "settlement": "trades",
    "bills": "bills",
    "reporting": "reports",
}

LIMITS = ("EIP-7825 tx cap", "block gas", "event indexing", "agent CPU")


@dataclass(frozen=True)
class LinePlan:
    """One line's day at the market's volume and the share of each limit it uses (1.0 = full)."""

    line: str
    unit: str
    units_per_day: float
    operations: list[Operation]
    txs_per_day: int
    gas_per_day: float
    peak_hour_txs: float
    peak_gas_per_second: float
    events_per_day: float
    chain_bytes_per_year: float
    store_bytes_per_year: float
    index_bytes_per_year: float
    limits: dict[str, float]

    @property
    def first_limit(self) -> str:
        return max(self.limits, key=lambda k: self.limits[k])


@dataclass(frozen=True)
class BatchAdvice:
    line: str
    operation: str
    batch: int
    gas_per_tx: float
    largest_under_cap: int
    contract_max: int | None
    advice: str


@dataclass(frozen=True)
class NetworkPlan:
    txs_per_day: int
    gas_per_day: float
    peak_hour_txs: float
    peak_gas_per_second: float
    block_gas_needed: float  # at the configured block period, with headroom
    block_gas_limit: float
    longest_block_period: float  # at the configured block gas, with headroom (seconds)
    txs_per_block_at_peak: float
    chain_bytes_per_year: float
    headers_bytes_per_year: float
    index_bytes_per_year: float  # one regulator's index


@dataclass(frozen=True)
class Plan:
    lines: list[LinePlan]
    batches: list[BatchAdvice]
    network: NetworkPlan
    results_figures: list[str]
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for line, plan in zip(out["lines"], self.lines):
            line["first_limit"] = plan.first_limit
            for op, obj in zip(line["operations"], plan.operations):
                op.update(txs_per_day=obj.txs_per_day, gas_per_day=obj.gas_per_day)
                op["gas_per_tx"] = obj.gas_per_tx
        return out


def _line_plan(line: str, ops: list[Operation], v: Volumes, g: _Figures) -> LinePlan:
    net, size, cal = v["network"], v["bytes"], v["calendar"]
    days, peak = cal["business_days_per_year"], net["peak_hour_share"]
    txs = sum(o.txs_per_day for o in ops)
    gas = sum(o.gas_per_day for o in ops)
    events = sum(o.events_per_day for o in ops)
    items = sum(o.items_per_day for o in ops)
    peak_gas = gas * peak / SECONDS_PER_HOUR
    per_tx = size["tx_envelope"] + size["receipt"]
    chain = days * (txs * per_tx + sum(o.calldata_per_day for o in ops) + events * size["event"])
    share = v.values.get(line, {}).get("busiest_agent_share", 1.0)
    index_rate = g("demo_operations") / g("demo_reports_seconds")  # records/s a reporter takes
    agent_rate = g("day_processes_ops_per_second")  # operations/s of the agents' measured day
    limits = {
        LIMITS[0]: max(o.gas_per_tx for o in ops) / net["tx_gas_cap"],
        LIMITS[1]: peak_gas
        * net["headroom"]
        * net["block_period_seconds"]
        / net["block_gas_limit"],
        LIMITS[2]: events / (index_rate * net["reporting_window_hours"] * SECONDS_PER_HOUR),
        LIMITS[3]: items * share * peak / SECONDS_PER_HOUR / agent_rate,
    }
    units = ops[0].items_per_day if line != "settlement" else ops[0].items_per_day / 2
    return LinePlan(
        line=line,
        unit=UNITS[line],
        units_per_day=units,
        operations=ops,
        txs_per_day=txs,
        gas_per_day=gas,
        peak_hour_txs=txs * peak,
        peak_gas_per_second=peak_gas,
        events_per_day=events,
        chain_bytes_per_year=chain,
        store_bytes_per_year=items * share * days * size["store_record"],
        index_bytes_per_year=events * days * size["index_event"],
        limits=limits,
    )


def _advice(op: Operation, v: Volumes) -> BatchAdvice | None:
    if op.batch == 1 and op.contract_max is None:
        return None
    budget = v["network"]["tx_gas_cap"] * v["network"]["tx_cap_margin"] - op.fixed_gas
    largest = max(0, int(budget // op.gas_per_item)) if op.gas_per_item else 10**9
    best = min(largest, op.contract_max or largest)
    if op.batch > largest:
        advice = f"lower to {largest}: {op.batch} would pass the cap's planned share"
    elif best > op.batch:
        fewer = math.ceil(op.items_per_day / best) * op.txs_per_batch
        advice = f"raise to {best:,}: {op.txs_per_day:,} -> {fewer:,} transactions a day"
    else:
        advice = "keep: at the most the code allows, under the cap"
    return BatchAdvice(op.line, op.name, op.batch, op.gas_per_tx, largest, op.contract_max, advice)


def _network(lines: list[LinePlan], v: Volumes) -> NetworkPlan:
    net, size = v["network"], v["bytes"]
    gas = sum(p.gas_per_day for p in lines)
    txs = sum(p.txs_per_day for p in lines)
    peak_gas = gas * net["peak_hour_share"] / SECONDS_PER_HOUR
    peak_txs = txs * net["peak_hour_share"]
    headers = SECONDS_PER_YEAR / net["block_period_seconds"] * size["block_header"]
    return NetworkPlan(
        txs_per_day=txs,
        gas_per_day=gas,
        peak_hour_txs=peak_txs,
        peak_gas_per_second=peak_gas,
        block_gas_needed=peak_gas * net["headroom"] * net["block_period_seconds"],
        block_gas_limit=net["block_gas_limit"],
        longest_block_period=(
            net["block_gas_limit"] / (peak_gas * net["headroom"]) if peak_gas else math.inf
        ),
        txs_per_block_at_peak=peak_txs / SECONDS_PER_HOUR * net["block_period_seconds"],
        chain_bytes_per_year=sum(p.chain_bytes_per_year for p in lines) + headers,
        headers_bytes_per_year=headers,
        index_bytes_per_year=sum(p.index_bytes_per_year for p in lines),
    )


def plan(volumes: Volumes, results: Mapping[str, Any], where: str = "results") -> Plan:
    """The market's plan: per line, per operation and for the network, from measured gas."""
    g = _Figures(results, where)
    lines = [_line_plan(name, build(volumes, g), volumes, g) for name, build in LINES.items()]
    advice = [a for p in lines for o in p.operations if (a := _advice(o, volumes))]
    n = 10_000
    read_ms = g(f"ccp_chain_read_ms_{n}_trades_{MEASURED_SETTLEMENT_PARTICIPANTS}_participants")
    trades = volumes["market"]["cross_border_trades_per_day"]
    cycles = volumes["settlement"]["cycles_per_day"]
    seconds = read_ms / n * trades / cycles / 1000
    ccp = f"the CCP reads a cycle's trades from the chain in {seconds:,.0f} s"
    notes = [f"{ccp} ({read_ms:,.0f} ms measured for {n:,} trades)"]
    return Plan(lines, advice, _network(lines, volumes), sorted(g.used), notes)


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or x == int(x) else f"{x:,.2f}"


def _gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB" if x >= 1e9 else f"{x / 1e6:,.1f} MB"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def render(p: Plan) -> str:
    """The plan as Markdown tables (readable in a terminal, quoted as-is in docs/scaling.md)."""
    n = p.network
    per_line = _table(
        ["line", "units/day", "txs/day", "gas/day", "peak-hour txs", "peak gas/s", "first limit"],
        [
            [l.line, f"{_n(l.units_per_day)} {l.unit}", _n(l.txs_per_day), _n(l.gas_per_day),
             _n(l.peak_hour_txs), _n(l.peak_gas_per_second), l.first_limit]
            for l in p.lines
        ],
    )  # fmt: skip
    ops = _table(
        ["line", "operation", "items/day", "batch", "txs/day", "gas/tx", "gas/day", "from"],
        [
            [o.line, o.name, _n(o.items_per_day), str(o.batch), _n(o.txs_per_day),
             _n(o.gas_per_tx), _n(o.gas_per_day), f"`{o.source}`"]
            for l in p.lines for o in l.operations
        ],
    )  # fmt: skip
    limits = _table(
        ["line", *LIMITS, "first"],
        [
            [l.line, *(f"{100 * l.limits[k]:,.1f} %" for k in LIMITS), l.first_limit]
            for l in p.lines
        ],
    )
    network = _table(
        ["figure", "value"],
        [
            ["transactions a business day", _n(n.txs_per_day)],
            ["gas a business day", _n(n.gas_per_day)],
            ["transactions in the peak hour", _n(n.peak_hour_txs)],
            ["gas per second in the peak hour", _n(n.peak_gas_per_second)],
            ["block gas needed (block period, headroom)", _n(n.block_gas_needed)],
            ["block gas limit (genesis)", _n(n.block_gas_limit)],
            ["longest block period the limit carries (s)", _n(n.longest_block_period)],
            ["transactions per block at peak", _n(n.txs_per_block_at_peak)],
        ],
    )
    year = _table(
        ["line", "chain", "busiest agent's store", "each regulator's index"],
        [[l.line, _gb(l.chain_bytes_per_year), _gb(l.store_bytes_per_year),
          _gb(l.index_bytes_per_year)] for l in p.lines]
        + [["block headers", _gb(n.headers_bytes_per_year), "", ""],
           ["**all**", _gb(n.chain_bytes_per_year), "", _gb(n.index_bytes_per_year)]],
    )  # fmt: skip
    batches = _table(
        ["line", "operation", "batch", "gas/tx", "largest under the cap", "max", "advice"],
        [
            [b.line, b.operation, str(b.batch), _n(b.gas_per_tx), _n(b.largest_under_cap),
             _n(b.contract_max) if b.contract_max else "-", b.advice]
            for b in p.batches
        ],
    )  # fmt: skip
    where = ", ".join(f"{k}: {v}" for k, v in p.provenance.items())
    parts = [
        ("Per line, a business day", per_line),
        ("Operations", ops),
        ("The network (QBFT)", network),
        ("Limits used at the peak hour (100 % = full)", limits),
        ("After a year", year),
        ("Batch sizes at this scale", batches),
    ]
    body = "\n\n".join(f"### {title}\n\n{table}" for title, table in parts)
    notes = "\n".join(f"- {x}" for x in p.notes)
    return f"{body}\n\n{notes}\n\nFigures from {where}\n" if where else f"{body}\n\n{notes}\n"


def provenance(results_path: str | Path, results: Mapping[str, Any], commit: str = "") -> dict:
    """Which bench run the figures came from: the file, its digest, the machine it names and the
    commit that last wrote it (results.json carries no timestamp of its own)."""
    import hashlib

    path = Path(results_path)
    out = {"results": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
    if "machine" in results:
        out["machine"] = str(results["machine"])
    if commit:
        out["commit"] = commit
    return out
