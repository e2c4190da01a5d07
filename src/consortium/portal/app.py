"""The portal's aiohttp application: routes, who may see what, the live feed's poller.

Access: every page but sign-in needs a session (401 otherwise); a regulator's pages and feed are
its own only (403 for anyone else, another regulator included); an institution's page is its own
only. Chain calls run in worker threads so a slow node never stalls the other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from consortium.portal import pages
from consortium.portal.auth import COOKIE, NotAMember, Sessions, SignIn, SignInRefused
from consortium.portal.chainview import ChainView
from consortium.portal.feed import RegulatorFeed
from consortium.portal.reports import find_report, list_reports, regulator_address
from consortium.reporting.builder import open_report
from consortium.reporting.verify import ReportFileError, load_report

STATIC = Path(__file__).resolve().parent / "static"
HTML = "text/html"


@dataclass
class Portal:
    """What the routes read: the chain, the reports, the sign-in, the regulators' opening keys."""

    view: ChainView
    reports: Path
    sign_in: SignIn
    sessions: Sessions
    keys: dict[str, bytes] = field(default_factory=dict)  # regulator (lower) -> private key
    names: dict[str, str] = field(default_factory=dict)  # address (lower) -> display name
    homes: dict[str, Path] = field(default_factory=dict)  # address (lower) -> agent home
    poll_seconds: float = 0.5
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False  # the server stops: live feeds end so the shutdown does not wait on them
    feeds: dict[str, RegulatorFeed] = field(default_factory=dict)  # regulator (lower) -> feed

    def name(self, address: str) -> str:
        return self.names.get(address.lower(), pages.short(address))

    def feed(self, regulator: str) -> RegulatorFeed:
        """The regulator's feed (the same module as `consortium watch`), opening its sealed
        records with its keystore's key when the portal holds it."""
        reg = regulator.lower()
        if reg not in self.feeds:
            self.feeds[reg] = RegulatorFeed(self.view, reg, self.keys.get(reg))
        return self.feeds[reg]


KEY = web.AppKey("portal", Portal)


def _portal(request: web.Request) -> Portal:
    return request.app[KEY]


def _signed(request: web.Request) -> str:
    """The signed-in address; 401 without a valid session (absent, altered or expired)."""
    who = _portal(request).sessions.read(request.cookies.get(COOKIE))
    if who is None:
        raise web.HTTPUnauthorized(text=pages.unsigned_page(), content_type=HTML)
    return who


def _own(request: web.Request, what: str) -> str:
    """The signed-in address when it is the page's `{address}` (or the id of that regulator);
    403 for anyone else."""
    who, p = _signed(request), _portal(request)
    if regulator_address(p.reports, request.match_info["address"]).lower() != who.lower():
        reason = f"This {what} belongs to another member; you are signed in as {p.name(who)}."
        raise web.HTTPForbidden(
            text=pages.refused_page(reason, who, p.name(who)), content_type=HTML
        )
    return who


# ------------------------------------------------------------------ sign-in
async def challenge(request: web.Request) -> web.Response:
    address = request.query.get("address", "")
    try:
        text = _portal(request).sign_in.challenge(address)
    except ValueError as exc:  # not an address: siwe's model refuses it
        return web.json_response(
            {"error": f"not an address ({exc.__class__.__name__})"}, status=400
        )
    return web.json_response({"message": text})


async def signin(request: web.Request) -> web.Response:
    p = _portal(request)
    try:
        body = await request.json()
        address = p.sign_in.check(str(body["message"]), str(body["signature"]))
        info = await asyncio.to_thread(p.view.who, address)
        if info is None:
            raise NotAMember(f"{address} is not an active member of this consortium")
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "send JSON {message, signature}"}, status=400)
    except SignInRefused as exc:
        status = 403 if isinstance(exc, NotAMember) else 401
        return web.json_response({"error": str(exc), "reason": type(exc).__name__}, status=status)
    home = _home_of(address, info.roles)
    resp = web.json_response({"address": address, "home": home})
    resp.set_cookie(COOKIE, p.sessions.issue(address), httponly=True, samesite="Strict", path="/")
    return resp


def _home_of(address: str, roles: frozenset[str]) -> str:
    kind = "regulators" if "REGULATOR" in roles else "institutions"
    return f"/{kind}/{address}"


async def signout(request: web.Request) -> web.Response:
    resp = web.HTTPSeeOther("/signin")
    resp.del_cookie(COOKIE, path="/")
    raise resp


async def signin_page(request: web.Request) -> web.Response:
    return web.Response(text=pages.signin_page(), content_type=HTML)


async def me(request: web.Request) -> web.Response:
    who = _signed(request)
    info = await asyncio.to_thread(_portal(request).view.who, who)
    if info is None:
        raise web.HTTPForbidden(text="no longer an active member")
    raise web.HTTPFound(_home_of(who, info.roles))


# ------------------------------------------------------------------ regulators
async def regulator_home(request: web.Request) -> web.Response:
    who, p = _own(request, "regulator's portal"), _portal(request)
    refs = [r for r in list_reports(p.reports) if r.regulator == who.lower()]
    return web.Response(text=pages.regulator_home(who, refs, who, p.name(who)), content_type=HTML)


def _report(request: web.Request) -> tuple[str, dict, str]:
    """(signed-in regulator, its report (sealed fields opened when the portal has its key), the
    report's URL); 403 for another's, 404 when there is no such report."""
    who, p = _own(request, "report"), _portal(request)
    date, version = request.match_info["date"], int(request.match_info["version"])
    ref = find_report(p.reports, who, date, version)
    if ref is None:
        raise web.HTTPNotFound(text=f"no report of {date} version {version}")
    try:
        report = load_report(ref.json_path)
    except ReportFileError as exc:
        raise web.HTTPInternalServerError(text=str(exc)) from None
    key = p.keys.get(who.lower())
    base = f"/regulators/{request.match_info['address']}/reports/{date}/v{version}"
    return who, (open_report(report, key) if key else report), base


def _opened_view(p: Portal, who: str, report: dict) -> tuple[dict, list[dict]]:
    """The report with the look-through records sealed to `who` opened with its key (the feed's
    opening, read from the chain), and the feed's items since the report's last block."""
    opener = p.view.sealed_opener()
    key = p.keys.get(who.lower())
    if opener is not None and key is not None:
        report = opener.open(report, key)
    last = max((int(r["chain"]["blockNumber"]) for r in report["records"]), default=0)
    since = p.feed(who.lower()).items([e for e in list(p.view.events) if e.block > last])
    return report, since


async def report_page(request: web.Request) -> web.Response:
    who, report, base = _report(request)
    p = _portal(request)
    report, since = await asyncio.to_thread(_opened_view, p, who, report)
    opened = who.lower() in p.keys
    feed = f"/regulators/{request.match_info['address']}/feed"
    page = pages.report_page(report, base, opened, who, p.name(who), feed, since)
    return web.Response(text=page, content_type=HTML)


async def report_html(request: web.Request) -> web.Response:
    from consortium.reporting.render_html import render_html

    who, report, _base = _report(request)
    report, since = await asyncio.to_thread(_opened_view, _portal(request), who, report)
    after = pages.since_section(since, f"/regulators/{request.match_info['address']}/feed")
    return web.Response(text=render_html(report, after), content_type=HTML)


async def verify(request: web.Request) -> web.Response:
    _who, report, _base = _report(request)
    check = await asyncio.to_thread(_portal(request).view.verify, report, request.match_info["rid"])
    root = report["anchor"]["root"]
    return web.json_response({"id": check.id, "ok": check.ok, "reason": check.reason, "root": root})


def _concerning(p: Portal, reg: str, after: int = 0) -> list[dict]:
    """The regulator's feed items of the events kept since `after` (portal/feed.py)."""
    return p.feed(reg).items([e for e in list(p.view.events) if e.seq > after])


async def feed_page(request: web.Request) -> web.Response:
    who, p = _own(request, "feed"), _portal(request)
    backlog = (await asyncio.to_thread(_concerning, p, who.lower()))[-50:]
    after = max((e.seq for e in list(p.view.events)), default=0)
    return web.Response(
        text=pages.feed_page(who, backlog, after, who, p.name(who)), content_type=HTML
    )


async def feed_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each chain event concerning the regulator, from the moment of asking
    (the page shows the backlog already), as the poller reads new blocks."""
    who, p = _own(request, "feed"), _portal(request)
    reg = who.lower()
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    last = int(request.headers.get("Last-Event-ID") or request.query.get("after") or 0)
    await resp.write(b": connected\n\n")
    while not p.closing:
        for e in await asyncio.to_thread(_concerning, p, reg, last):
            await resp.write(f"id: {e['seq']}\nevent: chain\ndata: {json.dumps(e)}\n\n".encode())
            last = e["seq"]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(p.changed.wait(), 15)
            continue
        await resp.write(b": still here\n\n")
    return resp


# ------------------------------------------------------------------ everyone
async def overview(request: web.Request) -> web.Response:
    who, p = _signed(request), _portal(request)

    def read() -> tuple[list, list]:
        members = p.view.members()
        return members, p.view.channels(members)

    members, channels = await asyncio.to_thread(read)
    return web.Response(
        text=pages.overview_page(members, channels, p.view.progress(), p.names, who, p.name(who)),
        content_type=HTML,
    )


async def institution_page(request: web.Request) -> web.Response:
    who, p = _own(request, "institution's page"), _portal(request)

    def read() -> tuple[Any, list[str]]:
        info = p.view.who(who)
        others = [m for m in p.view.members() if m.address.lower() != who.lower()]
        return info, [m.address for m in others if p.view.registry.channelOpen(who, m.address)]

    info, channels = await asyncio.to_thread(read)
    if info is None:
        raise web.HTTPForbidden(text="no longer an active member")
    home = p.homes.get(who.lower())
    listing = None if home is None else _home_listing(home)
    return web.Response(
        text=pages.institution_page(info, channels, listing, p.names, p.name(who)),
        content_type=HTML,
    )


HOME_FOLDERS = {
    "inbox": "Inbox (waiting)",
    "done": "Done",
    "rejected": "Rejected",
    "outbox": "Outbox",
}


def _home_listing(home: Path) -> dict[str, list[str]]:
    """The agent home's business files by folder (names only: the files stay on the agent) and the
    decisions it queued for a person (outbox/decisions/, still `queued`)."""
    out = {
        title: sorted(f.name for f in (home / folder).glob("*") if f.is_file())[-50:]
        for folder, title in HOME_FOLDERS.items()
    }
    pending = []
    for path in sorted((home / "outbox" / "decisions").glob("*.json")):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            d = json.loads(path.read_text(encoding="utf-8"))
            if d.get("status") == "queued":
                pending.append(
                    f"{d['item']} ({d['kind']}): consortium decide {d['item']} accept|reject"
                )
    out["Pending decisions"] = pending
    return out


async def index(request: web.Request) -> web.Response:
    if _portal(request).sessions.read(request.cookies.get(COOKIE)) is None:
        raise web.HTTPFound("/signin")
    raise web.HTTPFound("/me")


# ------------------------------------------------------------------ the application
async def _poller(app: web.Application) -> Any:
    p = app[KEY]

    async def run() -> None:
        while True:
            try:
                new = await asyncio.to_thread(p.view.poll)
            except Exception:  # noqa: BLE001 - a node hiccup: the next poll tries again
                new = []
            if new:
                changed, p.changed = p.changed, asyncio.Event()
                changed.set()
            await asyncio.sleep(p.poll_seconds)

    task = asyncio.create_task(run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _end_feeds(app: web.Application) -> None:
    app[KEY].closing = True
    app[KEY].changed.set()


def create_app(portal: Portal) -> web.Application:
    app = web.Application()
    app[KEY] = portal
    app.cleanup_ctx.append(_poller)
    app.on_shutdown.append(_end_feeds)
    reg = "/regulators/{address}"
    rep = reg + r"/reports/{date}/v{version:\d+}"
    app.add_routes(
        [
            web.get("/", index),
            web.get("/signin", signin_page),
            web.get("/auth/challenge", challenge),
            web.post("/auth/signin", signin),
            web.post("/auth/signout", signout),
            web.get("/me", me),
            web.get("/overview", overview),
            web.get(reg, regulator_home),
            web.get(rep, report_page),
            web.get(rep + "/report.html", report_html),
            web.post(rep + "/records/{rid}/verify", verify),
            web.get(reg + "/feed", feed_page),
            web.get(reg + "/feed/events", feed_events),
            web.get("/institutions/{address}", institution_page),
            web.static("/static", STATIC),
        ]
    )
    return app
