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


def with_invited(lists: Allowlists, invited: list[str]) -> Allowlists:
    """`lists` plus accounts invited to apply: an applicant's key must be allowed to send its
    application before the registry knows it (Besu refuses transactions of other accounts). Keep
    inviting it at each export until its audit; a rejected applicant is left out by not inviting
    it again. ValueError naming a bad address."""
    _check_addresses("invited account", invited)
    accounts = tuple(sorted(set(lists.accounts) | {a.lower() for a in invited}))
    return Allowlists(accounts=accounts, nodes=lists.nodes)


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


def node_allowlists(url: str) -> Allowlists:
    """What a running Besu node allows now, read over its PERM API (accounts lower-cased)."""
    accounts = {a.lower() for a in _rpc(url, "perm_getAccountsAllowlist", [])}
    return Allowlists(
        accounts=tuple(sorted(accounts)),
        nodes=tuple(sorted(set(_rpc(url, "perm_getNodesAllowlist", [])))),
    )


def push(lists: Allowlists, url: str) -> dict[str, list[str]]:
    """Bring a running Besu node's allowlists to `lists` over its PERM API; returns what changed.

    Only differences are sent, so pushing the same state twice changes nothing.
    """
    current = node_allowlists(url)
    current_accounts, current_nodes = set(current.accounts), set(current.nodes)
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


# ------------------------------------------------------------------ checking a genesis as Besu does
# Besu's BFT header rules (BftBlockHeaderValidationRulesetFactory: constant mixHash, difficulty 1,
# nonce 0) and its QBFT extraData codec (QbftExtraDataCodec: RLP [32-byte vanity, [validators],
# vote, round, [seals]]), applied to the genesis block before any node is started with it.
BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
MIN_BLOCK_GAS = 16_777_216  # one transaction at the EIP-7825 cap must fit in a block
MAX_BLOCK_GAS = 2**63 - 1  # Besu holds the gas limit in a Java long
CONSENSUS_KEYS = ("qbft", "ibft2", "clique", "ethash")


class GenesisInvalid(ValueError):
    """A genesis Besu would refuse, or one this consortium must not run with."""


class GenesisConsensusInvalid(GenesisInvalid):
    """The config block does not name QBFT alone, or its timings are not positive whole seconds."""


class GenesisChainIdInvalid(GenesisInvalid):
    """config.chainId is missing or out of EIP-2294's range."""


class GenesisGasLimitInvalid(GenesisInvalid):
    """gasLimit is not a hex quantity from one EIP-7825-capped transaction to a Java long."""


class GenesisExtraDataInvalid(GenesisInvalid):
    """extraData does not RLP-decode to QBFT's five fields with a genesis' empty vote and seals."""


class GenesisHeaderInvalid(GenesisInvalid):
    """mixHash, difficulty or nonce differ from the constants every BFT header carries."""


@dataclass(frozen=True)
class GenesisFacts:
    """What a checked genesis says: the validators (from extraData) and the network's limits."""

    validators: tuple[str, ...]
    chain_id: int
    gas_limit: int
    block_period_seconds: int


def _quantity(genesis: dict, key: str) -> int:
    raw = genesis.get(key)
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise GenesisHeaderInvalid(f"genesis {key} must be a 0x-prefixed hex quantity, got {raw!r}")
    try:
        return int(raw, 16)
    except ValueError:
        raise GenesisHeaderInvalid(f"genesis {key} {raw!r} is not hexadecimal") from None


def decode_qbft_extra_data(extra: str) -> tuple[str, ...]:
    """The validators of a genesis' QBFT extraData (lower-case 0x addresses), its other fields
    checked: a 32-byte vanity, no vote, round 0, no seals."""
    import rlp

    try:
        fields = rlp.decode(bytes.fromhex(extra.removeprefix("0x")))
    except (ValueError, AttributeError, rlp.exceptions.DecodingError) as exc:
        raise GenesisExtraDataInvalid(f"extraData is not RLP: {exc}") from None
    if not isinstance(fields, list) or len(fields) != 5:
        raise GenesisExtraDataInvalid(
            "extraData must be RLP of five fields [vanity, validators, vote, round, seals]"
        )
    vanity, validators, vote, round_, seals = fields
    if not isinstance(vanity, bytes) or len(vanity) != 32:
        raise GenesisExtraDataInvalid("extraData's vanity must be 32 bytes")
    if not isinstance(validators, list) or not validators:
        raise GenesisExtraDataInvalid("extraData names no validator")
    if any(not isinstance(v, bytes) or len(v) != 20 for v in validators):
        raise GenesisExtraDataInvalid("extraData's validators must be 20-byte addresses")
    if len(set(validators)) != len(validators):
        raise GenesisExtraDataInvalid("extraData names a validator twice")
    if vote != [] or round_ != b"" or seals != []:
        raise GenesisExtraDataInvalid("a genesis' extraData carries no vote, round 0 and no seals")
    return tuple("0x" + v.hex() for v in validators)


def _consensus(config: dict) -> int:
    named = [k for k in CONSENSUS_KEYS if k in config]
    if named != ["qbft"]:
        raise GenesisConsensusInvalid(f"config must name QBFT alone, names {named or 'none'}")
    qbft = config["qbft"]
    for key in ("blockperiodseconds", "epochlength", "requesttimeoutseconds"):
        value = qbft.get(key) if isinstance(qbft, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise GenesisConsensusInvalid(f"qbft.{key} must be a positive integer, got {value!r}")
    if qbft["requesttimeoutseconds"] <= qbft["blockperiodseconds"]:
        raise GenesisConsensusInvalid(
            "qbft.requesttimeoutseconds must exceed blockperiodseconds (a round outlasts a block)"
        )
    return qbft["blockperiodseconds"]


def check_genesis(genesis: dict) -> GenesisFacts:
    """`genesis` checked against Besu's rules for a QBFT network; a GenesisInvalid subclass names
    the first rule it breaks."""
    config = genesis.get("config")
    if not isinstance(config, dict):
        raise GenesisConsensusInvalid("genesis has no config block")
    period = _consensus(config)
    chain_id = config.get("chainId")
    if (
        isinstance(chain_id, bool)
        or not isinstance(chain_id, int)
        or not 1 <= chain_id <= MAX_CHAIN_ID
    ):
        raise GenesisChainIdInvalid(f"config.chainId must be 1 .. {MAX_CHAIN_ID}, got {chain_id!r}")
    try:
        gas = _quantity(genesis, "gasLimit")
    except GenesisHeaderInvalid as exc:
        raise GenesisGasLimitInvalid(str(exc)) from None
    if not MIN_BLOCK_GAS <= gas <= MAX_BLOCK_GAS:
        raise GenesisGasLimitInvalid(
            f"gasLimit {gas:,} must hold one EIP-7825-capped transaction ({MIN_BLOCK_GAS:,}) "
            f"and fit a Java long"
        )
    if str(genesis.get("mixHash", "")).lower() != BFT_MIX_HASH:
        raise GenesisHeaderInvalid(f"a BFT genesis' mixHash must be {BFT_MIX_HASH}")
    if _quantity(genesis, "difficulty") != 1 or _quantity(genesis, "nonce") != 0:
        raise GenesisHeaderInvalid("a BFT genesis has difficulty 0x1 and nonce 0x0")
    validators = decode_qbft_extra_data(str(genesis.get("extraData", "")))
    return GenesisFacts(validators, chain_id, gas, period)


# ------------------------------------------------------------------ reading the allowlists back
class PermissionsConfigInvalid(ValueError):
    """A permissions_config.toml that is not TOML, or not the two lists of strings Besu reads."""


PERMISSION_KEYS = ("accounts-allowlist", "nodes-allowlist")


def read_permissions_config(text: str, where: str = "permissions_config.toml") -> Allowlists:
    """The allowlists of a permissions_config.toml, parsed by a TOML library (what a node loads)."""
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PermissionsConfigInvalid(f"{where}: not TOML ({exc})") from None
    unknown = sorted(set(doc) - set(PERMISSION_KEYS))
    if unknown:
        raise PermissionsConfigInvalid(f"{where}: unknown key {unknown[0]!r}")
    lists = []
    for key in PERMISSION_KEYS:
        items = doc.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise PermissionsConfigInvalid(f"{where}: {key} must be a list of strings")
        lists.append(tuple(items))
    return Allowlists(accounts=lists[0], nodes=lists[1])


class RegistryReadError(RuntimeError):
    """The address read over JSON-RPC does not answer as a ConsortiumRegistry."""


def _call(url: str, to: str, signature: str, args: tuple = (), types: tuple = ()) -> bytes:
    from eth_abi import encode
    from eth_utils import keccak

    data = keccak(text=signature)[:4] + encode(list(types), list(args))
    out = bytes.fromhex(
        _rpc(url, "eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])[2:]
    )
    if not out:
        raise RegistryReadError(f"{url}: {signature} at {to} returned nothing: no registry there")
    return out


def allowlists_over_rpc(url: str, registry: str) -> Allowlists:
    """The allowlists of `allowlists()`, read from the registry at `registry` with raw `eth_call`s
    only (any node's JSON-RPC, no brownie, no ABI file): what an operator can check a node with."""
    from eth_abi import decode

    def addresses(signature: str, *args: str) -> list[str]:
        types = ("address",) * len(args)
        return list(decode(["address[]"], _call(url, registry, signature, args, types))[0])

    def active(member: str) -> bool:
        raw = _call(url, registry, "getMember(address)", (member,), ("address",))
        member_type = "(uint8,bytes32,bytes32,address,bytes32,bytes32,address)"
        return int(decode([member_type], raw)[0][0]) == ACTIVE

    accounts: list[str] = []
    for member in addresses("members()"):
        if active(member):
            accounts += [member, *addresses("operatorsOf(address)", member)]
    _ids, owners, enodes = decode(
        ["bytes32[]", "address[]", "string[]"], _call(url, registry, "nodes()")
    )
    nodes = [e for o, e in zip(owners, enodes) if active(o)]
    return Allowlists(
        accounts=tuple(sorted({a.lower() for a in accounts})), nodes=tuple(sorted(set(nodes)))
    )
