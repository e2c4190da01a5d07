"""The CCP and CSD clear from the chain alone: no trades list is handed to them.

A CCP object built fresh (its account, the engine at its address, an empty store, its own charges)
reads the same executions, second clearing and netting as the day's CCP; a first party's tampered
upload, even one sent before the exchange's, changes nothing the CCP takes as of record and shows as
that party's reconciliation break, as before. The CSD settles the legs the CCP instructed, read
from the chain.
"""

import random

import pytest

from consortium import chain
from consortium.chain import web3
from consortium.domain.clearing import second_clearing
from consortium.domain.hashing import code32
from consortium.domain.netting import net
from consortium.roles.executions import UploadBreak
from consortium.roles.membership import Institution
from consortium.roles.settlement import CentralCounterparty, CentralDepository, CycleNotNetted
from consortium.scenarios import settlement as day
from consortium.store import Store
from consortium.txpipe import TxPipe

LEVEL_SECOND = 0


def _fresh(cls, role, registry, kind):
    """A new process's role object: the account, the engine by address, an empty store."""
    inst = Institution(f"fresh {kind}", role.account, registry, "HK")
    engine = chain.project().SettlementEngine.at(role.engine.address)
    return cls(inst, engine, None, store=Store())


def _b32(value) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def _distributed(tx_list, second):
    """{party: (count, set hash, config hash, {currency: totals})} as `second` distributed it on
    chain."""
    out, totals = {}, {}
    for tx in tx_list:
        if tx is None or "SecondClearingDistributed" not in tx.events:
            continue
        for ev in tx.events["SecondClearingData"]:
            if ev["secondParty"] == second:
                fields = ("tradeCount", "gross", "fees", "taxes", "buyNet", "sellNet")
                line = tuple(ev[k] for k in fields)
                totals.setdefault(ev["party"], {})[_b32(ev["currency"])] = line
        for ev in tx.events["SecondClearingDistributed"]:
            if ev["secondParty"] == second:
                party = ev["party"]
                hashes = (_b32(ev["tradeSetHash"]), _b32(ev["configHash"]))
                out[party] = (ev["tradeCount"], *hashes, totals.get(party, {}))
    return out


def test_fresh_ccp__from_chain_alone__same_second_clearing_and_netting_as_the_day(
    settle_cast, engine, registry
):
    trades, _ = day.generate_trades(random.Random(23), 30, settle_cast, owners=4)
    day.fund(settle_cast, trades, ref="isolation day")
    local = settle_cast.locals[0]
    victim = next(t for t in trades if t.local_broker == local.address)
    cid = code32("ISOLATION-DAY")
    out = day.run_cycle(
        settle_cast, cid, trades, corrupt={local.address: victim.trade_id}, pipe=TxPipe(web3())
    )
    ccp = _fresh(CentralCounterparty, settle_cast.ccp, registry, "ccp")
    csd = _fresh(CentralDepository, settle_cast.csd, registry, "csd")
    assert (
        ccp.store is not settle_cast.ccp.store
        and ccp.institution is not settle_cast.ccp.institution
    )

    cycle = ccp.read_cycle(cid)
    assert cycle.trades == sorted(trades, key=lambda t: t.trade_id)  # the venue's, not the tamper
    exchange = settle_cast.exchanges[0].address
    assert cycle.breaks == [
        UploadBreak(victim.trade_id, exchange, victim, local.address, day.tamper(victim))
    ]
    assert cycle.deferred == [] and cycle.off_venue == []
    first = [p.address for p in settle_cast.first_parties()]
    assert set(cycle.uploaders()) == set(first)
    charges = {p.address: p.charges for p in settle_cast.first_parties()}
    for fresh, role in ((ccp, settle_cast.ccp), (csd, settle_cast.csd)):
        entries = fresh.compute(cid)  # parties from the chain
        assert entries == [second_clearing(e.party, trades, charges[e.party]) for e in entries]
        assert {e.party for e in entries} == set(first)
        want = _distributed(out.txs, role.address)
        assert {
            e.party: (*e.as_tuple()[1:4], {c: t.as_tuple() for c, t in e.totals.items()})
            for e in entries
        } == want
    result = ccp.net(cid)
    assert result.legs == out.netting.legs == net(trades).legs == csd.instructed_legs(cid)
    assert result.trade_set.as_tuple() == out.netting.trade_set.as_tuple()
    on_chain = engine.getCycle(cid)
    assert on_chain["legsHash"] == "0x" + result.legs_hash.hex()
    assert on_chain["tradeSetHash"] == "0x" + result.trade_set.hash.hex()


def test_tampered_upload_before_the_exchange__not_of_record__break_shows_as_before(
    settle_cast, engine, registry
):
    """The local broker uploads a tampered copy first; the exchange's copy, later, is of record."""
    trades, _ = day.generate_trades(random.Random(29), 12, settle_cast, owners=3)
    local = settle_cast.locals[0]
    victim = next(t for t in trades if t.local_broker == local.address)
    cid = code32("ISOLATION-TAMPER")
    cast = settle_cast
    cast.ccp.open_cycle(cid, day.TRADE_DATE)
    local.upload(cid, [day.tamper(t) if t == victim else t for t in trades])
    for party in cast.first_parties():
        if party is not local:
            party.upload(cid, trades)
    ccp = _fresh(CentralCounterparty, cast.ccp, registry, "ccp")
    cycle = ccp.read_cycle(cid)
    assert cycle.uploads[0].party == local.address  # the tampered copy came first
    assert cycle.by_id()[victim.trade_id] == victim
    assert [(b.party, b.other) for b in cycle.breaks] == [(local.address, day.tamper(victim))]
    first = [p.address for p in cast.first_parties()]
    ccp.distribute(cid, ccp.compute(cid, first))
    ccp.close_uploads(cid)
    seconds = {
        p.address: p.reconcile(cid, ccp.address).events["Reconciled"] for p in cast.first_parties()
    }
    assert not seconds[local.address]["matched"]  # the tamperer's break, at the second-party level
    assert int(seconds[local.address]["level"]) == LEVEL_SECOND
    assert all(ev["matched"] for a, ev in seconds.items() if a != local.address)
    result = ccp.net(cid)
    assert result.legs == net(trades).legs
    day.fund(cast, trades, ref="isolation tamper")
    day.instruct(cast, cid, trades)  # the participants, each from its own book
    ccp.instruct(cid, result)
    cast.csd.settle(cid)
    assert engine.getCycle(cid)["status"] == 3


def test_csd__settles_the_legs_instructed_on_chain__none_after_an_unwind(
    settle_cast, engine, registry, prepare
):
    trades, _ = day.generate_trades(random.Random(31), 8, settle_cast, owners=2)
    cid = code32("ISOLATION-LEGS")
    result = prepare(cid, trades)
    csd = _fresh(CentralDepository, settle_cast.csd, registry, "csd")
    assert csd.instructed_legs(cid) == []  # not netted yet
    with pytest.raises(CycleNotNetted):
        csd.settle(cid)
    settle_cast.ccp.instruct(cid, result)
    assert csd.instructed_legs(cid) == result.legs
    settle_cast.ccp.unwind(cid, "isolation: unwound")
    assert csd.instructed_legs(cid) == []
    with pytest.raises(CycleNotNetted):
        csd.settle(cid)
    settle_cast.ccp.instruct(cid, settle_cast.ccp.net(cid))
    tx = csd.settle(cid)
    assert tx.events["CycleSettled"]["legsHash"] == "0x" + result.legs_hash.hex()
    assert engine.getCycle(cid)["status"] == 3
