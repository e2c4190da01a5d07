"""consortium.domain.instructions and .amounts: a participant's instruction from its own trades,
the match with the CCP's legs (the contract's walk), charges conserved; reconciliation by amounts
naming trade ids and fields. Chain-free (the chain side: tests/unit/SettlementEngine)."""

import dataclasses

import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain.amounts import MISSING_OURS, MISSING_THEIRS, reconcile_amounts
from consortium.domain.clearing import BUY, SELL, Charge, ChargeKind, Payer, Trade, trade_id
from consortium.domain.instructions import (
    InstructionLine,
    InstructionMismatch,
    NoInstruction,
    apply_charges,
    check,
    derive,
    due_charges,
)
from consortium.domain.netting import CASH, SECURITY, currency_asset, net

A, B = to_checksum_address("0x" + "aa" * 20), to_checksum_address("0x" + "bb" * 20)
HKD = b"HKD".ljust(32, b"\0")
CHARGES = {
    1: [Charge(ChargeKind.FEE, Payer.BOTH, 3, 500), Charge(ChargeKind.TAX, Payer.SELLER, 10)]
}


def _execution(n: int, qty: int, price: int, buyer: str = A, seller: str = B) -> list[Trade]:
    common = {"security_id": 1, "currency": HKD, "quantity": qty, "price": price}
    common["trade_date"] = 20261123
    return [
        Trade(
            trade_id(2 * n + 1), side=BUY, owner_commitment=b"\1" * 32, participant=buyer, **common
        ),
        Trade(
            trade_id(2 * n + 2),
            side=SELL,
            owner_commitment=b"\2" * 32,
            participant=seller,
            **common,
        ),
    ]


def test_derive__positions_and_charges__match_the_netting_legs():
    trades = _execution(0, 100, 50) + _execution(1, 40, 60, buyer=B, seller=A)
    result = net(trades)
    instructions = {p: derive(p, trades, CHARGES) for p in (A, B)}
    check(instructions, result.legs)  # the CCP's legs are exactly the instructions' amounts
    a = {x.key: x for x in instructions[A]}
    assert (
        a[(SECURITY, 1)].amount == 60
        and a[(CASH, currency_asset(HKD))].amount == 60 * 40 - 100 * 50
    )
    fees = max(500, (100 * 50 * 3 + 5000) // 10000) + max(500, (40 * 60 * 3 + 5000) // 10000)
    taxes = (40 * 60 * 10 + 5000) // 10000  # A sells 40 @ 60: the seller's tax
    assert (a[(CASH, currency_asset(HKD))].fees, a[(CASH, currency_asset(HKD))].taxes) == (
        fees,
        taxes,
    )


def test_check__missing_and_differing__named_party_and_asset_in_the_contracts_order():
    trades = _execution(0, 100, 50)
    legs = net(trades).legs
    good = {p: derive(p, trades, CHARGES) for p in (A, B)}
    with pytest.raises(NoInstruction) as e:
        check({B: good[B]}, legs)
    assert (e.value.participant, e.value.kind) == (A, SECURITY)
    wrong = [dataclasses.replace(good[A][0], amount=good[A][0].amount + 1), *good[A][1:]]
    with pytest.raises(InstructionMismatch) as e:
        check({A: wrong, B: good[B]}, legs)
    assert (e.value.participant, e.value.asset, e.value.instructed, e.value.netted) == (
        A,
        1,
        101,
        100,
    )
    extra = sorted([*good[A], InstructionLine(SECURITY, 7, 5)], key=lambda x: x.key)
    with pytest.raises(InstructionMismatch) as e:
        check({A: extra, B: good[B]}, legs)
    assert (e.value.asset, e.value.instructed, e.value.netted) == (7, 5, 0)


def test_derive__deferred_trades__leave_positions_and_charges():
    trades = _execution(0, 100, 50) + _execution(1, 40, 60)
    deferred = trades[2:]
    assert derive(A, trades, CHARGES, deferred) == derive(A, trades[:2], CHARGES)
    assert due_charges(B, trades, CHARGES, deferred) == due_charges(B, trades[:2], CHARGES)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(10, 10_000), st.integers(100, 100_000)), min_size=1, max_size=8)
)
def test_apply_charges__nothing_created_or_lost(executions):
    trades = [t for n, (q, p) in enumerate(executions) for t in _execution(n, q, p)]
    instructions = {p: derive(p, trades, CHARGES) for p in (A, B)}
    before = {(p, CASH, currency_asset(HKD)): 10**15 for p in (A, B)}
    after = apply_charges(before, instructions, "0xfee", "0xtax")
    assert sum(after.values()) == sum(before.values())
    paid = sum(x.fees + x.taxes for lines in instructions.values() for x in lines)
    assert (
        after[("0xfee", CASH, currency_asset(HKD))] + after[("0xtax", CASH, currency_asset(HKD))]
        == paid
    )


def test_amounts__a_price_off_by_one__names_the_trade_and_fields_and_totals():
    ours = _execution(0, 100, 50) + _execution(1, 40, 60)
    theirs = [*ours[:3], dataclasses.replace(ours[3], price=61)]
    r = reconcile_amounts(1, ours, theirs, CHARGES)
    assert not r.matched and r.trade_ids() == [ours[3].trade_id]
    assert {b.field for b in r.trade_breaks} >= {"price", "gross", "net"}
    price = next(b for b in r.trade_breaks if b.field == "price")
    assert (price.ours, price.theirs) == (60, 61)
    assert {(b.level, b.currency, b.field) for b in r.totals_breaks} >= {(1, HKD, "gross")}
    assert reconcile_amounts(1, ours, list(ours), CHARGES).matched


def test_amounts__trades_one_side_lacks__named_missing_each_way():
    ours = _execution(0, 100, 50)
    r = reconcile_amounts(0, ours[:1], ours[1:], CHARGES)
    assert [(b.trade_id, b.field) for b in r.trade_breaks] == [
        (ours[0].trade_id, MISSING_THEIRS),
        (ours[1].trade_id, MISSING_OURS),
    ]
    counts = next(b for b in r.totals_breaks if b.field == "buy_net")
    assert counts.ours > 0 and counts.theirs == 0
