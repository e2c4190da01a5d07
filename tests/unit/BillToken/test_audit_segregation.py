"""Segregation of duties (issue 18): an institution holding AUDITOR beside a client or factor role
never audits a node it is party to: its sender or holder, its receiver or factor, or the bill's
debtor (BillAuditorIsParty, state unchanged). The audit institution with no stake audits it; the
dual-role institution still audits the deals of others."""

import brownie
import pytest

from consortium.domain.bills import FULL_CLIENT, NodeState
from consortium.roles.bills import BillAuditor, BillClient, BillFactor
from tests.fixtures.bills import FACE
from tests.unit.BillToken.helpers import snapshot

PART = 300_000_00
RATE = 800
PARTY = r"BillAuditorIsParty:.*"


@pytest.fixture(scope="module")
def dual(admit, regulator_cn, accounts, bills):
    """A group holding the audit role and every client right: client and auditor by one key."""
    inst = admit(
        accounts[14], [*FULL_CLIENT, "AUDITOR"], regulator=regulator_cn, name="group with audit arm"
    )
    return BillClient(inst, bills), BillAuditor(inst, bills)


@pytest.fixture(scope="module")
def auditing_factor(admit, regulator_cn, accounts, bills):
    """A factor that also holds the audit role."""
    inst = admit(
        accounts[16], ["ASSET_MANAGER", "AUDITOR"], regulator=regulator_cn, name="auditing factor"
    )
    return BillFactor(inst, bills), BillAuditor(inst, bills)


def _refused_then_audited(bills, bill_cast, node, party_auditor, holders):
    """The party's audit is refused with nothing changed; the independent auditor's passes."""
    before = snapshot(bills, [node], holders)
    assert party_auditor.is_party(node)
    with brownie.reverts(revert_pattern=PARTY):
        party_auditor.audit(node, True, "own deal")
    with brownie.reverts(revert_pattern=PARTY):
        party_auditor.audit(node, False, "own deal, rejected")
    assert snapshot(bills, [node], holders) == before
    assert not bill_cast.auditor.is_party(node)
    bill_cast.auditor.audit(node, True, "independent audit")


def test_issue_to_the_dual_member__its_audit_refused__independent_audit_delivers(
    bills, bill_cast, dual, maturity
):
    client, own_audit = dual
    bill_id, _ = bill_cast.core.request_issue(client.address, FACE, maturity, "po to the group")
    client.review(bill_id, True, "goods received")
    _refused_then_audited(bills, bill_cast, bill_id, own_audit, [client.address])
    assert bills.balanceOf(client.address, bill_id) == FACE


def test_dual_member_as_debtor__audits_neither_its_issue_nor_a_transfer_of_its_bill(
    bills, bill_cast, dual, maturity, transfer
):
    client, own_audit = dual
    bill_id, _ = client.request_issue(bill_cast.tier1.address, FACE, maturity, "group po")
    bill_cast.tier1.review(bill_id, True, "goods received")
    _refused_then_audited(bills, bill_cast, bill_id, own_audit, [bill_cast.tier1.address])
    child, _ = bill_cast.tier1.request_transfer(
        bill_id, bill_cast.tier2a.address, PART, "sub-contract"
    )
    bill_cast.tier2a.review(child, True, "accepted")
    _refused_then_audited(bills, bill_cast, child, own_audit, [bill_cast.tier2a.address])
    assert bills.node(child)["state"] == NodeState.VALID


def test_dual_member_as_sender__its_transfer_audit_refused(bills, bill_cast, dual, make_bill):
    client, own_audit = dual
    bill_id = make_bill(receiver=client)
    child, _ = client.request_transfer(bill_id, bill_cast.tier2b.address, PART, "sub-contract")
    bill_cast.tier2b.review(child, True, "accepted")
    _refused_then_audited(bills, bill_cast, child, own_audit, [bill_cast.tier2b.address])


def test_auditing_factor__its_financing_audit_refused__independent_audit_then_disbursed(
    bills, bill_cast, make_bill, transfer, auditing_factor
):
    factor, own_audit = auditing_factor
    held = transfer(bill_cast.tier1, make_bill(), bill_cast.tier2a, PART)
    fin, _ = bill_cast.tier2a.request_financing(held, PART, "need cash")
    factor.quote(fin, RATE, "agreement af")
    bill_cast.tier2a.accept_financing(fin, "agreement af", factor.address, RATE)
    _refused_then_audited(bills, bill_cast, fin, own_audit, [bill_cast.tier2a.address])
    assert bills.node(fin)["state"] == NodeState.AUDITED


def test_dual_member__audits_a_deal_it_has_no_part_in(bills, bill_cast, dual, maturity):
    _, own_audit = dual
    bill_id, _ = bill_cast.core.request_issue(
        bill_cast.tier1.address, FACE, maturity, "po core to tier-1"
    )
    bill_cast.tier1.review(bill_id, True, "goods received")
    assert not own_audit.is_party(bill_id)
    tx = own_audit.audit(bill_id, True, "audit by the group's audit arm")
    assert tx.events["BillAudited"]["auditor"] == own_audit.address
    assert bills.balanceOf(bill_cast.tier1.address, bill_id) == FACE
