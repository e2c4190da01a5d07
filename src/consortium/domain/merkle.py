"""Merkle trees in OpenZeppelin's standard format (sorted pairs, double-hashed leaves).

The one home of every leaf encoding the contracts prove against (`*_TYPES` below) and of the
report's record hash (canonical JSON, `record_hash`) and leaf (`report_leaf`).

Trees are built with `merkle-zeppelin` (roots and proofs match `@openzeppelin/merkle-tree`); proofs
are checked here with the same rule as OpenZeppelin's `MerkleProof.verify`, so a record is provable
by itself off chain exactly as `ConfirmationAnchor.verifyRecord(bank, root, ...)` proves it on
chain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from merkle_zeppelin import MerkleTree

from consortium.domain.encoding import b32

# leaf of an anchored confirmation record: (period, recordId, counterparty, dataHash); the period
# (business day) in the leaf makes a record provable only under roots anchored for its own day
RECORD_TYPES: tuple[str, ...] = ("uint32", "bytes32", "address", "bytes32")
# leaf of a bilateral payment detail: (recordId, amount, bank, financeCompany, paidAt)
BILATERAL_TYPES: tuple[str, ...] = ("bytes32", "uint256", "address", "address", "uint64")
# leaf of a reconciliation break: (day, recordId, cause, side, presented, corrected)
BREAK_TYPES: tuple[str, ...] = ("uint32", "bytes32", "uint8", "uint8", "uint128", "uint128")
# leaf of a report record (ReportAnchor.leafOf): (regulator, day, rulesHash, recordHash)
REPORT_TYPES: tuple[str, ...] = ("address", "uint32", "bytes32", "bytes32")
# report record fields left out of its hash (the hash itself, its proof, the opened disclosures)
NOT_HASHED = ("recordHash", "proof", "opened")


class ProofInvalid(ValueError):
    """A record does not prove against the root it claims (tampered record or wrong proof)."""


class RecordNotInTree(KeyError):
    """Asked for the proof of a record the tree was not built from."""


def leaf_hash(values: Sequence[Any], types: Sequence[str] = RECORD_TYPES) -> bytes:
    """keccak256(keccak256(abi.encode(values))) — the standard tree's leaf."""
    return keccak(keccak(encode(list(types), list(values))))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin `Hashes.commutativeKeccak256`: hash of the sorted pair."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes | str]) -> bytes:
    """The root a proof (bytes32 or hex siblings) leads to from `leaf`
    (`MerkleProof.processProof`)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, b32(sibling))
    return node


def verify(
    root: bytes, values: Sequence[Any], proof: Sequence[bytes], types: Sequence[str] = RECORD_TYPES
) -> bool:
    """Whether `values` (one record) is under `root` by `proof`."""
    return process_proof(leaf_hash(values, types), proof) == bytes(root)


def require_proven(
    root: bytes, values: Sequence[Any], proof: Sequence[bytes], types: Sequence[str] = RECORD_TYPES
) -> None:
    """Raise ProofInvalid (naming the record and root) unless the record proves against `root`."""
    if not verify(root, values, proof, types):
        raise ProofInvalid(
            f"record {tuple(_show(v) for v in values)} "
            f"does not prove against root 0x{bytes(root).hex()}: "
            "the record was altered or the proof belongs to another record; "
            "fetch the original from the sender"
        )


def _show(v: Any) -> Any:
    return "0x" + v.hex() if isinstance(v, (bytes, bytearray)) else v


def _norm(values: Sequence[Any], types: Sequence[str]) -> tuple:
    """Canonical tuple form of a record
    (bytes for bytesN, checksummed-insensitive lower-case addresses)."""
    out = []
    for v, t in zip(values, types):
        if t == "address":
            out.append(str(v).lower())
        elif t.startswith("bytes") and isinstance(v, str):
            out.append(bytes.fromhex(v.removeprefix("0x")))
        else:
            out.append(bytes(v) if isinstance(v, (bytes, bytearray)) else v)
    return tuple(out)


@dataclass
class RecordTree:
    """A standard Merkle tree over records of one leaf encoding, with per-record proofs."""

    records: list[tuple]
    types: tuple[str, ...] = RECORD_TYPES
    _tree: MerkleTree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.records:
            raise ValueError("a Merkle tree needs at least one record; nothing to anchor")
        self.records = [_norm(r, self.types) for r in self.records]
        if len(set(self.records)) != len(self.records):
            raise ValueError(
                "duplicate records in one tree: give every record a unique id before anchoring"
            )
        self._tree = MerkleTree(self.records, list(self.types))

    @property
    def root(self) -> bytes:
        return self._tree.root

    @property
    def leaves(self) -> list[bytes]:
        """The tree's leaf hashes
        (a receiver checks membership of a record's leaf against these)."""
        return list(self._tree.leaves)

    def proof(self, record: Sequence[Any]) -> list[bytes]:
        key = _norm(record, self.types)
        try:
            return self._tree.get_proofs(key)
        except KeyError:
            raise RecordNotInTree(
                f"record {key} is not in this tree (root 0x{self.root.hex()})"
            ) from None

    def __len__(self) -> int:
        return len(self.records)


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    """Root of a standard tree from its leaf hashes in any order (sorted as OpenZeppelin does)."""
    if not leaves:
        raise ValueError("no leaves")
    nodes = sorted((bytes(x) for x in leaves), reverse=True)
    # the standard tree stores leaves descending at the end of the array; rebuild level-free as in
    # BinaryTree
    tree = nodes[::-1]
    i = 0
    while i < len(tree) - 1:
        tree.append(hash_pair(tree[i], tree[i + 1]))
        i += 2
    return tree[-1]


# ------------------------------------------------------------------ report records
def canonical_json(record: dict) -> bytes:
    """UTF-8 JSON of a report record without NOT_HASHED fields: keys sorted, no whitespace."""
    body = {k: v for k, v in record.items() if k not in NOT_HASHED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict) -> bytes:
    """keccak256 of the record's canonical JSON."""
    return keccak(canonical_json(record))


def report_leaf(regulator: str, day: int, rules_hash: str | bytes, rec_hash: str | bytes) -> tuple:
    """The leaf value of a report record (regulator, day, rulesHash, recordHash), REPORT_TYPES."""
    return (
        regulator.lower() if isinstance(regulator, str) else regulator,
        int(day),
        b32(rules_hash),
        b32(rec_hash),
    )


def report_leaf_hash(
    regulator: str, day: int, rules_hash: str | bytes, rec_hash: str | bytes
) -> bytes:
    """The standard-format leaf of a report record, as ReportAnchor.leafOf computes it."""
    return leaf_hash(report_leaf(regulator, day, rules_hash, rec_hash), REPORT_TYPES)


def report_tree(leaves: list[tuple]) -> MerkleTree | None:
    """OpenZeppelin standard tree of report leaf values; None for an empty report (root zero)."""
    return MerkleTree(leaves, list(REPORT_TYPES)) if leaves else None
