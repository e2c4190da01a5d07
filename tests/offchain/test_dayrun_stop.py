"""The day's agents are stopped whatever happens: a second interrupt while they finish their steps
(Ctrl-C again) kills every one still running, instead of leaving it running and the driver hung at
its exit, joining it (the large day's enrolment step held a stop for minutes, 2026-12-07)."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from consortium.dayrun.procs import AgentProcess, AgentProcesses


def _agent(deaf: bool) -> None:
    """An agent in its own process group; a deaf one is deep in a long step (SIGTERM ignored)."""
    os.setpgrp()
    if deaf:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.1)


def _started(n: int, deaf: bool = True) -> list[AgentProcess]:
    ctx = multiprocessing.get_context("fork")
    agents = []
    for i in range(n):
        proc = ctx.Process(target=_agent, args=(deaf,), daemon=True)
        proc.start()
        agents.append(AgentProcess(f"agent-{i}", Path(f"a{i}"), Path("."), proc=proc, starts=1))
    while any(os.getpgid(a.pid) != a.pid for a in agents):  # each in its own group
        time.sleep(0.01)
    return agents


def test_stop_all__interrupted_while_waiting__kills_every_agent_still_running_and_reraises(
    monkeypatch,
):
    agents = _started(3)
    group = AgentProcesses(agents)
    atexit.unregister(group.stop_all)
    waited = []

    def interrupted_wait(self, timeout: float = 60):
        waited.append(self.ident)
        raise KeyboardInterrupt("signal 2")  # Ctrl-C again while the first agent finishes

    monkeypatch.setattr(AgentProcess, "stop", interrupted_wait)
    try:
        with pytest.raises(KeyboardInterrupt):
            group.stop_all()
        assert waited == ["agent-0"]
        assert not any(a.running() for a in agents)
        assert group.exit_codes == {a.ident: -signal.SIGKILL for a in agents}
        assert all(a.kills == 0 for a in agents)  # not the chaos monkey's kills
    finally:
        for a in agents:
            if a.proc.is_alive():
                os.killpg(a.pid, signal.SIGKILL)


def test_stop_all__agents_that_stop__terminated_not_killed_and_idempotent():
    agents = _started(2, deaf=False)
    group = AgentProcesses(agents)
    atexit.unregister(group.stop_all)
    try:
        expected = {a.ident: -signal.SIGTERM for a in agents}
        assert group.stop_all() == expected
        assert group.stop_all() == expected
    finally:
        for a in agents:
            if a.proc.is_alive():
                os.killpg(a.pid, signal.SIGKILL)
