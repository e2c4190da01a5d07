"""The day as business input files: what each line gives the multi-process day (consortium.dayrun).

Why files: in the multi-process day no institution shares a Python object with another; the day
reaches each agent only as the files its own systems would drop in its inbox, and is followed only
by reading the chain and the agents' outboxes. A line that has agents plugs in by exposing, in its
scenario module (`consortium.scenarios.<line>`):

    ROLES: tuple[str, ...]                    roles whose agents must exist for the line to run
    PHASES: tuple[str, ...]                   its phases, in order
    input_files(cfg, sizes, seed) -> dict[institution id, list[InputFile]]
    agent_settings(cfg, sizes, seed) -> dict[institution id, dict]   (extra agent.yaml fields)
    ready(phase, view) -> bool                may this phase's files be dropped now
    done(view) -> bool                        has the line's day ended (chain and outboxes)
    checks(view) -> LineResult                counts, metrics and checks (the driver adds
                                              transactions and gas, read from the chain, and
                                              checks every dropped file was processed)
    CLOCK_PHASE: str  (optional)              a phase that moves a local chain's clock: the
                                              driver drops it only after every other line ended

and, optionally (a line without it is not governed):

    govern(view, manager) -> None             the consortium's governance the day's operations
                                              office performs (it deployed the suite and admitted
                                              the members with the permission manager's key:
                                              `manager` is that roles.membership.PermissionManager),
                                              called on every poll of the day; each act asks the
                                              chain first, so a call that finds nothing to do does
                                              nothing

`sizes` is the line's section of config/day-sizes.yaml. `input_files` is pure and seeded: the same
(cfg, sizes, seed) give the same files, so `checks` recomputes what to expect from them (the view
carries cfg, sizes and seed, and `memo` keeps what a line computes once). A file whose content
depends on what an earlier phase produced (a payroll naming the account ids the platform's outbox
lists, as an employer's payroll system would read them) gives a callable `content(view) -> bytes`,
resolved when its phase is dropped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InputFile:
    """One business file for one institution's inbox, dropped when `phase` begins."""

    name: str
    content: bytes | Callable[[DayView], bytes]
    phase: str

    def resolve(self, view: DayView) -> bytes:
        return self.content(view) if callable(self.content) else self.content


@dataclass
class DayView:
    """What the day is followed by: the suite on chain and each agent's home folder (and the
    day's consortium file, sizes and seed, from which each line recomputes its files)."""

    suite: Any
    homes: dict[str, Path]  # institution id -> home folder
    cfg: Any = None
    sizes: dict[str, dict] = field(default_factory=dict)  # line -> its sizes
    seed: int = 0
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def sizes_of(self, line: str) -> dict:
        return self.sizes.get(line, {})

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def read_many(
        self, contract: Any, fn: str, args: list[tuple], block: int | str = "latest"
    ) -> list:
        """`contract.fn(*a)` for each `a` at `block`, in JSON-RPC batches (consortium.txpipe's
        `call_many`): a look at hundreds of bills or thousands of accounts is a few round trips,
        not one each (the agents share the node, and a large day's polls reset its connections)."""
        if not args:
            return []
        return self.memo("reader", _reader).call_many(contract, fn, args, block=block)

    def outbox(self, ident: str) -> Path:
        return self.homes[ident] / "outbox"

    def result(self, ident: str, name: str) -> dict | None:
        """The result file of inbox file `name` (done/ or rejected/), None while unprocessed."""
        for folder in ("done", "rejected"):
            path = self.homes[ident] / folder / f"{name}.result.json"
            if path.exists():
                try:
                    return json.loads(path.read_text())
                except (OSError, ValueError):  # written by rename, but be safe
                    return None
        return None


def _reader() -> Any:
    """The driver's reads: a TxPipe over its connection (its views only; it sends nothing)."""
    from consortium import chain
    from consortium.txpipe import TxPipe

    return TxPipe(chain.web3())


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    """A CSV file with a header, as a bank's system exports it."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of an outbox CSV, [] while it is not there."""
    if not path.exists():
        return []
    return list(csv.DictReader(io.StringIO(path.read_text())))
