"""The outbox against a fake chain: what it sends, books, refuses and leaves for resume()."""

from types import SimpleNamespace

import pytest

from consortium.outbox import Kind, Outbox, OutboxConflict, OutboxRefused, Recorded, close_phase
from consortium.store import Store


class Reverted(Exception):
    """Stands for brownie's VirtualMachineError: a definite refusal by the node."""

    revert_msg = "KeyUsed"


class FakeChain:
    """Records batches by key (args[0]); refuses a used key like the contracts do."""

    def __init__(self):
        self.records: dict[str, tuple[int, list]] = {}
        self.sent = 0
        self.block = 10
        self.down = False
        self.lost_reply = False

    def send(self, args):
        if self.down or self.lost_reply:
            raise ConnectionError("node unreachable")
        self.sent += 1
        if args[0] in self.records:
            raise Reverted
        self.block += 1
        self.records[args[0]] = (self.block, args)
        return SimpleNamespace(block_number=self.block, txid="0x" + "ab" * 32)

    def probe(self, args):
        if self.down:
            raise ConnectionError("node unreachable")
        found = self.records.get(args[0])
        if found is None:
            return None
        if found[1] != args:
            raise OutboxConflict(f"{args[0]} recorded for other content")
        return Recorded(found[0], {"n": found[1][1]})


@pytest.fixture
def chain():
    return FakeChain()


def _outbox(chain, store):
    box = Outbox(store)
    box.register("batch", Kind(chain.send, chain.probe, lambda tx, a: {"n": a[1]}))
    return box


def test_send__new_key__intent_then_booking_from_receipt(chain, tmp_path):
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))
    b = box.send("batch", "k1", ["k1", 5])
    assert (b.source, b.block, b.value, b.tx_hash) == ("receipt", 11, {"n": 5}, "0x" + "ab" * 32)
    row = box.store.intent("batch", "k1")
    assert (
        row["status"] == "booked"
        and row["args"] == ["k1", 5]
        and row["booked_at"] >= row["intended_at"]
    )


def test_send__booked_key_again__returns_booking_sends_nothing(chain, tmp_path):
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))
    box.send("batch", "k1", ["k1", 5])
    again = box.send("batch", "k1", ["k1", 5])
    assert (again.source, again.value, chain.sent) == ("receipt", {"n": 5}, 1)


def test_send__key_on_chain_but_not_in_store__booked_from_chain_sends_nothing(chain, tmp_path):
    chain.send(["k1", 5])  # another instance of the agent sent it; this store never saw it
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))
    b = box.send("batch", "k1", ["k1", 5])
    assert (b.source, b.block, chain.sent) == ("chain", 11, 1)


def test_send__key_reused_for_other_content__conflict_nothing_sent(chain, tmp_path):
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))
    box.send("batch", "k1", ["k1", 5])
    with pytest.raises(OutboxConflict, match="k1"):
        box.send("batch", "k1", ["k1", 6])
    assert chain.sent == 1 and box.store.intent("batch", "k1")["args"] == ["k1", 5]


def test_send__chain_forgot_booked_key__sent_again(chain, tmp_path):
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))
    box.send("batch", "k1", ["k1", 5])
    chain.records.clear()  # the chain restarted from an older state (or a test rolled it back)
    b = box.send("batch", "k1", ["k1", 5])
    assert (b.source, chain.sent, "k1" in chain.records) == ("receipt", 2, True)


def test_send__refused_and_recorded_meanwhile__booked_from_chain(chain, tmp_path):
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))
    probe = chain.probe
    calls = []

    def late_probe(args):  # the first look finds nothing; by the time the send lands it is there
        calls.append(args)
        if len(calls) == 1:
            chain.records[args[0]] = (7, args)
            return None
        return probe(args)

    box.kinds["batch"] = Kind(chain.send, late_probe, lambda tx, a: {"n": a[1]})
    b = box.send("batch", "k1", ["k1", 5])
    assert (b.source, b.block, chain.sent) == ("chain", 7, 1)
    assert box.store.intent("batch", "k1")["status"] == "booked"


def test_send__refused_for_another_reason__intent_dropped_error_raised(chain, tmp_path):
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))

    def refuse(args):
        raise Reverted

    box.kinds["batch"] = Kind(refuse, chain.probe, lambda tx, a: {})
    with pytest.raises(Reverted):
        box.send("batch", "k1", ["k1", 5])
    assert box.store.intent("batch", "k1") is None and box.pending() == []


def test_send__node_down_before_intent__nothing_recorded(chain, tmp_path):
    box = _outbox(chain, Store.at(tmp_path / "s.sqlite"))
    chain.down = True  # the first look at the chain fails: nothing can have been sent
    with pytest.raises(ConnectionError):
        box.send("batch", "k1", ["k1", 5])
    assert box.store.intents() == []


def test_send__fate_unknown__intent_stays_pending_resume_sends_once(chain, tmp_path):
    path = tmp_path / "s.sqlite"
    box = _outbox(chain, Store.at(path))
    chain.lost_reply = True  # the send's fate is unknown (node went away mid-request)
    with pytest.raises(ConnectionError):
        box.send("batch", "k1", ["k1", 5])
    assert [r["key"] for r in box.pending()] == ["k1"]
    chain.lost_reply = False
    (b,) = _outbox(chain, Store.at(path)).resume()  # a restarted agent
    assert (b.source, chain.sent) == ("receipt", 1)
    assert _outbox(chain, Store.at(path)).resume() == []


def test_resume__only_its_kinds_in_intent_order(chain, tmp_path):
    store = Store.at(tmp_path / "s.sqlite")
    for k in ("k2", "k1"):
        store.intend("batch", k, [k, 1])
    store.intend("other", "x", ["x", 1])
    booked = _outbox(chain, store).resume()
    assert [b.key for b in booked] == ["k2", "k1"]
    assert [r["kind"] for r in store.intents("pending")] == ["other"]


def test_store_book__twice__first_booking_stands(tmp_path):
    store = Store.at(tmp_path / "s.sqlite")
    store.intend("batch", "k1", ["k1"])
    assert store.book("batch", "k1", {"block": 1}) is True
    assert store.book("batch", "k1", {"block": 2}) is False
    assert store.intent("batch", "k1")["booking"] == {"block": 1}


# ---------------------------------------------------------------- two steps through a pipe


class FakePending:
    """A transaction in flight through a pipe: its receipt is known once the phase is collected."""

    def __init__(self, pipe, block, ok=True):
        self.pipe, self.block_number, self.ok = pipe, block, ok
        self.txid = "0x" + "cd" * 32
        self.receipt = None

    @property
    def collected(self):
        return self.receipt is not None

    @property
    def status(self):
        if self.receipt is None:
            self.pipe.wait()
        if self.receipt is None:
            raise TimeoutError("receipt never collected")  # a TxPipeTimeout: fate unknown
        return self.receipt


class FakePipe:
    """Holds what the chain's sends return until wait(); `lost` receipts never come."""

    def __init__(self, chain):
        self.chain, self.phase, self.lost, self.waits = chain, [], set(), 0

    def send(self, args, ok=True):
        self.chain.sent += 1
        if ok:
            self.chain.block += 1
            self.chain.records.setdefault(args[0], (self.chain.block, args))
        tx = FakePending(self, self.chain.block, ok)
        self.phase.append((args[0], tx))
        return tx

    def wait(self):
        self.waits += 1
        phase, self.phase = self.phase, []
        for key, tx in phase:
            if key not in self.lost:
                tx.receipt = 1 if tx.ok else 0


def _piped(chain, store, ok=lambda args: True):
    pipe = FakePipe(chain)
    box = Outbox(store)
    box.register(
        "batch", Kind(lambda a: pipe.send(a, ok(a)), chain.probe, lambda tx, a: {"n": a[1]})
    )
    return pipe, box


def test_submit__piped__pending_until_collect_then_booked_from_receipt(chain, tmp_path):
    pipe, box = _piped(chain, Store.at(tmp_path / "s.sqlite"))
    subs = [box.submit("batch", f"k{i}", [f"k{i}", i]) for i in range(3)]
    assert pipe.waits == 0 and chain.sent == 3
    assert [r["key"] for r in box.pending()] == ["k0", "k1", "k2"]
    with pytest.raises(RuntimeError, match="not booked yet"):
        _ = subs[0].value
    booked = close_phase(pipe, box)
    assert pipe.waits == 1 and box.pending() == []
    assert [(b.key, b.source, b.value) for b in booked] == [
        (f"k{i}", "receipt", {"n": i}) for i in range(3)
    ]
    assert [s.value for s in subs] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_submit__same_key_twice_in_a_phase__sent_once(chain, tmp_path):
    pipe, box = _piped(chain, Store.at(tmp_path / "s.sqlite"))
    first = box.submit("batch", "k1", ["k1", 5])
    assert box.submit("batch", "k1", ["k1", 5]) is first
    with pytest.raises(OutboxConflict):
        box.submit("batch", "k1", ["k1", 6])
    close_phase(pipe, box)
    assert chain.sent == 1 and first.value == {"n": 5}


def test_collect__failed_receipt_not_on_chain__intent_dropped_others_booked(chain, tmp_path):
    pipe, box = _piped(chain, Store.at(tmp_path / "s.sqlite"), ok=lambda a: a[0] != "bad")
    good = box.submit("batch", "good", ["good", 1])
    box.submit("batch", "bad", ["bad", 2])
    with pytest.raises(OutboxRefused, match="bad"):
        close_phase(pipe, box)
    assert good.value == {"n": 1} and box.store.intent("batch", "bad") is None
    assert box.pending() == []


def test_collect__failed_receipt_but_key_recorded_meanwhile__booked_from_chain(chain, tmp_path):
    pipe, box = _piped(chain, Store.at(tmp_path / "s.sqlite"), ok=lambda a: False)
    sub = box.submit("batch", "k1", ["k1", 5])
    chain.records["k1"] = (42, ["k1", 5])  # another instance of the agent got there first
    close_phase(pipe, box)
    assert (sub.booking.source, sub.booking.block, sub.value) == ("chain", 42, {"n": 5})


def test_collect__receipt_never_came__intent_pending_resume_books_once(chain, tmp_path):
    path = tmp_path / "s.sqlite"
    pipe, box = _piped(chain, Store.at(path))
    box.submit("batch", "k1", ["k1", 5])
    pipe.lost.add("k1")
    with pytest.raises(TimeoutError):
        close_phase(pipe, box)
    assert [r["key"] for r in box.pending()] == ["k1"]
    (b,) = _outbox(chain, Store.at(path)).resume()  # a restarted agent: the chain holds it
    assert (b.source, b.value, chain.sent) == ("chain", {"n": 5}, 1)


def test_close_phase__pipe_failure__batches_booked_then_failure_raised(chain, tmp_path):
    pipe, box = _piped(chain, Store.at(tmp_path / "s.sqlite"))
    sub = box.submit("batch", "k1", ["k1", 5])
    wait = pipe.wait

    def failing_wait():
        wait()
        raise RuntimeError("1 transaction(s) failed: another sender's")

    pipe.wait = failing_wait
    with pytest.raises(RuntimeError, match="another sender"):
        close_phase(pipe, box)
    assert sub.value == {"n": 5} and box.pending() == []


class Contract:
    """A contract keyed by (args[0]) whose view answers (count, block), as uploadOf and
    redemptionOf do; calls record their arguments and transaction parameters."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.held: dict[str, tuple[int, int]] = {}

    def upload(self, *args):
        self.calls.append(args)
        *batch, _params = args
        self.held[batch[0]] = (len(batch[1]), 20 + len(self.calls))
        return SimpleNamespace(block_number=20 + len(self.calls), txid="0x" + "cd" * 32)

    def uploadOf(self, key):
        return self.held.get(key, (0, 0))


def test_register_call__sent_args_and_params__booked_as_given(tmp_path):
    c, box = Contract(), Outbox(Store.at(tmp_path / "s.sqlite"))
    box.register_call(
        "up",
        c.upload,
        lambda a: None,
        lambda r, a: {"block": r.block_number},
        tx=lambda: {"from": "0xA"},
        sent=2,
    )
    b = box.send("up", "k1", ["k1", [1, 2], "content hash kept off the call"])
    assert c.calls == [("k1", [1, 2], {"from": "0xA"})]
    assert (b.source, b.value) == ("receipt", {"block": 21})


def test_register_call__no_params_no_booking__whole_args_booked_empty(tmp_path):
    box = Outbox(Store.at(tmp_path / "s.sqlite"))
    sent = []
    box.register_call(
        "up", lambda *a: sent.append(a) or SimpleNamespace(block_number=3), lambda a: None
    )
    assert box.send("up", "k1", ["k1", 7]).value == {}
    assert sent == [("k1", 7)]


def test_register_counted__booked_as_count_and_found_on_chain_with_it(tmp_path):
    c = Contract()
    box = Outbox(Store.at(tmp_path / "a.sqlite"))
    for b in (box, again := Outbox(Store.at(tmp_path / "b.sqlite"))):  # again: a restarted agent
        b.register_counted(
            "up", c.upload, lambda a: c.uploadOf(a[0]), tx=lambda: {"from": "0xA"}, sent=2
        )
    first = box.send("up", "k1", ["k1", [1, 2, 3], "hash"])
    found = again.send("up", "k1", ["k1", [1, 2, 3], "hash"])
    assert (first.source, first.value) == ("receipt", {"count": 3})
    assert (found.source, found.value, found.block) == ("chain", {"count": 3}, 21)
    assert c.calls == [("k1", [1, 2, 3], {"from": "0xA"})]  # once, without the stored hash


def test_register_counted__key_holds_another_count__conflict_nothing_sent(tmp_path):
    c = Contract()
    c.held["k1"] = (5, 9)
    box = Outbox(Store.at(tmp_path / "s.sqlite"))
    box.register_counted("up", c.upload, lambda a: c.uploadOf(a[0]))
    with pytest.raises(
        OutboxConflict, match="up: the chain holds a batch of 5 under this key, not 2"
    ):
        box.send("up", "k1", ["k1", [1, 2]])
    assert c.calls == []
