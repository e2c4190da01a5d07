"""The chain brownie launches for a run (tests, bench, the in-process demo) keeps what it writes to
this run: anvil's cache of historical states goes to the run's own folder, removed at exit, not to
~/.foundry/anvil/tmp, which nothing cleans (brownie stops its chain with SIGKILL)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from brownie import network

from consortium.chain import ROOT, _anvil_cache
from consortium.localchain import ANVIL_HISTORY


@pytest.mark.skipif("network.show_active() != 'development'", reason="anvil's own cache")
def test_launched_anvil__caches_its_states_in_this_run_s_folder():
    leader = network.rpc.process
    commands = [p.cmdline() for p in [leader, *leader.children(recursive=True)]]
    paths = [c[c.index("--cache-path") + 1] for c in commands if "--cache-path" in c]
    assert paths and set(paths) == {_anvil_cache()}
    assert _anvil_cache() == _anvil_cache()  # one folder per process, whatever calls it again


@pytest.mark.skipif("network.show_active() != 'development'", reason="anvil's own history")
def test_launched_anvil__keeps_its_recent_states_in_memory_only():
    leader = network.rpc.process
    commands = [p.cmdline() for p in [leader, *leader.children(recursive=True)]]
    kept = {c[c.index("--prune-history") + 1] for c in commands if "--prune-history" in c}
    assert kept == {str(ANVIL_HISTORY)}
    # a recent block's state still answers (a failed transaction's reason is read there)
    before = network.web3.eth.block_number
    network.web3.provider.make_request("evm_mine", [])
    assert network.web3.eth.get_balance(network.accounts[0].address, before) > 0


def test_anvil_cache__removed_when_its_process_exits():
    code = (
        "from pathlib import Path; from consortium.chain import _anvil_cache; "
        "p = Path(_anvil_cache()); (p / 'state-0x01').write_text('{}'); print(p)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    folder = done.stdout.strip().splitlines()[-1]
    assert "consortium-anvil-" in folder
    assert not Path(folder).exists()


def test_ask_chain_id_once__the_node_is_asked_once_and_other_reads_still_go_through(monkeypatch):
    import brownie

    from consortium.chain import ask_chain_id_once

    provider = brownie.web3.provider
    for attr in (
        "cacheable_requests",
        "cache_allowed_requests",
        "request_cache_validation_threshold",
    ):
        monkeypatch.setattr(provider, attr, getattr(provider, attr))  # restored after the test
    # as a fresh connection: an agent run in this worker earlier may have cached it already
    provider.cache_allowed_requests = False
    asked = []
    monkeypatch.setattr(
        provider,
        "_make_request",
        lambda method, data, f=provider._make_request: asked.append(method) or f(method, data),
    )
    chain_id = brownie.web3.eth.chain_id
    assert brownie.web3.eth.chain_id == chain_id
    assert asked.count("eth_chainId") == 2  # without the cache: every call asks
    ask_chain_id_once()
    heights = [brownie.web3.eth.block_number for _ in range(2)]
    ids = {brownie.web3.eth.chain_id for _ in range(3)}
    assert ids == {chain_id}
    # at most the first call after it asks (none when an agent run earlier in this worker filled
    # the provider's cache already), never the next ones
    assert asked.count("eth_chainId") - 2 <= 1
    assert asked.count("eth_blockNumber") == 2 and heights[0] <= heights[1]


def test_drop_dead_caches__a_killed_process_s_folder_removed_a_living_one_s_kept(tmp_path):
    import os
    import tempfile

    from consortium.chain import _drop_dead_caches

    code = "import os; print(os.getpid())"
    gone = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    dead = Path(tempfile.mkdtemp(prefix=f"consortium-anvil-{gone.stdout.strip()}-"))
    (dead / "state-0x01").write_text("{}")  # as a SIGKILLed run leaves it
    living = Path(tempfile.mkdtemp(prefix=f"consortium-anvil-{os.getppid()}-"))
    try:
        _drop_dead_caches()
        assert not dead.exists() and living.exists()
    finally:
        shutil.rmtree(living, ignore_errors=True)
        shutil.rmtree(dead, ignore_errors=True)
