"""Agents' roles down the holding chain (HoldingChain.sol), following the chain's events.

- the CSD, on CycleSettled: opens the cycle's tiers with the legs it settled (read from the chain),
  where every leg's participant is a tier-1 intermediary (the chain is wired);
- each intermediary (BROKER, CUSTODIAN), on TiersOpened and every HoldingStepped: once no step of a
  tier above it is open, takes its own steps from its own book (the cycle's trades it is on, less
  those the CCP deferred), each conserving what it received. Every handler is idempotent: a step
  done on chain is never sent again.
- each intermediary, once its own steps of a cycle are all on chain: publishes its investors'
  positions (the investor leaves it allocated) sealed to the regulators of their jurisdictions
  (SealedRecords, roles/lookthrough.Publisher): once per cycle, through its outbox, the chain asked
  first. An investor's jurisdiction is its intermediary's (the consortium file); a regulator's
  public key comes from agent.yaml `settlement: {regulator_keys: {<regulator id>: 0x…}}` and must
  derive the regulator's member address (a key that does not is refused, logged, and nothing is
  published while a jurisdiction's regulator lacks one: a publication is final).
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any, ClassVar

from consortium.agent.lines.settlement import SETTLED, TRADES, _name, _row_back, _SettlementRole
from consortium.agent.transport import address_of_key
from consortium.domain.encoding import b32
from consortium.domain.holding import steps_of
from consortium.envelope import normalize_pubkey
from consortium.lookthrough import RegulatorKey
from consortium.outbox import Outbox
from consortium.roles.executions import read_legs
from consortium.roles.holding import HoldingDepository, HoldingParty, chain_of, wired
from consortium.roles.lookthrough import (
    Intermediary,
    Publisher,
    keys_by_jurisdiction,
    positions_from_steps,
)
from consortium.roles.settlement import date_number, owner_ticket, trade_of

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
        day = int(cycle["tradeDate"])
        book = self._book(cycle_id, day)
        chain = chain_of(self.holding, self._parties(book))
        steps = steps_of(self.me, book, chain)
        due = party.due(cycle_id, steps)
        if due:  # the assets' steps are independent: one phase of the agent's pipe
            piped = self.agent.pipe.piped(party)
            for s in due:
                log.info("cycle %s: holding step in asset %d", _name(cycle_id), s.asset)
                piped.step(cycle_id, s)
            self.agent.pipe.wait()
        if steps and not party.due(cycle_id, steps):
            self.publish(cycle_id, day, steps)

    # ------------------------------------------------------------ look-through
    def start(self) -> None:
        """Book a publication an earlier process sent and did not book (or send it again)."""
        if self.publisher is not None:
            self.publisher.outbox.resume()

    @cached_property
    def publisher(self) -> Publisher | None:
        """None on a deployment without SealedRecords (or without the holding chain)."""
        if not self.live or "SealedRecords" not in self.agent.suite.contracts:
            return None
        intermediary = Intermediary(self.agent.institution, self.agent.suite["SealedRecords"])
        return Publisher(
            intermediary, Outbox(self.agent.store), lambda: {"from": self.agent.account}
        )

    def publish(self, cycle_id: bytes, day: int, steps: list[Any]) -> None:
        """My investors' positions of the cycle (my steps' investor leaves), sealed to their
        regulators and published once; nothing when I keep no investors' accounts."""
        if self.publisher is None or self.publisher.published(cycle_id):
            return
        tickets = {}
        for row in self.agent.store.all(TRADES).values():
            if date_number(_row_back(row)["trade_date"]) == day:
                ticket = owner_ticket(row["owner_ref"], day)
                tickets[ticket.commitment] = ticket
        cfg, addresses = self.agent.consortium, self.agent.settings.addresses
        where = {
            addresses[i.id].lower(): i.jurisdiction for i in cfg.institutions if i.id in addresses
        }
        positions = [p for ps in positions_from_steps(steps, tickets, where).values() for p in ps]
        if not positions:
            return
        regulators = self.regulator_keys()
        supervised = {r.jurisdiction for r in cfg.with_role("REGULATOR")}
        lacking = sorted({p.jurisdiction for p in positions} & supervised - set(regulators))
        if lacking:
            log.error(
                "cycle %s: no public key of the regulator of %s; add it to agent.yaml as "
                "settlement: {regulator_keys: {<regulator id>: 0x…}}; not published",
                _name(cycle_id),
                ", ".join(lacking),
            )
            return
        if self.publisher.publish(cycle_id, positions, regulators):
            log.info(
                "cycle %s: %d investors' positions sealed to their regulators and published",
                _name(cycle_id),
                len(positions),
            )

    def regulator_keys(self) -> dict[str, RegulatorKey]:
        """{jurisdiction: RegulatorKey} from agent.yaml's regulator_keys, each key checked to
        derive its regulator's member address (a key that does not is logged and left out); the
        first regulator per jurisdiction in the consortium file's order, as the in-process day."""
        cfg, addresses = self.agent.consortium, self.agent.settings.addresses
        given = self.agent.settings.line("settlement").get("regulator_keys", {})
        entries = []
        for ident, text in (
            (r.id, given[r.id]) for r in cfg.with_role("REGULATOR") if r.id in given
        ):
            address = addresses.get(ident)
            try:
                key = normalize_pubkey(str(text))
            except (TypeError, ValueError) as exc:
                log.error("regulator_keys: %s: not a public key (%s); left out", ident, exc)
                continue
            if address is None or address_of_key(key).lower() != address.lower():
                log.error(
                    "regulator_keys: the key given for %s is not the key of its member address "
                    "%s; left out",
                    ident,
                    address,
                )
                continue
            entries.append((cfg.by_id(ident).jurisdiction, address, key))
        return keys_by_jurisdiction(entries)

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
