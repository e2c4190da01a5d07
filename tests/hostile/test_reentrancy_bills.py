"""Re-entry through the ERC-1155 receiver hook into BillToken, by a contract member.

BillToken calls a receiver back only where it delivers out of escrow (`_deliver`: the audit of an
issue or transfer, and the financing disbursement). Both set every effect before the delivery
(checks-effects-interactions), so a re-entry from the hook finds the node already Valid and is refused
with BillNodeState; the disbursement pays the cash leg before delivering too. Burns (redeem, reject),
escrow locks and deposit-token payments call no hook at all (ERC-20 has none).
"""

import pytest

from consortium.domain.bills import FULL_CLIENT, BillStatus, EvidenceStep, NodeState, evidence_of
from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, warp
from tests.fixtures.hostile import arm, decode_error, via

RATE = 800
ZERO32 = b"\0" * 32
H_REVIEW, H_AUDIT = doc_hash("goods received"), doc_hash("issue audit")


@pytest.fixture(scope="module")
def attacker(make_attacker, regulator_cn, bill_cast, cash):
    """A contract member holding the client and factor roles, with deposits to pay a financing."""
    a = make_attacker([*FULL_CLIENT, "ASSET_MANAGER"], regulator_cn)
    bill_cast.cash_issuer.issue(a.address, "CNY", FACE, "attacker cash in")
    return a


def _issue_to(attacker, bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(attacker.address, FACE, maturity, "po + invoice")
    via(attacker, bills, "review", bill_id, True, H_REVIEW)
    return bill_id


def _refusal(attacker, *contracts):
    """The error the attacker's one re-entry got (it must have been tried, and refused)."""
    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    return decode_error(attacker.lastResult(), *contracts)


def test_audit__receiver_hook_reenters_review__refused_delivery_exact(
    bills, bill_cast, attacker, maturity
):
    bill_id = _issue_to(attacker, bills, bill_cast, maturity)
    arm(attacker, bills, "review", bill_id, True, H_REVIEW)
    tx = bill_cast.auditor.audit(bill_id, True, H_AUDIT)
    assert _refusal(attacker, bills) == (
        "BillNodeState",
        (bill_id, NodeState.REQUESTED, NodeState.VALID),
    )
    assert attacker.received() == 1 and "ReentryAttempted" in tx.events
    assert tx.events["BillAudited"]["approved"] is True
    node = bills.node(bill_id)
    assert node["state"] == NodeState.VALID and bills.bill(bill_id)["status"] == BillStatus.ACTIVE
    assert bills.balanceOf(attacker.address, bill_id) == FACE and bills.locked(bill_id) == 0
    # the refused re-entry left no trace in the evidence: request, one review, one audit
    assert (
        node["evidence"]
        == "0x"
        + evidence_of(
            [
                (EvidenceStep.REQUEST, bill_cast.core.address, doc_hash("po + invoice"), True),
                (EvidenceStep.REVIEW, attacker.address, H_REVIEW, True),
                (EvidenceStep.AUDIT, bill_cast.auditor.address, H_AUDIT, True),
            ]
        ).hex()
    )


@pytest.fixture(scope="module")
def audited_financing(bills, bill_cast, attacker, make_bill):
    """tier-1 finances 400,000.00 of a bill with the attacker as factor, up to the audit."""

    def _make():
        bill_id = make_bill()
        fin, _ = bill_cast.tier1.request_financing(bill_id, 400_000_00, "financing request")
        quote = via(attacker, bills, "quoteFinancing", fin, RATE, doc_hash("agreement"))
        bill_cast.tier1.accept_financing(fin, "agreement", attacker.address, RATE)
        bill_cast.auditor.audit(fin, True, "financing audit")
        return fin, int(quote.events["BillFinancingQuoted"]["proceeds"])

    return _make


def test_disburse__factor_hook_reenters_disburse__refused_paid_once(
    bills, cash, bill_cast, attacker, audited_financing
):
    fin, paid = audited_financing()
    holder_cash, factor_cash = cash.balanceOf(bill_cast.tier1.address), cash.balanceOf(attacker)
    arm(attacker, bills, "disburseFinancing", fin, ZERO32)
    tx = via(attacker, bills, "disburseFinancing", fin, ZERO32)
    assert _refusal(attacker, bills) == (
        "BillNodeState",
        (fin, NodeState.AUDITED, NodeState.VALID),
    )
    assert len(tx.events["BillFinancingDisbursed"]) == 1
    assert cash.balanceOf(bill_cast.tier1.address) == holder_cash + paid
    assert cash.balanceOf(attacker) == factor_cash - paid
    assert bills.balanceOf(attacker.address, fin) == 400_000_00 and bills.locked(fin) == 0


def test_disburse__factor_hook_runs__holder_already_paid(
    bills, cash, bill_cast, attacker, audited_financing
):
    """The cash leg is paid before the delivery that calls the factor back (effects first)."""
    fin, paid = audited_financing()
    holder_cash = cash.balanceOf(bill_cast.tier1.address)
    arm(attacker, cash, "balanceOf", bill_cast.tier1.address)  # what the hook sees
    via(attacker, bills, "disburseFinancing", fin, ZERO32)
    assert attacker.lastSucceeded() is True
    assert int(attacker.lastResult().hex(), 16) == holder_cash + paid
    assert bills.node(fin)["state"] == NodeState.VALID


def test_redeem__contract_holder__no_callback_paid_exactly(
    bills, cash, bill_cast, attacker, maturity, chain
):
    """Redemption burns and pays in deposit tokens: neither calls the holder, so nothing re-enters."""
    bill_id = _issue_to(attacker, bills, bill_cast, maturity)
    bill_cast.auditor.audit(bill_id, True, H_AUDIT)
    assert attacker.received() == 1  # the delivery of the audit
    arm(
        attacker,
        bills,
        "redeem",
        doc_hash("re-entered redemption"),
        [bill_id],
        [attacker.address],
        [1],
        ZERO32,
    )
    warp(chain, maturity)
    before = cash.balanceOf(attacker)
    bill_cast.core.redeem([(bill_id, attacker.address, FACE)])
    assert attacker.received() == 1 and attacker.attempts() == 0 and attacker.armed() is True
    assert cash.balanceOf(attacker) == before + FACE
    assert bills.balanceOf(attacker.address, bill_id) == 0
    assert bills.bill(bill_id)["status"] == BillStatus.SETTLED


def test_execute__not_owner__named_error(attacker, bills, accounts):
    """The attacker is a wallet: only its owner drives it (so no test relies on an open contract)."""
    import brownie

    with brownie.reverts(revert_pattern=r"ReentrantReceiverNotOwner:.*"):
        attacker.execute(bills.address, b"", {"from": accounts[0]})
