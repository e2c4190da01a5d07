"""Sealed look-through records: an intermediary's investors' positions, provable and sealed.

Per settlement cycle an intermediary builds one OpenZeppelin standard Merkle tree over its
investors' position leaves (`position_leaf`) and seals each position, with its proof, to the
regulator of the investor's jurisdiction (consortium.envelope: AES-256-GCM data key wrapped with
ECIES, bound to the intermediary and cycle). SealedRecords.sol keeps the root and emits the
ciphertext; nothing else.
A regulator opens the records sealed to it (`open_records`); another regulator's key opens none.
Each opened record proves against the root on chain (`SealedRecords.verifyPosition`) or off chain
(`prove`), and its commitment is the one the investor's trades carry (`commit(investor id, salt)`).

No chain here: `roles/lookthrough.py` sends and reads. The compact form on chain (`pack`/`unpack`)
is a byte layout of the envelope's parts, not cryptography.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from eth_abi import decode, encode

from consortium.domain.encoding import b32
from consortium.domain.hashing import code32, commit, new_salt
from consortium.domain.merkle import RecordTree, leaf_hash, process_proof
from consortium.envelope import Envelope, EnvelopeMalformed, NotARecipient, open, seal

# leaf of a position (SealedRecords.positionLeaf): (investor commitment, asset, amount)
POSITION_TYPES: tuple[str, ...] = ("bytes32", "bytes32", "int256")
# a sealed record's plaintext: (asset, amount, investor id, salt, proof)
RECORD_TYPES: tuple[str, ...] = ("bytes32", "int256", "string", "bytes32", "bytes32[]")
# SealedRecords.MAX_RECORDS: records one publish takes
MAX_RECORDS = 256
_PACK_VERSION = 1


class RecordUnproven(ValueError):
    """An opened record does not prove against the root its intermediary published."""


def asset_bytes(asset: int | str | bytes) -> bytes:
    """An asset as bytes32: a security id (int, big-endian), a code ('HKD') or a bytes32 already."""
    if isinstance(asset, int):
        return asset.to_bytes(32, "big")
    if isinstance(asset, str) and not asset.startswith("0x"):
        return code32(asset)
    return b32(asset)


def position_leaf(commitment: bytes, asset: int | str | bytes, amount: int) -> bytes:
    """The standard-tree leaf of one position, as SealedRecords.positionLeaf computes it."""
    return leaf_hash((b32(commitment), asset_bytes(asset), int(amount)), POSITION_TYPES)


@dataclass(frozen=True)
class Position:
    """One investor's position in one asset at an intermediary after a cycle (amount may be
    negative: delivered). `salt` is the one of the investor's commitment on its trades."""

    investor_id: str
    asset: int | str | bytes
    amount: int
    jurisdiction: str
    salt: bytes = field(default_factory=new_salt)

    @property
    def commitment(self) -> bytes:
        return commit(self.investor_id, self.salt)

    def values(self) -> tuple[bytes, bytes, int]:
        return (self.commitment, asset_bytes(self.asset), int(self.amount))


@dataclass(frozen=True)
class Record:
    """A sealed record once opened: the position, who holds it (id and salt), and its proof."""

    asset: bytes
    amount: int
    investor_id: str
    salt: bytes
    proof: tuple[bytes, ...]

    @property
    def commitment(self) -> bytes:
        """What the chain knows of the investor: checkable against its trades' commitments."""
        return commit(self.investor_id, self.salt)

    @property
    def leaf(self) -> bytes:
        return position_leaf(self.commitment, self.asset, self.amount)

    def to_bytes(self) -> bytes:
        return encode(
            list(RECORD_TYPES),
            [self.asset, self.amount, self.investor_id, self.salt, list(self.proof)],
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        asset, amount, investor, salt, proof = decode(list(RECORD_TYPES), data)
        return cls(bytes(asset), int(amount), str(investor), bytes(salt), tuple(map(bytes, proof)))


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
    """What one intermediary publishes for one cycle (the arguments of SealedRecords.publish)."""

    cycle_id: bytes
    root: bytes
    leaf_count: int
    regulators: list[str]
    records: list[bytes]  # packed envelopes, one per position of a supervised investor
    unsealed: list[Position] = field(default_factory=list)  # no regulator for their jurisdiction

    def args(self) -> tuple:
        return (self.cycle_id, self.root, self.leaf_count, self.regulators, self.records)


def tree_of(positions: Sequence[Position]) -> RecordTree:
    """The positions' Merkle tree; a position repeated (same investor, asset, amount) is refused:
    aggregate an investor's positions per asset first (`merge`)."""
    return RecordTree([p.values() for p in positions], POSITION_TYPES)


def merge(positions: Iterable[Position]) -> list[Position]:
    """One position per (investor, salt, asset, jurisdiction), amounts summed, zeros kept out."""
    out: dict[tuple, Position] = {}
    for p in positions:
        key = (p.investor_id, p.salt, asset_bytes(p.asset), p.jurisdiction)
        prev = out.get(key)
        out[key] = (
            p
            if prev is None
            else Position(p.investor_id, p.asset, prev.amount + p.amount, p.jurisdiction, p.salt)
        )
    return [p for p in out.values() if p.amount != 0]


def seal_positions(
    intermediary: str,
    cycle_id: bytes,
    positions: Sequence[Position],
    regulators: Mapping[str, RegulatorKey],
) -> Sealed:
    """The root over every position, and each position sealed to its jurisdiction's regulator.

    `regulators` maps a jurisdiction code to its regulator; a position of a jurisdiction without one
    stays in the tree, unsealed (listed in `unsealed`)."""
    if not positions:
        raise ValueError(f"{intermediary}: no positions for cycle 0x{b32(cycle_id).hex()}")
    tree = tree_of(positions)
    bound = aad(intermediary, cycle_id)
    regs, records, unsealed = [], [], []
    for p in positions:
        reg = regulators.get(p.jurisdiction)
        if reg is None:
            unsealed.append(p)
            continue
        commitment, asset, amount = p.values()
        proof = tuple(tree.proof((commitment, asset, amount)))
        record = Record(asset, amount, p.investor_id, p.salt, proof)
        regs.append(reg.address)
        records.append(pack(seal(record.to_bytes(), [reg.public_key], aad=bound)))
    if len(records) > MAX_RECORDS:
        raise ValueError(
            f"{intermediary}: {len(records)} sealed records exceed SealedRecords.MAX_RECORDS "
            f"({MAX_RECORDS}) for one cycle"
        )
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
            f"record of commitment 0x{record.commitment.hex()} (asset 0x{record.asset.hex()}, "
            f"amount {record.amount}) does not prove against root 0x{b32(root).hex()}: "
            "it was altered or belongs to another publication"
        )
