"""Writing a report's files: report.json (sealed, with proofs), one CSV per table, report.html.

The JSON report (docs/report-schema.json) is the source of truth; CSV and HTML are rendered from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from consortium.reporting.builder import open_report
from consortium.reporting.render_html import render_html
from consortium.reporting.tables import write_csv


def report_dir(out: Path, report: dict) -> Path:
    """`<out>/<regulator id>/<date>/v<version>` (reports/reg-cn/2026-12-02/v1): by the id the
    consortium file gives the regulator, or by its address when the report has no dossier."""
    folder = report.get("regulatorId") or report["regulator"]
    return Path(out) / folder / report["date"] / f"v{report['anchor']['version']}"


def report_url(base: str, report: dict) -> str:
    """The report's page on the portal (`consortium serve`): the same path as its folder."""
    folder = report.get("regulatorId") or report["regulator"]
    version = report["anchor"]["version"]
    return f"{base.rstrip('/')}/regulators/{folder}/reports/{report['date']}/v{version}/"


def write_report(
    report: dict,
    out: Path,
    private_key: bytes | None = None,
    opener: Any = None,
    lookthrough_key: bytes | None = None,
) -> dict[str, Path]:
    """report.json (sealed, with proofs), <table>.csv and report.html; decrypted views if a key is
    given, and with `opener` (lookthrough.SealedOpener) the look-through records sealed to the
    regulator opened in the HTML with `lookthrough_key` (default `private_key`: the member's key
    the records are sealed to); report.json stays as anchored."""
    d = report_dir(out, report)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"json": d / "report.json"}
    paths["json"].write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")
    view = open_report(report, private_key) if private_key is not None else report
    lookthrough_key = lookthrough_key if lookthrough_key is not None else private_key
    if opener is not None and lookthrough_key is not None:
        view = opener.open(view, lookthrough_key)
    for p in write_csv(view, d / "csv"):
        paths[f"csv:{p.stem}"] = p
    paths["html"] = d / "report.html"
    paths["html"].write_text(render_html(view))
    return paths
