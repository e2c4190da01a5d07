"""The multi-process day's driver and a node in trouble: a look at the day that fails on a passing
node error (the large day died on a ConnectionResetError while polling) is retried after a short
backoff; a node that never answers ends the day with a clear message; a phase whose file content
cannot be read drops none of its files (the retried look drops each once)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests

from consortium.dayrun import day as dayrun
from consortium.dayrun.day import NodeRetry, NodeUnreachable
from consortium.dayrun.lines import DayLine
from consortium.scenarios.files import DayView, InputFile


class Console:
    def __init__(self):
        self.lines = []

    def print(self, text, **_):
        self.lines.append(str(text))


def _failing(errors: list[BaseException], result="looked"):
    calls = []

    def look():
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return look, calls


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(104, "Connection reset by peer"),
        requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
)
def test_attempt__passing_node_error__retried_after_backoff(error):
    slept, console = [], Console()
    look, calls = _failing([error, error])
    retry = NodeRetry(tries=4, backoff=0.5, sleep=slept.append)
    assert retry.attempt(look, console) == "looked"
    assert len(calls) == 3 and slept == [0.5, 1.0]
    assert len(console.lines) == 2 and "retrying in 0.5 s (1/3)" in console.lines[0]


def test_attempt__node_never_answers__day_ends_naming_the_error():
    slept = []
    look, calls = _failing([ConnectionResetError(104, "reset")] * 10)
    retry = NodeRetry(tries=5, backoff=1.0, longest=2.0, sleep=slept.append)
    with pytest.raises(NodeUnreachable, match=r"5 times in a row \(last: ConnectionResetError"):
        retry.attempt(look, Console())
    assert len(calls) == 5 and slept == [1.0, 2.0, 2.0, 2.0]


def test_attempt__other_error__not_retried():
    slept = []
    look, calls = _failing([ValueError("a bug, not the node")])
    with pytest.raises(ValueError, match="a bug"):
        NodeRetry(sleep=slept.append).attempt(look, Console())
    assert len(calls) == 1 and slept == []


def test_attempt__failures_not_in_a_row__each_look_gets_its_tries():
    slept = []
    retry = NodeRetry(tries=2, sleep=slept.append)
    for _ in range(3):  # one failure per look never adds up to the limit of two in a row
        look, _ = _failing([TimeoutError("slow")])
        assert retry.attempt(look, Console()) == "looked"
    assert slept == [0.5, 0.5, 0.5]


def test_advance__a_file_s_content_fails__none_of_the_phase_dropped_then_each_once(tmp_path):
    homes = {i: tmp_path / i for i in ("a", "b")}
    for h in homes.values():
        (h / "inbox").mkdir(parents=True)
    errors = [ConnectionResetError(104, "reset")]

    def payroll(view):
        if errors:
            raise errors.pop(0)
        return b"payroll\n"

    module = SimpleNamespace(
        PHASES=("one",), ROLES=(), ready=lambda phase, view: True, done=lambda view: False
    )
    line = DayLine("x", module)
    line.files = {
        "a": [InputFile("first.csv", b"first\n", "one")],
        "b": [InputFile("second.csv", payroll, "one")],
    }
    view = DayView(None, homes)
    console = Console()
    retry = NodeRetry(sleep=lambda s: None)
    retry.attempt(lambda: dayrun._advance(line, view, console, 0.0, True), console)
    assert line.dropped == [("a", "first.csv"), ("b", "second.csv")]
    assert (homes["a"] / "inbox" / "first.csv").read_bytes() == b"first\n"
    assert (homes["b"] / "inbox" / "second.csv").read_bytes() == b"payroll\n"
    assert "retrying" in console.lines[0]
