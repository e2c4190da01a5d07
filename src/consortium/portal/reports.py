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
    regulator_id: str | None = None  # its `regulatorId` (reg-cn) when built with the dossier

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
        regulator, ident = _regulator_of(path)
        if regulator:
            out.append(ReportRef(regulator, date, int(version.group(1)), folder, ident))
    return sorted(out, key=lambda r: (r.regulator, r.date, r.version))


def _regulator_of(path: Path) -> tuple[str | None, str | None]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        value, ident = report.get("regulator"), report.get("regulatorId")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None, None
    if not isinstance(value, str):
        return None, None
    return value.lower(), ident if isinstance(ident, str) else None


def regulator_address(root: str | Path, segment: str) -> str:
    """The regulator a URL's segment names: an address as given, or a regulator id (`reg-cn`, as
    the demo prints the URLs) as its reports record it; "" for an id no report carries."""
    if segment.lower().startswith("0x"):
        return segment
    return next((r.regulator for r in list_reports(root) if r.regulator_id == segment), "")


def find_report(root: str | Path, regulator: str, date: str, version: int) -> ReportRef | None:
    """The report of (regulator, date, version), or None."""
    for ref in list_reports(root):
        if (ref.regulator, ref.date, ref.version) == (regulator.lower(), date, version):
            return ref
    return None
