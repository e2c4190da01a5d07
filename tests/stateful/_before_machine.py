"""What the chain state machines share: a fresh chain per run, full-length runs, one settings profile.

Why reject short runs: hypothesis 6.27 (pinned by brownie) starts every search with "small examples"
(a novel prefix extended with zeros, which ends a state machine after a step or two) and keeps doing
so until ten of them are valid. With the few examples a chain can afford, every run would then be
one or two steps long. Runs shorter than `min_steps` are rejected instead: after five rejected
zero-extensions in a row hypothesis abandons that phase and every later run has its full length.
A failure still shrinks, to a run of at least `min_steps` steps.
"""

import re
import sys

from hypothesis import HealthCheck, reject, settings
from hypothesis import stateful as sf


def machine_settings(max_examples: int, steps: int) -> settings:
    """Modest budgets: each step is a few transactions and a few dozen calls on a local chain."""
    return settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


class ChainMachine(sf.RuleBasedStateMachine):
    """A state machine over the module's deployment: each run starts from the test's snapshot."""

    min_steps = 6

    def __init__(self, chain):
        super().__init__()
        chain.revert()
        self.steps = -1  # the invariants run once before the first step

    @sf.invariant()
    def count_steps(self):
        self.steps += 1

    def run_completed(self) -> bool:
        """Call first in `teardown`, which does its closing work only when this returns True.

        False while an exception is on its way out (a failing step, or hypothesis stopping a run
        whose data ran out): the teardown must not mask it. A short run that ended normally is
        rejected (see the module docstring).
        """
        if sys.exc_info()[0] is not None:
            return False
        if self.steps < self.min_steps:
            reject()
        return True


def read_all(calls):
    """Results of view calls [(contract.method, args), ...] fetched in one JSON-RPC batch.

    Why: the invariants read every account or participant after every step; one HTTP round trip
    instead of dozens keeps a step's cost near that of its transactions.
    """
    from brownie import web3

    requests = [
        ("eth_call", [{"to": fn._address, "data": fn.encode_input(*args)}, "latest"])
        for fn, args in calls
    ]
    if not requests:
        return []
    replies = sorted(web3.provider.make_batch_request(requests), key=lambda r: r["id"])
    out = []
    for (fn, args), reply in zip(calls, replies, strict=True):
        if "error" in reply:
            raise AssertionError(f"{fn._name}{tuple(args)} reverted: {reply['error']}")
        out.append(fn.decode_output(reply["result"]))
    return out


def named_error(name: str, *values) -> str:
    """The exact revert message brownie decodes for a custom error, as a `revert_pattern`.

    brownie prints each value with str(): bytes32 as a bytes literal, addresses in lower case.
    """
    shown = [v.lower() if isinstance(v, str) and v.startswith("0x") else v for v in values]
    return rf"{name}: " + ", ".join(re.escape(str(v)) for v in shown)
