"""Following the chain from a persisted block cursor and handing each event to whoever reacts to it.

Why a cursor in the store: an agent restarted after a kill must neither miss an event nor depend on
having seen it in memory. The cursor is the last block whose events every handler has finished; a
kill in the middle of a range replays that range, so handlers are idempotent (each asks the chain's
state before it sends, and keyed batches go through the outbox).

What a poll costs: the node is asked only for the logs some handler wants (`eth_getLogs` with
topic0 in the handled events' topics, each signature of an event name that several contracts declare
differently), straight through the provider: web3's request and result formatters (checksumming
every address of the filter and of every log) cost more CPU than the node's answer. An idle poll is
one `eth_blockNumber`: the cursor and whether any failed handler waits for a retry are kept in
memory (the store stays the record; one process per home holds its lock).

Reorgs: the consortium runs QBFT (immediate finality) and the local chains (anvil, ganache) never
reorganise, so the cursor moves straight to the latest block. A network with probabilistic finality
would need `confirmations` > 0 (the cursor then stays that many blocks behind the head).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from eth_utils import to_checksum_address

from consortium.outbox import jsonable
from consortium.store import Store

CURSOR_KIND, CURSOR_KEY = "follower", "cursor"
FAILED_KIND = "follower.failed"  # (event, handler) pairs that raised, retried on the next polls
MAX_ATTEMPTS = 5
MAX_RANGE = 2_000  # blocks per eth_getLogs call: nodes cap the range of one query

log = logging.getLogger("consortium.agent")


class NodeError(RuntimeError):
    """The node answered a follower's request with an error."""


class UnknownEvent(ValueError):
    """A handler for an event no followed contract declares: it could never run."""


@dataclass(frozen=True)
class ChainEvent:
    """One decoded event with where it happened."""

    name: str
    args: Mapping[str, Any]
    address: str
    block: int
    tx_hash: str
    log_index: int

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


Handler = Callable[[ChainEvent], None]


@dataclass
class Follower:
    """eth_getLogs over (cursor, head] for `addresses` and the handled events' topics, decoded and
    dispatched by event name.

    `w3` is a web3 instance (only its provider is used); `decode(logs)` decodes raw logs like
    brownie's tx.events (one event per log; consortium.chain.decode_logs); `topics` maps each event
    name the followed contracts declare to its topic0s (`topics_of`). Start: the cursor in the
    store, else `start_block - 1`."""

    store: Store
    w3: Any
    addresses: Iterable[str]
    decode: Callable[[list[dict]], Any]
    topics: Mapping[str, Iterable[str]]
    start_block: int = 0
    confirmations: int = 0
    handlers: dict[str, list[Handler]] = field(default_factory=dict)
    flushers: list[Callable[[], None]] = field(default_factory=list)
    _cursor: int | None = field(default=None, init=False, repr=False)
    _retry_pending: bool = field(default=True, init=False, repr=False)  # unknown: ask the store

    def on(self, event: str, handler: Handler) -> None:
        """`handler(ev)` for each `event` of the followed contracts; UnknownEvent when none
        declares it (a misspelt name would otherwise wait forever)."""
        if not self.topics.get(event):
            raise UnknownEvent(f"no followed contract declares an event {event!r}")
        self.handlers.setdefault(event, []).append(handler)

    def after_range(self, flush: Callable[[], None]) -> None:
        """`flush()` runs after a range's events are dispatched, before the cursor moves past them:
        a role gathering events into one batch (accounts to open) sends it there, so a kill before
        the send replays the range instead of losing the events."""
        self.flushers.append(flush)

    @property
    def cursor(self) -> int:
        if self._cursor is None:
            row = self.store.get(CURSOR_KIND, CURSOR_KEY)
            self._cursor = int(row["block"]) if row else self.start_block - 1
        return self._cursor

    def _advance(self, block: int) -> None:
        self.store.put(CURSOR_KIND, CURSOR_KEY, {"block": int(block)})
        self._cursor = int(block)

    def head(self) -> int:
        """The latest block the follower may read (`confirmations` behind the node's head)."""
        return _int(self._rpc("eth_blockNumber", [])) - self.confirmations

    def poll(self, stop: Callable[[], bool] = lambda: False) -> int:
        """Dispatch every event of the blocks after the cursor up to the head; returns how many.
        Stops between two ranges when `stop()` says so (the cursor then marks what was done)."""
        self.retry_failed()
        head = self.head()
        seen = 0
        start = self.cursor + 1
        while start <= head and not stop():
            end = min(head, start + MAX_RANGE - 1)
            events = self.events(start, end)
            for ev in events:
                self.dispatch(ev)
            for flush in self.flushers:
                flush()
            seen += len(events)
            self._advance(end)
            start = end + 1
        return seen

    def events(self, start: int, end: int) -> list[ChainEvent]:
        """The decoded events some handler wants of blocks start..end of the followed contracts, in
        chain order; the node never sends the others."""
        wanted = sorted({t for name in self.handlers for t in self.topics[name]})
        if not wanted:
            return []
        logs = self._logs(
            {"fromBlock": hex(start), "toBlock": hex(end), "address": list(self.addresses)},
            wanted,
        )
        ordered = sorted(logs, key=lambda r: (_int(r["blockNumber"]), _int(r["logIndex"])))
        return [ev for raw in ordered for ev in self._decoded(raw, self.handlers)]

    def history(self, address: str, topic: str) -> list[ChainEvent]:
        """Events of one contract and topic from the start block to the head, undispatched."""
        query = {"fromBlock": hex(self.start_block), "toBlock": "latest", "address": address}
        return [ev for raw in self._logs(query, [topic]) for ev in self._decoded(raw, None)]

    def _logs(self, query: dict[str, Any], topic0s: list[str]) -> list[dict]:
        return self._rpc("eth_getLogs", [query | {"topics": [topic0s]}])

    def _rpc(self, method: str, params: list) -> Any:
        """One request through the provider, past web3's middlewares and formatters: the answer
        is the node's JSON (hex strings), which is what `decode` reads."""
        answer = self.w3.provider.make_request(method, params)
        if answer.get("error"):
            raise NodeError(f"{method}: {answer['error']}")
        return answer["result"]

    def _decoded(self, raw: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> list:
        decoded = self.decode([raw])
        if len(decoded) == 0:
            return []
        ev = decoded[0]
        name = getattr(ev, "name", None)
        if wanted is not None and name not in wanted:
            return []  # another event with a handled one's topic0 (not declared by this address)
        return [
            ChainEvent(
                name=name,
                args=dict(ev),
                address=to_checksum_address(raw["address"]),
                block=_int(raw["blockNumber"]),
                tx_hash=raw["transactionHash"],
                log_index=_int(raw["logIndex"]),
            )
        ]

    def dispatch(self, ev: ChainEvent) -> None:
        """Every handler of the event. One that fails is logged and its (event, handler) kept in
        the store to be retried on the next polls (a node that hiccuped, a counterparty's step not
        mined yet); the other handlers and events go on."""
        for handler in self.handlers.get(ev.name, []):
            self._run(handler, ev, attempts=0)

    def _run(self, handler: Handler, ev: ChainEvent, attempts: int) -> bool:
        key = f"{ev.block}:{ev.log_index}:{_name(handler)}"
        try:
            handler(ev)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the agent
            attempts += 1
            given_up = attempts >= MAX_ATTEMPTS
            log.error(
                "handler %s failed on %s at block %s (tx %s), attempt %d%s: %s",
                _name(handler),
                ev.name,
                ev.block,
                ev.tx_hash,
                attempts,
                " (given up: see the store's follower.failed)" if given_up else "",
                str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
            )
            # fields one level deep, not asdict: its deep copy fails on brownie's HexString args
            event = {f.name: getattr(ev, f.name) for f in fields(ev)}
            body = {"event": jsonable(event), "handler": _name(handler)}
            status = "given-up" if given_up else "retry"
            self.store.put(FAILED_KIND, key, body | {"attempts": attempts, "status": status})
            self._retry_pending = self._retry_pending or not given_up
            return False
        if attempts:
            self.store.put(FAILED_KIND, key, {"status": "done", "attempts": attempts})
        return True

    def retry_failed(self) -> int:
        """Run again every handler that failed on an event and is not given up;
        how many now passed. The store is read only while one may wait (at start, after a
        failure), so an idle poll costs no query."""
        if not self._retry_pending:
            return 0
        by_name = {_name(h): h for hs in self.handlers.values() for h in hs}
        passed = 0
        for row in self.store.all(FAILED_KIND).values():
            handler = by_name.get(row.get("handler", ""))
            if row.get("status") != "retry" or handler is None:
                continue
            ev = ChainEvent(**row["event"])
            passed += self._run(handler, ev, int(row["attempts"]))
        self._retry_pending = any(
            r.get("status") == "retry" for r in self.store.all(FAILED_KIND).values()
        )
        return passed


def _name(handler: Any) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


def _int(value: Any) -> int:
    """A quantity of the node's JSON (hex string) or already an int."""
    return value if isinstance(value, int) else int(value, 16)


def topics_of(contracts: Iterable[Any]) -> dict[str, set[str]]:
    """Event name -> topic0s over brownie contracts (`.topics`): two contracts may declare events
    of one name with different arguments, and each signature is followed."""
    out: dict[str, set[str]] = {}
    for contract in contracts:
        for name, topic in contract.topics.items():
            out.setdefault(name, set()).add(topic.lower())
    return out
