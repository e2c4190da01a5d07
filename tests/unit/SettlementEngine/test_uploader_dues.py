"""submitNetting answers for every uploader (a participant that uploaded trades naming itself), not
only for the legs' participants: each one with trades left to net reconciled with the CCP; fees or
taxes due in a currency instructed in a cash line there; its cash net there (first clearing data
less deferred trades) what the netting moves for it. So a participant netting to zero still pays its
charges, no currency's charges can be left out, and the CCP cannot leave out participants whose nets
cancel. A participant that owes nothing and nets to zero need not instruct."""

import dataclasses

import brownie

from consortium.domain.clearing import BUY, SELL, Trade, trade_id
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.instructions import derive, dues
from consortium.domain.netting import CASH, currency_asset
from consortium.scenarios import settlement as day
from tests.stateful.machine import named_error

CID = code32("DUES-1")
HKD, CNY = code32("HKD"), code32("CNY")


def _trade(n, sid, side, who, qty=100):
    _, ccy, price = day.SECURITIES[sid]
    return Trade(
        trade_id(n),
        sid,
        code32(ccy),
        side,
        qty,
        price,
        day.TRADE_DATE,
        doc_hash(f"owner {n}"),
        participant=who.address,
    )


def _prepare(c, trades, parties, reconciled=None):
    """Open, upload, distribute, close, reconcile (`reconciled`: default every party); the CCP's
    netting as it reads the chain."""
    c.ccp.open_cycle(CID, day.TRADE_DATE)
    for p in parties:
        p.upload(CID, trades)
    c.ccp.distribute(CID, c.ccp.compute(CID, [p.address for p in parties]))
    c.ccp.close_uploads(CID)
    for p in parties if reconciled is None else reconciled:
        p.reconcile(CID, c.ccp.address)
    return c.ccp.net(CID)


def _refused(c, result, pattern):
    with brownie.reverts(revert_pattern=pattern):
        c.ccp.instruct(CID, result)


def test_netting__uploader_nets_zero_unreconciled_then_uninstructed__refused_until_it_does(
    engine, settle_cast
):
    c = settle_cast
    a, b, d = c.participants
    trades = [_trade(1, 1, BUY, a), _trade(2, 1, SELL, b), _trade(3, 1, SELL, a)]
    trades += [_trade(4, 1, BUY, d)]
    result = _prepare(c, trades, [a, b, d], reconciled=[b, d])
    assert a.address not in {g.participant for g in result.legs}
    assert result.trade_set.count == 4  # its trades count although it has no leg
    for p in (b, d):
        p.submit_instruction(CID, trades)
    # it has trades to net: it reconciles with the CCP first
    _refused(c, result, named_error("SettlementNotReconciled", CID, a.address))
    a.reconcile(CID, c.ccp.address)
    # it owes fees and taxes in HKD: it instructs a cash line there
    _refused(c, result, named_error("SettlementNoInstruction", CID, a.address, CASH, _asset(HKD)))
    assert engine.getCycle(CID)["status"] == 1
    (line,) = derive(a.address, a.mine(trades), a.charges)
    assert (line.kind, line.asset, line.amount) == (CASH, _asset(HKD), 0) and line.fees > 0
    a.submit_instruction(CID, trades)
    tx = c.ccp.instruct(CID, result)
    assert tx.events["CycleNetted"]["tradeCount"] == 4


def test_netting__charges_of_a_currency_without_leg_left_out__refused_naming_it(
    engine, settle_cast
):
    """The participant has legs in HKD; in CNY it buys and sells the same quantity at the same
    price (no leg) but owes fees and taxes: an instruction without its CNY line is refused."""
    c = settle_cast
    a, b, d = c.participants
    trades = [_trade(1, 1, BUY, a), _trade(2, 1, SELL, b)]
    trades += [_trade(3, 3, BUY, a), _trade(4, 3, SELL, d), _trade(5, 3, SELL, a)]
    trades += [_trade(6, 3, BUY, b)]
    result = _prepare(c, trades, [a, b, d])
    assert {(g.kind, g.asset) for g in result.legs if g.participant == a.address} == {
        (0, 1),
        (CASH, _asset(HKD)),
    }
    for p in (b, d):
        p.submit_instruction(CID, trades)
    lines = derive(a.address, a.mine(trades), a.charges)
    cny = [x for x in lines if x.key == (CASH, _asset(CNY))]
    assert cny and cny[0].amount == 0 and cny[0].fees + cny[0].taxes > 0
    a.send_instruction(CID, [x for x in lines if x not in cny])  # accepted as lines go
    _refused(c, result, named_error("SettlementNoInstruction", CID, a.address, CASH, _asset(CNY)))
    assert engine.getCycle(CID)["status"] == 1
    a.send_instruction(CID, lines)
    c.ccp.instruct(CID, result)
    assert engine.getCycle(CID)["status"] == 2


def test_netting__ccp_leaves_out_two_participants_whose_nets_cancel__refused(engine, settle_cast):
    """a buys from d, b from a fourth participant L. The CCP nets b and L only (the trade count and
    hash it gives are the true ones): refused while a owes charges it did not instruct, and refused
    by its cash net when a and d instruct their charges alone. The whole netting goes through."""
    c = settle_cast
    a, b, d = c.participants
    local = c.locals[0]
    local.name_charge_accounts(c.fee_collector, c.tax_authority)
    trades = [_trade(1, 1, BUY, a), _trade(2, 1, SELL, d)]
    trades += [_trade(3, 2, BUY, b, qty=10), _trade(4, 2, SELL, local, qty=10)]
    parties = [a, b, d, local]
    result = _prepare(c, trades, parties)
    for p in (b, local):
        p.submit_instruction(CID, trades)
    short = dataclasses.replace(
        result, legs=[g for g in result.legs if g.participant in (b.address, local.address)]
    )
    _refused(c, short, named_error("SettlementNoInstruction", CID, a.address, CASH, _asset(HKD)))
    for p in (a, d):  # their charges only: as if they had nothing to settle
        lines = derive(p.address, p.mine(trades), p.charges)
        p.send_instruction(CID, [dataclasses.replace(x, amount=0) for x in lines if x.kind == CASH])
    gross = 100 * day.SECURITIES[1][2]
    _refused(c, short, named_error("SettlementCashNetMismatch", CID, a.address, HKD, -gross, 0))
    assert engine.getCycle(CID)["status"] == 1
    for p in (a, d):
        p.submit_instruction(CID, trades)
    tx = c.ccp.instruct(CID, result)
    assert tx.events["CycleNetted"]["tradeCount"] == 4
    # the twin predicted each uploader's figures
    due = dues(a.address, a.mine(trades), a.charges)[_asset(HKD)]
    assert due.cash == -gross and due.fees > 0


def test_netting__uploader_owing_nothing_netting_to_zero__need_not_instruct(engine, settle_cast):
    """A fourth participant without charges buys from a and sells to b at the same price: no leg,
    nothing due, no instruction; the netting counts its trades and goes through."""
    c = settle_cast
    a, b, d = c.participants
    local = c.locals[0]
    engine.setClearingConfig(1, [], local._tx())  # its uploads are cleared without charges
    trades = [_trade(1, 1, BUY, local), _trade(2, 1, SELL, a)]
    trades += [_trade(3, 1, SELL, local), _trade(4, 1, BUY, b)]
    result = _prepare(c, trades, [a, b, d, local])
    assert local.address not in {g.participant for g in result.legs}
    for p in (a, b):
        p.submit_instruction(CID, trades)
    assert not c.ccp.instructions(CID).get(local.address)
    tx = c.ccp.instruct(CID, result)
    assert tx.events["CycleNetted"]["tradeCount"] == 4


def test_netting__after_a_deferral__deferred_net_and_charges_leave_the_dues(engine, settle_cast):
    """d defaults: its execution with b is deferred. b's cash net and charges count the deferred
    trade out (it instructs again and nets); d, with every trade deferred, is asked nothing (no
    reconciliation, no instruction)."""
    c = settle_cast
    a, b, d = c.participants
    trades = [_trade(1, 1, BUY, a), _trade(2, 1, SELL, b)]
    trades += [_trade(3, 1, BUY, d, qty=50), _trade(4, 1, SELL, b, qty=50)]
    _prepare(c, trades, [a, b, d], reconciled=[a, b])
    for p in (a, b):
        p.submit_instruction(CID, trades)
    _refused(c, c.ccp.net(CID), named_error("SettlementNotReconciled", CID, d.address))
    tx = c.ccp.defer(CID, [trades[2].trade_id, trades[3].trade_id], "d defaults")[0]
    assert {e["participant"] for e in tx.events["InstructionVoided"]} == {b.address}
    b.submit_instruction(CID, trades)  # its lines less the deferred trade
    due = dues(b.address, b.mine(trades), b.charges, trades[2:])[_asset(HKD)]
    assert due.cash == 100 * day.SECURITIES[1][2]  # the deferred sell of 50 counted out
    result = c.ccp.net(CID)
    assert {g.participant for g in result.legs} == {a.address, b.address}
    ntx = c.ccp.instruct(CID, result)
    assert ntx.events["CycleNetted"]["tradeCount"] == 2
    assert not c.ccp.instructions(CID).get(d.address)


def _asset(currency: bytes) -> int:
    return currency_asset(currency)
