"""Per-regulator daily reports from the indexed events, by the reporting rules: joins, records,
sealing.

A regulator's report for a UTC day holds one record per (event of that day, matching rule) that the
rules send to it: the record goes to the regulators of the event's qualifying parties. Inside a
report, institutions the regulator does not supervise appear only as pseudonyms (directory.py), so
nothing of another regulator's institutions is disclosed. Confidential fields are sealed per record
to the entitled parties and their regulators (consortium.envelope: the envelope names no recipient,
so sealing discloses nobody).

The JSON report (docs/report-schema.json) is the source of truth; CSV and HTML are rendered from it
(tables.py, render_html.py, written by output.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from consortium.domain.encoding import hexstr
from consortium.domain.roles import role_name
from consortium.envelope import Envelope, EnvelopeTampered, NotARecipient, seal
from consortium.envelope import open as open_envelope
from consortium.reporting.anchoring import RulesStatus
from consortium.reporting.days import business_day_bounds, day_date, zone_of_offset
from consortium.reporting.directory import (
    Dossier,
    PartyInfo,
    RegistryDirectory,
    as_code,
    key_of,
    pseudonym,
)
from consortium.reporting.rules import FieldSpec, ReportingRules, Rule, event_value
from consortium.reporting.verify import LEAF_ENCODING, ZERO32, build_tree, leaf_value, record_hash

SCHEMA_ID = "consortium-ledger/regulator-report/1"


# ------------------------------------------------------------------ records
def _format(value: Any, spec: FieldSpec) -> Any:
    if isinstance(value, list) and spec.fmt != "auto":
        return [_format(v, spec) for v in value]
    if spec.scale != 1:
        return int(value) * spec.scale
    if spec.fmt == "code":
        return as_code(value)
    if spec.fmt == "role":
        return role_name(hexstr(value))
    if spec.fmt == "hex":
        return hexstr(value) if not isinstance(value, int) else hex(value)
    if spec.fmt == "int":
        return int(value)
    if spec.fmt == "text":
        return str(value)
    return value


@dataclass
class RecordContext:
    rules: ReportingRules
    directory: RegistryDirectory
    keys: Mapping[str, bytes]  # public encryption keys by address (any case)
    disclosures: Mapping[str, str]
    regulators: list[PartyInfo]
    # (contract key, event, key parameter, key value) -> args of the joined event (rules' `join`)
    joins: Mapping[tuple, dict] = field(default_factory=dict)
    # names, currencies' decimals and time zone for readers; None: addresses, minor units, and
    # times in the zone of `utc_offset`
    dossier: Dossier | None = None
    # the business time zone's offset from UTC (seconds) the report's day is counted in: the
    # ReportAnchor's businessUtcOffset (days.report_utc_offset)
    utc_offset: int = 0


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
    h = hexstr(value) if not isinstance(value, int) else f"0x{value:064x}"
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
    rid = (
        f"{event['chain_id']}:{event['block_number']}:{event['tx_hash']}:{event['log_index']}:"
        f"{rule.id}"
    )
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
    currencies = {f.name: code for f in rule.fields if (code := _currency_of(f, event)) is not None}
    for f in rule.fields:
        raw = event_value(event["args"], f.source)
        if f.level == "public":
            public[f.name] = (
                _party_value(raw, regulator, ctx) if f.fmt == "party" else _format(raw, f)
            )
            continue
        value = ctx.disclosures.get(hexstr(raw)) if f.disclosed else _format(raw, f)
        if value is None:
            sealed[f.name] = {"status": "undisclosed"}
            continue
        entitled_parties = [parties[n] for n in (f.recipients or parties.keys())]
        entitled = {p.address.lower() for p in entitled_parties if p.member}
        entitled |= {p.regulator.lower() for p in entitled_parties if p.member and p.regulator}
        pubkeys = [k for k in (key_of(ctx.keys, a) for a in sorted(entitled)) if k is not None]
        if not pubkeys:
            sealed[f.name] = {"status": "withheld: no encryption key for any entitled recipient"}
            continue
        env = seal(json.dumps(value).encode(), pubkeys, aad=_aad(rid, f.name))
        sealed[f.name] = {"status": "sealed", "envelope": env.to_json()}
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
        **({"currency": currencies} if currencies else {}),
    }


def _currency_of(spec: FieldSpec, event: dict) -> str | None:
    """The currency code of an amount field (its rule's `currency`), None if not an amount or the
    code is not in the event."""
    where = spec.currency
    if where is None:
        return None
    if where == "contract":
        label = event["contract"].partition(":")[2]
        return label or None
    if where.startswith("param:"):
        value = event["args"].get(where[len("param:") :])
        return as_code(value) or None if value is not None else None
    return where


def _aad(record_id: str, field_name: str) -> bytes:
    """What a sealed field is bound to: its record and its name, so it opens nowhere else."""
    return f"{record_id}|{field_name}".encode()


def open_record(record: dict, private_key: bytes) -> dict[str, Any]:
    """Plaintext of the sealed fields `private_key` opens; the others map to a reason string."""
    out: dict[str, Any] = {}
    for name, s in record.get("sealed", {}).items():
        if s.get("status") != "sealed":
            out[name] = f"[{s.get('status')}]"
            continue
        try:
            env = Envelope.from_json(s["envelope"])
            out[name] = json.loads(open_envelope(env, private_key, aad=_aad(record["id"], name)))
        except NotARecipient:
            out[name] = "[sealed: not entitled]"
        except EnvelopeTampered:
            out[name] = "[sealed: altered or moved, does not open]"
    return out


def open_report(report: dict, private_key: bytes) -> dict:
    """A copy of the report with each record's `opened` plaintext for the report's regulator.

    For display only (HTML/CSV on the regulator's desk): report.json on disk stays sealed."""
    opened = json.loads(json.dumps(report))
    for rec in opened["records"]:
        rec["opened"] = open_record(rec, private_key)
    return opened


# ------------------------------------------------------------------ the report
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def portable_path(path: str) -> str:
    """A rules file's path as a report states it: relative to the project root, or only its name
    for a file elsewhere (its hash identifies it): no report carries the author's folders."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return p.name


def supervised_names(records: list[dict], regulator: PartyInfo, ctx: RecordContext) -> dict:
    """{address: {id, name}} of the institutions in `records` that `regulator` supervises and its
    dossier names, itself included: the names a reader sees in place of their addresses."""
    dossier = ctx.dossier
    if dossier is None:
        return {}
    seen = {regulator.address}
    for rec in records:
        seen |= {p["id"] for p in rec["parties"].values() if p["supervised"]}
        seen |= {
            v for v in rec["fields"].values() if isinstance(v, str) and v.lower() in dossier.names
        }
    out = {}
    for address in sorted(seen):
        entry = dossier.names.get(address.lower())
        if entry is None or not address.startswith("0x") or len(address) != 42:
            continue
        if ctx.directory.info(address).regulator.lower() != regulator.address.lower():
            continue  # a field's address the regulator does not supervise: never named
        out[address] = {"id": entry[0], "name": entry[1]}
    return out


def _heading(records: list[dict], regulator: PartyInfo, ctx: RecordContext) -> dict:
    """Who the report is for and how a person reads it: the regulator's id, the business time
    zone, the currencies' decimals and the names of the institutions it supervises."""
    dossier = ctx.dossier
    return {
        "schema": SCHEMA_ID,
        "regulator": regulator.address,
        "regulatorId": dossier.ident(regulator.address) if dossier else None,
        "regulatorJurisdiction": regulator.jurisdiction,
        "timeZone": dossier.time_zone if dossier else zone_of_offset(ctx.utc_offset),
        "utcOffset": ctx.utc_offset,
        "currencies": dict(dossier.decimals) if dossier else {},
        "institutions": supervised_names(records, regulator, ctx),
    }


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
        **_heading(records, regulator, ctx),
        "day": day,
        "date": day_date(day),
        "dayStart": business_day_bounds(day, ctx.utc_offset)[0],
        "dayEnd": business_day_bounds(day, ctx.utc_offset)[1],
        "chainId": chain_id,
        "generatedAt": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "rules": {
            "hash": rules_hash,
            "version": ctx.rules.version,
            "path": portable_path(ctx.rules.path),
            "registeredVersion": status.registered_version,
            "inForceHash": status.in_force_hash,
            "inForceVersion": status.in_force_version,
        },
        "merkle": {
            "format": "openzeppelin-standard",
            "leafEncoding": LEAF_ENCODING,
            "leaf": "keccak256(keccak256(abi.encode(regulator, day, rulesHash, recordHash)))",
            "recordHash": (
                "keccak256(canonical JSON of the record without recordHash, proof, opened)"
            ),
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
