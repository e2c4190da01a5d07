"""Agents' roles down the holding chain (HoldingChain.sol), following the chain's events.

- the CSD, on CycleSettled: opens the cycle's tiers with the legs it settled (read from the chain),
  where every leg's participant is a tier-1 intermediary (the chain is wired);
- each intermediary (BROKER, CUSTODIAN), on TiersOpened and every HoldingStepped: once no step of a
  tier above it is open, takes its own steps from its own book (the cycle's trades it is on, less
  those the CCP deferred), each conserving what it received. Every handler is idempotent: a step
  done on chain is never sent again.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from consortium.agent.lines.settlement import SETTLED, TRADES, _name, _row_back, _SettlementRole
from consortium.domain.encoding import b32
from consortium.domain.holding import steps_of
from consortium.roles.executions import read_legs
from consortium.roles.holding import HoldingDepository, HoldingParty, chain_of, wired
from consortium.roles.settlement import trade_of

log = logging.getLogger("consortium.agent")


class _HoldingRole(_SettlementRole):
    """Idle on a deployment without the holding chain or the engine."""

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.live = self.live and "HoldingChain" in agent.suite.contracts

    @property
    def holding(self) -> Any:
        return self.agent.suite["HoldingChain"]


class HoldingCsdRole(_HoldingRole):
    role = "CSD"
    events: ClassVar[dict[str, str]] = {"CycleSettled": "on_settled"}

    def on_settled(self, ev: Any) -> None:
        if not self.live:
            return
        cycle_id = b32(ev["cycleId"])
        if self.holding.cycleOf(cycle_id)[0]:
            return
        legs = read_legs(self.agent.w3, self.engine.address, cycle_id, int(self.agent.suite.block))
        if not wired(self.holding, legs):
            return
        log.info("cycle %s: opening the holding chain's tiers", _name(cycle_id))
        HoldingDepository(self.agent.institution, self.holding).open_tiers(cycle_id, legs)


class _IntermediaryRole(_HoldingRole):
    events: ClassVar[dict[str, str]] = {
        "TiersOpened": "on_progress",
        "HoldingStepped": "on_progress",
    }

    def on_progress(self, ev: Any) -> None:
        if not self.live:
            return
        cycle_id = b32(ev["cycleId"])
        tier = int(self.holding.holderOf(self.me)[0])
        party = HoldingParty(self.agent.institution, self.holding)
        if tier == 0 or not party.ready(cycle_id, tier):
            return
        cycle = self.engine.getCycle(cycle_id)
        if int(cycle["status"]) != SETTLED:
            return
        book = self._book(cycle_id, int(cycle["tradeDate"]))
        chain = chain_of(self.holding, self._parties(book))
        for s in party.due(cycle_id, steps_of(self.me, book, chain)):
            log.info("cycle %s: holding step in asset %d", _name(cycle_id), s.asset)
            party.step(cycle_id, s)

    def _book(self, cycle_id: bytes, day: int) -> list[Any]:
        """The cycle's trades this party holds, less those the CCP deferred out of the cycle."""
        addresses = self.agent.settings.addresses
        rows = self.agent.store.all(TRADES).values()
        trades = [trade_of(_row_back(r), addresses) for r in rows]
        deferred = {
            b32(e["record"])
            for e in self.agent.events_of(self.engine, "TradeDeferred")
            if b32(e["cycleId"]) == cycle_id
        }
        return [t for t in trades if t.trade_date == day and t.record_hash() not in deferred]

    @staticmethod
    def _parties(trades: list[Any]) -> list[str]:
        return sorted({a for t in trades for a in t.chain_parties()})


class HoldingBrokerRole(_IntermediaryRole):
    role = "BROKER"


class HoldingCustodianRole(_IntermediaryRole):
    role = "CUSTODIAN"


HOLDING_ROLES = [HoldingBrokerRole, HoldingCustodianRole, HoldingCsdRole]
