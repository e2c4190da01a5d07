"""An institution's outbox: every keyed batch is recorded before it is sent and booked after.

Why: an agent can die between sending a batch and recording its receipt. Each batch an agent sends
at volume carries an idempotency key the contract checks (a reused key is refused with a named error
and changes nothing) and can be asked about (a view: was this key recorded, and as what?). The
outbox writes the intent (kind, key, arguments) to the institution's Store before sending and the
booking (block, what the chain recorded it as, tx hash) after. On start, `resume()` asks the chain
about every intent left unbooked, books the ones the chain holds and resends only the others;
`send()` asks the chain before every send too. So a batch is on chain once and booked once, whenever
the agent died.

A phase that sends many keyed batches pipelined (consortium.txpipe) uses the two-step path:
`submit()` asks the chain, records the intent and sends without waiting; after the phase's receipts
are collected, `collect()` books each from its receipt (a refused one is probed: booked if the chain
holds its key, forgotten otherwise). `close_phase(pipe, *outboxes)` is the phase's end for both.
`send()` is the same two steps for one batch. An agent killed between submit and collect leaves
pending intents: `resume()` settles them like any other.

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
    """The chain holds this key for other content: the agent reused a key
    (a bug to fix, not retry)."""


class OutboxRefused(RuntimeError):
    """A submitted batch's transaction failed and the chain holds nothing under its key: its intent
    was dropped (the failure is the batch's, e.g. bad input; resending would fail again)."""


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
    probe(args)         what the chain recorded under the batch's key, or None; raises
                        OutboxConflict when the key is recorded for other content
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


@dataclass
class Submission:
    """A keyed batch after `submit()`: booked at once when the chain already held its key (`tx` is
    None), otherwise sent without waiting (`tx`, a PendingTx through a pipe) and booked by
    `collect()`. `value` is what the chain recorded it as (e.g. {"billId": 3}) once booked."""

    kind: str
    key: str
    args: list
    tx: Any = None
    booking: Booking | None = None

    @property
    def value(self) -> dict[str, Any]:
        if self.booking is None:
            raise RuntimeError(
                f"{self.kind} {self.key} is not booked yet: collect() the outbox after its phase"
            )
        return self.booking.value


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


def is_refusal(exc: BaseException) -> bool:
    """A node's definite refusal (a revert), as opposed to a send whose fate is unknown."""
    return getattr(exc, "revert_msg", None) is not None or type(exc).__name__ in (
        "VirtualMachineError",
        "TxPipeError",
    )


def _status(tx: Any) -> int:
    """A receipt's status (1 success); a result without one (a fake chain's) counts as success."""
    status = getattr(tx, "status", None)
    if status is None and isinstance(tx, Mapping):
        status = tx.get("status")
    if isinstance(status, str):
        return int(status, 16)
    return 1 if status is None else int(status)


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
        self._inflight: dict[tuple[str, str], Submission] = {}  # submitted, not collected yet

    def register(self, name: str, kind: Kind) -> None:
        self.kinds[name] = kind

    def register_call(
        self,
        name: str,
        fn: Callable[..., Any],
        probe: Callable[[list], Recorded | None],
        booked_as: Callable[[Any, list], dict[str, Any]] | None = None,
        *,
        tx: Callable[[], dict[str, Any]] | None = None,
        sent: int | None = None,
    ) -> None:
        """Register kind `name` sent as one call `fn(*args[:sent], tx())` (`tx` gives the role's
        transaction parameters; without it `fn(*args[:sent])`). Stored args may carry more than
        the call takes (a key the contract derives itself): `sent` says how many are sent. Booked as
        `booked_as(receipt, args)`, {} when not given."""

        def send(a: list) -> Any:
            return fn(*a[:sent], tx()) if tx is not None else fn(*a[:sent])

        self.register(
            name, Kind(send=send, probe=probe, booked_as=booked_as or (lambda receipt, a: {}))
        )

    def register_counted(
        self,
        name: str,
        fn: Callable[..., Any],
        lookup: Callable[[list], Any],
        *,
        tx: Callable[[], dict[str, Any]] | None = None,
        sent: int | None = None,
    ) -> None:
        """`register_call` for a batch whose entries are its second argument and whose key the
        contract answers with `(count, blockNumber)` through `lookup(args)`: booked as its count,
        and a key holding another count is a conflict (see `counted`)."""
        self.register_call(
            name,
            fn,
            lambda a: counted(lookup(a), a[1], name),
            lambda receipt, a: {"count": len(a[1])},
            tx=tx,
            sent=sent,
        )

    # ---------------------------------------------------------------- sending
    def send(self, kind: str, key: Any, args: Iterable[Any]) -> Booking:
        """Send one keyed batch once and book it: `submit()`, and for a transaction in flight
        through a pipe its `collect()` at once (reading its receipt waits for the phase so far)."""
        sub = self.submit(kind, key, args)
        if sub.booking is None:
            del self._inflight[(sub.kind, sub.key)]
            self._finish(sub)
        return sub.booking  # type: ignore[return-value]

    def submit(self, kind: str, key: Any, args: Iterable[Any]) -> Submission:
        """First step: book the batch from the chain if the chain holds its key already; otherwise
        record the intent and send it. A final receipt (a plain brownie call) is booked at once; a
        transaction in flight through a pipe (its `collected` is False) is booked by `collect()`
        once the phase's receipts are in.

        A key submitted again before its collect gets the same Submission (nothing sent twice)."""
        k, key, args = self.kinds[kind], str(key), jsonable(list(args))
        inflight = self._inflight.get((kind, key))
        if inflight is not None:
            if inflight.args != args:
                raise OutboxConflict(f"{kind} key {key} is in flight for other content")
            return inflight
        row = self.store.intent(kind, key)
        if row is not None and row["args"] != args:
            if k.probe(row["args"]) is not None:
                raise OutboxConflict(
                    f"{kind} key {key} is recorded on chain for other content: "
                    f"stored {json.dumps(row['args'])[:200]}, now {json.dumps(args)[:200]}"
                )
            row = None  # an intent the chain never recorded (it was rolled back): replaced below
        if row is not None and row["status"] == "booked" and k.probe(args) is not None:
            return Submission(kind, key, args, booking=Booking.from_row(row))
        # pending (an earlier process died around the send), booked but no longer on chain (the
        # chain restarted from an older state), or new: the chain decides
        found = k.probe(args)
        self.store.intend(kind, key, args)  # before sending: a death from here on leaves it pending
        if found is not None:
            return Submission(kind, key, args, booking=self._book(kind, key, args, found, None))
        try:
            tx = k.send(args)
        except Exception as exc:
            if not is_refusal(exc):
                raise  # fate unknown (node down, timeout): the intent stays pending for resume()
            return Submission(kind, key, args, booking=self._refused(kind, key, args, exc))
        sub = Submission(kind, key, args, tx)
        if getattr(tx, "collected", True):
            self._finish(sub)  # a final receipt (brownie waits for it): booked now
        else:
            self._inflight[(kind, key)] = sub  # in flight through a pipe: collect() books it
        return sub

    def collect(self) -> list[Booking]:
        """Second step, once the phase's receipts are in (after its `pipe.wait()`, whatever it
        raised): book every submitted batch from its receipt. A failed one is probed: booked from
        the chain if its key is there (another sender), its intent dropped otherwise; one whose
        receipt never came stays pending for resume(). The errors are raised after every other
        batch is booked (one as it is, several as OutboxRefused naming each)."""
        subs, self._inflight = list(self._inflight.values()), {}
        booked: list[Booking] = []
        errors: list[Exception] = []
        for sub in subs:
            try:
                booked.append(self._finish(sub))
            except Exception as exc:  # noqa: BLE001 - settle every batch, raise after
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise OutboxRefused("; ".join(str(e) for e in errors)) from errors[0]
        return booked

    def resume(self) -> list[Booking]:
        """Settle every intent an earlier process left unbooked, in the order they were intended:
        book the ones the chain holds (source "chain"), resend the others (source "receipt")."""
        return [
            self.send(row["kind"], row["key"], row["args"])
            for row in self.store.intents("pending", self.kinds)
        ]

    def pending(self) -> list[dict[str, Any]]:
        """Intents of this outbox's kinds not booked yet."""
        return self.store.intents("pending", self.kinds)

    def booking(self, kind: str, key: Any) -> Booking | None:
        row = self.store.intent(kind, str(key))
        return Booking.from_row(row) if row and row["status"] == "booked" else None

    # ---------------------------------------------------------------- internals
    def _finish(self, sub: Submission) -> Booking:
        """Book a sent batch from its receipt; a failed one as `_refused` says. An error raised
        while reading the receipt (through a pipe: a failure anywhere in the phase) is raised again
        once this batch is settled, so no failure of the phase is lost."""
        tx = sub.tx
        try:
            ok = _status(tx) == 1
        except Exception as exc:
            if not is_refusal(exc):
                raise  # the receipt never came: fate unknown, the intent stays pending
            try:  # the phase is collected now: this batch's own receipt tells
                ok = _status(tx) == 1
            except Exception:  # noqa: BLE001 - settle every batch, raise after
                ok = False
            if ok:
                sub.booking = self._booked(sub)
            else:
                sub.booking = self._refused(sub.kind, sub.key, sub.args, exc)
            raise exc  # noqa: TRY201
        if ok:
            sub.booking = self._booked(sub)
        else:
            why = getattr(tx, "error", None) or "transaction failed"
            sub.booking = self._refused(
                sub.kind, sub.key, sub.args, OutboxRefused(f"{sub.kind} {sub.key}: {why}")
            )
        return sub.booking

    def _booked(self, sub: Submission) -> Booking:
        k = self.kinds[sub.kind]
        found = Recorded(_block_of(sub.tx), k.booked_as(sub.tx, sub.args))
        return self._book(sub.kind, sub.key, sub.args, found, sub.tx)

    def _refused(self, kind: str, key: str, args: list, exc: BaseException) -> Booking:
        """A definite refusal: booked from the chain if the key is there (recorded meanwhile by
        another sender), otherwise the intent is dropped (nothing was recorded) and `exc` raised."""
        found = self.kinds[kind].probe(args)
        if found is None:
            self.store.forget(kind, key)
            raise exc
        return self._book(kind, key, args, found, None)

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


def close_phase(pipe: Any, *outboxes: Outbox) -> list[Booking]:
    """End a pipelined phase that carries keyed batches: collect its receipts (`pipe.wait()`), then
    book what every outbox submitted in it (or drop the intents the chain refused), and only then
    raise the phase's failures, so a failed phase leaves no intent behind that the chain refused.
    Without a pipe (`None`: every receipt is final already) it only collects."""
    failure: Exception | None = None
    try:
        if pipe is not None:
            pipe.wait()
    except Exception as exc:  # noqa: BLE001 - settle every batch, raise after
        failure = exc
    booked: list[Booking] = []
    errors: list[Exception] = []
    for outbox in outboxes:
        try:
            booked += outbox.collect()
        except Exception as exc:  # noqa: BLE001 - settle every batch, raise after
            errors.append(exc)
    if failure is not None:
        raise failure  # names every failed transaction of the phase
    if errors:
        raise errors[0]
    return booked
