"""Starting the one-machine day's agents as forks of one preloaded interpreter.

Each agent is its own OS process, with its own key, home, log and process group, exactly as when
an institution runs `consortium agent` on its own machine. What differs is only how it starts:
24 agents each importing brownie and loading the compiled project took 6.4 GB on one machine. Here
a fork server (multiprocessing's "forkserver", started fresh, never a fork of the driver and its
chain connection) imports `consortium.agent.preload` once, and each agent is a fork of it that
shares those pages until it writes to them. An agent's memory is then counted as its proportional
set size (shared pages split between the processes that share them), and the server's own is added
once: the sum is what the day takes from the machine.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import consortium

PRELOAD = ["consortium.agent.preload"]
SRC = Path(consortium.__file__).resolve().parents[1]  # the package the driver runs


def context() -> Any:
    """The fork-server context; the server starts at the first agent and lives as long as we do.

    The server must import the package the driver runs (a worktree's or a CI clone's src/, not
    whatever an editable install points at), and Python 3.11's forkserver ignores the driver's
    sys.path: it inherits the environment, so this checkout's src/ goes first on PYTHONPATH."""
    path = os.environ.get("PYTHONPATH", "")
    if path.split(os.pathsep)[0] != str(SRC):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), path) if p)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start_agent(ident: str, home: Path, out: Path, cwd: Path) -> Any:
    """Start one agent; a started `multiprocessing.Process` (pid, exitcode, join)."""
    proc = context().Process(
        target=_agent_main, args=(ident, str(home), str(out), str(cwd)), name=f"agent {ident}"
    )
    proc.start()
    return proc


def _agent_main(ident: str, home: str, out: str, cwd: str) -> None:
    """In the fork: its own process group and session (the driver signals the group), output to
    <home>/process.out, then what `consortium agent` runs."""
    os.setsid()
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    os.environ.pop("CONSORTIUM_PASSPHRASE", None)  # the home's passphrase file is the one to use
    from consortium.agent.runner import run_institution
    from consortium.inputs import CommandError

    try:
        code = run_institution(ident, home)
    except CommandError as exc:  # as `consortium agent` says it: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()  # a fork's exit skips atexit: flush the agent's log here
    sys.exit(code)


def memory_of(pids: list[int]) -> int:
    """Bytes the agents take together: their proportional set sizes plus their server's once.

    Falls back to resident sizes where /proc has no smaps_rollup (it overcounts shared pages)."""
    import psutil

    total, servers = 0, set()
    for pid in pids:
        try:
            p = psutil.Process(pid)
            total += _pss(p)
            servers.add(p.ppid())
        except psutil.Error:
            continue
    for pid in servers - {os.getpid()}:
        try:
            total += _pss(psutil.Process(pid))
        except psutil.Error:
            continue
    return total


def _pss(p: Any) -> int:
    import psutil

    try:
        return int(p.memory_full_info().pss)
    except (AttributeError, psutil.AccessDenied):
        return int(p.memory_info().rss)
