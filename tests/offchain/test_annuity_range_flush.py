"""The investment manager acts on a range's instructions at once: their statuses read in one batch,
each instruction's execution and feedback posted through the agent's pipe, one phase per chunk.
One instruction that fails is its own failure: the others are booked, the failed one is retried
on the next ranges (as the follower retries a failed handler) and given up after MAX_ATTEMPTS."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium.agent.follower import MAX_ATTEMPTS
from consortium.agent.lines.annuity import (
    EXECUTED,
    ISSUED,
    REPORTED,
    InvestmentManagerRole,
)
from consortium.agent.ranged import Retries, send_each
from consortium.roles.annuity import IssuedInstruction
from consortium.store import Store

FAILED = "annuity.execute-failed"


class Tx:
    def __init__(self, ok: bool, error: str | None = None):
        self.status, self.error = int(ok), None if ok else error


class FakePipe:
    def __init__(self, statuses: dict[int, int]):
        self.statuses, self.batches, self.waits = statuses, [], 0

    def call_many(self, contract, fn, args):
        assert fn == "getInstruction"
        self.batches.append([a for (a,) in args])
        return [{"status": self.statuses[a]} for (a,) in args]

    def wait(self, raise_on_failure=True):
        assert raise_on_failure is False  # one failure must not stand for its phase
        self.waits += 1
        return []


def _ins(iid: int) -> IssuedInstruction:
    return IssuedInstruction(iid, bytes(32), 0, b"P".ljust(32, b"\0"), 1, 100, (), (), 0)


@pytest.fixture
def role(monkeypatch):
    role = object.__new__(InvestmentManagerRole)
    pipe = FakePipe({n: ISSUED for n in range(1, 8)})
    w3 = SimpleNamespace(client_version="anvil/v1.7.1")
    suite = {"AnnuityLedger": "ledger"}
    role.agent = SimpleNamespace(store=Store(), pipe=pipe, suite=suite, w3=w3)
    role.failing = {3}  # instruction ids whose execution reverts
    role.sent = []

    def execute(ins):
        role.sent.append(("execute", ins.instruction_id))
        return Tx(ins.instruction_id not in role.failing, "AnnuityPriceOutOfRange: 0")

    def report(ins):
        role.sent.append(("report", ins.instruction_id))
        return SimpleNamespace(tx=Tx(ins.instruction_id not in role.failing, "not executed"))

    role._piped = SimpleNamespace(execute=execute, report_feedback=report)
    role._todo, role._managers = [], {}
    role._retries = Retries(role.agent.store, FAILED)
    return role


def test_flush__range_of_instructions__one_batch_of_reads_both_steps_piped(role):
    role._todo = [_ins(n) for n in (1, 2, 4)]
    role.agent.pipe.statuses[4] = EXECUTED  # executed before a kill: only its feedback is due
    role.flush()
    assert role.agent.pipe.batches == [[1, 2, 4]]
    assert role.agent.pipe.waits == 2  # the executions' phase, then the reports'
    assert role.sent == [
        ("execute", 1),
        ("execute", 2),
        ("report", 1),
        ("report", 2),
        ("report", 4),
    ]
    assert role.agent.store.all(FAILED) == {}


def test_flush__instruction_reported_already__nothing_sent(role):
    role.agent.pipe.statuses[1] = REPORTED  # a replayed range after the phase landed
    role._todo = [_ins(1), _ins(1)]
    role.flush()
    assert role.sent == []


def test_flush__one_instruction_fails__others_done_it_is_retried_then_passes(role):
    role._todo = [_ins(n) for n in (2, 3, 5)]
    role.flush()
    assert ("execute", 2) in role.sent and ("report", 5) in role.sent
    row = role.agent.store.get(FAILED, "3")
    assert (row["attempts"], row["status"]) == (1, "retry")
    role.sent.clear()
    role.failing.clear()  # the node hiccup is over
    role.flush()  # the next range brings nothing new: the failed one is retried
    assert role.sent == [("execute", 3), ("report", 3)]
    assert role.agent.store.get(FAILED, "3")["status"] == "done"
    role.sent.clear()
    role.flush()
    assert role.sent == []


def test_flush__failing_every_time__given_up_after_max_attempts(role):
    role._todo = [_ins(3)]
    for _ in range(MAX_ATTEMPTS + 2):
        role.flush()
    assert role.sent.count(("execute", 3)) == MAX_ATTEMPTS
    assert role.agent.store.get(FAILED, "3")["status"] == "given-up"


def test_send_each__chunks__one_phase_each_errors_per_item():
    pipe = FakePipe({})
    out = send_each(pipe, list(range(5)), lambda n: [Tx(True), Tx(n != 3, f"bad {n}")], chunk=2)
    assert pipe.waits == 3
    assert out == [(0, None), (1, None), (2, None), (3, "bad 3"), (4, None)]


def test_send_each__node_error_mid_phase__that_phase_s_items_failed_the_next_go_on():
    pipe = FakePipe({})

    def send(n):
        if n == 2:
            raise TimeoutError("the node did not answer")
        return [Tx(True)]

    out = send_each(pipe, list(range(6)), send, chunk=2)
    assert out[:2] == [(0, None), (1, None)]
    assert [n for n, e in out[2:4]] == [2, 3] and all("TimeoutError" in e for _, e in out[2:4])
    assert out[4:] == [(4, None), (5, None)]
    assert pipe.waits == 3  # the failed phase's pipe was still closed (reset)


def test_flush__on_ganache__one_transaction_a_phase(role):
    role.agent.w3.client_version = "Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2/ethereum-js"
    role._todo = [_ins(n) for n in (1, 2)]
    role.flush()
    assert role.agent.pipe.waits == 4  # two executions, then two reports, each its own phase
    assert role.agent.store.all(FAILED) == {}


def test_retries__store_read_once_while_nothing_failed__again_after_a_failure():
    store, reads = Store(), []
    real = store.all
    store.all = lambda kind: reads.append(kind) or real(kind)
    retries = Retries(store, FAILED)
    assert retries.due() == [] and retries.due() == [] and len(reads) == 1
    retries.settle("3", {"n": 3}, "AnnuityPriceOutOfRange: 0")
    assert retries.due() == [{"n": 3}] and len(reads) == 2
    retries.settle("3", {"n": 3}, None)
    assert retries.due() == [] and retries.due() == [] and len(reads) == 3
