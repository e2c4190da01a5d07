"""`make coverage`: the summary counts our sources' branches once each and every one of them (even in a
contract no test deployed), and the plugin measures an unoptimized build on a size-unlimited anvil,
keeping brownie's program-counter map of contracts with immutables.
"""

import json

import brownie
import pytest
from brownie._config import CONFIG
from brownie.network import contract as brownie_contract
from brownie.network import transaction as brownie_transaction
from brownie.network import web3
from brownie.network.transaction import TransactionReceipt, _get_memory
from brownie.project import main as project_main
from brownie.test import coverage as brownie_coverage

from consortium.chain import ROOT
from consortium.devtools import coverage_build
from consortium.devtools.coverage import branch_coverage, missing, summarise


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Some tests here deploy: the per-test revert that tests/offchain/conftest.py leaves out."""


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
    monkeypatch.setattr(
        brownie_contract, "_verify_deployed_code", coverage_build._verify_deployed_code
    )
    monkeypatch.setattr(brownie_transaction, "web3", brownie_transaction.web3)
    dev = CONFIG.networks["development"]
    monkeypatch.setitem(dev, "cmd", dev["cmd"])
    coverage_build.apply()
    coverage_build.apply()  # idempotent
    compiler = project_main._load_project_compiler_config(ROOT)
    assert compiler["solc"]["optimizer"]["enabled"] is False
    assert compiler["evm_version"] == "shanghai"  # everything else as configured
    assert project_main._load_project_structure_config(ROOT)["build"] == "build/coverage"
    assert dev["cmd"].split().count("--disable-code-size-limit") == 1
    assert brownie_contract._verify_deployed_code is coverage_build._verify_with_immutables
    assert isinstance(brownie_transaction.web3, coverage_build._LeanTraceWeb3)
    assert brownie_transaction.web3._inner is web3  # applied once, not wrapped twice


def test_branch_coverage__two_runs_on_one_build__united(tmp_path):
    report, build = _project(tmp_path)
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"highlights": {"branches": {"B": {"4": [Z + ["orange", ""]]}}}}))
    by_contract, total = branch_coverage([report, second], build)
    assert by_contract["B"] == (1, 2)
    assert total == (5, 8)


METADATA = bytes.fromhex("a2646970667358") + bytes(3) + (10).to_bytes(2, "big")  # 10 bytes + length
PLACEHOLDER = bytes([0x7F]) + bytes(32)  # PUSH32 0x00…00: an immutable before construction


def _code(*parts: bytes) -> bytes:
    return b"".join(parts) + METADATA


def test_immutable_slots__push32_of_zeros_only__push_data_skipped():
    # PUSH2 0x7f00 (push data that looks like a PUSH32 must not count), placeholder, PUSH32 of ones
    code = bytes([0x61, 0x7F, 0x00]) + PLACEHOLDER + bytes([0x7F]) + b"\x01" * 32 + bytes([0x00])
    assert coverage_build.immutable_slots(code) == [4]


def test_same_code_but_immutables__value_in_placeholder__accepted():
    built = _code(bytes([0x60, 0x80]), PLACEHOLDER, bytes([0x55]))
    deployed = _code(bytes([0x60, 0x80, 0x7F]) + b"\xab" * 32, bytes([0x55]))
    assert coverage_build.same_code_but_immutables(deployed, built)


def test_same_code_but_immutables__byte_changed_outside__refused():
    built = _code(bytes([0x60, 0x80]), PLACEHOLDER, bytes([0x55]))
    deployed = _code(bytes([0x60, 0x81, 0x7F]) + b"\xab" * 32, bytes([0x55]))
    longer = _code(bytes([0x60, 0x80]), PLACEHOLDER, bytes([0x55, 0x00]))
    assert not coverage_build.same_code_but_immutables(deployed, built)
    assert not coverage_build.same_code_but_immutables(longer, built)


def test_verify_with_immutables__deployed_managed_contract__matches_its_build(
    registry, registry_admin, AnnuityPlans, ConsortiumRegistry
):
    """brownie's own check refuses a contract whose immutable `registry` is set; ours accepts it,
    and still refuses the code of another contract."""
    plans = AnnuityPlans.deploy(registry, {"from": registry_admin})
    built = AnnuityPlans._build["deployedBytecode"]
    assert not coverage_build._verify_deployed_code(plans.address, built, "Solidity")
    assert coverage_build._verify_with_immutables(plans.address, built, "Solidity")
    other = ConsortiumRegistry._build["deployedBytecode"]
    assert not coverage_build._verify_with_immutables(plans.address, other, "Solidity")
    assert bytes(web3.eth.get_code(plans.address)) != bytes.fromhex(built)


def test_coverage_build_examples__property_tests_capped_others_untouched():
    from types import SimpleNamespace

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=50)
    @given(st.integers())
    def deep(x):
        pass

    @settings(max_examples=2)
    @given(st.integers())
    def shallow(x):
        pass

    def plain():
        pass

    items = [SimpleNamespace(obj=f) for f in (deep, shallow, plain)]
    coverage_build.pytest_collection_modifyitems(items)
    assert deep._hypothesis_internal_use_settings.max_examples == coverage_build.COVERAGE_EXAMPLES
    assert shallow._hypothesis_internal_use_settings.max_examples == 2
    assert not hasattr(plain, "_hypothesis_internal_use_settings")


def test_lean_trace__memory_sent_anyway__kept():
    steps = [
        {"op": "MSTORE", "stack": [], "memory": ["01" * 32]},
        {"op": "RETURN", "stack": ["0x20", "0x0"], "memory": ["01" * 32]},
    ]
    coverage_build.lean_trace({"structLogs": steps, "returnValue": ""})
    assert [s["memory"] for s in steps] == [["01" * 32], ["01" * 32]]


def test_end_memory__data_at_the_offset_the_step_names():
    step = {"stack": ["0x99", "0x5", "0x24"], "memory": []}  # REVERT(offset 0x24, length 5)
    step["memory"] = coverage_build.end_memory(step, "0x0102030405")
    assert all(len(word) == 64 for word in step["memory"])
    assert bytes(_get_memory(step, -1)) == bytes.fromhex("0102030405")


def _traced(txid, w3, monkeypatch):
    """A fresh receipt of `txid` traced and expanded through `w3`: (its coverage, the receipt)."""
    monkeypatch.setattr(brownie_transaction, "web3", w3)
    tx = TransactionReceipt(txid, silent=True)
    tx._expand_trace()
    return brownie_coverage._coverage_eval.pop(tx.coverage_hash), tx


def test_lean_trace__same_coverage_return_value_and_revert_as_full_trace(
    monkeypatch, plans, trustee, stranger
):
    """Coverage runs trace without memory: every branch outcome brownie records, the return value
    and the decoded custom error are those of the full trace (a call through the registry, a
    revert raised inside the registry). On ganache, which sends memory regardless, nothing changes.
    """
    ok = plans.definePlan(
        b"LEAN".ljust(32, b"\0"),
        [b"A".ljust(32, b"\0")],
        [10_000],
        {"from": trustee.institution.account},
    )
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        plans.definePlan(
            b"LEAN".ljust(32, b"\0"), [b"A".ljust(32, b"\0")], [10_000], {"from": stranger}
        )
    refused = brownie.history[-1]
    lean = coverage_build._LeanTraceWeb3(web3)
    for txid in (ok.txid, refused.txid):
        full_cov, full = _traced(txid, web3, monkeypatch)
        lean_cov, thin = _traced(txid, lean, monkeypatch)
        assert lean_cov == full_cov and lean_cov  # some outcomes recorded, the same ones
        assert (thin.status, thin.return_value, thin.revert_msg) == (
            full.status,
            full.return_value,
            full.revert_msg,
        )
        assert [s["pc"] for s in thin._raw_trace] == [s["pc"] for s in full._raw_trace]
        if web3.client_version.lower().startswith("anvil"):  # the chain `make coverage` runs
            raw = web3.provider.make_request(
                "debug_traceTransaction", (txid, {"disableStorage": True, "enableMemory": False})
            )["result"]["structLogs"]
            assert not any("memory" in s for s in raw)  # memory was never fetched
            assert not any(s["memory"] for s in thin._raw_trace[:-1])
    assert thin.revert_msg.startswith("RegistryNotActiveMember")
    assert full_cov != _traced(ok.txid, lean, monkeypatch)[0]  # the two calls differ
