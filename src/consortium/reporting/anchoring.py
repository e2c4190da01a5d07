"""What the reports hold of the ReportAnchor contract: the rules registered on chain, and the
roots anchored there, through the reporting node's outbox (crash-safe: see `anchor_outbox`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_utils import event_abi_to_log_topic

from consortium.domain.encoding import hexstr
from consortium.outbox import Booking, Kind, Outbox, OutboxConflict, Recorded, key_of
from consortium.reporting.days import business_day_bounds
from consortium.reporting.errors import ReportingError
from consortium.reporting.rules import ReportingRules
from consortium.store import Store


# ------------------------------------------------------------------ rules registered on chain
@dataclass
class RulesStatus:
    """How the rules used relate to the rules registered on chain."""

    registered_version: int | None
    in_force_hash: str | None
    in_force_version: int | None
    notes: list[str] = field(default_factory=list)


def rules_status(rules: ReportingRules, anchor: Any, day: int, utc_offset: int = 0) -> RulesStatus:
    """Check the rules file against the on-chain history; notes for a change during `day` (a
    business day at `utc_offset` seconds from UTC).

    Raises ReportingError when the file's hash was never registered: reports must state rules the
    chain knows."""
    if anchor is None:
        note = "no ReportAnchor given: rules not checked on chain, report not anchored"
        return RulesStatus(None, None, None, [note])
    history = [anchor.rulesAt(i) for i in range(int(anchor.rulesCount()))]
    mine = rules.rules_hash_hex
    current = history[-1] if history else None
    st = RulesStatus(
        None, hexstr(current[0]) if current else None, int(current[1]) if current else None
    )
    for h in history:
        if hexstr(h[0]) == mine:
            st.registered_version = int(h[1])
    if st.registered_version is None:
        in_force = (
            f"version {st.in_force_version} ({st.in_force_hash})"
            if current
            else "none registered yet"
        )
        raise ReportingError(
            f"rules file {rules.path} (version {rules.version}, hash {mine}) is not registered "
            f"on chain; rules in force: {in_force}. Register it with "
            f"ReportAnchor.setRules({mine}, {rules.version}) "
            "as REPORTER or PERMISSION_MANAGER, or build with the registered rules file."
        )
    if st.registered_version != rules.version:
        raise ReportingError(
            f"rules file {rules.path} says version {rules.version} but its hash is "
            f"registered as version {st.registered_version}; fix the file's version"
        )
    start, last = business_day_bounds(day, utc_offset)
    for prev, h in zip([None] + history[:-1], history):
        if start <= int(h[2]) <= last and prev is not None:
            when = dt.datetime.fromtimestamp(int(h[2]), dt.UTC).strftime("%H:%M:%S UTC")
            st.notes.append(
                f"reporting rules changed during this day at {when} (block {int(h[3])}): version "
                f"{int(prev[1])} -> {int(h[1])}. This report applies version {rules.version} "
                f"({mine}) to the whole day; build again with the other rules file for the other "
                "view."
            )
    if current is not None and st.in_force_version != rules.version:
        st.notes.append(
            f"these rules (version {rules.version}) are not the rules in force now "
            f"(version {st.in_force_version})."
        )
    return st


# ------------------------------------------------------------------ roots anchored on chain
ANCHOR = "ReportAnchor.anchor"
REPORT_DOC = "report"  # the built report, saved in the reporter's store before its root is anchored


def anchor_outbox(anchor: Any, reporter: Any, store: Store | None = None) -> Outbox:
    """The reporting node's outbox for ReportAnchor.anchor, keyed by (regulator, day, version).

    Why: a reporter killed between anchoring a root and writing the report would otherwise leave an
    anchored version nobody received, and anchor the rebuilt report (new seals, new root) as the
    next one. With the intent and the built report in its store, `resume_anchors` finishes the
    report whose root the chain holds (or anchors it) instead."""
    outbox = Outbox(store or Store())

    def probe(a: list) -> Recorded | None:
        regulator, day, version, root = a[0], int(a[1]), int(a[2]), a[3]
        if int(anchor.latestVersion(regulator, day)) < version:
            return None
        onchain = anchor.getAnchor(regulator, day, version)
        if hexstr(onchain[0]) != hexstr(root):
            raise OutboxConflict(
                f"version {version} of {regulator} day {day} was anchored with root "
                f"{hexstr(onchain[0])}, not {hexstr(root)}: another reporter anchored it; "
                "build again"
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
    return hexstr(logs[0]["transactionHash"]) if logs else None
