"""Novation and multilateral netting by the CCP,
exactly as SettlementEngine.submitNetting accepts it.

After novation the CCP is the counterparty of every trade, so each participant owes or is owed one
net amount per asset: a buy adds +quantity of the security and -gross of the currency, a sell the
opposite. Legs are sorted by (kind, asset, participant) — securities (kind 0, by security id) before
cash (kind 1, by the currency code read as an integer), participants by address value — and every
asset's legs sum to exactly zero (the CCP ends flat); the contract enforces both. The trade count
and trade-set hash submitted with the legs are recomputed by the contract (`trade_set`): the trades
of every uploader count (every participant that uploaded trades naming itself, legs or not), as each
uploaded them as participant, less those the CCP deferred out of the cycle (`deferrals`: a
defaulter's trades and the other side of each of its executions). Settlement runs every delivery
(amount < 0, participant -> CCP) before every receipt (amount > 0, CCP -> participant).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from eth_abi import encode
from eth_utils import keccak

from consortium.domain.clearing import BUY, Bucket, Trade, set_bucket

TRADE_SET_TERM = ["address", "uint64", "bytes32", "uint64", "bytes32"]

SECURITY, CASH = 0, 1
LEG_TYPE = "(address,uint8,uint256,int256)"


class NettingImbalance(ValueError):
    """Some asset does not net to zero: a trade lacks its opposite side in the set."""


@dataclass(frozen=True)
class Leg:
    participant: str
    kind: int
    asset: int
    amount: int

    def as_tuple(self) -> tuple[str, int, int, int]:
        return (self.participant, self.kind, self.asset, self.amount)

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return (self.kind, self.asset, int(self.participant, 16))


def currency_asset(currency: bytes) -> int:
    """The Leg.asset of a currency: uint256(bytes32 code)."""
    return int.from_bytes(currency, "big")


def positions(trades: Iterable[Trade]) -> dict[tuple[str, int, int], int]:
    """Every participant's gross position per asset, summed trade by trade (no netting logic)."""
    pos: dict[tuple[str, int, int], int] = defaultdict(int)
    for t in trades:
        sign = 1 if t.side == BUY else -1
        pos[(t.participant, SECURITY, t.security_id)] += sign * t.quantity
        pos[(t.participant, CASH, currency_asset(t.currency))] -= sign * t.gross
    return pos


def legs_hash(legs: Sequence[Leg]) -> bytes:
    """keccak256(abi.encode(Leg[])) —
    what the contract stores at netting and checks at settlement."""
    return keccak(encode([f"{LEG_TYPE}[]"], [[leg.as_tuple() for leg in legs]]))


def settlement_order(legs: Sequence[Leg]) -> list[Leg]:
    """Instruction order: deliveries first, then receipts (each in leg order)."""
    return [x for x in legs if x.amount < 0] + [x for x in legs if x.amount > 0]


@dataclass
class NettingResult:
    """Net legs of a cycle plus what the CCP reports about them."""

    legs: list[Leg]
    trade_set: Bucket
    gross_count: int
    gross_value: dict[int, int] = field(default_factory=dict)  # currency asset -> sum of |cash|
    net_value: dict[int, int] = field(default_factory=dict)

    @property
    def net_count(self) -> int:
        return len(self.legs)

    @property
    def legs_hash(self) -> bytes:
        return legs_hash(self.legs)

    def efficiency(self) -> dict[str, float]:
        """Share of obligations and of cash value removed by netting
        (1.0 = everything netted away)."""
        gv, nv = sum(self.gross_value.values()), sum(self.net_value.values())
        return {
            "count": 1 - self.net_count / self.gross_count if self.gross_count else 0.0,
            "value": 1 - nv / gv if gv else 0.0,
        }


def trade_set(trades: Iterable[Trade], deferred: Iterable[Trade] = ()) -> Bucket:
    """The trade count and trade-set hash SettlementEngine.submitNetting recomputes over every
    uploader p (each distinct participant of `trades`, the trades as their participants uploaded
    them, ascending ids): `uploaded` the trades with participant p and `off` those of them deferred
    (`deferred` in deferral order, as the engine folds them); count = sum(uploaded - off), hash =
    the sum mod 2^256 of keccak256(abi.encode(p, uploaded.count, uploaded.hash, off.count,
    off.hash)): independent of the order in which the participants first uploaded.
    """
    trades, deferred = list(trades), list(deferred)
    out, total = Bucket(), 0
    for p in dict.fromkeys(t.participant for t in trades):
        up = set_bucket(t for t in trades if t.participant == p)
        off = deferred_bucket(deferred, p)
        out.count += up.count - off.count
        term = keccak(encode(TRADE_SET_TERM, [p, up.count, up.hash, off.count, off.hash]))
        total = (total + int.from_bytes(term, "big")) % 2**256
    out.hash = total.to_bytes(32, "big")
    return out


def deferred_bucket(deferred: Iterable[Trade], participant: str) -> Bucket:
    """A participant's deferred bucket: its trades among `deferred`, folded in deferral order."""
    b = Bucket()
    for t in deferred:
        if t.participant == participant:
            b.add(t.record_hash())
    return b


def deferrals(trades: Sequence[Trade], defaulters: Iterable[str]) -> list[Trade]:
    """The trades to defer so a cycle nets without `defaulters`: each of their trades and, for each,
    the other side of its execution (an opposite trade of the same security, currency, quantity and
    price, taken once each, nearest trade id first), in ascending trade ids.

    Deferring whole executions keeps every asset of the remaining trades netting to zero."""
    defaulting = set(defaulters)
    pool = sorted(trades, key=lambda t: t.trade_id)
    number = [int.from_bytes(t.trade_id, "big") for t in pool]
    chosen = {k for k, t in enumerate(pool) if t.participant in defaulting}
    paired: set[int] = set()
    for k in sorted(chosen):
        if k in paired:
            continue
        match = [
            o for o in range(len(pool)) if o != k and o not in paired and _pairs(pool[k], pool[o])
        ]
        if not match:
            raise NettingImbalance(
                f"trade {pool[k].trade_id.hex()} of a defaulter "
                "has no opposite side to defer with it"
            )
        o = min(match, key=lambda o: abs(number[o] - number[k]))
        paired |= {k, o}
        chosen.add(o)
    return [pool[k] for k in sorted(chosen)]


def _pairs(a: Trade, b: Trade) -> bool:
    return (a.security_id, a.currency, a.quantity, a.price) == (
        b.security_id,
        b.currency,
        b.quantity,
        b.price,
    ) and a.side != b.side


def net(
    trades: Sequence[Trade],
    deferred: Sequence[Trade] = (),
    uploaded: Iterable[Trade] | None = None,
) -> NettingResult:
    """Net the trades of a cycle less `deferred`; raises NettingImbalance naming the asset that does
    not sum to zero. The trade set covers `uploaded`, the trades the participants uploaded naming
    themselves (default: `trades`; the CCP reads them from the chain, an off-venue one included)."""
    uploaded = list(trades if uploaded is None else uploaded)
    gone = {t.record_hash() for t in deferred}
    trades = [t for t in trades if t.record_hash() not in gone]
    pos = positions(trades)
    sums: dict[tuple[int, int], int] = defaultdict(int)
    for (_, kind, asset), amount in pos.items():
        sums[(kind, asset)] += amount
    bad = {k: v for k, v in sums.items() if v != 0}
    if bad:
        raise NettingImbalance(
            f"assets not netting to zero (kind, asset) -> residual: {bad}; upload both sides of "
            "every execution before netting"
        )
    legs = sorted(
        (Leg(p, kind, asset, amount) for (p, kind, asset), amount in pos.items() if amount != 0),
        key=lambda leg: leg.sort_key,
    )
    gross_value: dict[int, int] = defaultdict(int)
    for t in trades:
        gross_value[currency_asset(t.currency)] += t.gross
    net_value: dict[int, int] = defaultdict(int)
    for leg in legs:
        if leg.kind == CASH:
            net_value[leg.asset] += abs(leg.amount)
    return NettingResult(
        legs=legs,
        trade_set=trade_set(uploaded, deferred),
        gross_count=2 * len(trades),  # one securities and one cash obligation per trade
        gross_value=dict(gross_value),
        net_value=dict(net_value),
    )


def apply_legs(
    balances: dict[tuple[str, int, int], int], legs: Sequence[Leg], ccp: str
) -> dict[tuple[str, int, int], int]:
    """Balances after DvP of `legs` through `ccp` (raises if a delivery exceeds a holding)."""
    out = defaultdict(int, balances)
    for leg in settlement_order(legs):
        src, dst = (leg.participant, ccp) if leg.amount < 0 else (ccp, leg.participant)
        key_src, key_dst = (src, leg.kind, leg.asset), (dst, leg.kind, leg.asset)
        if out[key_src] < abs(leg.amount):
            raise ValueError(
                f"{src} holds {out[key_src]} of asset {leg.asset}, must deliver {abs(leg.amount)}"
            )
        out[key_src] -= abs(leg.amount)
        out[key_dst] += abs(leg.amount)
    return dict(out)
