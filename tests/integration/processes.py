"""What the process-day tests share: one line's tiny day played by its institutions' agents on the
test's chain, and the facts every such day must show (one agent per institution, each sending with
its own key, exiting 0 with a clean log; none left running afterwards)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from consortium.dayrun import DayOptions, run_processes_day
from consortium.localchain import pid_alive
from tests.agent.harness import WAIT_SECONDS

SEED = 20261205


def options(out: Path, line: str, consortium: str | None = None, **kw: Any) -> DayOptions:
    """A tiny day of `line` into `out`; `consortium` is the YAML text of a smaller consortium
    (written into `out`), or None for the project's own config/consortium.yaml."""
    config = "config/consortium.yaml"
    if consortium is not None:
        out.mkdir(parents=True, exist_ok=True)
        config = str(out / "consortium.yaml")
        Path(config).write_text(consortium)
    return DayOptions(
        config=config,
        size="tiny",
        seed=SEED,
        out=out,
        lines=(line,),
        fast_keys=True,
        timeout=WAIT_SECONDS,
        **kw,
    )


def play(accounts: Any, out: Path, line: str, consortium: str | None = None, **kw: Any):
    """The day's outcome (its `view` is the driver's own, to read the checks again)."""
    return run_processes_day(accounts, options(out, line, consortium, **kw), Console(quiet=True))


def failed(outcome: Any) -> dict:
    """What made a day fail, for an assertion's message."""
    return {
        "checks": {r.line: [k for k, ok in r.checks.items() if not ok] for r in outcome.results},
        "reports": outcome.reports.get("ok"),
        "exit codes": {a.ident: a.exit_code for a in outcome.agents},
        "agents": outcome.agents,
    }


def assert_one_clean_agent_each(outcome: Any, out: Path, agents: set[str]) -> dict[str, Any]:
    """One agent per institution of the line, started once, each sending with its own key (the
    line's transactions are exactly theirs), nothing refused, exit 0 and a clean log; returns each
    agent's figures for the line's own assertions."""
    stats = {a.ident: a for a in outcome.agents}
    assert set(stats) == agents
    assert all(a.exit_code == 0 and a.starts == 1 for a in stats.values()), stats
    assert all(a.transactions > 0 for a in stats.values()), stats
    assert sum(a.transactions for a in stats.values()) == outcome.results[0].transactions
    assert outcome.transactions == outcome.results[0].transactions and outcome.shared == (0, 0)
    assert all(a.rejected == 0 for a in stats.values()), stats
    for ident in agents:
        log = (out / "agents" / ident / "agent.log").read_text()
        assert "stopped cleanly" in log and " ERROR " not in log, (ident, log[-3000:])
    return stats


def assert_no_agent_left(outcome: Any, agents: set[str]) -> None:
    assert len(outcome.pids) == len(agents)
    assert not [pid for pid in outcome.pids if pid_alive(pid)]
