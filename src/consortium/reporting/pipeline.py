"""The reporting pipeline: index the chain, build each regulator's report of a day, anchor its
root, write its files. `ReportJob` is the one entry `consortium report`, scripts/report.py and the
demo call; `build_reports` takes every option (tests use it directly).

Stages: indexer.py (events into the index) -> builder.py (records, sealed fields, Merkle root) ->
anchoring.py (the root on chain, crash-safe) -> output.py (JSON, CSV, HTML).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortium.reporting.anchoring import (
    anchor_outbox,
    anchor_report,
    resume_anchors,
    rules_status,
)
from consortium.reporting.builder import RecordContext, build_report, join_index
from consortium.reporting.days import (
    anchor_of,
    check_zone,
    latest_day,
    parse_day,
    report_utc_offset,
)
from consortium.reporting.directory import Dossier, RegistryDirectory, key_of
from consortium.reporting.errors import ReportingError
from consortium.reporting.indexer import Indexer, sources_from_contracts
from consortium.reporting.lookthrough import sealed_opener
from consortium.reporting.output import write_report
from consortium.reporting.rules import DEFAULT_RULES_PATH, ReportingRules, load_rules
from consortium.store import Store


@dataclass
class BuiltReport:
    regulator: str
    day: int
    report: dict
    paths: dict[str, Path]

    @property
    def version(self) -> int:
        return int(self.report["anchor"]["version"])


def contracts_of(suite: Any) -> dict[str, Any]:
    """{key: contract} from a consortium.deploy.Suite or a mapping (must hold
    ConsortiumRegistry)."""
    if hasattr(suite, "registry") and hasattr(suite, "contracts"):
        return {"ConsortiumRegistry": suite.registry, **suite.contracts}
    contracts = dict(suite)
    if "ConsortiumRegistry" not in contracts:
        raise ReportingError(
            "the suite has no ConsortiumRegistry: pass consortium.deploy.Suite or a "
            "mapping {'ConsortiumRegistry': registry, ...}"
        )
    return contracts


def _deployment_block(contracts: Mapping[str, Any], given: int | None) -> int:
    if given is not None:
        return int(given)
    tx = getattr(contracts["ConsortiumRegistry"], "tx", None)
    return int(tx.block_number) if tx is not None else 0


def _web3() -> Any:
    from consortium import chain  # the only brownie importer, loaded only when needed

    return chain.web3()


def open_index(
    suite: Any,
    rules: Any,
    out: str | Path,
    w3: Any,
    db_url: str | None = None,
    deployment_block: int | None = None,
    utc_offset: int | None = None,
) -> Indexer:
    """The reporting node's indexer of `suite`'s events under `rules` (default database: sqlite file
    `index-<chain id>.sqlite` in `out`), the one build_reports runs: indexing during the day with it
    lets the report step resume at its cursor. Its days are in `utc_offset` (default: the suite's
    ReportAnchor's, see days.report_utc_offset), so the day's indexing and the report step agree
    on the zone and the report step resumes instead of re-indexing."""
    contracts = contracts_of(suite)
    if utc_offset is None:
        utc_offset = report_utc_offset(rules, contracts.get("ReportAnchor"))
    return Indexer(
        w3,
        sources_from_contracts(contracts, rules),
        db_url or f"sqlite:///{Path(out) / f'index-{int(w3.eth.chain_id)}.sqlite'}",
        _deployment_block(contracts, deployment_block),
        utc_offset=utc_offset,
    )


def _index(indexer: Indexer, rules: ReportingRules, day: int, progress: bool) -> tuple:
    """Bring the index up to the chain's head; the day's events and the joinable events by key."""
    try:
        indexer.run(progress=progress)
        events = indexer.events_of_day(day)
        joins = join_index(
            rules, indexer.events_named({r.join.event for r in rules.rules if r.join})
        )
    finally:
        indexer.dispose()
    return events, joins


def _resume(
    anchor: Any, reporter: Any, store: Store | None, out: Path, w3: Any, chain_id: int
) -> tuple:
    """The reporting node's outbox (None when not anchoring) and the reports an earlier run left
    built but unfinished, anchored now."""
    if anchor is None or reporter is None:
        return None, []
    genesis = bytes(w3.eth.get_block(0)["hash"]).hex()[:16]  # a new chain gets a new store
    default = out / f"reporter-{chain_id}-{genesis}.sqlite"
    outbox = anchor_outbox(anchor, reporter, store or Store.at(default))
    return outbox, resume_anchors(outbox, anchor)


def build_reports(
    suite: Any,
    day: Any,
    regulator: str | None = None,
    *,
    anchor: Any = None,
    reporter: Any = None,
    rules_path: str | Path | None = None,
    db_url: str | None = None,
    out: str | Path = "reports",
    keys: Mapping[str, bytes] | None = None,
    private_keys: Mapping[str, bytes] | None = None,
    lookthrough_keys: Mapping[str, bytes] | None = None,
    disclosures: Mapping[str, str] | None = None,
    w3: Any = None,
    deployment_block: int | None = None,
    progress: bool = True,
    write: bool = True,
    store: Store | None = None,
    dossier: Dossier | None = None,
) -> list[BuiltReport]:
    """Index the chain, then build (and anchor, and write) the reports of `day`.

    suite        consortium.deploy.Suite or {key: contract}; ReportAnchor is taken from it if
                 `anchor` is not given
    regulator    a regulator's address, or its id in the dossier (reg-cn); None: every regulator
    anchor       ReportAnchor contract: checks the rules are registered; with `reporter` (an account
                 holding REPORTER, with an open channel to the report's regulator) each report's
                 root is anchored as the next version of its day
    db_url       SQLAlchemy URL of the index (default sqlite file in `out`)
    keys         public encryption keys by address, any Mapping[str, bytes] (a dict, or the agents'
                 store-backed directory); confidential fields are sealed to them
    private_keys regulators' private encryption keys, to write decrypted HTML/CSV views
    lookthrough_keys the keys regulators' look-through records are sealed to (their members' keys),
                 when not their `private_keys`: the HTML shows those records opened and proved
    disclosures  {on-chain hash (0x…): plaintext} disclosed off chain by institutions
    store        the reporting node's Store (default: a sqlite file per chain in `out`): its
                 outbox holds each report saved before its root is anchored, so a run killed in
                 between is finished by the next one (that report is not built again)
    dossier      names by address, currencies' decimals, time zone (directory.Dossier): reports
                 name whom their regulator supervises, sit in folders by regulator id; its zone
                 must have the anchor's businessUtcOffset (ReportingError otherwise)
    `day` is a local business day at the anchor's businessUtcOffset (UTC: `business_day: utc`).
    Raises ReportingError (unknown regulator, unregistered rules, a dossier of another zone) and
    RulesError (bad rules file).
    """
    if w3 is None:
        w3 = _web3()
    contracts = contracts_of(suite)
    if anchor is None:
        anchor = contracts.get("ReportAnchor")
    rules = load_rules(rules_path or DEFAULT_RULES_PATH)
    rules.check_against_abis({k.split(":")[0]: list(c.abi) for k, c in contracts.items()})
    day_n = parse_day(day)
    utc_offset = _day_offset(rules, anchor, dossier)
    directory = RegistryDirectory(contracts["ConsortiumRegistry"])
    targets = _targets(directory, regulator, dossier)
    status = rules_status(rules, anchor, day_n, utc_offset)  # fail fast on unregistered rules
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chain_id = int(w3.eth.chain_id)
    indexer = open_index(contracts, rules, out, w3, db_url, deployment_block, utc_offset)
    events, joins = _index(indexer, rules, day_n, progress)
    regulators = directory.regulators()
    keys = {} if keys is None else keys  # not `keys or {}`: an empty store-backed one still learns
    ctx = RecordContext(
        rules, directory, keys, disclosures or {}, regulators, joins, dossier, utc_offset
    )
    outbox, finished = _resume(anchor, reporter, store, out, w3, chain_id)
    done = {(r["regulator"].lower(), int(r["day"])) for r in finished}
    reports = finished + [
        build_report(events, reg, day_n, chain_id, ctx, status)
        for reg in targets
        if (reg.address.lower(), day_n) not in done
    ]
    opening = Opening(private_keys, lookthrough_keys, sealed_opener(w3, contracts))
    return [_finish(r, anchor, reporter, outbox, out if write else None, opening) for r in reports]


@dataclass
class Opening:
    """What opens a report's HTML/CSV view for its regulator: its private encryption key (sealed
    fields) and the key its look-through records are sealed to (default the same), with the
    opener reading those records from the chain."""

    private_keys: Mapping[str, bytes] | None
    lookthrough_keys: Mapping[str, bytes] | None
    opener: Any

    def write(self, report: dict, out: Path) -> dict[str, Path]:
        reg = report["regulator"]
        return write_report(
            report,
            out,
            key_of(self.private_keys, reg),
            self.opener,
            key_of(self.lookthrough_keys, reg),
        )


def _finish(
    report: dict, anchor: Any, reporter: Any, outbox: Any, out: Path | None, opening: Opening
) -> BuiltReport:
    """Anchor a built report's root (unless already anchored or not anchoring), then write its
    files to `out` (None: not written)."""
    if outbox is not None and not report["anchor"]["anchored"]:
        anchor_report(report, anchor, reporter, outbox)
    reg_address = report["regulator"]
    paths: dict[str, Path] = {}
    if out is not None:
        paths = opening.write(report, out)
    return BuiltReport(reg_address, int(report["day"]), report, paths)


def _day_offset(rules: ReportingRules, anchor: Any, dossier: Dossier | None) -> int:
    """The offset report days are counted in (days.report_utc_offset), after checking that the
    dossier's zone, in which readers see the report's times, has the anchor's offset."""
    if dossier is not None and anchor is not None:
        check_zone(dossier.time_zone, int(anchor.businessUtcOffset()))
    return report_utc_offset(rules, anchor, dossier.time_zone if dossier else None)


def _targets(directory: RegistryDirectory, regulator: str | None, dossier: Dossier | None) -> list:
    """The regulators to report to: the one given (by address, or by id in the dossier), else
    every regulator in the registry."""
    if not regulator:
        return directory.regulators()
    if dossier is not None and not regulator.startswith("0x"):
        regulator = _address_of(dossier, regulator)
    return [directory.require_regulator(regulator)]


def _address_of(dossier: Dossier, ident: str) -> str:
    """The address of the institution the dossier calls `ident` (a regulator id: 'reg-cn')."""
    for address, (known, _name) in dossier.names.items():
        if known == ident:
            return address
    raise ReportingError(
        f"unknown regulator {ident!r}: not an institution of the consortium file; give its id "
        "(reg-cn) or its address"
    )


@dataclass
class ReportJob:
    """One run of the pipeline as `consortium report`, scripts/report.py and the demo ask for it:
    only what differs between them; the rest comes from the suite (its ReportAnchor, its deployment
    block) and the chain (the day of the latest block when no day is given).

    suite        consortium.deploy.Suite (or {key: contract}, see build_reports)
    day          'YYYY-MM-DD', a day number or a date; None or '': the business day of the latest
                 block (in the anchor's business time zone, see days.report_utc_offset)
    regulator    one regulator's address; None: every regulator in the registry
    reporter     an account holding REPORTER: anchors each report's root; None builds unanchored
    anchor       the ReportAnchor to check rules and anchor against; None: the suite's
    dossier      names, currencies' decimals and time zone for readers (see build_reports)
    """

    suite: Any
    day: Any = None
    regulator: str | None = None
    reporter: Any = None
    rules_path: str | Path | None = None
    db_url: str | None = None
    out: str | Path = "reports"
    keys: Mapping[str, bytes] | None = None
    private_keys: Mapping[str, bytes] | None = None
    lookthrough_keys: Mapping[str, bytes] | None = None
    anchor: Any = None
    w3: Any = None
    deployment_block: int | None = None  # None: the suite's (Suite.block)
    dossier: Dossier | None = None

    def run(self) -> list[BuiltReport]:
        """Build, anchor and write the reports; raises ReportingError and RulesError as
        build_reports does."""
        w3 = self.w3 if self.w3 is not None else _web3()
        block = self.deployment_block
        day = self.day
        if day is None or day == "":
            rules = load_rules(self.rules_path or DEFAULT_RULES_PATH)
            anchor = self.anchor if self.anchor is not None else anchor_of(self.suite)
            day = latest_day(w3, report_utc_offset(rules, anchor))
        return build_reports(
            self.suite,
            day,
            self.regulator,
            anchor=self.anchor,
            reporter=self.reporter,
            rules_path=self.rules_path,
            db_url=self.db_url,
            out=self.out,
            keys=self.keys,
            private_keys=self.private_keys,
            lookthrough_keys=self.lookthrough_keys,
            w3=w3,
            deployment_block=block if block is not None else getattr(self.suite, "block", None),
            dossier=self.dossier,
        )
