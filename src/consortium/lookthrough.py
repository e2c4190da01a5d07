"""Sealed look-through records: an intermediary's investors' positions, provable and sealed.

Per settlement cycle an intermediary seals, to the regulator of each investor's jurisdiction, the
investor leaves it allocated down the holding chain (HoldingChain.allocate): one OpenZeppelin
standard Merkle tree over all of them (SealedRecords keeps its root), each position sealed with its
proof under that root and its proof under the holding chain's investor root of its asset
(consortium.envelope: AES-256-GCM data key wrapped with ECIES, bound to the intermediary and cycle).
A position's leaf is the holding chain's investor leaf (`domain.holding.investor_leaf`, on chain
InvestorLeaf.hash), so the same record proves in both places.
A regulator opens the records sealed to it (`open_records`); another regulator's key opens none.
Each opened record proves against the published root (`prove`, on chain `verifyPosition`) and
against the intermediary's investor root on HoldingChain (`prove_held`, on chain
`verifyInvestor`); its commitment is the one the investor's trades carry
(`commit(investor id, salt)`).

No chain here: `roles/lookthrough.py` sends and reads. The compact form on chain (`pack`/`unpack`)
is a byte layout of the envelope's parts, not cryptography.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from consortium.domain.encoding import b32
from consortium.domain.hashing import commit, new_salt
from consortium.domain.holding import (
    INVESTOR_TYPES,
    InvestorSet,
    investor_leaf,
    verify_investor,
)
from consortium.domain.merkle import RecordTree, process_proof
from consortium.envelope import Envelope, EnvelopeMalformed, NotARecipient, open, seal

# a sealed record's plaintext, tightly packed (every byte is ciphertext on chain, 16 gas each):
# kind(1) | asset(32) | amount(32, two's complement) | salt(32) | n(1) | m(1) | n proof hashes |
# m holding-proof hashes | investor id (UTF-8, the rest)
_RECORD_HEAD = struct.Struct(">B32s32s32sBB")
# SealedRecords.MAX_RECORDS: records one part takes (publish's first, each appendRecords')
MAX_RECORDS = 256
PART_BYTES = 96_000  # records' bytes in one part (below geth's 128 KB transaction, with the ABI's)
_PACK_VERSION = 2  # 2: the holding chain's leaf (uint256 asset), kind and holding proof carried


class RecordUnproven(ValueError):
    """An opened record does not prove against the root its intermediary published."""


class RecordNotOnHoldingChain(RecordUnproven):
    """An opened record is not one of the investor leaves its intermediary allocated on HoldingChain
    (another amount, asset or investor than the holding chain settled, or no step there)."""


@dataclass(frozen=True)
class Position:
    """One investor's position in one asset at an intermediary after a cycle: an investor leaf of
    the intermediary's step down the holding chain. `kind` and `asset` are the engine's
    (SECURITY with a security id, CASH with uint256(currency code)); `amount` may be negative
    (delivered). `salt` is the one of the investor's commitment on its trades."""

    investor_id: str
    kind: int
    asset: int
    amount: int
    jurisdiction: str
    salt: bytes = field(default_factory=new_salt)

    @property
    def commitment(self) -> bytes:
        return commit(self.investor_id, self.salt)

    def values(self) -> tuple[bytes, int, int]:
        """The investor leaf's values (commitment, asset, amount)."""
        return (self.commitment, int(self.asset), int(self.amount))


@dataclass(frozen=True)
class Record:
    """A sealed record once opened: the position, who holds it (id and salt), its proof under the
    published root and its proof under the holding chain's investor root of (kind, asset)."""

    kind: int
    asset: int
    amount: int
    investor_id: str
    salt: bytes
    proof: tuple[bytes, ...]
    holding_proof: tuple[bytes, ...] = ()

    @property
    def commitment(self) -> bytes:
        """What the chain knows of the investor: checkable against its trades' commitments."""
        return commit(self.investor_id, self.salt)

    @property
    def leaf(self) -> bytes:
        return investor_leaf(self.commitment, self.asset, self.amount)

    def to_bytes(self) -> bytes:
        """The plaintext sealed (the layout above _RECORD_HEAD)."""
        head = _RECORD_HEAD.pack(
            self.kind,
            self.asset.to_bytes(32, "big"),
            self.amount.to_bytes(32, "big", signed=True),
            b32(self.salt),
            len(self.proof),
            len(self.holding_proof),
        )
        hashes = b"".join(b32(h) for h in (*self.proof, *self.holding_proof))
        return head + hashes + self.investor_id.encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        """The record of `to_bytes`; EnvelopeMalformed when the plaintext is not one."""
        size = _RECORD_HEAD.size
        try:
            kind, asset, amount, salt, n, m = _RECORD_HEAD.unpack_from(data)
            at = size + 32 * (n + m)
            if len(data) < at:
                raise ValueError(f"{len(data)} bytes, the proofs need {at}")
            hashes = [bytes(data[i : i + 32]) for i in range(size, at, 32)]
            investor = bytes(data[at:]).decode()
        except (struct.error, ValueError) as exc:
            raise EnvelopeMalformed(f"not a sealed look-through record ({exc})") from None
        return cls(
            kind,
            int.from_bytes(asset, "big"),
            int.from_bytes(amount, "big", signed=True),
            investor,
            salt,
            tuple(hashes[:n]),
            tuple(hashes[n:]),
        )


def aad(intermediary: str, cycle_id: bytes) -> bytes:
    """What a record is bound to: an envelope moved to another intermediary or cycle won't open."""
    return bytes.fromhex(intermediary.lower().removeprefix("0x")) + b32(cycle_id)


# ------------------------------------------------------------------ the compact on-chain form
def pack(env: Envelope) -> bytes:
    """version | nonce(12) | tag(16) | n(1) | n x (len(2) | wrapped key) | ciphertext.

    The AAD is not carried: the reader rebuilds it from the event (intermediary, cycle)."""
    if len(env.wrapped) > 255 or len(env.nonce) != 12 or len(env.tag) != 16:
        raise ValueError("envelope cannot be packed: 12-byte nonce, 16-byte tag, ≤ 255 keys")
    out = [bytes([_PACK_VERSION]), env.nonce, env.tag, bytes([len(env.wrapped)])]
    for w in env.wrapped:
        out += [struct.pack(">H", len(w)), w]
    return b"".join(out) + env.ciphertext


def unpack(data: bytes, bound_to: bytes) -> Envelope:
    """The envelope of `pack`, bound to `bound_to`; EnvelopeMalformed for anything else."""
    data = bytes(data)
    try:
        if data[0] != _PACK_VERSION:
            raise ValueError(f"version {data[0]}")
        nonce, tag, n, at = data[1:13], data[13:29], data[29], 30
        wrapped = []
        for _ in range(n):
            (size,) = struct.unpack(">H", data[at : at + 2])
            wrapped.append(data[at + 2 : at + 2 + size])
            if len(wrapped[-1]) != size:
                raise ValueError("truncated wrapped key")
            at += 2 + size
        if len(tag) != 16 or at > len(data):
            raise ValueError("truncated")
        return Envelope(nonce, data[at:], tag, tuple(wrapped), bound_to)
    except (IndexError, ValueError, struct.error) as exc:
        raise EnvelopeMalformed(f"not a packed sealed record ({exc})") from None


# ------------------------------------------------------------------ sealing
@dataclass(frozen=True)
class RegulatorKey:
    """A regulator's address (what the record names on chain) and public encryption key."""

    address: str
    public_key: bytes


@dataclass
class Sealed:
    """What one intermediary publishes for one cycle: the root and its records, sent in parts
    (SealedRecords.publish carries the first, appendRecords each other) of at most `part` records
    and `part_bytes` bytes of records, whichever comes first: a record grows with the log of the
    leaf count (its two proofs), ~870 bytes at 1,353 leaves, and a transaction of 256 such records
    (~250 KB) is over what nodes take into their pools (geth 128 KB)."""

    cycle_id: bytes
    root: bytes
    leaf_count: int
    regulators: list[str]
    records: list[bytes]  # packed envelopes, one per position of a supervised investor
    unsealed: list[Position] = field(default_factory=list)  # no regulator for their jurisdiction
    part: int = MAX_RECORDS
    part_bytes: int = PART_BYTES

    def args(self) -> tuple:
        """SealedRecords.publish's arguments: the root, the counts and the first part."""
        end = self._end(0)
        return (
            self.cycle_id,
            self.root,
            self.leaf_count,
            len(self.records),
            self.regulators[:end],
            self.records[:end],
        )

    def appends(self, sealed: int | None = None) -> list[tuple]:
        """SealedRecords.appendRecords' arguments of every part after the first, in order: the
        ones from record `sealed` on (what the chain holds already; by default the first part)."""
        out, start = [], self._end(0) if sealed is None else sealed
        while start < len(self.records):
            end = self._end(start)
            out.append((self.cycle_id, start, self.regulators[start:end], self.records[start:end]))
            start = end
        return out

    def _end(self, start: int) -> int:
        """The end of the part from record `start`: at least one record, then as many as fit."""
        end, size = start, 0
        while end < len(self.records) and end - start < self.part:
            size += len(self.records[end])
            if end > start and size > self.part_bytes:
                break
            end += 1
        return end


def tree_of(positions: Sequence[Position]) -> RecordTree:
    """The positions' Merkle tree; a position repeated (same investor, asset, amount) is refused."""
    return RecordTree([p.values() for p in positions], INVESTOR_TYPES)


def holding_sets(positions: Iterable[Position]) -> dict[tuple[int, int], InvestorSet]:
    """The positions grouped as the holding chain records them: one InvestorSet per (kind, asset),
    whose root is the intermediary's investor root of that step on HoldingChain when the positions
    are the step's investor leaves."""
    groups: dict[tuple[int, int], list[tuple[bytes, int, int]]] = defaultdict(list)
    for p in positions:
        groups[(int(p.kind), int(p.asset))].append(p.values())
    return {k: InvestorSet(tuple(v)) for k, v in groups.items()}


def seal_positions(
    intermediary: str,
    cycle_id: bytes,
    positions: Sequence[Position],
    regulators: Mapping[str, RegulatorKey],
) -> Sealed:
    """The root over every position, and each position sealed to its jurisdiction's regulator with
    its proofs (under that root, and under its (kind, asset) investor root: `holding_sets`).

    `regulators` maps a jurisdiction code to its regulator; a position of a jurisdiction without one
    stays in the tree, unsealed (listed in `unsealed`)."""
    if not positions:
        raise ValueError(f"{intermediary}: no positions for cycle 0x{b32(cycle_id).hex()}")
    tree = tree_of(positions)
    held = holding_sets(positions)
    bound = aad(intermediary, cycle_id)
    regs, records, unsealed = [], [], []
    for p in positions:
        reg = regulators.get(p.jurisdiction)
        if reg is None:
            unsealed.append(p)
            continue
        commitment, asset, amount = p.values()
        proof = tuple(tree.proof((commitment, asset, amount)))
        holding_proof = tuple(held[(int(p.kind), asset)].proof(commitment, amount))
        record = Record(int(p.kind), asset, amount, p.investor_id, p.salt, proof, holding_proof)
        regs.append(reg.address)
        records.append(pack(seal(record.to_bytes(), [reg.public_key], aad=bound)))
    return Sealed(b32(cycle_id), tree.root, len(positions), regs, records, unsealed)


# ------------------------------------------------------------------ opening and proving
def open_record(intermediary: str, cycle_id: bytes, packed: bytes, private_key: bytes) -> Record:
    """One record, for the regulator it was sealed to; NotARecipient for any other key."""
    bound = aad(intermediary, cycle_id)
    return Record.from_bytes(open(unpack(packed, bound), private_key, aad=bound))


def open_records(
    intermediary: str, cycle_id: bytes, packed: Iterable[bytes], private_key: bytes
) -> list[Record]:
    """The records among `packed` that `private_key` opens (the others are skipped)."""
    out = []
    for item in packed:
        try:
            out.append(open_record(intermediary, cycle_id, item, private_key))
        except NotARecipient:
            continue
    return out


def proves(record: Record, root: bytes) -> bool:
    """Whether the record's position is under `root` by its own proof (as verifyPosition)."""
    return process_proof(record.leaf, record.proof) == b32(root)


def prove(record: Record, root: bytes) -> None:
    """Raise RecordUnproven (naming the investor's commitment and the root) unless it proves."""
    if not proves(record, root):
        raise RecordUnproven(
            f"record of commitment 0x{record.commitment.hex()} (asset {record.asset}, "
            f"amount {record.amount}) does not prove against root 0x{b32(root).hex()}: "
            "it was altered or belongs to another publication"
        )


def proves_held(record: Record, holding_root: bytes) -> bool:
    """Whether the record is one of the investor leaves under `holding_root`, the intermediary's
    investor root of (kind, asset) on HoldingChain (as verifyInvestor)."""
    root = b32(holding_root)
    return root != bytes(32) and verify_investor(
        root, record.commitment, record.asset, record.amount, record.holding_proof
    )


def prove_held(record: Record, holding_root: bytes) -> None:
    """Raise RecordNotOnHoldingChain (naming the position, the root and why) unless the record is
    one of the intermediary's investor leaves on HoldingChain."""
    if proves_held(record, holding_root):
        return
    why = (
        "the intermediary allocated no investors in this asset on the holding chain"
        if b32(holding_root) == bytes(32)
        else "its amount, asset or investor is not what the holding chain settled"
    )
    raise RecordNotOnHoldingChain(
        f"record of commitment 0x{record.commitment.hex()} (kind {record.kind}, asset "
        f"{record.asset}, amount {record.amount}) does not prove against the holding chain's "
        f"investor root 0x{b32(holding_root).hex()}: {why}"
    )
