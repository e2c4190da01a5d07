"""The agent runtime without a chain: settings, home, the follower's cursor, decisions, the CLI.

The follower runs over a fake node (blocks of logs in memory) and a fake decoder, so cursor moves,
replays after a kill and retried handlers are checked exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account

from consortium.agent.decisions import DecisionAnswered, Decisions, UnknownDecision
from consortium.agent.follower import FAILED_KIND, MAX_ATTEMPTS, Follower
from consortium.agent.home import AgentHome, HomeExists, init_home
from consortium.agent.settings import SettingsError, load_settings
from consortium.dayrun.launcher import start_agent
from consortium.keys import Keystore
from consortium.store import Store

ROOT = Path(__file__).resolve().parents[2]
CONSORTIUM = str(ROOT / "config" / "consortium.yaml")
PASS = "runtime test passphrase"


@pytest.fixture(autouse=True)
def isolation():
    """No chain is used here."""
    yield


def _settings(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "agent.yaml").write_text(text)
    return home


# ------------------------------------------------------------------ settings
def test_load_settings__full_file__typed_and_resolved(tmp_path):
    home = _settings(
        tmp_path / "a",
        f"institution: trustee\nconsortium: {CONSORTIUM}\nrpc: http://127.0.0.1:8545\n"
        "poll_seconds: 0.5\ndecisions: {contribution_review: queue}\n"
        "limits: {contribution_max_total: 1000}\nannuity: {batch_size: 3}\n"
        "addresses: {trustee: '0x" + "ab" * 20 + "'}\n",
    )
    s = load_settings(home)
    assert (s.institution, s.rpc, s.poll_seconds) == ("trustee", "http://127.0.0.1:8545", 0.5)
    assert s.consortium == Path(CONSORTIUM) and s.keystore == home.resolve() / "keystore.json"
    assert s.store_url == f"sqlite:///{home.resolve() / 'store.sqlite'}"
    assert s.decision_mode("contribution_review") == "queue" and s.decision_mode("x") == "auto"
    assert s.line("annuity") == {"batch_size": 3} and s.line("bills") == {}
    assert s.limits == {"contribution_max_total": 1000}


@pytest.mark.parametrize(
    "body, words",
    [
        ("consortium: c.yaml\n", ["'institution' is missing"]),
        ("institution: t\nconsortium: c.yaml\nnetwrok: x\n", [":3:", "unknown setting 'netwrok'"]),
        ("institution: t\nconsortium: c.yaml\npoll_seconds: fast\n", [":3:", "poll_seconds"]),
        ("institution: t\nconsortium: c.yaml\npoll_seconds: 0\n", ["must be > 0"]),
        ("institution: t\nconsortium: c.yaml\ndecisions: {x: maybe}\n", ["auto or queue"]),
        ("institution: t\nconsortium: c.yaml\nlimits: {x: -1}\n", ["limit 'x'"]),
        ("institution: t\nconsortium: c.yaml\naddresses: {t: '0x12'}\n", ["address of 't'"]),
        ("institution: t\ninstitution: u\nconsortium: c.yaml\n", [":2:", "duplicate key"]),
        ("- a\n- b\n", ["expected a mapping"]),
    ],
)
def test_load_settings__bad_file__refused_naming_line_and_problem(tmp_path, body, words):
    home = _settings(tmp_path / "a", body)
    with pytest.raises(SettingsError) as err:
        load_settings(home)
    for w in words:
        assert w in str(err.value)


def test_load_settings__no_file__says_how_to_make_one(tmp_path):
    with pytest.raises(SettingsError, match="consortium agent init"):
        load_settings(tmp_path)


# ------------------------------------------------------------------ home
def test_init_home__import__folders_settings_and_keystore_without_plaintext(tmp_path):
    key = "0x" + "11" * 32
    home = AgentHome(tmp_path / "trustee")
    address = init_home(home, "trustee", CONSORTIUM, PASS, key, 2**4, rpc="http://x:1", store=None)
    assert address == Account.from_key(key).address
    assert all((home.path / f).is_dir() for f in ("inbox", "done", "rejected", "outbox"))
    assert load_settings(home.path).rpc == "http://x:1"
    assert Keystore(home.keystore).unlock(PASS).address == address
    for p in home.path.rglob("*"):
        if p.is_file():
            assert "11" * 32 not in p.read_text()
    with pytest.raises(HomeExists):
        init_home(home, "trustee", CONSORTIUM, PASS, key, 2**4)


def test_home_lock__second_process__refused_with_the_holder(tmp_path):
    home = AgentHome(tmp_path / "h")
    held = home.lock()
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from consortium.agent.home import AgentHome, HomeLocked\n"
        "try:\n AgentHome(__import__('pathlib').Path(sys.argv[1])).lock()\n"
        "except HomeLocked as e:\n print(e); sys.exit(3)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(home.path), str(ROOT / "src")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 3 and f"pid {os.getpid()}" in other.stdout
    held.close()
    home.lock().close()  # free again once the holder is gone


# ------------------------------------------------------------------ follower
ADDR = "0x" + "cc" * 20
OTHER = "0x" + "dd" * 20


def _topic(name: str) -> str:
    return "0x" + name.encode().ljust(32, b"\0").hex()


@dataclass
class FakeNode:
    """A node's JSON-RPC over blocks of logs in memory: filters by address and topic0 as a node
    does, answers hex quantities, and keeps every request it got."""

    blocks: dict[int, list[dict]] = field(default_factory=dict)
    block_number: int = 0
    calls: list = field(default_factory=list)

    def make_request(self, method, params):
        self.calls.append((method, params))
        if method == "eth_blockNumber":
            return {"result": hex(self.block_number)}
        (flt,) = params
        end = self.block_number if flt["toBlock"] == "latest" else int(flt["toBlock"], 16)
        addresses = flt["address"] if isinstance(flt["address"], list) else [flt["address"]]
        (topic0s,) = flt["topics"]
        logs = [
            log
            for b in range(int(flt["fromBlock"], 16), end + 1)
            for log in self.blocks.get(b, [])
            if log["address"] in addresses and log["topics"][0] in topic0s
        ]
        return {"result": logs}

    @property
    def log_queries(self):
        return [params[0] for method, params in self.calls if method == "eth_getLogs"]


@dataclass
class FakeW3:
    provider: FakeNode


class Decoded(dict):
    name = ""


DECODED = []  # every log fake_decode was given


def fake_decode(logs):
    out = []
    for log in logs:
        DECODED.append(log)
        ev = Decoded(value=int(log["data"], 16))
        ev.name = bytes.fromhex(log["topics"][0][2:]).rstrip(b"\0").decode().split("(")[0]
        out.append(ev)
    return out


def _log(block: int, index: int, name: str, value: int, address: str = ADDR) -> dict:
    return {
        "blockNumber": hex(block),
        "logIndex": hex(index),
        "address": address,
        "topics": [_topic(name)],
        "data": hex(value),
        "transactionHash": "0x" + f"{block:02x}{index:02x}".rjust(64, "0"),
        "blockHash": "0x" + f"{block:02x}".rjust(64, "0"),
    }


TOPICS = {name: {_topic(name)} for name in ("A", "B", "Other")}


def _follower(store, eth, start=5, addresses=(ADDR,), topics=None):
    return Follower(
        store, FakeW3(eth), list(addresses), fake_decode, topics or TOPICS, start_block=start
    )


def test_follower__new_blocks__dispatched_in_chain_order_once_and_cursor_persisted():
    store, eth = Store(), FakeNode(block_number=7)
    eth.blocks = {6: [_log(6, 1, "B", 2), _log(6, 0, "A", 1)], 7: [_log(7, 0, "Other", 9)]}
    seen = []
    f = _follower(store, eth)
    f.on("A", lambda ev: seen.append(("A", ev["value"], ev.block)))
    f.on("B", lambda ev: seen.append(("B", ev["value"], ev.block)))
    assert f.cursor == 4  # nothing seen: starts at the deployment block
    assert f.poll() == 2 and seen == [("A", 1, 6), ("B", 2, 6)]
    assert f.cursor == 7 and f.poll() == 0 and len(seen) == 2  # nothing twice
    eth.blocks[8] = [_log(8, 0, "A", 3)]
    eth.block_number = 8
    again = _follower(store, eth)  # a restarted agent: the cursor comes from the store
    again.on("A", lambda ev: seen.append(("A", ev["value"], ev.block)))
    assert again.poll() == 1 and seen[-1] == ("A", 3, 8)


def test_follower__killed_inside_a_range__replays_it_and_flush_runs_before_the_cursor_moves():
    store, eth = Store(), FakeNode(block_number=6)
    eth.blocks = {6: [_log(6, 0, "A", 1)]}
    f = _follower(store, eth)
    f.on("A", lambda ev: None)

    def killed():
        raise SystemExit("killed")

    f.after_range(killed)
    with pytest.raises(SystemExit):
        f.poll()
    assert f.cursor == 4  # the range is replayed by the next process
    seen = []
    g = _follower(store, eth)
    g.on("A", lambda ev: seen.append(ev.block))
    g.after_range(lambda: seen.append("flush"))
    g.poll()
    assert seen == [6, "flush"] and g.cursor == 6


def test_follower__failing_handler__others_go_on_and_it_is_retried_until_it_passes():
    store, eth = Store(), FakeNode(block_number=6)
    eth.blocks = {6: [_log(6, 0, "A", 1), _log(6, 1, "A", 2)]}
    calls, ok = [], []
    fail = {"left": 2}

    def flaky(ev):
        calls.append(ev["value"])
        if ev["value"] == 1 and fail["left"]:
            fail["left"] -= 1
            raise RuntimeError("node hiccup")

    f = _follower(store, eth)
    f.on("A", flaky)
    f.on("A", lambda ev: ok.append(ev["value"]))
    f.poll()
    assert calls == [1, 2] and ok == [1, 2] and f.cursor == 6
    (row,) = store.all(FAILED_KIND).values()
    assert (row["status"], row["attempts"]) == ("retry", 1)
    f.poll()  # retried: fails again
    f.poll()  # retried: passes
    assert calls == [1, 2, 1, 1] and ok == [1, 2]
    assert [r["status"] for r in store.all(FAILED_KIND).values()] == ["done"]
    f.poll()
    assert calls == [1, 2, 1, 1]


def test_follower__failing_handler_on_brownie_args__kept_for_retry_not_crashing():
    """A handler failing on an event whose args brownie decoded (HexString for bytes32: a deep
    copy of it raises TypeError) is kept for a retry, args as hex, and the agent goes on."""
    from brownie.convert.datatypes import HexString

    from consortium.agent.follower import ChainEvent

    store = Store()
    f = _follower(store, FakeNode(block_number=6))
    cycle = HexString(b"SETTLE".ljust(32, b"\0"), "bytes32")
    ev = ChainEvent("Reconciled", {"cycleId": cycle, "n": 2}, ADDR, 6, "0x01", 0)

    def fails(_ev):
        raise RuntimeError("revert: SettlementChargesMismatch")

    assert f._run(fails, ev, attempts=0) is False
    (row,) = store.all(FAILED_KIND).values()
    assert row["status"] == "retry" and row["event"]["args"] == {
        "cycleId": "0x" + bytes(cycle).hex(),
        "n": 2,
    }


def test_follower__handler_always_failing__given_up_after_max_attempts():
    store, eth = Store(), FakeNode(block_number=6)
    eth.blocks = {6: [_log(6, 0, "A", 1)]}
    f = _follower(store, eth)
    count = []
    f.on("A", lambda ev: count.append(1) or (_ for _ in ()).throw(ValueError("refused")))
    for _ in range(MAX_ATTEMPTS + 3):
        f.poll()
    assert len(count) == MAX_ATTEMPTS
    (row,) = store.all(FAILED_KIND).values()
    assert row["status"] == "given-up" and row["attempts"] == MAX_ATTEMPTS


def test_follower__history__every_event_of_a_topic_since_the_start_block():
    eth = FakeNode(block_number=9, blocks={4: [_log(4, 0, "A", 0)], 5: [_log(5, 0, "A", 7)]})
    f = _follower(Store(), eth)
    (ev,) = f.history(ADDR, _topic("A"))
    assert (ev.name, ev["value"], ev.block) == ("A", 7, 5)


def test_follower__unhandled_event__never_asked_of_the_node_nor_decoded():
    store, node = Store(), FakeNode(block_number=7)
    node.blocks = {6: [_log(6, 0, "Other", 9), _log(6, 1, "A", 1)], 7: [_log(7, 0, "B", 2)]}
    seen = []
    f = _follower(store, node)
    f.on("A", lambda ev: seen.append(ev["value"]))
    DECODED.clear()
    assert f.poll() == 1 and seen == [1]
    (query,) = node.log_queries
    assert query["topics"] == [[_topic("A")]] and query["address"] == [ADDR]
    assert (query["fromBlock"], query["toBlock"]) == ("0x5", "0x7")
    assert [log["topics"][0] for log in DECODED] == [_topic("A")]


def test_follower__idle_poll__one_block_number_request_and_no_store_read(monkeypatch):
    store, node = Store(), FakeNode(block_number=6)
    f = _follower(store, node)
    f.on("A", lambda ev: None)
    f.poll()
    node.calls.clear()
    reads = []
    monkeypatch.setattr(store, "get", lambda *a: reads.append(a))
    monkeypatch.setattr(store, "all", lambda *a: reads.append(a) or {})
    assert f.poll() == 0 and f.poll() == 0
    assert node.calls == [("eth_blockNumber", [])] * 2 and reads == []


def test_follower__same_event_name_two_signatures__both_contracts_dispatched():
    paid_amount, paid_to = _topic("Paid(uint256)"), _topic("Paid(address)")
    node = FakeNode(block_number=6)
    node.blocks = {
        6: [_log(6, 0, "Paid(uint256)", 5), _log(6, 1, "Paid(address)", 7, address=OTHER)]
    }
    seen = []
    f = _follower(Store(), node, addresses=(ADDR, OTHER), topics={"Paid": {paid_amount, paid_to}})
    f.on("Paid", lambda ev: seen.append((ev.address.lower(), ev["value"])))
    assert f.poll() == 2 and seen == [(ADDR, 5), (OTHER, 7)]
    (query,) = node.log_queries
    assert query["topics"] == [sorted([paid_amount, paid_to])]


def test_follower__killed_in_a_handler_mid_range__that_range_replayed_earlier_ones_kept(
    monkeypatch,
):
    monkeypatch.setattr("consortium.agent.follower.MAX_RANGE", 2)
    store, node = Store(), FakeNode(block_number=8)
    node.blocks = {b: [_log(b, 0, "A", b)] for b in (5, 6, 7, 8)}
    seen = []

    def dies_at_7(ev):
        seen.append(ev.block)
        if ev.block == 7:
            raise SystemExit("killed")

    f = _follower(store, node)
    f.on("A", dies_at_7)
    with pytest.raises(SystemExit):
        f.poll()
    assert seen == [5, 6, 7] and f.cursor == 6  # blocks 5..6 done, 7..8 not
    again = _follower(store, node)
    again.on("A", lambda ev: seen.append(ev.block))
    assert again.poll() == 2 and seen[3:] == [7, 8] and again.cursor == 8


def test_follower__handler_for_an_event_no_contract_declares__refused():
    from consortium.agent.follower import UnknownEvent

    f = _follower(Store(), FakeNode())
    with pytest.raises(UnknownEvent, match="'Nope'"):
        f.on("Nope", lambda ev: None)
    assert f.handlers == {}


def test_follower__node_error__raised_and_cursor_kept():
    from consortium.agent.follower import NodeError

    class Refusing(FakeNode):
        def make_request(self, method, params):
            if method == "eth_getLogs":
                return {"error": {"code": -32005, "message": "query returned more than 10000"}}
            return super().make_request(method, params)

    f = _follower(Store(), Refusing(block_number=9))
    f.on("A", lambda ev: None)
    with pytest.raises(NodeError, match="eth_getLogs.*10000"):
        f.poll()
    assert f.cursor == 4


@pytest.mark.parametrize(
    "poll, active, waits",
    [
        (0.2, False, [0.4, 0.8, 1.0, 1.0]),  # still: doubling up to IDLE_SECONDS
        (0.2, True, [0.2, 0.2, 0.2, 0.2]),  # the chain moves or files come: poll_seconds
        (2.0, False, [2.0, 2.0, 2.0, 2.0]),  # a longer poll_seconds is never shortened
    ],
)
def test_agent_next_wait__idle_loops_back_off_to_a_bound(poll, active, waits):
    from types import SimpleNamespace

    from consortium.agent.base import Agent

    me = SimpleNamespace(settings=SimpleNamespace(poll_seconds=poll))
    wait, got = poll, []
    for _ in waits:
        wait = Agent.next_wait(me, wait, active)
        got.append(wait)
    assert got == waits


# ------------------------------------------------------------------ decisions
def test_decisions__queue_answer_act__once_each_and_visible_in_the_outbox(tmp_path):
    d = Decisions(Store(), tmp_path / "outbox")
    first = d.queue("contribution_review", "pay-1", {"total": 5})
    assert d.queue("contribution_review", "pay-1", {"total": 999}).subject == {"total": 5}
    assert json.loads((tmp_path / "outbox" / "decisions" / "pay-1.json").read_text())["status"] == (
        "queued"
    )
    assert [x.item for x in d.queued()] == ["pay-1"] and d.answered() == []
    answered = d.answer("pay-1", False, "amount unexplained")
    assert (answered.answer, answered.reason, answered.accepted) == (
        "reject",
        "amount unexplained",
        False,
    )
    with pytest.raises(DecisionAnswered):
        d.answer("pay-1", True, "changed my mind")
    with pytest.raises(UnknownDecision):
        d.answer("pay-2", True, "x")
    (todo,) = d.answered()
    d.acted(todo)
    assert d.answered() == [] and d.get("pay-1").status == "acted" and first.item == "pay-1"


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "consortium.cli", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src"), CONSORTIUM_PASSPHRASE=PASS)
        | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli__agent_init_then_decide__home_made_and_answer_stored(tmp_path):
    keyfile = tmp_path / "key.hex"
    keyfile.write_text("0x" + "22" * 32 + "\n")
    home = tmp_path / "agents" / "trustee"
    done = _cli(
        "agent",
        "init",
        "--institution",
        "trustee",
        "--home",
        str(home),
        "--consortium",
        CONSORTIUM,
        "--rpc",
        "http://127.0.0.1:1",
        "--import",
        str(keyfile),
        "--scrypt-n",
        "16",
    )
    assert done.returncode == 0, done.stderr
    assert Account.from_key("0x" + "22" * 32).address in done.stdout
    assert load_settings(home).rpc == "http://127.0.0.1:1"
    again = _cli("agent", "init", "--institution", "trustee", "--home", str(home), "--new")
    assert (
        again.returncode == 2 and "never overwritten" in again.stderr or "already" in again.stderr
    )
    Decisions(Store(load_settings(home).store_url), home / "outbox").queue("k", "item-1", {})
    listed = _cli("decide", "--institution", "trustee", "--home", str(home))
    assert "item-1" in listed.stdout
    answer = _cli(
        "decide",
        "--institution",
        "trustee",
        "--home",
        str(home),
        "item-1",
        "accept",
        "--reason",
        "checked with payroll",
    )
    assert answer.returncode == 0, answer.stderr
    d = Decisions(Store(load_settings(home).store_url)).get("item-1")
    assert (d.answer, d.reason) == ("accept", "checked with payroll")
    unknown = _cli(
        "decide", "--institution", "trustee", "--home", str(home), "nope", "reject", "--reason", "x"
    )
    assert unknown.returncode == 2 and "no decision 'nope'" in unknown.stderr


def test_cli__agent_for_another_institution_or_unknown_one__exit_2_one_sentence(tmp_path):
    home = AgentHome(tmp_path / "t")
    init_home(home, "trustee", CONSORTIUM, PASS, "0x" + "33" * 32, 2**4)
    wrong = _cli("agent", "--institution", "csd", "--home", str(home.path))
    assert wrong.returncode == 2 and "not 'csd'" in wrong.stderr and "Traceback" not in wrong.stderr
    nobody = _cli("agent", "init", "--institution", "nobody", "--home", str(tmp_path / "n"))
    assert nobody.returncode == 2 and "no institution 'nobody'" in nobody.stderr


def test_day_launcher__agent_for_another_institution__exit_2_in_its_own_output(tmp_path):
    """The one-machine day forks its agents from a preloaded server (dayrun/launcher.py): a forked
    agent refuses another's home as `consortium agent` does, and says so in its process.out."""
    home = AgentHome(tmp_path / "t")
    init_home(home, "trustee", CONSORTIUM, PASS, "0x" + "55" * 32, 2**4)
    proc = start_agent("csd", home.path, tmp_path / "process.out", ROOT)
    proc.join(180)
    out = (tmp_path / "process.out").read_text()
    assert proc.exitcode == 2 and "error:" in out and "not 'csd'" in out
    assert "Traceback" not in out


def test_agent__wrong_passphrase__exit_2_before_anything_is_sent(tmp_path):
    home = AgentHome(tmp_path / "t")
    init_home(home, "trustee", CONSORTIUM, PASS, "0x" + "44" * 32, 2**4, rpc="http://127.0.0.1:9")
    done = _cli(
        "agent",
        "--institution",
        "trustee",
        "--home",
        str(home.path),
        env={"CONSORTIUM_PASSPHRASE": "not it"},
    )
    assert done.returncode == 2 and "wrong passphrase" in done.stderr
    assert "Traceback" not in done.stderr


def test_agent__deployment_record_missing__exit_2_naming_the_file(tmp_path, web3):
    home = AgentHome(tmp_path / "t")
    missing = tmp_path / "nowhere.json"
    init_home(
        home,
        "trustee",
        CONSORTIUM,
        PASS,
        "0x" + "55" * 32,
        2**4,
        rpc=str(web3.provider.endpoint_uri),
        deployments=str(missing),
    )
    done = _cli("agent", "--institution", "trustee", "--home", str(home.path))
    assert done.returncode == 2, done.stderr[-2000:]
    assert str(missing) in done.stderr and "Traceback" not in done.stderr
    assert "running roles" not in home.log.read_text()


def test_agent__two_processes_on_one_home__the_second_refused(tmp_path):
    home = AgentHome(tmp_path / "t")
    init_home(home, "trustee", CONSORTIUM, PASS, "0x" + "66" * 32, 2**4, rpc="http://127.0.0.1:9")
    held = home.lock()
    try:
        done = _cli("agent", "--institution", "trustee", "--home", str(home.path))
    finally:
        held.close()
    assert done.returncode == 2 and "an agent runs on this home already" in done.stderr


@pytest.mark.parametrize(
    "name, kept",
    [("E-1001.json", True), ("../../etc/x.json", False), ("A/B.json", False), (".x", False)],
)
def test_safe_name__business_ids__never_leave_the_folder_never_collide(name, kept):
    from consortium.agent.base import safe_name

    safe = safe_name(name)
    assert (safe == name) is kept
    assert "/" not in safe and not safe.startswith(".")
    assert safe_name("A/B.json") != safe_name("A_B.json") == "A_B.json"  # no collision


# ------------------------------------------------------------------ the agent's file step
@dataclass
class FakeInbox:
    """Records what the agent does with a file (Inbox's release, reject, done)."""

    released: list = field(default_factory=list)
    finished: list = field(default_factory=list)
    rejected: list = field(default_factory=list)

    def release(self, f):
        self.released.append(f.name)

    def reject(self, f, line, reason):
        self.rejected.append((f.name, line, reason))

    def done(self, f, result):
        self.finished.append((f.name, result))


def _agent_with(tmp_path, handle):
    from consortium.agent.base import Agent, Role

    class Trustee(Role):
        role = "TRUSTEE"
        formats = ("contributions",)

        def handle_file(self, file):
            return handle(file)

    home = AgentHome(tmp_path / "t")
    init_home(home, "trustee", CONSORTIUM, PASS, "0x" + "88" * 32, 2**4)
    agent = Agent(load_settings(home.path), [Trustee])
    agent.inbox = FakeInbox()
    agent.roles = [Trustee(agent)]
    return agent, agent.inbox


def _file(fmt="contributions"):
    from types import SimpleNamespace

    return SimpleNamespace(path=Path(f"{fmt}-x.csv"), name=f"{fmt}-x.csv", format=fmt, sha256="ab")


def test_agent_process__role_fails_unexpectedly__file_released_for_a_retry_a_few_times(tmp_path):
    from consortium.agent.base import MAX_FILE_ATTEMPTS

    agent, inbox = _agent_with(tmp_path, lambda f: (_ for _ in ()).throw(OSError("node down")))
    for _ in range(MAX_FILE_ATTEMPTS + 2):
        agent.process(_file())
    assert len(inbox.released) == MAX_FILE_ATTEMPTS - 1  # then left for the next start
    assert inbox.finished == [] and inbox.rejected == []


def test_agent_process__refusal_and_unhandled_format__rejected_with_line_and_reason(tmp_path):
    from consortium.agent.base import FileRefused

    def refuse(f):
        raise FileRefused(4, "payroll above the limit")

    agent, inbox = _agent_with(tmp_path, refuse)
    agent.process(_file())
    agent.process(_file("enrolments"))
    assert inbox.rejected == [
        ("contributions-x.csv", 4, "payroll above the limit"),
        ("enrolments-x.csv", 0, "no role of trustee processes enrolments files"),
    ]
    ok, inbox2 = _agent_with(tmp_path / "2", lambda f: {"batches": [1]})
    ok.process(_file())
    assert inbox2.finished == [("contributions-x.csv", {"batches": [1]})]


def test_agent_step__one_file_a_loop__files_others_wait_for_first__the_rest_in_order(tmp_path):
    from types import SimpleNamespace

    from consortium.agent.base import Role

    order = []

    class Bank(Role):
        role = "TRUSTEE"
        formats = ("customers", "orders")

        def handle_file(self, file):
            order.append(file.name)
            return {}

    class Issuer(Role):
        role = "CASH_ISSUER"
        formats = ("issues",)
        first = True

        def handle_file(self, file):
            order.append(file.name)
            return {}

    agent, inbox = _agent_with(tmp_path, lambda f: {})
    arriving = [
        [_file("customers"), _file("orders")],  # the first poll
        [SimpleNamespace(**{**vars(_file("issues")), "name": "issues-y.csv"})],  # ready later
        [],
        [],
    ]
    inbox.poll = lambda: arriving.pop(0)
    agent.follower = SimpleNamespace(cursor=0, poll=lambda stop: 0)
    agent.roles = [Bank(agent), Issuer(agent)]
    assert [agent.step() for _ in range(3)] == [True, True, True]  # one file a loop
    # the issue that became ready while the customers file was worked goes before the orders
    assert order == ["customers-x.csv", "issues-y.csv", "orders-x.csv"]
    assert [name for name, _ in inbox.finished] == order
    assert agent.step() is False  # nothing left: an idle loop


def test_agent_step__blocks_of_others_business__idle__its_own_events__active(tmp_path):
    """New blocks carrying nothing the agent follows leave it idle (it backs off); one event it
    follows makes the loop active."""
    from types import SimpleNamespace

    agent, inbox = _agent_with(tmp_path, lambda f: {})
    inbox.poll = list
    seen = iter([0, 3, 0])
    follower = SimpleNamespace(cursor=0)

    def poll(stop):
        follower.cursor += 5  # the chain moved every time
        return next(seen)

    follower.poll = poll
    agent.follower = follower
    assert [agent.step() for _ in range(3)] == [False, True, False]
    assert follower.cursor == 15


def test_agent_loop__backed_off__a_wake_runs_the_next_step_at_once_and_a_stop_ends_it(tmp_path):
    """An idle agent sleeping out a long wait steps as soon as it is woken (a peer's message was
    stored), and a stop ends the loop without waiting the rest of the wait."""
    import threading
    import time

    agent, _ = _agent_with(tmp_path, lambda f: {})
    agent.settings.poll_seconds = 60.0  # each wait far longer than the test
    steps = threading.Semaphore(0)

    def step():
        steps.release()
        return False

    agent.step = step
    loop = threading.Thread(target=agent.loop, daemon=True)
    loop.start()
    assert steps.acquire(timeout=10)  # the first step
    assert not steps.acquire(timeout=0.3)  # then it waits
    agent.wake()
    assert steps.acquire(timeout=10)  # woken: the next step without the wait
    started = time.monotonic()
    agent.stop()
    loop.join(timeout=10)
    assert not loop.is_alive() and time.monotonic() - started < 10
