"""A report's tables as flat rows, and their CSV files: the same rows the HTML page shows.

The CSV keeps what the JSON holds (addresses, integer minor units, UTC times); the rows a person
reads (`readable`) name the institutions the regulator supervises, write amounts with their
currency and decimals and times in the consortium's business time zone.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import zoneinfo
from pathlib import Path
from typing import Any

from consortium.domain.money import format_amount


def local_time(timestamp: int, zone: str) -> str:
    """A block time in the business time zone, with its offset: '2026-12-03 07:30:00 +08:00'."""
    t = dt.datetime.fromtimestamp(int(timestamp), zoneinfo.ZoneInfo(zone))
    offset = t.strftime("%z")
    return f"{t:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def amount_text(value: Any, currency: str | None, decimals: dict[str, int]) -> Any:
    """An integer amount with its currency (CNY 1,234.56); anything else as it is."""
    if currency is None or isinstance(value, bool) or not isinstance(value, int):
        return value
    if currency not in decimals:  # a currency the dossier does not know: no point placed
        return f"{currency} {value:,} (minor units)"
    return format_amount(value, currency, decimals[currency])


def named_value(value: Any, names: dict[str, dict]) -> Any:
    """An address the report names (a supervised institution) as its name, the rest unchanged."""
    entry = names.get(value) if isinstance(value, str) else None
    return entry["name"] if entry else value


def readable_row(report: dict, record: dict, row: dict) -> dict:
    """`row` of `record` as a person reads it: names, amounts with currency, local times."""
    names = report.get("institutions") or {}
    currency = record.get("currency", {})
    decimals = report.get("currencies") or {}
    out = {k: named_value(v, names) for k, v in row.items()}
    for k, code in currency.items():
        if k in out:
            out[k] = amount_text(row[k], code, decimals)
    out["time"] = local_time(record["chain"]["timestamp"], report.get("timeZone") or "UTC")
    return out


def table_rows(report: dict, table: str, readable: bool = False) -> tuple[list[str], list[dict]]:
    """Flat rows of one table (the same data the CSV and the HTML show); `readable` as a person
    reads them (readable_row), else as the JSON holds them."""
    recs = [r for r in report["records"] if r["table"] == table]
    party_cols: list[str] = []
    field_cols: list[str] = []
    sealed_cols: list[str] = []
    for r in recs:
        for k in r["parties"]:
            if k not in party_cols:
                party_cols.append(k)
        for k in r["fields"]:
            if k not in field_cols:
                field_cols.append(k)
        for k in r["sealed"]:
            if k not in sealed_cols:
                sealed_cols.append(k)
    cols = ["time", "event", *party_cols, *field_cols, *sealed_cols, "block", "tx", "recordHash"]
    rows = []
    for r in recs:
        opened = r.get("opened", {})
        row = {
            "time": dt.datetime.fromtimestamp(r["chain"]["timestamp"], dt.UTC).strftime("%H:%M:%S"),
            "event": r["event"],
            "block": r["chain"]["blockNumber"],
            "tx": r["chain"]["txHash"],
            "recordHash": r["recordHash"],
        }
        for k in party_cols:
            row[k] = r["parties"].get(k, {}).get("id", "")
        for k in field_cols:
            row[k] = r["fields"].get(k, "")
        for k in sealed_cols:
            if k in opened:
                row[k] = opened[k]
            else:
                s = r["sealed"].get(k, {})
                row[k] = "[sealed]" if s.get("status") == "sealed" else f"[{s.get('status', '')}]"
        rows.append(readable_row(report, r, row) if readable else row)
    return cols, rows


def write_csv(report: dict, out_dir: Path) -> list[Path]:
    """One CSV per table (tables with no records get a header-only file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in report["tables"]:
        cols, rows = table_rows(report, table)
        path = out_dir / f"{table}.csv"
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for row in rows:
                w.writerow(
                    {
                        k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                        for k, v in row.items()
                    }
                )
        paths.append(path)
    return paths
