"""`make coverage`: the summary counts our sources' branches once each and every one of them (even in a
contract no test deployed), and the plugin measures an unoptimized build on a size-unlimited anvil.
"""

import json

from brownie._config import CONFIG
from brownie.project import main as project_main

from consortium import coverage_build
from consortium.chain import ROOT
from consortium.coverage import branch_coverage, missing, summarise

SOURCES = {
    "contracts/a/A.sol": "contract A { function f(bool x, uint y) { if (x) {} if (!(y > 1)) {} } }",
    "contracts/b/B.sol": "contract B { function k(uint z) { if (z == 0) revert(); } }",
    "contracts/libraries/L.sol": "library L { function h(uint v) { require(v != 0); } }",
}


def _at(source: str, text: str) -> list:
    start = SOURCES[source].index(text)
    return [start, start + len(text)]


X = _at("contracts/a/A.sol", "x")
Y = _at("contracts/a/A.sol", "y > 1")
Z = _at("contracts/b/B.sol", "z == 0")
V = _at("contracts/libraries/L.sol", "v != 0")


def _artefact(name, source, paths, branches):
    return {
        "contractName": name,
        "sourcePath": source,
        "allSourcePaths": paths,
        "coverageMap": {"branches": branches, "statements": {}},
    }


def _project(tmp_path):
    """A: deployed, L inlined; B: never deployed, L inlined too; an OpenZeppelin path; a harness."""
    for source, text in SOURCES.items():
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / source).write_text(text)
    oz = "node_modules/@openzeppelin/contracts/token/ERC20/ERC20.sol"
    arts = [
        _artefact(
            "A",
            "contracts/a/A.sol",
            {"0": "contracts/a/A.sol", "1": oz, "2": "contracts/libraries/L.sol"},
            {
                "0": {"A.f": {"10": X + [False], "11": Y + [False]}},
                "1": {"ERC20._update": {"12": [0, 5, True]}},
                "2": {"L.h": {"13": V + [True]}},
            },
        ),
        _artefact(
            "B",
            "contracts/b/B.sol",
            {"0": "contracts/libraries/L.sol", "4": "contracts/b/B.sol"},
            {"4": {"B.k": {"3": Z + [False]}}, "0": {"L.h": {"9": V + [True]}}},
        ),
        _artefact(
            "H",
            "contracts/settlement/testing/H.sol",
            {"0": "contracts/settlement/testing/H.sol"},
            {"0": {"H.run": {"1": [0, 4, False]}}},
        ),
    ]
    build = tmp_path / "build"
    (build / "contracts").mkdir(parents=True)
    for a in arts:
        (build / "contracts" / f"{a['contractName']}.json").write_text(json.dumps(a))
    report = {
        "highlights": {
            "statements": {},
            "branches": {
                "A": {
                    "0": [X + ["green", ""], Y + ["yellow", ""]],
                    "1": [[0, 5, "green", ""]],
                    "2": [V + ["orange", ""]],
                },
                "H": {"0": [[0, 4, "green", ""]]},
            },
        }
    }
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report))
    return path, build


def test_branch_coverage__own_sources_only__every_branch_counted_once(tmp_path):
    report, build = _project(tmp_path)
    by_contract, total = branch_coverage(report, build)
    # A.f: x both ways, y one way; B never deployed; L.h inlined twice but one branch, one outcome
    assert by_contract == {"A": (3, 4), "B": (0, 2), "L": (1, 2)}
    assert total == (4, 8)


def test_branch_coverage__outcomes_of_inlined_code__united_across_contracts(tmp_path):
    report, build = _project(tmp_path)
    data = json.loads(report.read_text())
    data["highlights"]["branches"]["B"] = {"0": [V + ["yellow", ""]]}
    report.write_text(json.dumps(data))
    by_contract, total = branch_coverage(report, build)
    assert by_contract["L"] == (2, 2) and by_contract["B"] == (0, 2)
    assert total == (5, 8)


def test_missing__each_outcome_never_taken__named_with_line_and_condition(tmp_path):
    report, build = _project(tmp_path)
    assert missing(report, build, root=tmp_path) == [
        "contracts/a/A.sol:1 A.f: never false: !(y > 1)",
        "contracts/b/B.sol:1 B.k: never run: z == 0",
        "contracts/libraries/L.sol:1 L.h: never true: v != 0",
    ]


def test_summarise__last_line__states_the_percentage(tmp_path, capsys):
    report, build = _project(tmp_path)
    assert summarise(report, build) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "branch coverage: 50.0% (4/8 branch outcomes of the project's contracts)"
    assert [line.split()[0] for line in lines[:-1]] == ["A", "B", "L"]


def test_coverage_build_apply__unoptimized_build_and_no_size_limit(monkeypatch):
    for name in ("_load_project_compiler_config", "_load_project_structure_config"):
        monkeypatch.setattr(project_main, name, getattr(project_main, name))  # restored afterwards
    dev = CONFIG.networks["development"]
    monkeypatch.setitem(dev, "cmd", dev["cmd"])
    coverage_build.apply()
    coverage_build.apply()  # idempotent
    compiler = project_main._load_project_compiler_config(ROOT)
    assert compiler["solc"]["optimizer"]["enabled"] is False
    assert compiler["evm_version"] == "shanghai"  # everything else as configured
    assert project_main._load_project_structure_config(ROOT)["build"] == "build/coverage"
    assert dev["cmd"].split().count("--disable-code-size-limit") == 1


def test_branch_coverage__two_runs_on_one_build__united(tmp_path):
    report, build = _project(tmp_path)
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"highlights": {"branches": {"B": {"4": [Z + ["orange", ""]]}}}}))
    by_contract, total = branch_coverage([report, second], build)
    assert by_contract["B"] == (1, 2)
    assert total == (5, 8)
