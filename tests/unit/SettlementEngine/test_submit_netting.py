"""submitNetting: novation and netting gated on reconciliation; every asset sums to zero."""

import functools
import itertools
import operator

import brownie
import pytest

from consortium.domain.hashing import code32
from consortium.domain.netting import Leg, legs_hash, net, settlement_order

CID = code32("NET-1")


def test_netting__instructions_in_settlement_order(engine, settle_cast, trades, prepare):
    result = prepare(CID, trades, fund=False)
    tx = settle_cast.ccp.instruct(CID, result)
    ev = tx.events["CycleNetted"]
    assert ev["legsHash"] == "0x" + result.legs_hash.hex() and ev["legCount"] == result.net_count
    sent = [
        (e["participant"], e["kind"], e["asset"], e["amount"])
        for e in tx.events["SettlementInstructed"]
    ]
    assert sent == [leg.as_tuple() for leg in settlement_order(result.legs)]
    assert [e["sequence"] for e in tx.events["SettlementInstructed"]] == list(
        range(result.net_count)
    )
    assert engine.getCycle(CID)["status"] == 2


def _groups(legs):
    """The legs per asset, in their (sorted) order: [[legs of asset 1], [legs of asset 2], ...]."""
    return [list(g) for _, g in itertools.groupby(legs, key=lambda leg: (leg.kind, leg.asset))]


def _assets_swapped(legs):
    """The first two securities' legs in reverse order (same kind, descending asset)."""
    g = _groups(legs)
    assert g[0][0].kind == g[1][0].kind == 0 and g[0][0].asset < g[1][0].asset
    return g[1] + g[0] + functools.reduce(operator.iadd, g[2:], [])


def _cash_first(legs):
    """The last asset (a currency, kind 1) moved before the securities (kind 0)."""
    g = _groups(legs)
    assert g[-1][0].kind == 1 and g[0][0].kind == 0
    return g[-1] + functools.reduce(operator.iadd, g[:-1], [])


def _submit(engine, settle_cast, legs, cid=CID):
    return engine.submitNetting(
        cid, 0, b"\x00" * 32, [leg.as_tuple() for leg in legs], {"from": settle_cast.ccp.account}
    )


def test_netting__before_reconciliation__reverts(engine, settle_cast, trades):
    settle_cast.ccp.open_cycle(CID, 20261123)
    p = settle_cast.participants[0]
    p.upload(CID, trades)
    settle_cast.ccp.close_uploads(CID)
    # the day's legs (the CCP's own reading holds one participant's trades only: unbalanced)
    with brownie.reverts(revert_pattern=r"SettlementNotReconciled:.*"):
        settle_cast.ccp.instruct(CID, net(trades))
    assert engine.getCycle(CID)["status"] == 1


def test_netting__match_gone_stale_after_a_correction__reverts(
    engine, settle_cast, trades, prepare
):
    import dataclasses

    result = prepare(CID, trades, fund=False)
    p = settle_cast.participants[0]
    [entry] = settle_cast.ccp.compute(CID, [p.address])
    stale = dataclasses.replace(entry, trade_set_hash=b"\x00" * 8 + b"\x07" * 24)
    settle_cast.ccp.distribute(CID, [stale], sequence=1)
    with brownie.reverts(revert_pattern=rf"SettlementNotReconciled: .*, {p.address.lower()}"):
        settle_cast.ccp.instruct(CID, result)


def test_netting__uploads_not_closed__reverts(engine, settle_cast, trades):
    settle_cast.ccp.open_cycle(CID, 20261123)
    for p in settle_cast.participants:
        p.upload(CID, trades)
    with brownie.reverts(f"SettlementUploadsNotClosed: {CID!r}"):
        settle_cast.ccp.instruct(CID, settle_cast.ccp.net(CID))
    assert engine.getCycle(CID)["status"] == 1


@pytest.mark.parametrize(
    "mutate,error",
    [
        (lambda legs: legs[:-1], "SettlementAssetNotBalanced"),
        (lambda legs: [legs[1], legs[0]] + legs[2:], "SettlementLegsNotSorted"),
        (_assets_swapped, "SettlementLegsNotSorted"),
        (_cash_first, "SettlementLegsNotSorted"),
        (
            lambda legs: [Leg(legs[0].participant, legs[0].kind, legs[0].asset, 0)] + legs[1:],
            "SettlementZeroLeg",
        ),
        (
            lambda legs: [Leg(legs[0].participant, legs[0].kind, legs[0].asset, 2**201)] + legs[1:],
            "SettlementLegAmountOutOfRange",
        ),
        (
            lambda legs: [Leg(legs[0].participant, legs[0].kind, legs[0].asset, -(2**201))]
            + legs[1:],
            "SettlementLegAmountOutOfRange",
        ),
        (
            lambda legs: [
                Leg(legs[0].participant, 0, 999, 1),
                Leg(legs[1].participant, 0, 999, -1),
            ],
            "SettlementUnknownSecurity",
        ),
        (
            lambda legs: [Leg(legs[0].participant, 1, int.from_bytes(code32("USD"), "big"), 1)],
            "SettlementUnknownCurrency",
        ),
    ],
)
def test_netting__bad_legs__revert_and_cycle_stays_open(
    engine, settle_cast, trades, prepare, mutate, error
):
    result = prepare(CID, trades, fund=False)
    with brownie.reverts(revert_pattern=rf"{error}:.*"):
        _submit(engine, settle_cast, mutate(list(result.legs)))
    assert engine.getCycle(CID)["status"] == 1


def test_netting__leg_of_the_zero_address__refused_as_not_reconciled(
    engine, settle_cast, trades, prepare
):
    """A leg naming no participant (the zero address sorts first, so the order check passes) is
    refused: nobody reconciled as address zero, and nothing could be delivered to or from it."""
    result = prepare(CID, trades, fund=False)
    legs = list(result.legs)
    first = legs[0]
    zero = "0x" + "00" * 20
    assert int(first.participant, 16) > 0
    with brownie.reverts(revert_pattern=rf"SettlementNotReconciled: .*, {zero}"):
        _submit(engine, settle_cast, [Leg(zero, first.kind, first.asset, first.amount)] + legs[1:])
    assert engine.getCycle(CID)["status"] == 1


def test_netting__asset_unbalanced__refused_where_the_next_asset_starts(
    engine, settle_cast, trades, prepare
):
    """The first asset's first leg dropped: refused at the first asset (kind, asset, residual),
    not at the end of the legs."""
    result = prepare(CID, trades, fund=False)
    g = _groups(list(result.legs))
    first = g[0][0]
    assert len(g[0]) >= 2 and len(g) >= 2
    with brownie.reverts(
        revert_pattern=rf"SettlementAssetNotBalanced: {first.kind}, {first.asset}, {-first.amount}"
    ):
        _submit(engine, settle_cast, g[0][1:] + functools.reduce(operator.iadd, g[1:], []))
    assert engine.getCycle(CID)["status"] == 1


def test_netting__bounds_and_state__revert(engine, settle_cast, trades, prepare):
    result = prepare(CID, trades, fund=False)
    with brownie.reverts(revert_pattern=r"SettlementEmptyBatch.*"):
        _submit(engine, settle_cast, [])
    with brownie.reverts(revert_pattern=r"SettlementBatchTooLarge:.*"):
        _submit(engine, settle_cast, [result.legs[0]] * (engine.MAX_LEGS() + 1))
    with brownie.reverts(revert_pattern=r"SettlementCycleNotOpen:.*"):
        _submit(engine, settle_cast, result.legs, code32("NOPE"))


def test_netting__other_ccp__reverts(
    engine, settle_cast, trades, prepare, admit, regulator_hk, accounts
):
    result = prepare(CID, trades, fund=False)
    other = admit(accounts[16], ["CCP"], "HK", regulator_hk, name="another CCP")
    with brownie.reverts(revert_pattern=r"SettlementNotCycleCcp:.*"):
        engine.submitNetting(
            CID, 0, b"\x00" * 32, [x.as_tuple() for x in result.legs], {"from": other.account}
        )
    assert engine.getCycle(CID)["legsHash"] == "0x" + "00" * 32
    assert legs_hash(result.legs) == result.legs_hash


def test_submit_netting__trade_count_not_the_uploaded_count__reverts(
    engine, settle_cast, trades, prepare
):
    """The count the CCP states is checked against the trades the legs' participants uploaded."""
    result = prepare(CID, trades, fund=False)
    n = result.trade_set.count
    with brownie.reverts(revert_pattern=rf"SettlementTradeCountMismatch: .*, {n}, {n + 1}"):
        engine.submitNetting(
            CID,
            n + 1,
            result.trade_set.hash,
            [x.as_tuple() for x in result.legs],
            {"from": settle_cast.ccp.account},
        )
    assert engine.getCycle(CID)["status"] == 1
    tx = settle_cast.ccp.instruct(CID, result)
    assert tx.events["CycleNetted"]["tradeCount"] == n
    assert tx.events["CycleNetted"]["tradeSetHash"] == "0x" + result.trade_set.hash.hex()


def test_submit_netting__trades_no_participant_uploaded__reverts(
    engine, settle_cast, trades, prepare
):
    """Found by tests/stateful/test_settlement_invariants.py: the CCP netted an execution its
    participants never uploaded (their match with its earlier distribution still stood)."""
    confirmed = trades[:-2]  # the last execution (a buy and a sell) is never uploaded
    prepare(CID, confirmed, fund=False)
    with brownie.reverts(
        revert_pattern=rf"SettlementTradeCountMismatch: .*, {len(confirmed)}, {len(trades)}"
    ):
        settle_cast.ccp.instruct(CID, net(trades))  # a CCP netting what nobody uploaded
    cycle = engine.getCycle(CID)
    assert cycle["status"] == 1 and cycle["legsHash"] == "0x" + "00" * 32
