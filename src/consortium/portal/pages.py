"""The portal's HTML pages: plain server-rendered HTML, one small script (static/portal.js) for
sign-in, table filters, on-demand proof checks and the live feed. No external resource is loaded:
the portal works on a regulator's closed network."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from consortium.reporting.directory import PartyInfo
from consortium.reporting.render_html import CSS as REPORT_CSS
from consortium.reporting.render_html import (
    LOOKTHROUGH_TABLE,
    _cell,
    lookthrough_section,
    readable_table,
)

CSS = REPORT_CSS + """
nav{display:flex;gap:16px;align-items:center;border-bottom:1px solid #d0d7de;padding:0 0 8px}
nav a{color:#0550ae} .who{margin-left:auto;font-size:13px;color:#57606a}
label{font-size:13px;margin-right:6px} input,textarea{font-size:13px}
button{font-size:13px;padding:3px 9px;color:#1f2328;background:#f6f8fa;border:1px solid #8c959f}
.bad{color:#a40e26} #feed li{font-size:13px;margin:2px 0}
"""


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) == 42 else address


def layout(title: str, body: str, who: str | None = None, name: str = "") -> str:
    """A whole page: the navigation, a main landmark, the body."""
    nav = '<a href="/overview">Consortium overview</a>'
    if who:
        nav += (
            f'<a href="/me">My page</a><span class="who">signed in as {escape(name)} '
            f"<code>{escape(short(who))}</code></span>"
            '<form method="post" action="/auth/signout"><button type="submit">Sign out</button>'
            "</form>"
        )
    else:
        nav += '<a href="/signin">Sign in</a>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Consortium Ledger portal</title><style>{CSS}</style>"
        '<script src="/static/portal.js" defer></script></head><body>'
        f'<header><nav aria-label="Portal">{nav}</nav></header>'
        f"<main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def signin_page() -> str:
    body = """
<p>Sign in with your institution's key (Sign-In with Ethereum, EIP-4361). Your wallet signs a
message naming this portal, the chain and a one-time nonce; no transaction is sent and your key
never leaves the wallet.</p>
<p><button type="button" id="wallet-signin">Sign in with your wallet</button></p>
<h2>No browser wallet? Sign the message with your own tool</h2>
<p><label for="address">Your address</label><input id="address" size="44" autocomplete="off">
<button type="button" id="get-message">Get the message</button></p>
<p><label for="message">Message to sign</label><br>
<textarea id="message" rows="10" cols="80" readonly></textarea></p>
<p><label for="signature">Signature (0x…, EIP-191 personal_sign)</label><br>
<input id="signature" size="80" autocomplete="off">
<button type="button" id="send-signature">Sign in</button></p>
<p id="signin-status" role="status" aria-live="polite"></p>
"""
    return layout("Sign in", body)


def unsigned_page() -> str:
    return layout("Sign-in required", '<p>Please <a href="/signin">sign in</a> first.</p>')


def refused_page(reason: str, who: str, name: str) -> str:
    return layout("Not yours to see", f"<p>{escape(reason)}</p>", who, name)


def regulator_home(reg: str, reports: list[Any], who: str, name: str) -> str:
    rows = "".join(
        f'<tr><td>{escape(r.date)}</td><td><a href="/regulators/{reg}/reports/{r.date}/v'
        f'{r.version}">version {r.version}</a></td><td><a href="/regulators/{reg}/reports/'
        f'{r.date}/v{r.version}/report.html">report.html</a></td></tr>'
        for r in sorted(reports, key=lambda r: (r.date, r.version), reverse=True)
    )
    table = (
        "<table><caption>Reports by business day and version</caption><tr><th>Day</th>"
        f"<th>Report</th><th>Report file</th></tr>{rows}</table>"
        if rows
        else '<p class="empty">No report yet.</p>'
    )
    body = f'<p><a href="/regulators/{reg}/feed">Live look-through feed</a></p><h2>Reports</h2>'
    return layout(f"Reports of {name}", body + table, who, name)


def _table_section(report: dict, name: str, spec: dict, base: str) -> str:
    heads, cols, rows, chart = readable_table(report, name, spec)
    ids = [r["id"] for r in report["records"] if r["table"] == name]
    head = f'<h2 id="t-{escape(name)}">{escape(spec["title"])} ({len(rows)})</h2>'
    if not rows:
        return head + '<p class="empty">No records.</p>'
    filt = (
        f'<p><label for="f-{escape(name)}">Filter {escape(spec["title"])}</label>'
        f'<input id="f-{escape(name)}" class="filter" data-table="tbl-{escape(name)}" '
        'type="search"></p>'
    )
    cells = "".join(f'<th scope="col">{escape(c)}</th>' for c in heads)
    out = [
        head,
        filt,
        chart,
        f'<table id="tbl-{escape(name)}"><tr><th scope="col">proof</th>{cells}</tr>',
    ]
    for rid, r in zip(ids, rows, strict=True):
        button = (
            f'<button type="button" class="verify" data-url="{base}/records/{escape(rid)}/verify"'
            f' aria-label="Verify record {escape(rid)}">Verify</button>'
            f'<span class="result" role="status"></span>'
        )
        out.append(
            f'<tr class="record" data-id="{escape(rid)}"><td>{button}</td>'
            + "".join(_cell(r.get(c, "")) for c in cols)
            + "</tr>"
        )
    out.append("</table>")
    return "".join(out)


def report_page(
    report: dict,
    base: str,
    opened: bool,
    who: str,
    name: str,
    feed: str = "",
    since: list[dict] | None = None,
) -> str:
    """A report's page: its tables with proof buttons, the look-through positions sealed to the
    regulator (opened with its key when the portal holds it), and the live feed's items since."""
    a = report["anchor"]
    meta = (
        f'<div class="meta"><b>Business day</b><span>{escape(report["date"])}</span>'
        f"<b>Version</b><span>{a['version']}</span><b>Merkle root</b><span><code>"
        f"{escape(a['root'])}</code>, {a['recordCount']} records</span><b>Sealed fields</b><span>"
        + ("opened with your key" if opened else "sealed (no key given to this portal)")
        + f'</span></div><p><a href="{base}/report.html">The report file (HTML)</a>'
        + (f' · <a href="{escape(feed)}">Live look-through feed</a>' if feed else "")
        + "</p>"
    )
    sections = []
    for n, t in report["tables"].items():
        sections.append(_table_section(report, n, t, base))
        if n == LOOKTHROUGH_TABLE:
            sections.append(lookthrough_section(report))
    if feed:
        sections.append(since_section(since or [], feed))
    title = f"Report {report['date']} version {a['version']}"
    return layout(title, meta + "".join(sections), who, name)


def since_section(items: list[dict], feed: str) -> str:
    """The live feed's items after the report's last block (portal/feed.py), as the feed shows
    them, with the link to the feed itself."""
    lines = "".join(f"<li>{escape(event_line(e))}</li>" for e in items)
    return (
        f'<h2 id="since">Since the report ({len(items)})</h2><p>What the chain has added since '
        f'this report\'s last record, from the <a href="{escape(feed)}">live look-through '
        "feed</a> (not part of the anchored report).</p>"
        + (f'<ol id="since-items">{lines}</ol>' if lines else '<p class="empty">Nothing yet.</p>')
    )


def feed_page(reg: str, events: list[dict], after: int, who: str, name: str) -> str:
    items = "".join(f"<li>{escape(event_line(e))}</li>" for e in events)
    body = (
        "<p>Events of the chain that name an institution you supervise, as blocks arrive.</p>"
        f'<p id="feed-state" role="status">connecting…</p><ol id="feed" aria-live="polite" '
        f'data-source="/regulators/{reg}/feed/events?after={after}">{items}</ol>'
    )
    return layout("Live look-through feed", body, who, name)


def event_line(e: dict) -> str:
    if "text" in e:  # a feed item (portal/feed.py): clearing data, opened records
        return e["text"]
    args = ", ".join(f"{k}={short(str(v))}" for k, v in e["args"].items())
    return f"block {e['block']} · {e['line']} · {e['contract']} · {e['event']}({args})"


def member_rows(members: list[PartyInfo], names: dict[str, str]) -> str:
    return "".join(
        f"<tr><td>{escape(names.get(m.address.lower(), short(m.address)))}</td>"
        f"<td><code>{escape(m.address)}</code></td><td>{escape(m.jurisdiction)}</td>"
        f"<td>{escape(', '.join(sorted(m.roles)))}</td>"
        f"<td>{escape(names.get(m.regulator.lower(), short(m.regulator)))}</td></tr>"
        for m in members
    )


def overview_page(
    members: list[PartyInfo],
    channels: list[tuple[str, str]],
    progress: dict[str, Counter],
    names: dict[str, str],
    who: str,
    name: str,
) -> str:
    def n(a: str) -> str:
        return escape(names.get(a.lower(), short(a)))

    chans = "".join(f"<li>{n(a)} ↔ {n(b)}</li>" for a, b in channels)
    lines = "".join(
        f'<tr><td>{escape(line)}</td><td class="num">{sum(c.values())}</td>'
        f"<td>{escape(', '.join(f'{k} {v}' for k, v in sorted(c.items())))}</td></tr>"
        for line, c in sorted(progress.items())
    )
    body = (
        '<h2>Members</h2><table><tr><th scope="col">Name</th><th scope="col">Address</th>'
        '<th scope="col">Jurisdiction</th><th scope="col">Roles</th>'
        f'<th scope="col">Regulator</th></tr>{member_rows(members, names)}</table>'
        f"<h2>Channels</h2><ul>{chans or '<li>none</li>'}</ul>"
        '<h2>Progress per line (recent blocks)</h2><table><tr><th scope="col">Line</th>'
        f'<th scope="col">Events</th><th scope="col">By event</th></tr>{lines}</table>'
    )
    return layout("Consortium overview", body, who, name)


def institution_page(
    info: PartyInfo, channels: list[str], home: dict[str, list[str]] | None, names: dict, name: str
) -> str:
    chans = "".join(f"<li>{escape(names.get(c.lower(), short(c)))}</li>" for c in channels)
    body = (
        f'<div class="meta"><b>Address</b><span><code>{escape(info.address)}</code></span>'
        f"<b>Jurisdiction</b><span>{escape(info.jurisdiction)}</span><b>Roles</b><span>"
        f"{escape(', '.join(sorted(info.roles)))}</span><b>Regulator</b><span>"
        f"{escape(names.get(info.regulator.lower(), info.regulator))}</span></div>"
        f"<h2>Channels</h2><ul>{chans or '<li>none</li>'}</ul>"
    )
    if home is None:
        body += '<p class="empty">No agent home given to this portal (--homes).</p>'
    for folder, files in (home or {}).items():
        items = "".join(f"<li>{escape(f)}</li>" for f in files) or "<li>none</li>"
        body += f"<h2>{escape(folder)}</h2><ul>{items}</ul>"
    return layout(name, body, info.address, name)
