"""uploadTrades: first clearing data equals the Python mirror; bad input reverts and changes nothing."""

import dataclasses
import itertools

import brownie
import pytest
from brownie.test import given
from hypothesis import settings
from hypothesis import strategies as st

from consortium.domain.clearing import (
    ALL,
    BPS_DENOMINATOR,
    MAX_PRICE,
    MAX_QUANTITY,
    Charge,
    ChargeKind,
    ClearingError,
    Payer,
    clear,
    first_clearing,
    peer_key,
    trade_id,
)
from consortium.domain.hashing import code32
from consortium.roles.settlement import MAX_BATCH, MAX_UPLOAD_BATCH
from consortium.scenarios import settlement as day


def _hex(b):
    return "0x" + b.hex()


def test_upload__participant__totals_buckets_and_hash_match_python(
    engine, settle_cast, trades, cycle
):
    p = settle_cast.participants[0]
    txs = p.upload(cycle, trades)
    want = first_clearing(p.address, trades, p.charges)
    for ccy, tot in want.totals.items():
        assert tuple(engine.firstClearing(cycle, p.address, ccy)) == tot.as_tuple()
    for key, b in want.buckets.items():
        assert tuple(engine.bucket(cycle, p.address, key)) == (b.count, _hex(b.hash))
    assert engine.clearingHash(cycle, p.address) == _hex(want.clearing_hash)
    ev = txs[-1].events["TradesUploaded"]
    assert ev["party"] == p.address and ev["totalCount"] == len(p.mine(trades))
    assert ev["tradeSetHash"] == _hex(want.bucket(ALL).hash)
    assert ev["clearingHash"] == _hex(want.clearing_hash)


def test_upload__two_batches__same_as_one(engine, settle_cast, trades, cycle):
    p = settle_cast.participants[1]
    p.upload(cycle, trades, batch=3)
    want = first_clearing(p.address, trades, p.charges)
    assert engine.clearingHash(cycle, p.address) == _hex(want.clearing_hash)
    assert engine.bucket(cycle, p.address, ALL)[0] == len(p.mine(trades))


def test_upload__each_batch__first_clearing_data_per_currency_is_the_running_sum(
    engine, settle_cast, trades, cycle
):
    """One FirstClearingData per currency a batch touches, before its TradesUploaded, carrying the
    cycle's sums so far: the Python mirror over the trades uploaded up to that batch."""
    p = settle_cast.participants[1]
    mine = p.mine(trades)
    txs = p.upload(cycle, trades, batch=3)
    assert len(txs) > 2 and len({t.currency for t in mine}) > 1
    for i, tx in enumerate(txs):
        so_far = first_clearing(p.address, mine[: 3 * (i + 1)], p.charges).totals
        batch = {t.currency for t in mine[3 * i : 3 * (i + 1)]}
        events = tx.events["FirstClearingData"]
        assert sorted(_hex(e["currency"]) for e in events) == sorted(_hex(c) for c in batch)
        for e in events:
            assert e.address == engine.address
            assert (e["cycleId"], e["party"]) == (_hex(cycle), p.address)
            want = so_far[bytes(e["currency"])].as_tuple()
            assert tuple(e.values())[3:] == want
        names = [e.name for e in tx.events]
        assert names.index("TradesUploaded") > max(
            j for j, n in enumerate(names) if n == "FirstClearingData"
        )
    for ccy, tot in first_clearing(p.address, mine, p.charges).totals.items():  # the last ones
        assert tuple(engine.firstClearing(cycle, p.address, ccy)) == tot.as_tuple()


def test_upload__one_trade_batches__sums_the_batch_adds_nothing_to_carried_over(
    engine, settle_cast, trades, cycle, monkeypatch
):
    """Fees on buys only, taxes on sells only, one trade a batch: each batch adds nothing to one
    net and to fees or taxes, and its events still carry the cycle's sums of every field."""
    p = settle_cast.participants[0]
    monkeypatch.setattr(p, "charges", dict(p.charges))
    mine = p.mine(trades)
    for sec in sorted({t.security_id for t in mine}):
        p.configure(
            sec,
            [
                Charge(ChargeKind.FEE, Payer.BUYER, 25, 7),
                Charge(ChargeKind.TAX, Payer.SELLER, 10, 1),
            ],
        )
    txs = p.upload(cycle, trades, batch=1)
    assert len(txs) == len(mine)
    for i, (t, tx) in enumerate(zip(mine, txs)):
        (e,) = tx.events["FirstClearingData"]
        assert bytes(e["currency"]) == t.currency
        want = first_clearing(p.address, mine[: i + 1], p.charges).totals[t.currency]
        assert tuple(e.values())[3:] == want.as_tuple()
    last = first_clearing(p.address, mine, p.charges).totals.values()
    assert any(x.fees and x.taxes and x.buy_net and x.sell_net for x in last)  # both sides


def _bad(t, **kw):
    return dataclasses.replace(t, **kw)


BAD = {
    "unknown security": ({"security_id": 999}, "SettlementUnknownSecurity"),
    "unknown currency": ({"currency": code32("USD")}, "SettlementUnknownCurrency"),
    "zero quantity": ({"quantity": 0}, "ClearingQuantityOutOfRange"),
    "negative quantity": ({"quantity": 2**256 - 5}, "ClearingQuantityOutOfRange"),
    "quantity too large": ({"quantity": MAX_QUANTITY + 1}, "ClearingQuantityOutOfRange"),
    "zero price": ({"price": 0}, "ClearingPriceOutOfRange"),
    "price overflow": ({"price": 2**256 - 1}, "ClearingPriceOutOfRange"),
    "price too large": ({"price": MAX_PRICE + 1}, "ClearingPriceOutOfRange"),
    "bad side": ({"side": 2}, "ClearingInvalidSide"),
    "wrong trade date": ({"trade_date": 20200101}, "SettlementTradeDateMismatch"),
    "zero owner commitment": ({"owner_commitment": b"\x00" * 32}, "SettlementZeroCommitment"),
    "not a party": ({"participant": "0x" + "11" * 20}, "SettlementNotTradeParty"),
    "zero trade id": ({"trade_id": b"\x00" * 32}, "SettlementTradeOutOfOrder"),
}


def _unchanged(engine, cycle, party):
    assert engine.bucket(cycle, party, ALL) == (0, _hex(ALL))
    assert engine.clearingHash(cycle, party) == _hex(ALL)


@pytest.mark.parametrize("case", sorted(BAD))
def test_upload__bad_trade__reverts_and_nothing_changes(engine, settle_cast, trades, cycle, case):
    p = settle_cast.participants[0]
    good = p.mine(trades)[0]
    changes, error = BAD[case]
    bad = _bad(good, **({"trade_id": trade_id(10**6)} | changes))
    if case == "not a party":
        bad = _bad(bad, local_broker=None, custodian=None, exchange=None)
    with brownie.reverts(revert_pattern=rf"{error}:?.*"):
        engine.uploadTrades(
            cycle,
            [good.as_tuple(), bad.as_tuple()] if case != "zero trade id" else [bad.as_tuple()],
            {"from": p.account},
        )
    _unchanged(engine, cycle, p.address)


def test_upload__duplicate_or_descending_ids__reverts(engine, settle_cast, trades, cycle):
    p = settle_cast.participants[0]
    mine = p.mine(trades)
    p.upload(cycle, mine[:2])
    before = engine.bucket(cycle, p.address, ALL)
    for batch in ([mine[1]], [mine[1], mine[2]], [mine[3], mine[2]]):
        with brownie.reverts(revert_pattern=r"SettlementTradeOutOfOrder:.*"):
            engine.uploadTrades(cycle, [t.as_tuple() for t in batch], {"from": p.account})
    assert engine.bucket(cycle, p.address, ALL) == before


def test_upload__batch_resent__reverts_naming_first_upload(engine, settle_cast, trades, cycle):
    p = settle_cast.participants[0]
    mine = p.mine(trades)
    (tx,) = p.upload(cycle, mine[:3])
    first = mine[0].trade_id
    assert engine.uploadOf(cycle, p.address, first) == (3, tx.block_number)
    before = (engine.bucket(cycle, p.address, ALL), engine.clearingHash(cycle, p.address))
    # the same batch, or any batch starting at the same trade, is refused before a trade is read
    for batch in (mine[:3], mine[:1]):
        with brownie.reverts(
            f"SettlementBatchAlreadyUploaded: {cycle!r}, {p.address.lower()}, {first!r}, 3, "
            f"{tx.block_number}"
        ):
            engine.uploadTrades(cycle, [t.as_tuple() for t in batch], {"from": p.account})
    assert (engine.bucket(cycle, p.address, ALL), engine.clearingHash(cycle, p.address)) == before
    assert engine.uploadOf(cycle, p.address, mine[1].trade_id) == (0, 0)
    assert engine.uploadOf(cycle, settle_cast.participants[1].address, first) == (0, 0)


def test_batch_constants__python_twins__equal_the_contract(engine):
    """Every batching caller (roles, agents, scenarios, bench, plan) splits by these constants."""
    assert (engine.MAX_UPLOAD_BATCH(), engine.MAX_BATCH()) == (MAX_UPLOAD_BATCH, MAX_BATCH)


def test_upload__batch_bounds__revert(engine, settle_cast, trades, cycle):
    p = settle_cast.participants[0]
    with brownie.reverts(revert_pattern=r"SettlementEmptyBatch.*"):
        engine.uploadTrades(cycle, [], {"from": p.account})
    too_many = [p.mine(trades)[0].as_tuple()] * (MAX_UPLOAD_BATCH + 1)
    with brownie.reverts(
        revert_pattern=rf"SettlementBatchTooLarge: {MAX_UPLOAD_BATCH + 1}, {MAX_UPLOAD_BATCH}"
    ):
        engine.uploadTrades(cycle, too_many, {"from": p.account})
    _unchanged(engine, cycle, p.address)


def test_upload__cycle_not_open__reverts(engine, settle_cast, trades):
    p = settle_cast.participants[0]
    with brownie.reverts(revert_pattern=r"SettlementCycleNotOpen:.*"):
        engine.uploadTrades(code32("NOPE"), [p.mine(trades)[0].as_tuple()], {"from": p.account})


def test_upload__charges_exceed_gross_on_sell__reverts(
    engine, settle_cast, trades, cycle, monkeypatch
):
    p = settle_cast.participants[0]
    monkeypatch.setattr(
        p, "charges", dict(p.charges)
    )  # the chain is reverted after the test; so is this
    sell = next(t for t in p.mine(trades) if t.side == 1)
    p.configure(sell.security_id, [Charge(ChargeKind.FEE, Payer.SELLER, 0, sell.gross + 1)])
    with brownie.reverts(revert_pattern=r"ClearingChargesExceedGross:.*"):
        engine.uploadTrades(cycle, [sell.as_tuple()], {"from": p.account})
    _unchanged(engine, cycle, p.address)


def test_upload__peer_buckets_agree_between_parties(engine, settle_cast, trades, cycle):
    local = settle_cast.locals[0]
    for party in settle_cast.first_parties():
        party.upload(cycle, trades)
    for p in settle_cast.participants:
        assert engine.bucket(cycle, p.address, peer_key(local.address)) == engine.bucket(
            cycle, local.address, peer_key(p.address)
        )


def test_upload__charge_borne_by_buyer_or_seller__applies_to_that_side_only(
    engine, settle_cast, trades, cycle, monkeypatch
):
    """A product whose fee the buyer bears and whose tax the seller bears: buys carry only the fee,
    sells only the tax, and the contract's clearing equals the Python mirror's."""
    p = settle_cast.participants[0]
    monkeypatch.setattr(p, "charges", dict(p.charges))
    mine = p.mine(trades)
    sec = next(
        s
        for s in sorted({t.security_id for t in mine})
        if {t.side for t in mine if t.security_id == s} == {0, 1}
    )
    p.configure(
        sec,
        [Charge(ChargeKind.FEE, Payer.BUYER, 25, 7), Charge(ChargeKind.TAX, Payer.SELLER, 10, 1)],
    )
    p.upload(cycle, trades)
    want = first_clearing(p.address, trades, p.charges)
    assert engine.clearingHash(cycle, p.address) == _hex(want.clearing_hash)
    for ccy, tot in want.totals.items():
        assert tuple(engine.firstClearing(cycle, p.address, ccy)) == tot.as_tuple()
    buy, sell = (next(t for t in mine if t.security_id == sec and t.side == s) for s in (0, 1))
    on_buy, on_sell = (clear(t.side, t.quantity, t.price, p.charges[sec]) for t in (buy, sell))
    assert on_buy.fees > 0 and on_buy.taxes == 0 and on_sell.fees == 0 and on_sell.taxes > 0


# The assembly pass against its Python twin on random charge configurations and amounts up to the
# bounds: the same first clearing data and hashes, or the same named refusal and nothing changed.
# The tests above cover each rule once; this covers their combinations (several charges a product,
# each payer side, minimums above the rate, the largest quantities and prices).
_cycles = itertools.count()

charge = st.builds(
    Charge,
    st.sampled_from(ChargeKind),
    st.sampled_from(Payer),
    st.integers(0, BPS_DENOMINATOR),
    st.one_of(st.just(0), st.integers(1, 10**6), st.integers(0, 10**24)),
)
amounts = st.tuples(
    st.one_of(st.integers(1, 10**4), st.integers(1, MAX_QUANTITY)),
    st.one_of(st.integers(1, 10**6), st.integers(1, MAX_PRICE)),
)


@settings(max_examples=8, deadline=None)
@given(
    configs=st.lists(st.lists(charge, max_size=3), min_size=1, max_size=3),
    sizes=st.lists(amounts, min_size=24, max_size=24),
)
def test_upload__random_charges_and_amounts__chain_equals_python(
    engine, settle_cast, trades, configs, sizes
):
    p = settle_cast.participants[0]
    saved = dict(p.charges)
    try:
        mine = p.mine(trades)
        # every product configured in every example, so no example depends on what another left
        for i, sec in enumerate(sorted({t.security_id for t in mine})):
            p.configure(sec, configs[i] if i < len(configs) else saved.get(sec, []))
        batch = [
            dataclasses.replace(t, quantity=q, price=x) for t, (q, x) in zip(mine, sizes)
        ] + mine[len(sizes) :]
        cid = code32(f"DIFF-{next(_cycles)}")
        settle_cast.ccp.open_cycle(cid, day.TRADE_DATE)
        try:
            want = first_clearing(p.address, batch, p.charges)
        except ClearingError as refused:
            with brownie.reverts(revert_pattern=rf"{refused.name}:.*"):
                engine.uploadTrades(cid, [t.as_tuple() for t in batch], {"from": p.account})
            assert engine.clearingHash(cid, p.address) == _hex(ALL)
            return
        engine.uploadTrades(cid, [t.as_tuple() for t in batch], {"from": p.account})
        assert engine.clearingHash(cid, p.address) == _hex(want.clearing_hash)
        for ccy, tot in want.totals.items():
            assert tuple(engine.firstClearing(cid, p.address, ccy)) == tot.as_tuple()
        for key, b in want.buckets.items():
            assert tuple(engine.bucket(cid, p.address, key)) == (b.count, _hex(b.hash))
    finally:
        p.charges.clear()
        p.charges.update(saved)
