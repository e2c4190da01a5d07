"""The business day, the one home of that rule: the institutions' local day, or the UTC day.

The consortium's business day is local (次日预设时刻, "the next day at a preset time", is the
institutions' own next day): `business_day_of(timestamp, zone)` is the number of local days since
1970-01-01 in the consortium's `business_time_zone` (Asia/Shanghai by default), the `day` of
Reconciliation.sol and its cut-off (`business_cutoff`). On chain a fixed offset from UTC is enough
for a zone without daylight saving: `fixed_utc_offset(zone)` gives it for the deployment and
refuses a zone with daylight saving (`BusinessZoneHasDaylightSaving`), so the contract's day and
this one never differ. `day_of(timestamp)` stays the UTC day, `business_day_of(ts, "UTC")`, for
the users still on UTC (the order period of the confirmation line, a report's day, bill
maturities: `days_to_maturity`, BillToken.sol's discount, which count whole 86,400 s spans).
Everything that turns a timestamp into a day, a day into a date or seconds, or a date back into a
day, comes from here.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

SECONDS_PER_DAY = 86_400
EPOCH = dt.date(1970, 1, 1)
UTC = "UTC"
# the years a fixed offset must hold for: the deployment's life, not the zone's whole history
# (Asia/Shanghai kept daylight saving until 1991)
FIXED_OFFSET_YEARS = range(2000, 2100)


class BusinessZoneHasDaylightSaving(ValueError):
    """The business time zone changes its offset (daylight saving): the contract's fixed offset
    could not follow it, so the deployment refuses it."""


# a zone: an IANA name (the consortium file's business_time_zone), or a fixed offset from UTC in
# seconds (Reconciliation.businessUtcOffset(), what the chain holds)
Zone = str | int


@lru_cache(maxsize=32)
def _zone(zone: Zone) -> dt.tzinfo:
    if isinstance(zone, int):
        return dt.timezone(dt.timedelta(seconds=zone))
    return zoneinfo.ZoneInfo(zone)


@lru_cache(maxsize=32)
def fixed_utc_offset(zone: Zone) -> int:
    """The zone's offset from UTC in seconds (+28800 for Asia/Shanghai), the same all year in
    every year of FIXED_OFFSET_YEARS; BusinessZoneHasDaylightSaving when it is not."""
    tz = _zone(zone)
    seen = {
        int(dt.datetime(y, m, 1, 12, tzinfo=tz).utcoffset().total_seconds())
        for y in FIXED_OFFSET_YEARS
        for m in (1, 4, 7, 10)
    }
    if len(seen) != 1:
        raise BusinessZoneHasDaylightSaving(
            f"business time zone {zone!r} has daylight saving (offsets "
            f"{sorted(seen)} s): the contracts keep one fixed offset; choose a zone without it "
            "(such as Asia/Shanghai, or an Etc/GMT±N zone of the standard time)"
        )
    return seen.pop()


def business_day_of(timestamp: int, zone: Zone) -> int:
    """The local business day of a timestamp in `zone`: local days since 1970-01-01."""
    local = dt.datetime.fromtimestamp(int(timestamp), _zone(zone)).date()
    return (local - EPOCH).days


def business_day_start(day: int, zone: Zone) -> int:
    """The timestamp of local midnight opening business day `day` in `zone`."""
    midnight = dt.datetime.combine(EPOCH + dt.timedelta(days=int(day)), dt.time(), _zone(zone))
    return int(midnight.timestamp())


def business_day_bounds(day: int, zone: Zone) -> tuple[int, int]:
    """The first and the last second (timestamps, inclusive) of a local business day."""
    return business_day_start(day, zone), business_day_start(day + 1, zone) - 1


def business_seconds_into_day(timestamp: int, zone: Zone) -> int:
    """Seconds since local midnight of the timestamp's business day."""
    return int(timestamp) - business_day_start(business_day_of(timestamp, zone), zone)


def business_cutoff(day: int, offset: int, zone: Zone) -> int:
    """The first timestamp at which business day `day` may be reconciled: the preset time
    `offset` (seconds after local midnight) of the next local day; Reconciliation.closeDay's
    `(day + 1) * 86400 + reconcileOffset - businessUtcOffset` for a fixed-offset zone."""
    return business_day_start(day + 1, zone) + int(offset)


def last_closable_day(now: int, offset: int, zone: Zone) -> int:
    """The latest business day whose cut-off has passed at `now`."""
    day = business_day_of(now, zone)
    return day - 1 if now >= business_cutoff(day - 1, offset, zone) else day - 2


def day_of(timestamp: int) -> int:
    """UTC day of a block timestamp: days since 1970-01-01 (business_day_of in UTC)."""
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
