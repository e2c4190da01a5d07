"""Build, anchor and verify the regulators' daily reports on the deployed suite.

    brownie run scripts/report.py --network <id>                 today's reports for every regulator
    REPORT_DAY=2026-11-22 REPORT_REGULATOR=0x… brownie run scripts/report.py
    REPORT_VERIFY=reports/reg-cn/2026-11-22/v1/report.json brownie run scripts/report.py

Environment: REPORT_DAY (YYYY-MM-DD or day number; default: the day of the latest block, UTC),
REPORT_REGULATOR (id such as reg-cn, or address; default all), REPORT_OUT (default reports),
REPORT_RULES (rules file), REPORT_CONFIG (the consortium file naming the institutions, default
config/consortium.yaml), REPORT_SEED (seed of the institutions' keys, default the demo's),
REPORT_DB (SQLAlchemy URL of the index), REPORT_REPORTER (account index holding REPORTER, with an
open channel to each regulator it reports to: anchors the roots; default: build without anchoring).
"""

import os
import sys

from consortium import chain
from consortium.cli import report_dossier
from consortium.deploy import load_suite
from consortium.inputs import CommandError
from consortium.reporting import ReportingError, ReportJob, load_report, verify_report


def main():
    """Entry point; a malformed input file (report, rules, deployment record) exits with its
    message."""
    try:
        _main()
    except (CommandError, ReportingError) as exc:
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
    reporter = os.environ.get("REPORT_REPORTER")
    built = ReportJob(
        suite,
        os.environ.get("REPORT_DAY") or None,  # None: the day of the latest block
        os.environ.get("REPORT_REGULATOR") or None,
        chain.accounts()[int(reporter)] if reporter else None,
        rules_path=os.environ.get("REPORT_RULES"),
        db_url=os.environ.get("REPORT_DB"),
        out=os.environ.get("REPORT_OUT", "reports"),
        anchor=anchor,
        w3=chain.web3(),
        dossier=report_dossier(
            os.environ.get("REPORT_CONFIG"), int(os.environ.get("REPORT_SEED", "20261122"))
        ),
    ).run()
    for b in built:
        a = b.report["anchor"]
        print(
            f"{b.report.get('regulatorId') or b.regulator} {b.report['date']} v{a['version']}: "
            f"{a['recordCount']} records, "
            f"root {a['root']} -> {b.paths.get('html')}"
        )
