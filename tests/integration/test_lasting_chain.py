"""Commands against a chain that outlives them, and a clear refusal when the deployment is not there.

A lasting local chain of the test network's kind (`consortium chain start`, its own home and port)
runs a tiny day (the demo, attached with --rpc: it deploys, records the deployment and anchors the
regulators' reports). Then each command that works on a deployment (`report`, `verify`,
`besu-export`, `deploy`) runs as a user runs it, in its own process: on a chain without the
deployment, after the chain restarted from its state file, after it restarted empty (a stale record),
and against a URL where nothing answers. Where it cannot work: exit code 2, one sentence naming what
differs and what to do, no traceback, no transaction sent. Where it can: success.

The tests run in file order: each step starts from the chain the previous one left.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from brownie import network

from consortium.chain import ROOT
from consortium.localchain import ANVIL_HISTORY, ChainHome, anvil_cache, free_port, rpc_call


def _kind():
    return "ganache" if network.show_active() == "ganache-local" else "anvil"


class Lasting:
    """A lasting chain's home, deployment records and day folder under one temporary folder."""

    def __init__(self, base):
        self.base = base
        self.kind = _kind()
        self.network = "ganache-local" if self.kind == "ganache" else "development"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ,
            PYTHONPATH=str(ROOT / "src"),
            CONSORTIUM_CHAIN_HOME=str(base / "chain"),
            CONSORTIUM_DEPLOYMENTS=str(base / "deployments"),
        )
        self.home = ChainHome(base / "chain")
        self.record = base / "deployments" / f"{self.network}.json"

    def run(self, *args, network=True):
        cmd = [sys.executable, "-m", "consortium.cli", *args]
        if network:
            cmd += ["--network", self.network]
        return subprocess.run(
            cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600, check=False
        )

    def start(self):
        done = self.run(
            "chain", "start", "--kind", self.kind, "--port", str(self.port), network=False
        )
        assert done.returncode == 0, done.stderr
        return done

    def stop(self):
        done = self.run("chain", "stop", network=False)
        assert done.returncode == 0, done.stderr

    def height(self) -> int:
        return int(rpc_call(self.url, "eth_blockNumber"), 16)

    def reports(self):
        return sorted((self.base / "day").rglob("report.json"))


def refused(done, *words):
    """Exit 2, one `error:` sentence containing `words`, no traceback."""
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def lasting(tmp_path_factory):
    chain = Lasting(tmp_path_factory.mktemp("lasting"))
    chain.start()
    yield chain
    chain.home.stop()


def test_chain_start__again__attaches_to_the_running_chain(lasting):
    again = lasting.run("chain", "start", "--kind", lasting.kind, network=False)
    assert again.returncode == 0 and "already running" in again.stdout
    status = lasting.run("chain", "status", network=False)
    assert status.returncode == 0 and lasting.url in status.stdout
    assert json.loads((lasting.base / "chain" / "chain.json").read_text())["port"] == lasting.port


def test_commands__chain_without_deployment__exit_2_and_nothing_sent(lasting):
    height = lasting.height()
    for args in (
        ("report", "--out", str(lasting.base / "none")),
        ("besu-export", "--out", str(lasting.base / "p.toml")),
    ):
        refused(lasting.run(*args), str(lasting.record), "no deployment recorded", "deploy")
    assert lasting.height() == height
    assert not (lasting.base / "p.toml").exists()


def test_day_then_commands__lasting_chain__verify_report_and_export_succeed(lasting):
    day = lasting.run(
        "demo",
        "--in-process",
        "--rpc",
        lasting.url,
        "--lines",
        "annuity",
        "--size",
        "tiny",
        "--out",
        str(lasting.base / "day"),
    )
    assert day.returncode == 0, day.stdout[-3000:] + day.stderr[-3000:]
    record = json.loads(lasting.record.read_text())
    assert record["block_hash"].startswith("0x") and len(record["block_hash"]) == 66
    reports = lasting.reports()
    assert len(reports) == 2  # one per regulator
    for path in reports:
        done = lasting.run("verify", str(path))  # attaches to the lasting chain by default
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1].startswith("VERIFIED")
    out = lasting.base / "permissions.toml"
    done = lasting.run("besu-export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "accounts-allowlist" in out.read_text()


def test_commands__chain_restarted_from_its_state__still_succeed(lasting):
    height = lasting.height()
    lasting.stop()
    assert lasting.home.running() is None
    lasting.start()
    assert lasting.height() == height  # the same chain: every block kept
    done = lasting.run("verify", str(lasting.reports()[0]))
    assert done.returncode == 0, done.stderr
    done = lasting.run("report", "--out", str(lasting.base / "again"))
    assert done.returncode == 0, done.stderr
    assert list((lasting.base / "again").rglob("report.json"))
    done = lasting.run("besu-export", "--out", str(lasting.base / "again.toml"))
    assert done.returncode == 0, done.stderr


def test_commands__chain_restarted_empty__stale_record_exit_2_nothing_sent(lasting):
    lasting.stop()
    state = lasting.home.state_path(lasting.kind)
    shutil.rmtree(state) if state.is_dir() else state.unlink()
    lasting.start()
    height = lasting.height()
    for args in (
        ("report", "--out", str(lasting.base / "stale")),
        ("besu-export", "--out", str(lasting.base / "stale.toml")),
    ):
        refused(lasting.run(*args), str(lasting.record), "is not on the chain at", "Deploy again")
    error = refused(lasting.run("verify", str(lasting.reports()[0])), "cannot be checked here")
    anchor = json.loads(lasting.reports()[0].read_text())["anchor"]
    assert anchor["contract"] in error and f"chain {anchor['chainId']}" in error
    assert lasting.height() == height  # not one transaction sent
    assert not (lasting.base / "stale").exists() and not (lasting.base / "stale.toml").exists()
    # deploying again is what the message says to do, and then the commands work
    done = lasting.run("deploy")
    assert done.returncode == 0, done.stderr
    done = lasting.run("besu-export", "--out", str(lasting.base / "fresh.toml"))
    assert done.returncode == 0, done.stderr


def test_commands__rpc_where_nothing_answers__exit_2(lasting):
    silent = f"http://127.0.0.1:{free_port()}"
    for args in (("deploy",), ("report",), ("besu-export",), ("verify", str(lasting.reports()[0]))):
        refused(lasting.run(*args, "--rpc", silent), f"no Ethereum node answers at {silent}")


def _command_lines(pid: int) -> list[list[str]]:
    import psutil

    leader = psutil.Process(pid)
    return [p.cmdline() for p in [leader, *leader.children(recursive=True)]]


def test_chain_stop__then_status__says_none_runs(lasting):
    cache = anvil_cache(lasting.home.state_path("anvil"))
    # anvil's states moved out of memory go next to its state, not to ~/.foundry
    if lasting.kind == "anvil":
        pid = json.loads((lasting.base / "chain" / "chain.json").read_text())["pid"]
        commands = [cmd for cmd in _command_lines(pid) if "--cache-path" in cmd]
        assert any(cmd[cmd.index("--cache-path") + 1] == str(cache) for cmd in commands)
        # and past states in memory only, as many as the brownie-launched chains keep
        assert all(cmd[cmd.index("--prune-history") + 1] == str(ANVIL_HISTORY) for cmd in commands)
        cache.mkdir(exist_ok=True)
        (cache / "state-0x01").write_text("{}")  # as anvil leaves it
    lasting.stop()
    assert not cache.exists()
    status = lasting.run("chain", "status", network=False)
    assert status.returncode == 1 and "no local chain running" in status.stdout
    assert (
        lasting.run("chain", "stop", network=False).stdout.strip() == "no local chain was running"
    )
