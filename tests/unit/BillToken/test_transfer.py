"""Transfer and split (转单): request → receiver review → audit → valid, with lineage and locks."""

import brownie
import pytest

from consortium.domain.bills import EvidenceStep, NodeKind, NodeState, evidence_of
from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, warp
from tests.unit.BillToken.helpers import snapshot

pytest_plugins = ["tests.fixtures.bills"]


@pytest.fixture(scope="module")
def bill_id(make_bill):
    return make_bill()


def test_request_transfer__split__locks_part_on_child_node(bills, cast, bill_id):
    child, tx = cast.tier1.request_transfer(
        bill_id, cast.tier2a.address, 400_000_00, "sub-contract A"
    )
    ev = tx.events["BillTransferRequested"]
    assert (ev["nodeId"], ev["billId"], ev["from"], ev["to"], ev["parent"], ev["amount"]) == (
        child,
        bill_id,
        cast.tier1.address,
        cast.tier2a.address,
        bill_id,
        400_000_00,
    )
    assert bills.balanceOf(cast.tier1.address, bill_id) == FACE - 400_000_00
    assert bills.locked(child) == 400_000_00
    assert bills.balanceOf(cast.tier2a.address, child) == 0
    n = bills.node(child)
    assert (n["parent"], n["billId"], n["kind"], n["state"], n["depth"]) == (
        bill_id,
        bill_id,
        NodeKind.TRANSFER,
        NodeState.REQUESTED,
        1,
    )


def test_transfer__reviewed_and_audited__receiver_holds_child(bills, cast, bill_id):
    child, _ = cast.tier1.request_transfer(
        bill_id, cast.tier2a.address, 400_000_00, "sub-contract A"
    )
    cast.tier2a.review(child, True, "accepted")
    tx = cast.auditor.audit(child, True, "transfer audit")
    assert tx.events["BillAudited"]["kind"] == NodeKind.TRANSFER
    assert tx.events["TransferSingle"]["to"] == cast.tier2a.address
    assert bills.balanceOf(cast.tier2a.address, child) == 400_000_00
    assert bills.balanceOf(cast.tier1.address, bill_id) == FACE - 400_000_00
    assert bills.locked(child) == 0
    assert (
        bills.node(child)["evidence"]
        == "0x"
        + evidence_of(
            [
                (EvidenceStep.REQUEST, cast.tier1.address, doc_hash("sub-contract A"), True),
                (EvidenceStep.REVIEW, cast.tier2a.address, doc_hash("accepted"), True),
                (EvidenceStep.AUDIT, cast.auditor.address, doc_hash("transfer audit"), True),
            ]
        ).hex()
    )


def test_lineage__two_hops__path_back_to_bill_with_parties(bills, cast, bill_id, transfer):
    a = transfer(cast.tier1, bill_id, cast.tier2a, 400_000_00)
    b = transfer(cast.tier2a, a, cast.tier2b, 150_000_00)
    ids, nodes = bills.lineage(b)
    assert list(ids) == [b, a, bill_id]
    assert [(n["from"], n["to"]) for n in nodes] == [
        (cast.tier2a.address, cast.tier2b.address),
        (cast.tier1.address, cast.tier2a.address),
        (cast.core.address, cast.tier1.address),
    ]
    assert all(n["state"] == NodeState.VALID for n in nodes)
    assert cast.tier2b.lineage(b) == [b, a, bill_id]


def test_review__rejected__amount_returns_to_sender(bills, cast, bill_id):
    child, _ = cast.tier1.request_transfer(bill_id, cast.tier2a.address, 400_000_00, "sub")
    tx = cast.tier2a.review(child, False, "price dispute")
    assert tx.events["BillReviewed"]["accepted"] is False
    assert bills.balanceOf(cast.tier1.address, bill_id) == FACE
    assert bills.locked(child) == 0
    assert bills.node(child)["state"] == NodeState.REJECTED


def test_audit__rejected__amount_returns_to_sender(bills, cast, bill_id):
    child, _ = cast.tier1.request_transfer(bill_id, cast.tier2a.address, FACE, "sub")
    cast.tier2a.review(child, True, "ok")
    cast.auditor.audit(child, False, "no underlying trade")
    assert bills.balanceOf(cast.tier1.address, bill_id) == FACE
    assert bills.balanceOf(cast.tier2a.address, child) == 0


def test_request_transfer__locked_amount__cannot_be_transferred_again(bills, cast, bill_id):
    cast.tier1.request_transfer(bill_id, cast.tier2a.address, 700_000_00, "sub")
    before = snapshot(bills, [bill_id], [cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        cast.tier1.request_transfer(bill_id, cast.tier2b.address, 400_000_00, "again")
    assert snapshot(bills, [bill_id], [cast.tier1.address]) == before


def test_request_transfer__unaudited_node__reverts(bills, cast, bill_id):
    child, _ = cast.tier1.request_transfer(bill_id, cast.tier2a.address, 400_000_00, "sub")
    cast.tier2a.review(child, True, "ok")
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        cast.tier2a.request_transfer(child, cast.tier2b.address, 1, "too early")
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
    bills, cast, bill_id, case, to, amount, error
):
    to_addr = "0x" + "77" * 20 if to == "nobody" else getattr(cast, to).address
    before = snapshot(bills, [bill_id], [cast.tier1.address])
    with brownie.reverts(revert_pattern=error):
        cast.tier1.request_transfer(bill_id, to_addr, amount, "sub")
    assert snapshot(bills, [bill_id], [cast.tier1.address]) == before


def test_request_transfer__not_holder__reverts(bills, cast, bill_id):
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        cast.tier2a.request_transfer(bill_id, cast.tier2b.address, 1, "not mine")


def test_request_transfer__zero_doc_or_unknown_node__reverts(bills, cast, bill_id):
    with brownie.reverts(revert_pattern=r"BillZeroHash.*"):
        bills.requestTransfer(
            bill_id, cast.tier2a.address, 1, b"\0" * 32, {"from": cast.tier1.inst.account}
        )
    with brownie.reverts(revert_pattern=r"BillUnknownNode:.*"):
        cast.tier1.request_transfer(12345, cast.tier2a.address, 1, "sub")


def test_request_transfer__after_maturity__reverts_unchanged(bills, cast, bill_id, chain, maturity):
    warp(chain, maturity)
    before = snapshot(bills, [bill_id], [cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        cast.tier1.request_transfer(bill_id, cast.tier2a.address, 1, "late")
    assert snapshot(bills, [bill_id], [cast.tier1.address]) == before


def test_audit__transfer_approved_after_maturity__reverts_then_reject_returns(
    bills, cast, bill_id, chain, maturity
):
    child, _ = cast.tier1.request_transfer(bill_id, cast.tier2a.address, 100, "sub")
    cast.tier2a.review(child, True, "ok")
    warp(chain, maturity)
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        cast.auditor.audit(child, True, "late")
    cast.auditor.audit(child, False, "matured before audit")
    assert bills.balanceOf(cast.tier1.address, bill_id) == FACE


def test_request_transfer__channel_policy__needs_open_channel(bills, cast, make_bill, connect):
    connect(cast.core.inst, cast.tier1.inst)
    bill_id = make_bill(require_channel=True)
    with brownie.reverts(revert_pattern=r"ManagedChannelClosed:.*"):
        cast.tier1.request_transfer(bill_id, cast.tier2a.address, 1, "sub")
    connect(cast.tier1.inst, cast.tier2a.inst)
    child, _ = cast.tier1.request_transfer(bill_id, cast.tier2a.address, 1, "sub")
    assert bills.locked(child) == 1


def test_request_transfer__no_channel_policy__no_channel_needed(bills, cast, bill_id):
    assert bills.bill(bill_id)["requireChannel"] is False
    child, _ = cast.tier1.request_transfer(bill_id, cast.tier2a.address, 1, "sub")
    assert bills.locked(child) == 1


def test_direct_erc1155_transfer__disabled(bills, cast, bill_id, accounts):
    acct = cast.tier1.inst.account
    with brownie.reverts(revert_pattern=r"BillDirectTransferDisabled:.*"):
        bills.safeTransferFrom(acct, cast.tier2a.address, bill_id, 1, b"", {"from": acct})
    with brownie.reverts(revert_pattern=r"BillDirectTransferDisabled:.*"):
        bills.safeBatchTransferFrom(acct, cast.tier2a.address, [bill_id], [1], b"", {"from": acct})
    assert bills.balanceOf(cast.tier1.address, bill_id) == FACE


def test_request_transfer__lineage_too_deep__reverts(bills, cast, make_bill, transfer):
    node = make_bill(face=100)
    holders = [cast.tier1, cast.tier2a]
    for depth in range(32):
        node = transfer(holders[depth % 2], node, holders[(depth + 1) % 2], 100)
    assert bills.node(node)["depth"] == 32
    with brownie.reverts(revert_pattern=r"BillLineageTooDeep:.*"):
        holders[0].request_transfer(node, cast.tier2b.address, 1, "33rd hop")
    ids, _ = bills.lineage(node)
    assert len(ids) == 33
