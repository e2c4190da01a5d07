"""Each party's role down the holding chain (HoldingChain.sol; the math in domain/holding.py).

The CSD opens a settled cycle's tiers from the legs the CCP instructed (read from the chain); each
intermediary, once the tiers above it are done, passes what it received down to its clients and
its investors from its own book (the cycle's netted trades it holds), one step per asset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from consortium.domain.clearing import Trade
from consortium.domain.holding import ChainConfig, Step, plan
from consortium.domain.netting import Leg
from consortium.roles.membership import Institution


@dataclass
class HoldingParty:
    """An intermediary (clearing participant, custodian, local broker) of the holding chain."""

    institution: Institution
    holding: Any

    @property
    def address(self) -> str:
        return self.institution.address

    def due(self, cycle_id: bytes, steps: Iterable[Step]) -> list[Step]:
        """This party's steps not yet done on chain (a restart redoes nothing)."""
        return [
            s
            for s in steps
            if s.party == self.address
            and int(self.holding.stepOf(cycle_id, s.party, s.kind, s.asset)[2]) == 0
        ]

    def ready(self, cycle_id: bytes, tier: int) -> bool:
        """Whether every tier above `tier` is done (no step of a lower tier open)."""
        return all(int(self.holding.openStepsAt(cycle_id, t)) == 0 for t in range(1, tier))

    def step(self, cycle_id: bytes, s: Step) -> Any:
        """allocate(): this party's step in one asset, conserving what it received."""
        return self.holding.allocate(
            cycle_id,
            s.kind,
            s.asset,
            [list(c) for c in s.clients],
            s.investors.as_tuple(),
            {"from": self.institution.account},
        )


@dataclass
class HoldingDepository:
    """The CSD: opens the tiers once it settled the top tier."""

    institution: Institution
    holding: Any

    def open_tiers(self, cycle_id: bytes, legs: Sequence[Leg]) -> Any:
        """openTiers with the legs settled (the contract checks them against the engine's hash)."""
        return self.holding.openTiers(
            cycle_id, [g.as_tuple() for g in legs], {"from": self.institution.account}
        )


def wired(holding: Any, legs: Sequence[Leg]) -> bool:
    """Whether every leg's participant is a tier-1 intermediary on chain (the chain is wired)."""
    return bool(legs) and all(int(holding.holderOf(g.participant)[0]) == 1 for g in legs)


def chain_of(holding: Any, parties: Iterable[str]) -> ChainConfig:
    """The holding chain configured on chain among `parties` (holderOf, isClient)."""
    from consortium.domain.holding import Holder

    out = ChainConfig()
    parties = list(parties)
    for p in parties:
        tier, investors = holding.holderOf(p)
        if int(tier):
            out.holders[p] = Holder(int(tier), bool(investors))
    for p in out.holders:
        for c in out.holders:
            if holding.isClient(p, c):
                out.clients.add((p, c))
    return out


def run_down(
    cycle_id: bytes,
    legs: Sequence[Leg],
    trades: Sequence[Trade],
    chain: ChainConfig,
    depository: HoldingDepository,
    parties: dict[str, HoldingParty],
) -> tuple[list[Step], list[Any]]:
    """The in-process sequence: the CSD opens the tiers, then each tier's parties step in turn."""
    steps = plan(legs, trades, chain)
    txs = [depository.open_tiers(cycle_id, legs)]
    for s in steps:  # plan() orders by tier: every lower tier is done before a step is sent
        txs.append(parties[s.party].step(cycle_id, s))
    return steps, txs
