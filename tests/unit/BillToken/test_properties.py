"""Chain against Python on random inputs: financing proceeds and the evidence digest."""

import brownie
import pytest
from brownie.test import given, strategy
from hypothesis import HealthCheck, settings

from consortium.domain.bills import EvidenceStep, NodeState, chain_evidence, evidence_of, proceeds
from tests.fixtures.bills import DAY


@given(
    amount=strategy("uint256", min_value=1, max_value=10**15),
    rate=strategy("uint16", max_value=10_000),
    days=strategy("uint256", min_value=1, max_value=365),
    offset=strategy("uint256", max_value=DAY - 1),
)
@settings(max_examples=25, suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow])
def test_quote__random_terms__proceeds_match_python(
    bills, bill_cast, chain, amount, rate, days, offset
):
    mat = chain[-1].timestamp + days * DAY + offset
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, amount, mat, "po")
    bill_cast.tier1.review(bill_id, True, "ok")
    bill_cast.auditor.audit(bill_id, True, "ok")
    fin, _ = bill_cast.tier1.request_financing(bill_id, amount, "r")
    tx = bill_cast.factor.quote(fin, rate, "agreement")
    assert tx.events["BillFinancingQuoted"]["proceeds"] == proceeds(amount, rate, mat, tx.timestamp)


@given(
    docs=strategy("bytes32[3]"),
    oks=strategy("bool[2]"),
)
@settings(max_examples=25, suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow])
def test_evidence__random_hashes__digest_matches_python(bills, bill_cast, maturity, docs, oks):
    docs = [bytes(d) if any(d) else b"\x01" * 32 for d in docs]  # zero hashes are refused by design
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, 100, maturity, docs[0])
    bill_cast.tier1.review(bill_id, oks[0], docs[1])
    steps = [
        (EvidenceStep.REQUEST, bill_cast.core.address, docs[0], True),
        (EvidenceStep.REVIEW, bill_cast.tier1.address, docs[1], oks[0]),
    ]
    if oks[0]:
        bill_cast.auditor.audit(bill_id, oks[1], docs[2])
        steps.append((EvidenceStep.AUDIT, bill_cast.auditor.address, docs[2], oks[1]))
    assert bills.node(bill_id)["evidence"] == "0x" + evidence_of(steps).hex()
    assert evidence_of(steps[:1]) == chain_evidence(
        b"\0" * 32, 1, bill_cast.core.address, docs[0], True
    )


def test_quote__discount_above_amount__reverts_unchanged(bills, bill_cast, chain):
    """Past a year at 100 % the discount would exceed the amount: refused, not underflowed."""
    mat = chain[-1].timestamp + 400 * DAY
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, 1_000, mat, "po")
    bill_cast.tier1.review(bill_id, True, "ok")
    bill_cast.auditor.audit(bill_id, True, "ok")
    fin, _ = bill_cast.tier1.request_financing(bill_id, 1_000, "r")
    with brownie.reverts(revert_pattern=r"BillDiscountExceedsAmount:.*"):
        bill_cast.factor.quote(fin, 10_000, "agreement")
    assert bills.node(fin)["state"] == NodeState.REQUESTED
    with pytest.raises(ValueError, match="lower rate"):
        proceeds(1_000, 10_000, mat, chain[-1].timestamp)
