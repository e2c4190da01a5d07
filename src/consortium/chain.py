"""The only module that imports brownie: ports, project, connection and deployment records.

Everything else receives contract objects and accounts from here (or from brownie's own
`brownie run`/`brownie test`/`brownie console`), so the domain code stays chain-free.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import brownie
from brownie import network
from brownie._config import CONFIG

from consortium.inputs import InputFileError

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ROOT / "deployments"


def free_port() -> int:
    """A TCP port nobody listens on now, so several runs (tests, demo, bench) can share a machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def use_free_ports() -> None:
    """Point every chain brownie launches itself (anvil, ganache) at a fresh free port.

    Brownie's network definitions fix port 8545; two runs would then share one chain and corrupt
    each other ("nonce too low"). Called before brownie connects.
    """
    for settings in CONFIG.networks.values():
        if "cmd" in settings:
            settings.setdefault("cmd_settings", {})["port"] = free_port()


def patch_receipt_race(wait_seconds: float = 180.0) -> None:
    """Work around brownie declaring a mined transaction "dropped without known replacement".

    anvil (with steps tracing, for data-heavy transactions) makes the sender's new nonce visible
    before the receipt; brownie 1.22 checks the nonce first, finds no receipt and marks the
    transaction dropped. Waiting for the receipt (up to `wait_seconds`) before brownie's own
    confirmation loop closes the race. Idempotent.
    Applied by tests/conftest.py and consortium.chain.connect (demo, bench).
    """
    from brownie.network.transaction import TransactionReceipt
    from brownie.network.web3 import web3
    from web3.exceptions import TransactionNotFound

    original = TransactionReceipt._await_confirmation
    if getattr(original, "_race_patched", False):
        return

    def _await_confirmation(self, block_number=None, required_confs=1):
        deadline = time.time() + wait_seconds
        while time.time() < deadline:
            try:
                if web3.eth.get_transaction_receipt(self.txid)["blockHash"] is not None:
                    break
            except TransactionNotFound:
                pass
            time.sleep(0.05)
        original(self, block_number, required_confs)

    _await_confirmation._race_patched = True
    TransactionReceipt._await_confirmation = _await_confirmation


def project():
    """The loaded brownie project (loads it from the repository root if nothing is loaded)."""
    loaded = brownie.project.get_loaded_projects()
    if loaded:
        return loaded[0]
    proj = brownie.project.load(str(ROOT), name="ConsortiumLedger")
    proj.load_config()
    return proj


def connect(network_id: str = "development", quiet: bool = True, port: int | None = None) -> None:
    """Connect to `network_id`, launching a local chain on a free port when brownie owns it.

    `quiet` stops brownie printing every transaction (the demo and bench print their own progress).
    `port` attaches to the local chain already listening there instead (a chain restarted from its
    saved state, which the day then resumes on).
    """
    if quiet:
        CONFIG.argv["silent"] = True
    if network.is_connected():
        return
    if port is not None:
        CONFIG.networks[network_id].setdefault("cmd_settings", {})["port"] = int(port)
    elif "cmd" in CONFIG.networks.get(network_id, {}):
        use_free_ports()
    network.connect(network_id)
    patch_receipt_race()


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

    @classmethod
    def path_for(cls, network_id: str) -> Path:
        return DEPLOYMENTS / f"{network_id}.json"

    def save(self) -> Path:
        path = self.path_for(self.network)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, network_id: str) -> "DeploymentRecord":
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
}


def _check_record(data: Any, path: Path) -> None:
    if not isinstance(data, dict):
        raise DeploymentRecordError(f"{path}: expected a JSON object (a deployment record)")
    for name, kind in _RECORD_FIELDS.items():
        if name not in data and name != "timestamp":
            raise DeploymentRecordError(f"{path}: field '{name}' is missing")
        value = data.get(name, 0)
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
