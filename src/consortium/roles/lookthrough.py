"""Look-through on chain: an intermediary publishes, per cycle, the positions of its investors as
settled down the holding chain (its steps' investor leaves), sealed; a regulator reads the records
sealed to it, opens them and proves each against the published root and against the
intermediary's investor root on HoldingChain.

The sealing and proving are consortium.lookthrough's; here only the chain is touched (a brownie
SealedRecords contract to send, web3 logs to read). Regulators' encryption keys are their members'
keys, as for channels (the portal opens sealed fields with the regulator's keystore the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from consortium.domain.encoding import b32
from consortium.domain.hashing import code_text
from consortium.domain.holding import Step
from consortium.domain.netting import CASH
from consortium.envelope import EnvelopeTampered, NotARecipient, public_key_of
from consortium.lookthrough import (
    MAX_RECORDS,
    Position,
    Record,
    RecordNotOnHoldingChain,
    RegulatorKey,
    open_record,
    prove_held,
    proves,
    seal_positions,
)
from consortium.outbox import Booking, Outbox, OutboxConflict, Recorded, key_of
from consortium.reads import Views, batched, one_by_one

HELD = "proved against the holding chain"
UNOPENED = "unopened (no key)"
NOT_OPENABLE = "not openable with this key"


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
    part: int = MAX_RECORDS,
) -> list[Any]:
    """Seal `positions` (one per investor and asset) to their jurisdictions' `regulators` and
    publish the root and records for `cycle`, from the intermediary's own account: publish with
    the first `part` records, appendRecords with each next part; the receipts in order. The hook
    the holding chain's investor step calls; the in-process day calls it after settlement."""
    sealed = replace(seal_positions(intermediary.address, cycle, positions, regulators), part=part)
    tx = {"from": intermediary.institution.account}
    c = intermediary.contract
    return [c.publish(*sealed.args(), tx)] + [c.appendRecords(*a, tx) for a in sealed.appends()]


def regulator_keys(regulators: Iterable[Any]) -> dict[str, RegulatorKey]:
    """{jurisdiction: RegulatorKey} from regulator institutions whose accounts hold their keys
    (the member's key is its encryption key, as for channels); the first per jurisdiction."""
    return keys_by_jurisdiction(
        (r.jurisdiction, r.address, public_key_of(r.account.private_key))
        for r in regulators
        if getattr(r.account, "private_key", None) is not None
    )


def keys_by_jurisdiction(entries: Iterable[tuple[str, str, bytes]]) -> dict[str, RegulatorKey]:
    """{jurisdiction: RegulatorKey} from (jurisdiction, address, public key) of regulators, the
    first per jurisdiction (the in-process day's accounts, an agent's settings alike)."""
    out: dict[str, RegulatorKey] = {}
    for jurisdiction, address, public_key in entries:
        out.setdefault(jurisdiction, RegulatorKey(address, public_key))
    return out


# ------------------------------------------------------------------ publishing once (agents)
PUBLISH = "lookthrough.publish"  # the outbox kind: key (cycle, intermediary)
APPEND = "lookthrough.append"  # the outbox kind: key (cycle, intermediary, offset)


def publication(contract: Any, intermediary: str, cycle: bytes) -> Recorded | None:
    """What SealedRecords holds for (intermediary, cycle): its root, declared record count
    ("records") and records sealed so far ("sealed"); None when nothing was published (the
    contract's view reverts SealedNotPublished then)."""
    try:
        root, _leaves, records, sealed, block = contract.publication(intermediary, b32(cycle))
    except Exception as exc:
        if "SealedNotPublished" in str(exc) or _selector(NOT_PUBLISHED) in str(exc):
            return None
        raise
    value = {"root": "0x" + b32(root).hex(), "records": int(records), "sealed": int(sealed)}
    return Recorded(int(block), value)


def complete(found: Recorded | None) -> bool:
    """Whether a publication (`publication`'s answer) holds every record it declared."""
    return found is not None and found.value["sealed"] == found.value["records"]


NOT_PUBLISHED = "SealedNotPublished(address,bytes32)"


def _selector(signature: str) -> str:
    from eth_utils import keccak

    return keccak(text=signature)[:4].hex()


@dataclass
class Publisher:
    """An intermediary publishing its look-through records through its outbox: once per cycle,
    whenever it is killed and restarted (the chain is asked before anything is sealed or sent, and
    an intent left unbooked by a killed process is booked from the chain on `outbox.resume()`).

    The records go in parts (publish, then appendRecords at each part's offset): a process killed
    between parts is continued from the chain's sealed count by the next `publish`, the remaining
    records sealed afresh (same positions, same root); a part resent is refused by its offset."""

    intermediary: Intermediary
    outbox: Outbox
    tx: Callable[[], dict[str, Any]]
    part: int = MAX_RECORDS  # records per transaction

    def __post_init__(self) -> None:
        contract = self.intermediary.contract
        self.outbox.register_call(
            PUBLISH, contract.publish, self._probe, self._booked, tx=self.tx, sent=6
        )
        self.outbox.register_call(
            APPEND,
            contract.appendRecords,
            self._probe_part,
            lambda receipt, a: {"sealed": int(a[1]) + len(a[3])},
            tx=self.tx,
            sent=4,
        )

    def _found(self, cycle: Any, root: Any) -> Recorded | None:
        found = publication(self.intermediary.contract, self.intermediary.address, b32(cycle))
        if found is not None and found.value["root"] != str(root).lower():
            raise OutboxConflict(
                f"{PUBLISH}: {self.intermediary.address} published another root for cycle "
                f"{cycle} ({found.value['root']}, not {root})"
            )
        return found

    def _probe(self, args: list) -> Recorded | None:
        found = self._found(args[0], args[1])
        if found is None:
            return None
        return Recorded(
            found.block, {"root": found.value["root"], "records": found.value["records"]}
        )

    def _probe_part(self, args: list) -> Recorded | None:
        """A part is on chain once the publication's sealed count reaches its end (parts are
        sealed in order; the root is checked by the intent's key holder, the publish)."""
        found = publication(self.intermediary.contract, self.intermediary.address, b32(args[0]))
        end = int(args[1]) + len(args[3])
        if found is None or found.value["sealed"] < end:
            return None
        return Recorded(None, {"sealed": end})

    @staticmethod
    def _booked(receipt: Any, args: list) -> dict[str, Any]:
        return {"root": str(args[1]).lower(), "records": int(args[3])}

    def published(self, cycle: bytes) -> bool:
        """Whether this intermediary's records of `cycle` are all on chain."""
        return complete(publication(self.intermediary.contract, self.intermediary.address, cycle))

    def publish(
        self, cycle: bytes, positions: Sequence[Position], regulators: Mapping[str, RegulatorKey]
    ) -> list[Booking]:
        """Seal `positions` to their jurisdictions' `regulators` and publish them for `cycle`: the
        root with the first part, then every other part; from where the chain stands (nothing sent
        when it holds them all). The bookings of what was sent or found, in order."""
        if self.published(cycle):  # before sealing: thousands of envelopes for nothing
            return []
        me = self.intermediary.address
        sealed = replace(seal_positions(me, cycle, positions, regulators), part=self.part)
        found = self._found(sealed.cycle_id, "0x" + sealed.root.hex())
        done = []
        if found is None:
            done.append(self.outbox.send(PUBLISH, key_of(b32(cycle), me), [*sealed.args(), me]))
        at = None if found is None else found.value["sealed"]
        for part in sealed.appends(at):
            done.append(self.outbox.send(APPEND, key_of(b32(cycle), me, part[1]), [*part, me]))
        return done


def records_per_regulator(
    web3: Any,
    engine: Any,
    sealed_records: Any,
    registry: Any,
    cycle_id: bytes,
    since: int,
    names: Mapping[str, str],
) -> dict[str, int]:
    """What each regulator's look-through holds of the cycle, read from the chain: its institutions'
    first clearing data (one record per upload batch and currency, the regulator of the party) and
    the investors' positions sealed to it; keyed `<regulator> first clearing` and `<regulator>
    sealed positions` (a regulator by its name in `names`, lower-case address -> name, else its
    address). `sealed_records` None: a suite without SealedRecords."""
    out: dict[str, int] = {}

    def count(regulator: str, what: str) -> None:
        key = f"{names.get(regulator.lower(), regulator)} {what}"
        out[key] = out.get(key, 0) + 1

    def logs(contract: Any, event: str) -> list:
        events = web3.eth.contract(address=contract.address, abi=contract.abi).events
        return getattr(events, event).get_logs(
            from_block=since, argument_filters={"cycleId": b32(cycle_id)}
        )

    for log in logs(engine, "FirstClearingData"):
        count(str(registry.regulatorOf(log["args"]["party"])), "first clearing")
    if sealed_records is not None:
        for log in logs(sealed_records, "RecordSealed"):
            count(log["args"]["regulator"], "sealed positions")
    return dict(sorted(out.items()))


def positions_from_steps(
    steps: Iterable[Step],
    tickets: Mapping[bytes, Any],
    jurisdiction_of: Mapping[str, str],
) -> dict[str, list[Position]]:
    """Each intermediary's investors' positions as settled down the holding chain: the investor
    leaves of its steps (domain.holding.plan / the holding scenario), exactly as HoldingChain
    recorded them, so every sealed record proves against the intermediary's investor root there.

    An investor's jurisdiction is its intermediary's (consortium file; lower-case addresses);
    `tickets` maps an owner commitment to its ticket (owner pseudonym, salt). A leaf without a
    ticket, or an intermediary without a jurisdiction, cannot be sealed: ValueError names it."""
    out: dict[str, list[Position]] = {}
    for s in steps:
        for commitment, asset, amount in s.investors.leaves:
            ticket = tickets.get(bytes(commitment))
            where = jurisdiction_of.get(s.party.lower())
            if ticket is None or where is None:
                raise ValueError(
                    f"{s.party}: investor leaf 0x{bytes(commitment).hex()} (asset {asset}) has "
                    f"{'no ticket' if ticket is None else 'no jurisdiction'}: cannot seal it"
                )
            out.setdefault(s.party, []).append(
                Position(ticket.owner_pseudonym, s.kind, asset, amount, where, ticket.salt)
            )
    return out


# ------------------------------------------------------------------ the regulator's side
@dataclass(frozen=True)
class OpenedRecord:
    """A record sealed to a regulator, opened and checked against the root on chain and against
    the intermediary's investor root on HoldingChain (`holding`: HELD, or why not)."""

    intermediary: str
    cycle_id: bytes
    record: Record
    root: bytes
    proven: bool  # off chain (the proof recomputed) and on chain (verifyPosition) both agree
    block: int
    holding: str = "not checked against the holding chain (no HoldingChain given)"

    @property
    def held(self) -> bool:
        return self.holding == HELD

    def as_json(self) -> dict:
        r = self.record
        return {
            "intermediary": self.intermediary,
            "cycleId": "0x" + self.cycle_id.hex(),
            "investor": r.investor_id,
            "commitment": "0x" + r.commitment.hex(),
            "kind": r.kind,
            "asset": hex(r.asset),
            "assetName": asset_name(r.kind, r.asset),
            "amount": r.amount,
            "root": "0x" + self.root.hex(),
            "proven": self.proven,
            "held": self.held,
            "holding": self.holding,
            "block": self.block,
        }


def asset_name(kind: int, asset: int) -> str:
    """A position's asset for people: the currency code of cash, the security id otherwise."""
    if kind == CASH:
        return code_text(asset.to_bytes(32, "big"), errors="replace")
    return str(asset)


@dataclass(frozen=True)
class SealedLog:
    """One RecordSealed log as a reader has it: who published the record for which cycle, the
    sealed bytes, and the block it came in."""

    intermediary: str
    cycle_id: bytes
    sealed: bytes
    block: int


def _unique(keys: list[tuple]) -> list[tuple]:
    return list(dict.fromkeys(keys))


def open_many(
    contract: Any,
    logs: Sequence[SealedLog],
    private_key: bytes | None,
    holding: Any = None,
    views: Views = one_by_one,
) -> list[tuple[OpenedRecord | None, str]]:
    """Each RecordSealed's record as a reader sees it, in order: (the record opened and proved,
    "opened"), or (None, why not: no key, a key it is not sealed to, or an envelope altered or
    moved). Proved against the published root, off chain and with the contract's
    verifyPosition, and, given the HoldingChain, against the intermediary's investor root there
    (read from investorsOf, the proof checked in Python and with verifyInvestor). The chain is
    read through `views` (one call each, or `batched`): each publication's and each investor
    root once, then one verification per record."""
    if private_key is None:
        return [(None, UNOPENED)] * len(logs)
    out: list[tuple[OpenedRecord | None, str]] = []
    todo: list[tuple[int, SealedLog, Record]] = []
    for i, log in enumerate(logs):
        try:
            record = open_record(log.intermediary, b32(log.cycle_id), log.sealed, private_key)
        except NotARecipient:
            out.append((None, NOT_OPENABLE))
            continue
        except EnvelopeTampered as exc:
            out.append((None, f"refused: {exc}"))
            continue
        out.append((None, "opened"))
        todo.append((i, log, record))
    if not todo:
        return out
    pubs = _unique([(t[1].intermediary, b32(t[1].cycle_id)) for t in todo])
    roots = {k: b32(p[0]) for k, p in zip(pubs, views(contract, "publication", pubs))}
    on_chain = views(
        contract,
        "verifyPosition",
        [
            (log.intermediary, b32(log.cycle_id), r.commitment, r.asset, r.amount, list(r.proof))
            for _, log, r in todo
        ],
    )
    opened = []
    for (_, log, r), verified in zip(todo, on_chain):
        cycle = b32(log.cycle_id)
        root = roots[(log.intermediary, cycle)]
        proven = proves(r, root) and bool(verified)
        opened.append(OpenedRecord(log.intermediary, cycle, r, root, proven, log.block))
    if holding is not None:
        opened = _held(holding, opened, views)
    for (i, _, _), o in zip(todo, opened):
        out[i] = (o, "opened")
    return out


def _asset_key(o: OpenedRecord) -> tuple:
    """(cycle, intermediary, kind, asset): the investor root on HoldingChain a record is under."""
    return (o.cycle_id, o.intermediary, o.record.kind, o.record.asset)


def _held(holding: Any, opened: list[OpenedRecord], views: Views) -> list[OpenedRecord]:
    """The records with `holding` set: HELD when each is one of the investor leaves its
    intermediary allocated in its asset on HoldingChain, else the reason it is not."""
    keys = _unique([_asset_key(o) for o in opened])
    roots = {k: b32(v[0]) for k, v in zip(keys, views(holding, "investorsOf", keys))}
    verdicts: dict[int, str] = {}
    ask = []
    for n, o in enumerate(opened):
        try:
            prove_held(o.record, roots[_asset_key(o)])
        except RecordNotOnHoldingChain as exc:
            verdicts[n] = f"not {HELD}: {exc}"
            continue
        ask.append(n)
    args = [
        (*_asset_key(o), o.record.commitment, o.record.amount, list(o.record.holding_proof))
        for o in (opened[n] for n in ask)
    ]
    for n, ok in zip(ask, views(holding, "verifyInvestor", args)):
        root = roots[_asset_key(opened[n])]
        refused = f"not {HELD}: HoldingChain.verifyInvestor refuses it (root 0x{root.hex()})"
        verdicts[n] = HELD if ok else refused
    return [replace(o, holding=verdicts[n]) for n, o in enumerate(opened)]


def open_sealed(
    contract: Any,
    intermediary: str,
    cycle_id: Any,
    sealed: bytes,
    private_key: bytes,
    block: int,
    holding: Any = None,
) -> OpenedRecord | None:
    """One RecordSealed's record opened with `private_key` and proved (open_many); None when it
    does not open with that key (not sealed to it, or altered or moved: open_or_why says which)."""
    log = SealedLog(intermediary, b32(cycle_id), sealed, block)
    return open_many(contract, [log], private_key, holding)[0][0]


def open_or_why(
    contract: Any,
    intermediary: str,
    cycle_id: Any,
    sealed: bytes,
    private_key: bytes | None,
    block: int,
    holding: Any = None,
) -> tuple[OpenedRecord | None, str]:
    """A RecordSealed's record as a reader sees it (open_many of one): the one opening the live
    feed shows."""
    log = SealedLog(intermediary, b32(cycle_id), sealed, block)
    return open_many(contract, [log], private_key, holding)[0]


def read_sealed(
    contract: Any,
    regulator: str,
    private_key: bytes,
    web3: Any,
    from_block: int = 0,
    holding: Any = None,
) -> list[OpenedRecord]:
    """Every record sealed to `regulator` since `from_block`, opened and proved (against the
    holding chain too, given it), the chain read in JSON-RPC batches; a record it cannot open,
    e.g. one moved from another regulator's event, is left out."""
    c = web3.eth.contract(address=contract.address, abi=contract.abi)
    logs = c.events.RecordSealed.get_logs(
        from_block=from_block, argument_filters={"regulator": regulator}
    )
    found = [
        SealedLog(
            a["intermediary"], b32(a["cycleId"]), bytes(a["sealedRecord"]), int(log["blockNumber"])
        )
        for log in logs
        for a in (log["args"],)
    ]
    opened = open_many(contract, found, private_key, holding, batched(web3))
    return [o for o, _ in opened if o is not None]
