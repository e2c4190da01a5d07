"""A local chain that outlives the command that started it, and the chain a test stops and restarts.

`consortium chain start` (or `make chain`) runs anvil (or ganache) detached, its state in a file
under the chain's home folder (`.chain/` in the project, or $CONSORTIUM_CHAIN_HOME): anvil loads it
at start and dumps it every few seconds and on exit (`--state`, `--state-interval`), ganache keeps
its database folder. `chain.json` in the home records the kind, port and process, so every later
command (`consortium deploy|report|verify|besu-export`, the agents) attaches to the same chain, and
a stopped chain restarts where it was: same blocks, same hashes, same deployment.

The port defaults to the one brownie's network definition names (8545 in config/networks.yaml), so
`brownie console` and `brownie run` attach to the lasting chain too. Tests, the demo and the
benchmark still launch chains of their own on free ports (consortium.chain.use_free_ports).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from consortium.inputs import CommandError

ROOT = Path(__file__).resolve().parents[2]
MNEMONIC = "test test test test test test test test test test test junk"  # config/networks.yaml
# Past blocks whose state anvil keeps, in memory only (`--prune-history`). By default it keeps 500,
# then writes one older block's whole state to its disk cache for each new block: under automine a
# serialization of the whole state per transaction, growing with the state. A medium day's 2,817
# transactions wrote 3.9 GB there and took 71.3 business seconds; kept in memory only, nothing is
# written and the day took 58.0 s (2026-12-06). Each kept state is a whole copy of the chain's
# state (anvil's MemDb::current_state clones it), so kept states cost their number times the
# state: late in the large day the state is about half a gigabyte and anvil held 18 GB keeping 32
# (2026-12-07). A read at a block further back fails, and a read at "latest" can find its block
# dropped while a long batch is read (txpipe.call_batch asks it again). The day reads no past
# state (the bills' checks read the state before the redemptions as they become ready, again at
# a newer block if the node dropped theirs), so `consortium demo` keeps DAY_HISTORY; the chains
# the suite, the benchmark and `consortium chain start` launch keep ANVIL_HISTORY (a test may read
# further back).
# $CONSORTIUM_ANVIL_HISTORY sets another number for every chain this process launches.
HISTORY_ENV = "CONSORTIUM_ANVIL_HISTORY"
DEFAULT_HISTORY = 512
DAY_HISTORY = 8


def anvil_history(default: int = DEFAULT_HISTORY) -> int:
    """$CONSORTIUM_ANVIL_HISTORY when set (CommandError unless a whole number >= 1), else
    `default`."""
    raw = os.environ.get(HISTORY_ENV, "").strip()  # set but empty: as unset
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise CommandError(f"{HISTORY_ENV}={raw!r}: give a whole number of blocks, at least 1")
    return int(raw)


ANVIL_HISTORY = anvil_history()

# what config/networks.yaml (through brownie) gives the local networks of each kind, plus anvil's
# history (consortium.chain.use_free_ports gives brownie's launches the same)
SETTINGS = {
    "anvil": {
        "--hardfork": "shanghai",
        "--accounts": "20",
        "--balance": "1000000",
        "--mnemonic": MNEMONIC,
        "--block-base-fee-per-gas": "0",
        "--gas-limit": "30000000",
        "--prune-history": str(ANVIL_HISTORY),
    },
    "ganache": {
        "--chain.hardfork": "shanghai",
        "--wallet.totalAccounts": "20",
        "--wallet.defaultBalance": "1000000",
        "--wallet.mnemonic": MNEMONIC,
        "--chain.chainId": "1337",
        "--miner.blockGasLimit": "30000000",
        "--chain.vmErrorsOnRPCResponse": "true",
    },
}
QUIET = {"anvil": "--silent", "ganache": "--logging.quiet"}
NETWORK_OF = {"anvil": "development", "ganache": "ganache-local"}
KIND_OF = {v: k for k, v in NETWORK_OF.items()}
DEFAULT_PORT = 8545  # brownie's local networks in config/networks.yaml
STATE_INTERVAL = 2  # seconds between anvil's state dumps: a killed chain loses at most this much


# a local chain mines on arrival; one that leaves a ready transaction pending (anvil's automine can
# miss one when several senders' transactions arrive together, foundry-rs/foundry#10122; a block
# full at the senders' gas limits) mines it only when the next transaction arrives. A sender
# that waited this long for its receipt mines a block itself (see `automines`).
STALL_SECONDS = 3.0


def automines(client_version: str) -> bool:
    """Whether a node of this `web3_clientVersion` is a local chain that mines on arrival (anvil,
    ganache), where mining a block for a stalled backlog is harmless; a real network (Besu) makes
    blocks on its own clock and is never asked to."""
    client = client_version.lower()
    return any(name in client for name in ("anvil", "ganache", "ethereumjs"))


def latest(rpc: Any) -> tuple[int, bool]:
    """(number, whether it holds transactions) of the node's latest block; `rpc(method, params)`
    returns a request's raw JSON result."""
    block = rpc("eth_getBlockByNumber", ["latest", False])
    return int(block["number"], 16), bool(block["transactions"])


def busy(rpc: Any, head: int) -> tuple[int, bool]:
    """(the latest block's number, whether the chain is busy rather than stalled): it mined a block
    with transactions since block `head`. Only empty blocks since is stalled too: anvil's automine
    can stop taking ready transactions, mining an empty block for each arrival while the pool
    fills (anvil 1.7.1, the large day: 232 ready transactions, 300 empty blocks in 25 s)."""
    number, full = latest(rpc)
    return number, number != head and full


def mine_backlog(rpc: Any, client_version: str, mine: Any) -> None:
    """Mine a stalled backlog (`mine()` sends the evm_mine requests). On anvil with automine off
    for the while: a block mined so takes every ready transaction, where one mined under an
    automine that stopped taking them is empty (`busy`); automine is on again after, whatever
    happened. Only on a local chain that mines on arrival (`automines`)."""
    anvil = "anvil" in client_version.lower()
    if anvil:
        rpc("evm_setAutomine", [False])
    try:
        mine()
    finally:
        if anvil:
            rpc("evm_setAutomine", [True])


def free_port() -> int:
    """A TCP port nobody uses now, so several runs (tests, demo, bench) can share a machine.

    Drawn at random below the kernel's ephemeral range, not from it (`bind(("", 0))`): a port is
    chosen some seconds before its chain or agent binds it, and meanwhile any outgoing connection
    may be given an ephemeral port (a multi-process day's agent failed to bind 58327 in CI, taken
    by the day's own HTTP traffic). Below the range only another explicit choice can take it."""
    import random
    import socket

    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(FREE_PORTS_FROM, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise CommandError(f"no free TCP port between {FREE_PORTS_FROM} and {low}")


FREE_PORTS_FROM = 10_000  # above the well-known and most registered services' ports


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default 32768)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return low if low > FREE_PORTS_FROM + 1000 else 32768


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 10):
    """One JSON-RPC call; raises requests' ConnectionError when nothing answers at `url`."""
    reply = requests.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
        timeout=timeout,
    ).json()
    if "error" in reply:
        raise RuntimeError(f"{url} {method}: {reply['error']}")
    return reply["result"]


def answers(url: str) -> bool:
    """Whether an Ethereum node answers JSON-RPC at `url`."""
    try:
        rpc_call(url, "eth_chainId", timeout=3)
        return True
    except (requests.RequestException, ValueError, KeyError, RuntimeError):
        return False


@dataclass
class LocalChain:
    """anvil or ganache on `port` with shanghai rules, its state kept in `state`."""

    kind: str
    state: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log: Path | None = None
    # periodic state dumps (anvil): a chain killed without SIGTERM keeps what it had seconds before
    state_interval: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cache(self) -> Path:
        return anvil_cache(self.state)

    @property
    def network(self) -> str:
        """The brownie network id that attaches to it."""
        return NETWORK_OF[self.kind]

    def command(self) -> list[str]:
        settings = [x for flag_value in SETTINGS[self.kind].items() for x in flag_value]
        cmd = [str(ROOT / f"node_modules/.bin/{self.kind}"), "--port", str(self.port), *settings]
        cmd.append(QUIET[self.kind])
        if self.kind == "anvil":
            cmd += ["--cache-path", str(self.cache)]
            if self.state_interval:
                cmd += ["--state", str(self.state), "--state-interval", str(self.state_interval)]
            else:
                cmd += ["--dump-state", str(self.state)]
                if self.state.exists():
                    cmd += ["--load-state", str(self.state)]
        else:
            self.state.mkdir(parents=True, exist_ok=True)
            cmd += ["--database.dbPath", str(self.state)]
        return cmd

    def start(self, timeout: float = 60) -> LocalChain:
        """Start the chain, from its saved state when there is one; returns once it answers."""
        self._drop_cache()
        log = open(self.log, "ab") if self.log else nullcontext(subprocess.DEVNULL)  # noqa: SIM115
        with log as out:  # the child keeps its own descriptor of the log
            # its own process group: the npm wrappers start the chain as a child, both must stop
            self.proc = subprocess.Popen(
                self.command(),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if answers(self.url):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.kill()
        where = f"; see {self.log}" if self.log else ""
        raise CommandError(
            f"{self.kind} did not answer on port {self.port} within {timeout:.0f} s{where}"
        )

    def stop(self) -> None:
        """Stop the chain as an operator does (SIGTERM): it saves its state and exits."""
        stop_group(self.proc.pid)
        self.proc.wait(timeout=60)
        self.proc = None
        self._drop_cache()

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
            self.proc = None
        self._drop_cache()

    def _drop_cache(self) -> None:
        if self.kind == "anvil":
            shutil.rmtree(self.cache, ignore_errors=True)

    def rpc(self, method: str, params: list | None = None):
        return rpc_call(self.url, method, params, timeout=30)


def anvil_cache(state: Path) -> Path:
    """Where anvil writes the historical states it moves out of memory (`--cache-path`): next to
    the chain's state, emptied at each start and stop. anvil's default, ~/.foundry/anvil/tmp, is
    never cleaned, not even on SIGTERM: a long run leaves hundreds of MB there for good."""
    return state.with_name(state.name + ".cache")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id still exists (a zombie, our own child not yet reaped, counts
    as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child not yet reaped) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def stop_group(pid: int, timeout: float = 60) -> None:
    """SIGTERM the process group led by `pid` and wait until its leader is gone."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while pid_alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)


class ChainHome:
    """The lasting local chain's folder: `chain.json` (kind, port, pid), its state and its log."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder or os.environ.get("CONSORTIUM_CHAIN_HOME") or ROOT / ".chain")

    @property
    def record(self) -> Path:
        return self.folder / "chain.json"

    def read(self) -> dict | None:
        try:
            return json.loads(self.record.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _write(self, data: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.record.with_name("chain.json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.record)

    def state_path(self, kind: str) -> Path:
        return self.folder / ("anvil-state.json" if kind == "anvil" else "ganache-db")

    def running(self, kind: str | None = None) -> str | None:
        """The RPC URL of the lasting chain if it runs (and is of `kind`, when given), else None."""
        data = self.read()
        if not data or not data.get("pid") or (kind and data.get("kind") != kind):
            return None
        url = f"http://127.0.0.1:{data['port']}"
        return url if pid_alive(int(data["pid"])) and answers(url) else None

    def start(self, kind: str = "anvil", port: int | None = None) -> tuple[str, bool]:
        """Start the lasting chain (from its saved state); returns (url, started now)."""
        data = self.read() or {}
        if data.get("pid") and pid_alive(int(data["pid"])):
            url = f"http://127.0.0.1:{data['port']}"
            if data.get("kind") != kind:
                raise CommandError(
                    f"a {data.get('kind')} chain already runs from {self.folder} at {url}; "
                    f"stop it first (`consortium chain stop`)"
                )
            return url, False
        if data.get("kind") not in (None, kind) and self.state_path(data["kind"]).exists():
            raise CommandError(
                f"{self.folder} holds the state of a {data['kind']} chain, not {kind}: start it "
                f"with --kind {data['kind']}, or use another --home"
            )
        port = port or data.get("port") or DEFAULT_PORT
        url = f"http://127.0.0.1:{port}"
        if answers(url):
            raise CommandError(
                f"another chain already answers at {url}; stop it, or start this one with --port"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        node = LocalChain(
            kind,
            self.state_path(kind),
            port=port,
            log=self.folder / f"{kind}.log",
            state_interval=STATE_INTERVAL,
        )
        node.start()
        self._write({"kind": kind, "port": port, "pid": node.proc.pid, "started": int(time.time())})
        return url, True

    def stop(self) -> bool:
        """Stop the lasting chain (its state is saved); False if none was running."""
        data = self.read()
        if not data or not data.get("pid") or not pid_alive(int(data["pid"])):
            return False
        stop_group(int(data["pid"]))
        shutil.rmtree(anvil_cache(self.state_path("anvil")), ignore_errors=True)
        self._write({**data, "pid": None})
        return True

    def status(self) -> dict:
        """What a person asks first: does it run, where, which chain, how far."""
        data = self.read() or {}
        kind = data.get("kind", "anvil")
        url = self.running()
        out = {
            "home": str(self.folder),
            "kind": kind,
            "running": bool(url),
            "url": url or (f"http://127.0.0.1:{data['port']}" if data.get("port") else None),
            "state": str(self.state_path(kind)),
        }
        if url:
            out["chain_id"] = int(rpc_call(url, "eth_chainId"), 16)
            out["block"] = int(rpc_call(url, "eth_blockNumber"), 16)
        return out
