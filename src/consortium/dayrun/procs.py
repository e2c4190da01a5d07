"""The day's agent processes: started, watched, killed (chaos) and restarted, always stopped.

Why each agent in its own process group: the driver decides when and in which order agents stop
(SIGTERM, then the step in flight finishes and is booked), and a kill reaches whatever an agent
started. Ctrl-C at the terminal reaches the driver only; its handler, `atexit` and the `finally` of
the day all come to `AgentProcesses.stop_all`, so no agent outlives the day.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from consortium.dayrun.launcher import memory_of, start_agent

STARTED = "running roles"  # what agent.log says once an agent's roles run
# seconds between two samples of the agents' memory: the kernel walks each process's pages for its
# proportional size, and sampling 26 agents at every look (0.5 s) took half the driver's CPU on the
# large day, from the same two cores as the chain and the agents; memory moves slower than that
MEMORY_EVERY = 5.0


class AgentDied(RuntimeError):
    """An agent process exited on its own during the day (not killed by the chaos monkey)."""


class AgentSlow(RuntimeError):
    """An agent did not report its roles running within the deadline."""


@dataclass
class AgentProcess:
    """One agent: `consortium agent` on its home in a process of its own, output in
    <home>/process.out."""

    ident: str
    home: Path
    root: Path
    proc: Any = None  # a multiprocessing.Process, forked by launcher.start_agent
    starts: int = 0
    kills: int = 0
    terminated: bool = False  # SIGTERM sent to the current process

    def start(self) -> None:
        """A fork of the day's preloaded agent server (see launcher.py), in its own group."""
        self.proc = start_agent(self.ident, self.home, self.home / "process.out", self.root)
        self.terminated = False
        self.starts += 1

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def exit_code(self) -> int | None:
        return self.proc.exitcode if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def started(self) -> bool:
        """Whether agent.log shows this process's roles running (one line per start)."""
        log = self.home / "agent.log"
        return log.exists() and log.read_text(errors="replace").count(STARTED) >= self.starts

    def kill(self) -> None:
        """SIGKILL the agent's process group (chaos), and reap it."""
        if self.running():
            self.halt()
            self.kills += 1

    def terminate(self) -> None:
        """SIGTERM, once per process: a second one during the interpreter's exit would meet the
        default handler and kill it mid-exit."""
        if self.running() and not self.terminated:
            _signal_group(self.pid, signal.SIGTERM)
            self.terminated = True

    def halt(self) -> int | None:
        """SIGKILL the process group at once and reap it (not counted as a chaos kill)."""
        if self.running():
            _signal_group(self.pid, signal.SIGKILL)
            self.proc.join(30)
        return self.exit_code

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM and wait (the step in flight is booked); SIGKILL after `timeout`."""
        if self.proc is None:
            return None
        if self.running():
            self.terminate()
            self.proc.join(timeout)
            self.halt()
        return self.exit_code

    def tail(self, n: int = 2000) -> str:
        path = self.home / "process.out"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


class AgentProcesses:
    """Every agent of the day; stopped at exit and on SIGINT/SIGTERM whatever happens."""

    def __init__(self, agents: list[AgentProcess]):
        self.agents = {a.ident: a for a in agents}
        self.exit_codes: dict[str, int | None] = {}
        self.peak_rss = 0
        self._sampled_at = -MEMORY_EVERY
        self._previous: dict[int, Any] = {}
        atexit.register(self.stop_all)

    def __enter__(self) -> Self:
        self._install_signals()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_all()
        self._restore_signals()
        atexit.unregister(self.stop_all)

    def _install_signals(self) -> None:
        if not _main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, _interrupt)

    def _restore_signals(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def start_all(self, timeout: float) -> None:
        """Start every agent and wait until each runs its roles."""
        for a in self.agents.values():
            a.start()
        self.wait_started(list(self.agents.values()), timeout)

    def wait_started(self, agents: list[AgentProcess], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(agents)
        while waiting:
            self.check_alive()
            waiting = [a for a in waiting if not a.started()]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(a.ident for a in waiting)
                raise AgentSlow(f"{names}: not running after {timeout:.0f} s; see its agent.log")
            time.sleep(0.1)

    def check_alive(self) -> None:
        for a in self.agents.values():
            if a.proc is not None and not a.running():
                raise AgentDied(
                    f"agent {a.ident} exited ({a.exit_code}) during the day; "
                    f"see {a.home / 'agent.log'}:\n{a.tail()}"
                )

    def restart(self, ident: str) -> None:
        """Kill one agent (SIGKILL) and start it again at once: it resumes from its home."""
        a = self.agents[ident]
        a.kill()
        a.start()

    def sample_rss(self, every: float = MEMORY_EVERY) -> int | None:
        """The memory all agents take now (bytes, see launcher.memory_of), the peak kept; None
        when the last sample is less than `every` seconds old."""
        now = time.monotonic()
        if now - self._sampled_at < every:
            return None
        self._sampled_at = now
        total = memory_of([a.pid for a in self.agents.values() if a.running()])
        self.peak_rss = max(self.peak_rss, total)
        return total

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM every agent at once, then wait for each (idempotent). An interrupt while they
        finish their steps (Ctrl-C again) SIGKILLs every one still running before it goes on: the
        large day's enrolment step held the stop for minutes, and a driver interrupted in that
        wait left the agent running and hung at its exit, joining it."""
        for a in self.agents.values():
            a.terminate()
        try:
            for ident, a in self.agents.items():
                self.exit_codes.setdefault(ident, a.stop())
        except KeyboardInterrupt:
            for ident, a in self.agents.items():
                self.exit_codes.setdefault(ident, a.halt())
            raise
        return dict(self.exit_codes)

    @property
    def pids(self) -> list[int]:
        return [a.pid for a in self.agents.values() if a.pid is not None]


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does, for the whole command: the process
    unwinds and its `atexit` handlers run (brownie stops the chain it launched). The default
    SIGTERM ends the interpreter without them: a SIGTERM after the agents stopped, while the day
    was checked, left the large day's 17 GB anvil running."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, _frame: Any) -> None:
    """Ctrl-C or SIGTERM of the driver: unwind (the day's `finally` stops every agent)."""
    raise KeyboardInterrupt(f"signal {signum}")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
