"""The business day of reports: the rule lives in `consortium.domain.days`.

Report days are the institutions' local business days, as reconciliation's: the ReportAnchor is
deployed with the business time zone's fixed offset from UTC (`businessUtcOffset()`, +28800 for
Asia/Shanghai), and everything that decides "which day" off chain (the indexer's day, a report's
bounds, date and folder, the default day of `consortium report` and of the demo) takes that offset
from the anchor, so chain and reports never disagree. The rules file may say `business_day: utc`
instead (offset 0: UTC days). This module re-exports the day rules for reporting, turns a bad day
into a `ReportingError`, reads the day of the chain's latest block, and checks a dossier's zone
against the anchor's offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from consortium.config import DEFAULT_BUSINESS_TIME_ZONE
from consortium.domain import days as _days
from consortium.domain.days import (
    SECONDS_PER_DAY,
    business_day_bounds,
    business_day_of,
    day_bounds,
    day_date,
    day_of,
)
from consortium.reporting.errors import ReportingError

__all__ = [
    "SECONDS_PER_DAY",
    "anchor_of",
    "business_day_bounds",
    "business_day_of",
    "day_bounds",
    "day_date",
    "day_of",
    "latest_day",
    "parse_day",
    "report_utc_offset",
    "suite_day",
    "zone_offset",
]


def zone_offset(zone: str) -> int:
    """A time zone's fixed offset from UTC in seconds; ReportingError (what to do) for a zone
    with daylight saving, whose days a fixed offset cannot follow."""
    try:
        return _days.fixed_utc_offset(zone)
    except _days.BusinessZoneHasDaylightSaving as e:
        raise ReportingError(str(e)) from None


def report_utc_offset(rules: Any = None, anchor: Any = None, zone: str | None = None) -> int:
    """The offset from UTC (seconds) report days are counted in: 0 when the rules say
    `business_day: utc`; else the anchor's `businessUtcOffset()` (fixed at deploy, so a first
    and a resumed run always agree); without an anchor, the offset of `zone` (default: the
    consortium file's default business time zone)."""
    if rules is not None and getattr(rules, "business_day", "business") == "utc":
        return 0
    if anchor is not None:
        return int(anchor.businessUtcOffset())
    return zone_offset(zone or DEFAULT_BUSINESS_TIME_ZONE)


def check_zone(zone: str, utc_offset: int, what: str = "the dossier") -> None:
    """Refuse a display zone whose days are not the anchor's: a report would show times of one
    zone for the days of another. ReportingError naming both offsets and what to do."""
    mine = zone_offset(zone)
    if mine != int(utc_offset):
        raise ReportingError(
            f"{what}'s business time zone {zone} ({offset_text(mine)}) is not the ReportAnchor's "
            f"businessUtcOffset ({offset_text(int(utc_offset))}): report days follow the anchor, "
            "set at deploy from the consortium file's business_time_zone. Build with the "
            "consortium file the suite was deployed with (its business_time_zone)."
        )


def offset_text(utc_offset: int) -> str:
    """'UTC+08:00' for 28800, 'UTC-05:45' for -20700."""
    sign = "+" if utc_offset >= 0 else "-"
    h, m = divmod(abs(int(utc_offset)) // 60, 60)
    return f"UTC{sign}{h:02d}:{m:02d}"


def zone_of_offset(utc_offset: int) -> str:
    """An IANA zone showing times at `utc_offset` when no dossier names one: 'UTC', or
    'Etc/GMT-8' for +8 h (the tz database inverts the sign); 'UTC' for a non-whole hour, which
    no Etc zone has."""
    hours, rest = divmod(int(utc_offset), 3600)
    if utc_offset == 0 or rest:
        return "UTC"
    return f"Etc/GMT{-hours:+d}"


def latest_day(w3: Any, utc_offset: int = 0) -> int:
    """The business day of the chain's latest block, at `utc_offset` (report_utc_offset)."""
    return business_day_of(int(w3.eth.get_block("latest")["timestamp"]), int(utc_offset))


def parse_day(day: int | str | dt.date) -> int:
    """`domain.days.parse_day`, raising `ReportingError` (a ValueError) on a bad day."""
    try:
        return _days.parse_day(day)
    except ValueError as e:
        raise ReportingError(str(e)) from None


def suite_day(suite: Any, w3: Any, rules: Any = None) -> int:
    """The report day of the chain's latest block for `suite` (a Suite or {key: contract}): in its
    ReportAnchor's business time zone, or UTC under `business_day: utc` rules (default: the rules
    file in force). The default day of `consortium report` and of the demo."""
    if rules is None:
        from consortium.reporting.rules import load_rules

        rules = load_rules()
    return latest_day(w3, report_utc_offset(rules, anchor_of(suite)))


def anchor_of(suite: Any) -> Any:
    """The ReportAnchor of a Suite or of {key: contract}; None when it has none."""
    return getattr(suite, "contracts", suite).get("ReportAnchor")
