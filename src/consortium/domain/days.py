"""The business day: the UTC day of a block timestamp, the one home of that rule.

`day = timestamp // 86400`, the number of days since 1970-01-01 (the `day` of
Reconciliation.sol, the order period of the confirmation line, a report's day). Bill maturities
count whole days the same way (`days_to_maturity`, BillToken.sol's discount). Everything that
turns a timestamp into a day, a day into a date or seconds, or a date back into a day, comes from
here.
"""

from __future__ import annotations

import datetime as dt

SECONDS_PER_DAY = 86_400
EPOCH = dt.date(1970, 1, 1)


def day_of(timestamp: int) -> int:
    """UTC business day of a block timestamp: days since 1970-01-01."""
    return int(timestamp) // SECONDS_PER_DAY


def seconds_into_day(timestamp: int) -> int:
    """Seconds since the start of the timestamp's UTC business day."""
    return int(timestamp) % SECONDS_PER_DAY


def days(n: int) -> int:
    """A span of `n` whole days in seconds (windows, maturities)."""
    return int(n) * SECONDS_PER_DAY


def day_bounds(day: int) -> tuple[int, int]:
    """The first and the last second (timestamps, inclusive) of a business day."""
    return day * SECONDS_PER_DAY, (day + 1) * SECONDS_PER_DAY - 1


def day_date(day: int) -> str:
    """The ISO date 'YYYY-MM-DD' of a business day number."""
    return (EPOCH + dt.timedelta(days=int(day))).isoformat()


def date_number(day: int) -> int:
    """A business day as the number YYYYMMDD identifiers carry (SETTLE-20261202-…, a trade date):
    the day the business ran for, not a fixed date."""
    d = EPOCH + dt.timedelta(days=int(day))
    return d.year * 10_000 + d.month * 100 + d.day


def parse_day(day: int | str | dt.date) -> int:
    """A UTC business day as days since 1970-01-01, from an int, a date or 'YYYY-MM-DD'.

    Raises ValueError (with what to give instead) on anything else.
    """
    if isinstance(day, bool):
        raise ValueError(f"day {day!r}: give a date 'YYYY-MM-DD' or a day number")  # noqa: TRY004
    if isinstance(day, int):
        return day
    if isinstance(day, dt.datetime):
        day = day.date()
    if isinstance(day, dt.date):
        return (day - EPOCH).days
    try:
        return (dt.date.fromisoformat(str(day)) - EPOCH).days
    except ValueError:
        raise ValueError(f"day {day!r}: give a date 'YYYY-MM-DD' (UTC) or a day number") from None


def days_to_maturity(maturity: int, now: int) -> int:
    """Whole days left, rounded down: floor((maturity − now) / 86,400); 0 once matured."""
    return max(0, maturity - now) // SECONDS_PER_DAY
