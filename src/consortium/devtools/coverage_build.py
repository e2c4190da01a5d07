"""pytest plugin of `make coverage` (`-p consortium.devtools.coverage_build`):
what brownie needs to measure.

1. Unoptimized bytecode. brownie registers a branch only where an opcode mapped to the condition's
   source precedes a JUMPI. With solc's optimizer on, 35 of our 327 traceable conditions (mostly
   `x == bytes32(0)` and a plain `if (flag)`) compile without such an opcode and silently drop out
   of brownie's count (292 registered); without the optimizer all 327 are (the 2 conditions of
   constructors are never traced). So coverage compiles the contracts unoptimized into
   build/coverage/ (the optimized build/ that tests, demo and benchmark use stays as it is) and runs
   them on an anvil without the EIP-170 size limit: unoptimized BillToken and SettlementEngine are
   over 24 KiB.
2. Immutables. brownie keeps a deployed contract's program-counter map only if the code on chain
   equals the build's `deployedBytecode`; solc leaves each immutable there as a PUSH32 of zeros,
   filled in by the constructor, so for every contract with an immutable (all that inherit
   ConsortiumManaged: its `registry`) brownie drops the map and records no coverage at all. The
   check here also accepts code that differs from the build only inside those placeholders.
3. Traces without memory. brownie asks anvil for every step's full memory, which it needs only to
   decode return values, revert data and subcall arguments. A 16-trade upload of unoptimized
   SettlementEngine is ~300k steps each carrying its memory: 4.5 GB for one transaction, so the
   upload tests were killed at 24 GB. Branch coverage needs each step's pc, depth and stack only, so
   traces are fetched without memory; the last step gets back the one piece brownie reads there
   (the transaction's return or revert data, which anvil also returns whole as `returnValue`), so
   `return_value`, `revert_msg` and `brownie.reverts` behave as before. What is lost is the decoded
   arguments, return values and revert reasons of internal calls in `tx.call_trace()`, which
   coverage runs do not look at (and the reason of a transaction that ends without RETURN or
   REVERT, out of gas or INVALID, where brownie reads it from an inner REVERT). `make coverage`
   runs anvil; ganache ignores `enableMemory` and sends memory anyway, which is then kept.

Only loaded by `make coverage`; brownie 1.22.2 is pinned, and
tests/offchain/test_coverage_summary.py checks what apply() changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from brownie._config import CONFIG
from brownie.network import contract as _contract
from brownie.network import transaction as _transaction
from brownie.network.web3 import web3
from brownie.project import main as _project_main

BUILD_DIR = "build/coverage"
NO_SIZE_LIMIT = "--disable-code-size-limit"
PUSH1, PUSH32 = 0x60, 0x7F

_compiler_config = _project_main._load_project_compiler_config
_structure_config = _project_main._load_project_structure_config
_verify_deployed_code = _contract._verify_deployed_code


def _unoptimized_compiler_config(project_path: Path | None) -> dict:
    config = _compiler_config(project_path)
    config["solc"]["optimizer"] = {"enabled": False, "runs": 200}
    return config


def _coverage_structure_config(project_path: Path) -> dict:
    structure = _structure_config(project_path)
    structure["build"] = BUILD_DIR
    # brownie creates only the last folder of the build path, and a fresh clone has no build/ yet
    # (brownie also asks about every folder above a test file while it looks for the project)
    if (Path(project_path) / "brownie-config.yaml").is_file():
        (Path(project_path) / BUILD_DIR).parent.mkdir(parents=True, exist_ok=True)
    return structure


def _without_metadata(code: bytes) -> bytes:
    """solc's code ends with CBOR metadata whose length is the last two bytes."""
    if len(code) < 2:
        return code
    return code[: -(int.from_bytes(code[-2:], "big") + 2)]


def immutable_slots(code: bytes) -> list[int]:
    """Offsets of the 32 bytes after each PUSH32 of zeros:
    where solc leaves an immutable's value."""
    slots, pc = [], 0
    while pc < len(code):
        op = code[pc]
        if PUSH1 <= op <= PUSH32:
            if op == PUSH32 and not any(code[pc + 1 : pc + 33]):
                slots.append(pc + 1)
            pc += op - PUSH1 + 1
        pc += 1
    return slots


def same_code_but_immutables(actual: bytes, expected: bytes) -> bool:
    """Whether deployed `actual` is the build's `expected` with only immutables filled in."""
    actual, expected = _without_metadata(actual), _without_metadata(expected)
    if len(actual) != len(expected):
        return False
    masked = bytearray(actual)
    for start in immutable_slots(expected):
        masked[start : start + 32] = bytes(32)
    return bytes(masked) == expected


def _verify_with_immutables(address, expected_bytecode, language) -> bool:
    if _verify_deployed_code(address, expected_bytecode, language):
        return True
    if language != "Solidity" or "_" in expected_bytecode:  # unlinked libraries: brownie's rule
        return False
    expected = bytes.fromhex(expected_bytecode.removeprefix("0x"))
    return same_code_but_immutables(bytes(web3.eth.get_code(address)), expected)


WORD = 64  # hex digits in a 32-byte memory word


def end_memory(step: dict, data_hex: str) -> list[str]:
    """Memory words under which brownie's `_get_memory(step, -1)` reads `data_hex`: the RETURN or
    REVERT `step` names the data by offset (stack top) and length (next)."""
    offset = int(step["stack"][-1], 16)
    image = "00" * offset + data_hex.removeprefix("0x")
    image += "0" * (-len(image) % WORD)
    return [image[i : i + WORD] for i in range(0, len(image), WORD)]


def lean_trace(result: dict) -> dict:
    """Fill in the `memory` brownie expects on every step of a trace fetched without it."""
    steps = result.get("structLogs") or []
    if not steps or "memory" in steps[0]:  # a node that sent memory anyway (ganache) loses nothing
        return result
    for step in steps:
        step["memory"] = []
    data = result.get("returnValue") or ""
    if data not in ("", "0x") and steps[-1]["op"] in ("RETURN", "REVERT"):
        steps[-1]["memory"] = end_memory(steps[-1], data)
    return result


class _Proxy:
    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _LeanProvider(_Proxy):
    def make_request(self, method, params):
        if method != "debug_traceTransaction":
            return self._inner.make_request(method, params)
        txid, options = params
        response = self._inner.make_request(method, (txid, {**options, "enableMemory": False}))
        if "result" in response:
            lean_trace(response["result"])
        return response


class _LeanTraceWeb3(_Proxy):
    """brownie's web3 as transaction.py sees it, but asking for traces without memory."""

    @property
    def provider(self):
        return _LeanProvider(self._inner.provider)


def apply() -> None:
    """Point brownie's project loading and its local anvil at the coverage build, let it keep the
    program-counter map of contracts with immutables, and trace without memory (idempotent)."""
    _project_main._load_project_compiler_config = _unoptimized_compiler_config
    _project_main._load_project_structure_config = _coverage_structure_config
    _contract._verify_deployed_code = _verify_with_immutables
    if not isinstance(_transaction.web3, _LeanTraceWeb3):
        _transaction.web3 = _LeanTraceWeb3(web3)
    anvil = CONFIG.networks["development"]
    if NO_SIZE_LIMIT not in anvil["cmd"].split():
        anvil["cmd"] = f"{anvil['cmd']} {NO_SIZE_LIMIT}"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config) -> None:
    """Before brownie's own hook of the same name loads (and compiles) the project."""
    apply()


COVERAGE_EXAMPLES = 3  # hypothesis examples per property test under coverage


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items) -> None:
    """Property tests run COVERAGE_EXAMPLES examples each here: tracing every transaction makes an
    example about 20x slower (SettlementEngine's random days alone ran past 40 minutes), and
    coverage asks which outcomes are taken, not how deep the search goes (`make test` runs them
    all)."""
    from consortium.devtools.examples import cap_items

    cap_items(items, lambda n: min(n, COVERAGE_EXAMPLES))
