"""Clearing data of cross-border securities trades, exactly as contracts/libraries/Clearing.sol and
contracts/settlement/SettlementEngine.sol compute it (the property tests compare both).

Rounding rule (identical on chain): every charge is
``max(minimum, (gross * bps + 5_000) // 10_000)``, i.e. the basis-point rate applied to the gross
amount, rounded half up to the minor unit, floored at the charge's minimum. Charges are computed
independently on the gross amount, never on each other. A buy pays ``gross + fees + taxes``; a sell
receives ``gross - fees - taxes`` (charges above gross are refused).

A *trade* is one side of an execution: the side its client took, settled by the clearing
participant. Trades reach the chain only as record hashes folded into hash chains ("buckets"): two
parties hold the same trades in common exactly when their buckets for each other agree.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

BPS_DENOMINATOR = 10_000
MAX_QUANTITY = 10**15
MAX_PRICE = 10**18
BUY, SELL = 0, 1
SIDES = {"buy": BUY, "sell": SELL}  # a trades file's side words
ZERO_ADDRESS = "0x" + "00" * 20
ALL = b"\x00" * 32  # the bucket of every trade a party holds

TRADE_TYPES = (
    "bytes32",
    "uint256",
    "bytes32",
    "uint8",
    "uint256",
    "uint256",
    "uint32",
    "bytes32",
    "address",
    "address",
    "address",
    "address",
)
CHARGE_TYPE = "(uint8,uint8,uint16,uint128)"


class Payer(IntEnum):
    BOTH = 0
    BUYER = 1
    SELLER = 2


class ChargeKind(IntEnum):
    FEE = 0
    TAX = 1


class ClearingError(ValueError):
    """A trade or configuration the contract would refuse; `name` is the Solidity error's name."""

    def __init__(self, name: str, *values: int) -> None:
        super().__init__(f"{name}: {', '.join(str(v) for v in values)}")
        self.name = name
        self.values = values


@dataclass(frozen=True)
class Charge:
    """One line of a party's configuration for a product: a fee or tax in bps with a minimum."""

    kind: ChargeKind
    payer: Payer
    bps: int
    minimum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.bps <= BPS_DENOMINATOR:
            raise ClearingError("ClearingBpsOutOfRange", self.bps, BPS_DENOMINATOR)
        if self.minimum < 0:
            raise ValueError(
                f"charge minimum {self.minimum} is negative; give it in minor units >= 0"
            )

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (int(self.kind), int(self.payer), self.bps, self.minimum)


@dataclass(frozen=True)
class Line:
    """Clearing data of one trade for one party."""

    gross: int
    fees: int
    taxes: int
    net: int


def gross_amount(quantity: int, price: int) -> int:
    """quantity * price after the contract's bounds (negative or zero values are out of range)."""
    if not 0 < quantity <= MAX_QUANTITY:
        raise ClearingError("ClearingQuantityOutOfRange", quantity, MAX_QUANTITY)
    if not 0 < price <= MAX_PRICE:
        raise ClearingError("ClearingPriceOutOfRange", price, MAX_PRICE)
    return quantity * price


def charge_amount(gross: int, bps: int, minimum: int) -> int:
    """``max(minimum, (gross * bps + 5_000) // 10_000)`` — round half up, then the minimum."""
    return max(minimum, (gross * bps + BPS_DENOMINATOR // 2) // BPS_DENOMINATOR)


def applies(payer: Payer, side: int) -> bool:
    return payer == Payer.BOTH or (side == BUY if payer == Payer.BUYER else side == SELL)


def clear(side: int, quantity: int, price: int, charges: Sequence[Charge]) -> Line:
    """Clearing line of one trade under a party's charges (Clearing.clear)."""
    if side not in (BUY, SELL):
        raise ClearingError("ClearingInvalidSide", side)
    gross = gross_amount(quantity, price)
    fees = taxes = 0
    for c in charges:
        if not applies(c.payer, side):
            continue
        amount = charge_amount(gross, c.bps, c.minimum)
        if c.kind == ChargeKind.FEE:
            fees += amount
        else:
            taxes += amount
    if side == BUY:
        return Line(gross, fees, taxes, gross + fees + taxes)
    if fees + taxes > gross:
        raise ClearingError("ClearingChargesExceedGross", gross, fees + taxes)
    return Line(gross, fees, taxes, gross - fees - taxes)


def config_hash(charges: Sequence[Charge]) -> bytes:
    """keccak256(abi.encode(Charge[])) — the hash ClearingConfigSet carries."""
    return keccak(encode([f"{CHARGE_TYPE}[]"], [[c.as_tuple() for c in charges]]))


@functools.lru_cache(maxsize=4096)
def _addr(a: str | None) -> str:
    """The checksummed address (a keccak each time uncached: a few hundred parties' addresses,
    checksummed again for every trade built, were a settlement agent's busiest line)."""
    return to_checksum_address(a) if a else ZERO_ADDRESS


def peer_key(address: str) -> bytes:
    """The bucket key of an address peer: bytes32(uint256(uint160(address)))."""
    return bytes.fromhex(address[2:].lower()).rjust(32, b"\x00")


@dataclass(frozen=True)
class Trade:
    """One side of an execution as uploaded. `owner_commitment` is the salted hash of the beneficial
    owner's pseudonym (the pseudonym itself stays with the parties entitled to it)."""

    trade_id: bytes
    security_id: int
    currency: bytes
    side: int
    quantity: int
    price: int
    trade_date: int
    owner_commitment: bytes
    local_broker: str = ZERO_ADDRESS
    participant: str = ZERO_ADDRESS
    custodian: str = ZERO_ADDRESS
    exchange: str = ZERO_ADDRESS

    def __post_init__(self) -> None:
        for name in ("local_broker", "participant", "custodian", "exchange"):
            object.__setattr__(self, name, _addr(getattr(self, name)))

    def as_tuple(self) -> tuple:
        return (
            self.trade_id,
            self.security_id,
            self.currency,
            self.side,
            self.quantity,
            self.price,
            self.trade_date,
            self.owner_commitment,
            self.local_broker,
            self.participant,
            self.custodian,
            self.exchange,
        )

    def record_hash(self) -> bytes:
        """keccak256(abi.encode(trade)) — the record the buckets fold."""
        return keccak(encode(list(TRADE_TYPES), list(self.as_tuple())))

    def chain_parties(self) -> list[str]:
        """Distinct non-zero parties along the chain, in the contract's folding order."""
        out: list[str] = []
        for a in (self.local_broker, self.participant, self.custodian, self.exchange):
            if a != ZERO_ADDRESS and a not in out:
                out.append(a)
        return out

    def involves(self, party: str) -> bool:
        return _addr(party) in self.chain_parties()

    @property
    def gross(self) -> int:
        return gross_amount(self.quantity, self.price)


def trade_id(n: int) -> bytes:
    """A trade id from a positive integer (ascending integers give ascending ids)."""
    if n <= 0:
        raise ValueError(f"trade number {n} must be positive: id zero is never accepted")
    return n.to_bytes(32, "big")


HASH_BYTES = 24  # bucket hash chains keep 192 bits: count and hash share one storage word


def fold(chain: bytes, record: bytes) -> bytes:
    """One step of a bucket's hash chain, as TradeUpload.fold: the low 192 bits of
    keccak256(abi.encodePacked(chain, record)), as a bytes32 (so count and hash fit one word)."""
    return keccak(chain + record)[-HASH_BYTES:].rjust(32, b"\x00")


@dataclass
class Bucket:
    count: int = 0
    hash: bytes = ALL

    def add(self, record: bytes) -> None:
        self.count += 1
        self.hash = fold(self.hash, record)

    def as_tuple(self) -> tuple[int, bytes]:
        return (self.count, self.hash)


def sorted_for(party: str, trades: Iterable[Trade]) -> list[Trade]:
    """The trades on which `party` appears, in ascending trade id (the upload order)."""
    return sorted((t for t in trades if t.involves(party)), key=lambda t: t.trade_id)


def set_bucket(trades: Iterable[Trade]) -> Bucket:
    """Count and hash chain of a set of trades in ascending id order."""
    b = Bucket()
    for t in sorted(trades, key=lambda t: t.trade_id):
        b.add(t.record_hash())
    return b


@dataclass
class ClearingTotals:
    """First clearing data in one currency (ISettlementEngine.ClearingTotals)."""

    trades: int = 0
    gross: int = 0
    fees: int = 0
    taxes: int = 0
    buy_net: int = 0
    sell_net: int = 0

    def add(self, side: int, line: Line) -> None:
        self.trades += 1
        self.gross += line.gross
        self.fees += line.fees
        self.taxes += line.taxes
        if side == BUY:
            self.buy_net += line.net
        else:
            self.sell_net += line.net

    @property
    def cash(self) -> int:
        """The cash the party's trades move for it before charges: the sells' gross less the
        buys' (sellNet - buyNet + fees + taxes, as Instructions.checkDue computes it)."""
        return self.sell_net - self.buy_net + self.fees + self.taxes

    def as_tuple(self) -> tuple[int, ...]:
        return (self.trades, self.gross, self.fees, self.taxes, self.buy_net, self.sell_net)


@dataclass
class FirstClearing:
    """A first party's clearing data for a cycle: per-trade lines, per-currency totals, buckets."""

    party: str
    lines: list[tuple[Trade, Line]] = field(default_factory=list)
    totals: dict[bytes, ClearingTotals] = field(default_factory=dict)
    buckets: dict[bytes, Bucket] = field(default_factory=dict)
    clearing_hash: bytes = ALL

    def bucket(self, peer: bytes | str) -> Bucket:
        key = peer_key(peer) if isinstance(peer, str) else peer
        return self.buckets.get(key, Bucket())


def first_clearing(
    party: str, trades: Iterable[Trade], charges: dict[int, Sequence[Charge]] | None = None
) -> FirstClearing:
    """What SettlementEngine.uploadTrades computes for `party` from the trades it appears on."""
    party = _addr(party)
    charges = charges or {}
    out = FirstClearing(party)
    for t in sorted_for(party, trades):
        line = clear(t.side, t.quantity, t.price, charges.get(t.security_id, ()))
        record = t.record_hash()
        out.lines.append((t, line))
        out.totals.setdefault(t.currency, ClearingTotals()).add(t.side, line)
        for key in [ALL, t.owner_commitment] + [
            peer_key(p) for p in t.chain_parties() if p != party
        ]:
            out.buckets.setdefault(key, Bucket()).add(record)
        out.clearing_hash = keccak(
            encode(
                ["bytes32", "bytes32", "uint256", "uint256", "uint256", "uint256"],
                [out.clearing_hash, record, line.gross, line.fees, line.taxes, line.net],
            )
        )
    return out


@dataclass(frozen=True)
class SecondClearing:
    """A CCP's or CSD's clearing data for one first party (ISettlementEngine.SecondClearing): its
    bucket and, per currency, the totals its first clearing data must have."""

    party: str
    trade_count: int
    trade_set_hash: bytes
    config_hash: bytes
    totals: dict[bytes, ClearingTotals] = field(default_factory=dict)

    def as_tuple(self) -> tuple:
        """The entry as submitSecondClearing takes it: currency lines strictly ascending."""
        return (
            self.party,
            self.trade_count,
            self.trade_set_hash,
            self.config_hash,
            [(c, self.totals[c].as_tuple()) for c in sorted(self.totals)],
        )

    @property
    def lines(self) -> int:
        """Currency lines of the entry (SettlementEngine.MAX_SECOND_CLEARING_LINES per batch)."""
        return len(self.totals)


def second_clearing(
    party: str, trades: Iterable[Trade], charges: dict[int, Sequence[Charge]] | None = None
) -> SecondClearing:
    """A second party's data for `party`: the trades it appears on (bucket) and their clearing
    data per currency under `charges` (the party's configuration per security, as the chain holds
    it), computed by `first_clearing` itself, so a second party agrees with the chain's first
    clearing data exactly when both hold the same trades under the same charges."""
    charges = charges or {}
    mine = first_clearing(party, trades, charges)
    b = mine.bucket(ALL)
    # the configuration of each product the party's trades are in, ascending
    products = sorted({t.security_id for t, _ in mine.lines})
    cfg = keccak(b"".join(config_hash(charges.get(k, ())) for k in products))
    return SecondClearing(mine.party, b.count, b.hash, cfg, mine.totals)


def totals_mismatches(
    ours: dict[bytes, ClearingTotals], theirs: dict[bytes, ClearingTotals]
) -> list[tuple[bytes, ClearingTotals, ClearingTotals]]:
    """The currencies whose totals differ, ascending, each with both sides' totals (zeros where a
    side has none): the ClearingTotalsMismatch events SettlementEngine.reconcile emits against a
    second party (SecondClearings.compare), in currency order rather than listing order."""
    out = []
    for ccy in sorted(set(ours) | set(theirs)):
        a, b = ours.get(ccy, ClearingTotals()), theirs.get(ccy, ClearingTotals())
        if a.as_tuple() != b.as_tuple():
            out.append((ccy, a, b))
    return out


TOTALS_TYPE = "(uint64,uint256,uint256,uint256,uint256,uint256)"
SECOND_CLEARING_TYPE = f"(address,uint64,bytes32,bytes32,(bytes32,{TOTALS_TYPE})[])[]"


def second_clearing_ref(sequence: int, index: int = 0) -> bytes:
    """The batch reference of the `index`-th batch of a second party's `sequence`-th distribution in
    a cycle: keccak256(abi.encode(sequence, index)). SettlementEngine.submitSecondClearing keys
    batches by it per (cycle, second party): a resend (same reference) is refused, a correction (the
    next sequence) is accepted even when its content equals an earlier one (E1 -> E2 -> E1)."""
    return keccak(encode(["uint256", "uint256"], [sequence, index]))
