"""The three rights apart (issue 18, source 002: 开单权限、转单权限和融资权限 granted separately).

SUPPLY_CHAIN_CLIENT is the membership: a client receives and reviews bills, pays its own bills and
withdraws its own requests with it alone. Issuing needs BILL_ISSUER, transferring BILL_TRANSFEROR,
asking for and signing a financing BILL_FINANCING_APPLICANT. The access matrix (tests/access) tries
each function with a member holding every role but its right; these tests walk a client holding
only some rights through the lifecycle, and a right revoked midway.
"""

import brownie
import pytest

from consortium.domain.bills import CLIENT_ROLE, BillStatus, NodeState
from consortium.domain.roles import ROLES
from consortium.roles.bills import BillClient
from tests.fixtures.bills import FACE, warp
from tests.unit.BillToken.helpers import snapshot

PART = 300_000_00
RATE = 800


@pytest.fixture(scope="module")
def receiver_only(admit, regulator_cn, accounts, bills):
    """A supplier admitted with the membership alone: it may only receive, review and pay."""
    return BillClient(
        admit(accounts[14], [CLIENT_ROLE], regulator=regulator_cn, name="receiving supplier"),
        bills,
    )


@pytest.fixture(scope="module")
def transferor(admit, regulator_cn, accounts, bills):
    """A supplier with the transfer right but not the financing right."""
    return BillClient(
        admit(
            accounts[16],
            [CLIENT_ROLE, "BILL_TRANSFEROR"],
            regulator=regulator_cn,
            name="transferring supplier",
        ),
        bills,
    )


def test_membership_only__receives_and_reviews__neither_issues_transfers_nor_finances(
    bills, bill_cast, make_bill, receiver_only, maturity
):
    bill_id = make_bill(receiver=receiver_only)  # reviewed by the member without any right
    assert bills.balanceOf(receiver_only.address, bill_id) == FACE
    before = snapshot(bills, [bill_id], [receiver_only.address, bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        receiver_only.request_transfer(bill_id, bill_cast.tier2a.address, PART, "sub-contract")
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        receiver_only.request_financing(bill_id, PART, "need cash")
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        receiver_only.request_issue(bill_cast.tier1.address, FACE, maturity, "own po")
    assert snapshot(bills, [bill_id], [receiver_only.address, bill_cast.tier2a.address]) == before


def test_transfer_right_without_financing_right__transfers__financing_refused(
    bills, bill_cast, make_bill, transferor
):
    bill_id = make_bill(receiver=transferor)
    child, _ = transferor.request_transfer(bill_id, bill_cast.tier2a.address, PART, "sub")
    assert bills.node(child)["state"] == NodeState.REQUESTED
    before = snapshot(bills, [bill_id, child], [transferor.address])
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        transferor.request_financing(bill_id, PART, "need cash")
    assert snapshot(bills, [bill_id, child], [transferor.address]) == before


def test_financing_right_revoked_after_quote__signature_refused__then_cancel_returns_escrow(
    bills, bill_cast, make_bill, transfer, manager
):
    held = transfer(bill_cast.tier1, make_bill(), bill_cast.tier2a, PART)
    fin, _ = bill_cast.tier2a.request_financing(held, PART, "need cash")
    bill_cast.factor.quote(fin, RATE, "agreement v1")
    manager.registry.revokeRole(
        bill_cast.tier2a.address, ROLES["BILL_FINANCING_APPLICANT"], {"from": manager.account}
    )
    before = snapshot(bills, [held, fin], [bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        bill_cast.tier2a.accept_financing(fin, "agreement v1", bill_cast.factor.address, RATE)
    assert snapshot(bills, [held, fin], [bill_cast.tier2a.address]) == before
    # withdrawing one's own request needs the membership only: a revoked right traps no escrow
    bill_cast.tier2a.cancel_request(fin, "right revoked")
    assert bills.balanceOf(bill_cast.tier2a.address, held) == PART
    assert bills.node(fin)["state"] == NodeState.REJECTED


def test_issue_right_revoked__new_issue_refused__debtor_still_pays_at_maturity(
    bills, bill_cast, make_bill, manager, chain
):
    mat = chain[-1].timestamp + 5 * 86_400
    bill_id = make_bill(mat=mat)
    manager.registry.revokeRole(
        bill_cast.core.address, ROLES["BILL_ISSUER"], {"from": manager.account}
    )
    next_id = bills.nextId()
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        bill_cast.core.request_issue(bill_cast.tier1.address, FACE, mat, "po after revocation")
    assert bills.nextId() == next_id
    warp(chain, mat)
    bill_cast.core.redeem([(bill_id, bill_cast.tier1.address, FACE)])
    assert bills.bill(bill_id)["status"] == BillStatus.SETTLED
