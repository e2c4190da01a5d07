"""What a role does with the items a range of blocks gathered (`Follower.after_range`): send each
item's transactions through the agent's pipe in phases, an item's failure its own, and try the
failed ones again on the next ranges. Shared by the lines whose event handlers gather per range
(annuity, bills): one by one, each item was a send and a wait, on a chain busy with the others."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from consortium.agent.follower import MAX_ATTEMPTS
from consortium.txpipe import PHASE_TXS as PHASE

log = logging.getLogger("consortium.agent")


def send_each(pipe: Any, items: list, send: Any, chunk: int) -> list[tuple[Any, str | None]]:
    """`send(item)` (the item's transactions through `pipe.piped(...)`, a list) for each item, a
    phase closed every `chunk` items without raising; each item with the error of its first failed
    transaction, or None: one item's failure is its own, not its phase's. A node error while
    sending or collecting a phase fails each item of that phase (their steps ask the chain first:
    trying them again is safe) instead of stopping the agent."""
    out: list[tuple[Any, str | None]] = []
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        try:
            sent = [(item, send(item)) for item in part]
            pipe.wait(raise_on_failure=False)
        except Exception as exc:  # noqa: BLE001 - the node, not an item: every item tried again
            log.error("a phase of %d item(s) not collected: %s", len(part), exc)
            with contextlib.suppress(Exception):  # what was sent is collected, the pipe reset
                pipe.wait(raise_on_failure=False)
            out += [(item, f"{type(exc).__name__}: {exc}") for item in part]
            continue
        for item, txs in sent:
            out.append((item, next((t.error for t in txs if t.status != 1), None)))
    return out


def phase_size(agent: Any) -> int:
    """Transactions a flush posts before closing the phase: PHASE, but one on ganache, where a
    second executeInstruction (or forwardFeedback) of the same sender in one phase was seen to
    hang its send until the 60 s timeout (2026-12-06, ganache 7.9; choosePlan phases did not):
    to be understood; anvil and real nodes take whole phases."""
    client = str(getattr(agent.w3, "client_version", "") or "")
    return 1 if "ganache" in client.lower() else PHASE


class Retries:
    """Items of a range's flush whose transaction failed, kept in the store and tried again on the
    next flushes, MAX_ATTEMPTS times, as the follower retries a failed handler: a failure does not
    hold the cursor back (the range is done), and every step asks the chain first."""

    def __init__(self, store: Any, kind: str):
        self.store, self.kind = store, kind
        # whether rows to retry may exist: the store is read at the first flush and after a
        # failure only, not at every range of blocks (as the follower's own retries)
        self._maybe = True

    def due(self) -> list[dict[str, Any]]:
        if not self._maybe:
            return []
        due = [r["item"] for r in self.store.all(self.kind).values() if r["status"] == "retry"]
        self._maybe = bool(due)
        return due

    def settle(self, key: str, item: dict[str, Any], error: str | None) -> None:
        row = self.store.get(self.kind, key)
        if error is None:
            if row is not None:
                self.store.put(self.kind, key, row | {"status": "done"})
            return
        attempts = (row or {}).get("attempts", 0) + 1
        given_up = attempts >= MAX_ATTEMPTS
        log.error(
            "%s %s failed, attempt %d%s: %s",
            self.kind,
            key,
            attempts,
            " (given up)" if given_up else "",
            error,
        )
        status = "given-up" if given_up else "retry"
        self._maybe = self._maybe or not given_up
        self.store.put(self.kind, key, {"item": item, "attempts": attempts, "status": status})
