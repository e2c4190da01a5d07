"""The settlement day's last part, in process: after the CSD settled the top tier, settlement down
the holding chain (HoldingChain.sol), tier after tier, from the cycle's netted trades.

Run only where the chain is wired (every leg participant a tier-1 intermediary: the consortium
file's `holding_chain:` section, applied at bootstrap); elsewhere the day stops at the top tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consortium.domain.clearing import Trade
from consortium.domain.holding import Step, legs_per_tier
from consortium.domain.netting import Leg
from consortium.roles.holding import HoldingDepository, HoldingParty, chain_of, run_down, wired


@dataclass
class HoldingOutcome:
    """The steps taken, their transactions, the legs per tier and what is left pending."""

    steps: list[Step] = field(default_factory=list)
    txs: list[Any] = field(default_factory=list)
    per_tier: dict[int, int] = field(default_factory=dict)
    open_steps: int = 0


def run_holding(
    cast: Any, suite: Any, cycle_id: bytes, legs: Sequence[Leg], trades: Sequence[Trade]
) -> HoldingOutcome | None:
    """Open the tiers (the CSD) and let each intermediary step in sequence; None where the suite
    (a Suite or a {key: contract} dict) has no holding chain or it is not wired."""
    try:
        holding = suite["HoldingChain"]
    except KeyError:
        return None
    if not wired(holding, legs):
        return None
    who = [*cast.participants, *cast.custodians, *cast.locals]
    parties = {p.address: HoldingParty(p.institution, holding) for p in who}
    chain = chain_of(holding, parties)
    depository = HoldingDepository(cast.csd.institution, holding)
    steps, txs = run_down(cycle_id, legs, trades, chain, depository, parties)
    return HoldingOutcome(steps, txs, legs_per_tier(steps, legs), int(holding.openSteps(cycle_id)))


def report(result: Any, outcome: HoldingOutcome | None) -> None:
    """The day's figures: legs per tier (0 the participant <-> CCP legs), and the check that
    nothing is left pending down the chain."""
    if outcome is None:
        return
    result.record(*outcome.txs)
    result.metrics["legs_per_tier"] = {f"tier {t}": n for t, n in sorted(outcome.per_tier.items())}
    result.counts["holding_steps"] = len(outcome.steps)
    result.checks["nothing pending down the holding chain"] = outcome.open_steps == 0
