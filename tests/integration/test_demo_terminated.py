"""`consortium demo` sent SIGTERM (a scheduler, `kill`, a CI timeout) stops every process it
started, as Ctrl-C does: the default SIGTERM ended the interpreter without its exit handlers, and a
large day's driver terminated while it checked the day left its 17 GB anvil running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil

from consortium.chain import ROOT


def _chain_of(demo: psutil.Process, timeout: float = 120) -> list[psutil.Process]:
    """The demo's chain processes, once it launched them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in demo.children(recursive=True) if "anvil" in p.name()]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("the demo launched no chain")


def test_demo__sigterm_while_it_runs__exits_130_and_its_chain_stopped(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    command = [sys.executable, "-m", "consortium.cli", "demo", "--in-process", "--size", "tiny"]
    proc = subprocess.Popen(
        [*command, "--out", str(tmp_path / "day")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    chain: list[psutil.Process] = []
    try:
        chain = _chain_of(psutil.Process(proc.pid))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        _, alive = psutil.wait_procs(chain, timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in chain:  # nothing of this test outlives it, whatever failed
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not alive, [p.cmdline() for p in alive]
