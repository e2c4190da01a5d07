"""The investment manager acts on a range's instructions at once: their statuses read in one batch,
their executions and feedback sent in batched calls (`instruction_groups`) through the agent's
pipe. A call that fails fails its instructions; each is retried on the next ranges in a call of its
own (as the follower retries a failed handler), so one the chain refuses holds no other back, and
is given up after MAX_ATTEMPTS."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium.agent.follower import MAX_ATTEMPTS
from consortium.agent.lines.annuity import (
    EXECUTED,
    ISSUED,
    REPORTED,
    InvestmentManagerRole,
    TrusteeRole,
)
from consortium.agent.ranged import Retries, send_each
from consortium.roles.annuity import (
    MAX_BATCH_ITEMS,
    MAX_INSTRUCTION_BATCH,
    IssuedInstruction,
    instruction_groups,
)
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


def _ins(iid: int, items: int = 0) -> IssuedInstruction:
    item = b"I".ljust(32, b"\0")
    return IssuedInstruction(
        iid, bytes(32), 0, b"P".ljust(32, b"\0"), 1, 100, (item,) * items, (1,) * items, 0
    )


@pytest.fixture
def role(monkeypatch):
    role = object.__new__(InvestmentManagerRole)
    pipe = FakePipe({n: ISSUED for n in range(1, 8)})
    w3 = SimpleNamespace(client_version="anvil/v1.7.1")
    suite = {"AnnuityLedger": "ledger"}
    role.agent = SimpleNamespace(store=Store(), pipe=pipe, suite=suite, w3=w3)
    role.failing = {3}  # instruction ids whose execution reverts (and the call with it)
    role.sent = []

    def call(step, error):
        def send(work):
            ids = [ins.instruction_id for ins, prices in work]
            assert all(prices is None for _, prices in work)  # the day's prices
            role.sent.append((step, ids))
            return Tx(not role.failing & set(ids), error)

        return send

    execute, report = call("execute", "AnnuityPriceOutOfRange: 0"), call("report", "not executed")
    role._piped = SimpleNamespace(
        execute_many=lambda work: [([i for i, _ in work], execute(work))],
        report_feedbacks=lambda work: [SimpleNamespace(tx=tx) for tx in [report(work)] * len(work)],
    )
    role._todo, role._managers = [], {}
    role._retries = Retries(role.agent.store, FAILED)
    return role


def test_flush__range_of_instructions__one_batch_of_reads_one_call_per_step(role):
    role._todo = [_ins(n) for n in (1, 2, 4)]
    role.agent.pipe.statuses[4] = EXECUTED  # executed before a kill: only its feedback is due
    role.flush()
    assert role.agent.pipe.batches == [[1, 2, 4]]
    assert role.agent.pipe.waits == 2  # the executions' phase, then the reports'
    assert role.sent == [("execute", [1, 2]), ("report", [1, 2, 4])]
    assert role.agent.store.all(FAILED) == {}


def test_flush__instruction_reported_already__nothing_sent(role):
    role.agent.pipe.statuses[1] = REPORTED  # a replayed range after the phase landed
    role._todo = [_ins(1), _ins(1)]
    role.flush()
    assert role.sent == []


def test_flush__a_call_fails__its_instructions_retried_each_alone__the_refused_one_holds_none_back(
    role,
):
    role._todo = [_ins(n) for n in (2, 3, 5)]
    role.flush()
    assert role.sent == [("execute", [2, 3, 5])]  # refused whole: nothing executed, none reported
    assert {k: r["status"] for k, r in role.agent.store.all(FAILED).items()} == {
        "2": "retry",
        "3": "retry",
        "5": "retry",
    }
    role.sent.clear()
    role.flush()  # the next range brings nothing new: each retried in a call of its own
    assert role.sent == [
        ("execute", [2]),
        ("execute", [3]),
        ("execute", [5]),
        ("report", [2]),
        ("report", [5]),
    ]
    assert role.agent.store.get(FAILED, "2")["status"] == "done"
    assert role.agent.store.get(FAILED, "5")["status"] == "done"
    assert role.agent.store.get(FAILED, "3")["attempts"] == 2
    role.sent.clear()
    role.failing.clear()  # what refused it is over
    role.flush()
    assert role.sent == [("execute", [3]), ("report", [3])]
    assert role.agent.store.get(FAILED, "3")["status"] == "done"
    role.sent.clear()
    role.flush()
    assert role.sent == []


def test_flush__failing_every_time__given_up_after_max_attempts(role):
    role._todo = [_ins(3)]
    for _ in range(MAX_ATTEMPTS + 2):
        role.flush()
    assert role.sent.count(("execute", [3])) == MAX_ATTEMPTS
    assert role.agent.store.get(FAILED, "3")["status"] == "given-up"


def test_flush__many_instructions__calls_within_the_ledger_s_limits(role):
    role.failing = set()
    role.agent.pipe.statuses.update({n: ISSUED for n in range(1, 68)})
    role._todo = [_ins(n, 3) for n in range(1, 56)] + [_ins(n, 16) for n in range(56, 68)]
    role.flush()
    executed = [ids for step, ids in role.sent if step == "execute"]
    # 50 by count; then 5 x 3 + 9 x 16 = 159 items (a tenth would pass MAX_BATCH_ITEMS); the rest
    assert [len(ids) for ids in executed] == [MAX_INSTRUCTION_BATCH, 14, 3]
    assert [i for ids in executed for i in ids] == list(range(1, 68))  # each once, in order


def test_instruction_groups__count_and_items_limits__order_kept():
    def sizes(items):
        return [[len(i.items) for i in g] for g in instruction_groups([_ins(1, n) for n in items])]

    assert instruction_groups([]) == []
    assert [len(g) for g in instruction_groups([_ins(n, 1) for n in range(120)])] == [50, 50, 20]
    per = MAX_BATCH_ITEMS // 16
    assert sizes([16] * (per + 1)) == [[16] * per, [16]]
    assert sizes([MAX_BATCH_ITEMS + 1, 1, 1]) == [[MAX_BATCH_ITEMS + 1], [1, 1]]  # alone, not lost
    assert sizes([MAX_BATCH_ITEMS - 1, 1, 1]) == [[MAX_BATCH_ITEMS - 1, 1], [1]]


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
    role._todo = [_ins(n) for n in (1, 2, 4)]
    role.failing = {4}
    role.flush()
    role.failing.clear()
    role.flush()  # 4 retried alone
    assert role.sent == [
        ("execute", [1, 2, 4]),
        ("execute", [1]),
        ("execute", [2]),
        ("execute", [4]),
        ("report", [1]),
        ("report", [2]),
        ("report", [4]),
    ]
    assert role.agent.pipe.waits == 1 + 6  # every call its own phase
    assert {r["status"] for r in role.agent.store.all(FAILED).values()} == {"done"}


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


FORWARD_FAILED = "annuity.forward-failed"


@pytest.fixture
def trustee_role():
    role = object.__new__(TrusteeRole)
    pipe = FakePipe({n: REPORTED for n in range(1, 8)})
    store = Store()
    for n in (1, 3, 4, 5, 6, 7):  # the items kept at each issue; none for instruction 2
        store.put("annuity.instruction", str(n), {"items": [(b"I".ljust(32, b"\0")).hex()] * 2})
    role.agent = SimpleNamespace(
        store=store,
        pipe=pipe,
        suite={"AnnuityLedger": "ledger"},
        w3=SimpleNamespace(client_version="anvil/v1.7.1"),
        account=SimpleNamespace(address="0xT"),
    )
    role.failing, role.sent = set(), []

    def forward_feedbacks(feedback):
        ids = [f.instruction_id for f in feedback]
        assert all(len(f.items) == len(f.unit_prices) == 2 for f in feedback)
        role.sent.append(ids)
        return [Tx(not role.failing & set(ids), "AnnuityInstructionMismatch")]

    pipe.piped = lambda obj: SimpleNamespace(forward_feedbacks=forward_feedbacks)
    role.trustee = "trustee"
    role.employers_of = lambda accounts: [({"trustee": "0xT"}, None) for _ in accounts]
    role._feedback, role._retries = [], Retries(store, FORWARD_FAILED)
    return role


def _fb(n: int) -> dict:
    return {"instructionId": n, "account": "0x" + "00" * 32, "unitPrices": [7, 8]}


def test_flush_feedback__range_forwarded_in_one_call__a_refused_one_then_alone(trustee_role):
    role = trustee_role
    role._feedback = [_fb(n) for n in (1, 3, 4)]
    role.failing = {3}
    role.flush_feedback()
    assert role.sent == [[1, 3, 4]]
    role.sent.clear()
    role.flush_feedback()  # each retried in a call of its own: 3 fails alone
    assert role.sent == [[1], [3], [4]]
    rows = role.agent.store.all(FORWARD_FAILED)
    assert (rows["1"]["status"], rows["4"]["status"]) == ("done", "done")
    assert (rows["3"]["status"], rows["3"]["attempts"]) == ("retry", 2)


def test_flush_feedback__items_not_kept__that_one_failed_the_others_forwarded(trustee_role):
    role = trustee_role
    role._feedback = [_fb(n) for n in (1, 2, 3)]
    role.flush_feedback()
    assert role.sent == [[1, 3]]
    row = role.agent.store.get(FORWARD_FAILED, "2")
    assert row["status"] == "retry" and row["attempts"] == 1


def test_flush_feedback__not_reported_any_more__nothing_sent(trustee_role):
    role = trustee_role
    role.agent.pipe.statuses[1] = 4  # settled already (a replayed range)
    role._feedback = [_fb(1)]
    role.flush_feedback()
    assert role.sent == []
