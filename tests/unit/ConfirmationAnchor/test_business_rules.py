"""The sales bank's screening by business type, the issuer's own checks with the refusal reason in
the signed confirmation, and terms per (sales bank, product) (issue 18, source 001)."""

import os

import brownie
import pytest

from consortium.domain import eip712, merkle, qualification
from consortium.domain.days import day_bounds
from consortium.roles import confirmations as line
from consortium.roles.confirmations import anchor_domain

ZERO32 = "0x" + "00" * 32


@pytest.fixture(scope="module")
def product(people, conf_cast, make_rules, agree):
    """A product of issuer A whose rules the sales bank agreed (risk 4, 18+, minimum 1,000)."""
    pid = os.urandom(32)
    rules = make_rules(pid, conf_cast.issuer_a, risk=4, min_age=18, min_amount=1_000)
    agree(rules, conf_cast.sales_bank, conf_cast.issuer_a)
    people.sales_bank.rules[pid] = rules
    return pid


def _customer(people, conf_cast, age, risk, holdings=None, registered=True):
    inv = qualification.Investor(
        os.urandom(32),
        age,
        risk,
        frozenset({conf_cast.issuer_a.address.lower()} if registered else set()),
        holdings or {},
    )
    people.sales_bank.investors[inv.commitment] = inv
    if registered:
        people.issuer_a.book.registered.add(inv.commitment)
    return inv


# ------------------------------------------------------------------ 1. screening by business type


def test_screen__redemption_by_investor_failing_purchase_rules__sent(
    people, conf_cast, product, make_request
):
    """A 16-year-old of risk level 1 may not subscribe, but redeems the shares held."""
    inv = _customer(people, conf_cast, 16, 1, {product: 50})
    red = make_request(conf_cast.issuer_a, 200, product, eip712.REDEMPTION, inv.commitment)
    change = make_request(conf_cast.issuer_a, 0, product, eip712.SHARE_CHANGE, inv.commitment)
    change = eip712.Request(*change.as_tuple()[:6], 50, *change.as_tuple()[7:])
    sub = make_request(conf_cast.issuer_a, 5_000, product, eip712.SUBSCRIPTION, inv.commitment)
    accepted, rejected = people.sales_bank.screen([red, change, sub])
    assert [q.requestId for q in accepted] == [red.requestId, change.requestId]
    assert rejected[0].request_id == sub.requestId
    assert set(rejected[0].codes) == {qualification.UNDER_MIN_AGE, qualification.RISK_TOO_LOW}


def test_screen__redemption_beyond_holding_or_unregistered__refused_with_reason(
    people, conf_cast, product, make_request
):
    held = _customer(people, conf_cast, 40, 5, {product: 10})
    stranger = _customer(people, conf_cast, 40, 5, {product: 10}, registered=False)
    too_many = make_request(conf_cast.issuer_a, 1_000, product, eip712.REDEMPTION, held.commitment)
    unreg = make_request(conf_cast.issuer_a, 10, product, eip712.REDEMPTION, stranger.commitment)
    small = make_request(conf_cast.issuer_a, 999, product, eip712.SUBSCRIPTION, held.commitment)
    accepted, rejected = people.sales_bank.screen([too_many, unreg, small])
    assert accepted == []
    codes = {r.request_id: r.codes for r in rejected}
    assert codes[too_many.requestId] == (qualification.INSUFFICIENT_SHARES,)  # 100 shares > 10
    assert codes[unreg.requestId] == (qualification.NOT_REGISTERED,)
    assert codes[small.requestId] == (qualification.BELOW_MIN_AMOUNT,)
    stored = people.sales_bank.store.get("rejection", "0x" + too_many.requestId.hex())
    assert "100 shares, investor holds 10" in stored["reason"]


# ------------------------------------------------------------------ 2. the issuer's checks


def _round_trip(people, conf_cast, reqs, period, received_at):
    """Packet out, answers back: the bank sends one packet per issuer and period (keyed), so each
    round trip here is of a period of its own."""
    bank = people.sales_bank
    bank.send_packets(period, bank.packets(reqs))
    assert people.issuer_a.confirm_packets(received_at + 60, received_at) == len(reqs)
    got = bank.collect_confirmations()[conf_cast.issuer_a.address.lower()]
    return {q.requestId: (c, sig) for q, c, sig in got}, got


def test_issuer__every_check__refused_orders_confirmed_as_refused_and_anchored(
    anchor, people, conf_cast, make_request, chain
):
    pid = os.urandom(32)
    people.issuer_a.book.products[pid] = qualification.Product(
        pid,
        open_kinds=frozenset({eip712.SUBSCRIPTION}),
        min_amount=100,
        max_amount=10_000,
        quota=15_000,
        cutoff=15 * 3600,
    )
    period = chain.time() // 86_400 + 100
    inv = _customer(people, conf_cast, 40, 5)
    stranger = os.urandom(32)
    mk = lambda amount, kind=eip712.SUBSCRIPTION, who=inv.commitment, day=period: make_request(
        conf_cast.issuer_a, amount, pid, kind, who, day
    )
    ok, big, quota, red, unreg, small = (
        mk(9_000),
        mk(10_001),
        mk(7_000),
        mk(10, eip712.REDEMPTION),
        mk(500, who=stranger),
        mk(99),
    )
    reqs = [ok, big, quota, red, unreg, small]
    before = day_bounds(period)[0] + 15 * 3600
    answers, got = _round_trip(people, conf_cast, reqs, period, before)
    expected = {
        ok.requestId: None,
        big.requestId: qualification.ABOVE_MAX_AMOUNT,
        quota.requestId: qualification.QUOTA_EXHAUSTED,  # 9,000 used of 15,000
        red.requestId: qualification.PRODUCT_CLOSED,
        unreg.requestId: qualification.NOT_REGISTERED,
        small.requestId: qualification.BELOW_MIN_AMOUNT,
    }
    for rid, code in expected.items():
        c, sig = answers[rid]
        assert qualification.reason_of(c.reason) == code
        assert c.status == (eip712.CONFIRMED if code is None else eip712.REFUSED)
        assert anchor.checkConfirmation(c.as_tuple(), sig) == conf_cast.issuer_a.address
    root = people.sales_bank.anchor_packet(conf_cast.issuer_a.address, got)
    assert anchor.anchorOf(conf_cast.sales_bank.address, root)[2] == len(reqs)
    r, rec, proof = people.sales_bank.proof_of(big.requestId)  # the refusal is on record
    assert r == root and anchor.verifyRecord(conf_cast.sales_bank.address, r, *rec, proof)
    c, sig = answers[big.requestId]
    q = next(x for x in reqs if x.requestId == big.requestId)
    assert rec[3] == eip712.second_transaction_hash(q, c, sig)
    assert merkle.verify(r, rec, proof)

    late = mk(200, day=period + 1)  # the same product, received a second after the next cut-off
    after = day_bounds(period + 1)[0] + 15 * 3600 + 1
    answers, _ = _round_trip(people, conf_cast, [late], period + 1, after)
    assert qualification.reason_of(answers[late.requestId][0].reason) == qualification.AFTER_CUTOFF


def test_issuer__redemption_within_holding_confirmed_then_beyond_refused(
    people, conf_cast, make_request, chain
):
    pid = os.urandom(32)
    people.issuer_a.book.products[pid] = qualification.Product(pid)
    inv = _customer(people, conf_cast, 40, 5)
    period = chain.time() // 86_400 + 200
    sub = make_request(conf_cast.issuer_a, 1_000, pid, eip712.SUBSCRIPTION, inv.commitment, period)
    red = make_request(conf_cast.issuer_a, 600, pid, eip712.REDEMPTION, inv.commitment, period)
    again = make_request(conf_cast.issuer_a, 600, pid, eip712.REDEMPTION, inv.commitment, period)
    answers, _ = _round_trip(people, conf_cast, [sub, red, again], period, chain.time())
    assert [answers[q.requestId][0].status for q in (sub, red)] == [eip712.CONFIRMED] * 2
    assert answers[red.requestId][0].confirmedShares == 60  # of the 100 subscribed
    assert qualification.reason_of(answers[again.requestId][0].reason) == (
        qualification.INSUFFICIENT_SHARES  # 60 more of the 40 left
    )
    assert people.issuer_a.book.holdings[(inv.commitment, pid)] == 40


@pytest.mark.parametrize(
    "status,reason,amount",
    [
        (eip712.REFUSED, b"\0" * 32, 0),
        (eip712.CONFIRMED, b"X" * 32, 5),
        (eip712.REFUSED, b"X" * 32, 5),
        (3, b"\0" * 32, 5),
    ],
)
def test_check__inconsistent_outcome__reverts_and_raises(
    anchor, people, conf_cast, make_request, status, reason, amount
):
    """A refused order is confirmed as refused, with its reason and nothing confirmed."""
    dom = anchor_domain(anchor)
    q = make_request(conf_cast.issuer_a, 50)
    c = eip712.Confirmation(
        q.requestId, q.struct_hash(), conf_cast.issuer_a.address, status, amount, 0, 7, reason
    )
    sig = eip712.sign_confirmation(dom, c, people.issuer_a.key.key)
    with brownie.reverts(revert_pattern=r"AnchorConfirmationOutcomeInvalid: .*"):
        anchor.checkConfirmation(c.as_tuple(), sig)
    with pytest.raises(eip712.ConfirmationOutcomeInvalid):
        eip712.check_confirmation(
            dom, c, sig, people.sales_bank.issuer_signers(conf_cast.issuer_a.address)
        )


# ------------------------------------------------------------------ 3. terms per bank and product


@pytest.fixture(scope="module")
def second_bank(admit, connect, conf_cast, regulator_cn, accounts):
    bank = admit(accounts[11], ["SALES_BANK"], regulator=regulator_cn, name="second sales bank")
    connect(bank, conf_cast.issuer_a)
    return bank


def test_terms__two_banks_one_product__each_agrees_its_own(
    anchor, registry, conf_cast, second_bank, make_rules, agree
):
    pid = os.urandom(32)
    first = make_rules(pid, conf_cast.issuer_a, risk=3)
    second = make_rules(pid, conf_cast.issuer_a, risk=2, bank=second_bank)
    for r, bank in ((first, conf_cast.sales_bank), (second, second_bank)):
        assert anchor.qualificationTermsId(bank.address, pid) == "0x" + r.terms_id.hex()
        agree(r, bank, conf_cast.issuer_a)
    assert first.terms_id != second.terms_id
    for r, bank in ((first, conf_cast.sales_bank), (second, second_bank)):
        a, b, held, version = registry.getTerms(r.terms_id)
        assert (a, b, held, version) == (
            bank.address,
            conf_cast.issuer_a.address,
            "0x" + r.terms_hash().hex(),
            1,
        )


def test_terms__bank_amending_another_banks_terms__refused_unchanged(
    registry, conf_cast, second_bank, make_rules, agree
):
    pid = os.urandom(32)
    first = make_rules(pid, conf_cast.issuer_a)
    agree(first, conf_cast.sales_bank, conf_cast.issuer_a)
    theirs = make_rules(pid, conf_cast.issuer_a, risk=1, bank=second_bank)
    with brownie.reverts(revert_pattern=r"RegistryTermsPartiesMismatch: .*"):
        second_bank.approve_amendment(
            first.terms_id, second_bank.address, conf_cast.issuer_a.address, theirs.terms_hash()
        )
    assert registry.getTerms(first.terms_id)[2] == "0x" + first.terms_hash().hex()


def test_terms_id__no_bank__refused():
    with pytest.raises(ValueError, match="sales bank"):
        _ = qualification.QualificationRules(b"P" * 32, "0x" + "11" * 20, 1).terms_id


def test_participant_answer__is_the_issuers_book_decision():
    """roles.answer signs what IssuerBook.decide says, nothing else (a refused order confirms 0)."""
    pid, inv = b"P" * 32, b"I" * 32
    book = qualification.IssuerBook("0x" + "22" * 20, {pid: qualification.Product(pid)}, {inv})
    q = eip712.Request(os.urandom(32), "0x" + "33" * 20, book.issuer, pid, 2, 10, 5, inv, 1)
    c = line.answer(book, q, 0, 9)
    assert (c.status, c.confirmedAmount, c.confirmedShares) == (eip712.REFUSED, 0, 0)
    assert qualification.reason_of(c.reason) == qualification.INSUFFICIENT_SHARES
