"""An agent's phases on a real chain: a file's transactions go out without waiting for each other,
their receipts are collected at the file's end, every keyed batch still in flight is booked there, and
a refused row refuses the file at its line with its decoded custom error while the good rows stay
booked (on anvil, and on ganache, which reports a revert at send time)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from consortium.agent.base import Agent, Role
from consortium.agent.home import AgentHome, init_home
from consortium.agent.settings import load_settings
from consortium.chain import web3
from consortium.outbox import Outbox, Recorded, is_refusal
from consortium.txpipe import TxPipe, TxPipeError, TxPipeTimeout

ROOT = Path(__file__).resolve().parents[2]
CONSORTIUM = str(ROOT / "config" / "consortium.yaml")
ZERO = "0x" + "00" * 20
KIND = "operator"


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


class _Rejections:
    def __init__(self):
        self.rejected, self.finished, self.released = [], [], []

    def reject(self, f, line, reason):
        self.rejected.append((f.name, line, reason))

    def done(self, f, result):
        self.finished.append((f.name, result))

    def release(self, f):
        self.released.append(f.name)


def _agent(tmp_path: Path, handle) -> Agent:
    """A trustee's agent whose one role hands each file to `handle(agent, file)`, sending through
    a pipe over the test chain as `Agent.attach` sets it up."""

    class Trustee(Role):
        role = "TRUSTEE"
        formats = ("contributions",)

        def handle_file(self, file):
            return handle(self.agent, file)

    home = AgentHome(tmp_path / "t")
    init_home(home, "trustee", CONSORTIUM, "phases test", "0x" + "77" * 32, 2**4)
    agent = Agent(load_settings(home.path), [Trustee])
    agent.inbox = _Rejections()
    agent.roles = [Trustee(agent)]
    agent.pipe = TxPipe(web3(), keep=False, reads_wait=True, estimate=True)
    agent.store.before_write = agent.settle
    return agent


def _file():
    return SimpleNamespace(
        path=Path("rows.csv"), name="rows.csv", format="contributions", sha256="ab"
    )


def _operators(agent: Agent, registry, broker) -> Outbox:
    """A keyed batch per operator added by `broker` (the registry says whether it holds one)."""
    outbox = Outbox(agent.store)

    def probe(args):
        held = [str(a).lower() for a in registry.operatorsOf(broker.address)]
        return Recorded(None, {}) if str(args[0]).lower() in held else None

    outbox.register_call(
        KIND, agent.pipe.piped(registry).addOperator, probe, tx=lambda: {"from": broker.account}
    )
    return outbox


def test_file_phase__one_row_refused__file_refused_at_its_line_with_the_error_good_rows_booked(
    tmp_path, registry, admit, regulator_cn, accounts
):
    broker = admit(accounts[6], ["BROKER"], regulator=regulator_cn)
    ops = [accounts.add().address for _ in range(2)]
    rows = [(2, ops[0]), (3, ZERO), (4, ops[1])]
    seen = {}

    def handle(agent, file):
        seen["outbox"] = outbox = _operators(agent, registry, broker)
        for line, op in rows:
            with agent.at_line(file, line):
                outbox.submit(KIND, op, [op])
        seen["in_flight"] = len(agent.pipe.pending)  # nothing waited for inside the file
        return {"rows": len(rows)}

    agent = _agent(tmp_path, handle)
    agent.process(_file())
    assert seen["in_flight"] == 3
    [(name, line, reason)] = agent.inbox.rejected
    assert (name, line) == ("rows.csv", 3)
    assert "rows.csv line 3: " in reason and "RegistryZeroAddress" in reason
    assert agent.inbox.finished == []
    held = [str(a).lower() for a in registry.operatorsOf(broker.address)]
    assert held == [o.lower() for o in ops]
    outbox = seen["outbox"]
    assert all(outbox.booking(KIND, op) is not None for op in ops)  # booked at the file's end
    assert agent.store.intent(KIND, ZERO) is None  # the refused row's intent dropped
    assert outbox.pending() == [] and agent.pipe.pending == []


def test_nested_phases__batches_booked_at_the_outermost_end_only(
    tmp_path, registry, admit, regulator_cn, accounts
):
    broker = admit(accounts[7], ["BROKER"], regulator=regulator_cn)
    op = accounts.add().address
    agent = _agent(tmp_path, lambda a, f: {})
    outbox = _operators(agent, registry, broker)
    with agent.phase():
        with agent.phase():
            sub = outbox.submit(KIND, op, [op])
        assert outbox.booking(KIND, op) is None and len(agent.pipe.pending) == 1
    assert sub.value == {} and outbox.booking(KIND, op).source == "receipt"
    assert agent.pipe.pending == [] and outbox.pending() == []


def test_read_inside_a_phase__waits_for_the_transactions_in_flight(
    tmp_path, registry, admit, regulator_cn, accounts
):
    broker = admit(accounts[8], ["BROKER"], regulator=regulator_cn)
    op = accounts.add().address
    agent = _agent(tmp_path, lambda a, f: {})
    piped = agent.pipe.piped(registry)
    with agent.phase():
        piped.addOperator(op, {"from": broker.account})
        assert [str(a) for a in piped.operatorsOf(broker.address)] == [op]
        assert agent.pipe.pending == []


def test_is_refusal__a_pipe_failure_is_one_its_timeout_is_not():
    refused = TxPipeError([("rows.csv line 3: addOperator#0", "RegistryZeroAddress")])
    assert is_refusal(refused) and refused.revert_msg == "RegistryZeroAddress"
    assert not is_refusal(TxPipeTimeout([("x", "not mined after 300 s")]))
    assert not is_refusal(ConnectionError("node down"))
