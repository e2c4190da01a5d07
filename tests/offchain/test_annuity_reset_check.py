"""The annuity day's check that every reset was confirmed by the trustee before the investment
manager executed it: true only for a TRUSTEE member's confirmation of a Reset instruction that ran
once, after it; the executions read once for all the resets (once per reset, the large day's check
read 21,000 events a thousand times)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium.scenarios.annuity import RESET, _confirmed_before_executed

TRUSTEE, STRANGER = "0x7700", "0x5500"


def _event(block, index, **args):
    return {"blockNumber": block, "logIndex": index, "args": args}


class Suite(dict):
    """The ledger's InstructionExecuted events and instruction kinds; TRUSTEE holds the role."""

    def __init__(self, executed, kinds):
        self.reads = 0

        def get_sequence(since, event_type):
            assert event_type == "InstructionExecuted"
            self.reads += 1
            return [_event(b, i, instructionId=iid) for iid, b, i in executed]

        super().__init__(
            AnnuityLedger=SimpleNamespace(
                events=SimpleNamespace(get_sequence=get_sequence),
                getInstruction=lambda iid: {"kind": kinds.get(iid, RESET)},
            )
        )
        self.registry = SimpleNamespace(hasRole=lambda who, role: who == TRUSTEE)


def _confirmed(iid, block, index=0, trustee=TRUSTEE):
    return _event(block, index, instructionId=iid, trustee=trustee)


def test_resets__each_confirmed_then_executed_once__true_executions_read_once():
    suite = Suite([(1, 10, 0), (2, 12, 3), (3, 12, 5), (4, 9, 0)], {4: 0})
    resets = [_confirmed(1, 9), _confirmed(2, 12, 1), _confirmed(3, 11)]
    assert _confirmed_before_executed(suite, 0, resets)
    assert suite.reads == 1


@pytest.mark.parametrize(
    "executed, kinds, reset",
    [
        ([(1, 8, 0)], {}, _confirmed(1, 9)),  # executed before the confirmation
        ([(1, 9, 0)], {}, _confirmed(1, 9, 1)),  # same block, earlier log
        ([(1, 10, 0), (1, 11, 0)], {}, _confirmed(1, 9)),  # executed twice
        ([], {}, _confirmed(1, 9)),  # confirmed, never executed
        ([(1, 10, 0)], {}, _confirmed(1, 9, trustee=STRANGER)),  # not the trustee's
        ([(1, 10, 0)], {1: 0}, _confirmed(1, 9)),  # not a Reset instruction
    ],
)
def test_resets__one_not_confirmed_before_its_single_execution__false(executed, kinds, reset):
    suite = Suite([(2, 10, 0), *executed], kinds)
    assert not _confirmed_before_executed(suite, 0, [_confirmed(2, 9), reset])
