"""A clearing participant's settlement instruction, as contracts/libraries/Instructions.sol and
SettlementEngine.submitInstruction take it and submitNetting matches it.

After reconciling with the CCP, each participant derives from its own trades what it agrees to
settle: per asset the net it delivers (< 0) or receives (> 0) against the CCP (the position of the
trades it is participant of, less those the CCP deferred), and per currency the fees and taxes it
pays on top: its first clearing data in that currency (every trade it uploaded, under its own
charges) less the charges of its deferred trades. Lines go ascending by (kind, asset); a line moves
something (a cash line may carry charges alone). The CCP's net legs must be exactly every
participant's non-zero lines (`check`, the twin of Instructions.check): a participant without an
instruction, or one that differs, is named with the asset. Every uploader (a participant that
uploaded trades naming itself) answers for its first clearing data too (`dues`, `check_due`, the
twin of Instructions.checkDue): charges due in a currency need a cash line there, and its cash net
there (when all it uploaded is its own) must be what it instructed, so the CCP can leave no
participant out. A participant that owes nothing and nets to zero instructs nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from consortium.domain.clearing import SELL, Charge, ClearingTotals, Trade, clear, first_clearing
from consortium.domain.netting import CASH, SECURITY, Leg, currency_asset, positions

MAX_INSTRUCTION_LINES = 100  # SettlementEngine.MAX_INSTRUCTION_LINES
KIND_NAMES = {SECURITY: "security", CASH: "cash"}


@dataclass(frozen=True)
class InstructionLine:
    """ISettlementEngine.InstructionLine: (kind, asset, amount, fees, taxes)."""

    kind: int
    asset: int
    amount: int
    fees: int = 0
    taxes: int = 0

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.kind, self.asset, self.amount, self.fees, self.taxes)

    @property
    def key(self) -> tuple[int, int]:
        return (self.kind, self.asset)


class NoInstruction(ValueError):
    """A leg's participant has no standing instruction, or an uploader owing charges in a currency
    no line there (SettlementNoInstruction)."""

    def __init__(self, participant: str, kind: int, asset: int, what: str = "a net leg") -> None:
        super().__init__(
            f"participant {participant} has {what} in {KIND_NAMES[kind]} {asset} but no "
            "settlement instruction for it; it instructs after reconciling with the CCP"
        )
        self.participant, self.kind, self.asset = participant, kind, asset


class CashNetMismatch(ValueError):
    """An uploader's cash net from its first clearing data is not what the netting moves for it
    (SettlementCashNetMismatch): the CCP left some of its trades out."""

    def __init__(self, participant: str, asset: int, cleared: int, netted: int) -> None:
        super().__init__(
            f"participant {participant} clears a cash net of {cleared} in currency {asset}, the "
            f"netting moves {netted}; every trade it uploaded and the CCP did not defer is netted"
        )
        self.participant, self.asset, self.cleared, self.netted = (
            participant,
            asset,
            cleared,
            netted,
        )


@dataclass(frozen=True)
class Due:
    """What an uploader answers for in one currency at netting: its fees and taxes due and its
    cleared cash net (None when it uploaded trades of other participants too: not checkable)."""

    fees: int
    taxes: int
    cash: int | None


class InstructionMismatch(ValueError):
    """The CCP's net for a participant and asset is not what it instructed."""

    def __init__(
        self, participant: str, kind: int, asset: int, instructed: int, netted: int
    ) -> None:
        super().__init__(
            f"participant {participant} instructed {instructed} in {KIND_NAMES[kind]} {asset}, "
            f"the CCP nets {netted}"
        )
        self.participant, self.kind, self.asset = participant, kind, asset
        self.instructed, self.netted = instructed, netted


def due_charges(
    participant: str,
    trades: Iterable[Trade],
    charges: Mapping[int, Sequence[Charge]],
    deferred: Iterable[Trade] = (),
) -> dict[int, tuple[int, int]]:
    """Fees and taxes per currency asset a participant pays: its first clearing data less the
    charges of its deferred trades (under its charges, as deferTrades computes them)."""
    totals = first_clearing(participant, trades, dict(charges)).totals
    return _less_deferred(totals, participant, charges, deferred)


def _less_deferred(
    totals: Mapping[bytes, ClearingTotals],
    participant: str,
    charges: Mapping[int, Sequence[Charge]],
    deferred: Iterable[Trade],
) -> dict[int, tuple[int, int]]:
    """`totals`' fees and taxes per currency asset less those of `participant`'s deferred trades."""
    out = {currency_asset(c): [t.fees, t.taxes] for c, t in totals.items()}
    for t in deferred:
        if t.participant != participant:
            continue
        line = clear(t.side, t.quantity, t.price, charges.get(t.security_id, ()))
        due = out[currency_asset(t.currency)]
        due[0] -= line.fees
        due[1] -= line.taxes
    return {k: (v[0], v[1]) for k, v in out.items()}


def dues(
    participant: str,
    uploaded: Iterable[Trade],
    charges: Mapping[int, Sequence[Charge]],
    deferred: Iterable[Trade] = (),
) -> dict[int, Due]:
    """Per currency asset of its first clearing data, what `participant` answers for at netting
    (Instructions.checkDue): `uploaded` every trade it uploaded; the cash net is the engine's
    sellNet - buyNet + fees + taxes less its deferred trades' (sells' gross less buys')."""
    uploaded, deferred = list(uploaded), list(deferred)
    totals = first_clearing(participant, uploaded, dict(charges)).totals
    owed = _less_deferred(totals, participant, charges, deferred)
    own_only = all(t.participant == participant for t in uploaded)
    out = {}
    for currency, tot in totals.items():
        asset = currency_asset(currency)
        cash = None
        if own_only:
            off = sum(
                t.gross if t.side == SELL else -t.gross
                for t in deferred
                if t.participant == participant and t.currency == currency
            )
            cash = tot.cash - off
        out[asset] = Due(*owed[asset], cash)
    return out


def check_due(
    instructions: Mapping[str, Sequence[InstructionLine]],
    due: Mapping[str, Mapping[int, Due]],
    currencies: Sequence[int] | None = None,
) -> None:
    """Raise NoInstruction (kind cash) or CashNetMismatch, the first Instructions.checkDue meets,
    unless every uploader (`due` in order of first upload) instructed a cash line where it owes
    charges and its cash net where checkable. `currencies`: the engine's listing order (default
    ascending); run after `check`, which binds the instructed amounts to the legs."""
    for p, by_currency in due.items():
        lines = {x.asset: x for x in instructions.get(p) or [] if x.kind == CASH}
        order = currencies if currencies is not None else sorted(by_currency)
        for asset in (a for a in order if a in by_currency):
            d, line = by_currency[asset], lines.get(asset)
            if line is None and (d.fees or d.taxes):
                raise NoInstruction(p, CASH, asset, "fees or taxes due")
            netted = line.amount if line is not None else 0
            if d.cash is not None and d.cash != netted:
                raise CashNetMismatch(p, asset, d.cash, netted)


def derive(
    participant: str,
    trades: Iterable[Trade],
    charges: Mapping[int, Sequence[Charge]],
    deferred: Iterable[Trade] = (),
) -> list[InstructionLine]:
    """The participant's instruction from its own trades (those it uploaded) less `deferred`."""
    trades, deferred = list(trades), list(deferred)
    gone = {t.record_hash() for t in deferred}
    own = [t for t in trades if t.participant == participant and t.record_hash() not in gone]
    net = {
        (kind, asset): amount
        for (p, kind, asset), amount in positions(own).items()
        if p == participant
    }
    lines = []
    fees = due_charges(participant, trades, charges, deferred)
    for key in sorted(set(net) | {(CASH, a) for a in fees}):
        f, x = fees.get(key[1], (0, 0)) if key[0] == CASH else (0, 0)
        amount = net.get(key, 0)
        if amount or f or x:
            lines.append(InstructionLine(key[0], key[1], amount, f, x))
    return lines


def check(instructions: Mapping[str, Sequence[InstructionLine]], legs: Sequence[Leg]) -> None:
    """Raise NoInstruction or InstructionMismatch, the first one Instructions.check meets, unless
    every leg's participant instructed exactly its legs and every other line is charges only.

    The walk is the contract's: legs in order, each participant's lines by a cursor (its legs come
    in ascending (kind, asset) as its lines do), then each instructing participant's lines left
    (`instructions` in the order the participants first instructed in the cycle)."""
    used: dict[str, int] = {}
    for leg in legs:
        p, here = leg.participant, (leg.kind, leg.asset)
        lines = instructions.get(p) or []
        if not lines:
            raise NoInstruction(p, leg.kind, leg.asset)
        j = used.get(p, 0)
        while j < len(lines) and lines[j].key < here:
            _charges_only(p, lines[j])
            j += 1
        instructed = 0
        if j < len(lines) and lines[j].key == here:
            instructed, j = lines[j].amount, j + 1
        if instructed != leg.amount:
            raise InstructionMismatch(p, leg.kind, leg.asset, instructed, leg.amount)
        used[p] = j
    for p, lines in instructions.items():
        for line in lines[used.get(p, 0) :]:
            _charges_only(p, line)


def _charges_only(participant: str, line: InstructionLine) -> None:
    if line.amount:
        raise InstructionMismatch(participant, line.kind, line.asset, line.amount, 0)


def charges_paid(instructions: Mapping[str, Sequence[InstructionLine]]) -> dict[str, int]:
    """What a settled cycle's instructions paid: fees and taxes summed over participants (per
    currency asset as `fees:<asset>` and `taxes:<asset>`), for the day's summary."""
    out: dict[str, int] = defaultdict(int)
    for lines in instructions.values():
        for line in lines:
            if line.kind == CASH:
                out[f"fees:{line.asset}"] += line.fees
                out[f"taxes:{line.asset}"] += line.taxes
    return dict(out)


def apply_charges(
    balances: Mapping[tuple[str, int, int], int],
    instructions: Mapping[str, Sequence[InstructionLine]],
    fee_collector: str,
    tax_authority: str,
) -> dict[tuple[str, int, int], int]:
    """Balances after settlement paid every instruction's charges (after netting.apply_legs)."""
    out: dict[tuple[str, int, int], int] = defaultdict(int, balances)
    for who, lines in instructions.items():
        for line in (x for x in lines if x.kind == CASH):
            out[(who, CASH, line.asset)] -= line.fees + line.taxes
            out[(fee_collector, CASH, line.asset)] += line.fees
            out[(tax_authority, CASH, line.asset)] += line.taxes
    return dict(out)
