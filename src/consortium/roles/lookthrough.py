"""Look-through on chain: an intermediary publishes its investors' sealed positions per cycle; a
regulator reads the records sealed to it, opens them and proves each against the published root.

The sealing and proving are consortium.lookthrough's; here only the chain is touched (a brownie
SealedRecords contract to send, web3 logs to read). Regulators' encryption keys are their members'
keys, as for channels (the portal opens sealed fields with the regulator's keystore the same way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consortium.domain.clearing import BUY, ZERO_ADDRESS, Trade
from consortium.domain.encoding import b32
from consortium.envelope import NotARecipient, public_key_of
from consortium.lookthrough import (
    Position,
    Record,
    RegulatorKey,
    merge,
    open_record,
    proves,
    seal_positions,
)


@dataclass
class Intermediary:
    """An institution publishing look-through records (a broker or custodian) and the contract."""

    institution: Any  # roles.membership.Institution
    contract: Any  # brownie SealedRecords

    @property
    def address(self) -> str:
        return self.institution.address


def publish_positions(
    intermediary: Intermediary,
    cycle: bytes,
    positions: Sequence[Position],
    regulators: Mapping[str, RegulatorKey],
) -> Any:
    """Seal `positions` (one per investor and asset) to their jurisdictions' `regulators` and
    publish the root and records for `cycle`, from the intermediary's own account. The hook the
    holding chain's investor step calls; the in-process day calls it after settlement."""
    sealed = seal_positions(intermediary.address, cycle, positions, regulators)
    return intermediary.contract.publish(*sealed.args(), {"from": intermediary.institution.account})


def regulator_keys(regulators: Iterable[Any]) -> dict[str, RegulatorKey]:
    """{jurisdiction: RegulatorKey} from regulator institutions whose accounts hold their keys
    (the member's key is its encryption key, as for channels); the first per jurisdiction."""
    out: dict[str, RegulatorKey] = {}
    for r in regulators:
        key = getattr(r.account, "private_key", None)
        if key is not None:
            out.setdefault(r.jurisdiction, RegulatorKey(r.address, public_key_of(key)))
    return out


def positions_from_trades(
    trades: Iterable[Trade],
    tickets: Mapping[bytes, Any],
    jurisdiction_of: Mapping[str, str],
) -> dict[str, list[Position]]:
    """Each intermediary's investors' positions from a settled cycle's trades.

    An investor's intermediary is its local broker where it has one, else the clearing
    participant; its jurisdiction is that intermediary's (consortium file). Per trade the investor
    receives the securities it bought (negative: delivered) and pays or receives the gross in the
    trade's currency. `tickets` maps an owner commitment to its ticket (owner pseudonym, salt)."""
    out: dict[str, list[Position]] = {}
    for t in trades:
        ticket = tickets.get(bytes(t.owner_commitment))
        if ticket is None:
            continue
        who = t.local_broker if t.local_broker != ZERO_ADDRESS else t.participant
        where = jurisdiction_of.get(who.lower())
        if where is None:
            continue
        sign = 1 if t.side == BUY else -1
        investor, salt = ticket.owner_pseudonym, ticket.salt
        out.setdefault(who, []).extend(
            [
                Position(investor, t.security_id, sign * t.quantity, where, salt),
                Position(investor, bytes(t.currency), -sign * t.gross, where, salt),
            ]
        )
    return {who: merge(ps) for who, ps in out.items()}


# ------------------------------------------------------------------ the regulator's side
@dataclass(frozen=True)
class OpenedRecord:
    """A record sealed to a regulator, opened and checked against the root on chain."""

    intermediary: str
    cycle_id: bytes
    record: Record
    root: bytes
    proven: bool  # off chain (the proof recomputed) and on chain (verifyPosition) both agree
    block: int

    def as_json(self) -> dict:
        r = self.record
        return {
            "intermediary": self.intermediary,
            "cycleId": "0x" + self.cycle_id.hex(),
            "investor": r.investor_id,
            "commitment": "0x" + r.commitment.hex(),
            "asset": "0x" + r.asset.hex(),
            "amount": r.amount,
            "root": "0x" + self.root.hex(),
            "proven": self.proven,
            "block": self.block,
        }


def open_sealed(
    contract: Any, intermediary: str, cycle_id: Any, sealed: bytes, private_key: bytes, block: int
) -> OpenedRecord | None:
    """One RecordSealed's record opened with `private_key` (None when not sealed to it) and proved
    against the published root, off chain and with the contract's verifyPosition (web3 or brownie
    contract: `contract.publication` / `contract.verifyPosition` called as views)."""
    cycle = b32(cycle_id)
    try:
        record = open_record(intermediary, cycle, sealed, private_key)
    except NotARecipient:
        return None
    root = b32(contract.publication(intermediary, cycle)[0])
    on_chain = bool(
        contract.verifyPosition(
            intermediary, cycle, record.commitment, record.asset, record.amount, list(record.proof)
        )
    )
    return OpenedRecord(intermediary, cycle, record, root, proves(record, root) and on_chain, block)


def read_sealed(
    contract: Any, regulator: str, private_key: bytes, web3: Any, from_block: int = 0
) -> list[OpenedRecord]:
    """Every record sealed to `regulator` since `from_block`, opened and proved (a record it cannot
    open, e.g. one moved from another regulator's event, is left out)."""
    c = web3.eth.contract(address=contract.address, abi=contract.abi)
    logs = c.events.RecordSealed.get_logs(
        from_block=from_block, argument_filters={"regulator": regulator}
    )
    out = []
    for log in logs:
        a = log["args"]
        opened = open_sealed(
            contract,
            a["intermediary"],
            a["cycleId"],
            bytes(a["sealedRecord"]),
            private_key,
            int(log["blockNumber"]),
        )
        if opened is not None:
            out.append(opened)
    return out
