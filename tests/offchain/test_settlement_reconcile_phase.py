"""A first party's reconciliations as one phase of its agent's pipe (agent.lines.settlement
`_FirstPartyRole.reconcile`): the statuses read in one batch, only the reconciliations still needed
sent, one wait; a refusal because the cycle was netted under the phase reported by name while the
others stand; any other failure raised so the follower retries the event. The engine, the pipe and
the sending party are stand-ins that keep the chain's answers: the phase's decisions are under test,
the agents' processes on a chain are tests/agent/test_settlement_agents.py."""

import json
from types import SimpleNamespace

import pytest

from consortium.agent.lines.settlement import (
    MATCHED,
    NETTED,
    OPEN,
    RECON_NONE,
    BrokerRole,
    peer_key,
)
from consortium.txpipe import TxPipeError

CYCLE = b"SETTLE-TEST".ljust(32, b"\0")
ME = "0x" + "11" * 20
PEERS = ["0x" + "22" * 20, "0x" + "33" * 20, "0x" + "44" * 20]
OWNER = b"\x55" * 32


class Chain:
    """The engine's state the phase reads: reconciliation statuses and the cycle's status."""

    def __init__(self, status=OPEN):
        self.recon = {}
        self.status = status
        self.reads = 0


class Engine:
    address = "0x" + "ee" * 20

    def __init__(self, chain):
        self.chain = chain

    def getCycle(self, cycle_id):
        return {"status": self.chain.status}


class Tx:
    def __init__(self, key):
        self.key, self.status, self.error = key, None, None


class Pipe:
    """Sends are kept until `wait`, which mines them: `refuse` fails these keys (and nets the cycle
    first when `nets` says the netting lands inside the phase)."""

    def __init__(self, chain, refuse=(), nets=False):
        self.chain, self.refuse, self.nets = chain, set(refuse), nets
        self.pending, self.sent, self.waits = [], [], 0

    def call_many(self, contract, fn, args):
        assert fn == "reconStatus"
        self.chain.reads += 1
        return [self.chain.recon.get(key, RECON_NONE) for _cycle, _party, key in args]

    def wait(self, raise_on_failure=True):
        assert raise_on_failure is False  # the phase settles every result before it decides
        self.waits += 1
        if self.nets:
            self.chain.status = NETTED
        for tx in self.pending:
            if tx.key in self.refuse:
                tx.status, tx.error = 0, "SettlementCycleNotOpen: 0x" + CYCLE.hex()
            else:
                tx.status = 1
                self.chain.recon[tx.key] = MATCHED
        self.sent += self.pending
        self.pending = []


class Sender:
    def __init__(self, pipe):
        self.pipe = pipe

    def _post(self, key):
        tx = Tx(key)
        self.pipe.pending.append(tx)
        return tx

    def reconcile(self, cycle_id, peer):
        return self._post(peer_key(peer))

    def reconcile_investor(self, cycle_id, owner, statement):
        assert statement == ["trade"]
        return self._post(owner)


def _role(tmp_path, chain, pipe):
    role = BrokerRole.__new__(BrokerRole)

    def write_output(folder, name, text):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / name).write_text(text)

    role.agent = SimpleNamespace(
        account=SimpleNamespace(address=ME),
        pipe=pipe,
        home=SimpleNamespace(outbox=tmp_path),
        write_output=write_output,
        suite={"SettlementEngine": Engine(chain)},
    )
    role._sender = Sender(pipe)
    return role


def _refused(tmp_path):
    path = tmp_path / "settlement" / "SETTLE-TEST.json"
    return json.loads(path.read_text()).get("reconciliation_refused") if path.exists() else None


def test_reconcile__several_needed__one_read_one_wait_each_sent_once(tmp_path):
    chain = Chain()
    chain.recon[peer_key(PEERS[1])] = MATCHED  # reconciled earlier: not sent again
    pipe = Pipe(chain)
    _role(tmp_path, chain, pipe).reconcile(CYCLE, PEERS, {OWNER: ["trade"]})
    assert [tx.key for tx in pipe.sent] == [peer_key(PEERS[0]), peer_key(PEERS[2]), OWNER]
    assert chain.reads == 1 and pipe.waits == 1
    assert _refused(tmp_path) is None


def test_reconcile__replayed_after_the_phase__reads_the_chain_and_sends_nothing(tmp_path):
    chain = Chain()
    pipe = Pipe(chain)
    role = _role(tmp_path, chain, pipe)
    role.reconcile(CYCLE, PEERS, {OWNER: ["trade"]})
    role.reconcile(CYCLE, PEERS, {OWNER: ["trade"]})  # the follower's replay after a kill
    assert len(pipe.sent) == 4 and pipe.waits == 1


def test_reconcile__cycle_netted_under_the_phase__refused_one_reported_the_others_stand(tmp_path):
    chain = Chain()
    late = peer_key(PEERS[2])
    pipe = Pipe(chain, refuse={late}, nets=True)
    _role(tmp_path, chain, pipe).reconcile(CYCLE, PEERS, {OWNER: ["trade"]})  # no raise
    assert _refused(tmp_path) == {"0x" + late.hex(): NETTED}
    assert {k for k, s in chain.recon.items() if s == MATCHED} == {
        peer_key(PEERS[0]),
        peer_key(PEERS[1]),
        OWNER,
    }


def test_reconcile__refused_while_the_cycle_is_open__raised_naming_it_nothing_reported(tmp_path):
    chain = Chain()
    bad = peer_key(PEERS[0])
    pipe = Pipe(chain, refuse={bad})
    with pytest.raises(TxPipeError, match="0x" + bad.hex()) as raised:
        _role(tmp_path, chain, pipe).reconcile(CYCLE, PEERS)
    assert len(raised.value.failures) == 1
    assert _refused(tmp_path) is None
    assert pipe.waits == 1  # the phase was closed before raising: no nonce left queued


def test_reconcile__cycle_netted_before_the_phase__nothing_sent_each_needed_reported(tmp_path):
    chain = Chain(status=NETTED)
    chain.recon[peer_key(PEERS[0])] = MATCHED
    pipe = Pipe(chain)
    _role(tmp_path, chain, pipe).reconcile(CYCLE, PEERS, {OWNER: ["trade"]})
    assert pipe.sent == [] and pipe.waits == 0
    named = {"0x" + peer_key(p).hex() for p in PEERS[1:]} | {"0x" + OWNER.hex()}
    assert _refused(tmp_path) == dict.fromkeys(named, NETTED)
