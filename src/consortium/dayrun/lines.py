"""Which business lines the multi-process day plays: those whose agents exist and whose scenario
gives input files (consortium.scenarios.files); the others are skipped with one line saying why."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

# bills last, as in the in-process day: its redemption moves a local chain's clock
LINES = ("annuity", "confirmations", "settlement", "bills")
# the suite's contracts that serve one line (consortium.deploy): a transaction of an institution
# that plays several lines counts in the line of the contract it calls (dayrun.stats.by_line). The
# registry, the CNY cash token (settlement, bills financing, the reconciliation payment) and the
# report anchor serve several.
CONTRACT_LINES = {
    "AnnuityPlans": "annuity",
    "AnnuityLedger": "annuity",
    "SecurityToken": "settlement",
    "SettlementEngine": "settlement",
    "DepositToken:HKD": "settlement",
    "HoldingChain": "settlement",
    "SealedRecords": "settlement",
    "BillToken": "bills",
    "ConfirmationAnchor": "confirmations",
    "Reconciliation": "confirmations",
}
INTERFACE = ("ROLES", "PHASES", "input_files", "agent_settings", "ready", "done", "checks")
OPTIONAL = ("govern",)  # consortium.scenarios.files: a line without it is not governed


@dataclass
class DayLine:
    """One line in the day: its scenario module and how far its phases went."""

    name: str
    module: Any
    files: dict[str, list] = field(default_factory=dict)  # institution id -> its InputFiles
    next_phase: int = 0
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (institution, file name)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def phases(self) -> tuple[str, ...]:
        return tuple(self.module.PHASES)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.module.ROLES)

    @property
    def all_dropped(self) -> bool:
        return self.next_phase >= len(self.phases)

    @property
    def governed(self) -> bool:
        return hasattr(self.module, "govern")

    def govern(self, view: Any, manager: Any) -> None:
        """The line's governance by the operations office (`govern` of its scenario), if any."""
        if self.governed:
            self.module.govern(view, manager)

    def files_of(self, phase: str) -> list[tuple[str, Any]]:
        return [(i, f) for i, fs in self.files.items() for f in fs if f.phase == phase]


def agent_roles() -> set[str]:
    """Every role an agent line drives today (consortium.agent.lines.ROLE_CLASSES)."""
    from consortium.agent.lines import ROLE_CLASSES

    return {c.role for c in ROLE_CLASSES}


def playable(names: tuple[str, ...], roles: set[str]) -> tuple[list[DayLine], list[str]]:
    """The lines of `names` the day can play with agents driving `roles`, and why each other one
    is skipped."""
    played, skipped = [], []
    for name in (n for n in LINES if n in names):
        try:
            module = importlib.import_module(f"consortium.scenarios.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"consortium.scenarios.{name}":
                raise
            skipped.append(f"{name}: no scenario in this build, skipped")
            continue
        missing = [a for a in INTERFACE if not hasattr(module, a)]
        if missing:
            skipped.append(f"{name}: no agents yet (no input files in its scenario), skipped")
            continue
        absent = sorted(set(module.ROLES) - roles)
        if absent:
            skipped.append(f"{name}: no agents yet for {', '.join(absent)}, skipped")
            continue
        played.append(DayLine(name, module))
    return played, skipped


def agent_institutions(cfg: Any, lines: list[DayLine], roles: set[str]) -> list[str]:
    """The institutions that run an agent: each holding a role a played line's agents drive."""
    wanted = {r for line in lines for r in line.roles} & roles
    return [i.id for i in cfg.institutions if wanted & set(i.roles)]
