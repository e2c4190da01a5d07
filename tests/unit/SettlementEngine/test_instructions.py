"""submitInstruction and its match at netting: nothing settles that a participant has not
instructed; charges are paid exactly as the clearing data computes them."""

import dataclasses
import itertools

import brownie
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consortium.domain.clearing import Charge, ChargeKind, Payer, first_clearing, peer_key
from consortium.domain.hashing import code32
from consortium.domain.instructions import InstructionLine, derive, due_charges
from consortium.domain.netting import CASH, SECURITY, currency_asset
from consortium.scenarios import settlement as day

CID = code32("INSTR-1")
_EXAMPLES = itertools.count()


def _lines(lines):
    return [x.as_tuple() for x in lines]


def test_instruct__lines_as_derived__stand_and_are_logged(engine, settle_cast, trades, prepare):
    prepare(CID, trades, fund=False, instruct=False)
    p = settle_cast.participants[0]
    tx = p.submit_instruction(CID, trades)
    want = derive(p.address, p.mine(trades), p.charges)
    got = [
        (e["kind"], e["asset"], e["amount"], e["fees"], e["taxes"])
        for e in tx.events["InstructionLineSubmitted"]
    ]
    assert got == _lines(want)
    assert tx.events["InstructionSubmitted"]["lines"] == len(want)
    assert settle_cast.ccp.instructions(CID)[p.address] == want
    # a cash line's charges are the participant's first clearing data in the currency
    totals = first_clearing(p.address, trades, p.charges).totals
    for x in (x for x in want if x.kind == CASH):
        tot = next(t for c, t in totals.items() if currency_asset(c) == x.asset)
        assert (x.fees, x.taxes) == (tot.fees, tot.taxes)


def test_netting__participant_without_instruction__reverts_naming_it(
    engine, settle_cast, trades, prepare
):
    result = prepare(CID, trades, fund=False, instruct=False)
    for p in settle_cast.participants[1:]:
        p.submit_instruction(CID, trades)
    silent = settle_cast.participants[0].address
    first = next(g for g in result.legs if g.participant == silent)
    with brownie.reverts(
        revert_pattern=rf"(?i)SettlementNoInstruction: .*, {silent}, {first.kind}, {first.asset}"
    ):
        settle_cast.ccp.instruct(CID, result)
    assert engine.getCycle(CID)["status"] == 1


def test_netting__instruction_differs__reverts_naming_party_asset_and_amounts(
    engine, settle_cast, trades, prepare
):
    result = prepare(CID, trades, fund=False, instruct=False)
    for p in settle_cast.participants[1:]:
        p.submit_instruction(CID, trades)
    p = settle_cast.participants[0]
    lines = derive(p.address, p.mine(trades), p.charges)
    k = next(i for i, x in enumerate(lines) if x.kind == SECURITY and x.amount)
    wrong = dataclasses.replace(lines[k], amount=lines[k].amount + 1)
    engine.submitInstruction(CID, _lines(lines[:k] + [wrong] + lines[k + 1 :]), {"from": p.account})
    with brownie.reverts(
        revert_pattern=rf"(?i)SettlementInstructionMismatch: .*, {p.address}, 0, {wrong.asset}, "
        rf"{wrong.amount}, {lines[k].amount}"
    ):
        settle_cast.ccp.instruct(CID, result)
    assert engine.getCycle(CID)["status"] == 1
    p.submit_instruction(CID, trades)  # corrected: the netting goes through
    settle_cast.ccp.instruct(CID, result)
    assert engine.getCycle(CID)["status"] == 2


def test_netting__instructed_asset_the_ccp_omits__reverts(engine, settle_cast, trades, prepare):
    """An instructing participant's line without a leg: the CCP left out what it agreed to."""
    result = prepare(CID, trades, fund=False, instruct=False)
    for p in settle_cast.participants:
        p.submit_instruction(CID, trades)
    p = settle_cast.participants[0]
    lines = derive(p.address, p.mine(trades), p.charges)
    extra = 100 + len(lines)  # a security listed for this test alone, no trade in it
    if not settle_cast.csd.security_token.isListed(extra):
        settle_cast.csd.list_security(extra, f"INSTR.{extra}")
    more = sorted(lines + [InstructionLine(SECURITY, extra, 5)], key=lambda x: x.key)
    engine.submitInstruction(CID, _lines(more), {"from": p.account})
    with brownie.reverts(
        revert_pattern=rf"(?i)SettlementInstructionMismatch: .*, {p.address}, 0, {extra}, 5, 0"
    ):
        settle_cast.ccp.instruct(CID, result)


def test_instruct__refusals__named_and_nothing_stored(engine, settle_cast, trades, prepare):
    settle_cast.ccp.open_cycle(CID, day.TRADE_DATE)
    p = settle_cast.participants[0]
    for q in settle_cast.participants:
        q.upload(CID, trades)
    lines = derive(p.address, p.mine(trades), p.charges)
    with brownie.reverts(revert_pattern=r"SettlementUploadsNotClosed: .*"):
        engine.submitInstruction(CID, _lines(lines), {"from": p.account})
    addrs = [q.address for q in settle_cast.participants]
    settle_cast.ccp.distribute(CID, settle_cast.ccp.compute(CID, addrs))
    settle_cast.ccp.close_uploads(CID)
    with brownie.reverts(revert_pattern=rf"(?i)SettlementNotReconciled: .*, {p.address}"):
        engine.submitInstruction(CID, _lines(lines), {"from": p.account})
    p.reconcile(CID, settle_cast.ccp.address)
    cash = next(i for i, x in enumerate(lines) if x.kind == CASH and x.fees)
    bad = {
        "SettlementEmptyBatch": [],
        "SettlementInstructionNotSorted: 1": [lines[1], lines[0], *lines[2:]],
        "SettlementChargesOnSecurity: 0, 1, 0": [dataclasses.replace(lines[0], fees=1)] + lines[1:],
        "SettlementChargesMismatch: .*": lines[:cash]
        + [dataclasses.replace(lines[cash], fees=lines[cash].fees - 1)]
        + lines[cash + 1 :],
        "SettlementZeroInstructionLine: 0": [dataclasses.replace(lines[0], amount=0)] + lines[1:],
        "SettlementUnknownSecurity: 999": [InstructionLine(SECURITY, 999, 1)],
        "SettlementBatchTooLarge: 101, 100": [
            InstructionLine(SECURITY, i, 1) for i in range(1, 102)
        ],
    }
    for pattern, given_lines in bad.items():
        with brownie.reverts(revert_pattern=pattern + ".*"):
            engine.submitInstruction(CID, _lines(given_lines), {"from": p.account})
    assert settle_cast.ccp.instructions(CID) == {}


def test_charge_accounts__zero__refused_named_set_logged(engine, settle_cast):
    p = settle_cast.participants[0]
    held = tuple(engine.chargeAccounts(p.address))
    with brownie.reverts(revert_pattern=r"SettlementZeroChargeAccount: .*"):
        engine.setChargeAccounts(p.address, "0x" + "00" * 20, {"from": p.account})
    assert tuple(engine.chargeAccounts(p.address)) == held
    tx = p.name_charge_accounts(*held)
    assert tx.events["ChargeAccountsSet"]["feeCollector"] == held[0]


def test_settle__charges_paid_to_the_accounts_exactly(
    engine, settle_cast, trades, prepare, holders
):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    before = day.balances(settle_cast, holders)
    tx = settle_cast.csd.settle(CID, result.legs)
    paid = {
        (e["participant"], str(e["currency"])): (e["fees"], e["taxes"])
        for e in tx.events["ChargesPaid"]
    }
    for p in settle_cast.participants:
        for ccy, tot in first_clearing(p.address, trades, p.charges).totals.items():
            if tot.fees or tot.taxes:
                assert paid[(p.address, "0x" + ccy.hex())] == (tot.fees, tot.taxes)
    want = day.after_settlement(settle_cast, before, result.legs, settle_cast.ccp.instructions(CID))
    assert day.balances(settle_cast, holders) == want
    assert sum(e["fees"] + e["taxes"] for e in tx.events["ChargesPaid"]) > 0


def test_defer__voids_both_sides_instructions_charges_leave_due(
    engine, settle_cast, trades, prepare
):
    prepare(CID, trades, fund=False)
    t = next(t for t in trades if t.participant == settle_cast.participants[0].address)
    n = int.from_bytes(t.trade_id, "big")
    pair = next(
        o for o in trades if int.from_bytes(o.trade_id, "big") == (n + 1 if n % 2 else n - 1)
    )
    sides = {t.participant, pair.participant}
    out = settle_cast.ccp.defer(CID, sorted([t.trade_id, pair.trade_id]), "a break")
    assert {e["participant"] for e in out[0].events["InstructionVoided"]} == sides
    assert not sides & set(settle_cast.ccp.instructions(CID))
    with brownie.reverts(revert_pattern=r"SettlementNoInstruction: .*"):
        settle_cast.ccp.instruct(CID, settle_cast.ccp.net(CID))
    deferred = settle_cast.ccp.read_cycle(CID).deferred
    for p in (q for q in settle_cast.participants if q.address in sides):
        due = due_charges(p.address, p.mine(trades), p.charges, deferred)
        p.submit_instruction(CID, trades)
        for x in settle_cast.ccp.instructions(CID)[p.address]:
            if x.kind == CASH:
                assert (x.fees, x.taxes) == due[x.asset]
    settle_cast.ccp.instruct(CID, settle_cast.ccp.net(CID))  # re-instructed: the netting stands
    assert engine.getCycle(CID)["status"] == 2


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    bps=st.lists(st.integers(0, 300), min_size=1, max_size=3),
    minimum=st.integers(0, 5_000),
    kinds=st.lists(st.sampled_from(list(ChargeKind)), min_size=3, max_size=3),
    payers=st.lists(st.sampled_from(list(Payer)), min_size=3, max_size=3),
)
def test_property__random_charges__instruction_accepted_exactly_at_the_twins_figures(
    engine, settle_cast, trades, bps, minimum, kinds, payers
):
    """Fees and taxes on chain (Clearing.sol) equal domain.clearing's for random configurations:
    the twin's figures are accepted, one minor unit off is refused."""
    p = settle_cast.participants[0]
    charges = [Charge(kinds[i], payers[i], b, minimum) for i, b in enumerate(bps)]
    for sid in day.SECURITIES:
        p.configure(sid, charges)
    cid = code32(f"PROP-{next(_EXAMPLES)}")  # the chain keeps every example's cycle
    settle_cast.ccp.open_cycle(cid, day.TRADE_DATE)
    mine = [t for t in trades if t.participant == p.address]
    p.upload(cid, mine)
    settle_cast.ccp.distribute(cid, settle_cast.ccp.compute(cid, [p.address]))
    settle_cast.ccp.close_uploads(cid)
    p.reconcile(cid, settle_cast.ccp.address)
    assert int(engine.reconStatus(cid, p.address, peer_key(settle_cast.ccp.address))) == 1
    lines = derive(p.address, mine, p.charges)
    charged = [i for i, x in enumerate(lines) if x.kind == CASH and (x.fees or x.taxes)]
    for i in charged:
        off = dataclasses.replace(lines[i], taxes=lines[i].taxes + 1)
        with brownie.reverts(revert_pattern=r"SettlementChargesMismatch: .*"):
            engine.submitInstruction(
                cid, _lines(lines[:i] + [off] + lines[i + 1 :]), {"from": p.account}
            )
    engine.submitInstruction(cid, _lines(lines), {"from": p.account})
    assert settle_cast.ccp.instructions(cid)[p.address] == lines
    for sid in day.SECURITIES:  # the scenario's configuration back for the other tests
        p.configure(sid, day.charges_for("broker")[sid])
