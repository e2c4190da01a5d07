"""Issue 17, settlement line: each attack the review found, performed, and what now stops it.

- item 2: a cash issuer re-points a listed currency to a token it controls (even after netting);
- item 8: one participant suspended (or short) after netting holds the whole cycle hostage;
- item 11: a first party blocks the CCP's netting with a one-trade upload of its own;
- item 12: a second-clearing correction back to earlier content (E1 -> E2 -> E1) refused as a resend;
- item 15 (part): the trade-set hash the CCP states is not checked.
"""

import dataclasses

import brownie
import pytest

from consortium import chain
from consortium.domain.clearing import (
    ALL,
    SecondClearing,
    peer_key,
    second_clearing,
    second_clearing_ref,
    set_bucket,
)
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.netting import CASH, currency_asset, deferrals, trade_set
from consortium.roles.executions import UnknownExecution
from consortium.scenarios import settlement as day

CID, LATER = code32("REVIEW-SETTLE"), code32("REVIEW-SETTLE-LATER")
CNY = code32("CNY")


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _deposit_token(registry, currency: bytes, issuer: str, sender):
    """A DepositToken of `currency` (with an issuer argument where the constructor takes one)."""
    cls = chain.project().DepositToken
    args = [registry, currency, "fake deposit", "fCNY"]
    if len(cls.deploy.abi["inputs"]) == 5:
        args.insert(2, issuer)
    return cls.deploy(*args, {"from": sender})


# ----------------------------------------------------------------- item 2
def test_list_currency__cash_issuer_repoints_listed_currency__refused(
    engine, settle_cast, registry, registry_admin
):
    real = settle_cast.cash.tokens["CNY"].address
    fake = _deposit_token(registry, CNY, settle_cast.cash.address, settle_cast.cash.account)
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        engine.listCurrency(CNY, fake, {"from": settle_cast.cash.account})
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        engine.replaceCurrency(CNY, fake, {"from": settle_cast.cash.account})
    # listed once: even governance cannot list it again
    with brownie.reverts(f"SettlementCurrencyAlreadyListed: {CNY!r}, {real.lower()}"):
        engine.listCurrency(CNY, fake, {"from": registry_admin})
    assert engine.cashToken(CNY) == real


def test_settle__currency_replaced_after_netting__refused_token_fixed_at_netting(
    engine, settle_cast, trades, prepare, registry, registry_admin, holders
):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    real = settle_cast.cash.tokens["CNY"].address
    assert engine.cycleCashToken(CID, CNY) == real
    fake = _deposit_token(registry, CNY, settle_cast.cash.address, registry_admin)
    tx = engine.replaceCurrency(CNY, fake, {"from": registry_admin})
    assert tx.events["CurrencyReplaced"]["previousToken"] == real
    before = day.balances(settle_cast, holders)
    with brownie.reverts(
        f"SettlementCurrencyTokenChanged: {CID!r}, {CNY!r}, {real.lower()}, {fake.address.lower()}"
    ):
        settle_cast.csd.settle(CID, result.legs)
    assert day.balances(settle_cast, holders) == before
    # governance puts the real token back: the cycle settles in the token fixed at its netting
    engine.replaceCurrency(CNY, real, {"from": registry_admin})
    settle_cast.csd.settle(CID, result.legs)
    assert day.balances(settle_cast, holders) == day.after_settlement(
        settle_cast, before, result.legs, settle_cast.ccp.instructions(CID)
    )
    assert any(x.kind == CASH and x.asset == currency_asset(CNY) for x in result.legs)


# ----------------------------------------------------------------- item 8
def test_cycle_hostage__participant_suspended_after_netting__unwound_renetted_without_it(
    engine, settle_cast, trades, prepare, manager, holders
):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    defaulter = result.legs[0].participant
    manager.suspend(defaulter, "review: suspended after netting")
    before = day.balances(settle_cast, holders)
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        settle_cast.csd.settle(CID, result.legs)

    # the exit: unwind (Netted -> Open, legs cleared), defer the defaulter's executions, net again
    tx = settle_cast.ccp.unwind(CID, "participant suspended")
    ev = tx.events["CycleUnwound"]
    assert (ev["ccp"], ev["legsHash"], ev["reasonHash"]) == (
        settle_cast.ccp.address,
        _hex(result.legs_hash),
        _hex(doc_hash("participant suspended")),
    )
    cycle = engine.getCycle(CID)
    assert cycle["status"] == 1 and cycle["legsHash"] == _hex(b"\0" * 32) and cycle["legCount"] == 0
    deferred = deferrals(trades, [defaulter])
    assert {t.participant for t in deferred} > {defaulter}  # the other sides go with them
    ids = [t.trade_id for t in deferred]
    (dtx,) = settle_cast.ccp.defer(CID, ids, "participant suspended")
    assert [e["recordHash"] for e in dtx.events["TradeDeferred"]] == [
        _hex(t.record_hash()) for t in deferred
    ]
    for p in {t.participant for t in deferred}:
        got = engine.participantTrades(CID, p)[1]
        assert tuple(got) == (
            set_bucket(t for t in deferred if t.participant == p).count,
            _hex(set_bucket(t for t in deferred if t.participant == p).hash),
        )
    renet = settle_cast.ccp.net(CID)  # the deferrals read back from the chain
    assert defaulter not in {x.participant for x in renet.legs}
    voided = {e["participant"] for e in dtx.events["InstructionVoided"]}
    assert voided == {t.participant for t in deferred}  # both sides instruct again
    with brownie.reverts(revert_pattern=r"SettlementNoInstruction:.*"):
        settle_cast.ccp.instruct(CID, renet)
    day.instruct(settle_cast, CID, trades)
    ntx = settle_cast.ccp.instruct(CID, renet)
    assert ntx.events["CycleNetted"]["tradeCount"] == renet.trade_set.count
    assert renet.trade_set.count == len(trades) - len(deferred)
    stx = settle_cast.csd.settle(CID, renet.legs)
    assert stx.events["CycleSettled"]["legCount"] == len(renet.legs)
    after = day.balances(settle_cast, holders)
    paid = settle_cast.ccp.instructions(CID)
    assert after == day.after_settlement(settle_cast, before, renet.legs, paid)
    assert all(after[k] == before[k] for k in after if k[0] == defaulter)

    # carried to a later cycle of the same trade date once the defaulter is reinstated
    manager.reinstate(defaulter, "review: reinstated")
    later = prepare(LATER, deferred)
    settle_cast.ccp.instruct(LATER, later)
    mid = day.balances(settle_cast, holders)
    settle_cast.csd.settle(LATER, later.legs)
    assert day.balances(settle_cast, holders) == day.after_settlement(
        settle_cast, mid, later.legs, settle_cast.ccp.instructions(LATER)
    )


def test_exclude__short_participant__one_call_exit(engine, settle_cast, trades, prepare, holders):
    """The CCP role's `exclude` does unwind, defer and re-net in one go (the participants then
    instruct again); refusals around it."""
    result = prepare(CID, trades, fund=False)
    settle_cast.ccp.instruct(CID, result)
    defaulter = result.legs[0].participant
    others = [t for t in trades if t not in deferrals(trades, [defaulter])]
    day.fund(settle_cast, others, ref="review: funding without the defaulter")
    renet, deferred = settle_cast.ccp.exclude(CID, [defaulter], "short of its delivery")
    assert deferred == deferrals(trades, [defaulter])
    assert engine.getCycle(CID)["status"] == 1  # the voided instructions come first
    day.instruct(settle_cast, CID, trades)
    settle_cast.ccp.instruct(CID, renet)
    assert engine.getCycle(CID)["status"] == 2
    assert engine.getCycle(CID)["legsHash"] == _hex(renet.legs_hash)
    # a trade deferred twice, or more trades than a participant uploaded: refused
    with brownie.reverts(revert_pattern=r"SettlementCycleNotOpen:.*"):
        settle_cast.ccp.defer(CID, [deferred[0].trade_id], "again")
    settle_cast.ccp.unwind(CID, "again")
    first = deferred[0]
    with brownie.reverts(
        f"SettlementTradeAlreadyDeferred: {CID!r}, {first.participant.lower()}, {first.trade_id!r}"
    ):
        settle_cast.ccp.defer(CID, [first.trade_id], "again")
    before = day.balances(settle_cast, holders)
    settle_cast.ccp.instruct(CID, renet)
    settle_cast.csd.settle(CID, renet.legs)
    assert day.balances(settle_cast, holders) == day.after_settlement(
        settle_cast, before, renet.legs, settle_cast.ccp.instructions(CID)
    )
    with brownie.reverts(revert_pattern=r"SettlementAlreadySettled:.*"):
        settle_cast.ccp.unwind(CID, "after settlement")


def test_unwind_and_defer__refusals(
    engine, settle_cast, trades, prepare, admit, regulator_hk, accounts
):
    result = prepare(CID, trades, fund=False)
    with brownie.reverts(f"SettlementCycleNotNetted: {CID!r}, 1"):
        settle_cast.ccp.unwind(CID, "not netted")
    other = admit(accounts[16], ["CCP"], "HK", regulator_hk, name="another CCP")
    settle_cast.ccp.instruct(CID, result)
    with brownie.reverts(revert_pattern=r"SettlementNotCycleCcp:.*"):
        engine.unwindCycle(CID, doc_hash("x"), {"from": other.account})
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        engine.unwindCycle(CID, doc_hash("x"), {"from": settle_cast.csd.account})
    settle_cast.ccp.unwind(CID, "defer too much")
    p = settle_cast.participants[0]
    mine = [t for t in trades if t.participant == p.address]
    extra = dataclasses.replace(mine[-1], trade_id=(10**9).to_bytes(32, "big"))
    # the CCP role defers executions of record only; a CCP sending more is refused by the engine
    with pytest.raises(UnknownExecution):
        settle_cast.ccp.defer(CID, [extra.trade_id], "not uploaded")
    with brownie.reverts(
        f"SettlementDeferralExceedsTrades: {CID!r}, {p.address.lower()}, {len(mine) + 1}, {len(mine)}"
    ):
        engine.deferTrades(
            CID, [t.as_tuple() for t in [*mine, extra]], doc_hash("x"), settle_cast.ccp._tx()
        )
    # deferring one side of an execution only: the re-net cannot balance, and the engine refuses it
    lone = mine[:1]
    settle_cast.ccp.defer(CID, [lone[0].trade_id], "one side only")
    with brownie.reverts(revert_pattern=r"SettlementTradeCountMismatch:.*"):
        settle_cast.ccp.instruct(CID, result)


# ----------------------------------------------------------------- item 11
def test_netting__rogue_one_trade_upload__blocks_until_deferred_and_uploads_close(
    engine, settle_cast, trades, prepare
):
    rogue = settle_cast.locals[0]  # a broker that is no clearing participant of the legs
    settle_cast.ccp.open_cycle(CID, day.TRADE_DATE)
    own = dataclasses.replace(
        trades[0],
        trade_id=(10**9).to_bytes(32, "big"),
        local_broker=None,
        custodian=None,
        exchange=None,
        participant=rogue.address,
    )
    engine.uploadTrades(CID, [own.as_tuple()], rogue._tx())  # before the cut-off: its own trade
    for p in settle_cast.participants:
        p.upload(CID, trades)
    addrs = [p.address for p in settle_cast.participants]
    settle_cast.ccp.distribute(CID, settle_cast.ccp.compute(CID, addrs))
    tx = settle_cast.ccp.close_uploads(CID)
    assert tx.events["UploadsClosed"]["ccp"] == settle_cast.ccp.address
    assert engine.getCycle(CID)["uploadsClosed"] is True
    again = dataclasses.replace(own, trade_id=(10**9 + 1).to_bytes(32, "big"))
    with brownie.reverts(f"SettlementUploadsClosed: {CID!r}"):
        engine.uploadTrades(CID, [again.as_tuple()], rogue._tx())
    with brownie.reverts(f"SettlementUploadsClosed: {CID!r}"):
        settle_cast.ccp.close_uploads(CID)
    for p in settle_cast.participants:
        p.reconcile(CID, settle_cast.ccp.address)
    # the rogue's trade names no exchange: no venue execution, the CCP does not clear it
    assert settle_cast.ccp.read_cycle(CID).off_venue == [own]
    day.instruct(settle_cast, CID, trades)  # the rogue is on no leg: it instructs nothing
    # every own upload is netted: the rogue's one trade holds the netting up (it never reconciled)
    with brownie.reverts(f"SettlementNotReconciled: {CID!r}, {rogue.address.lower()}"):
        settle_cast.ccp.instruct(CID, settle_cast.ccp.net(CID))
    # the exit: the CCP defers the upload outside the venue, then the rest nets without it
    assert settle_cast.ccp.defer_off_venue(CID, "no venue execution") == 1
    assert settle_cast.ccp.defer_off_venue(CID, "no venue execution") == 0  # once
    result = settle_cast.ccp.net(CID)
    ntx = settle_cast.ccp.instruct(CID, result)
    assert ntx.events["CycleNetted"]["tradeCount"] == len(trades)
    uploaded, deferred = engine.participantTrades(CID, rogue.address)
    assert (uploaded["count"], deferred["count"]) == (1, 1)


# ----------------------------------------------------------------- item 12
def test_second_clearing__correction_back_to_earlier_content__accepted_resend_refused(
    engine, settle_cast, trades, cycle
):
    csd, p = settle_cast.csd, settle_cast.participants[0]
    e1 = second_clearing(p.address, trades, p.charges)  # nothing uploaded: contents of any kind
    e2 = SecondClearing(p.address, 0, b"\x00" * 8 + b"\x07" * 24, e1.config_hash)
    for seq, entry in enumerate([e1, e2, e1]):
        (tx,) = csd.distribute(cycle, [entry], sequence=seq)
        assert tx.events["SecondClearingDistributed"]["tradeSetHash"] == _hex(entry.trade_set_hash)
    assert tuple(engine.bucket(cycle, csd.address, peer_key(p.address))) == (
        e1.trade_count,
        _hex(e1.trade_set_hash),
    )
    # a true resend (same reference) is still recognised: booked by the outbox, refused on chain
    assert csd.distribute(cycle, [e1], sequence=2) == [None]
    ref = second_clearing_ref(2)
    _, block = engine.secondClearingOf(cycle, csd.address, ref)
    with brownie.reverts(
        f"SettlementSecondClearingAlreadySubmitted: {cycle!r}, {csd.address.lower()}, {ref!r}, 1, {block}"
    ):
        engine.submitSecondClearing(cycle, [e1.as_tuple()], ref, csd._tx())
    with brownie.reverts(f"SettlementZeroBatchRef: {cycle!r}"):
        engine.submitSecondClearing(cycle, [e1.as_tuple()], b"\0" * 32, csd._tx())


# ----------------------------------------------------------------- item 15 (trade-set hash)
def test_netting__trade_set_hash_not_the_uploaded_one__refused(
    engine, settle_cast, trades, prepare
):
    result = prepare(CID, trades, fund=False)
    want = result.trade_set
    for p in settle_cast.participants:
        up = set_bucket(t for t in trades if t.participant == p.address)
        assert tuple(engine.participantTrades(CID, p.address)[0]) == (up.count, _hex(up.hash))
    lie = set_bucket(trades).hash  # the old statement: every trade, whoever uploaded it
    with brownie.reverts(f"SettlementTradeSetMismatch: {CID!r}, {want.hash!r}, {lie!r}"):
        engine.submitNetting(
            CID, want.count, lie, [x.as_tuple() for x in result.legs], settle_cast.ccp._tx()
        )
    assert engine.getCycle(CID)["status"] == 1
    tx = settle_cast.ccp.instruct(CID, result)
    assert tx.events["CycleNetted"]["tradeSetHash"] == _hex(want.hash)
    assert want == trade_set(trades)
    assert engine.bucket(CID, settle_cast.participants[0].address, ALL)[0] > 0


def test_defer_and_replace__before_uploads_close_other_date_unlisted_currency__refused(
    engine, settle_cast, trades, registry_admin
):
    """Deferral only fixes a closed trade set of the cycle's own date; replacing a currency needs
    one listed first. Each refusal is named and changes nothing."""
    cid = code32("REVIEW-DEFER-EARLY")
    settle_cast.ccp.open_cycle(cid, day.TRADE_DATE)
    trade = trades[0]
    with brownie.reverts(f"SettlementUploadsNotClosed: {cid!r}"):
        engine.deferTrades(cid, [trade.as_tuple()], doc_hash("x"), settle_cast.ccp._tx())
    settle_cast.ccp.close_uploads(cid)
    other_day = dataclasses.replace(trade, trade_date=day.TRADE_DATE + 1)
    with brownie.reverts(revert_pattern=r"SettlementTradeDateMismatch:.*"):
        engine.deferTrades(cid, [other_day.as_tuple()], doc_hash("x"), settle_cast.ccp._tx())
    eur = code32("EUR")
    with brownie.reverts(f"SettlementUnknownCurrency: {eur!r}"):
        engine.replaceCurrency(eur, engine.address, {"from": registry_admin})
    assert engine.cashToken(eur) == "0x" + "00" * 20
