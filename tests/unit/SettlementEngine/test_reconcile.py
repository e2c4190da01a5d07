"""submitSecondClearing, reconcile and reconcileInvestor: matches, breaks, per level, independently."""

from dataclasses import replace

import brownie

from consortium.domain.clearing import (
    SecondClearing,
    peer_key,
    second_clearing,
    second_clearing_ref,
    set_bucket,
)
from consortium.scenarios.settlement import tamper


def _entry(trades, party):
    """Second clearing data over `trades` under the party's charges (none uploaded yet: the
    distribution is under test)."""
    return second_clearing(party.address, trades, party.charges)


def test_second_clearing__distributed_event(engine, settle_cast, trades, cycle):
    p = settle_cast.participants[0]
    entry = _entry(trades, p)
    tx = settle_cast.csd.distribute(cycle, [entry])[0]
    ev = tx.events["SecondClearingDistributed"]
    assert (ev["party"], ev["secondParty"], ev["tradeCount"], ev["currencies"]) == (
        p.address,
        settle_cast.csd.address,
        entry.trade_count,
        len(entry.totals),
    )
    data = {bytes(d["currency"]): d for d in tx.events["SecondClearingData"]}
    assert set(data) == set(entry.totals)
    for ccy, tot in entry.totals.items():
        d = data[ccy]
        assert (d["party"], d["secondParty"]) == (p.address, settle_cast.csd.address)
        got = (d["tradeCount"], d["gross"], d["fees"], d["taxes"], d["buyNet"], d["sellNet"])
        assert got == tot.as_tuple()
        assert engine.secondClearing(cycle, settle_cast.csd.address, p.address, ccy) == got


def test_second_clearing__same_batch_resent__reverts_correction_accepted(
    engine, settle_cast, trades, cycle
):
    p = settle_cast.participants[0]
    entry = _entry(trades, p)
    (tx,) = settle_cast.csd.distribute(cycle, [entry])
    key = second_clearing_ref(0)
    assert engine.secondClearingOf(cycle, settle_cast.csd.address, key) == (1, tx.block_number)
    assert engine.secondClearingOf(cycle, settle_cast.ccp.address, key) == (0, 0)
    before = engine.bucket(cycle, settle_cast.csd.address, peer_key(p.address))
    with brownie.reverts(
        f"SettlementSecondClearingAlreadySubmitted: {cycle!r}, {settle_cast.csd.address.lower()}, "
        f"{key!r}, 1, {tx.block_number}"
    ):
        engine.submitSecondClearing(
            cycle, [entry.as_tuple()], key, {"from": settle_cast.csd.account}
        )
    assert engine.bucket(cycle, settle_cast.csd.address, peer_key(p.address)) == before
    # a correction carries the next reference: accepted, and it replaces the party's entry
    ccy = max(entry.totals, key=lambda c: entry.totals[c].trades)
    fewer = replace(entry.totals[ccy], trades=entry.totals[ccy].trades - 1)
    fixed = SecondClearing(
        p.address, fewer.trades, b"\x00" * 8 + b"\x07" * 24, entry.config_hash, {ccy: fewer}
    )
    tx = engine.submitSecondClearing(
        cycle, [fixed.as_tuple()], second_clearing_ref(1), {"from": settle_cast.csd.account}
    )
    assert tx.events["SecondClearingDistributed"]["tradeCount"] == fewer.trades
    assert engine.bucket(cycle, settle_cast.csd.address, peer_key(p.address))[0] == fewer.trades
    # every currency of the earlier entry replaced: the one left out reads zeros
    for c in entry.totals:
        want = fewer.as_tuple() if c == ccy else (0,) * 6
        assert engine.secondClearing(cycle, settle_cast.csd.address, p.address, c) == want


def test_second_clearing__hash_above_192_bits__reverts_nothing_stored(
    engine, settle_cast, trades, cycle
):
    """A bucket keeps its count and a 192-bit hash chain in one word: a wider hash is refused."""
    p = settle_cast.participants[0]
    entry = _entry(trades, p)
    wide = replace(entry, trade_set_hash=b"\x01" + b"\x00" * 31)
    with brownie.reverts(
        f"SettlementTradeSetHashOutOfRange: {p.address.lower()}, {wide.trade_set_hash!r}"
    ):
        engine.submitSecondClearing(
            cycle, [wide.as_tuple()], second_clearing_ref(0), {"from": settle_cast.csd.account}
        )
    assert engine.bucket(cycle, settle_cast.csd.address, peer_key(p.address)) == (
        0,
        "0x" + "00" * 32,
    )
    assert engine.secondClearingOf(cycle, settle_cast.csd.address, second_clearing_ref(0)) == (0, 0)


def test_second_clearing__to_non_first_party__reverts(engine, settle_cast, cycle):
    with brownie.reverts(revert_pattern=r"SettlementPartyNotFirstParty:.*"):
        engine.submitSecondClearing(
            cycle,
            [(settle_cast.ccp.address, 0, b"\x00" * 32, b"\x00" * 32, [])],
            second_clearing_ref(0),
            {"from": settle_cast.csd.account},
        )


def test_reconcile__each_level_on_its_own__matched(engine, settle_cast, trades, cycle):
    p, local = settle_cast.participants[0], settle_cast.locals[0]
    p.upload(cycle, trades)
    settle_cast.ccp.distribute(cycle, settle_cast.ccp.compute(cycle, [p.address]))
    # the participant reconciles with the CCP before the local broker uploaded anything
    ev = p.reconcile(cycle, settle_cast.ccp.address).events["Reconciled"]
    assert ev["matched"] and ev["level"] == 0
    local.upload(cycle, trades)
    ev = local.reconcile(cycle, p.address).events["Reconciled"]
    assert ev["matched"] and ev["level"] == 1 and ev["peer"] == "0x" + peer_key(p.address).hex()
    owner = local.mine(trades)[0].owner_commitment
    statement = [t for t in local.mine(trades) if t.owner_commitment == owner]
    ev = local.reconcile_investor(cycle, owner, statement).events["Reconciled"]
    assert ev["matched"] and ev["level"] == 2
    assert engine.reconStatus(cycle, local.address, owner) == 1


def test_reconcile__tampered_trade__broken_with_both_counts(engine, settle_cast, trades, cycle):
    p, local = settle_cast.participants[0], settle_cast.locals[0]
    common = [t for t in p.mine(trades) if t.local_broker == local.address]
    p.upload(cycle, trades)
    local.upload(cycle, [tamper(t) if t == common[0] else t for t in trades])
    ev = p.reconcile(cycle, local.address).events["Reconciled"]
    assert not ev["matched"] and ev["ourCount"] == ev["theirCount"] == len(common)
    assert ev["ourHash"] != ev["theirHash"]
    assert engine.reconStatus(cycle, p.address, peer_key(local.address)) == 2
    statement = set_bucket([t for t in trades if t.owner_commitment == common[0].owner_commitment])
    ev = local.engine.reconcileInvestor(
        cycle, common[0].owner_commitment, statement.count, statement.hash, {"from": local.account}
    ).events["Reconciled"]
    assert not ev["matched"]


def test_reconcile__unknown_counterparty__reverts(
    engine, settle_cast, cycle, settle_auditor, stranger
):
    p = settle_cast.participants[0]
    for cp in (settle_auditor.address, stranger.address, p.address):
        with brownie.reverts(revert_pattern=r"SettlementUnknownCounterparty:.*"):
            engine.reconcile(cycle, cp, {"from": p.account})
    with brownie.reverts(revert_pattern=r"SettlementZeroCommitment:.*"):
        engine.reconcileInvestor(cycle, b"\x00" * 32, 0, b"\x00" * 32, {"from": p.account})
    assert engine.reconStatus(cycle, p.address, peer_key(settle_auditor.address)) == 0
