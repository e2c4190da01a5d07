"""What every killed-agent test does: kill an agent right after its send, then check the resumed one.

"Killed" is simulated deterministically: the agent's outbox books the receipt through `_book`; making
that raise lets the transaction reach the chain while the agent dies before recording it, exactly the
window the outbox exists for. The fresh agent is a new role object over the same store file (what a
restarted process builds).
"""

from contextlib import contextmanager

import pytest
from eth_utils import event_abi_to_log_topic

from consortium.outbox import Booking


class Killed(Exception):
    """The agent's process died here (simulated)."""


@contextmanager
def dies_after_send(agent):
    """The agent's next keyed batch reaches the chain, then the agent dies before booking it."""

    def die(*_args, **_kw):
        raise Killed

    agent.outbox._book = die
    with pytest.raises(Killed):
        yield


def resumed_once(agent, kind: str, key: str, value: dict) -> Booking:
    """The fresh agent books the dead one's batch from the chain, once, and resends nothing."""
    (pending,) = agent.outbox.pending()
    assert (pending["kind"], pending["key"]) == (kind, key)
    (booking,) = agent.outbox.resume()
    assert (booking.kind, booking.key, booking.source, booking.value) == (kind, key, "chain", value)
    row = agent.store.intent(kind, key)
    assert row["status"] == "booked" and row["booking"]["value"] == value
    assert agent.outbox.resume() == [] and agent.outbox.pending() == []
    assert agent.store.intent(kind, key)["booked_at"] == row["booked_at"]  # booked once
    assert [r["key"] for r in agent.store.intents(kinds=[kind])] == [key]
    return booking


def logs_since(web3, contract, event: str, block: int) -> list:
    """Logs of `contract`'s `event` from `block` on (the chain's own count of a batch)."""
    abi = next(e for e in contract.abi if e.get("type") == "event" and e["name"] == event)
    return web3.eth.get_logs(
        {
            "address": str(contract.address),
            "fromBlock": block,
            "toBlock": "latest",
            "topics": ["0x" + event_abi_to_log_topic(abi).hex()],
        }
    )
