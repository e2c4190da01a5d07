"""A report's tables as flat rows, and their CSV files: the same rows the HTML page shows."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path


def table_rows(report: dict, table: str) -> tuple[list[str], list[dict]]:
    """Flat rows of one table (the same data the CSV and the HTML show)."""
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
        rows.append(row)
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
