"""Decisions a role leaves to a person: queued in the institution's store, answered by a command.

Why: what an agent may decide alone is each institution's policy (agent.yaml `decisions:` per kind,
auto or queue; `limits:` for amounts). A queued decision is a store document and a JSON file in
`outbox/decisions/` for the bank's people; `consortium decide --institution ID ITEM accept|reject
--reason TEXT` writes the answer into the same store (the agent need not run), and the agent acts on
it on its next loop, once: acting is booked in the store too.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from consortium.inputs import CommandError
from consortium.store import Store

KIND = "decision"
QUEUED, ANSWERED, ACTED = "queued", "answered", "acted"


class UnknownDecision(CommandError):
    """No decision of that item is queued at this institution."""


class DecisionAnswered(CommandError):
    """The decision was answered already; an answer is final."""


@dataclass
class Decision:
    """One question to a person: `kind` (the policy's name), `item` (its id), `subject` (what the
    role needs to act later, JSON types), the status, the answer and its reason."""

    item: str
    kind: str
    subject: dict[str, Any]
    status: str = QUEUED
    answer: str = ""  # "accept" or "reject" once answered
    reason: str = ""
    queued_at: int = field(default_factory=time.time_ns)
    answered_at: int = 0

    @property
    def accepted(self) -> bool:
        return self.answer == "accept"


class Decisions:
    """The decisions of one institution (its store; its outbox folder for people to read)."""

    def __init__(self, store: Store, outbox: Path | None = None):
        self.store = store
        self.outbox = outbox

    def get(self, item: str) -> Decision | None:
        row = self.store.get(KIND, item)
        return Decision(**row) if row else None

    def queue(self, kind: str, item: str, subject: dict[str, Any]) -> Decision:
        """Queue a question once: queuing an item again returns the first one unchanged."""
        found = self.get(item)
        if found is not None:
            return found
        decision = Decision(item, kind, subject)
        self._save(decision)
        return decision

    def answer(self, item: str, accept: bool, reason: str) -> Decision:
        """A person's answer; UnknownDecision or DecisionAnswered say why it cannot be taken."""
        found = self.get(item)
        if found is None:
            raise UnknownDecision(
                f"no decision {item!r} is queued here; outbox/decisions/ lists the queued ones"
            )
        if found.status != QUEUED:
            raise DecisionAnswered(
                f"decision {item!r} was answered already ({found.answer}: {found.reason})"
            )
        found.status = ANSWERED
        found.answer = "accept" if accept else "reject"
        found.reason = reason
        found.answered_at = time.time_ns()
        self._save(found)
        return found

    def answered(self) -> list[Decision]:
        """Answered decisions not acted on yet, in the order they were queued."""
        rows = [Decision(**r) for r in self.store.all(KIND).values()]
        return sorted((d for d in rows if d.status == ANSWERED), key=lambda d: d.queued_at)

    def queued(self) -> list[Decision]:
        rows = [Decision(**r) for r in self.store.all(KIND).values()]
        return sorted((d for d in rows if d.status == QUEUED), key=lambda d: d.queued_at)

    def acted(self, decision: Decision) -> None:
        """The role acted on the answer: never again. The answer itself stays in `reason`."""
        decision.status = ACTED
        self._save(decision)

    def _save(self, decision: Decision) -> None:
        self.store.put(KIND, decision.item, asdict(decision))
        if self.outbox is not None:
            folder = self.outbox / "decisions"
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{decision.item}.json.tmp"
            tmp.write_text(json.dumps(asdict(decision), indent=2, sort_keys=True))
            tmp.replace(folder / f"{decision.item}.json")
