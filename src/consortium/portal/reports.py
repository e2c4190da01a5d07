"""The reports folder as the portal reads it: one function knows its layout.

Reports are written under `<root>/<folder>/<date>/v<n>/report.json`, where `<folder>` is the
regulator's address (the layout so far) or its id in the consortium file (`reg-cn`, the readable
layout). Which regulator a report belongs to is read from the report itself (its `regulator`
field), never from the folder's name: both layouts are read the same way, and a report copied under
the wrong folder still goes to the regulator it was built for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_VERSION = re.compile(r"v(\d+)")


@dataclass(frozen=True)
class ReportRef:
    """One report on disk: whose, which day, which version, where."""

    regulator: str  # the report's `regulator` field (an address), lower case
    date: str  # YYYY-MM-DD
    version: int
    folder: Path  # the v<n> folder: report.json, report.html, csv/

    @property
    def json_path(self) -> Path:
        return self.folder / "report.json"


def list_reports(root: str | Path) -> list[ReportRef]:
    """Every readable report under `root`, by regulator, date and version.

    Accepts both `<root>/<address>/<date>/v<n>/` and `<root>/<regulator-id>/<date>/v<n>/`; a folder
    without a readable report.json naming its regulator is skipped (a build in progress)."""
    out = []
    for path in sorted(Path(root).glob("*/*/v*/report.json")):
        folder = path.parent
        version, date = _VERSION.fullmatch(folder.name), folder.parent.name
        if version is None or not _DATE.fullmatch(date):
            continue
        regulator = _regulator_of(path)
        if regulator:
            out.append(ReportRef(regulator, date, int(version.group(1)), folder))
    return sorted(out, key=lambda r: (r.regulator, r.date, r.version))


def _regulator_of(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("regulator")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None
    return value.lower() if isinstance(value, str) else None


def find_report(root: str | Path, regulator: str, date: str, version: int) -> ReportRef | None:
    """The report of (regulator, date, version), or None."""
    for ref in list_reports(root):
        if (ref.regulator, ref.date, ref.version) == (regulator.lower(), date, version):
            return ref
    return None
