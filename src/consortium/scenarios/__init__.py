"""One business day per line, driven by the institutions' role objects.

Each line module here exposes `run_day(ctx: DayContext) -> LineResult`; the demo (consortium.demo)
admits the institutions of config/consortium.yaml, deploys the suite, and calls every line in turn.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from consortium.roles.membership import Institution, PermissionManager
from consortium.store import Store


@dataclass
class Members:
    """The admitted institutions of the consortium, found by name or role."""

    by_name: dict[str, Institution]
    roles: dict[str, list[str]]  # institution name -> role names

    def with_role(self, role: str) -> list[Institution]:
        return [self.by_name[n] for n, rs in self.roles.items() if role in rs]

    def issuing(self, role: str, address: Any) -> Institution:
        """The member holding `role` that a token names as its issuer (DepositToken.issuer(),
        SecurityToken.csd()): only that member issues and redeems the token."""
        for inst in self.with_role(role):
            if inst.address.lower() == str(address).lower():
                return inst
        raise LookupError(
            f"the token's issuer {address} is no {role} member of the consortium file: deploy the "
            "suite with the issuers of consortium.bootstrap.token_issuers"
        )

    def one(self, role: str) -> Institution:
        found = self.with_role(role)
        if not found:
            raise LookupError(f"no institution holds role {role} in the consortium file")
        return found[0]


@dataclass
class DayContext:
    """What a line's day needs: deployed suite, institutions, manager, seeded randomness, size."""

    suite: Any  # consortium.deploy.Suite
    members: Members
    manager: PermissionManager
    rng: random.Random
    size: dict[str, int]  # per-line sizes from config/day-sizes.yaml
    workdir: Any = None  # pathlib.Path for stores and files of the day
    pipe: Any = None  # consortium.txpipe.TxPipe the line's phases send through (made on first use)

    def tx_pipe(self) -> Any:
        """The line's pipe: each phase's independent transactions go out without waiting."""
        if self.pipe is None:
            from consortium import chain
            from consortium.txpipe import TxPipe

            self.pipe = TxPipe(chain.web3())
        return self.pipe

    stores: dict[str, Store] = field(default_factory=dict)

    def store(self, inst: Institution) -> Store:
        """The institution's own store for this line (a file in `workdir`, in memory without one):
        its outbox survives the agent, so a restarted agent resumes from it."""
        key = inst.address.lower()
        if key not in self.stores:
            self.stores[key] = Store.at(self.workdir / f"{key}.sqlite") if self.workdir else Store()
        return self.stores[key]


@dataclass
class LineResult:
    """What a line reports to the demo's summary; every check must hold or the demo exits 1."""

    line: str
    counts: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    gas: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    # perf_counter() of the line's first transaction sent and last receipt collected (set by the
    # demo)
    window: tuple[float, float] | None = None

    def record(self, *txs: Any) -> None:
        """Count receipts of the line's transactions (brownie TransactionReceipt or web3 receipts);
        None stands for a batch the chain already held (booked from an earlier run), not counted."""
        for tx in txs:
            if tx is None:
                continue
            self.transactions += 1
            self.gas += int(getattr(tx, "gas_used", None) or tx["gasUsed"])

    @property
    def ok(self) -> bool:
        return all(self.checks.values())
