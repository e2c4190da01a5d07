"""How many past states the anvil chains we launch keep: 512 unless $CONSORTIUM_ANVIL_HISTORY says
otherwise (a large day's 512 took anvil near 20 GB), 32 for the demo's day (it reads no past
state); a value that is not a whole number of blocks is refused by name, not passed to anvil."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = str(ROOT / "src")
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


LAUNCH = (
    "from brownie._config import CONFIG; from consortium.chain import use_free_ports;"
    "use_free_ports({arg}); cmd = CONFIG.networks['development']['cmd'].split();"
    "print(cmd[cmd.index('--prune-history') + 1])"
)


def _launch(arg: str, value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CONSORTIUM_ANVIL_HISTORY"}
    env["PYTHONPATH"] = SRC
    if value is not None:
        env["CONSORTIUM_ANVIL_HISTORY"] = value
    out = subprocess.run(
        [sys.executable, "-c", LAUNCH.format(arg=arg)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[-1]


def test_brownie_launch__the_callers_history_unless_the_environment_sets_one():
    """The day asks for fewer states than the suite (it reads no past state); the variable
    still wins for every launch."""
    assert _launch("", None) == "512"
    assert _launch("32", None) == "32"
    assert _launch("32", "128") == "128"


def test_cli_demo__launches_its_chain_keeping_the_days_history(tmp_path, monkeypatch):
    from consortium import cli
    from consortium.localchain import DAY_HISTORY

    asked = {}

    def connect(*args, **kwargs):
        asked.update(kwargs)
        raise RuntimeError("stop before launching")

    monkeypatch.setattr(cli, "_connect", connect)
    monkeypatch.setattr(cli, "_without_step_tracing", lambda network: None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="stop before launching"):
        cli.main(["demo", "--config", f"{ROOT}/config/consortium.yaml", "--size", "tiny"])
    assert asked["history"] == DAY_HISTORY < 512
