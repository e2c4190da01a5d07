"""The business day of reports: the rule lives in `consortium.domain.days`.

This module re-exports it for reporting, turns a bad day into a `ReportingError`, and reads the
day of the chain's latest block (the default day of `consortium report`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from consortium.domain import days as _days
from consortium.domain.days import SECONDS_PER_DAY, day_bounds, day_date, day_of
from consortium.reporting.errors import ReportingError

__all__ = ["SECONDS_PER_DAY", "day_bounds", "day_date", "day_of", "latest_day", "parse_day"]


def latest_day(w3: Any) -> int:
    """The business day of the chain's latest block."""
    return day_of(w3.eth.get_block("latest")["timestamp"])


def parse_day(day: int | str | dt.date) -> int:
    """`domain.days.parse_day`, raising `ReportingError` (a ValueError) on a bad day."""
    try:
        return _days.parse_day(day)
    except ValueError as e:
        raise ReportingError(str(e)) from None
