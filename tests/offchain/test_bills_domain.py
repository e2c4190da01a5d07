"""Bill math and the ledger model without a chain."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain.bills import (
    DISCOUNT_DENOMINATOR,
    BillLedger,
    BillStatus,
    NodeKind,
    NodeState,
    chain_evidence,
    days_to_maturity,
    discount,
    evidence_of,
    proceeds,
)

DAY = 86_400


def test_discount__one_year_at_ten_percent__exact():
    assert discount(1_000_000, 1_000, 365) == 100_000
    assert proceeds(1_000_000, 1_000, 365 * DAY, 0) == 900_000


def test_discount__rounds_down_in_holders_favour():
    assert discount(1, 10_000, 364) == 0  # 364 / 365 of one fen
    assert discount(3_650_000, 1, 1) == 1


def test_days_to_maturity__partial_day_and_matured():
    assert days_to_maturity(10 * DAY + 5, 5) == 10
    assert days_to_maturity(10 * DAY - 1, 0) == 9
    assert days_to_maturity(5, 10) == 0


def test_discount__rate_out_of_range__error_names_the_unit():
    with pytest.raises(ValueError, match="basis points"):
        discount(1, 10_001, 1)


@given(st.integers(0, 10**20), st.integers(0, 10_000), st.integers(0, 3_650))
@settings(max_examples=50)
def test_proceeds__bounded_by_amount(amount, rate, days):
    d = discount(amount, rate, days)
    assert 0 <= d <= amount * days // 365 + 1
    assert d == amount * rate * days // DISCOUNT_DENOMINATOR


def test_evidence__order_matters_and_zero_start():
    a, b = b"\x01" * 32, b"\x02" * 32
    actor = "0x" + "11" * 20
    one = evidence_of([(1, actor, a, True), (2, actor, b, True)])
    two = evidence_of([(1, actor, b, True), (2, actor, a, True)])
    assert one != two
    assert evidence_of([(1, actor, a, True)]) == chain_evidence(b"\0" * 32, 1, actor, a, True)
    assert evidence_of([(2, actor, a, True)]) != evidence_of([(2, actor, a, False)])


def test_ledger__split_finance_redeem__conserved_and_lineage():
    led = BillLedger()
    bill = led.issue("core", "t1", 100)
    assert led.conserved(bill) and led.locked(bill) == 100
    led.deliver(bill)
    a = led.request(bill, "t1", "t2a", 40, NodeKind.TRANSFER)
    assert led.conserved(bill) and led.locked(a) == 40
    led.deliver(a)
    f = led.request(a, "t2a", None, 40, NodeKind.FINANCING)
    led.advance(f, NodeState.QUOTED, receiver="factor")
    led.deliver(f)
    assert led.balance(f, "factor") == 40 and led.lineage(f) == [f, a, bill]
    led.redeem(f, "factor", 40)
    led.redeem(bill, "t1", 60)
    assert led.status[bill] == BillStatus.SETTLED and led.conserved(bill)


def test_ledger__reject__returns_amount_or_cancels_issue():
    led = BillLedger()
    bill = led.issue("core", "t1", 10)
    led.deliver(bill)
    a = led.request(bill, "t1", "t2", 4, NodeKind.TRANSFER)
    led.reject(a)
    assert led.balance(bill, "t1") == 10 and led.conserved(bill)
    other = led.issue("core", "t1", 5)
    led.reject(other)
    assert led.status[other] == BillStatus.CANCELLED and led.conserved(other)


def test_ledger__overdraw__error_names_node():
    led = BillLedger()
    bill = led.issue("core", "t1", 10)
    led.deliver(bill)
    with pytest.raises(ValueError, match=f"node {bill}"):
        led.request(bill, "t1", "t2", 11, NodeKind.TRANSFER)
