"""Build, anchor and verify the regulators' daily reports on the deployed suite.

    brownie run scripts/report.py --network <id>                 today's reports for every regulator
    REPORT_DAY=2026-11-22 REPORT_REGULATOR=0x… brownie run scripts/report.py
    REPORT_VERIFY=reports/0x…/2026-11-22/v1/report.json brownie run scripts/report.py

Environment: REPORT_DAY (YYYY-MM-DD or day number; default: the day of the latest block, UTC),
REPORT_REGULATOR (address; default all), REPORT_OUT (default reports), REPORT_RULES (rules file),
REPORT_DB (SQLAlchemy URL of the index), REPORT_REPORTER (account index holding REPORTER, with an
open channel to each regulator it reports to: anchors the roots; default: build without anchoring).
"""

import os
import sys

from consortium import chain
from consortium.deploy import load_suite
from consortium.inputs import InputFileError
from consortium.reporting import ReportingError, build_reports, load_report, verify_report
from consortium.reporting.indexer import day_of


def main():
    """Entry point; a malformed input file (report, rules, deployment record) exits with its message."""
    try:
        _main()
    except (InputFileError, ReportingError) as exc:
        sys.exit(f"error: {exc}")


def _main():
    if os.environ.get("REPORT_VERIFY"):
        load_report(os.environ["REPORT_VERIFY"])  # before the deployment is looked up
    suite = load_suite(chain.network_name())
    anchor = suite.contracts.get("ReportAnchor")
    path = os.environ.get("REPORT_VERIFY")
    if path:
        if anchor is None:
            sys.exit("no ReportAnchor in this deployment: nothing to verify against")
        result = verify_report(path, anchor)
        print(result.summary())
        sys.exit(0 if result.ok else 1)
    w3 = chain.web3()
    day = os.environ.get("REPORT_DAY") or day_of(w3.eth.get_block("latest")["timestamp"])
    reporter = os.environ.get("REPORT_REPORTER")
    built = build_reports(
        suite,
        day,
        os.environ.get("REPORT_REGULATOR") or None,
        anchor=anchor,
        reporter=chain.accounts()[int(reporter)] if reporter else None,
        rules_path=os.environ.get("REPORT_RULES"),
        db_url=os.environ.get("REPORT_DB"),
        out=os.environ.get("REPORT_OUT", "reports"),
        w3=w3,
        deployment_block=suite.block,
    )
    for b in built:
        a = b.report["anchor"]
        print(
            f"{b.regulator} {b.report['date']} v{a['version']}: {a['recordCount']} records, "
            f"root {a['root']} -> {b.paths.get('html')}"
        )
