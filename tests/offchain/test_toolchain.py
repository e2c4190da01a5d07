"""The toolchain the project installs is the one it claims: npm solc behind the shim, OZ 5.4.0,
shanghai for both chains, and brownie running from its pure-Python sources (the mypyc builds of
stateful.py and coverage.py fail in 1.22.2; tools/setup.sh removes them)."""

import json
import subprocess

import brownie.test.coverage
import brownie.test.stateful
from brownie._config import CONFIG

from consortium.chain import ROOT


def test_brownie_runs_from_source_not_mypyc():
    assert brownie.test.stateful.__file__.endswith(".py")
    assert brownie.test.coverage.__file__.endswith(".py")


def test_compiler_shim_matches_npm_solc_and_config():
    npm = json.loads((ROOT / "node_modules/solc/package.json").read_text())["version"]
    assert CONFIG.settings["compiler"]["solc"]["version"] == npm
    out = subprocess.run(
        [str(ROOT / f".solcx/solc-v{npm}"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"Version: {npm}+commit." in out.stdout


def test_compiler_shim_compiles_standard_json_with_oz_imports():
    src = 'import "@openzeppelin/contracts/utils/math/Math.sol"; contract T { function f() external pure returns (uint) { return Math.max(1, 2); } }'
    req = {
        "language": "Solidity",
        "sources": {
            "T.sol": {"content": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n" + src}
        },
        "settings": {
            "evmVersion": "shanghai",
            "remappings": ["@openzeppelin=node_modules/@openzeppelin"],
            "outputSelection": {"*": {"*": ["evm.bytecode.object"]}},
        },
    }
    npm = json.loads((ROOT / "node_modules/solc/package.json").read_text())["version"]
    out = subprocess.run(
        [str(ROOT / f".solcx/solc-v{npm}"), "--standard-json", "--allow-paths", str(ROOT)],
        input=json.dumps(req),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    result = json.loads(out.stdout)
    assert not [e for e in result.get("errors", []) if e["severity"] == "error"], result.get(
        "errors"
    )
    code = result["contracts"]["T.sol"]["T"]["evm"]["bytecode"]["object"]
    assert len(code) > 100  # compiled bytecode present


def test_pins_openzeppelin_540_and_shanghai_everywhere():
    oz = json.loads((ROOT / "node_modules/@openzeppelin/contracts/package.json").read_text())[
        "version"
    ]
    assert oz == "5.4.0"  # 5.5+ uses mcopy (cancun), which ganache 7.9 cannot run
    assert CONFIG.settings["compiler"]["evm_version"] == "shanghai"
    for net in ("development", "ganache-local"):
        assert CONFIG.networks[net]["cmd_settings"]["evm_version"] == "shanghai"


def test_local_chains_get_a_free_port_not_8545():
    ports = {CONFIG.networks[n]["cmd_settings"]["port"] for n in ("development", "ganache-local")}
    assert 8545 not in ports


def test_free_port__below_the_ephemeral_range_free_and_never_one_in_use():
    import socket

    from consortium.localchain import FREE_PORTS_FROM, _ephemeral_low, free_port

    low = _ephemeral_low()
    ports = {free_port() for _ in range(50)}
    assert all(FREE_PORTS_FROM <= p < low for p in ports) and len(ports) > 40  # drawn at random
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))  # an outgoing connection's kind of port, in the range
        assert held.getsockname()[1] >= low
        busy = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(3)]
        try:
            for s, p in zip(busy, sorted(ports)):
                s.bind(("127.0.0.1", p))
            taken = {s.getsockname()[1] for s in busy}
            assert not taken & {free_port() for _ in range(200)}
        finally:
            for s in busy:
                s.close()


def test_automines__local_chains_yes__besu_and_others_never_nudged():
    from consortium.localchain import automines

    assert automines("anvil/v1.7.1") and automines("Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2")
    assert not automines("besu/v24.12.2/linux-x86_64/openjdk-java-21")
    assert not automines("Geth/v1.14.0-stable/linux-amd64/go1.22.2")
