"""Summarising brownie's coverage report: branch coverage of the project's own contracts.

brownie's `build/reports/coverage.json` holds, per deployed contract, `branches` as
{"Contract.function": [true_hits, false_hits, branch_count]}: each branch has two outcomes, so a
contract's coverage is (true_hits + false_hits) / (2 * branch_count). Functions of OpenZeppelin
code inlined into our contracts and of test harnesses (contracts/testing/) are left out.
"""

from __future__ import annotations

import json
from pathlib import Path

from consortium.chain import ROOT


def _own_contract_names(build_dir: Path) -> set[str]:
    names = set()
    for artefact in (build_dir / "contracts").glob("*.json"):
        data = json.loads(artefact.read_text())
        src = data.get("sourcePath", "")
        if src.startswith("contracts/") and not src.startswith("contracts/testing/"):
            names.add(data["contractName"])
    return names


def branch_coverage(report: Path, build_dir: Path) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """{contract: (outcomes hit, outcomes total)} over our own functions, and the grand total."""
    own = _own_contract_names(build_dir)
    cov = json.loads(report.read_text())["coverage"]
    seen: dict[str, tuple[int, int, int]] = {}  # fn -> best (true, false, total) across deployments
    for per_contract in cov.values():
        for fn, (true, false, total) in per_contract["branches"].items():
            if fn.split(".")[0] not in own or not total:
                continue
            prev = seen.get(fn)
            if prev is None or true + false > prev[0] + prev[1]:
                seen[fn] = (true, false, total)
    by_contract: dict[str, tuple[int, int]] = {}
    for fn, (true, false, total) in seen.items():
        c = fn.split(".")[0]
        hit, tot = by_contract.get(c, (0, 0))
        by_contract[c] = (hit + true + false, tot + 2 * total)
    hit = sum(h for h, _ in by_contract.values())
    tot = sum(t for _, t in by_contract.values())
    return by_contract, (hit, tot)


def summarise(path: str | Path) -> int:
    """Print per-contract branch coverage; the last line states the total percentage."""
    by_contract, (hit, tot) = branch_coverage(Path(path), ROOT / "build")
    for contract, (h, t) in sorted(by_contract.items()):
        print(f"{contract:36} {h:5}/{t:<5} {100 * h / t:6.1f}%")
    pct = 100 * hit / tot if tot else 0.0
    print(f"branch coverage: {pct:.1f}% ({hit}/{tot} branch outcomes of the project's contracts)")
    return 0
