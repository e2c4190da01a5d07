"""Issue (开单): request by the debtor, review by the receiver, qualification audit, then valid."""

import brownie
import pytest

from consortium.domain.bills import BillStatus, EvidenceStep, NodeKind, NodeState, evidence_of
from consortium.domain.hashing import code32, doc_hash
from tests.fixtures.bills import DAY, FACE, warp
from tests.unit.BillToken.helpers import snapshot

pytest_plugins = ["tests.fixtures.bills"]


def test_request_issue__valid__locks_face_value_in_escrow(bills, cast, maturity):
    bill_id, tx = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po 1")
    ev = tx.events["BillIssueRequested"]
    assert (ev["billId"], ev["debtor"], ev["receiver"], ev["faceValue"]) == (
        bill_id,
        cast.core.address,
        cast.tier1.address,
        FACE,
    )
    assert ev["currency"] == "0x" + code32("CNY").hex() and ev["maturity"] == maturity
    assert tx.events["TransferSingle"]["to"] == bills.address
    b = bills.bill(bill_id)
    assert (
        b["status"] == BillStatus.PENDING
        and b["faceValue"] == FACE
        and b["debtor"] == cast.core.address
    )
    assert bills.locked(bill_id) == FACE
    assert bills.balanceOf(cast.tier1.address, bill_id) == 0
    n = bills.node(bill_id)
    assert (n["kind"], n["state"], n["to"], n["from"], n["depth"]) == (
        NodeKind.ISSUE,
        NodeState.REQUESTED,
        cast.tier1.address,
        cast.core.address,
        0,
    )


def test_issue__review_and_audit__receiver_holds_valid_bill(bills, cast, maturity):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po 1")
    tx = cast.tier1.review(bill_id, True, "goods received")
    assert tx.events["BillReviewed"]["accepted"] is True
    assert bills.node(bill_id)["state"] == NodeState.REVIEWED
    assert bills.balanceOf(cast.tier1.address, bill_id) == 0  # not spendable before the audit
    tx = cast.auditor.audit(bill_id, True, "audit report")
    ev = tx.events["BillAudited"]
    assert (ev["nodeId"], ev["billId"], ev["auditor"], ev["kind"], ev["approved"]) == (
        bill_id,
        bill_id,
        cast.auditor.address,
        NodeKind.ISSUE,
        True,
    )
    assert tx.events["TransferSingle"]["from"] == bills.address
    assert bills.balanceOf(cast.tier1.address, bill_id) == FACE
    assert bills.locked(bill_id) == 0
    assert bills.bill(bill_id)["status"] == BillStatus.ACTIVE
    assert bills.node(bill_id)["state"] == NodeState.VALID
    expected = evidence_of(
        [
            (EvidenceStep.REQUEST, cast.core.address, doc_hash("po 1"), True),
            (EvidenceStep.REVIEW, cast.tier1.address, doc_hash("goods received"), True),
            (EvidenceStep.AUDIT, cast.auditor.address, doc_hash("audit report"), True),
        ]
    )
    assert bills.node(bill_id)["evidence"] == "0x" + expected.hex()


def test_review__rejected__cancels_bill_and_burns_escrow(bills, cast, maturity):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po 1")
    tx = cast.tier1.review(bill_id, False, "no such delivery")
    assert tx.events["BillReviewed"]["accepted"] is False
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED
    assert bills.node(bill_id)["state"] == NodeState.REJECTED
    assert bills.locked(bill_id) == 0


def test_audit__rejected__cancels_bill(bills, cast, maturity):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po 1")
    cast.tier1.review(bill_id, True, "ok")
    tx = cast.auditor.audit(bill_id, False, "trade documents forged")
    assert tx.events["BillAudited"]["approved"] is False
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED
    assert bills.balanceOf(cast.tier1.address, bill_id) == 0 and bills.locked(bill_id) == 0


def test_issue__operator_of_debtor__issues_for_its_member(bills, cast, maturity, accounts):
    cast.core.inst.add_operator(accounts[13].address)
    tx = bills.requestIssue(
        cast.tier1.address,
        FACE,
        code32("CNY"),
        maturity,
        doc_hash("po"),
        False,
        {"from": accounts[13]},
    )
    assert tx.events["BillIssueRequested"]["debtor"] == cast.core.address


@pytest.mark.parametrize(
    "case,args,error",
    [
        (
            "zero face",
            lambda c, m: (c.tier1.address, 0, code32("CNY"), m, doc_hash("d"), False),
            r"BillZeroAmount.*",
        ),
        (
            "face too large",
            lambda c, m: (c.tier1.address, 2**128, code32("CNY"), m, doc_hash("d"), False),
            r"BillFaceValueTooLarge:.*",
        ),
        (
            "zero doc",
            lambda c, m: (c.tier1.address, FACE, code32("CNY"), m, b"\0" * 32, False),
            r"BillZeroHash.*",
        ),
        (
            "zero currency",
            lambda c, m: (c.tier1.address, FACE, b"\0" * 32, m, doc_hash("d"), False),
            r"BillZeroHash.*",
        ),
        (
            "maturity past",
            lambda c, m: (c.tier1.address, FACE, code32("CNY"), 1, doc_hash("d"), False),
            r"BillMaturityInPast:.*",
        ),
        (
            "self",
            lambda c, m: (c.core.address, FACE, code32("CNY"), m, doc_hash("d"), False),
            r"BillSelfTransfer:.*",
        ),
        (
            "receiver non-member",
            lambda c, m: ("0x" + "77" * 20, FACE, code32("CNY"), m, doc_hash("d"), False),
            r"BillReceiverNotClient:.*",
        ),
        (
            "receiver applicant",
            lambda c, m: (c.applicant.address, FACE, code32("CNY"), m, doc_hash("d"), False),
            r"BillReceiverNotClient:.*",
        ),
        (
            "receiver suspended",
            lambda c, m: (c.suspended.address, FACE, code32("CNY"), m, doc_hash("d"), False),
            r"BillReceiverNotClient:.*",
        ),
        (
            "receiver wrong role",
            lambda c, m: (c.factor.address, FACE, code32("CNY"), m, doc_hash("d"), False),
            r"BillReceiverNotClient:.*",
        ),
        (
            "channel required",
            lambda c, m: (c.tier1.address, FACE, code32("CNY"), m, doc_hash("d"), True),
            r"ManagedChannelClosed:.*",
        ),
    ],
)
def test_request_issue__bad_input__reverts_unchanged(bills, cast, maturity, case, args, error):
    before = bills.nextId()
    with brownie.reverts(revert_pattern=error):
        bills.requestIssue(*args(cast, maturity), {"from": cast.core.inst.account})
    assert bills.nextId() == before


def test_request_issue__channel_open__accepted(bills, cast, maturity, connect):
    connect(cast.core.inst, cast.tier1.inst)
    bill_id, tx = cast.core.request_issue(
        cast.tier1.address, FACE, maturity, "po", require_channel=True
    )
    assert tx.events["BillIssueRequested"]["requireChannel"] is True
    assert bills.bill(bill_id)["requireChannel"] is True


def test_review__by_someone_other_than_receiver__reverts_unchanged(bills, cast, maturity):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po")
    before = snapshot(bills, [bill_id], [cast.tier1.address, cast.tier2a.address])
    for other in (cast.tier2a, cast.core):
        with brownie.reverts(revert_pattern=r"BillNotReceiver:.*"):
            other.review(bill_id, True, "mine")
    assert snapshot(bills, [bill_id], [cast.tier1.address, cast.tier2a.address]) == before


def test_review__twice_or_unknown_or_zero_reason__reverts(bills, cast, maturity):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po")
    with brownie.reverts(revert_pattern=r"BillZeroHash.*"):
        bills.review(bill_id, True, b"\0" * 32, {"from": cast.tier1.inst.account})
    cast.tier1.review(bill_id, True, "ok")
    before = snapshot(bills, [bill_id], [cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        cast.tier1.review(bill_id, True, "again")
    with brownie.reverts(revert_pattern=r"BillUnknownNode:.*"):
        cast.tier1.review(999, True, "?")
    assert snapshot(bills, [bill_id], [cast.tier1.address]) == before


def test_audit__by_non_auditor__reverts_unchanged(bills, cast, maturity):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po")
    cast.tier1.review(bill_id, True, "ok")
    before = snapshot(bills, [bill_id], [cast.tier1.address])
    for who in (cast.tier1, cast.core, cast.factor):
        with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
            bills.audit(bill_id, True, doc_hash("a"), {"from": who.inst.account})
    assert snapshot(bills, [bill_id], [cast.tier1.address]) == before


def test_audit__before_review_or_zero_hash__reverts_unchanged(bills, cast, maturity):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, maturity, "po")
    before = snapshot(bills, [bill_id], [cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        cast.auditor.audit(bill_id, True, "early")
    cast.tier1.review(bill_id, True, "ok")
    with brownie.reverts(revert_pattern=r"BillZeroHash.*"):
        bills.audit(bill_id, True, b"\0" * 32, {"from": cast.auditor.inst.account})
    assert bills.node(bill_id)["state"] == NodeState.REVIEWED
    assert bills.locked(bill_id) == before["balances"][(bill_id, bills.address)]


def test_audit__approval_after_maturity__reverts(bills, cast, chain):
    bill_id, _ = cast.core.request_issue(cast.tier1.address, FACE, chain[-1].timestamp + DAY, "po")
    cast.tier1.review(bill_id, True, "ok")
    warp(chain, chain[-1].timestamp + 2 * DAY)
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        cast.auditor.audit(bill_id, True, "late")
    cast.auditor.audit(bill_id, False, "expired before audit")
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED
