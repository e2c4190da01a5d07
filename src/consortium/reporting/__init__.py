"""Per-regulator reporting: rules, event indexer, verifiable reports, sealed confidential fields.

Public API (what `consortium report` / `consortium verify` and scripts/report.py call):

    build_reports(suite, day, regulator=None, *, anchor=None, reporter=None, rules_path=None,
                  db_url=None, out="reports", keys=None, private_keys=None, disclosures=None,
                  w3=None, progress=True, write=True) -> list[BuiltReport]
    verify_report(path, anchor_contract, onchain_view=True) -> Verification   (.ok, .summary())
    deploy(proj, registry, admin) -> {"ReportAnchor": contract}

Business day: the UTC day of the block timestamp, `day = timestamp // 86400` (days since
1970-01-01); `day` arguments take that number, a datetime.date or 'YYYY-MM-DD'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortium.reporting.builder import (
    RecordContext,
    RegistryDirectory,
    ReportingError,
    anchor_outbox,
    anchor_report,
    build_report,
    join_index,
    open_report,
    parse_day,
    resume_anchors,
    rules_status,
    write_report,
)
from consortium.reporting.envelope import KeyDirectory, KeyPair
from consortium.reporting.indexer import Indexer, sources_from_contracts
from consortium.reporting.rules import DEFAULT_RULES_PATH, RulesError, load_rules
from consortium.reporting.verify import ReportFileError, Verification, load_report, verify_report
from consortium.store import Store

__all__ = [
    "BuiltReport",
    "KeyDirectory",
    "KeyPair",
    "ReportingError",
    "RulesError",
    "Verification",
    "build_reports",
    "contracts_of",
    "deploy",
    "load_rules",
    "open_index",
    "open_report",
    "verify_report",
    "load_report",
    "ReportFileError",
]


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
    """{key: contract} from a consortium.deploy.Suite or a mapping (must hold ConsortiumRegistry)."""
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


def open_index(
    suite: Any,
    rules: Any,
    out: str | Path,
    w3: Any,
    db_url: str | None = None,
    deployment_block: int | None = None,
) -> Indexer:
    """The reporting node's indexer of `suite`'s events under `rules` (default database: sqlite file
    `index-<chain id>.sqlite` in `out`), the one build_reports runs: indexing during the day with it
    lets the report step resume at its cursor."""
    contracts = contracts_of(suite)
    return Indexer(
        w3,
        sources_from_contracts(contracts, rules),
        db_url or f"sqlite:///{Path(out) / f'index-{int(w3.eth.chain_id)}.sqlite'}",
        _deployment_block(contracts, deployment_block),
    )


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
    keys: KeyDirectory | None = None,
    private_keys: Mapping[str, bytes] | None = None,
    disclosures: Mapping[str, str] | None = None,
    w3: Any = None,
    deployment_block: int | None = None,
    progress: bool = True,
    write: bool = True,
    store: Store | None = None,
) -> list[BuiltReport]:
    """Index the chain, then build (and anchor, and write) the reports of `day`.

    suite        consortium.deploy.Suite or {key: contract}; ReportAnchor is taken from it if `anchor`
                 is not given
    regulator    a regulator member's address; None builds one report per regulator in the registry
    anchor       ReportAnchor contract: checks the rules are registered; with `reporter` (an account
                 holding REPORTER, with an open channel to the report's regulator) each report's root
                 is anchored as the next version of its day
    db_url       SQLAlchemy URL of the index (default sqlite file in `out`)
    keys         public encryption keys by address (confidential fields are sealed to them)
    private_keys regulators' private encryption keys, to write decrypted HTML/CSV views
    disclosures  {on-chain hash (0x…): plaintext} disclosed off chain by institutions
    store        the reporting node's Store (default: a sqlite file per chain in `out`): its
                 outbox holds each report saved before its root is anchored, so a run killed in
                 between is finished by the next one (that report is not built again)
    Raises ReportingError (unknown regulator, unregistered rules) and RulesError (bad rules file).
    """
    if w3 is None:
        from consortium import chain  # the only brownie importer, loaded only when needed

        w3 = chain.web3()
    contracts = contracts_of(suite)
    if anchor is None:
        anchor = contracts.get("ReportAnchor")
    rules = load_rules(rules_path or DEFAULT_RULES_PATH)
    rules.check_against_abis({k.split(":")[0]: list(c.abi) for k, c in contracts.items()})
    day_n = parse_day(day)
    directory = RegistryDirectory(contracts["ConsortiumRegistry"])
    targets = [directory.require_regulator(regulator)] if regulator else directory.regulators()
    status = rules_status(rules, anchor, day_n)  # before indexing: fail fast on unregistered rules
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chain_id = int(w3.eth.chain_id)
    indexer = open_index(contracts, rules, out, w3, db_url, deployment_block)
    try:
        indexer.run(progress=progress)
        events = indexer.events_of_day(day_n)
        joins = join_index(
            rules, indexer.events_named({r.join.event for r in rules.rules if r.join})
        )
    finally:
        indexer.dispose()
    ctx = RecordContext(
        rules, directory, keys or KeyDirectory(), disclosures or {}, directory.regulators(), joins
    )
    outbox = None
    finished: list[dict] = []
    if anchor is not None and reporter is not None:
        genesis = bytes(w3.eth.get_block(0)["hash"]).hex()[:16]  # a new chain gets a new store
        default = out / f"reporter-{chain_id}-{genesis}.sqlite"
        outbox = anchor_outbox(anchor, reporter, store or Store.at(default))
        finished = resume_anchors(outbox, anchor)
    done = {(r["regulator"].lower(), int(r["day"])) for r in finished}
    reports = finished + [
        build_report(events, reg, day_n, chain_id, ctx, status)
        for reg in targets
        if (reg.address.lower(), day_n) not in done
    ]
    built = []
    for report in reports:
        if outbox is not None and not report["anchor"]["anchored"]:
            anchor_report(report, anchor, reporter, outbox)
        reg_address = report["regulator"]
        paths: dict[str, Path] = {}
        if write:
            key = (private_keys or {}).get(reg_address) or (private_keys or {}).get(
                reg_address.lower()
            )
            paths = write_report(report, out, key)
        built.append(BuiltReport(reg_address, int(report["day"]), report, paths))
    return built


def deploy(proj: Any, registry: Any, admin: Any) -> dict[str, Any]:
    """Deploy ReportAnchor against the registry and register the rules in force.

    The deployer (the permission manager) may register rules: setRules accepts PERMISSION_MANAGER.
    """
    anchor = proj.ReportAnchor.deploy(registry, {"from": admin})
    rules = load_rules()
    anchor.setRules(rules.rules_hash, rules.version, {"from": admin})
    return {"ReportAnchor": anchor}
