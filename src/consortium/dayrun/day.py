"""The business day played by a consortium of processes: one agent per institution.

The driver (this process) is the consortium's operations office and the banks' back offices, nothing
more: it deploys and admits the consortium, makes each agent's home (keystore, agent.yaml) under the
day's folder, starts the agents, drops each institution's business files into its inbox when its own
systems would (phase by phase: a payroll once the accounts are open), and follows the day by reading
the chain and the agents' outboxes only. No Python object is shared with an agent. Then the
regulators' reports are built and verified as in the in-process day (consortium.demo).

Layout of the day's folder (`--out`, default reports/):
    agents/<id>/        each agent's home: agent.yaml, keystore.json, store.sqlite, inbox/, done/,
                        rejected/, outbox/, agent.log (its log), process.out (its stdout/stderr)
    passphrase          the day's keystore passphrase (0600; see consortium.dayrun.homes)
    deployment.json     the suite's deployment record the agents load
    driver.log          the driver's own chain output (brownie's transaction lines), unless
                        --verbose
    <reports>           the regulators' reports, as `consortium demo`
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from consortium.bootstrap import DEFAULT_SEED
from consortium.dayrun.lines import (
    CONTRACT_LINES,
    LINES,
    DayLine,
    agent_institutions,
    agent_roles,
    playable,
)
from consortium.dayrun.procs import AgentProcess, AgentProcesses
from consortium.dayrun.stats import AgentStats, agent_stats, by_line, by_sender, chain_activity
from consortium.inputs import CommandError
from consortium.scenarios import LineResult
from consortium.scenarios.files import DayView

# seconds for every agent to unlock its key, connect and run its roles: 24 agents took over 180 s
# on the 2-core machine shared with other test runs (load 45); an agent that dies fails at once
START_TIMEOUT = 600.0
BUSINESS_TIMEOUT = 900.0  # the business part of the smallest days, at least
SECONDS_PER_RECORD = 0.5  # and this per sized record (the medium day took 0.13 s per record)


class NothingToPlay(CommandError):
    """No line asked for has agents and input files yet."""


class DayTimeout(RuntimeError):
    """The day did not end within its deadline; names the line and the phase it waited for."""


@dataclass
class DayOptions:
    config: str = "config/consortium.yaml"
    size: str = "quick"
    seed: int = DEFAULT_SEED
    out: Path = Path("reports")
    lines: tuple[str, ...] = LINES
    fast_keys: bool = False
    chaos: bool = False
    chaos_every: float = 4.0  # seconds between two kills (jittered)
    chaos_min_kills: int = 0  # the day is not over before this many kills (a test's "a few")
    verbose: bool = False
    timeout: float | None = None  # seconds for the business part (None: day_timeout(sizes))
    poll: float = 0.5  # seconds between two looks at the chain and the outboxes
    reports: bool = True


@dataclass
class DayOutcome:
    """What the multi-process day did; `ok` when every check held and every agent exited 0."""

    results: list[LineResult]
    agents: list[AgentStats]
    # (transactions, gas) of institutions of several lines to contracts several lines use: in the
    # day's totals, in no line's row (dayrun.stats.by_line)
    shared: tuple[int, int] = (0, 0)
    reports: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    kills: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0
    pids: list[int] = field(default_factory=list)
    # the driver's view of the day (its suite, the agents' homes, the seeded sizes): the lines'
    # checks read it, and a caller may read them again against it, or against a changed copy
    view: DayView | None = None

    @property
    def transactions(self) -> int:
        """The day's business transactions, each counted once."""
        return sum(r.transactions for r in self.results) + self.shared[0]

    @property
    def gas(self) -> int:
        return sum(r.gas for r in self.results) + self.shared[1]

    @property
    def ok(self) -> bool:
        return (
            all(r.ok for r in self.results)
            and self.reports.get("ok", True)
            and all(a.exit_code == 0 for a in self.agents)
        )


@dataclass
class _Day:
    """The day under way (what the steps below hand each other)."""

    opts: DayOptions
    cfg: Any
    cfg_path: Path
    folder: Path
    lines: list[DayLine]
    suite: Any = None
    members: Any = None
    manager: Any = None  # the permission manager (the founder's key): the operations office
    view: Any = None
    procs: Any = None
    first_block: int = 0
    first_day: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def run_processes_day(accounts: Any, opts: DayOptions, console: Any) -> DayOutcome:
    """Play the day with one agent process per institution; every agent is stopped on return,
    on an error and on Ctrl-C."""
    from consortium.chain import ROOT
    from consortium.config import load_consortium, load_sizes

    t0 = time.perf_counter()
    cfg_path = Path(opts.config) if Path(opts.config).is_absolute() else ROOT / opts.config
    cfg = load_consortium(cfg_path)
    sizes = load_sizes(ROOT / "config/day-sizes.yaml", opts.size)
    roles = agent_roles()
    lines, skipped = playable(tuple(opts.lines), roles)
    for reason in skipped:
        console.print(f"[yellow]{reason}[/yellow]")
    if not lines:
        raise NothingToPlay("no line asked for has agents yet; run `consortium demo --in-process`")
    folder = Path(opts.out).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "agents", ignore_errors=True)  # a new suite: new homes
    day = _Day(opts, cfg, cfg_path, folder, lines)
    with _quiet(folder, opts.verbose):
        _setup_chain(day, accounts, console)
    idents = agent_institutions(cfg, lines, roles)
    day.view = DayView(day.suite, {}, cfg, sizes, opts.seed)
    _make_homes(day, idents, sizes)
    procs = AgentProcesses([AgentProcess(i, day.view.homes[i], ROOT) for i in idents])
    day.procs = procs
    with procs:
        t1 = time.perf_counter()
        console.print(f"starting {len(idents)} agents: {', '.join(idents)}")
        procs.start_all(START_TIMEOUT)
        day.seconds["agents_start"] = time.perf_counter() - t1
        _follow(day, console)
        # an agent restarted by the chaos monkey a moment ago stops cleanly only once it runs
        procs.wait_started(list(procs.agents.values()), START_TIMEOUT)
        procs.stop_all()
    outcome = _outcome(day, skipped)
    if opts.reports:
        t1 = time.perf_counter()
        with _quiet(folder, opts.verbose):
            outcome.reports = _reports(day, console)
        day.seconds["reports"] = time.perf_counter() - t1
    day.seconds["total"] = time.perf_counter() - t0
    outcome.seconds = dict(day.seconds)
    return outcome


def _quiet(folder: Path, verbose: bool) -> contextlib.AbstractContextManager[None]:
    """brownie's per-transaction lines (and the indexer's progress bar) go to <day>/driver.log
    unless --verbose (as the in-process day's)."""
    from consortium.demo import quiet_lines

    return quiet_lines(folder, verbose)


def _setup_chain(day: _Day, accounts: Any, console: Any) -> None:
    """Deploy the suite for the consortium file, admit the institutions, record the deployment."""
    from consortium import chain
    from consortium.bootstrap import bootstrap_consortium, deploy_for
    from consortium.reporting.days import suite_day

    founder = accounts[0]
    t0 = time.perf_counter()
    console.print("deploying the suite …")
    day.suite = deploy_for(founder, day.cfg, day.opts.seed, record=False)
    day.seconds["deploy"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    console.print(
        f"admitting {len(day.cfg.institutions)} institutions, {len(day.cfg.channels)} channels …"
    )
    day.members, day.manager = bootstrap_consortium(
        day.suite, day.cfg, founder, accounts, day.opts.seed
    )
    day.seconds["bootstrap"] = time.perf_counter() - t0
    w3 = chain.web3()
    day.first_block = int(w3.eth.block_number) + 1
    day.first_day = suite_day(day.suite, w3)  # in the anchor's business time zone
    record = chain.DeploymentRecord(
        network=chain.network_name(),
        chain_id=int(w3.eth.chain_id),
        block=day.suite.block,
        block_hash="0x" + bytes(w3.eth.get_block(day.suite.block)["hash"]).hex(),
        deployer=founder.address,
        contracts=day.suite.addresses(),
        compiler=chain.compiler_settings(),
    )
    (day.folder / "deployment.json").write_text(json_text(asdict(record)))


def json_text(data: Any) -> str:
    import json

    return json.dumps(data, indent=2) + "\n"


def _make_homes(day: _Day, idents: list[str], sizes: dict) -> None:
    """Each agent's home, and each line's input files (seeded, as the in-process day's sizes)."""
    from consortium import chain
    from consortium.dayrun.homes import make_homes

    t0 = time.perf_counter()
    settings: dict[str, dict] = {}
    for line in day.lines:
        size = sizes.get(line.name, {})
        for ident, fields in line.module.agent_settings(day.cfg, size, day.opts.seed).items():
            settings.setdefault(ident, {}).update(fields)
        line.files = line.module.input_files(day.cfg, size, day.opts.seed)
    chain_fields = {
        "network": chain.network_name(),
        "rpc": chain.rpc_url(),
        "deployments": str(day.folder / "deployment.json"),
        "poll_seconds": 0.2,
    }
    homes = make_homes(
        day.folder,
        idents,
        day.cfg_path,
        day.opts.seed,
        chain_fields,
        settings,
        day.opts.fast_keys,
    )
    day.view.homes = dict(homes.homes)
    day.seconds["keys_and_homes"] = time.perf_counter() - t0


def _follow(day: _Day, console: Any) -> None:
    """Drop each line's files phase by phase and wait for every line's end; the chaos monkey kills
    and restarts a random agent every few seconds meanwhile."""
    opts, procs = day.opts, day.procs
    t0 = time.perf_counter()
    timeout = opts.timeout if opts.timeout is not None else day_timeout(day.view.sizes)
    deadline = time.monotonic() + timeout
    chaos = None
    if opts.chaos:
        chaos = Chaos(procs, opts.chaos_every, random.Random(f"{opts.seed}:chaos"))
    node = NodeRetry()
    while any(line.finished_at is None for line in day.lines) or (
        chaos is not None and chaos.kills < opts.chaos_min_kills
    ):
        procs.check_alive()
        procs.sample_rss()
        node.attempt(lambda: _look(day, console, t0), console)
        if chaos is not None:
            chaos.step(console)
        if time.monotonic() > deadline:
            raise DayTimeout(_waiting_for(day.lines, timeout))
        time.sleep(opts.poll)
    day.seconds["business"] = time.perf_counter() - t0


def _look(day: _Day, console: Any, t0: float) -> None:
    """One look at the day: each line governed, its next phases dropped as they become ready
    (reads, and governance acts that ask the chain first: safe to repeat after a node error)."""
    for line in day.lines:
        if line.finished_at is None and line.governed:
            with _quiet(day.folder, day.opts.verbose):
                line.govern(day.view, day.manager)
        others_done = all(o.finished_at is not None for o in day.lines if o is not line)
        _advance(line, day.view, console, t0, others_done)


class NodeUnreachable(RuntimeError):
    """The node failed every try of one look at the day: the day ends, saying so."""


# what a node that is passing through trouble raises under the driver's reads: the builtin
# ConnectionError covers ConnectionResetError / ConnectionRefusedError / BrokenPipeError
TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass
class NodeRetry:
    """A look at the day that failed on a passing node error (a reset connection under a large
    day's load, a timeout) is tried again after a short backoff instead of killing the day; after
    `tries` failures in a row the day ends with NodeUnreachable naming the last error."""

    tries: int = 6
    backoff: float = 0.5  # seconds before the first retry, doubled each time up to `longest`
    longest: float = 8.0
    sleep: Any = time.sleep

    def attempt(self, look: Any, console: Any) -> Any:
        wait = self.backoff
        for n in range(1, self.tries + 1):
            try:
                return look()
            except TRANSIENT as exc:
                if n == self.tries:
                    raise NodeUnreachable(
                        f"the node did not answer the driver {self.tries} times in a row "
                        f"(last: {type(exc).__name__}: {exc}); is it still running?"
                    ) from exc
                console.print(
                    f"[yellow]  node error while following the day ({type(exc).__name__}: "
                    f"{exc}); retrying in {wait:.1f} s ({n}/{self.tries - 1})[/yellow]"
                )
                self.sleep(wait)
                wait = min(wait * 2, self.longest)
        return None


def day_timeout(sizes: dict[str, dict[str, int]]) -> float:
    """The business part's deadline for a day of these sizes (config/day-sizes.yaml): a stuck day
    fails, a large one is not cut off at a deadline sized for the medium day."""
    records = sum(int(v) for line in sizes.values() for v in line.values())
    return max(BUSINESS_TIMEOUT, SECONDS_PER_RECORD * records)


class Chaos:
    """The chaos monkey: SIGKILLs one running agent (one still starting has nothing in flight) and
    starts it again at once (it resumes from its home); the next kill comes `every` seconds
    (jittered) after the victim runs its roles again, so the day moves on between kills."""

    def __init__(self, procs: AgentProcesses, every: float, rng: random.Random):
        self.procs, self.every, self.rng = procs, every, rng
        self.victim: str | None = None
        self.next_kill = time.monotonic() + every
        self.kills = 0

    def step(self, console: Any) -> None:
        if self.victim is not None:
            if not self.procs.agents[self.victim].started():
                return
            self.victim = None
            self.next_kill = time.monotonic() + self.every * self.rng.uniform(0.5, 1.5)
        if time.monotonic() < self.next_kill:
            return
        running = sorted(i for i, a in self.procs.agents.items() if a.running() and a.started())
        if running:
            self.victim = self.rng.choice(running)
            console.print(f"  chaos: SIGKILL {self.victim}, restarted")
            self.procs.restart(self.victim)
            self.kills += 1


def _waiting_for(lines: list[DayLine], timeout: float) -> str:
    waiting = [
        (
            f"{line.name} (phase {line.phases[line.next_phase]})"
            if not line.all_dropped
            else f"{line.name} (its end)"
        )
        for line in lines
        if line.finished_at is None
    ]
    return (
        f"the day did not end within {timeout:.0f} s: waiting for {', '.join(waiting)}; "
        "see the agents' agent.log under the day's agents/ folder"
    )


def _advance(line: DayLine, view: DayView, console: Any, t0: float, others_done: bool) -> None:
    """Drop the line's next phases as they become ready; mark the line finished at its end.

    A line's CLOCK_PHASE (bills' redemption moves a local chain's clock to maturity) waits until
    every other line has finished: the lines run side by side, and a jump of days under a line
    that reads the clock (reconciliation's cut-off, report days) would move its day."""
    while not line.all_dropped:
        phase = line.phases[line.next_phase]
        if phase == getattr(line.module, "CLOCK_PHASE", None) and not others_done:
            break
        if not line.module.ready(phase, view):
            break
        files = line.files_of(phase)
        # every file's content first (a payroll reads the platform's outbox): a node error while
        # resolving one drops none of the phase, and the retried look drops them all once
        contents = [(ident, f.name, f.resolve(view)) for ident, f in files]
        for ident, name, content in contents:
            drop(view.homes[ident] / "inbox", name, content)
            line.dropped.append((ident, name))
        line.started_at = line.started_at or time.perf_counter()
        line.next_phase += 1
        console.print(
            f"  {time.perf_counter() - t0:7.1f} s  {line.name}: phase {phase}, "
            f"{len(files)} file(s) dropped"
        )
    if (
        line.all_dropped
        and line.finished_at is None
        and all(view.result(i, n) for i, n in line.dropped)
        and line.module.done(view)
    ):
        line.finished_at = time.perf_counter()
        console.print(f"  {line.finished_at - t0:7.1f} s  {line.name}: day done")


def drop(inbox: Path, name: str, content: bytes) -> Path:
    """Drop a file as a bank's system should: written aside under a dot name, then renamed."""
    tmp = inbox / f".{name}.tmp"
    tmp.write_bytes(content)
    target = inbox / name
    tmp.replace(target)
    return target


def _outcome(day: _Day, skipped: list[str]) -> DayOutcome:
    """Each line's result (its checks, plus its files all done and its transactions from the
    chain) and each agent's figures."""
    from consortium import chain

    w3 = chain.web3()
    activity = chain_activity(w3, day.first_block, int(w3.eth.block_number))
    addresses = {i: inst.address for i, inst in day.members.by_name.items()}
    sender_lines: dict[str, set[str]] = {}
    for line in day.lines:
        for i in day.cfg.institutions:
            if i.id in day.procs.agents and set(line.roles) & set(i.roles):
                sender_lines.setdefault(addresses[i.id].lower(), set()).add(line.name)
    contracts = day.suite.addresses()
    contract_line = {contracts[k].lower(): v for k, v in CONTRACT_LINES.items() if k in contracts}
    per_line, shared = by_line(activity, sender_lines, contract_line)
    results = []
    for line in day.lines:
        r = line.module.checks(day.view)
        r.checks["every input file processed"] = all(
            (day.view.result(i, n) or {}).get("status") == "done" for i, n in line.dropped
        )
        r.transactions, r.gas = per_line.get(line.name, (0, 0))
        if line.started_at is not None and line.finished_at is not None:
            r.window = (line.started_at, line.finished_at)
        results.append(r)
    agents = []
    senders = by_sender(activity)
    for ident, proc in day.procs.agents.items():
        s = agent_stats(ident, proc.home, addresses[ident], senders)
        s.starts, s.kills = proc.starts, proc.kills
        s.exit_code = day.procs.exit_codes.get(ident)
        agents.append(s)
    return DayOutcome(
        results,
        agents,
        shared=shared,
        skipped=skipped,
        kills=sum(a.kills for a in agents),
        peak_rss=day.procs.peak_rss,
        pids=day.procs.pids,
        view=day.view,
    )


def _reports(day: _Day, console: Any) -> dict:
    """Every regulator's report of the day, built, anchored and verified as `consortium demo`."""
    from consortium import chain
    from consortium.demo import write_and_verify_reports
    from consortium.reporting.days import suite_day

    days = sorted({day.first_day, suite_day(day.suite, chain.web3())})
    return write_and_verify_reports(
        day.suite, day.members, day.opts.seed, day.folder, console, days, day.cfg
    )


def print_summary(outcome: DayOutcome, console: Any) -> int:
    """The summary a person reads (as the in-process day's, plus one line per agent); the exit
    code: 0 when every check held."""
    from consortium.demo import key_figures, portal_lines, summary_table

    console.print(summary_table(outcome.results))
    console.print("[bold]key figures[/bold]")
    for text in key_figures(outcome.results):
        console.print(text, soft_wrap=True)
    console.print("[bold]regulators' reports[/bold]")
    for regulator, info in outcome.reports.get("regulators", {}).items():
        console.print(f"  {regulator}: {info}", soft_wrap=True)
    console.print("[bold]agents[/bold] (one process each)")
    for a in outcome.agents:
        console.print(a.line(), soft_wrap=True)
    chaos = f", {outcome.kills} agent kill(s) survived" if outcome.kills else ""
    if outcome.shared[0]:
        console.print(
            f"  (+ {outcome.shared[0]} transaction(s) of institutions in several lines to "
            "contracts several lines use: in the total, in no line's row)"
        )
    console.print(
        f"{outcome.transactions} business transactions, {outcome.gas:,} gas, "
        f"{outcome.seconds.get('total', 0):.1f} s, agents' peak memory "
        f"{outcome.peak_rss / 2**20:,.0f} MB{chaos}; "
        + ("[green]all checks passed[/green]" if outcome.ok else "[red]some checks FAILED[/red]")
    )
    for line in portal_lines(outcome.reports):
        console.print(line, soft_wrap=True)
    return 0 if outcome.ok else 1


def run_processes_demo(accounts: Any, args: Any) -> int:
    """`consortium demo --processes`: the day, its summary, the exit code."""
    from rich.console import Console

    console = Console(file=sys.stdout)  # bound now: brownie's own lines are redirected later
    opts = DayOptions(
        config=args.config,
        size=args.size,
        seed=args.seed,
        out=Path(args.out),
        lines=tuple(getattr(args, "lines", None) or LINES),
        fast_keys=getattr(args, "fast_keys", False),
        chaos=getattr(args, "chaos", False),
        chaos_every=getattr(args, "chaos_every", 4.0),
        verbose=getattr(args, "verbose", False),
        timeout=getattr(args, "timeout", None),
    )
    try:
        outcome = run_processes_day(accounts, opts, console)
    except (DayTimeout, RuntimeError) as exc:
        console.print(f"[red]the day failed: {exc}[/red]")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every agent was stopped[/yellow]")
        return 130
    return print_summary(outcome, console)
