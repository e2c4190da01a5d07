"""An institution's outbox: every keyed batch is recorded before it is sent and booked after.

Why: an agent can die between sending a batch and recording its receipt. Each batch an agent sends at
volume carries an idempotency key the contract checks (a reused key is refused with a named error and
changes nothing) and can be asked about (a view: was this key recorded, and as what?). The outbox
writes the intent (kind, key, arguments) to the institution's Store before sending and the booking
(block, what the chain recorded it as, tx hash) after. On start, `resume()` asks the chain about every
intent left unbooked, books the ones the chain holds and resends only the others; `send()` asks the
chain before every send too. So a batch is on chain once and booked once, whenever the agent died.

Each role object holds one Outbox over its institution's Store and registers the kinds it sends
(how to send one, how to ask the chain about its key, what a receipt recorded). No brownie import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consortium.store import Store


class OutboxConflict(RuntimeError):
    """The chain holds this key for other content: the agent reused a key (a bug to fix, not retry)."""


@dataclass(frozen=True)
class Recorded:
    """What the chain holds under a key: the block of its first use (None where the contract keeps
    no block) and what it was booked as (e.g. {"batchId": 3})."""

    block: int | None
    value: dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """How one kind of keyed batch is sent and looked up.

    send(args)          sends the batch (args as stored, JSON types) and returns the receipt
    probe(args)         what the chain recorded under the batch's key, or None; raises OutboxConflict
                        when the key is recorded for other content
    booked_as(tx, args) what the receipt recorded, the same dict a later probe returns as `value`
    """

    send: Callable[[list], Any]
    probe: Callable[[list], Recorded | None]
    booked_as: Callable[[Any, list], dict[str, Any]]


@dataclass
class Booking:
    """A booked batch. `source` is "receipt" when this process sent it and read its receipt, "chain"
    when it was found on chain (sent by an earlier process, or by another instance of the agent)."""

    kind: str
    key: str
    args: list
    block: int | None
    value: dict[str, Any]
    tx_hash: str | None
    source: str
    tx: Any = None  # the receipt, when this process sent the batch

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Booking:
        b = row["booking"]
        return cls(
            row["kind"], row["key"], row["args"], b["block"], b["value"], b["tx_hash"], b["source"]
        )


def jsonable(value: Any) -> Any:
    """Call arguments as JSON types: bytes as 0x-hex (what the contracts' ABI accepts back), tuples
    as lists, big integers kept exact."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if hasattr(value, "address"):  # a contract or account object
        return str(value.address)
    return str(value)


def key_of(*parts: Any) -> str:
    """An outbox key from the parts of an idempotency key (hex for bytes, ':' between parts)."""
    return ":".join(str(jsonable(p)) for p in parts)


def recorded(block: Any, **value: Any) -> Recorded | None:
    """A view's answer as Recorded; None when the block is zero (the key was never used)."""
    return Recorded(int(block), value) if int(block) != 0 else None


def counted(answer: Any, entries: Any, kind: str) -> Recorded | None:
    """A `(count, blockNumber)` view answer about a batch of `entries` (or of that many records);
    the chain holding another count under the key is a conflict, not our batch."""
    count, block = answer
    size = entries if isinstance(entries, int) else len(entries)
    found = recorded(block, count=int(count))
    if found is not None and int(count) != size:
        raise OutboxConflict(
            f"{kind}: the chain holds a batch of {count} under this key, not {size}"
        )
    return found


def _is_refusal(exc: BaseException) -> bool:
    """A node's definite refusal (a revert), as opposed to a send whose fate is unknown."""
    return getattr(exc, "revert_msg", None) is not None or type(exc).__name__ in (
        "VirtualMachineError",
        "TxPipeError",
    )


def _tx_hash(tx: Any) -> str | None:
    h = getattr(tx, "txid", None) or (
        tx.get("transactionHash") if isinstance(tx, Mapping) else None
    )
    if h is None:
        return None
    return h if isinstance(h, str) else "0x" + bytes(h).hex()


def _block_of(tx: Any) -> int | None:
    n = getattr(tx, "block_number", None)
    if n is None and isinstance(tx, Mapping):
        n = tx.get("blockNumber")
    if isinstance(n, str):
        return int(n, 16)
    return None if n is None else int(n)


class Outbox:
    """The outbox of one role object over its institution's Store."""

    def __init__(self, store: Store, kinds: Mapping[str, Kind] | None = None):
        self.store = store
        self.kinds: dict[str, Kind] = dict(kinds or {})

    def register(self, name: str, kind: Kind) -> None:
        self.kinds[name] = kind

    # ---------------------------------------------------------------- sending
    def send(self, kind: str, key: Any, args: Iterable[Any]) -> Booking:
        """Send one keyed batch once: book it from the chain if the chain holds its key already,
        otherwise record the intent, send, and book the receipt."""
        k, key, args = self.kinds[kind], str(key), jsonable(list(args))
        row = self.store.intent(kind, key)
        if row is not None and row["args"] != args:
            if k.probe(row["args"]) is not None:
                raise OutboxConflict(
                    f"{kind} key {key} is recorded on chain for other content: "
                    f"stored {json.dumps(row['args'])[:200]}, now {json.dumps(args)[:200]}"
                )
            row = None  # an intent the chain never recorded (it was rolled back): replaced below
        if row is not None and row["status"] == "booked" and k.probe(args) is not None:
            return Booking.from_row(row)
        # pending (an earlier process died around the send), booked but no longer on chain (the chain
        # restarted from an older state), or new: the chain decides
        return self._settle(kind, key, args)

    def resume(self) -> list[Booking]:
        """Settle every intent an earlier process left unbooked, in the order they were intended:
        book the ones the chain holds (source "chain"), resend the others (source "receipt")."""
        return [
            self._settle(row["kind"], row["key"], row["args"])
            for row in self.store.intents("pending", self.kinds)
        ]

    def pending(self) -> list[dict[str, Any]]:
        """Intents of this outbox's kinds not booked yet."""
        return self.store.intents("pending", self.kinds)

    def booking(self, kind: str, key: Any) -> Booking | None:
        row = self.store.intent(kind, str(key))
        return Booking.from_row(row) if row and row["status"] == "booked" else None

    # ---------------------------------------------------------------- internals
    def _settle(self, kind: str, key: str, args: list) -> Booking:
        k = self.kinds[kind]
        found = k.probe(args)
        if found is not None:
            self.store.intend(kind, key, args)
            return self._book(kind, key, args, found, None)
        self.store.intend(kind, key, args)  # before sending: a death from here on leaves it pending
        try:
            tx = k.send(args)
        except Exception as exc:
            if not _is_refusal(exc):
                raise  # fate unknown (node down, timeout): the intent stays pending for resume()
            found = k.probe(args)
            if found is None:
                self.store.forget(kind, key)  # refused for another reason: nothing was recorded
                raise
            return self._book(kind, key, args, found, None)  # recorded meanwhile (another sender)
        return self._book(kind, key, args, Recorded(_block_of(tx), k.booked_as(tx, args)), tx)

    def _book(self, kind: str, key: str, args: list, found: Recorded, tx: Any) -> Booking:
        booking = Booking(
            kind,
            key,
            args,
            found.block,
            jsonable(found.value),
            _tx_hash(tx),
            "receipt" if tx is not None else "chain",
            tx,
        )
        self.store.book(
            kind,
            key,
            {
                "block": booking.block,
                "value": booking.value,
                "tx_hash": booking.tx_hash,
                "source": booking.source,
            },
        )
        return booking
