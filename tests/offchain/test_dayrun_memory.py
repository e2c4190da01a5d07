"""The multi-process day samples its agents' memory at most every MEMORY_EVERY seconds: reading 26
processes' proportional set sizes at every look (0.5 s) took half the driver's CPU on the large day.
The peak is still kept across the samples taken."""

from __future__ import annotations

import atexit
from pathlib import Path
from types import SimpleNamespace

from consortium.dayrun import procs
from consortium.dayrun.procs import MEMORY_EVERY, AgentProcess, AgentProcesses


class _Alive:
    def __init__(self, pid: int):
        self.pid = pid

    def is_alive(self) -> bool:
        return True


def test_sample_rss__reads_at_most_once_an_interval_and_keeps_the_peak(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(procs, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    sizes, asked = iter([100, 300, 200]), []
    monkeypatch.setattr(procs, "memory_of", lambda pids: asked.append(pids) or next(sizes))
    group = AgentProcesses([AgentProcess("a", Path("a"), Path("."), proc=_Alive(4242))])
    atexit.unregister(group.stop_all)  # nothing real to stop

    assert group.sample_rss() == 100  # the first look samples
    clock[0] += MEMORY_EVERY - 0.1
    assert group.sample_rss() is None  # too soon: nothing read
    clock[0] += 0.1
    assert group.sample_rss() == 300
    clock[0] += MEMORY_EVERY
    assert group.sample_rss() == 200
    assert group.peak_rss == 300
    assert asked == [[4242]] * 3


def test_sample_rss__an_interval_of_zero_samples_every_time(monkeypatch):
    monkeypatch.setattr(procs, "time", SimpleNamespace(monotonic=lambda: 5.0))
    monkeypatch.setattr(procs, "memory_of", lambda pids: 7)
    group = AgentProcesses([])
    atexit.unregister(group.stop_all)
    assert [group.sample_rss(every=0) for _ in range(3)] == [7, 7, 7]
