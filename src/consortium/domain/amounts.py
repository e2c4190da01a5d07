"""Reconciliation by amounts of a settlement cycle, level by level: the off-chain twin of what the
engine's hash-chain reconciliation can only answer "matched or not".

Per currency both sides' trade sets are cleared under one configuration (the reconciling party's
charges, so a difference is the trades' and never the configurations'), and compared on trade
count, gross, fees, taxes and net (buys' and sells' nets). A break then names each trade id and
field that differ: a field of a trade both hold (side, quantity, price, security, currency, the
parties, the owner commitment, and the gross, fees, taxes and net they give), or a trade only one
side holds ("missing").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from consortium.domain.clearing import Charge, ClearingTotals, Line, Trade, clear

LEVELS = {0: "second party", 1: "intermediary", 2: "investor"}  # ISettlementEngine.ReconLevel
TOTAL_FIELDS = ("trades", "gross", "fees", "taxes", "buy_net", "sell_net")
TRADE_FIELDS = (
    "security_id",
    "currency",
    "side",
    "quantity",
    "price",
    "trade_date",
    "owner_commitment",
    "local_broker",
    "participant",
    "custodian",
    "exchange",
)
LINE_FIELDS = ("gross", "fees", "taxes", "net")
MISSING_THEIRS, MISSING_OURS = "missing on their side", "missing on our side"


@dataclass(frozen=True)
class TradeBreak:
    """One field of one trade that differs (`field` a MISSING_* text when one side lacks it)."""

    trade_id: bytes
    field: str
    ours: object = None
    theirs: object = None


@dataclass(frozen=True)
class TotalsBreak:
    """One total of one currency that differs at a level (what the chain's event records)."""

    level: int
    currency: bytes
    field: str
    ours: int
    theirs: int


@dataclass
class AmountReconciliation:
    level: int
    totals: dict[bytes, tuple[ClearingTotals, ClearingTotals]] = field(default_factory=dict)
    totals_breaks: list[TotalsBreak] = field(default_factory=list)
    trade_breaks: list[TradeBreak] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.totals_breaks and not self.trade_breaks

    def trade_ids(self) -> list[bytes]:
        """The trade ids a break names, ascending."""
        return sorted({b.trade_id for b in self.trade_breaks})


def _totals(
    trades: Iterable[Trade], charges: Mapping[int, Sequence[Charge]]
) -> tuple[dict[bytes, ClearingTotals], dict[bytes, Line]]:
    totals: dict[bytes, ClearingTotals] = {}
    lines: dict[bytes, Line] = {}
    for t in trades:
        line = clear(t.side, t.quantity, t.price, charges.get(t.security_id, ()))
        lines[t.trade_id] = line
        totals.setdefault(t.currency, ClearingTotals()).add(t.side, line)
    return totals, lines


def reconcile_amounts(
    level: int,
    ours: Iterable[Trade],
    theirs: Iterable[Trade],
    charges: Mapping[int, Sequence[Charge]] | None = None,
) -> AmountReconciliation:
    """Compare two sides' trades of one level: totals per currency, then every trade and field."""
    charges = charges or {}
    mine, other = {t.trade_id: t for t in ours}, {t.trade_id: t for t in theirs}
    (our_totals, our_lines), (their_totals, their_lines) = (
        _totals(mine.values(), charges),
        _totals(other.values(), charges),
    )
    out = AmountReconciliation(level)
    for ccy in sorted(set(our_totals) | set(their_totals)):
        a = our_totals.get(ccy, ClearingTotals())
        b = their_totals.get(ccy, ClearingTotals())
        out.totals[ccy] = (a, b)
        for name in TOTAL_FIELDS:
            if getattr(a, name) != getattr(b, name):
                out.totals_breaks.append(
                    TotalsBreak(level, ccy, name, getattr(a, name), getattr(b, name))
                )
    for tid in sorted(set(mine) | set(other)):
        if tid not in other:
            out.trade_breaks.append(TradeBreak(tid, MISSING_THEIRS))
        elif tid not in mine:
            out.trade_breaks.append(TradeBreak(tid, MISSING_OURS))
        else:
            out.trade_breaks += _differences(mine[tid], other[tid], our_lines, their_lines)
    return out


def _differences(
    a: Trade, b: Trade, our_lines: Mapping[bytes, Line], their_lines: Mapping[bytes, Line]
) -> list[TradeBreak]:
    out = [
        TradeBreak(a.trade_id, name, getattr(a, name), getattr(b, name))
        for name in TRADE_FIELDS
        if getattr(a, name) != getattr(b, name)
    ]
    la, lb = our_lines[a.trade_id], their_lines[b.trade_id]
    out += [
        TradeBreak(a.trade_id, name, getattr(la, name), getattr(lb, name))
        for name in LINE_FIELDS
        if getattr(la, name) != getattr(lb, name)
    ]
    return out
