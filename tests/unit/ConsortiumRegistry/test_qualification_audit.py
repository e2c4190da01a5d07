"""Joining audit by the audit institution (issue 18, source 002: the audit terminal performs the
qualification audit of a supply-chain client's application; the permission manager still grants).

The permission manager routes a role's qualification audit to an auditing role (setRoleAuditor);
a holder of that role records its audit per applicant and role (auditQualification); auditMembership
and grantRole refuse a routed role without a standing pass (RegistryQualificationNotPassed)."""

import re

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash
from consortium.domain.roles import ROLES
from consortium.roles.membership import Institution

CLIENT, ISSUER = "SUPPLY_CHAIN_CLIENT", "BILL_ISSUER"
APPLIED, ACTIVE, REJECTED = 1, 2, 4
NOT_PASSED = r"RegistryQualificationNotPassed:.*"


def _hex(role):
    return "0x" + ROLES[role].hex()


def _shown(role):
    """How brownie shows a bytes32 argument of a revert (the bytes' repr), as a pattern."""
    return re.escape(repr(ROLES[role]))


@pytest.fixture(scope="module")
def auditor(admit, regulator_cn, accounts):
    return admit(accounts[7], ["AUDITOR"], regulator=regulator_cn, name="audit institution")


@pytest.fixture(scope="module")
def routed(manager, auditor):
    for role in (CLIENT, ISSUER):
        manager.route_audit(role, "AUDITOR")


@pytest.fixture(scope="module")
def applicant(registry, regulator_cn, accounts, routed):
    """A supply-chain client that applied for the membership and the issue right."""
    inst = Institution("tier-1 supplier", accounts[8], registry, "CN")
    inst.apply([CLIENT, ISSUER], regulator_cn.address)
    return inst


def _state(registry, who):
    return (
        registry.getMember(who)["status"],
        tuple(registry.rolesOf(who)),
        registry.qualificationPassed(who, ROLES[CLIENT]),
        registry.qualificationPassed(who, ROLES[ISSUER]),
    )


def test_setRoleAuditor__routes_and_unroutes(registry, manager):
    tx = manager.route_audit(CLIENT, "AUDITOR")
    ev = tx.events["RoleAuditorSet"]
    assert (ev["role"], ev["auditorRole"]) == (_hex(CLIENT), _hex("AUDITOR"))
    assert registry.roleAuditor(ROLES[CLIENT]) == _hex("AUDITOR")
    manager.route_audit(CLIENT, None)
    assert int(registry.roleAuditor(ROLES[CLIENT]).hex(), 16) == 0


@pytest.mark.parametrize(
    "role,auditor_role",
    [(doc_hash("ASTRONAUT"), ROLES["AUDITOR"]), (ROLES[CLIENT], doc_hash("ASTRONAUT"))],
    ids=["unknown role", "unknown auditor role"],
)
def test_setRoleAuditor__unknown_role__reverts_unrouted(registry, manager, role, auditor_role):
    with brownie.reverts(revert_pattern=r"RegistryUnknownRole:.*"):
        registry.setRoleAuditor(role, auditor_role, {"from": manager.account})
    assert int(registry.roleAuditor(ROLES[CLIENT]).hex(), 16) == 0


def test_setRoleAuditor__role_audits_itself__reverts(registry, manager):
    with brownie.reverts(revert_pattern=r"RegistryUnknownRole:.*"):
        registry.setRoleAuditor(ROLES["AUDITOR"], ROLES["AUDITOR"], {"from": manager.account})


def test_admit__auditor_passes_each_routed_role__manager_grants_them(
    registry, manager, auditor, applicant
):
    for role in (CLIENT, ISSUER):
        tx = auditor.audit_qualification(applicant.address, role, True, f"{role} dossier checked")
        ev = tx.events["QualificationAudited"]
        assert (ev["applicant"], ev["role"], ev["auditor"], ev["passed"]) == (
            applicant.address,
            _hex(role),
            auditor.address,
            True,
        )
    tx = manager.audit(applicant.address, True, "membership approved")
    assert [e["role"] for e in tx.events["RoleGranted"]] == [_hex(CLIENT), _hex(ISSUER)]
    assert registry.hasRole(applicant.address, ROLES[ISSUER])


@pytest.mark.parametrize("passed", [(), (CLIENT,)], ids=["none passed", "one of two passed"])
def test_auditMembership__routed_role_without_pass__reverts_unchanged(
    registry, manager, auditor, applicant, passed
):
    for role in passed:
        auditor.audit_qualification(applicant.address, role, True, "checked")
    before = _state(registry, applicant.address)
    missing = ISSUER if passed else CLIENT
    with brownie.reverts(
        revert_pattern=rf"RegistryQualificationNotPassed: {applicant.address.lower()}, "
        rf"{_shown(missing)}, {_shown('AUDITOR')}"
    ):
        manager.audit(applicant.address, True, "approved without the audit institution")
    assert _state(registry, applicant.address) == before
    assert before[0] == APPLIED and before[1] == ()


def test_auditMembership__rejection_needs_no_qualification(registry, manager, applicant):
    manager.audit(applicant.address, False, "incomplete dossier")
    assert registry.getMember(applicant.address)["status"] == REJECTED


def test_auditQualification__failed_after_pass__withdraws_it(registry, manager, auditor, applicant):
    for role in (CLIENT, ISSUER):
        auditor.audit_qualification(applicant.address, role, True, "checked")
    auditor.audit_qualification(applicant.address, ISSUER, False, "invoices do not match")
    assert not registry.qualificationPassed(applicant.address, ROLES[ISSUER])
    with brownie.reverts(revert_pattern=NOT_PASSED):
        manager.audit(applicant.address, True, "approved")


@pytest.mark.parametrize("who", ["broker", "manager", "stranger"])
def test_auditQualification__not_the_auditing_role__reverts_unchanged(
    registry, manager, broker, stranger, applicant, who
):
    caller = {"broker": broker.account, "manager": manager.account, "stranger": stranger}[who]
    before = _state(registry, applicant.address)
    error = "RegistryNotActiveMember" if who == "stranger" else "RegistryNotRoleAuditor"
    with brownie.reverts(revert_pattern=rf"{error}:.*"):
        registry.auditQualification(
            applicant.address, ROLES[CLIENT], True, doc_hash("x"), {"from": caller}
        )
    assert _state(registry, applicant.address) == before


def test_auditQualification__operator_of_the_auditor__acts_for_it(
    registry, auditor, applicant, accounts
):
    auditor.add_operator(accounts[9].address)
    tx = registry.auditQualification(
        applicant.address, ROLES[CLIENT], True, doc_hash("by the audit desk"), {"from": accounts[9]}
    )
    assert tx.events["QualificationAudited"]["auditor"] == auditor.address
    assert registry.qualificationPassed(applicant.address, ROLES[CLIENT])


def test_auditQualification__unrouted_role__reverts(registry, auditor, applicant, routed):
    with brownie.reverts(revert_pattern=rf"RegistryRoleNotRouted: {_shown('BROKER')}"):
        registry.auditQualification(
            applicant.address, ROLES["BROKER"], True, doc_hash("x"), {"from": auditor.account}
        )


def test_auditQualification__role_not_asked_for__reverts(
    registry, manager, auditor, regulator_cn, accounts, routed
):
    other = Institution("asks the client role only", accounts[10], registry, "CN")
    other.apply([CLIENT], regulator_cn.address)
    with brownie.reverts(revert_pattern=r"RegistryQualificationNotRequested:.*"):
        auditor.audit_qualification(other.address, ISSUER, True, "not asked for")
    assert not registry.qualificationPassed(other.address, ROLES[ISSUER])


def test_grantRole__routed__needs_a_pass_and_revocation_clears_it(
    registry, manager, auditor, broker, routed
):
    with brownie.reverts(revert_pattern=NOT_PASSED):
        registry.grantRole(broker.address, ROLES[ISSUER], {"from": manager.account})
    assert not registry.hasRole(broker.address, ROLES[ISSUER])
    auditor.audit_qualification(broker.address, ISSUER, True, "broker's trade desk checked")
    registry.grantRole(broker.address, ROLES[ISSUER], {"from": manager.account})
    assert registry.hasRole(broker.address, ROLES[ISSUER])
    registry.revokeRole(broker.address, ROLES[ISSUER], {"from": manager.account})
    assert not registry.qualificationPassed(broker.address, ROLES[ISSUER])
    with brownie.reverts(revert_pattern=NOT_PASSED):
        registry.grantRole(broker.address, ROLES[ISSUER], {"from": manager.account})


def test_auditQualification__auditor_for_itself__reverts(registry, auditor, routed):
    with brownie.reverts(revert_pattern=rf"RegistrySelfQualification: {auditor.address.lower()}"):
        auditor.audit_qualification(auditor.address, CLIENT, True, "my own dossier")
    assert not registry.qualificationPassed(auditor.address, ROLES[CLIENT])


def test_reapplication__earlier_pass_does_not_carry_over(
    registry, manager, auditor, applicant, regulator_cn
):
    for role in (CLIENT, ISSUER):
        auditor.audit_qualification(applicant.address, role, True, "checked")
    manager.audit(applicant.address, False, "rejected on other grounds")
    applicant.apply([CLIENT, ISSUER], regulator_cn.address)
    assert not registry.qualificationPassed(applicant.address, ROLES[CLIENT])
    with brownie.reverts(revert_pattern=NOT_PASSED):
        manager.audit(applicant.address, True, "approved on the old audit")
    assert registry.getMember(applicant.address)["status"] == APPLIED


def test_unrouted_again__manager_audits_alone(registry, manager, applicant):
    manager.route_audit(CLIENT, None)
    manager.route_audit(ISSUER, None)
    manager.audit(applicant.address, True, "approved by the permission manager alone")
    assert registry.getMember(applicant.address)["status"] == ACTIVE
    assert code32("CN") == bytes(registry.getMember(applicant.address)["jurisdiction"])
