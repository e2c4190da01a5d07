"""Per-regulator reporting: rules, event indexer, verifiable reports, sealed confidential fields.

Public API (what `consortium report` / `consortium verify`, scripts/report.py and the demo call):

    ReportJob(suite, day=None, regulator=None, reporter=None, rules_path=None, db_url=None,
              out="reports", keys=None, private_keys=None, anchor=None, w3=None).run()
        -> list[BuiltReport]                     (the pipeline, pipeline.py)
    build_reports(suite, day, regulator=None, *, anchor=None, reporter=None, rules_path=None,
                  db_url=None, out="reports", keys=None, private_keys=None, disclosures=None,
                  w3=None, progress=True, write=True) -> list[BuiltReport]
    verify_report(path, anchor_contract, onchain_view=True) -> Verification   (.ok, .summary())
    deploy(proj, registry, admin, business_time_zone) -> {"ReportAnchor": contract}
                                                 (consortium.deploy)

Modules by stage: days (the business day), directory (who is who, pseudonyms), rules, indexer,
builder (joins, records, sealing), anchoring (rules and roots on chain), tables (rows, CSV),
render_html, output (files), verify, errors, pipeline (the orchestration).

Business day: the local day of the block timestamp in the business time zone the ReportAnchor was
deployed with, `day = (timestamp + anchor.businessUtcOffset()) // 86400` (local days since
1970-01-01; a Shanghai day runs 16:00-16:00 UTC), or the UTC day under `business_day: utc` rules
(days.py); `day` arguments take that number, a datetime.date or 'YYYY-MM-DD'.

This module only re-exports, and lazily: importing one stage (say `consortium.reporting.rules`,
as deploying does) does not load the others (SQLAlchemy, the indexer).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers and readers; loaded on first use
    from consortium.deploy import _deploy_reporting as deploy
    from consortium.envelope import KeyPair
    from consortium.reporting.anchoring import (
        anchor_outbox,
        anchor_report,
        resume_anchors,
        rules_status,
    )
    from consortium.reporting.builder import RecordContext, build_report, join_index, open_report
    from consortium.reporting.days import parse_day
    from consortium.reporting.directory import RegistryDirectory
    from consortium.reporting.errors import ReportingError
    from consortium.reporting.indexer import Indexer, sources_from_contracts
    from consortium.reporting.output import write_report
    from consortium.reporting.pipeline import (
        BuiltReport,
        ReportJob,
        build_reports,
        contracts_of,
        open_index,
    )
    from consortium.reporting.rules import DEFAULT_RULES_PATH, RulesError, load_rules
    from consortium.reporting.verify import (
        ReportFileError,
        Verification,
        load_report,
        verify_report,
    )
    from consortium.store import Store

__all__ = [  # what this package exported before it was split by stage, and ReportJob
    "DEFAULT_RULES_PATH",
    "BuiltReport",
    "Indexer",
    "KeyPair",
    "RecordContext",
    "RegistryDirectory",
    "ReportFileError",
    "ReportJob",
    "ReportingError",
    "RulesError",
    "Store",
    "Verification",
    "anchor_outbox",
    "anchor_report",
    "build_report",
    "build_reports",
    "contracts_of",
    "deploy",
    "join_index",
    "load_report",
    "load_rules",
    "open_index",
    "open_report",
    "parse_day",
    "resume_anchors",
    "rules_status",
    "sources_from_contracts",
    "verify_report",
    "write_report",
]

# name -> (module, attribute): where each re-exported name lives
_EXPORTS: dict[str, tuple[str, str]] = {
    "deploy": ("consortium.deploy", "_deploy_reporting"),
    "Store": ("consortium.store", "Store"),
    "KeyPair": ("consortium.envelope", "KeyPair"),
    **{
        name: (f"consortium.reporting.{module}", name)
        for module, names in {
            "anchoring": ("anchor_outbox", "anchor_report", "resume_anchors", "rules_status"),
            "builder": ("RecordContext", "build_report", "join_index", "open_report"),
            "days": ("parse_day",),
            "directory": ("RegistryDirectory",),
            "errors": ("ReportingError",),
            "indexer": ("Indexer", "sources_from_contracts"),
            "output": ("write_report",),
            "pipeline": ("BuiltReport", "ReportJob", "build_reports", "contracts_of", "open_index"),
            "rules": ("DEFAULT_RULES_PATH", "RulesError", "load_rules"),
            "verify": ("ReportFileError", "Verification", "load_report", "verify_report"),
        }.items()
        for name in names
    },
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
