"""Issue (开单): request by the debtor, review by the receiver, qualification audit, then valid."""

import brownie
import pytest

from consortium.domain.bills import BillStatus, EvidenceStep, NodeKind, NodeState, evidence_of
from consortium.domain.hashing import code32, doc_hash
from tests.fixtures.bills import DAY, FACE, warp
from tests.unit.BillToken.helpers import snapshot


def test_request_issue__valid__locks_face_value_in_escrow(bills, bill_cast, maturity):
    bill_id, tx = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po 1")
    ev = tx.events["BillIssueRequested"]
    assert (ev["billId"], ev["debtor"], ev["receiver"], ev["faceValue"]) == (
        bill_id,
        bill_cast.core.address,
        bill_cast.tier1.address,
        FACE,
    )
    assert ev["currency"] == "0x" + code32("CNY").hex() and ev["maturity"] == maturity
    assert tx.events["TransferSingle"]["to"] == bills.address
    b = bills.bill(bill_id)
    assert (
        b["status"] == BillStatus.PENDING
        and b["faceValue"] == FACE
        and b["debtor"] == bill_cast.core.address
    )
    assert bills.locked(bill_id) == FACE
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == 0
    n = bills.node(bill_id)
    assert (n["kind"], n["state"], n["to"], n["from"], n["depth"]) == (
        NodeKind.ISSUE,
        NodeState.REQUESTED,
        bill_cast.tier1.address,
        bill_cast.core.address,
        0,
    )


def test_issue__review_and_audit__receiver_holds_valid_bill(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po 1")
    tx = bill_cast.tier1.review(bill_id, True, "goods received")
    assert tx.events["BillReviewed"]["accepted"] is True
    assert bills.node(bill_id)["state"] == NodeState.REVIEWED
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == 0  # not spendable before the audit
    tx = bill_cast.auditor.audit(bill_id, True, "audit report")
    ev = tx.events["BillAudited"]
    assert (ev["nodeId"], ev["billId"], ev["auditor"], ev["kind"], ev["approved"]) == (
        bill_id,
        bill_id,
        bill_cast.auditor.address,
        NodeKind.ISSUE,
        True,
    )
    assert tx.events["TransferSingle"]["from"] == bills.address
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE
    assert bills.locked(bill_id) == 0
    assert bills.bill(bill_id)["status"] == BillStatus.ACTIVE
    assert bills.node(bill_id)["state"] == NodeState.VALID
    expected = evidence_of(
        [
            (EvidenceStep.REQUEST, bill_cast.core.address, doc_hash("po 1"), True),
            (EvidenceStep.REVIEW, bill_cast.tier1.address, doc_hash("goods received"), True),
            (EvidenceStep.AUDIT, bill_cast.auditor.address, doc_hash("audit report"), True),
        ]
    )
    assert bills.node(bill_id)["evidence"] == "0x" + expected.hex()


def test_review__rejected__cancels_bill_and_burns_escrow(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po 1")
    tx = bill_cast.tier1.review(bill_id, False, "no such delivery")
    assert tx.events["BillReviewed"]["accepted"] is False
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED
    assert bills.node(bill_id)["state"] == NodeState.REJECTED
    assert bills.locked(bill_id) == 0


def test_audit__rejected__cancels_bill(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po 1")
    bill_cast.tier1.review(bill_id, True, "ok")
    tx = bill_cast.auditor.audit(bill_id, False, "trade documents forged")
    assert tx.events["BillAudited"]["approved"] is False
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == 0 and bills.locked(bill_id) == 0


def test_issue__operator_of_debtor__issues_for_its_member(bills, bill_cast, maturity, accounts):
    bill_cast.core.inst.add_operator(accounts[13].address)
    tx = bills.requestIssue(
        bill_cast.tier1.address,
        FACE,
        code32("CNY"),
        maturity,
        doc_hash("po"),
        False,
        {"from": accounts[13]},
    )
    assert tx.events["BillIssueRequested"]["debtor"] == bill_cast.core.address


# case -> (overrides of a valid request, expected error); receivers named by bill_cast attribute
BAD_ISSUES = {
    "zero face": ({"face": 0}, r"BillZeroAmount.*"),
    "face too large": ({"face": 2**128}, r"BillFaceValueTooLarge:.*"),
    "zero doc": ({"doc": b"\0" * 32}, r"BillZeroHash: docHash"),
    "zero currency": ({"currency": b"\0" * 32}, r"BillZeroHash: currency"),
    "maturity past": ({"mat": 1}, r"BillMaturityInPast:.*"),
    "self": ({"receiver": "core"}, r"BillSelfTransfer:.*"),
    "receiver non-member": ({"receiver": "0x" + "77" * 20}, r"BillReceiverNotClient:.*"),
    "receiver applicant": ({"receiver": "applicant"}, r"BillReceiverNotClient:.*"),
    "receiver suspended": ({"receiver": "suspended"}, r"BillReceiverNotClient:.*"),
    "receiver wrong role": ({"receiver": "factor"}, r"BillReceiverNotClient:.*"),
    "channel required": ({"channel": True}, r"RegistryChannelNotOpen:.*"),
}


def _issue_args(
    bill_cast,
    maturity,
    receiver="tier1",
    face=FACE,
    currency=None,
    doc=None,
    channel=False,
    mat=None,
):
    """A valid requestIssue argument tuple with the given fields replaced."""
    to = receiver if receiver.startswith("0x") else getattr(bill_cast, receiver).address
    return (to, face, currency or code32("CNY"), mat or maturity, doc or doc_hash("d"), channel)


@pytest.mark.parametrize("case", sorted(BAD_ISSUES))
def test_request_issue__bad_input__reverts_unchanged(bills, bill_cast, maturity, case):
    over, error = BAD_ISSUES[case]
    before = bills.nextId()
    with brownie.reverts(revert_pattern=error):
        bills.requestIssue(
            *_issue_args(bill_cast, maturity, **over), {"from": bill_cast.core.inst.account}
        )
    assert bills.nextId() == before


def test_request_issue__channel_open__accepted(bills, bill_cast, maturity, connect):
    connect(bill_cast.core.inst, bill_cast.tier1.inst)
    bill_id, tx = bill_cast.core.request_issue(
        bill_cast.tier1.address, FACE, maturity, "po", require_channel=True
    )
    assert tx.events["BillIssueRequested"]["requireChannel"] is True
    assert bills.bill(bill_id)["requireChannel"] is True


def test_review__by_someone_other_than_receiver__reverts_unchanged(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po")
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address, bill_cast.tier2a.address])
    for other in (bill_cast.tier2a, bill_cast.core):
        with brownie.reverts(revert_pattern=r"BillNotReceiver:.*"):
            other.review(bill_id, True, "mine")
    assert snapshot(bills, [bill_id], [bill_cast.tier1.address, bill_cast.tier2a.address]) == before


def test_review__twice_or_unknown_or_zero_reason__reverts(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po")
    with brownie.reverts(revert_pattern=r"BillZeroHash: reasonHash"):
        bills.review(bill_id, True, b"\0" * 32, {"from": bill_cast.tier1.inst.account})
    bill_cast.tier1.review(bill_id, True, "ok")
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.tier1.review(bill_id, True, "again")
    with brownie.reverts(revert_pattern=r"BillUnknownNode:.*"):
        bill_cast.tier1.review(999, True, "?")
    assert snapshot(bills, [bill_id], [bill_cast.tier1.address]) == before


def test_audit__by_non_auditor__reverts_unchanged(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po")
    bill_cast.tier1.review(bill_id, True, "ok")
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address])
    for who in (bill_cast.tier1, bill_cast.core, bill_cast.factor):
        with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
            bills.audit(bill_id, True, doc_hash("a"), {"from": who.inst.account})
    assert snapshot(bills, [bill_id], [bill_cast.tier1.address]) == before


def test_audit__before_review_or_zero_hash__reverts_unchanged(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po")
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.auditor.audit(bill_id, True, "early")
    bill_cast.tier1.review(bill_id, True, "ok")
    with brownie.reverts(revert_pattern=r"BillZeroHash: auditHash"):
        bills.audit(bill_id, True, b"\0" * 32, {"from": bill_cast.auditor.inst.account})
    assert bills.node(bill_id)["state"] == NodeState.REVIEWED
    assert bills.locked(bill_id) == before["balances"][(bill_id, bills.address)]


def test_audit__approval_after_maturity__reverts(bills, bill_cast, chain):
    bill_id, _ = bill_cast.core.request_issue(
        bill_cast.tier1.address, FACE, chain[-1].timestamp + DAY, "po"
    )
    bill_cast.tier1.review(bill_id, True, "ok")
    warp(chain, chain[-1].timestamp + 2 * DAY)
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        bill_cast.auditor.audit(bill_id, True, "late")
    bill_cast.auditor.audit(bill_id, False, "expired before audit")
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED


def test_request_issue__same_documents_again__reverts_naming_the_bill(bills, bill_cast, maturity):
    bill_id, tx = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po 77")
    doc = doc_hash("po 77")
    assert bills.billOfDocuments(bill_cast.core.address, doc) == (bill_id, tx.block_number)
    before = snapshot(bills, [bill_id], [bill_cast.core.address, bill_cast.tier1.address])
    # a resend, or a second bill on the same invoice (even to another supplier), is refused
    for receiver in (bill_cast.tier1, bill_cast.tier2a):
        with brownie.reverts(
            f"BillDocumentsAlreadyIssued: {bill_cast.core.address.lower()}, {doc!r}, {bill_id}, {tx.block_number}"
        ):
            bills.requestIssue(
                receiver.address,
                FACE,
                code32("CNY"),
                maturity,
                doc,
                False,
                {"from": bill_cast.core.inst.account},
            )
    assert snapshot(bills, [bill_id], [bill_cast.core.address, bill_cast.tier1.address]) == before
    assert bills.billOfDocuments(bill_cast.core.address, doc_hash("po 78")) == (0, 0)


def test_request_issue__documents_of_cancelled_bill__issued_again(bills, bill_cast, maturity):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po 79")
    bill_cast.tier1.review(bill_id, False, "wrong amount")
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED
    again, tx = bill_cast.core.request_issue(bill_cast.tier1.address, FACE - 1, maturity, "po 79")
    assert again != bill_id and bills.billOfDocuments(
        bill_cast.core.address, doc_hash("po 79")
    ) == (again, tx.block_number)
    assert tx.events["BillIssueRequested"]["faceValue"] == FACE - 1
