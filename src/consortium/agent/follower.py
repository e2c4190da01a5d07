"""Following the chain from a persisted block cursor and handing each event to whoever reacts to it.

Why a cursor in the store: an agent restarted after a kill must neither miss an event nor depend on
having seen it in memory. The cursor is the last block whose events every handler has finished; a
kill in the middle of a range replays that range, so handlers are idempotent (each asks the chain's
state before it sends, and keyed batches go through the outbox).

Reorgs: the consortium runs QBFT (immediate finality) and the local chains (anvil, ganache) never
reorganise, so the cursor moves straight to the latest block. A network with probabilistic finality
would need `confirmations` > 0 (the cursor then stays that many blocks behind the head).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from consortium.outbox import jsonable
from consortium.store import Store

CURSOR_KIND, CURSOR_KEY = "follower", "cursor"
FAILED_KIND = "follower.failed"  # (event, handler) pairs that raised, retried on the next polls
MAX_ATTEMPTS = 5
MAX_RANGE = 2_000  # blocks per eth_getLogs call: nodes cap the range of one query

log = logging.getLogger("consortium.agent")


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
    """eth_getLogs over (cursor, head] for `addresses`, decoded and dispatched by event name.

    `w3` is a web3 instance; `decode(logs)` decodes raw logs like brownie's tx.events (one event per
    log; consortium.chain.decode_logs). Start: the cursor in the store, else `start_block - 1`."""

    store: Store
    w3: Any
    addresses: Iterable[str]
    decode: Callable[[list[dict]], Any]
    start_block: int = 0
    confirmations: int = 0
    handlers: dict[str, list[Handler]] = field(default_factory=dict)
    flushers: list[Callable[[], None]] = field(default_factory=list)

    def on(self, event: str, handler: Handler) -> None:
        self.handlers.setdefault(event, []).append(handler)

    def after_range(self, flush: Callable[[], None]) -> None:
        """`flush()` runs after a range's events are dispatched, before the cursor moves past them:
        a role gathering events into one batch (accounts to open) sends it there, so a kill before
        the send replays the range instead of losing the events."""
        self.flushers.append(flush)

    @property
    def cursor(self) -> int:
        row = self.store.get(CURSOR_KIND, CURSOR_KEY)
        return int(row["block"]) if row else self.start_block - 1

    def _advance(self, block: int) -> None:
        self.store.put(CURSOR_KIND, CURSOR_KEY, {"block": int(block)})

    def poll(self, stop: Callable[[], bool] = lambda: False) -> int:
        """Dispatch every event of the blocks after the cursor up to the head; returns how many.
        Stops between two ranges when `stop()` says so (the cursor then marks what was done)."""
        self.retry_failed()
        head = int(self.w3.eth.block_number) - self.confirmations
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
        """The decoded events of blocks start..end of the followed contracts, in chain order; logs
        of events no handler wants are skipped undecoded."""
        logs = self.w3.eth.get_logs(
            {"fromBlock": start, "toBlock": end, "address": list(self.addresses)}
        )
        ordered = sorted(logs, key=lambda r: (int(r["blockNumber"]), int(r["logIndex"])))
        return [ev for raw in ordered for ev in self._decoded(raw, self.handlers)]

    def history(self, address: str, topic: str) -> list[ChainEvent]:
        """Events of one contract and topic from the start block to the head, undispatched."""
        logs = self.w3.eth.get_logs(
            {
                "fromBlock": self.start_block,
                "toBlock": "latest",
                "address": address,
                "topics": [topic],
            }
        )
        return [ev for raw in logs for ev in self._decoded(raw, wanted=None)]

    def _decoded(self, raw: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> list:
        decoded = self.decode([_plain_log(raw)])
        if len(decoded) == 0:
            return []
        ev = decoded[0]
        name = getattr(ev, "name", None)
        if wanted is not None and name not in wanted:
            return []
        return [
            ChainEvent(
                name=name,
                args=dict(ev),
                address=str(raw["address"]),
                block=int(raw["blockNumber"]),
                tx_hash=_hex(raw["transactionHash"]),
                log_index=int(raw["logIndex"]),
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
            return False
        if attempts:
            self.store.put(FAILED_KIND, key, {"status": "done", "attempts": attempts})
        return True

    def retry_failed(self) -> int:
        """Run again every handler that failed on an event and is not given up;
        how many now passed."""
        by_name = {_name(h): h for hs in self.handlers.values() for h in hs}
        passed = 0
        for row in self.store.all(FAILED_KIND).values():
            handler = by_name.get(row.get("handler", ""))
            if row.get("status") != "retry" or handler is None:
                continue
            ev = ChainEvent(**row["event"])
            passed += self._run(handler, ev, int(row["attempts"]))
        return passed


def _name(handler: Any) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


def _plain_log(raw: Mapping[str, Any]) -> dict:
    """A web3 log as the JSON a node returns (hex strings), what decode_logs expects."""
    return {
        **dict(raw),
        "topics": [_hex(t) for t in raw["topics"]],
        "data": _hex(raw["data"]),
        "transactionHash": _hex(raw["transactionHash"]),
        "blockHash": _hex(raw["blockHash"]),
    }
