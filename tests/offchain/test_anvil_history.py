"""How many past states the anvil chains we launch keep: 512 unless $CONSORTIUM_ANVIL_HISTORY says
otherwise (a large day's 512 took anvil near 20 GB); a value that is not a whole number of blocks
is refused by name, not passed to anvil."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
SHOW = (
    "from consortium.localchain import ANVIL_HISTORY, SETTINGS;"
    "print(ANVIL_HISTORY, SETTINGS['anvil']['--prune-history'])"
)


def _run(value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CONSORTIUM_ANVIL_HISTORY"}
    env["PYTHONPATH"] = SRC
    if value is not None:
        env["CONSORTIUM_ANVIL_HISTORY"] = value
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_anvil_history__unset__512_states_on_every_launch():
    out = _run(None)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["512", "512"]


def test_anvil_history__set__that_many_states_on_every_launch():
    out = _run("128")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["128", "128"]
    assert _run("").stdout.split() == ["512", "512"]  # set but empty: as unset


@pytest.mark.parametrize("value", ["0", "-5", "many", "1.5"])
def test_anvil_history__not_a_whole_number_of_blocks__refused_by_name(value):
    out = _run(value)
    assert out.returncode != 0 and out.stdout == ""
    assert f"CONSORTIUM_ANVIL_HISTORY={value!r}: give a whole number of blocks" in out.stderr
