"""Static analysis of the project's contracts with Slither, offline, through the project's compiler.

Runs in its own virtualenv (.venv-slither: Slither's pins conflict with brownie's). Slither's CLI
cannot hand a multi-file project to a standard-json-only compiler, so this compiles every contract
under contracts/ (test harnesses excluded) in one standard-json unit through crytic-compile's API,
with the py-solc-x shim as `solc`, then runs every detector.

Fails (exit 1) on any High or Medium finding, and on any Low finding not listed with a reason in
security/slither-accepted.yaml. Informational and optimisation findings are printed only.
Usage: .venv-slither/bin/python tools/slither_check.py [--list]
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import yaml
from crytic_compile import CryticCompile
from crytic_compile.platform.solc_standard_json import SolcStandardJson
from slither import Slither
from slither.detectors import all_detectors
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

ROOT = Path(__file__).resolve().parents[1]
ACCEPTED = ROOT / "security" / "slither-accepted.yaml"


def _solc() -> str:
    version = json.loads((ROOT / "node_modules/solc/package.json").read_text())["version"]
    return str(ROOT / ".solcx" / f"solc-v{version}")


def _sources() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "contracts").rglob("*.sol")
        if "testing" not in p.parts
    )


def _finding_key(result: dict) -> tuple[str, str]:
    """(check, first element's contract or name): stable across line moves."""
    first = result["elements"][0] if result["elements"] else {}
    parent = first.get("type_specific_fields", {}).get("parent", {})
    where = parent.get("name") or first.get("name", "")
    if first.get("type") == "function":
        where = f"{parent.get('name', '')}.{first.get('name', '')}"
    return result["check"], where


def main() -> int:
    import os

    os.chdir(ROOT)
    ssj = SolcStandardJson()
    for src in _sources():
        ssj.add_source_file(src)
    ssj.add_remapping("@openzeppelin=node_modules/@openzeppelin")
    compilation = CryticCompile(ssj, solc=_solc(), solc_args="--evm-version shanghai")
    slither = Slither(compilation, filter_paths=["node_modules"])
    for _name, cls in inspect.getmembers(all_detectors, inspect.isclass):
        if issubclass(cls, AbstractDetector) and cls is not AbstractDetector:
            slither.register_detector(cls)
    accepted = yaml.safe_load(ACCEPTED.read_text()) if ACCEPTED.exists() else []
    accepted_keys = {(a["check"], a["where"]) for a in accepted or []}
    failures, lows, infos, seen = [], [], 0, set()
    for results in slither.run_detectors():
        for r in results:
            if r["id"] in seen:  # a detector exported under two names reports twice
                continue
            seen.add(r["id"])
            if any("node_modules" in (e.get("source_mapping", {}) or {}).get("filename_relative", "")
                   for e in r["elements"][:1]):
                continue
            impact = r["impact"]
            key = _finding_key(r)
            line = f"[{impact}] {key[0]} @ {key[1]}: {r['description'].strip().splitlines()[0]}"
            if impact in ("High", "Medium"):
                failures.append(line)
            elif impact == "Low":
                (lows if key not in accepted_keys else []).append(line)
            else:
                infos += 1
            if "--list" in sys.argv:
                print(line)
    for line in failures + lows:
        print(line)
    print(f"slither: {len(failures)} high/medium, {len(lows)} unaccepted low, "
          f"{len(accepted_keys)} accepted low (security/slither-accepted.yaml), {infos} informational")
    return 1 if failures or lows else 0


if __name__ == "__main__":
    sys.exit(main())
