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
    CashNetMismatch,
    Due,
    InstructionLine,
    InstructionMismatch,
    NoInstruction,
    apply_charges,
    check,
    check_due,
    derive,
    due_charges,
    dues,
)
from consortium.domain.netting import CASH, SECURITY, currency_asset, net

A, B = to_checksum_address("0x" + "aa" * 20), to_checksum_address("0x" + "bb" * 20)
C, D = to_checksum_address("0x" + "cc" * 20), to_checksum_address("0x" + "dd" * 20)
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


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3), st.integers(0, 2), st.integers(10, 500), st.integers(100, 900)
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 8),
)
def test_check_due__honest_instructions__pass_and_cash_is_the_derived_line(executions, cut):
    """Every uploader's dues (its first clearing data less its deferred trades) agree with what it
    derives: the charges of each cash line and, all its uploads being its own, the line's amount."""
    parts = (A, B, C, D)
    trades = [
        t
        for n, (b, s, q, p) in enumerate(executions)
        for t in _execution(n, q, p, buyer=parts[b], seller=parts[(b + s + 1) % 4])
    ]
    deferred = trades[2 * (cut % len(executions)) :][:2]  # one whole execution, or none at the end
    mine = {p: [t for t in trades if t.participant == p] for p in parts}
    due = {p: dues(p, mine[p], CHARGES, deferred) for p in parts if mine[p]}
    instructions = {p: derive(p, mine[p], CHARGES, deferred) for p in due}
    check(instructions, net(trades, deferred).legs)
    check_due(instructions, due)
    for p, by_currency in due.items():
        lines = {x.asset: x for x in instructions[p] if x.kind == CASH}
        for asset, d in by_currency.items():
            line = lines.get(asset, InstructionLine(CASH, asset, 0))
            assert (d.fees, d.taxes, d.cash) == (line.fees, line.taxes, line.amount)


def test_check_due__omitted_participants_and_charges__named_in_the_contracts_order():
    """A buys from B, C from D; legs for C and D only: A (first uploader) is named, for the charges
    it did not instruct, then for its cash net once it instructs its charges alone. An uploader
    owing nothing and netting to zero is asked for nothing; one trading others' trades too has no
    cash figure."""
    trades = _execution(0, 100, 50) + _execution(1, 10, 70, buyer=C, seller=D)
    mine = {p: [t for t in trades if t.participant == p] for p in (A, B, C, D)}
    due = {p: dues(p, mine[p], CHARGES) for p in (A, B, C, D)}
    legs = [g for g in net(trades).legs if g.participant in (C, D)]
    instructions = {p: derive(p, mine[p], CHARGES) for p in (C, D)}
    check(instructions, legs)
    with pytest.raises(NoInstruction) as e:
        check_due(instructions, due)
    assert (e.value.participant, e.value.kind, e.value.asset) == (A, CASH, currency_asset(HKD))
    for p in (A, B):
        cash = [x for x in derive(p, mine[p], CHARGES) if x.kind == CASH]
        instructions[p] = [dataclasses.replace(x, amount=0) for x in cash]
    check(instructions, legs)
    with pytest.raises(CashNetMismatch) as e:
        check_due(instructions, due)
    assert (e.value.participant, e.value.cleared, e.value.netted) == (A, -5000, 0)
    own = [t for t in _execution(0, 100, 50) + _execution(1, 100, 50, B, A) if t.participant == A]
    free = dues(A, own, {})[currency_asset(HKD)]  # no charges, bought and sold alike
    assert free == Due(0, 0, 0)
    check_due({}, {A: {currency_asset(HKD): free}})  # nothing asked of it
    mixed = dues(A, trades[:2], CHARGES)  # A uploaded B's side too: its cash is not checkable
    assert mixed[currency_asset(HKD)].cash is None


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
