"""Run `consortium` in a process that SIGKILLs itself at an exact point: after the n-th keyed batch of
a kind was mined and before the outbox books it (the window the outbox exists for); or, with a kind
`message:<kind>`, after the n-th message of that kind was handed to the transport and before the
sender's journal marks it sent (the window `send_once` replays); or, with a kind `wait:<method>`, at
the n-th phase of the agent's pipe holding a `<method>` transaction, once its transactions are sent
and before their receipts are collected.

Used as `python -m tests.agent.killhook agent --institution ...` with KILL_AT_KIND and KILL_AT_NTH in
the environment. The kill is the operating system's SIGKILL of a real process; only its moment is
chosen, by wrapping Outbox._book (or Endpoint.send, or TxPipe.wait) in this process.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> int:
    from consortium import channels, outbox, txpipe

    kind, nth = os.environ["KILL_AT_KIND"], int(os.environ["KILL_AT_NTH"])
    original = outbox.Outbox._book
    sent = {"n": 0}
    if kind.startswith("message:"):
        send = channels.Endpoint.send

        def _send(self, to, message_kind, body):
            m = send(self, to, message_kind, body)
            if f"message:{message_kind}" == kind:
                sent["n"] += 1
                if sent["n"] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
            return m

        channels.Endpoint.send = _send
    elif kind.startswith("wait:"):
        method, wait = kind.removeprefix("wait:"), txpipe.TxPipe.wait

        def _wait(self, *args, **kwargs):
            if any(p.label.split("#")[0] == method for p in self.pending):  # sent, not collected
                sent["n"] += 1
                if sent["n"] == nth:
                    self.flush()  # a pipe that estimates posts its queue here: now in flight
                    os.kill(os.getpid(), signal.SIGKILL)
            return wait(self, *args, **kwargs)

        txpipe.TxPipe.wait = _wait

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
