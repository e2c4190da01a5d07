"""The only module that imports brownie: ports, project, connection and deployment records.

Everything else receives contract objects and accounts from here (or from brownie's own
`brownie run`/`brownie test`/`brownie console`), so the domain code stays chain-free.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import brownie
from brownie import network
from brownie._config import CONFIG

from consortium.inputs import CommandError, InputFileError
from consortium.localchain import (
    DEFAULT_HISTORY,
    KIND_OF,
    STALL_SECONDS,
    ChainHome,
    answers,
    anvil_history,
    automines,
    busy,
    free_port,
    latest,
    mine_backlog,
)

ROOT = Path(__file__).resolve().parents[2]
# where deployment records live; $CONSORTIUM_DEPLOYMENTS moves them (tests, a second consortium)
DEPLOYMENTS = Path(os.environ.get("CONSORTIUM_DEPLOYMENTS") or ROOT / "deployments")

__all__ = ["free_port"]  # re-exported: tests and fixtures import it from here


def use_free_ports(history: int = DEFAULT_HISTORY) -> None:
    """Point every chain brownie launches itself (anvil, ganache) at a fresh free port; anvil keeps
    `history` past states (or $CONSORTIUM_ANVIL_HISTORY's: localchain.anvil_history) in memory
    only, and its cache of historical states (should it write one) goes to this process's own
    folder (see `_anvil_cache`).

    Brownie's network definitions fix port 8545; two runs would then share one chain and corrupt
    each other ("nonce too low"). Called before brownie connects.
    """
    for settings in CONFIG.networks.values():
        if "cmd" in settings:
            settings.setdefault("cmd_settings", {})["port"] = free_port()
            if settings["cmd"].split(" ")[0].endswith("anvil"):
                if "--prune-history" not in settings["cmd"]:
                    settings["cmd"] += f" --prune-history {anvil_history(history)}"
                if "--cache-path" not in settings["cmd"]:
                    settings["cmd"] += f" --cache-path {_anvil_cache()}"


_ANVIL_CACHE: list[str] = []


def _anvil_cache() -> str:
    """This process's folder for the states anvil moves out of memory, removed at exit (brownie
    stops its chain with SIGKILL, and anvil's default ~/.foundry/anvil/tmp is never cleaned: each
    test run left up to 700 MB there). One per process: brownie's launches split the command on
    spaces, and a mkdtemp path has none."""
    if not _ANVIL_CACHE:
        _drop_dead_caches()
        path = tempfile.mkdtemp(prefix=f"consortium-anvil-{os.getpid()}-")
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _ANVIL_CACHE.append(path)
    return _ANVIL_CACHE[0]


def _drop_dead_caches() -> None:
    """Remove the cache folders of processes that died without their exit handlers (SIGKILL, a
    test run's timeout): each folder names its process."""
    from consortium.localchain import pid_alive

    for folder in Path(tempfile.gettempdir()).glob("consortium-anvil-*-*"):
        pid = folder.name.split("-")[2]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def patch_receipt_race(wait_seconds: float = 180.0) -> None:
    """Work around brownie declaring a mined transaction "dropped without known replacement", and
    a local chain leaving a sent transaction pending.

    anvil (with steps tracing, for data-heavy transactions) makes the sender's new nonce visible
    before the receipt; brownie 1.22 checks the nonce first, finds no receipt and marks the
    transaction dropped. Waiting for the receipt (up to `wait_seconds`) before brownie's own
    confirmation loop closes the race. While it waits on a local chain, a receipt missing for
    `STALL_SECONDS` while no block with transactions came either means the chain left the
    transaction pending (see `localchain.automines`, `localchain.busy`): the waiting sender mines
    a block, as txpipe does for its backlogs (a chain that mined others' transactions meanwhile is
    busy, not stalled).
    Idempotent. Applied by tests/conftest.py and consortium.chain.connect (demo, bench, agents).
    """
    from brownie.network.transaction import TransactionReceipt
    from brownie.network.web3 import web3
    from web3.exceptions import TransactionNotFound

    original = TransactionReceipt._await_confirmation
    if getattr(original, "_race_patched", False):
        return

    def _raw(method: str, params: list) -> Any:
        return web3.provider.make_request(method, params).get("result")

    def _await_confirmation(self, block_number=None, required_confs=1):
        started, nudge = time.monotonic(), STALL_SECONDS
        deadline, stalled_at = started + wait_seconds, started + nudge
        head = None  # first read when the receipt is late: nearly every wait ends at once
        while time.monotonic() < deadline:
            try:
                if web3.eth.get_transaction_receipt(self.txid)["blockHash"] is not None:
                    break
            except TransactionNotFound:
                pass
            if head is None:
                head = latest(_raw)[0]
            elif time.monotonic() > stalled_at and automines(client := str(web3.client_version)):
                now, moving = busy(_raw, head)
                if not moving:
                    mine_backlog(_raw, client, lambda: _raw("evm_mine", []))
                    nudge = min(nudge * 2, 8 * STALL_SECONDS)  # a slow chain: fewer empty blocks
                    now = latest(_raw)[0]
                head, stalled_at = now, time.monotonic() + nudge
            time.sleep(0.05)
        original(self, block_number, required_confs)

    _await_confirmation._race_patched = True
    TransactionReceipt._await_confirmation = _await_confirmation


def project():
    """The loaded brownie project (loads it from the repository root if nothing is loaded)."""
    loaded = brownie.project.get_loaded_projects()
    if loaded:
        return loaded[0]
    # brownie prunes stale build files as it loads; institutions' agents start side by side on one
    # checkout, and two prunes of the same file race (FileNotFoundError), so loads take turns
    build = ROOT / "build"
    build.mkdir(exist_ok=True)
    with open(build / ".load.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proj = brownie.project.load(str(ROOT), name="ConsortiumLedger")
    proj.load_config()
    return proj


def connect(
    network_id: str = "development",
    quiet: bool = True,
    port: int | None = None,
    rpc: str | None = None,
    attach_local: bool = False,
    history: int = DEFAULT_HISTORY,
) -> None:
    """Connect to `network_id`, launching a local chain on a free port when brownie owns it
    (an anvil keeping `history` past states: `use_free_ports`).

    `quiet` stops brownie printing every transaction (the demo and bench print their own progress).
    `port` attaches to the local chain already listening there instead (a chain restarted from its
    saved state, which the day then resumes on). `rpc` attaches to the node at that URL (an
    institution's own node); CommandError if nothing answers there. `attach_local` attaches to the
    lasting local chain (`consortium chain start`) when one of the network's kind runs.
    """
    if quiet:
        CONFIG.argv["silent"] = True
    if network.is_connected():
        return
    settings = CONFIG.networks.get(network_id)
    if settings is None:
        raise CommandError(
            f"no network {network_id!r}: `brownie networks list` shows the known ones "
            f"(config/networks.yaml adds the project's)"
        )
    if rpc is None and port is None and attach_local and network_id in KIND_OF:
        rpc = ChainHome().running(KIND_OF[network_id])
    if rpc is not None:
        _point_at(network_id, settings, rpc)
    elif port is not None:
        settings.setdefault("cmd_settings", {})["port"] = int(port)
    elif "cmd" in settings:
        use_free_ports(history)
    with warnings.catch_warnings():
        # attaching to a lasting chain: its height is expected, not a stray node to warn about
        warnings.filterwarnings("ignore", message="Development network has a block height")
        network.connect(network_id)
    if quiet:  # again: connecting loads the network's settings over brownie's arguments
        CONFIG.argv["silent"] = True
    patch_receipt_race()


def _point_at(network_id: str, settings: dict, url: str) -> None:
    """Make `network_id` talk to the node at `url` (brownie attaches to a local network's node
    that answers instead of launching one); CommandError, before anything is sent, if none answers.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandError(f"--rpc {url}: expected an http(s) URL such as http://127.0.0.1:8545")
    if not answers(url):
        raise CommandError(
            f"no Ethereum node answers at {url}: start it (the lasting local chain: `make chain`), "
            f"or pass the --rpc URL of a running one"
        )
    if "cmd" in settings:
        settings["host"] = f"{parts.scheme}://{parts.hostname}"
        settings.setdefault("cmd_settings", {})["port"] = parts.port or (
            443 if parts.scheme == "https" else 80
        )
    else:
        settings["host"] = url


def ask_chain_id_once() -> None:
    """web3's validation asks the node its chain id before every call and transaction it checks
    (a busy agent sent 998 `eth_chainId` for 477 calls): a connection's chain id never changes, so
    it is asked once and kept. Only that request is cached (a revert to a snapshot changes blocks,
    never the chain id). Called by the agents (consortium.agent.runner.connect_chain)."""
    provider = brownie.web3.provider
    provider.cacheable_requests = {"eth_chainId"}
    provider.request_cache_validation_threshold = None  # no block to validate: no extra request
    provider.cache_allowed_requests = True


def estimate_gas(buffer: float = 1.25, reverting: int = 7_000_000) -> None:
    """Send each transaction with its estimated gas (times `buffer`), not the block's whole limit;
    one whose estimate reverts is sent with `reverting` gas (mined, so the refusal is on record).

    Why: the local networks' default (`gas_limit: max`) suits one sender; when several processes
    send at once, a transaction asking for the whole block fits only an otherwise empty block, and
    an automining chain (anvil, ganache) leaves it pending once no other transaction arrives to
    trigger a block: the day stalls. Estimates leave room for many transactions per block."""
    settings = CONFIG.active_network["settings"]  # brownie has no setter for these two
    _SENDING_DEFAULTS.setdefault(id(settings), {key: settings.get(key) for key in _SENDING_KEYS})
    network.gas_limit("auto")
    settings["gas_buffer"] = buffer
    settings["reverting_tx_gas_limit"] = reverting
    _estimates_time_out(ESTIMATE_TIMEOUTS)


def sending_gas() -> tuple[float, int | None]:
    """(buffer, reverting limit) `estimate_gas` set for this process's sends ((1, None) without
    it): a send made outside brownie (an agent's consortium.txpipe) estimates alike."""
    settings = CONFIG.active_network.get("settings", {})
    reverting = settings.get("reverting_tx_gas_limit")  # brownie's default: "max"
    limit = int(reverting) if isinstance(reverting, int) and reverting > 0 else None
    return float(settings.get("gas_buffer") or 1), limit


_SENDING_KEYS = ("gas_limit", "gas_buffer", "reverting_tx_gas_limit")
_SENDING_DEFAULTS: dict[int, dict[str, Any]] = {}


def default_sending() -> None:
    """Undo `estimate_gas` in this process: the network's own gas settings and RPC timeouts again.

    Why: the settings are process-wide. A test that acts as an agent in the test process (the
    onboarding commands) would otherwise leave them to every later test on that worker, and a
    large batch's estimate on a loaded ganache then outlasts the short estimate timeout."""
    from brownie.network.web3 import web3 as w3

    settings = CONFIG.active_network.get("settings", {})
    saved = _SENDING_DEFAULTS.pop(id(settings), None)
    if saved is not None:
        for key, value in saved.items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
    if hasattr(w3.eth.estimate_gas, "_untimed"):  # the wrapper is an instance attribute
        del w3.eth.estimate_gas


# under load, ganache (and, in CI, anvil) now and then never answers an eth_estimateGas while
# other senders' transactions are mined (seen with strace on an agent; asked again, it is answered
# at once), where a big batch's estimate on a busy chain can honestly take seconds. So an estimate,
# a read, is asked again after each of these timeouts, each longer than the one before: a lost
# request costs the first (2 s), a slow answer still comes. With the network's 120 s RPC timeout a
# lost estimate stalled its agent two minutes; with one short timeout of 15 s (web3 asking again
# after each) the seven settlement agents' test spent 155 s on ganache, 96 s at 3 s.
ESTIMATE_TIMEOUTS = (2.0, 6.0, 20.0, 60.0)


def _estimates_time_out(timeouts: tuple[float, ...]) -> None:
    import requests
    from brownie.network.web3 import web3 as w3

    eth = w3.eth
    original = getattr(eth.estimate_gas, "_untimed", eth.estimate_gas)

    def estimate_gas(*args: Any, **kwargs: Any) -> Any:
        provider = w3.provider
        request = getattr(provider, "_request_kwargs", None)
        if request is None:  # not an HTTP provider: nothing to shorten
            return original(*args, **kwargs)
        saved, retrying = request.get("timeout"), provider.exception_retry_configuration
        provider.exception_retry_configuration = None  # asked again here, each time waiting longer
        try:
            for seconds in timeouts[:-1]:
                request["timeout"] = seconds
                with contextlib.suppress(requests.Timeout, requests.ConnectionError):
                    return original(*args, **kwargs)
            request["timeout"] = timeouts[-1]
            return original(*args, **kwargs)
        finally:
            provider.exception_retry_configuration = retrying
            if saved is None:
                request.pop("timeout", None)
            else:
                request["timeout"] = saved

    estimate_gas._untimed = original
    eth.estimate_gas = estimate_gas


def is_ephemeral() -> bool:
    """Whether this process launched the chain it talks to (it stops when the process ends)."""
    from brownie.network import rpc

    return bool(rpc.is_active() and rpc.is_child())


def recorded_address(network_id: str, name: str) -> str | None:
    """`name`'s address in the deployment record of `network_id`,
    or None without a usable record."""
    try:
        return DeploymentRecord.load(network_id).contracts.get(name)
    except InputFileError:
        return None


def rpc_url() -> str:
    """The URL of the node this process talks to (for messages)."""
    provider = web3().provider
    return str(getattr(provider, "endpoint_uri", None) or provider)


def accounts():
    return brownie.accounts


def network_name() -> str:
    return network.show_active() or "none"


def gas_used(tx: Any) -> int:
    return int(tx.gas_used)


@dataclass
class DeploymentRecord:
    """What a deployment left on a network: enough for scripts, console and reports to find it."""

    network: str
    chain_id: int
    block: int
    deployer: str
    contracts: dict[str, str]
    compiler: dict[str, Any]
    timestamp: int = field(default_factory=lambda: int(time.time()))
    # hash of the deployment block: tells this chain from another one with the same id (every
    # fresh anvil is chain 31337); empty in records written before it was kept
    block_hash: str = ""

    @classmethod
    def path_for(cls, network_id: str) -> Path:
        return DEPLOYMENTS / f"{network_id}.json"

    def check_chain(self, w3: Any, url: str) -> None:
        """CommandError, in one sentence, unless this deployment is on the chain `w3` talks to."""
        diff = self._difference(w3)
        if diff:
            raise CommandError(
                f"{self.path_for(self.network)}: the deployment recorded for network "
                f"'{self.network}' (chain {self.chain_id}, block {self.block}) is not on the chain "
                f"at {url}: {diff}. Deploy again (`consortium deploy --network {self.network}`), "
                f"start the local chain it was deployed on (`make chain`), or pass --rpc with the "
                f"URL of the chain that holds it"
            )

    def _difference(self, w3: Any) -> str | None:
        chain_id = int(w3.eth.chain_id)
        if chain_id != self.chain_id:
            return f"that chain's id is {chain_id}"
        height = int(w3.eth.block_number)
        if height < self.block:
            return f"that chain has only {height + 1} block(s) (restarted empty, or another chain)"
        if self.block_hash:
            found = "0x" + bytes(w3.eth.get_block(self.block)["hash"]).hex()
            if found.lower() != self.block_hash.lower():
                return (
                    f"its block {self.block} is {found[:18]}…, the record's is "
                    f"{self.block_hash[:18]}… (another chain, or one restarted without its state)"
                )
        registry = self.contracts["ConsortiumRegistry"]
        if len(w3.eth.get_code(registry)) == 0:
            return f"there is no contract at the registry's address {registry}"
        return None

    def save(self) -> Path:
        path = self.path_for(self.network)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, network_id: str) -> DeploymentRecord:
        """The record of `network_id`; DeploymentRecordError naming the file and the field when it
        is missing, not JSON, or not a record (a hand edit, a truncated copy)."""
        path = cls.path_for(network_id)
        redeploy = f"run `brownie run scripts/deploy.py --network {network_id}` (again)"
        if not path.exists():
            raise DeploymentRecordError(
                f"{path}: no deployment recorded for network {network_id!r}; {redeploy} first"
            )
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DeploymentRecordError(
                f"{path}: not UTF-8 text ({exc.reason}); {redeploy}"
            ) from None
        except json.JSONDecodeError as exc:
            raise DeploymentRecordError(
                f"{path}:{exc.lineno}: not a JSON deployment record ({exc.msg}); {redeploy}"
            ) from None
        _check_record(data, path)
        return cls(**data)


class DeploymentRecordError(InputFileError):
    """A deployment record that is missing or unusable; the message says how to make a new one."""


_RECORD_FIELDS = {
    "network": str,
    "chain_id": int,
    "block": int,
    "deployer": str,
    "contracts": dict,
    "compiler": dict,
    "timestamp": int,
    "block_hash": str,
}
# fields a record may lack (written before they were kept), with the value they then stand for
_OPTIONAL_FIELDS = {"timestamp": 0, "block_hash": ""}


def _check_record(data: Any, path: Path) -> None:
    if not isinstance(data, dict):
        raise DeploymentRecordError(f"{path}: expected a JSON object (a deployment record)")
    for name, kind in _RECORD_FIELDS.items():
        if name not in data and name not in _OPTIONAL_FIELDS:
            raise DeploymentRecordError(f"{path}: field '{name}' is missing")
        value = data.get(name, _OPTIONAL_FIELDS.get(name))
        if isinstance(value, bool) or not isinstance(value, kind):
            raise DeploymentRecordError(
                f"{path}: field '{name}' must be a JSON {kind.__name__}, got {value!r:.60}"
            )
        if kind is int and not 0 <= value < 2**64:
            raise DeploymentRecordError(f"{path}: field '{name}' out of range: {value}")
    unknown = sorted(set(data) - set(_RECORD_FIELDS))
    if unknown:
        raise DeploymentRecordError(f"{path}: unknown field(s) {unknown}")
    for key, address in data["contracts"].items():
        if not isinstance(address, str) or len(address) != 42 or not address.startswith("0x"):
            raise DeploymentRecordError(
                f"{path}: contracts.{key} must be an address, got {address!r:.60}"
            )
    if "ConsortiumRegistry" not in data["contracts"]:
        raise DeploymentRecordError(f"{path}: contracts.ConsortiumRegistry is missing")


def compiler_settings() -> dict[str, Any]:
    """The compiler settings in force (recorded with every deployment)."""
    solc = CONFIG.settings["compiler"]["solc"]
    return {
        "solc": solc["version"],
        "evm_version": CONFIG.settings["compiler"]["evm_version"],
        "optimizer": dict(solc["optimizer"]),
    }


def at(name: str, address: str):
    """A deployed contract of this project by contract name and address."""
    return getattr(project(), name).at(address)


def web3():
    from brownie.network.web3 import web3 as _web3

    return _web3


def decode_logs(logs: list[dict]) -> Any:
    """Events of a node's JSON receipt logs, decoded like brownie's `tx.events` (an EventDict):
    for the pipelined senders (consortium.txpipe), whose receipts brownie never saw."""
    from brownie.network.event import _decode_logs
    from eth_utils import to_checksum_address
    from hexbytes import HexBytes

    return _decode_logs(
        [
            {
                **log,
                "address": to_checksum_address(log["address"]),
                "topics": [HexBytes(t) for t in log["topics"]],
                "data": HexBytes(log["data"]),
            }
            for log in logs
        ]
    )


def decode_error(data: str) -> str:
    """Revert data as brownie prints it: `ErrorName: arg1, arg2` for custom errors."""
    from brownie.exceptions import decode_typed_error

    return decode_typed_error(data)
