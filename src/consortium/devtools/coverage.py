"""Summarising brownie's coverage report: branch coverage of the project's own contracts.

Every branch (a condition of an `if`, `require` or `?:`, split at `&&` and `||`) has two outcomes.
The denominator is every branch of our contracts' sources in the build's coverage maps, including
those of a contract no test deployed; the numerator, the outcomes brownie's report
(`reports/coverage.json`, its `highlights`) saw taken by any deployed contract. A branch is counted
once per source position, so code inlined into several contracts (ConsortiumManaged, the
libraries) counts once, covered if any of them took the outcome; several reports measured on the
same build (runs of different test sets) unite the same way. OpenZeppelin code and test or
benchmark harnesses (any `testing/` folder) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from consortium.chain import ROOT

# brownie's highlight colours: which outcomes of the condition were seen
_SEEN = {"green": {True, False}, "yellow": {True}, "orange": {False}, "red": set()}


@dataclass
class Branch:
    """One condition of our source: where it is, the function it sits in, the outcomes taken."""

    source: str
    start: int
    stop: int
    function: str
    seen: set[bool] = field(default_factory=set)

    @property
    def contract(self) -> str:
        return self.function.split(".")[0]


def _own(source: str) -> bool:
    return source.startswith("contracts/") and "/testing/" not in source


def _artefacts(build_dir: Path) -> dict[str, dict]:
    return {
        a.stem: json.loads(a.read_text()) for a in sorted((build_dir / "contracts").glob("*.json"))
    }


Reports = Path | str | Sequence[Path | str]


def branches(reports: Reports, build_dir: Path) -> list[Branch]:
    """Every branch of our sources, with the outcomes any deployment of any report took,
    in order."""
    artefacts = _artefacts(build_dir)
    found: dict[tuple[str, int, int], Branch] = {}
    for art in artefacts.values():
        paths = art.get("allSourcePaths", {})
        for path_id, fns in art.get("coverageMap", {}).get("branches", {}).items():
            source = paths.get(path_id, "")
            if not _own(source):
                continue
            for fn, by_pc in fns.items():
                for start, stop, _jump in by_pc.values():
                    found.setdefault((source, start, stop), Branch(source, start, stop, fn))
    for report in [reports] if isinstance(reports, (str, Path)) else reports:
        highlights = json.loads(Path(report).read_text())["highlights"]["branches"]
        for contract, by_path in highlights.items():
            paths = artefacts.get(contract, {}).get("allSourcePaths", {})
            for path_id, marks in by_path.items():
                source = paths.get(path_id, "")
                for start, stop, colour, *_ in marks:
                    branch = found.get((source, start, stop))
                    if branch is not None:
                        branch.seen |= _SEEN[colour]
    return sorted(found.values(), key=lambda b: (b.source, b.start))


def branch_coverage(
    reports: Reports, build_dir: Path
) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """{contract: (outcomes hit, outcomes total)} over our own sources, and the grand total."""
    by_contract: dict[str, tuple[int, int]] = {}
    for b in branches(reports, build_dir):
        hit, tot = by_contract.get(b.contract, (0, 0))
        by_contract[b.contract] = (hit + len(b.seen), tot + 2)
    hit = sum(h for h, _ in by_contract.values())
    tot = sum(t for _, t in by_contract.values())
    return by_contract, (hit, tot)


def _negated(text: bytes, start: int) -> bool:
    """brownie marks the operand of a `!` but reports the outcomes of the negated condition."""
    return text[:start].rstrip(b" \t\n(").endswith(b"!")


def missing(reports: Reports, build_dir: Path, root: Path = ROOT) -> list[str]:
    """One line per branch with an outcome never taken: file:line function, outcome, condition."""
    lines = []
    for b in branches(reports, build_dir):
        if len(b.seen) == 2:
            continue
        text = (root / b.source).read_bytes()
        line = text[: b.start].count(b"\n") + 1
        outcome = f"never {str(not next(iter(b.seen))).lower()}" if b.seen else "never run"
        condition = " ".join(text[b.start : b.stop].decode().split())
        if _negated(text, b.start):
            condition = f"!({condition})"
        lines.append(f"{b.source}:{line} {b.function}: {outcome}: {condition}")
    return lines


def summarise(
    reports: Reports, build_dir: str | Path | None = None, show_missing: bool = False
) -> int:
    """Print per-contract branch coverage; the last line states the total percentage."""
    build = Path(build_dir) if build_dir is not None else ROOT / "build"
    if show_missing:
        for line in missing(reports, build):
            print(line)
    by_contract, (hit, tot) = branch_coverage(reports, build)
    for contract, (h, t) in sorted(by_contract.items()):
        print(f"{contract:36} {h:5}/{t:<5} {100 * h / t:6.1f}%")
    pct = 100 * hit / tot if tot else 0.0
    print(f"branch coverage: {pct:.1f}% ({hit}/{tot} branch outcomes of the project's contracts)")
    return 0
