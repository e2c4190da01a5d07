"""Per-regulator daily reports from the indexed events, by the reporting rules.

A regulator's report for a UTC day holds one record per (event of that day, matching rule) that the
rules send to it: the record goes to the regulators of the event's qualifying parties. Inside a
report, institutions the regulator does not supervise appear only as pseudonyms (`ext:` + a hash of
regulator and address), so nothing of another regulator's institutions is disclosed. Confidential
fields are sealed per record to the entitled parties and their regulators (envelope.py).

The JSON report (docs/report-schema.json) is the source of truth; CSV and HTML are rendered from it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address

from consortium.domain.roles import ROLES, role_name
from consortium.outbox import Booking, Kind, Outbox, OutboxConflict, Recorded, key_of
from consortium.reporting.envelope import Envelope, EnvelopeError, KeyDirectory, open_envelope, seal
from consortium.reporting.indexer import SECONDS_PER_DAY
from consortium.reporting.rules import FieldSpec, ReportingRules, Rule
from consortium.reporting.verify import LEAF_ENCODING, ZERO32, build_tree, leaf_value, record_hash
from consortium.store import Store

SCHEMA_ID = "consortium-ledger/regulator-report/1"
ZERO_ADDRESS = "0x" + "00" * 20
REGULATOR_ROLE = "0x" + ROLES["REGULATOR"].hex()


class ReportingError(ValueError):
    """A report that cannot be built as asked; the message says what to do instead."""


# ------------------------------------------------------------------ days
def parse_day(day: int | str | dt.date) -> int:
    """A UTC business day as days since 1970-01-01, from an int, a date or 'YYYY-MM-DD'."""
    if isinstance(day, bool):
        raise ReportingError(f"day {day!r}: give a date 'YYYY-MM-DD' or a day number")
    if isinstance(day, int):
        return day
    if isinstance(day, dt.datetime):
        day = day.date()
    if isinstance(day, dt.date):
        return (day - dt.date(1970, 1, 1)).days
    try:
        return (dt.date.fromisoformat(str(day)) - dt.date(1970, 1, 1)).days
    except ValueError:
        raise ReportingError(
            f"day {day!r}: give a date 'YYYY-MM-DD' (UTC) or a day number"
        ) from None


def day_date(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()


# ------------------------------------------------------------------ who is who
def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    s = str(value)
    return s.lower() if s.startswith("0x") else "0x" + s.lower()


def _code(value: Any) -> str:
    raw = bytes.fromhex(_hex(value)[2:])
    return raw.rstrip(b"\0").decode("utf-8", "replace")


@dataclass(frozen=True)
class PartyInfo:
    address: str
    member: bool
    jurisdiction: str
    regulator: str  # supervising regulator; a regulator supervises itself; "" if none
    roles: frozenset[str]


class RegistryDirectory:
    """Members' jurisdiction, regulator and roles, asked from the ConsortiumRegistry (cached).

    `registry` is the deployed registry (a brownie Contract, or anything with the same calls).
    Membership is read at the current block: a member's regulator does not change while it is a member.
    """

    def __init__(self, registry: Any):
        self.registry = registry
        self._cache: dict[str, PartyInfo] = {}

    def info(self, address: str) -> PartyInfo:
        key = address.lower()
        if key not in self._cache:
            m = self.registry.getMember(to_checksum_address(address))
            status, jurisdiction, regulator = int(m[0]), _code(m[2]), str(m[3])
            roles = frozenset(
                role_name(_hex(r)) for r in self.registry.rolesOf(to_checksum_address(address))
            )
            if int(regulator, 16) == 0:
                regulator = address if "REGULATOR" in roles else ""
            self._cache[key] = PartyInfo(
                to_checksum_address(address),
                status != 0,
                jurisdiction,
                to_checksum_address(regulator) if regulator else "",
                roles,
            )
        return self._cache[key]

    def regulators(self) -> list[PartyInfo]:
        """Active members holding REGULATOR, in application order."""
        out = []
        for a in self.registry.members():
            if self.registry.hasRole(a, REGULATOR_ROLE):
                out.append(self.info(str(a)))
        return out

    def require_regulator(self, address: str) -> PartyInfo:
        known = self.regulators()
        for r in known:
            if r.address.lower() == str(address).lower():
                return r
        names = ", ".join(f"{r.address} ({r.jurisdiction})" for r in known) or "none"
        raise ReportingError(
            f"unknown regulator {address}: not an active member holding REGULATOR in "
            f"the registry. Known regulators: {names}"
        )


def pseudonym(regulator: str, address: str) -> str:
    """Stable, per-regulator pseudonym of an institution the regulator does not supervise."""
    return "ext:" + keccak(text=f"{regulator.lower()}|{address.lower()}").hex()[:16]


# ------------------------------------------------------------------ records
def _format(value: Any, spec: FieldSpec) -> Any:
    if isinstance(value, list) and spec.fmt != "auto":
        return [_format(v, spec) for v in value]
    if spec.scale != 1:
        return int(value) * spec.scale
    if spec.fmt == "code":
        return _code(value)
    if spec.fmt == "role":
        return role_name(_hex(value))
    if spec.fmt == "hex":
        return _hex(value) if not isinstance(value, int) else hex(value)
    if spec.fmt == "int":
        return int(value)
    if spec.fmt == "text":
        return str(value)
    return value


@dataclass
class RecordContext:
    rules: ReportingRules
    directory: RegistryDirectory
    keys: KeyDirectory
    disclosures: Mapping[str, str]
    regulators: list[PartyInfo]
    # (contract key, event, key parameter, key value) -> args of the joined event (rules' `join`)
    joins: Mapping[tuple, dict] = field(default_factory=dict)


def _join_value(value: Any) -> str:
    return json.dumps(value, sort_keys=True).lower()


def join_index(rules: ReportingRules, events: Iterable[dict]) -> dict[tuple, dict]:
    """The joinable events (of any day, in chain order: the latest wins) by their join key."""
    wanted = {(r.contract, r.join.event, r.join.key) for r in rules.rules if r.join}
    out: dict[tuple, dict] = {}
    for ev in events:
        for contract, event, key in wanted:
            if (
                ev["event"] == event
                and ev["contract"].split(":")[0] == contract
                and key in ev["args"]
            ):
                out[(ev["contract"], event, key, _join_value(ev["args"][key]))] = ev["args"]
    return out


def joined_event(rule: Rule, event: dict, ctx: RecordContext) -> dict | None:
    """`event` with the parameters of the event its rule joins (None when that is not indexed)."""
    if rule.join is None:
        return event
    key = (
        event["contract"],
        rule.join.event,
        rule.join.key,
        _join_value(event["args"][rule.join.key]),
    )
    other = ctx.joins.get(key)
    if other is None:
        return None
    return {**event, "args": {**other, **event["args"]}}


def _party_value(value: Any, regulator: PartyInfo, ctx: RecordContext) -> str:
    """A bytes32 that may hold an address (bytes32(uint160(a))): the institution as the regulator
    may see it (clear if supervised, else its pseudonym); 'ALL' for zero; other values in hex
    (e.g. a beneficial owner's commitment, already a pseudonym)."""
    h = _hex(value) if not isinstance(value, int) else f"0x{value:064x}"
    raw = bytes.fromhex(h[2:].rjust(64, "0"))
    if not any(raw):
        return "ALL"
    if any(raw[:12]):
        return h
    info = ctx.directory.info(to_checksum_address(raw[12:]))
    if info.regulator.lower() == regulator.address.lower():
        return info.address
    return pseudonym(regulator.address, info.address)


def recipients_of(
    rule: Rule, event: dict, ctx: RecordContext
) -> tuple[dict[str, PartyInfo], set[str]]:
    """Parties of the event and the regulators (lower-case addresses) the rule sends it to."""
    parties: dict[str, PartyInfo] = {}
    regulators: set[str] = set()
    qualifying = []
    for p in rule.parties:
        info = ctx.directory.info(event["args"][p.param])
        parties[p.field] = info
        if p.roles and not (info.roles & set(p.roles)):
            continue
        if p.jurisdictions and info.jurisdiction not in p.jurisdictions:
            continue
        if info.member:
            qualifying.append(info)
    for sel in rule.regulators:
        if sel == "supervising":
            regulators |= {q.regulator.lower() for q in qualifying if q.regulator}
        elif sel.startswith("jurisdiction:") and qualifying:
            code = sel.split(":", 1)[1]
            regulators |= {r.address.lower() for r in ctx.regulators if r.jurisdiction == code}
    return parties, regulators


def make_record(
    rule: Rule, event: dict, regulator: PartyInfo, parties: dict[str, PartyInfo], ctx: RecordContext
) -> dict:
    """The record of `event` under `rule` as `regulator` receives it."""
    rid = f"{event['chain_id']}:{event['block_number']}:{event['tx_hash']}:{event['log_index']}:{rule.id}"
    shown = {}
    for name, info in parties.items():
        supervised = info.regulator.lower() == regulator.address.lower()
        shown[name] = {
            "id": info.address if supervised else pseudonym(regulator.address, info.address),
            "jurisdiction": info.jurisdiction,
            "supervised": supervised,
        }
    public: dict[str, Any] = {}
    sealed: dict[str, Any] = {}
    for f in rule.fields:
        raw = event["args"][f.source]
        if f.level == "public":
            public[f.name] = (
                _party_value(raw, regulator, ctx) if f.fmt == "party" else _format(raw, f)
            )
            continue
        value = ctx.disclosures.get(_hex(raw)) if f.disclosed else _format(raw, f)
        if value is None:
            sealed[f.name] = {"status": "undisclosed"}
            continue
        entitled_parties = [parties[n] for n in (f.recipients or parties.keys())]
        entitled = {p.address.lower() for p in entitled_parties if p.member}
        entitled |= {p.regulator.lower() for p in entitled_parties if p.member and p.regulator}
        keyed = {a: ctx.keys.get(a) for a in sorted(entitled) if ctx.keys.get(a) is not None}
        if not keyed:
            sealed[f.name] = {"status": "withheld: no encryption key for any entitled recipient"}
            continue
        env = seal(json.dumps(value).encode(), keyed, aad=f"{rid}|{f.name}".encode())
        # recipients are addressed by key only: foreign recipients' addresses are not written out
        sealed[f.name] = {"status": "sealed", "envelope": _anonymise_keys(env, regulator)}
    return {
        "id": rid,
        "rule": rule.id,
        "line": rule.line,
        "table": rule.table,
        "event": event["event"],
        "contract": event["contract"],
        "chain": {
            "chainId": event["chain_id"],
            "address": event["address"],
            "blockNumber": event["block_number"],
            "blockHash": event["block_hash"],
            "txHash": event["tx_hash"],
            "logIndex": event["log_index"],
            "timestamp": event["timestamp"],
        },
        "parties": shown,
        "fields": public,
        "sealed": sealed,
    }


def _anonymise_keys(env: Envelope, regulator: PartyInfo) -> dict:
    """Envelope JSON whose recipient ids are the regulator's own address or pseudonyms."""
    data = env.to_json()
    mine = regulator.address.lower()
    data["keys"] = {
        (a if a == mine else pseudonym(regulator.address, a)): k for a, k in data["keys"].items()
    }
    return data


def open_record(record: dict, regulator: str, private_key: bytes) -> dict[str, Any]:
    """Plaintext of the sealed fields `regulator` is entitled to; others map to a reason string."""
    out: dict[str, Any] = {}
    for name, s in record.get("sealed", {}).items():
        if s.get("status") != "sealed":
            out[name] = f"[{s.get('status')}]"
            continue
        try:
            plain = open_envelope(
                Envelope.from_json(s["envelope"]),
                regulator.lower(),
                private_key,
                aad=f"{record['id']}|{name}".encode(),
            )
            out[name] = json.loads(plain)
        except EnvelopeError:
            out[name] = "[sealed: not entitled]"
    return out


def open_report(report: dict, private_key: bytes) -> dict:
    """A copy of the report with each record's `opened` plaintext for the report's regulator.

    For display only (HTML/CSV on the regulator's desk): report.json on disk stays sealed."""
    opened = json.loads(json.dumps(report))
    for rec in opened["records"]:
        rec["opened"] = open_record(rec, report["regulator"], private_key)
    return opened


# ------------------------------------------------------------------ the report
@dataclass
class RulesStatus:
    """How the rules used relate to the rules registered on chain."""

    registered_version: int | None
    in_force_hash: str | None
    in_force_version: int | None
    notes: list[str] = field(default_factory=list)


def rules_status(rules: ReportingRules, anchor: Any, day: int) -> RulesStatus:
    """Check the rules file against the on-chain history; notes for a change during `day`.

    Raises ReportingError when the file's hash was never registered: reports must state rules the
    chain knows."""
    if anchor is None:
        note = "no ReportAnchor given: rules not checked on chain, report not anchored"
        return RulesStatus(None, None, None, [note])
    history = [anchor.rulesAt(i) for i in range(int(anchor.rulesCount()))]
    mine = rules.rules_hash_hex
    current = history[-1] if history else None
    st = RulesStatus(
        None, _hex(current[0]) if current else None, int(current[1]) if current else None
    )
    for h in history:
        if _hex(h[0]) == mine:
            st.registered_version = int(h[1])
    if st.registered_version is None:
        in_force = (
            f"version {st.in_force_version} ({st.in_force_hash})"
            if current
            else "none registered yet"
        )
        raise ReportingError(
            f"rules file {rules.path} (version {rules.version}, hash {mine}) is not registered on chain; "
            f"rules in force: {in_force}. Register it with ReportAnchor.setRules({mine}, {rules.version}) "
            "as REPORTER or PERMISSION_MANAGER, or build with the registered rules file."
        )
    if st.registered_version != rules.version:
        raise ReportingError(
            f"rules file {rules.path} says version {rules.version} but its hash is "
            f"registered as version {st.registered_version}; fix the file's version"
        )
    start, end = day * SECONDS_PER_DAY, (day + 1) * SECONDS_PER_DAY
    for prev, h in zip([None] + history[:-1], history):
        if start <= int(h[2]) < end and prev is not None:
            when = dt.datetime.fromtimestamp(int(h[2]), dt.UTC).strftime("%H:%M:%S UTC")
            st.notes.append(
                f"reporting rules changed during this day at {when} (block {int(h[3])}): version "
                f"{int(prev[1])} -> {int(h[1])}. This report applies version {rules.version} "
                f"({mine}) to the whole day; build again with the other rules file for the other view."
            )
    if current is not None and st.in_force_version != rules.version:
        st.notes.append(
            f"these rules (version {rules.version}) are not the rules in force now "
            f"(version {st.in_force_version})."
        )
    return st


def build_report(
    events: Iterable[dict],
    regulator: PartyInfo,
    day: int,
    chain_id: int,
    ctx: RecordContext,
    status: RulesStatus,
) -> dict:
    """The unanchored report dict (records with their hashes, Merkle root, no proofs yet)."""
    records = []
    unjoined: dict[str, int] = {}
    for event in events:
        for rule in ctx.rules.rules_for(event["contract"], event["event"]):
            ev = joined_event(rule, event, ctx)
            if ev is None:
                unjoined[rule.id] = unjoined.get(rule.id, 0) + 1
                continue
            parties, regs = recipients_of(rule, ev, ctx)
            if regulator.address.lower() in regs:
                records.append(make_record(rule, ev, regulator, parties, ctx))
    rules_hash = ctx.rules.rules_hash_hex
    for rec in records:
        rec["recordHash"] = "0x" + record_hash(rec).hex()
    leaves = [leaf_value(regulator.address, day, rules_hash, r["recordHash"]) for r in records]
    tree = build_tree(leaves)
    for rec, leaf in zip(records, leaves):
        rec["proof"] = ["0x" + p.hex() for p in tree.get_proofs(leaf)] if tree else []
    tables = {
        name: {
            "title": t.title,
            "count": sum(1 for r in records if r["table"] == name),
            "chart": (t.chart.__dict__ if t.chart else None),
        }
        for name, t in ctx.rules.tables.items()
    }
    notes = list(status.notes)
    for rid, n in sorted(unjoined.items()):
        notes.append(
            f"rule {rid}: {n} event(s) of this day left out: the event they join is not indexed"
        )
    if not records:
        notes.append("no records for this regulator on this day: the report is empty and valid")
    return {
        "schema": SCHEMA_ID,
        "regulator": regulator.address,
        "regulatorJurisdiction": regulator.jurisdiction,
        "day": day,
        "date": day_date(day),
        "dayStart": day * SECONDS_PER_DAY,
        "dayEnd": (day + 1) * SECONDS_PER_DAY - 1,
        "chainId": chain_id,
        "generatedAt": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "rules": {
            "hash": rules_hash,
            "version": ctx.rules.version,
            "path": ctx.rules.path,
            "registeredVersion": status.registered_version,
            "inForceHash": status.in_force_hash,
            "inForceVersion": status.in_force_version,
        },
        "merkle": {
            "format": "openzeppelin-standard",
            "leafEncoding": LEAF_ENCODING,
            "leaf": "keccak256(keccak256(abi.encode(regulator, day, rulesHash, recordHash)))",
            "recordHash": "keccak256(canonical JSON of the record without recordHash, proof, opened)",
        },
        "anchor": {
            "contract": None,
            "version": 0,
            "root": "0x" + tree.root.hex() if tree else ZERO32,
            "recordCount": len(records),
            "txHash": None,
            "anchored": False,
        },
        "notes": notes,
        "tables": tables,
        "records": records,
    }


ANCHOR = "ReportAnchor.anchor"
REPORT_DOC = "report"  # the built report, saved in the reporter's store before its root is anchored


def anchor_outbox(anchor: Any, reporter: Any, store: Store | None = None) -> Outbox:
    """The reporting node's outbox for ReportAnchor.anchor, keyed by (regulator, day, version).

    Why: a reporter killed between anchoring a root and writing the report would otherwise leave an
    anchored version nobody received, and anchor the rebuilt report (new seals, new root) as the next
    one. With the intent and the built report in its store, `resume_anchors` finishes the report
    whose root the chain holds (or anchors it) instead."""
    outbox = Outbox(store or Store())

    def probe(a: list) -> Recorded | None:
        regulator, day, version, root = a[0], int(a[1]), int(a[2]), a[3]
        if int(anchor.latestVersion(regulator, day)) < version:
            return None
        onchain = anchor.getAnchor(regulator, day, version)
        if _hex(onchain[0]) != _hex(root):
            raise OutboxConflict(
                f"version {version} of {regulator} day {day} was anchored with root "
                f"{_hex(onchain[0])}, not {_hex(root)}: another reporter anchored it; build again"
            )
        return Recorded(int(onchain[5]), {"version": version})

    outbox.register(
        ANCHOR,
        Kind(
            send=lambda a: anchor.anchor(*a, {"from": reporter}),
            probe=probe,
            booked_as=lambda tx, a: {"version": int(a[2])},
        ),
    )
    return outbox


def anchor_report(report: dict, anchor: Any, reporter: Any, outbox: Outbox | None = None) -> dict:
    """Anchor the report's root as the next version of (regulator, day); fills report["anchor"].

    The report is saved in the outbox's store first, so `resume_anchors` can finish it after a
    crash."""
    outbox = outbox or anchor_outbox(anchor, reporter)
    regulator, day = report["regulator"], int(report["day"])
    version = int(anchor.latestVersion(regulator, day)) + 1
    a = report["anchor"]
    args = [regulator, day, version, a["root"], report["rules"]["hash"], a["recordCount"]]
    key = key_of(regulator, day, version)
    outbox.store.put(REPORT_DOC, key, report)
    _fill_anchor(report, anchor, outbox.send(ANCHOR, key, args))
    return report


def resume_anchors(outbox: Outbox, anchor: Any) -> list[dict]:
    """Finish the reports an earlier run built but did not see anchored: book the versions the chain
    holds, anchor the others; returns those reports, anchored (their files are not written yet)."""
    done = []
    for booking in outbox.resume():
        report = outbox.store.get(REPORT_DOC, booking.key)
        if report is None:
            raise ReportingError(
                f"{outbox.store.url}: anchor intent {booking.key} has no saved report; "
                "it cannot be finished (delete the store to build the day again)"
            )
        done.append(_fill_anchor(report, anchor, booking))
    return done


def _fill_anchor(report: dict, anchor: Any, booking: Booking) -> dict:
    tx_hash = booking.tx_hash
    if tx_hash is None and booking.block is not None:  # found on chain: read its event's tx
        tx_hash = _anchor_tx(anchor, report, int(booking.value["version"]), booking.block)
    report["anchor"].update(
        contract=str(anchor.address),
        chainId=_chain_id(anchor),
        version=int(booking.value["version"]),
        txHash=tx_hash,
        anchored=True,
    )
    return report


def _chain_id(anchor: Any) -> int | None:
    """The id of the chain the anchor contract lives on (a report names where it can be checked)."""
    from consortium import chain  # the only brownie importer, loaded only when needed

    try:
        return int(chain.web3().eth.chain_id)
    except Exception:  # noqa: BLE001 - an offline build (tests' fake anchors) names no chain
        return None


def _anchor_tx(anchor: Any, report: dict, version: int, block: int) -> str | None:
    """The hash of the transaction that anchored (regulator, day, version), from its event."""
    from consortium import chain  # the only brownie importer, loaded only when needed

    w3 = chain.web3()
    event = next(
        e for e in anchor.abi if e.get("type") == "event" and e["name"] == "ReportAnchored"
    )
    topics = ["0x" + event_abi_to_log_topic(event).hex()] + [
        "0x" + encode([t], [v]).hex()
        for t, v in (
            ("address", report["regulator"]),
            ("uint32", int(report["day"])),
            ("uint32", version),
        )
    ]
    logs = w3.eth.get_logs(
        {"address": str(anchor.address), "fromBlock": block, "toBlock": block, "topics": topics}
    )
    return _hex(logs[0]["transactionHash"]) if logs else None


# ------------------------------------------------------------------ files
def table_rows(report: dict, table: str) -> tuple[list[str], list[dict]]:
    """Flat rows of one table (the same data the CSV and the HTML show)."""
    recs = [r for r in report["records"] if r["table"] == table]
    party_cols: list[str] = []
    field_cols: list[str] = []
    sealed_cols: list[str] = []
    for r in recs:
        for k in r["parties"]:
            if k not in party_cols:
                party_cols.append(k)
        for k in r["fields"]:
            if k not in field_cols:
                field_cols.append(k)
        for k in r["sealed"]:
            if k not in sealed_cols:
                sealed_cols.append(k)
    cols = ["time", "event", *party_cols, *field_cols, *sealed_cols, "block", "tx", "recordHash"]
    rows = []
    for r in recs:
        opened = r.get("opened", {})
        row = {
            "time": dt.datetime.fromtimestamp(r["chain"]["timestamp"], dt.UTC).strftime("%H:%M:%S"),
            "event": r["event"],
            "block": r["chain"]["blockNumber"],
            "tx": r["chain"]["txHash"],
            "recordHash": r["recordHash"],
        }
        for k in party_cols:
            row[k] = r["parties"].get(k, {}).get("id", "")
        for k in field_cols:
            row[k] = r["fields"].get(k, "")
        for k in sealed_cols:
            if k in opened:
                row[k] = opened[k]
            else:
                s = r["sealed"].get(k, {})
                row[k] = "[sealed]" if s.get("status") == "sealed" else f"[{s.get('status', '')}]"
        rows.append(row)
    return cols, rows


def write_csv(report: dict, out_dir: Path) -> list[Path]:
    """One CSV per table (tables with no records get a header-only file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in report["tables"]:
        cols, rows = table_rows(report, table)
        path = out_dir / f"{table}.csv"
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for row in rows:
                w.writerow(
                    {
                        k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                        for k, v in row.items()
                    }
                )
        paths.append(path)
    return paths


def report_dir(out: Path, report: dict) -> Path:
    return Path(out) / report["regulator"] / report["date"] / f"v{report['anchor']['version']}"


def write_report(report: dict, out: Path, private_key: bytes | None = None) -> dict[str, Path]:
    """report.json (sealed, with proofs), <table>.csv and report.html; decrypted views if a key is given."""
    from consortium.reporting.render_html import render_html

    d = report_dir(out, report)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"json": d / "report.json"}
    paths["json"].write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")
    view = open_report(report, private_key) if private_key is not None else report
    for p in write_csv(view, d / "csv"):
        paths[f"csv:{p.stem}"] = p
    paths["html"] = d / "report.html"
    paths["html"].write_text(render_html(view))
    return paths
