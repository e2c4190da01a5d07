"""Node-level permissioning for a Hyperledger Besu consortium, exported from the registry.

Besu 24.12+ deprecated on-chain permissioning contracts in favour of local allowlists in
`permissions_config.toml` (`accounts-allowlist`, `nodes-allowlist`), reloadable over the PERM
JSON-RPC API. The ConsortiumRegistry stays the single source of truth: this module derives both
lists from its current state and writes the file, or applies the difference to running nodes.

Who may transact: every active member and each of its operator addresses. Suspended, rejected and
pending members (and their operators) are left out, so a suspension takes effect at the next push.
Which nodes may connect: the enode URLs registered for active members.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACTIVE = 2  # IConsortiumRegistry.MemberStatus.Active


@dataclass(frozen=True)
class Allowlists:
    accounts: tuple[str, ...]
    nodes: tuple[str, ...]


def allowlists(registry: Any) -> Allowlists:
    """Accounts and nodes Besu should allow, read from the registry's current membership."""
    accounts: list[str] = []
    for member in registry.members():
        if int(registry.getMember(member)[0]) != ACTIVE:
            continue
        accounts.append(str(member))
        accounts.extend(str(op) for op in registry.operatorsOf(member))
    _ids, owners, enodes = registry.nodes()
    nodes = [e for o, e in zip(owners, enodes) if int(registry.getMember(o)[0]) == ACTIVE]
    return Allowlists(
        accounts=tuple(sorted({a.lower() for a in accounts})), nodes=tuple(sorted(set(nodes)))
    )


def render_permissions_config(lists: Allowlists) -> str:
    """The TOML Besu reads with
    `--permissions-accounts-config-file`/`--permissions-nodes-config-file`."""

    def arr(items: tuple[str, ...]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"

    return (
        "# Generated from the ConsortiumRegistry by `consortium besu-export`; "
        "do not edit by hand.\n"
        f"accounts-allowlist={arr(lists.accounts)}\n"
        f"nodes-allowlist={arr(lists.nodes)}\n"
    )


def write_permissions_config(lists: Allowlists, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_permissions_config(lists))
    tmp.replace(path)  # a node reloading the file never sees half of it
    return path


class PermRpcError(RuntimeError):
    pass


def _rpc(url: str, method: str, params: list, timeout: float = 10.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.loads(resp.read())
    if "error" in reply:
        raise PermRpcError(f"{url} {method}: {reply['error'].get('message', reply['error'])}")
    return reply["result"]


def push(lists: Allowlists, url: str) -> dict[str, list[str]]:
    """Bring a running Besu node's allowlists to `lists` over its PERM API; returns what changed.

    Only differences are sent, so pushing the same state twice changes nothing.
    """
    current_accounts = {a.lower() for a in _rpc(url, "perm_getAccountsAllowlist", [])}
    current_nodes = set(_rpc(url, "perm_getNodesAllowlist", []))
    want_accounts, want_nodes = set(lists.accounts), set(lists.nodes)
    changes = {
        "accounts_added": sorted(want_accounts - current_accounts),
        "accounts_removed": sorted(current_accounts - want_accounts),
        "nodes_added": sorted(want_nodes - current_nodes),
        "nodes_removed": sorted(current_nodes - want_nodes),
    }
    calls = [
        ("perm_addAccountsToAllowlist", changes["accounts_added"]),
        ("perm_removeAccountsFromAllowlist", changes["accounts_removed"]),
        ("perm_addNodesToAllowlist", changes["nodes_added"]),
        ("perm_removeNodesFromAllowlist", changes["nodes_removed"]),
    ]
    for method, items in calls:
        if items:
            _rpc(url, method, [items])
    return changes


# EIP-2294: the largest chain id signatures and clients handle (floor(MAX_UINT64 / 2) - 36)
MAX_CHAIN_ID = 2**63 - 1 - 36
GENESIS_GAS_LIMIT = 1_000_000_000  # 62 calls at the pipe's 16M declared gas per block


def _check_addresses(kind: str, addresses: list[str]) -> None:
    from eth_utils import is_address

    bad = [a for a in addresses if not (isinstance(a, str) and is_address(a))]
    if bad:
        raise ValueError(f"{kind} {bad[0]!r} is not an address (0x followed by 40 hex digits)")


def qbft_extra_data(validators: list[str]) -> str:
    """QBFT genesis `extraData`: RLP([32-byte vanity, [validators], no vote, round 0, no seals]).

    What `besu rlp encode --type=QBFT_EXTRA_DATA` produces, without needing a Besu binary here.
    """
    import rlp
    from eth_utils import to_canonical_address

    if not validators:
        raise ValueError("a QBFT network needs at least one validator (four tolerate one fault)")
    _check_addresses("validator", validators)
    body = [b"\0" * 32, [to_canonical_address(v) for v in validators], [], 0, []]
    return "0x" + rlp.encode(body).hex()


def qbft_genesis(
    validators: list[str],
    chain_id: int,
    alloc: dict[str, int] | None = None,
    block_period_seconds: int = 2,
) -> dict:
    """A QBFT genesis for a consortium chain: zero base fee (free gas for members, gas is still
    metered), shanghai rules to match the contracts' evm_version, and the validators above.
    ValueError naming the bad value for an invalid address or chain id (nothing to write then)."""
    if (
        isinstance(chain_id, bool)
        or not isinstance(chain_id, int)
        or not 1 <= chain_id <= MAX_CHAIN_ID
    ):
        raise ValueError(f"chain id must be 1 .. {MAX_CHAIN_ID} (EIP-2294), got {chain_id!r}")
    _check_addresses("funded account", list(alloc or {}))
    return {
        "config": {
            "chainId": chain_id,
            "homesteadBlock": 0,
            "eip150Block": 0,
            "eip155Block": 0,
            "eip158Block": 0,
            "byzantiumBlock": 0,
            "constantinopleBlock": 0,
            "petersburgBlock": 0,
            "istanbulBlock": 0,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "zeroBaseFee": True,
            "qbft": {
                "blockperiodseconds": block_period_seconds,
                "epochlength": 30000,
                "requesttimeoutseconds": 4,
            },
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        # blocks pack transactions by their declared gas: the day's pipe declares up to 16M each
        # (consortium.txpipe.DEFAULT_GAS), so a 30M block would hold one; a zero-fee consortium
        # chain can afford large blocks (each transaction stays under the EIP-7825 cap)
        "gasLimit": hex(GENESIS_GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": {
            a.lower().removeprefix("0x"): {"balance": hex(v)} for a, v in (alloc or {}).items()
        },
        "extraData": qbft_extra_data(validators),
    }
