"""Record hashes, the report's Merkle tree, and verification against the on-chain anchor.

Leaf format (OpenZeppelin standard Merkle tree; built with merkle-zeppelin, checked on chain with
MerkleProof by ReportAnchor.verifyRecord):

    recordHash = keccak256(canonical JSON of the record without recordHash, proof and opened)
    leaf       = keccak256(keccak256(abi.encode(address regulator, uint32 day, bytes32 rulesHash,
                                                 bytes32 recordHash)))
    parent     = keccak256(sorted(left, right) concatenated)

Canonical JSON: UTF-8, keys sorted, no whitespace
(`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`). Because the regulator,
the day and the rules hash are inside every leaf, a record cannot be passed off as another
regulator's, another day's or another rules version's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consortium.domain.encoding import b32, hexstr
from consortium.domain.merkle import (
    NOT_HASHED,
    REPORT_TYPES,
    canonical_json,
    process_proof,
    record_hash,
    report_leaf,
    report_leaf_hash,
    report_tree,
)
from consortium.inputs import CommandError, InputFileError
from consortium.reads import Views, one_by_one

LEAF_ENCODING = list(REPORT_TYPES)
ZERO32 = "0x" + "00" * 32

# the report's leaf rules live in domain/merkle.py; these names are reporting's view of them
leaf_value = report_leaf
leaf_hash = report_leaf_hash
build_tree = report_tree

__all__ = [
    "LEAF_ENCODING",
    "NOT_HASHED",
    "ZERO32",
    "RecordCheck",
    "ReportFileError",
    "Verification",
    "anchor_address",
    "build_tree",
    "canonical_json",
    "check_report_shape",
    "leaf_hash",
    "leaf_value",
    "load_report",
    "process_proof",
    "record_hash",
    "verify_record",
    "verify_report",
]


# ------------------------------------------------------------------ the report file
class ReportFileError(InputFileError):
    """A file that is not a verifiable report; `str()` names the file and the line or field."""


_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def load_report(path: str | Path) -> dict:
    """Read a report.json and check the fields verification reads, before any chain is asked.

    Raises ReportFileError naming the file and the line (not JSON) or the field (wrong shape):
    a missing, empty, truncated, non-UTF-8 or hand-edited file gets a sentence, not a traceback."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ReportFileError(
            f"{path}: no such report; pass the report.json a build wrote"
        ) from None
    except IsADirectoryError:
        raise ReportFileError(f"{path}: a directory; pass the report.json inside it") from None
    except UnicodeDecodeError as exc:
        raise ReportFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFileError(f"{path}:{exc.lineno}: not a JSON report ({exc.msg})") from None
    check_report_shape(report, str(path))
    return report


def check_report_shape(report: Any, where: str) -> None:
    """ReportFileError unless `report` has the fields (and types) verify_report reads."""

    def fail(field_: str, want: str, got: Any) -> None:
        shown = repr(got) if len(repr(got)) <= 80 else repr(got)[:77] + "..."
        raise ReportFileError(f"{where}: field '{field_}' must be {want}, got {shown}")

    def uint(field_: str, value: Any, bits: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
            fail(field_, f"a whole number 0 .. 2**{bits} - 1", value)

    def hex32(field_: str, value: Any) -> None:
        if not isinstance(value, str) or not _HEX32.fullmatch(value):
            fail(field_, "a 0x-prefixed 32-byte hex string", value)

    if not isinstance(report, dict):
        fail("(top level)", "a JSON object (a report)", type(report).__name__)
    for key, kind in (("anchor", dict), ("rules", dict), ("records", list)):
        if key not in report:
            raise ReportFileError(
                f"{where}: field '{key}' is missing: not a report this project wrote"
            )
        if not isinstance(report[key], kind):
            fail(key, f"a JSON {'object' if kind is dict else 'array'}", report[key])
    if not isinstance(report.get("regulator"), str) or not _ADDRESS.fullmatch(report["regulator"]):
        fail("regulator", "a 0x-prefixed 20-byte address", report.get("regulator"))
    uint("day", report.get("day"), 32)
    uint("anchor.version", report["anchor"].get("version"), 32)
    if report["anchor"].get("contract") is not None and not (
        isinstance(report["anchor"]["contract"], str)
        and _ADDRESS.fullmatch(report["anchor"]["contract"])
    ):
        fail("anchor.contract", "a 0x-prefixed 20-byte address", report["anchor"]["contract"])
    if report["anchor"].get("chainId") is not None:
        uint("anchor.chainId", report["anchor"]["chainId"], 64)
    hex32("anchor.root", report["anchor"].get("root", ZERO32))
    hex32("rules.hash", report["rules"].get("hash"))
    for i, rec in enumerate(report["records"]):
        if not isinstance(rec, dict):
            fail(f"records[{i}]", "a JSON object", rec)
        if "recordHash" in rec:
            hex32(f"records[{i}].recordHash", rec["recordHash"])
        proof = rec.get("proof", [])
        if not isinstance(proof, list):
            fail(f"records[{i}].proof", "a JSON array", proof)
        for j, sibling in enumerate(proof):
            hex32(f"records[{i}].proof[{j}]", sibling)


def anchor_address(report: dict, where: str, w3: Any, url: str, recorded: str | None) -> str:
    """The ReportAnchor that can check `report` on the chain `w3` talks to (at `url`).

    The report names the contract and chain it was anchored on; a report of another chain, or a
    chain without that contract (a local chain restarted empty), raises CommandError naming the
    report's chain id and anchor contract and why it cannot be checked here. `recorded` is the
    deployment record's ReportAnchor, used for reports that name none."""
    anchor = report["anchor"]
    address = anchor.get("contract") or recorded
    want = anchor.get("chainId")
    named = f"chain {want if want is not None else '(unknown)'}, ReportAnchor {address}"
    if not address:
        raise CommandError(
            f"{where}: names no anchor contract and no deployment is recorded for this network: "
            f"it cannot be checked here; pass --rpc with the URL of the chain it was anchored on"
        )
    have = int(w3.eth.chain_id)
    if want is not None and int(want) != have:
        why = f"the chain at {url} is chain {have}"
    elif len(w3.eth.get_code(address)) == 0:
        why = f"the chain at {url} has no contract at {address} (another chain, or restarted empty)"
    else:
        return address
    raise CommandError(
        f"{where}: cannot be checked here: it was anchored on {named}, and {why}. Pass --rpc with "
        f"the URL of the chain that holds the anchor, or start the local chain it was made on "
        f"(`make chain`)"
    )


# ------------------------------------------------------------------ verification
@dataclass
class RecordCheck:
    id: str
    ok: bool
    reason: str = ""


@dataclass
class Verification:
    """Outcome of verifying a report (or one record) against the chain."""

    path: str
    regulator: str
    day: int
    version: int
    root: str
    onchain_root: str | None
    records: list[RecordCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.records)

    @property
    def failed(self) -> list[RecordCheck]:
        return [r for r in self.records if not r.ok]

    def summary(self) -> str:
        bad = self.failed
        state = "VERIFIED" if self.ok else "FAILED"
        head = (
            f"{state}: {self.path} regulator {self.regulator} day {self.day} "
            f"version {self.version}: "
            f"{len(self.records) - len(bad)}/{len(self.records)} records verify against root "
            f"{self.onchain_root or '(none on chain)'}"
        )
        lines = [head]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  record {r.id}: {r.reason}" for r in bad[:20]]
        return "\n".join(lines)


def _onchain_anchor(
    anchor_contract: Any, regulator: str, day: int, version: int
) -> tuple[str, str, int] | None:
    try:
        a = anchor_contract.getAnchor(regulator, day, version)
    except Exception:  # noqa: BLE001 - AnchorNotFound (revert) or node error: not anchored here
        return None
    root, rules_hash, count = a[0], a[1], a[2]
    return hexstr(root), hexstr(rules_hash), int(count)


def verify_record(
    record: dict,
    regulator: str,
    day: int,
    version: int,
    anchor_contract: Any,
    rules_hash: str | None = None,
    onchain_view: bool = True,
    onchain: tuple[str, str, int] | None = None,
) -> RecordCheck:
    """Check one record (with its `proof`) against the anchored root of (regulator, day, version).

    The record hash is recomputed from the record's content: any altered value fails. With
    `onchain_view`, the contract's verifyRecord view checks it too (a third party's own node)."""
    onchain = onchain or _onchain_anchor(anchor_contract, regulator, day, version)
    if onchain is None:
        rid = str(record.get("id", "?"))
        return RecordCheck(
            rid, False, f"no anchor on chain for ({regulator}, day {day}, version {version})"
        )
    where = (regulator, day, version, onchain)
    return verify_records([record], where, anchor_contract, rules_hash, onchain_view)[0]


def verify_records(
    records: list[dict],
    where: tuple[str, int, int, tuple[str, str, int]],
    anchor_contract: Any,
    rules_hash: str | None = None,
    onchain_view: bool = True,
    views: Views = one_by_one,
) -> list[RecordCheck]:
    """Each record checked as verify_record does, against the anchor `where` = (regulator, day,
    version, (root, rules hash, count) on chain); the contract's verifyRecord views read through
    `views` (a large day's report holds over 150,000 records: `reads.batched`)."""
    regulator, day, version, (root, chain_rules, _count) = where
    checks: list[RecordCheck] = []
    ask: list[tuple[int, tuple]] = []
    other_rules = rules_hash is not None and rules_hash.lower() != chain_rules.lower()
    for record in records:
        rid = str(record.get("id", "?"))
        if other_rules:
            checks.append(
                RecordCheck(
                    rid, False, f"report states rules {rules_hash}, anchor holds {chain_rules}"
                )
            )
            continue
        rh = record_hash(record)
        if "recordHash" in record and record["recordHash"].lower() != "0x" + rh.hex():
            checks.append(
                RecordCheck(rid, False, "content does not match its recordHash (altered)")
            )
            continue
        proof = record.get("proof", [])
        if process_proof(leaf_hash(regulator, day, chain_rules, rh), proof) != b32(root):
            checks.append(
                RecordCheck(
                    rid,
                    False,
                    "proof does not lead to the anchored root (altered, or another "
                    "regulator's, day's or version's record)",
                )
            )
            continue
        checks.append(RecordCheck(rid, True))
        if onchain_view:
            ask.append((len(checks) - 1, (regulator, day, version, rh, [b32(p) for p in proof])))
    if ask:
        for (n, _), ok in zip(ask, views(anchor_contract, "verifyRecord", [a for _, a in ask])):
            if not ok:
                checks[n] = RecordCheck(
                    checks[n].id, False, "ReportAnchor.verifyRecord refused the record"
                )
    return checks


def verify_report(
    path: str | Path | dict,
    anchor_contract: Any,
    onchain_view: bool = True,
    views: Views = one_by_one,
) -> Verification:
    """Verify a JSON report (path or loaded dict) record by record against ReportAnchor.

    Checks: an anchor exists for the report's (regulator, day, version); its root, rules hash and
    record count equal the report's; every record's recomputed hash and proof reach that root (and
    the contract's verifyRecord view agrees when `onchain_view`, read through `views`: one call
    each, or `reads.batched(web3)` for a large report). Returns a Verification; `.ok`.
    A file that is not a report raises ReportFileError (load_report) before the chain is asked."""
    if isinstance(path, dict):
        report, where = path, "<report>"
        check_report_shape(report, where)
    else:
        where, report = str(path), load_report(path)
    regulator = report["regulator"]
    day, version = int(report["day"]), int(report["anchor"]["version"])
    result = Verification(
        where, regulator, day, version, report["anchor"].get("root", ZERO32), None
    )
    if version < 1:
        result.problems.append(
            "the report was never anchored (version 0): nothing to verify against"
        )
        return result
    onchain = _onchain_anchor(anchor_contract, regulator, day, version)
    if onchain is None:
        result.problems.append(
            f"no anchor on chain for ({regulator}, day {day}, version {version})"
        )
        return result
    root, chain_rules, count = onchain
    result.onchain_root = root
    if root.lower() != result.root.lower():
        result.problems.append(f"report root {result.root} differs from the anchored root {root}")
    if chain_rules.lower() != report["rules"]["hash"].lower():
        result.problems.append(
            f"report rules {report['rules']['hash']} differ from the anchored {chain_rules}"
        )
    if count != len(report["records"]):
        result.problems.append(
            f"report has {len(report['records'])} records, the anchor counts {count}"
        )
    result.records = verify_records(
        report["records"],
        (regulator, day, version, onchain),
        anchor_contract,
        report["rules"]["hash"],
        onchain_view,
        views,
    )
    return result
