"""The business day of reports: the UTC day of the block timestamp.

`day = timestamp // 86400`, the number of days since 1970-01-01; the one home of that rule in
reporting (the indexer's `day` column, the report's `dayStart`/`dayEnd` and `date`, the demo's
labels and the default day of `consortium report` all come from here).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from consortium.reporting.errors import ReportingError

SECONDS_PER_DAY = 86400
EPOCH = dt.date(1970, 1, 1)


def day_of(timestamp: int) -> int:
    """UTC business day of a block timestamp: days since 1970-01-01."""
    return int(timestamp) // SECONDS_PER_DAY


def latest_day(w3: Any) -> int:
    """The business day of the chain's latest block."""
    return day_of(w3.eth.get_block("latest")["timestamp"])


def parse_day(day: int | str | dt.date) -> int:
    """A UTC business day as days since 1970-01-01, from an int, a date or 'YYYY-MM-DD'."""
    if isinstance(day, bool):
        raise ReportingError(f"day {day!r}: give a date 'YYYY-MM-DD' or a day number")
    if isinstance(day, int):
        return day
    if isinstance(day, dt.datetime):
        day = day.date()
    if isinstance(day, dt.date):
        return (day - EPOCH).days
    try:
        return (dt.date.fromisoformat(str(day)) - EPOCH).days
    except ValueError:
        raise ReportingError(
            f"day {day!r}: give a date 'YYYY-MM-DD' (UTC) or a day number"
        ) from None


def day_date(day: int) -> str:
    """The ISO date 'YYYY-MM-DD' of a business day number."""
    return (EPOCH + dt.timedelta(days=int(day))).isoformat()


def day_bounds(day: int) -> tuple[int, int]:
    """The first and the last second (timestamps, inclusive) of a business day."""
    return day * SECONDS_PER_DAY, (day + 1) * SECONDS_PER_DAY - 1
