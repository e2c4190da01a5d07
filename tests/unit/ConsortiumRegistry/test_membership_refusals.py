"""Membership refusals not covered by test_membership.py: each leaves the member's record as it was."""

import brownie

from consortium.domain.hashing import code32, doc_hash
from consortium.domain.roles import ROLES

ZERO32 = b"\x00" * 32
ACTIVE, SUSPENDED = 2, 3


def test_applyForMembership__regulator_suspended__reverts_and_records_nothing(
    registry, manager, regulator_cn, accounts
):
    manager.suspend(regulator_cn.address, "licence under review")
    with brownie.reverts(
        revert_pattern=rf"RegistryRegulatorInvalid: {regulator_cn.address.lower()}"
    ):
        registry.applyForMembership(
            b"\x01" * 32,
            code32("CN"),
            regulator_cn.address,
            [ROLES["BROKER"]],
            doc_hash("dossier"),
            {"from": accounts[8]},
        )
    assert registry.getMember(accounts[8])["status"] == 0
    assert accounts[8] not in registry.members()


def test_auditMembership__role_requested_twice__granted_once(
    registry, manager, regulator_cn, accounts
):
    registry.applyForMembership(
        b"\x01" * 32,
        code32("CN"),
        regulator_cn.address,
        [ROLES["BROKER"], ROLES["CUSTODIAN"], ROLES["BROKER"]],
        doc_hash("dossier"),
        {"from": accounts[8]},
    )
    tx = manager.audit(accounts[8].address, True, "qualification audit passed")
    granted = [e["role"] for e in tx.events["RoleGranted"]]
    assert granted == ["0x" + ROLES["BROKER"].hex(), "0x" + ROLES["CUSTODIAN"].hex()]
    assert registry.rolesOf(accounts[8]) == granted


def test_revokeRole__unknown_role__reverts_and_keeps_roles(registry, manager, broker):
    unknown = doc_hash("ASTRONAUT")
    with brownie.reverts(revert_pattern=r"RegistryUnknownRole: .*"):
        registry.revokeRole(broker.address, unknown, {"from": manager.account})
    assert registry.rolesOf(broker.address) == ["0x" + ROLES["BROKER"].hex()]


def test_suspendMember__zero_reason__reverts_and_member_stays_active(registry, manager, broker):
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        registry.suspendMember(broker.address, ZERO32, {"from": manager.account})
    assert registry.getMember(broker.address)["status"] == ACTIVE
    assert registry.hasRole(broker.address, ROLES["BROKER"])


def test_reinstateMember__zero_reason__reverts_and_member_stays_suspended(
    registry, manager, broker
):
    manager.suspend(broker.address, "late filings")
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        registry.reinstateMember(broker.address, ZERO32, {"from": manager.account})
    assert registry.getMember(broker.address)["status"] == SUSPENDED
    assert not registry.hasRole(broker.address, ROLES["BROKER"])
