"""A period of requests: screened against jointly agreed rules, packets per issuer, confirmed, anchored."""

import os

import pytest

from consortium.channels import ChannelClosed
from consortium.domain import eip712, merkle, qualification

PA, PB = b"A" * 32, b"B" * 32


@pytest.fixture(scope="module")
def agreed(people, conf_cast, make_rules, agree):
    rules = {
        PA: make_rules(PA, conf_cast.issuer_a, risk=3),
        PB: make_rules(PB, conf_cast.issuer_b, risk=2, min_age=21),
    }
    agree(rules[PA], conf_cast.sales_bank, conf_cast.issuer_a)
    agree(rules[PB], conf_cast.sales_bank, conf_cast.issuer_b)
    people.sales_bank.rules.update(rules)
    people.issuer_a.book.products[PA] = qualification.Product(PA)
    people.issuer_b.book.products[PB] = qualification.Product(PB)
    _PEOPLE.update({conf_cast.issuer_a.address: people.issuer_a})
    _PEOPLE.update({conf_cast.issuer_b.address: people.issuer_b})
    return rules


_PEOPLE = {}  # issuer address -> its ProductIssuer (set by `agreed`)


def _investor(bank, age, risk, issuers):
    """A customer of the bank, registered with `issuers` on both sides (the bank's record and the
    issuer's books)."""
    inv = qualification.Investor(
        os.urandom(32), age, risk, frozenset(i.address.lower() for i in issuers)
    )
    bank.investors[inv.commitment] = inv
    for i in issuers:
        _PEOPLE[i.address].book.registered.add(inv.commitment)
    return inv


def test_period__several_issuers__packet_per_issuer_confirmed_and_anchored(
    anchor, people, conf_cast, agreed, make_request
):
    bank = people.sales_bank
    ok = _investor(bank, 40, 5, [conf_cast.issuer_a, conf_cast.issuer_b])
    young = _investor(bank, 19, 5, [conf_cast.issuer_a, conf_cast.issuer_b])
    timid = _investor(bank, 40, 1, [conf_cast.issuer_a])
    reqs = [
        make_request(conf_cast.issuer_a, 1000 + i, PA, investor=ok.commitment) for i in range(3)
    ]
    reqs += [
        make_request(conf_cast.issuer_b, 2000 + i, PB, investor=ok.commitment) for i in range(2)
    ]
    bad_age = make_request(conf_cast.issuer_b, 5, PB, investor=young.commitment)
    bad_risk = make_request(conf_cast.issuer_a, 6, PA, investor=timid.commitment)
    bad_both = make_request(conf_cast.issuer_b, 7, PB, investor=timid.commitment)

    accepted, rejected = bank.screen(reqs + [bad_age, bad_risk, bad_both])
    assert {q.requestId for q in accepted} == {q.requestId for q in reqs}
    reasons = {r.request_id: r.codes for r in rejected}
    assert reasons[bad_age.requestId] == (qualification.UNDER_MIN_AGE,)
    assert reasons[bad_risk.requestId] == (qualification.RISK_TOO_LOW,)
    assert set(reasons[bad_both.requestId]) == {
        qualification.NOT_REGISTERED,
        qualification.RISK_TOO_LOW,
    }
    assert (
        "risk level 1 < product risk 3"
        in bank.store.get("rejection", "0x" + bad_risk.requestId.hex())["reason"]
    )

    packets = bank.packets(accepted)
    assert {k: len(v) for k, v in packets.items()} == {
        conf_cast.issuer_a.address.lower(): 3,
        conf_cast.issuer_b.address.lower(): 2,
    }
    bank.send_packets(1, packets)
    assert people.issuer_a.confirm_packets(100) == 3
    assert people.issuer_b.confirm_packets(100) == 2
    confirmed = bank.collect_confirmations()
    for issuer, items in confirmed.items():
        root = bank.anchor_packet(issuer, items)
        assert anchor.anchorOf(conf_cast.sales_bank.address, root)[2] == len(items)
    for q in reqs:
        root, rec, proof = bank.proof_of(q.requestId)
        assert merkle.verify(root, rec, proof)
        assert anchor.verifyRecord(conf_cast.sales_bank.address, root, *rec, proof)


def test_anchor_packet__agent_restarted__no_double_anchor(
    anchor, people, conf_cast, agreed, make_request
):
    bank = people.sales_bank
    inv = _investor(bank, 40, 5, [conf_cast.issuer_a])
    reqs = [make_request(conf_cast.issuer_a, 50, PA, investor=inv.commitment)]
    bank.send_packets(2, bank.packets(reqs))
    people.issuer_a.confirm_packets(200)
    items = bank.collect_confirmations()[conf_cast.issuer_a.address.lower()]
    root = bank.anchor_packet(conf_cast.issuer_a.address, items)
    n = len(bank.receipts)
    bank.store.engine.dispose()
    from consortium.store import Store

    bank.store = Store(bank.store.url)  # a fresh process would reopen the same store
    assert bank.anchor_packet(conf_cast.issuer_a.address, items) == root
    assert len(bank.receipts) == n  # nothing sent twice


def test_confirmations__signed_by_another_issuer__refused(people, conf_cast, agreed, make_request):
    bank = people.sales_bank
    inv = _investor(bank, 40, 5, [conf_cast.issuer_a])
    q = make_request(conf_cast.issuer_a, 70, PA, investor=inv.commitment)
    bank.send_packets(3, bank.packets([q]))
    people.issuer_a.endpoint.receive(
        ["packet"]
    )  # issuer A never answers; issuer B forges its confirmation
    dom = people.issuer_b.domain()
    c = eip712.Confirmation(
        q.requestId, q.struct_hash(), conf_cast.issuer_a.address, 1, q.amount, q.shares, 1
    )
    sig = eip712.sign_confirmation(dom, c, people.issuer_b.key.key)
    people.issuer_b.endpoint.send(
        conf_cast.sales_bank.address,
        "confirmations",
        {
            "period": 3,
            "confirmations": [{"confirmation": c.to_json(), "signature": "0x" + sig.hex()}],
        },
    )
    with pytest.raises(eip712.ConfirmationSignerMismatch):
        bank.collect_confirmations()
    assert bank.store.get("second", "0x" + q.requestId.hex()) is None


def test_send_packets__closed_channel__raises_nothing_sent(
    people, conf_cast, registry, agreed, make_request
):
    bank = people.sales_bank
    registry.closeChannel(
        conf_cast.sales_bank.address,
        conf_cast.issuer_b.address,
        b"\x01" * 32,
        {"from": conf_cast.issuer_b.account},
    )
    q = make_request(conf_cast.issuer_b, 10, PB)
    with pytest.raises(ChannelClosed, match="no open data channel"):
        bank.send_packets(4, bank.packets([q]))
    assert people.issuer_b.endpoint.receive(["packet"]) == []
    assert bank.store.done(f"packet:4:{conf_cast.issuer_b.address.lower()}") is None


def test_rules__joint_amendment__only_with_both_approvals(
    people, conf_cast, registry, manager, agreed, make_request
):
    import brownie

    bank = people.sales_bank
    old = agreed[PA]
    new = qualification.QualificationRules(
        PA, conf_cast.issuer_a.address, 2, 18, True, conf_cast.sales_bank.address
    )
    inv = _investor(bank, 40, 2, [conf_cast.issuer_a])
    q = make_request(conf_cast.issuer_a, 10, PA, investor=inv.commitment)
    assert bank.screen([q])[1][0].codes == (
        qualification.RISK_TOO_LOW,
    )  # risk 2 < 3 under the agreed rules

    bank.rules[PA] = new  # the bank alone wants the new rules: not in force
    assert bank.screen([q])[1][0].codes == (qualification.RULES_NOT_AGREED,)
    people.sales_bank.approve_rules(new, conf_cast.sales_bank.address, conf_cast.issuer_a.address)
    with brownie.reverts(revert_pattern=r"RegistryAmendmentNotApproved:.*"):
        manager.enact(
            new.terms_id, conf_cast.sales_bank.address, conf_cast.issuer_a.address, new.terms_hash()
        )
    assert registry.getTerms(new.terms_id)[2] == "0x" + old.terms_hash().hex()
    assert bank.screen([q])[1][0].codes == (qualification.RULES_NOT_AGREED,)

    people.issuer_a.approve_rules(new, conf_cast.sales_bank.address, conf_cast.issuer_a.address)
    manager.enact(
        new.terms_id, conf_cast.sales_bank.address, conf_cast.issuer_a.address, new.terms_hash()
    )
    accepted, rejected = bank.screen([q])
    assert [x.requestId for x in accepted] == [q.requestId] and rejected == []
