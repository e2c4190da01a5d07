"""Run `consortium` in a process that SIGKILLs itself at an exact point: after the n-th keyed batch of
a kind was mined and before the outbox books it (the window the outbox exists for).

Used as `python -m tests.agent.killhook agent --institution ...` with KILL_AT_KIND and KILL_AT_NTH in
the environment. The kill is the operating system's SIGKILL of a real process; only its moment is
chosen, by wrapping Outbox._book in this process.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> int:
    from consortium import outbox

    kind, nth = os.environ["KILL_AT_KIND"], int(os.environ["KILL_AT_NTH"])
    original = outbox.Outbox._book
    sent = {"n": 0}

    def _book(self, k, key, args, found, tx):
        if k == kind and tx is not None:  # booked from this process's own receipt
            sent["n"] += 1
            if sent["n"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return original(self, k, key, args, found, tx)

    outbox.Outbox._book = _book
    from consortium.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
