"""Transfer and split (转单): request → receiver review → audit → valid, with lineage and locks."""

import brownie
import pytest

from consortium.domain.bills import EvidenceStep, NodeKind, NodeState, evidence_of
from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, warp
from tests.unit.BillToken.helpers import snapshot


@pytest.fixture(scope="module")
def bill_id(make_bill):
    return make_bill()


def test_request_transfer__split__locks_part_on_child_node(bills, bill_cast, bill_id):
    child, tx = bill_cast.tier1.request_transfer(
        bill_id, bill_cast.tier2a.address, 400_000_00, "sub-contract A"
    )
    ev = tx.events["BillTransferRequested"]
    assert (ev["nodeId"], ev["billId"], ev["from"], ev["to"], ev["parent"], ev["amount"]) == (
        child,
        bill_id,
        bill_cast.tier1.address,
        bill_cast.tier2a.address,
        bill_id,
        400_000_00,
    )
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE - 400_000_00
    assert bills.locked(child) == 400_000_00
    assert bills.balanceOf(bill_cast.tier2a.address, child) == 0
    n = bills.node(child)
    assert (n["parent"], n["billId"], n["kind"], n["state"], n["depth"]) == (
        bill_id,
        bill_id,
        NodeKind.TRANSFER,
        NodeState.REQUESTED,
        1,
    )


def test_transfer__reviewed_and_audited__receiver_holds_child(bills, bill_cast, bill_id):
    child, _ = bill_cast.tier1.request_transfer(
        bill_id, bill_cast.tier2a.address, 400_000_00, "sub-contract A"
    )
    bill_cast.tier2a.review(child, True, "accepted")
    tx = bill_cast.auditor.audit(child, True, "transfer audit")
    assert tx.events["BillAudited"]["kind"] == NodeKind.TRANSFER
    assert tx.events["TransferSingle"]["to"] == bill_cast.tier2a.address
    assert bills.balanceOf(bill_cast.tier2a.address, child) == 400_000_00
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE - 400_000_00
    assert bills.locked(child) == 0
    assert (
        bills.node(child)["evidence"]
        == "0x"
        + evidence_of(
            [
                (EvidenceStep.REQUEST, bill_cast.tier1.address, doc_hash("sub-contract A"), True),
                (EvidenceStep.REVIEW, bill_cast.tier2a.address, doc_hash("accepted"), True),
                (EvidenceStep.AUDIT, bill_cast.auditor.address, doc_hash("transfer audit"), True),
            ]
        ).hex()
    )


def test_lineage__two_hops__path_back_to_bill_with_parties(bills, bill_cast, bill_id, transfer):
    a = transfer(bill_cast.tier1, bill_id, bill_cast.tier2a, 400_000_00)
    b = transfer(bill_cast.tier2a, a, bill_cast.tier2b, 150_000_00)
    ids, nodes = bills.lineage(b)
    assert list(ids) == [b, a, bill_id]
    assert [(n["from"], n["to"]) for n in nodes] == [
        (bill_cast.tier2a.address, bill_cast.tier2b.address),
        (bill_cast.tier1.address, bill_cast.tier2a.address),
        (bill_cast.core.address, bill_cast.tier1.address),
    ]
    assert all(n["state"] == NodeState.VALID for n in nodes)
    assert bill_cast.tier2b.lineage(b) == [b, a, bill_id]


def test_review__rejected__amount_returns_to_sender(bills, bill_cast, bill_id):
    child, _ = bill_cast.tier1.request_transfer(
        bill_id, bill_cast.tier2a.address, 400_000_00, "sub"
    )
    tx = bill_cast.tier2a.review(child, False, "price dispute")
    assert tx.events["BillReviewed"]["accepted"] is False
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE
    assert bills.locked(child) == 0
    assert bills.node(child)["state"] == NodeState.REJECTED


def test_audit__rejected__amount_returns_to_sender(bills, bill_cast, bill_id):
    child, _ = bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, FACE, "sub")
    bill_cast.tier2a.review(child, True, "ok")
    bill_cast.auditor.audit(child, False, "no underlying trade")
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE
    assert bills.balanceOf(bill_cast.tier2a.address, child) == 0


def test_request_transfer__locked_amount__cannot_be_transferred_again(bills, bill_cast, bill_id):
    bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 700_000_00, "sub")
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2b.address, 400_000_00, "again")
    assert snapshot(bills, [bill_id], [bill_cast.tier1.address]) == before


def test_request_transfer__unaudited_node__reverts(bills, bill_cast, bill_id):
    child, _ = bill_cast.tier1.request_transfer(
        bill_id, bill_cast.tier2a.address, 400_000_00, "sub"
    )
    bill_cast.tier2a.review(child, True, "ok")
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.tier2a.request_transfer(child, bill_cast.tier2b.address, 1, "too early")
    assert bills.nextId() == child + 1


@pytest.mark.parametrize(
    "case,to,amount,error",
    [
        ("above balance", "tier2a", FACE + 1, r"BillAmountExceedsBalance:.*"),
        ("zero amount", "tier2a", 0, r"BillZeroAmount.*"),
        ("non-member receiver", "nobody", 1, r"BillReceiverNotClient:.*"),
        ("suspended receiver", "suspended", 1, r"BillReceiverNotClient:.*"),
        ("applicant receiver", "applicant", 1, r"BillReceiverNotClient:.*"),
        ("factor receiver", "factor", 1, r"BillReceiverNotClient:.*"),
        ("self", "tier1", 1, r"BillSelfTransfer:.*"),
    ],
)
def test_request_transfer__bad_input__reverts_unchanged(
    bills, bill_cast, bill_id, case, to, amount, error
):
    to_addr = "0x" + "77" * 20 if to == "nobody" else getattr(bill_cast, to).address
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address])
    with brownie.reverts(revert_pattern=error):
        bill_cast.tier1.request_transfer(bill_id, to_addr, amount, "sub")
    assert snapshot(bills, [bill_id], [bill_cast.tier1.address]) == before


def test_request_transfer__not_holder__reverts(bills, bill_cast, bill_id):
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        bill_cast.tier2a.request_transfer(bill_id, bill_cast.tier2b.address, 1, "not mine")


def test_request_transfer__zero_doc_or_unknown_node__reverts(bills, bill_cast, bill_id):
    with brownie.reverts(revert_pattern=r"BillZeroHash: docHash"):
        bills.requestTransfer(
            bill_id,
            bill_cast.tier2a.address,
            1,
            b"\0" * 32,
            doc_hash("ref"),
            {"from": bill_cast.tier1.inst.account},
        )
    with brownie.reverts(revert_pattern=r"BillUnknownNode:.*"):
        bill_cast.tier1.request_transfer(12345, bill_cast.tier2a.address, 1, "sub")


def test_request_transfer__after_maturity__reverts_unchanged(
    bills, bill_cast, bill_id, chain, maturity
):
    warp(chain, maturity)
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 1, "late")
    assert snapshot(bills, [bill_id], [bill_cast.tier1.address]) == before


def test_audit__transfer_approved_after_maturity__reverts_then_reject_returns(
    bills, bill_cast, bill_id, chain, maturity
):
    child, _ = bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 100, "sub")
    bill_cast.tier2a.review(child, True, "ok")
    warp(chain, maturity)
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        bill_cast.auditor.audit(child, True, "late")
    bill_cast.auditor.audit(child, False, "matured before audit")
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE


def test_request_transfer__channel_policy__needs_open_channel(bills, bill_cast, make_bill, connect):
    connect(bill_cast.core.inst, bill_cast.tier1.inst)
    bill_id = make_bill(require_channel=True)
    with brownie.reverts(revert_pattern=r"RegistryChannelNotOpen:.*"):
        bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 1, "sub")
    connect(bill_cast.tier1.inst, bill_cast.tier2a.inst)
    child, _ = bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 1, "sub")
    assert bills.locked(child) == 1


def test_request_transfer__no_channel_policy__no_channel_needed(bills, bill_cast, bill_id):
    assert bills.bill(bill_id)["requireChannel"] is False
    child, _ = bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 1, "sub")
    assert bills.locked(child) == 1


def test_direct_erc1155_transfer__disabled(bills, bill_cast, bill_id, accounts):
    acct = bill_cast.tier1.inst.account
    with brownie.reverts(revert_pattern=r"BillDirectTransferDisabled:.*"):
        bills.safeTransferFrom(acct, bill_cast.tier2a.address, bill_id, 1, b"", {"from": acct})
    with brownie.reverts(revert_pattern=r"BillDirectTransferDisabled:.*"):
        bills.safeBatchTransferFrom(
            acct, bill_cast.tier2a.address, [bill_id], [1], b"", {"from": acct}
        )
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE


def test_request_transfer__lineage_too_deep__reverts(bills, bill_cast, make_bill, transfer):
    node = make_bill(face=100)
    holders = [bill_cast.tier1, bill_cast.tier2a]
    for depth in range(32):
        node = transfer(holders[depth % 2], node, holders[(depth + 1) % 2], 100)
    assert bills.node(node)["depth"] == 32
    with brownie.reverts(revert_pattern=r"BillLineageTooDeep:.*"):
        holders[0].request_transfer(node, bill_cast.tier2b.address, 1, "33rd hop")
    ids, _ = bills.lineage(node)
    assert len(ids) == 33
