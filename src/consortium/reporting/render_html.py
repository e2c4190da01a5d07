"""A self-contained HTML page of a report: tables and inline SVG charts, no external JS or CSS.

Rendered from the same report dict as the JSON and the CSV (tables.table_rows), so the three forms
never disagree. Chart kinds come from the rules file's `tables.<name>.chart`:
flow (sum of value per from -> to pair), efficiency (1 - net/gross per label), lineage (parent ->
child tree), bar (sum of value, or `count` of records, per label; rows without the value are left
out). Sums are by full label; labels are shortened only when drawn.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from html import escape
from typing import Any

from consortium.domain.netting import CASH
from consortium.reporting.lookthrough import POSITION, sealed_records_of
from consortium.reporting.tables import amount_text, local_time, named_value, table_rows

_AMOUNT_TEXT = re.compile(r"[A-Z]{3} -?[0-9]")

LOOKTHROUGH_TABLE = "lookthrough"  # the rules' table of SealedRecords' events
PALETTE = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#1b7c83", "#e16f24", "#57606a"]
CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px} \
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px}
.meta b{color:#57606a;font-weight:normal} code{font-size:12px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:6px 0;font-size:13px}
.ok{color:#1a7f37} .sealed{color:#8250df} .empty{color:#57606a;font-style:italic}
.hash{font-family:monospace;font-size:11px;max-width:180px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
svg text{font-family:DejaVu Sans,Arial,sans-serif}
"""


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _short(v: Any, n: int = 14) -> str:
    s = str(v)
    return s if len(s) <= n else s[: n - 3] + "…" + s[-2:]


def _value(row: dict, key: str) -> Any:
    return 1 if key == "count" else row.get(key)


# ------------------------------------------------------------------ charts
def _svg_open(w: int, h: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        f'aria-label="{escape(title)}"><text x="0" y="16" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>"
    )


def _hbar(items: list[tuple[str, float]], title: str, unit: str = "", pct: bool = False) -> str:
    """Horizontal bar chart, one bar per (label, value);
    negative values drawn in red to the left."""
    if not items:
        return ""
    w, lw, bh, gap = 720, 230, 20, 6
    h = 34 + len(items) * (bh + gap)
    vmax = max(abs(v) for _, v in items) or 1
    has_neg = any(v < 0 for _, v in items)
    plot = w - lw - 90
    zero = lw + (plot / 2 if has_neg else 0)
    scale = (plot / 2 if has_neg else plot) / vmax
    out = [_svg_open(w, h, title)]
    for i, (label, v) in enumerate(items):
        y = 30 + i * (bh + gap)
        bw = abs(v) * scale
        x = zero - bw if v < 0 else zero
        color = "#cf222e" if v < 0 else PALETTE[i % len(PALETTE)]
        shown = f"{v * 100:.1f}%" if pct else f"{v:,.0f}{unit}"
        out.append(
            f'<text x="{lw - 6}" y="{y + 14}" font-size="11" text-anchor="end">'
            f"{escape(_short(label, 30))}</text>"
            f'<rect x="{x:.1f}" y="{y}" width="{max(bw, 1):.1f}" height="{bh}" fill="{color}"/>'
            f'<text x="{(x + bw if v >= 0 else zero) + 4:.1f}" y="{y + 14}" font-size="11">'
            f"{escape(shown)}</text>"
        )
    out.append(f'<line x1="{zero}" y1="26" x2="{zero}" y2="{h}" stroke="#57606a"/></svg>')
    return "".join(out)


def _lineage(rows: list[dict], p: dict, title: str) -> str:
    """Bills as boxes by generation (left to right), edges from parent to child."""
    nodes = {str(r.get(p["id"])): r for r in rows}
    depth: dict[str, int] = {}

    def d(n: str, seen: frozenset = frozenset()) -> int:
        if n in depth:
            return depth[n]
        parent = str(nodes[n].get(p["parent"]))
        depth[n] = (
            0 if parent not in nodes or parent in seen or parent == n else d(parent, seen | {n}) + 1
        )
        return depth[n]

    for n in nodes:
        d(n)
    cols: dict[int, list[str]] = defaultdict(list)
    for n in nodes:
        cols[depth[n]].append(n)
    bw, bh, cw, rh = 150, 34, 200, 44
    h = 40 + max((len(v) for v in cols.values()), default=0) * rh
    w = 20 + (max(cols, default=0) + 1) * cw
    pos = {n: (10 + c * cw, 30 + i * rh) for c, ns in cols.items() for i, n in enumerate(ns)}
    out = [_svg_open(max(w, 400), h, title)]
    for n, r in nodes.items():
        parent = str(r.get(p["parent"]))
        if parent in pos and parent != n:
            (x1, y1), (x2, y2) = pos[parent], pos[n]
            out.append(
                f'<path d="M{x1 + bw},{y1 + bh / 2} '
                f"C{x1 + bw + 25},{y1 + bh / 2} {x2 - 25},{y2 + bh / 2} "
                f'{x2},{y2 + bh / 2}" fill="none" stroke="#57606a"/>'
            )
    for n, (x, y) in pos.items():
        v = _num(nodes[n].get(p["value"]))
        kind = "bill" if depth[n] == 0 else "split"  # roots are bills, the others their splits
        out.append(
            f'<rect x="{x}" y="{y}" width="{bw}" height="{bh}" rx="5" '
            'fill="#ddf4ff" stroke="#1f6feb"/>'
            f'<text x="{x + 8}" y="{y + 14}" font-size="11" font-weight="bold">'
            f"{kind} {escape(_short(n))}</text>"
            f'<text x="{x + 8}" y="{y + 28}" font-size="11">'
            f'{"" if v is None else f"{v:,.0f}"}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def chart_svg(chart: dict | None, rows: list[dict]) -> str:
    """The SVG of one table's chart ('' when the table has no chart or no rows)."""
    if not chart or not rows:
        return ""
    kind, p, title = chart["type"], chart["params"], chart["title"]
    # sums by the full label, shortened only when drawn: distinct labels never merge
    if kind == "flow":
        pairs: dict[tuple[str, str], float] = defaultdict(float)
        for r in rows:
            pairs[(str(r.get(p["from"])), str(r.get(p["to"])))] += _num(r.get(p["value"])) or 0
        items = [(f"{_short(a, 13)} → {_short(b, 13)}", v) for (a, b), v in pairs.items()]
        return _hbar(sorted(items, key=lambda kv: -abs(kv[1])), title)
    if kind == "efficiency":
        items = []
        for r in rows:
            gross, net = _num(r.get(p["gross"])), _num(r.get(p["net"]))
            if gross:
                items.append((str(r.get(p["label"])), 1 - (net or 0) / gross))
        return _hbar(items, title, pct=True)
    if kind == "lineage":
        return _lineage(rows, p, title)
    sums: dict[str, float] = defaultdict(float)
    for r in rows:
        value = _value(r, p["value"])
        if value is None or value == "":
            continue  # a row of another event of the table, without this value: no bar
        sums[str(r.get(p["label"]))] += _num(value) or 0
    items = list(sums.items())
    if all(_num(k) is not None for k, _ in items):  # numeric labels (codes, levels): in order
        items.sort(key=lambda kv: _num(kv[0]))
    return _hbar(items, title)


# ------------------------------------------------------------------ page
def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return f"<td>{'yes' if v else 'no'}</td>"
    if isinstance(v, (int, float)):
        return f'<td class="num">{v:,}</td>'
    s = str(v)
    if _AMOUNT_TEXT.match(s):
        return f'<td class="num">{escape(s)}</td>'
    if s.startswith("ext:"):
        return f'<td title="an institution another regulator supervises">{escape(s)}</td>'
    if s.startswith(("[sealed", "[withheld", "[undisclosed")):
        return f'<td class="sealed">&#128274; {escape(s.strip("[]"))}</td>'
    if s.startswith("0x") and len(s) > 20:
        return f'<td class="hash" title="{escape(s)}">{escape(s)}</td>'
    return f"<td>{escape(s)}</td>"


def _regulator(report: dict) -> str:
    """The regulator by name and id when the report names it, with its address."""
    own = (report.get("institutions") or {}).get(report["regulator"])
    who = f"{escape(own['name'])} ({escape(own['id'])}), " if own else ""
    return (
        f"{who}<code>{escape(report['regulator'])}</code> "
        f"({escape(report['regulatorJurisdiction'])})"
    )


def _generated(report: dict, zone: str) -> str:
    """When the report was built, in the business time zone (the JSON keeps UTC)."""
    try:
        at = dt.datetime.fromisoformat(report["generatedAt"])
    except (TypeError, ValueError):
        return escape(str(report["generatedAt"]))
    return f"{local_time(int(at.timestamp()), zone)} ({escape(zone)})"


def _meta(report: dict) -> list[tuple[str, str]]:
    a, rules = report["anchor"], report["rules"]
    zone = report.get("timeZone") or "UTC"
    anchored = (
        f'<span class="ok">anchored</span> as version {a["version"]} '
        f'in {escape(str(a["contract"]))} '
        f'(tx <code>{escape(str(a["txHash"]))}</code>)'
        if a["anchored"]
        else "not anchored"
    )
    return [
        ("Regulator", _regulator(report)),
        ("Business day", f"{escape(report['date'])} (UTC day {report['day']} of block timestamps)"),
        ("Times shown in", f"{escape(zone)} (the consortium's business time zone)"),
        ("Chain", str(report["chainId"])),
        ("Rules", f"version {rules['version']} <code>{escape(rules['hash'])}</code>"),
        (
            "Merkle root",
            f"<code>{escape(a['root'])}</code>, {a['recordCount']} records, {anchored}",
        ),
        ("Generated", _generated(report, zone)),
    ]


def readable_table(
    report: dict, name: str, t: dict
) -> tuple[list[str], list[str], list[dict], str]:
    """One table as a person reads it (the report file and the portal show the same): column
    headings, row keys, rows with names, amounts with currency and local times, and the chart."""
    cols, rows = table_rows(report, name, readable=True)
    names = report.get("institutions") or {}
    _, raw = table_rows(report, name)  # charts sum the integers; labels are names too
    chart = chart_svg(
        t.get("chart"), [{k: named_value(v, names) for k, v in r.items()} for r in raw]
    )
    zone = report.get("timeZone") or "UTC"
    heads = [f"time ({zone})" if c == "time" else c for c in cols]
    return heads, cols, rows, chart


def _table(report: dict, name: str, t: dict) -> list[str]:
    """One table's heading, chart and rows."""
    heads, cols, rows, chart = readable_table(report, name, t)
    parts = [f'<h2 id="{escape(name)}">{escape(t["title"])} ({len(rows)})</h2>']
    if not rows:
        return [*parts, '<p class="empty">No records.</p>']
    parts.append(chart)
    parts.append(
        "<table><tr>" + "".join(f'<th scope="col">{escape(c)}</th>' for c in heads) + "</tr>"
    )
    for r in rows:
        parts.append("<tr>" + "".join(_cell(r.get(c, "")) for c in cols) + "</tr>")
    parts.append("</table>")
    return parts


SEALED_TEXT = "[sealed]"
POSITION_HEADS = (
    "time",
    "intermediary",
    "cycle",
    "opening",
    "investor",
    "investor commitment",
    "security",
    "position",
    "proved against the root",
    "holding chain",
)


def lookthrough_rows(report: dict) -> list[list[Any]]:
    """One row per look-through record sealed to the report's regulator (POSITION_HEADS): opened
    when the view carries its opening (reporting/lookthrough.py), else "sealed"."""
    names = report.get("institutions") or {}
    zone = report.get("timeZone") or "UTC"
    decimals = report.get("currencies") or {}
    rows = []
    for rec in sealed_records_of(report):
        p = rec.get("opened", {}).get(POSITION) or {"status": "sealed (no key given)"}
        head = [
            local_time(rec["chain"]["timestamp"], zone),
            named_value(rec["parties"].get("intermediary", {}).get("id", ""), names),
            rec["fields"].get("cycleId", ""),
            p["status"],
        ]
        if "amount" not in p:
            rows.append([*head, *[SEALED_TEXT] * (len(POSITION_HEADS) - len(head))])
            continue
        code = p["assetName"] if p["kind"] == CASH else None
        rows.append(
            [
                *head,
                p["investor"],
                p["commitment"],
                p["assetName"],
                amount_text(p["amount"], code, decimals),
                p["proven"],
                p["holding"],
            ]
        )
    return rows


def lookthrough_section(report: dict) -> str:
    """The look-through positions sealed to the regulator, opened with its key when the view
    carries them ('' when the report has no sealed record)."""
    rows = lookthrough_rows(report)
    if not rows:
        return ""
    opened = sum(1 for r in rows if r[4] != SEALED_TEXT)
    heads = "".join(f'<th scope="col">{escape(h)}</th>' for h in POSITION_HEADS)
    body = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
    return (
        f'<h2 id="lookthrough-positions">Look-through positions sealed to this regulator '
        f"({opened} of {len(rows)} opened)</h2>"
        '<p class="empty">Opened with the regulator\'s key for this page only: the anchored '
        "records hold none of these values. Each is checked against the intermediary's published "
        "root and its investor root on HoldingChain.</p>"
        f'<table id="tbl-lookthrough-positions"><tr>{heads}</tr>{body}</table>'
    )


def render_html(report: dict, after: str = "") -> str:
    """The whole page as one string; `after` is HTML placed after the tables (the portal's "since
    the report" section)."""
    own = (report.get("institutions") or {}).get(report["regulator"])
    title = own["id"] if own else report["regulator"]
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Regulator report {escape(report['date'])} {escape(title)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>Regulator report — {escape(report['date'])}</h1><div class=\"meta\">",
        "".join(f"<b>{k}</b><span>{v}</span>" for k, v in _meta(report)),
        "</div>",
    ]
    parts += [f'<div class="note">{escape(n)}</div>' for n in report["notes"]]
    parts.append(
        '<h2>Summary</h2><table><tr><th scope="col">Table</th><th scope="col">Records</th></tr>'
    )
    parts += [
        f"<tr><td>{escape(t['title'])}</td><td class=\"num\">{t['count']}</td></tr>"
        for t in report["tables"].values()
    ]
    parts.append("</table>")
    for name, t in report["tables"].items():
        parts += _table(report, name, t)
        if name == LOOKTHROUGH_TABLE:
            parts.append(lookthrough_section(report))
    parts.append(after)
    zone = report.get("timeZone") or "UTC"
    now = local_time(int(dt.datetime.now(dt.UTC).timestamp()), zone)
    parts.append(
        f'<p class="empty">Every row is a record of report.json with its Merkle proof; check it '
        f"with <code>consortium verify</code>. Rendered {now} ({escape(zone)}).</p>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts)
