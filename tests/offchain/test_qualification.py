"""The qualification twin without a chain: screening by business type, the issuer's books (limits,
quota, holdings, cut-off) and the terms id per (sales bank, product). Property tests where the rules
are arithmetic; the contract side (qualificationTermsId, AnchorConfirmationOutcomeInvalid) is in
tests/unit/ConfirmationAnchor/test_business_rules.py."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain import eip712, qualification
from consortium.domain.days import day_bounds

ISSUER, BANK, BANK2 = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
PID, INV = b"P" * 32, b"I" * 32


def _rules(**kw):
    base = {"product_risk": 3, "min_age": 18, "sales_bank": BANK, "min_amount": 1_000}
    return qualification.QualificationRules(PID, ISSUER, **(base | kw))


def _investor(age=40, risk=5, registered=True, held=0):
    return qualification.Investor(
        INV, age, risk, frozenset({ISSUER} if registered else set()), {PID: held}
    )


@settings(max_examples=200, deadline=None)
@given(age=st.integers(0, 120), risk=st.integers(1, 5), shares=st.integers(1, 10**6))
def test_check__redemption_and_share_change__purchase_rules_never_apply(age, risk, shares):
    inv = _investor(age, risk, held=shares)
    for kind in (eip712.REDEMPTION, eip712.SHARE_CHANGE):
        assert qualification.check(_rules(), inv, kind, 0, shares) == []


@settings(max_examples=200, deadline=None)
@given(held=st.integers(0, 10**6), shares=st.integers(1, 10**6))
def test_check__redemption__allowed_iff_shares_within_holding(held, shares):
    codes = [c for c, _ in qualification.check(_rules(), _investor(held=held), 2, 0, shares)]
    assert codes == ([] if shares <= held else [qualification.INSUFFICIENT_SHARES])


@settings(max_examples=200, deadline=None)
@given(age=st.integers(0, 120), risk=st.integers(1, 5), amount=st.integers(0, 10**9))
def test_check__subscription__each_purchase_rule_exactly_when_broken(age, risk, amount):
    codes = {c for c, _ in qualification.check(_rules(), _investor(age, risk), 1, amount, 0)}
    expected = {
        qualification.UNDER_MIN_AGE: age < 18,
        qualification.RISK_TOO_LOW: risk < 3,
        qualification.BELOW_MIN_AMOUNT: amount < 1_000,
    }
    assert codes == {c for c, broken in expected.items() if broken}


def test_check__unregistered_redemption_or_unknown_kind__refused():
    inv = _investor(registered=False, held=10)
    assert [c for c, _ in qualification.check(_rules(), inv, 2, 0, 5)] == [
        qualification.NOT_REGISTERED
    ]
    assert [c for c, _ in qualification.check(_rules(), _investor(), 9, 1, 1)] == [
        qualification.UNKNOWN_KIND
    ]
    assert [c for c, _ in qualification.check(_rules(), _investor(held=5), 3, 0, 0)] == [
        qualification.NO_SHARES
    ]


def test_screen__terms_of_another_bank__not_in_force():
    mine = _rules()
    order = qualification.Order(b"r" * 32, PID, _investor(), 1, 5_000, 5)
    ok, rejected = qualification.screen([order], {PID: mine}, {PID: mine.terms_hash()})
    assert ok == [order.request_id] and rejected == []
    theirs = _rules(sales_bank=BANK2)  # the same rules agreed by another bank: another document
    ok, rejected = qualification.screen([order], {PID: mine}, {PID: theirs.terms_hash()})
    assert ok == [] and rejected[0].codes == (qualification.RULES_NOT_AGREED,)


def test_terms_id__per_bank_and_product__abi_encode_packed():
    a, b = _rules(), _rules(sales_bank=BANK2)
    assert a.terms_id == keccak(b"QUALIFICATION" + bytes.fromhex(BANK[2:]) + PID)
    assert a.terms_id != b.terms_id and a.terms_hash() != b.terms_hash()
    with pytest.raises(ValueError, match="sales bank"):
        qualification.terms_id("0x" + "00" * 20, PID)


def _book(**product):
    p = qualification.Product(PID, **product)
    return qualification.IssuerBook(ISSUER, {PID: p}, {INV})


@settings(max_examples=200, deadline=None)
@given(amounts=st.lists(st.integers(1, 10_000), max_size=30), quota=st.integers(0, 100_000))
def test_book__quota__confirmed_subscriptions_never_exceed_it(amounts, quota):
    book = _book(quota=quota)
    confirmed = 0
    for amount in amounts:
        code = book.decide(PID, INV, 1, amount, amount, 1, 0)
        assert (code is None) == (confirmed + amount <= quota)
        if code is None:
            book.apply(PID, INV, 1, amount, amount)
            confirmed += amount
        else:
            assert code == qualification.QUOTA_EXHAUSTED
    assert book.used.get(PID, 0) == confirmed <= quota
    assert book.holdings.get((INV, PID), 0) == confirmed


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(0, 10**7), low=st.integers(0, 10**6), span=st.integers(0, 10**6))
def test_book__limits__refused_outside_named(amount, low, span):
    code = _book(min_amount=low, max_amount=low + span).decide(PID, INV, 1, amount, 1, 1, 0)
    if amount < low:
        assert code == qualification.BELOW_MIN_AMOUNT
    elif amount > low + span:
        assert code == qualification.ABOVE_MAX_AMOUNT
    else:
        assert code is None


@settings(max_examples=100, deadline=None)
@given(day=st.integers(0, 50_000), cutoff=st.integers(0, 86_399), at=st.integers(0, 86_399))
def test_book__cutoff__orders_of_the_day_after_it_refused(day, cutoff, at):
    code = _book(cutoff=cutoff).decide(PID, INV, 1, 1, 1, day, day_bounds(day)[0] + at)
    assert code == (qualification.AFTER_CUTOFF if at > cutoff else None)


def test_book__each_refusal_reason():
    book = _book(open_kinds=frozenset({1}))
    assert book.decide(b"X" * 32, INV, 1, 1, 1, 1, 0) == qualification.WRONG_ISSUER
    assert book.decide(PID, b"S" * 32, 1, 1, 1, 1, 0) == qualification.NOT_REGISTERED
    assert book.decide(PID, INV, 2, 0, 1, 1, 0) == qualification.PRODUCT_CLOSED
    assert book.decide(PID, INV, 7, 0, 1, 1, 0) == qualification.UNKNOWN_KIND
    book = _book()
    assert book.decide(PID, INV, 2, 0, 1, 1, 0) == qualification.INSUFFICIENT_SHARES
    book.apply(PID, INV, 1, 100, 10)
    assert book.decide(PID, INV, 2, 0, 10, 1, 0) is None
    book.apply(PID, INV, 2, 0, 10)
    assert book.holdings[(INV, PID)] == 0


@given(code=st.sampled_from(
    [qualification.AFTER_CUTOFF, qualification.QUOTA_EXHAUSTED, qualification.NOT_REGISTERED]
))  # fmt: skip
def test_reason_code32__round_trip_and_zero_for_none(code):
    assert qualification.reason_of(qualification.reason_code32(code)) == code
    assert qualification.reason_code32(None) == bytes(32)
    assert qualification.reason_of(bytes(32)) is None


def test_check_outcome__twin_of_the_contract_rule():
    c = eip712.Confirmation(b"r" * 32, b"h" * 32, ISSUER, 2, 0, 0, 1, b"R".ljust(32, b"\0"))
    eip712.check_outcome(c)
    for bad in (
        eip712.Confirmation(*c.as_tuple()[:7], bytes(32)),  # refused without a reason
        eip712.Confirmation(*c.as_tuple()[:4], 5, 0, 1, c.reason),  # refused, amount confirmed
        eip712.Confirmation(*c.as_tuple()[:3], 1, 5, 0, 1, c.reason),  # confirmed with a reason
    ):
        with pytest.raises(eip712.ConfirmationOutcomeInvalid):
            eip712.check_outcome(bad)
