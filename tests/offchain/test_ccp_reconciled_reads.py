"""The CCP crosses each Reconciled event off its cycle's awaited pairs without reading the cycle
again: the large day's 3,000 reconciliations, one `getCycle` each on a busy chain, held the CCP 13
minutes behind the brokers. It reads the cycle at the cycle's first event and once nothing is late
(the cycle may have been netted meanwhile), and nets only then."""

from __future__ import annotations

from types import SimpleNamespace

from consortium.agent.lines.settlement import OPEN, RECON_NONE, CcpRole, peer_key

ME, CSD, A, B = "0x" + "cc" * 20, "0x" + "cd" * 20, "0x" + "0a" * 20, "0x" + "0b" * 20
CYCLE = b"SETTLE-1".ljust(32, b"\0")


class Engine:
    def __init__(self):
        self.reads, self.status = 0, OPEN

    def getCycle(self, cycle_id):
        self.reads += 1
        return {"ccp": ME, "status": self.status, "uploadsClosed": True}


class _Ccp(CcpRole):
    engine = me = None  # the role's properties, replaced by the test's fakes

    def __init__(self):  # no agent: the role's reads and sends are the test's fakes
        pass


def _ccp(engine, awaited):
    ccp = _Ccp()
    ccp.engine, ccp.me, ccp._expected = engine, ME, {}
    ccp.reports, ccp.netted = [], []
    ccp.agent = SimpleNamespace(settings=SimpleNamespace(addresses={"a": A, "b": B}))
    ccp.report = lambda cycle_id, part, body: ccp.reports.append(dict(body))
    ccp.recon_status = lambda cycle_id, pairs: [RECON_NONE + 1] * len(pairs)  # MATCHED
    ccp.net_or_ask = lambda cycle_id, broken: ccp.netted.append(broken)

    def first_read(cycle_id, ev):  # awaited()'s chain reads, once per process, as awaited() does
        ccp._expected[cycle_id] = {p: set(keys) for p, keys in awaited.items()}
        return CcpRole.awaited(ccp, cycle_id, ev)

    ccp.awaited = lambda cycle_id, ev: (
        CcpRole.awaited(ccp, cycle_id, ev)
        if cycle_id in ccp._expected
        else first_read(cycle_id, ev)
    )
    return ccp


def _ev(party, peer):
    return {"cycleId": CYCLE, "party": party, "peer": peer_key(peer)}


def test_on_reconciled__events_while_pairs_are_late__the_cycle_read_once_not_per_event():
    engine = Engine()
    ccp = _ccp(engine, {A: {peer_key(ME), peer_key(CSD), peer_key(B)}, B: {peer_key(ME)}})
    for ev in (_ev(A, ME), _ev(A, CSD), _ev(A, B)):
        ccp.on_reconciled(ev)
    assert engine.reads == 1  # the first event's: ours, open, uploads closed
    assert ccp.reports[-1] == {"b": 1} and ccp.netted == []
    ccp.on_reconciled(_ev(B, ME))  # the last pair: read again before netting
    assert engine.reads == 2 and ccp.reports[-1] == {} and ccp.netted == [[]]


def test_on_reconciled__cycle_netted_since_its_first_read__nothing_netted_again():
    engine = Engine()
    ccp = _ccp(engine, {A: {peer_key(ME), peer_key(CSD)}})
    ccp.on_reconciled(_ev(A, ME))
    engine.status = OPEN + 1  # NETTED by another path (a restart, a decision)
    ccp.on_reconciled(_ev(A, CSD))
    assert engine.reads == 2 and ccp.netted == []


def test_on_reconciled__another_ccp_s_cycle__ignored_after_one_read():
    engine = Engine()
    engine.getCycle = lambda cycle_id: (
        setattr(engine, "reads", engine.reads + 1)
        or {"ccp": CSD, "status": OPEN, "uploadsClosed": True}
    )
    ccp = _ccp(engine, {A: {peer_key(ME)}})
    ccp.on_reconciled(_ev(A, ME))
    assert engine.reads == 1 and ccp._expected == {} and ccp.reports == [] and ccp.netted == []
