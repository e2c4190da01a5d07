"""The main job: one consortium business day end to end.

validate the consortium file → deploy the suite → admit the institutions and open their channels →
run each business line's day → write and verify every regulator's reports → print a summary.
Exits 1 if any check of any line fails.

A day can stop and resume (a chain stopped mid-day and restarted from its saved state): the out
folder keeps the day's record (`day.json`: suite, lines done and their results), every institution's
store (outboxes) and the reporting node's index. `--stop-after LINE` indexes what happened so far
and stops; `--resume` rebuilds the suite and the members, lets every agent resume its outbox (book
what the chain holds, resend the rest), runs the lines not done and writes the reports (the index
resumes at its cursor). A line is the unit of resumption: one interrupted half-way is refused, not
replayed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import random
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from consortium.bootstrap import bootstrap_consortium, rebuild_members, token_issuers
from consortium.chain import ROOT
from consortium.config import load_consortium, load_sizes
from consortium.deploy import deploy_all, suite_at
from consortium.scenarios import DayContext, LineResult

# bills last: its redemption moves a local chain's clock to the bills' maturity (days later)
LINES = ("annuity", "confirmations", "settlement", "bills")
# where `consortium serve` listens by default: the demo prints each report's page under it
PORTAL_URL = "http://127.0.0.1:8600"


def _progress(console: Console | None = None) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
        console=console,
    )


@contextlib.contextmanager
def quiet_lines(folder: Path, verbose: bool) -> Iterator[None]:
    """brownie's per-transaction lines (and the indexer's progress bar) go to <folder>/driver.log
    unless `verbose`: a person reads the summary, not hundreds of transaction lines."""
    if verbose:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with (
        open(folder / "driver.log", "a") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        yield


class ResumeError(RuntimeError):
    """The recorded day cannot be resumed (no record, or a line interrupted half-way)."""


def run_day(
    accounts,
    cfg_path: str,
    size: str,
    seed: int,
    out: Path,
    console: Console,
    stop_after: str | None = None,
    resume: bool = False,
    lines: tuple[str, ...] = LINES,
    seconds: dict[str, float] | None = None,
) -> tuple[list[LineResult], dict]:
    """Run the day's `lines` (or resume the day recorded in `out`); returns each line's result and
    what the reporting step produced ({"stopped_after": line} when stopped after a line).

    `seconds`, if given, receives the wall time of each stage: deploy (or resume), bootstrap, lines,
    reports (each line's business window, first transaction sent to last receipt, is its `window`).
    """
    seconds = {} if seconds is None else seconds
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "day.json"
    if resume:
        if not record_path.exists():
            raise ResumeError(
                f"{record_path}: no day recorded here to resume; run without --resume"
            )
        day = json.loads(record_path.read_text())
        cfg_path, size, seed, lines = day["config"], day["size"], day["seed"], tuple(day["lines"])
    cfg = load_consortium(ROOT / cfg_path if not Path(cfg_path).is_absolute() else cfg_path)
    sizes = load_sizes(ROOT / "config/day-sizes.yaml", size)
    founder = accounts[0]
    t0 = time.perf_counter()
    if resume:
        suite = suite_at(day["suite"], day["block"])
        members, manager = rebuild_members(suite, cfg, founder, accounts, seed)
        results = [LineResult(**r) for r in day["results"]]
        seconds["resume"] = time.perf_counter() - t0
    else:
        suite, members, manager, day = _fresh_day(
            accounts, cfg, (cfg_path, size, seed, lines), out, seconds, console
        )
        results = []
    t_lines = time.perf_counter()
    contexts = _contexts(suite, members, manager, seed, sizes, out)
    if resume:
        _resume_agents(day, contexts, console)
    done = {r.line for r in results}
    for line in (x for x in LINES if x in lines):
        if line in done:
            continue
        try:
            module = importlib.import_module(f"consortium.scenarios.{line}")
        except ModuleNotFoundError as exc:
            if exc.name != f"consortium.scenarios.{line}":
                raise
            console.print(f"[yellow]{line}: no scenario in this build, skipped[/yellow]")
            continue
        result = _run_line(line, module, contexts[line], day, record_path, console)
        results.append(result)
        day["results"].append(asdict(result))
        day["started"] = None
        _save(record_path, day)
        if line == stop_after:
            run = index_day(suite, out)
            console.print(
                f"stopped after {line}: {run.events} events indexed up to block "
                f"{run.to_block}; continue with --resume"
            )
            return results, {"stopped_after": line}
    seconds["lines"] = time.perf_counter() - t_lines
    t0 = time.perf_counter()
    days = sorted({day["first_day"], _chain_day(suite)})
    reports = write_and_verify_reports(suite, members, seed, out, console, days, cfg)
    seconds["reports"] = time.perf_counter() - t0
    return results, reports


def _fresh_day(
    accounts, cfg: Any, given: tuple, out: Path, seconds: dict[str, float], console: Console
) -> tuple[Any, Any, Any, dict]:
    """A new day: the suite deployed, the consortium admitted, the day's record started."""
    cfg_path, size, seed, lines = given
    founder = accounts[0]
    t0 = time.perf_counter()
    suite = deploy_all(
        founder,
        cfg.founder,
        cfg.founder_jurisdiction,
        issuers=token_issuers(cfg, seed),
        business_time_zone=cfg.business_time_zone,
    )
    seconds["deploy"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with _progress(console) as bar:
        task = bar.add_task("admit institutions", total=len(cfg.institutions) + len(cfg.channels))
        members, manager = bootstrap_consortium(
            suite, cfg, founder, accounts, seed, progress=lambda _x: bar.advance(task)
        )
    seconds["bootstrap"] = time.perf_counter() - t0
    # the institutions' stores and mailboxes belong to this run's freshly deployed suite
    shutil.rmtree(out / "work", ignore_errors=True)
    day = {
        "config": str(cfg_path),
        "size": size,
        "seed": seed,
        "lines": list(lines),
        "suite": suite.addresses(),
        "block": suite.block,
        "first_day": _chain_day(suite),
        "started": None,
        "results": [],
    }
    return suite, members, manager, day


def _contexts(
    suite: Any, members: Any, manager: Any, seed: int, sizes: dict, out: Path
) -> dict[str, DayContext]:
    """Each line's context: the suite, the members, its own seeded generator, sizes and folder."""
    return {
        line: DayContext(
            suite=suite,
            members=members,
            manager=manager,
            rng=random.Random(f"{seed}:{line}"),
            size=sizes.get(line, {}),
            workdir=out / "work" / line,
        )
        for line in LINES
    }


def _run_line(
    line: str, module: Any, ctx: DayContext, day: dict, record_path: Path, console: Console
) -> LineResult:
    """One line's day, recorded as started before and timed (its business window) after."""
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    day["started"] = line
    _save(record_path, day)
    t0 = time.perf_counter()
    console.print(f"[bold]{line}[/bold] day …")
    result = module.run_day(ctx)
    result.metrics.setdefault("seconds", round(time.perf_counter() - t0, 2))
    pipe = ctx.pipe
    if pipe is not None and pipe.first_sent_at is not None and pipe.last_collected_at is not None:
        result.window = (pipe.first_sent_at, pipe.last_collected_at)
    return result


def _resume_agents(day: dict, contexts: dict[str, DayContext], console: Console) -> None:
    """Every agent of the lines that ran resumes its outbox: what the chain holds is booked, the
    rest resent. A line interrupted half-way cannot be replayed (its other steps are not keyed)."""
    ran = [r["line"] for r in day["results"]] + ([day["started"]] if day["started"] else [])
    booked = resent = 0
    for line in ran:
        module = importlib.import_module(f"consortium.scenarios.{line}")
        for agent in module.agents(contexts[line]):
            for b in agent.outbox.resume():
                booked += b.source == "chain"
                resent += b.source == "receipt"
    console.print(f"resumed: {booked} batch(es) booked from the chain, {resent} resent")
    if day["started"]:
        raise ResumeError(
            f"line {day['started']} was interrupted half-way: its keyed batches are booked, "
            "but its other steps cannot be replayed; run the day again on a fresh chain"
        )


def _save(path: Path, day: dict) -> None:
    """Write the day's record atomically (a crash leaves the previous record, never half of one)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(day, indent=1, sort_keys=True, default=_plain) + "\n")
    tmp.replace(path)


def _plain(value):
    """JSON for numpy scalars and other values the lines put in their metrics."""
    return value.item() if hasattr(value, "item") else str(value)


def index_day(suite, out: Path):
    """Index the day so far into the reporting node's index (the one the report step reads)."""
    from consortium import chain
    from consortium.reporting import open_index
    from consortium.reporting.rules import load_rules

    indexer = open_index(suite, load_rules(), out, chain.web3(), deployment_block=suite.block)
    try:
        return indexer.run()
    finally:
        indexer.dispose()


def _chain_day(suite) -> int:
    """The report day of the latest block: in the suite's ReportAnchor's business time zone."""
    from consortium import chain
    from consortium.reporting.days import suite_day

    return suite_day(suite, chain.web3())


def write_and_verify_reports(
    suite, members, seed: int, out: Path, console: Console, days: list[int], cfg: Any = None
) -> dict:
    """Every regulator's report of the day: built from the indexed events, anchored by the
    reporting node, written as JSON/CSV/HTML, then verified record by record against the chain.
    With the consortium file `cfg`, reports name the institutions each regulator supervises and
    sit in folders by regulator id."""
    from eth_utils import keccak

    from consortium import chain
    from consortium.domain.encoding import from_hex
    from consortium.envelope import KeyPair
    from consortium.reads import batched
    from consortium.reporting import ReportJob, verify_report
    from consortium.reporting.days import day_date
    from consortium.reporting.directory import Dossier
    from consortium.reporting.output import report_url

    addresses = {ident: inst.address for ident, inst in members.by_name.items()}
    dossier = Dossier.of(cfg, addresses) if cfg is not None else None

    keys, private, sealed_to = {}, {}, {}
    for ident, inst in members.by_name.items():
        # each institution's encryption key is its own, separate from its signing key
        pair = KeyPair(keccak(text=f"consortium-ledger-demo-enc:{seed}:{ident}"))
        keys[inst.address] = pair.public_key
        if "REGULATOR" in members.roles[ident]:
            private[inst.address] = pair.private_key
            # look-through records are sealed to the member's key (roles.lookthrough)
            if getattr(inst.account, "private_key", None) is not None:
                sealed_to[inst.address] = from_hex(inst.account.private_key)
    console.print("[bold]reports[/bold] indexing and building …")
    built = []
    for day in days:  # the business day, and the maturity day the bills' redemption ran on
        built += ReportJob(
            suite,
            day,
            reporter=members.one("REPORTER").account,
            keys=keys,
            private_keys=private,
            lookthrough_keys=sealed_to,
            out=out,
            dossier=dossier,
        ).run()
    names = {inst.address: ident for ident, inst in members.by_name.items()}
    summary: dict = {"regulators": {}, "ok": True, "out": str(out), "portal": []}
    for b in built:
        check = verify_report(b.paths["json"], suite["ReportAnchor"], views=batched(chain.web3()))
        summary["ok"] &= check.ok
        label = f"{names.get(b.regulator, b.regulator)} {day_date(b.day)}"
        summary["regulators"][label] = (
            f"{len(b.report['records'])} records, v{b.version}, "
            f"{'verified on chain' if check.ok else 'VERIFICATION FAILED'}: {b.paths['html']}"
        )
        summary["portal"].append((label, report_url(PORTAL_URL, b.report), str(b.paths["html"])))
    return summary


def portal_lines(reports: dict) -> list[str]:
    """The summary's last lines: the portal command and each regulator's report page on it (with
    the file of its report.html, which opens without the portal too)."""
    if not reports.get("portal"):
        return []
    command = f"consortium serve --reports {reports['out']}"
    lines = [f"[bold]regulators' portal[/bold]: {command}   (then {PORTAL_URL}/)"]
    lines += [f"  {label}: {url}  ({html})" for label, url, html in reports["portal"]]
    return lines


def _fmt(v, key: str = "") -> str:
    """A figure for the summary: wall times in seconds, fractions (efficiencies) as percentages."""
    if key == "seconds" or key.endswith("_seconds"):
        return f"{v:,.2f} s"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2%}" if 0 < v < 1 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def summary_table(results: list[LineResult]) -> Table:
    table = Table(title="Consortium Ledger — business day summary")
    for col in ("line", "business counts", "txs", "gas", "checks"):
        table.add_column(col, overflow="fold")
    for r in results:
        counts = ", ".join(f"{k} {_fmt(v)}" for k, v in r.counts.items())
        failed = [k for k, ok in r.checks.items() if not ok]
        checks = (
            f"[green]{len(r.checks)} ok[/green]"
            if not failed
            else f"[red]FAILED: {', '.join(failed)}[/red]"
        )
        table.add_row(r.line, counts, _fmt(r.transactions), _fmt(r.gas), checks)
    return table


def key_figures(results: list[LineResult]) -> list[str]:
    """One line of figures per business line (netting efficiency, breaks, …), for people."""
    lines = []
    for r in results:
        shown = {
            k: v
            for k, v in r.metrics.items()
            if k != "roots" and (not isinstance(v, (dict, list)) or v)
        }
        lines.append(
            f"  {r.line:14} "
            + "; ".join(f"{k.replace('_', ' ')} {_fmt(v, k)}" for k, v in shown.items())
        )
    return lines


def run_demo(accounts, args: argparse.Namespace) -> int:
    console = Console(file=sys.stdout)  # bound now: brownie's own lines are redirected below
    t0 = time.perf_counter()
    try:
        with quiet_lines(Path(args.out), getattr(args, "verbose", False)):
            results, reports = run_day(
                accounts,
                args.config,
                args.size,
                args.seed,
                Path(args.out),
                console,
                getattr(args, "stop_after", None),
                getattr(args, "resume", False),
                tuple(getattr(args, "lines", None) or LINES),
            )
    except ResumeError as exc:
        console.print(f"[red]error: {exc}[/red]")
        return 2
    console.print(summary_table(results))
    console.print("[bold]key figures[/bold]")
    for line in key_figures(results):
        console.print(line, soft_wrap=True)
    console.print("[bold]regulators' reports[/bold]")
    for regulator, info in reports.get("regulators", {}).items():
        console.print(f"  {regulator}: {info}", soft_wrap=True)
    ok = all(r.ok for r in results) and reports.get("ok", True)
    elapsed = time.perf_counter() - t0
    txs = sum(r.transactions for r in results)
    console.print(
        f"{txs} business transactions, {sum(r.gas for r in results):,} gas, {elapsed:.1f} s; "
        + ("[green]all checks passed[/green]" if ok else "[red]some checks FAILED[/red]")
    )
    for line in portal_lines(reports):
        console.print(line, soft_wrap=True)
    return 0 if ok else 1
