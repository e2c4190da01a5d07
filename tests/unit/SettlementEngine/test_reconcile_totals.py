"""Reconciliation by amounts against a second party: per-currency second clearing totals, compared
with the party's first clearing data at reconcile (level SecondParty), both ways; bad entries are
refused by name and store nothing."""

import random
from dataclasses import replace

import brownie
import pytest
from brownie.test import given, strategy
from hypothesis import settings

from consortium.domain.clearing import (
    ClearingTotals,
    first_clearing,
    peer_key,
    second_clearing_ref,
    totals_mismatches,
)
from consortium.domain.hashing import code32
from consortium.scenarios import settlement as day

CNY, HKD = code32("CNY"), code32("HKD")
ZERO6 = (0,) * 6


def _two_currency_party(settle_cast, trades):
    """A participant whose trades are in both currencies."""
    for p in settle_cast.participants:
        if {t.currency for t in p.mine(trades)} == {CNY, HKD}:
            return p
    pytest.skip("no participant trades in both currencies")


def _submit(engine, second, cycle, entries, ref=0):
    return engine.submitSecondClearing(
        cycle, [e.as_tuple() for e in entries], second_clearing_ref(ref), {"from": second.account}
    )


def _mismatches(tx):
    """{currency: (ours, theirs)} of the transaction's ClearingTotalsMismatch events."""
    if "ClearingTotalsMismatch" not in tx.events:
        return {}
    return {
        bytes(e["currency"]): (tuple(e["ours"]), tuple(e["theirs"]))
        for e in tx.events["ClearingTotalsMismatch"]
    }


def _uploaded(settle_cast, cycle, trades, p):
    """`p` uploaded `trades`; the CCP's entry for it, computed from the chain."""
    p.upload(cycle, trades)
    [entry] = settle_cast.ccp.compute(cycle, [p.address])
    return entry


def test_reconcile__identical_totals__matched_no_mismatch(engine, settle_cast, trades, cycle):
    p = _two_currency_party(settle_cast, trades)
    entry = _uploaded(settle_cast, cycle, trades, p)
    assert entry.totals == first_clearing(p.address, trades, p.charges).totals
    settle_cast.ccp.distribute(cycle, [entry])
    tx = p.reconcile(cycle, settle_cast.ccp.address)
    assert tx.events["Reconciled"]["matched"]
    assert "ClearingTotalsMismatch" not in tx.events
    assert engine.reconStatus(cycle, p.address, peer_key(settle_cast.ccp.address)) == 1


def test_reconcile__fees_off_by_one_in_one_currency__broken_naming_currency_and_totals(
    engine, settle_cast, trades, cycle
):
    p = _two_currency_party(settle_cast, trades)
    entry = _uploaded(settle_cast, cycle, trades, p)
    ours = entry.totals[HKD]
    theirs = replace(ours, fees=ours.fees + 1)
    _submit(engine, settle_cast.ccp, cycle, [replace(entry, totals=entry.totals | {HKD: theirs})])
    tx = p.reconcile(cycle, settle_cast.ccp.address)
    ev = tx.events["Reconciled"]
    # the same trades (buckets agree): only the amounts break the level
    assert (ev["ourCount"], ev["ourHash"]) == (ev["theirCount"], ev["theirHash"])
    assert not ev["matched"] and ev["level"] == 0
    [m] = tx.events["ClearingTotalsMismatch"]
    assert (m["party"], m["counterparty"], m["level"]) == (p.address, settle_cast.ccp.address, 0)
    assert bytes(m["currency"]) == HKD
    assert tuple(m["ours"]) == ours.as_tuple() == tuple(engine.firstClearing(cycle, p.address, HKD))
    assert tuple(m["theirs"]) == theirs.as_tuple()
    assert m["theirs"]["fees"] - m["ours"]["fees"] == 1
    assert engine.reconStatus(cycle, p.address, peer_key(settle_cast.ccp.address)) == 2


def test_reconcile__currency_missing_on_their_side__broken(engine, settle_cast, trades, cycle):
    """Their entry counts every trade in CNY, none in HKD: HKD is a mismatch against zeros."""
    p = _two_currency_party(settle_cast, trades)
    entry = _uploaded(settle_cast, cycle, trades, p)
    cny, hkd = entry.totals[CNY], entry.totals[HKD]
    merged = replace(cny, trades=cny.trades + hkd.trades)
    _submit(engine, settle_cast.ccp, cycle, [replace(entry, totals={CNY: merged})])
    tx = p.reconcile(cycle, settle_cast.ccp.address)
    assert not tx.events["Reconciled"]["matched"]
    assert _mismatches(tx) == {
        CNY: (cny.as_tuple(), merged.as_tuple()),
        HKD: (hkd.as_tuple(), ZERO6),
    }


def test_reconcile__currency_missing_on_our_side__broken(engine, settle_cast, trades, cycle):
    """We uploaded HKD trades only; their entry counts one more trade, in CNY: CNY is a mismatch
    with our zeros."""
    p = _two_currency_party(settle_cast, trades)
    entry = _uploaded(settle_cast, cycle, [t for t in trades if t.currency == HKD], p)
    assert set(entry.totals) == {HKD}
    hkd = entry.totals[HKD]
    one = ClearingTotals(1, 100, 1, 0, 101, 0)
    more = replace(entry, trade_count=entry.trade_count + 1, totals={HKD: hkd, CNY: one})
    _submit(engine, settle_cast.csd, cycle, [more])
    tx = p.reconcile(cycle, settle_cast.csd.address)
    assert not tx.events["Reconciled"]["matched"]
    assert _mismatches(tx) == {CNY: (ZERO6, one.as_tuple())}
    assert engine.reconStatus(cycle, p.address, peer_key(settle_cast.csd.address)) == 2


def test_reconcile__intermediary__buckets_only_no_totals(engine, settle_cast, trades, cycle):
    p, local = settle_cast.participants[0], settle_cast.locals[0]
    p.upload(cycle, trades)
    local.upload(cycle, trades)
    tx = local.reconcile(cycle, p.address)
    assert tx.events["Reconciled"]["matched"] and tx.events["Reconciled"]["level"] == 1
    assert "ClearingTotalsMismatch" not in tx.events


def _bad_entries(p, entry):
    """(case, entries, error pattern) for one party's entry `entry` with lines in CNY and HKD."""
    cny, hkd = entry.totals[CNY], entry.totals[HKD]
    who = p.address.lower()
    base = entry.as_tuple()[:4]
    return {
        "unlisted currency": (
            [(*base, [(CNY, cny.as_tuple()), (code32("XYZ"), hkd.as_tuple())])],
            r"SettlementUnknownCurrency: .*",
        ),
        "duplicate currency": (
            [(*base, [(CNY, cny.as_tuple()), (CNY, hkd.as_tuple())])],
            rf"SettlementDuplicateCurrency: {who}, .*",
        ),
        "currencies descending": (
            [(*base, [(HKD, hkd.as_tuple()), (CNY, cny.as_tuple())])],
            rf"SettlementCurrenciesNotSorted: {who}, 1",
        ),
        "line without trades": (
            [(*base, [(CNY, cny.as_tuple()), (HKD, (0, *hkd.as_tuple()[1:]))])],
            rf"SettlementEmptyCurrencyTotals: {who}, .*",
        ),
        "lines miscount the trades": (
            [(p.address, entry.trade_count + 1, *base[2:], entry.as_tuple()[4])],
            rf"SettlementTotalsCountMismatch: {who}, {entry.trade_count + 1}, {entry.trade_count}",
        ),
        "too many lines": ([entry.as_tuple()] * 26, r"SettlementTooManyTotals: 52, 50"),
        "too many entries": (
            [(p.address, 0, b"\x00" * 32, b"\x00" * 32, [])] * 51,
            r"SettlementBatchTooLarge: 51, 50",
        ),
        "no entry": ([], r"SettlementEmptyBatch:.*"),
    }


CASES = [
    "unlisted currency",
    "duplicate currency",
    "currencies descending",
    "line without trades",
    "lines miscount the trades",
    "too many lines",
    "too many entries",
    "no entry",
]


@pytest.mark.parametrize("case", CASES)
def test_submit_second_clearing__bad_entry__named_error_nothing_stored(
    engine, settle_cast, trades, cycle, case
):
    p = _two_currency_party(settle_cast, trades)
    entry = _uploaded(settle_cast, cycle, trades, p)
    entries, error = _bad_entries(p, entry)[case]
    csd = settle_cast.csd
    with brownie.reverts(revert_pattern=error):
        engine.submitSecondClearing(cycle, entries, second_clearing_ref(0), {"from": csd.account})
    assert engine.secondClearingOf(cycle, csd.address, second_clearing_ref(0)) == (0, 0)
    assert engine.bucket(cycle, csd.address, peer_key(p.address)) == (0, "0x" + "00" * 32)
    for ccy in (CNY, HKD):
        assert engine.secondClearing(cycle, csd.address, p.address, ccy) == ZERO6


def test_submit_second_clearing__bad_correction__earlier_entry_kept(
    engine, settle_cast, trades, cycle
):
    p = _two_currency_party(settle_cast, trades)
    entry = _uploaded(settle_cast, cycle, trades, p)
    _submit(engine, settle_cast.ccp, cycle, [entry])
    entries, error = _bad_entries(p, entry)["duplicate currency"]
    with brownie.reverts(revert_pattern=error):
        engine.submitSecondClearing(
            cycle, entries, second_clearing_ref(1), {"from": settle_cast.ccp.account}
        )
    for ccy, tot in entry.totals.items():
        assert engine.secondClearing(cycle, settle_cast.ccp.address, p.address, ccy) == (
            tot.as_tuple()
        )
    assert p.reconcile(cycle, settle_cast.ccp.address).events["Reconciled"]["matched"]


FIELDS = ("trades", "gross", "fees", "taxes", "buy_net", "sell_net")


@settings(max_examples=10)
@given(
    seed=strategy("uint32"),
    n=strategy("uint8", min_value=1, max_value=8),
    field=strategy("uint8", max_value=6),
    delta=strategy("uint8", min_value=1, max_value=3),
)
def test_random_day__reconcile_totals_as_python(engine, settle_cast, seed, n, field, delta):
    """Chain vs domain/clearing.py: the second party's entry is the party's trades cleared by the
    same function; a field changed in one currency (field 6: none) is exactly the mismatches
    totals_mismatches finds, and the level matches exactly when there are none."""
    trades, _ = day.generate_trades(random.Random(seed), n, settle_cast)
    cid = code32(f"TOTALS-{seed}-{n}-{field}-{delta}")
    settle_cast.ccp.open_cycle(cid, day.TRADE_DATE)
    p = settle_cast.participants[seed % len(settle_cast.participants)]
    if not p.mine(trades):
        return
    entry = _uploaded(settle_cast, cid, trades, p)
    ours = first_clearing(p.address, trades, p.charges).totals
    assert entry.totals == ours
    for ccy, tot in ours.items():
        assert tuple(engine.firstClearing(cid, p.address, ccy)) == tot.as_tuple()
    theirs = dict(entry.totals)
    if field < 6:
        ccy = sorted(theirs)[seed % len(theirs)]
        changed = getattr(theirs[ccy], FIELDS[field]) + delta
        theirs[ccy] = replace(theirs[ccy], **{FIELDS[field]: changed})
        # the lines still count the entry's trades
        entry = replace(entry, trade_count=entry.trade_count + (delta if field == 0 else 0))
    _submit(engine, settle_cast.ccp, cid, [replace(entry, totals=theirs)])
    tx = p.reconcile(cid, settle_cast.ccp.address)
    want = {c: (a.as_tuple(), b.as_tuple()) for c, a, b in totals_mismatches(ours, theirs)}
    assert _mismatches(tx) == want
    assert bool(want) == (field < 6)
    assert tx.events["Reconciled"]["matched"] == (not want)


def test_submit_second_clearing__fresh_entries_at_the_bound__fit_the_cap(
    engine, settle_cast, cycle
):
    """The worst entry: a party without an entry yet, one line of six non-zero totals (a fresh
    bucket, currencies count, currency and six words). Its cost, measured as the difference of a
    batch of two and a batch of one, times MAX_SECOND_CLEARING_ENTRIES (= MAX_SECOND_CLEARING_LINES)
    stays under the EIP-7825 cap."""
    firsts = settle_cast.first_parties()
    cap, n = 2**24, int(engine.MAX_SECOND_CLEARING_ENTRIES())
    assert n == int(engine.MAX_SECOND_CLEARING_LINES())

    def entry(p, i):
        line = (1, 100 + i, 1, 1, 102 + i, 98 + i)
        return (p.address, 1, b"\x00" * 8 + bytes([i + 1]) * 24, b"\x00" * 32, [(CNY, line)])

    csd = settle_cast.csd
    one = engine.submitSecondClearing(
        cycle, [entry(firsts[0], 0)], second_clearing_ref(0), csd._tx()
    )
    two = engine.submitSecondClearing(
        cycle, [entry(firsts[1], 1), entry(firsts[2], 2)], second_clearing_ref(1), csd._tx()
    )
    per_entry = two.gas_used - one.gas_used
    assert per_entry > 7 * 20_000  # seven fresh words at least: the measure is the worst case
    assert one.gas_used - per_entry + n * per_entry < cap
