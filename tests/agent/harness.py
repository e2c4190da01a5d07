"""Helpers for tests that run agents as real OS processes against the test's chain.

The test process deploys (registry + annuity line), admits a small consortium with the deterministic
keys of `consortium.bootstrap.institution_key`, writes a deployment record and one home per agent
(keystore imported with a low scrypt cost), then starts `python -m consortium.cli agent` processes
with this worktree's src/ on PYTHONPATH. Nothing is shared with them but the chain and the files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account

from consortium import chain
from consortium.agent.home import AgentHome, init_home
from consortium.bootstrap import bootstrap_consortium, institution_key
from consortium.config import load_consortium
from consortium.deploy import Suite, deploy_annuity
from consortium.domain.allocation import INITIAL_UNIT_PRICE
from consortium.domain.hashing import code32, doc_hash

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "agent test passphrase"
SCRYPT_N = 2**12
SEED = 20261205
ANNUITY_IDS = ("annuity-platform", "trustee", "account-manager", "investment-manager")
PRICES = {"money-market": INITIAL_UNIT_PRICE, "bond-fund": INITIAL_UNIT_PRICE * 102 // 100}

CONSORTIUM_YAML = """\
version: 1
consortium: {name: Agent test consortium, founder: Test permission manager, jurisdiction: CN}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: Test regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: annuity-platform, name: Test annuity platform, jurisdiction: CN, roles: [ANNUITY_PLATFORM]}
  - {id: trustee, name: Test trustee, jurisdiction: CN, roles: [TRUSTEE]}
  - {id: account-manager, name: Test account manager, jurisdiction: CN, roles: [ACCOUNT_MANAGER]}
  - {id: investment-manager, name: Test investment manager, jurisdiction: CN,
     roles: [INVESTMENT_MANAGER]}
channels:
  - [annuity-platform, trustee]
  - [annuity-platform, account-manager]
  - [trustee, investment-manager]
currencies: [CNY]
products:
  annuity_plans:
    - {id: conservative, items: {money-market: 6000, bond-fund: 4000}}
    - {id: balanced, items: {money-market: 2000, bond-fund: 4000, equity-fund: 4000}}
"""


# how long a test waits for the agents to get somewhere: a deadline, never a speed assertion (a
# loaded 2-core machine on ganache, whose gas estimates are slow, needs minutes where anvil takes
# seconds; under load a node now and then leaves a request unanswered until its timeout, 2 s and
# longer for a gas estimate (chain.ESTIMATE_TIMEOUTS) and 120 s for anything else: a test outlives
# a few)
WAIT_SECONDS = 600


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; AssertionError naming `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def alive_until(agents: list, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """`wait_for`, failing at once (with the dead agent's output) when an agent process exits."""

    def check() -> Any:
        for a in agents:
            if not a.running():
                raise AssertionError(f"{a.ident} exited ({a.proc.returncode}):\n{a.tail()}")
        return predicate()

    return wait_for(check, timeout, what)


def network_id() -> str:
    return chain.network_name()


def rpc_url() -> str:
    return str(chain.web3().provider.endpoint_uri)


@dataclass
class World:
    """The test's consortium on chain: suite, record file, keys and addresses of the members."""

    base: Path
    suite: Suite
    consortium: Path
    record: Path
    keys: dict[str, str]
    addresses: dict[str, str]
    members: Any = None


def make_world(base: Path, founder: Any, accounts: Any) -> World:
    """Deploy the registry and the annuity line, admit the test consortium, record the deployment."""
    cfg_path, cfg, proj, registry, suite = new_consortium(base, CONSORTIUM_YAML, founder, "CN")
    suite.contracts.update(deploy_annuity(proj, registry, founder))
    members, _ = bootstrap_consortium(suite, cfg, founder, accounts, SEED, fund_wei=10**20)
    path = record_deployment(base, suite, founder)
    keys, addresses = demo_keys(cfg)
    return World(base, suite, cfg_path, path, keys, addresses, members)


def new_consortium(
    base: Path, consortium_yaml: str, founder: Any, jurisdiction: str = "CN"
) -> tuple[Path, Any, Any, Any, Suite]:
    """The test's consortium file written under `base` and a fresh registry deployed by `founder`:
    (file, its Consortium, the project, the registry, the suite to deploy a line into)."""
    base.mkdir(parents=True, exist_ok=True)
    cfg_path = base / "consortium.yaml"
    cfg_path.write_text(consortium_yaml)
    proj = chain.project()
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash("test founder"), code32(jurisdiction), {"from": founder}
    )
    suite = Suite(registry=registry, block=registry.tx.block_number)
    return cfg_path, load_consortium(cfg_path), proj, registry, suite


def record_deployment(base: Path, suite: Suite, founder: Any) -> Path:
    """<base>/deployment.json: the record the agents load the suite from (checked on their side
    against the chain, as a real institution's agent does)."""
    w3 = chain.web3()
    record = chain.DeploymentRecord(
        network=network_id(),
        chain_id=int(w3.eth.chain_id),
        block=suite.block,
        block_hash="0x" + bytes(w3.eth.get_block(suite.block)["hash"]).hex(),
        deployer=founder.address,
        contracts=suite.addresses(),
        compiler=chain.compiler_settings(),
    )
    path = base / "deployment.json"
    path.write_text(json.dumps(asdict(record), indent=2))
    return path


def demo_keys(cfg: Any) -> tuple[dict[str, str], dict[str, str]]:
    """({id: private key}, {id: address}) of the deterministic keys bootstrap admitted."""
    keys = {i.id: institution_key(SEED, i.id) for i in cfg.institutions}
    return keys, {k: Account.from_key(v).address for k, v in keys.items()}


def assert_stopped_cleanly(exit_codes: dict, agents: dict, ids: Any) -> None:
    """Every agent exited 0 on SIGTERM, said so, and logged no error."""
    assert exit_codes == dict.fromkeys(ids, 0)
    for agent in agents.values():
        assert "stopped cleanly" in agent.log(), agent.tail()
        assert " ERROR " not in agent.log(), agent.log()[-3000:]


def assert_no_private_key(keys: dict[str, str], homes: dict) -> None:
    """No private key of the day, with or without 0x, in any file under any agent home."""
    bare = [k.lower().removeprefix("0x") for k in keys.values()]
    needles = [n for k in bare for n in (k, "0x" + k)]
    for home in homes.values():
        files = files_under(home.path)
        assert any(p.name == "store.sqlite" for p in files)
        for path in files:
            try:
                text = path.read_bytes().lower()
            except FileNotFoundError:  # sqlite's -shm/-wal, gone when a store's last reader closed
                continue
            for needle in needles:
                assert needle.encode() not in text, f"a private key in {path}"


def make_home(world: World, ident: str, folder: Path, **settings: Any) -> AgentHome:
    """An agent home for `ident` with its key imported (low scrypt cost) and test settings."""
    home = AgentHome(folder)
    fields = {
        "network": network_id(),
        "rpc": rpc_url(),
        "deployments": str(world.record),
        "poll_seconds": 0.1,
        "addresses": dict(world.addresses),
        "annuity": {"investment_manager": "investment-manager", "prices": dict(PRICES)},
    } | settings
    init_home(home, ident, str(world.consortium), PASSPHRASE, world.keys[ident], SCRYPT_N, **fields)
    return home


@dataclass
class AgentProcess:
    """One agent as an OS process, its output in <home>/process.out."""

    ident: str
    home: AgentHome
    proc: subprocess.Popen | None = None
    starts: int = 0
    out: Any = field(default=None, repr=False)

    def start(self, kill_at: tuple[str, int] | None = None) -> AgentProcess:
        """Start the agent; `kill_at=(kind, n)`: it SIGKILLs itself after the n-th batch of that
        outbox kind is mined, before booking it (tests/agent/killhook.py)."""
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), CONSORTIUM_PASSPHRASE=PASSPHRASE)
        module = "consortium.cli"
        if kill_at is not None:
            env |= {"KILL_AT_KIND": kill_at[0], "KILL_AT_NTH": str(kill_at[1])}
            env["PYTHONPATH"] += os.pathsep + str(ROOT)
            module = "tests.agent.killhook"
        self.out = open(self.home.path.parent / f"{self.ident}.process.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                module,
                "agent",
                "--institution",
                self.ident,
                "--home",
                str(self.home.path),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        return self

    def log(self) -> str:
        return self.home.log.read_text() if self.home.log.exists() else ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_log(self, text: str, timeout: float = 60, count: int = 1) -> None:
        """Wait until agent.log holds `text` `count` times; fails at once if the process died."""

        def seen() -> bool:
            if not self.running():
                raise AssertionError(
                    f"{self.ident} exited ({self.proc.returncode}):\n{self.tail()}"
                )
            return self.log().count(text) >= count

        wait_for(seen, timeout, f"{self.ident} to log {text!r}", every=0.02)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> int:
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(30)

    def stop(self, timeout: float = WAIT_SECONDS, signalled: bool = False) -> int:
        """SIGTERM (once: a second one during the interpreter's exit would meet the default
        handler) and wait for the exit code."""
        if not signalled and self.running():
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.out.close()
        return code

    def tail(self, n: int = 3000) -> str:
        path = self.home.path.parent / f"{self.ident}.process.out"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""


def start_all(agents: list[AgentProcess], timeout: float = 120) -> None:
    """Start the agents in parallel; wait until each logs that it runs."""
    for a in agents:
        a.start()
    for a in agents:
        a.wait_log("running roles", timeout, count=a.starts)


def stop_all(agents: list[AgentProcess]) -> dict[str, int]:
    for a in agents:
        if a.running():
            a.signal(signal.SIGTERM)
    return {a.ident: a.stop(signalled=True) for a in agents}


def drop(home: AgentHome, name: str, text: str) -> Path:
    """Drop a file in the inbox as a bank's system should: written aside, then renamed."""
    tmp = home.inbox / f".{name}.tmp"
    tmp.write_text(text)
    target = home.inbox / name
    tmp.replace(target)
    return target


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    return "\n".join([",".join(header)] + [",".join(str(v) for v in r) for r in rows]) + "\n"


def read_accounts(home: AgentHome, stem: str) -> dict[str, str]:
    """The platform's outbox/accounts/<stem>.csv: employee id -> account id."""
    path = home.outbox / "accounts" / f"{stem}.csv"
    lines = path.read_text().splitlines()[1:]
    return dict(line.split(",") for line in lines)


def result_of(home: AgentHome, folder: str, name: str) -> dict | None:
    path = home.folder(folder) / f"{name}.result.json"
    return json.loads(path.read_text()) if path.exists() else None


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]
