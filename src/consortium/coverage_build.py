"""pytest plugin of `make coverage` (`-p consortium.coverage_build`): measure unoptimized bytecode.

brownie registers a branch only where an opcode mapped to the condition's source precedes a JUMPI.
With solc's optimizer on, 37 of our 329 conditions (mostly `x == bytes32(0)` and a plain `if (flag)`)
compile without such an opcode and silently drop out of brownie's count (292 registered); without
the optimizer 327 are (the 2 left are constructor checks, which brownie never traces). So coverage
compiles the contracts unoptimized into build/coverage/ (the optimized build/ that tests, demo and
benchmark use stays as it is) and runs them on an anvil without the EIP-170 size limit: unoptimized
BillToken and SettlementEngine are over 24 KiB. Only loaded by `make coverage`; brownie 1.22.2 is
pinned, and tests/offchain/test_coverage_summary.py checks what apply() changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from brownie._config import CONFIG
from brownie.project import main as _project_main

BUILD_DIR = "build/coverage"
NO_SIZE_LIMIT = "--disable-code-size-limit"

_compiler_config = _project_main._load_project_compiler_config
_structure_config = _project_main._load_project_structure_config


def _unoptimized_compiler_config(project_path: Path | None) -> dict:
    config = _compiler_config(project_path)
    config["solc"]["optimizer"] = {"enabled": False, "runs": 200}
    return config


def _coverage_structure_config(project_path: Path) -> dict:
    structure = _structure_config(project_path)
    structure["build"] = BUILD_DIR
    return structure


def apply() -> None:
    """Point brownie's project loading and its local anvil at the coverage build (idempotent)."""
    _project_main._load_project_compiler_config = _unoptimized_compiler_config
    _project_main._load_project_structure_config = _coverage_structure_config
    anvil = CONFIG.networks["development"]
    if NO_SIZE_LIMIT not in anvil["cmd"].split():
        anvil["cmd"] = f"{anvil['cmd']} {NO_SIZE_LIMIT}"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config) -> None:
    """Before brownie's own hook of the same name loads (and compiles) the project."""
    apply()
