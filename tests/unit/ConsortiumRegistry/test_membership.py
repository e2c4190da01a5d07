"""join → audit → roles → suspend → reinstate, and every refusal on the way."""

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash
from consortium.domain.roles import ROLES

ZERO = "0x" + "00" * 20
H = doc_hash("evidence")


def _apply(registry, account, roles=("BROKER",), regulator=None, name=b"\x01" * 32, app=H):
    return registry.applyForMembership(
        name, code32("CN"), regulator or ZERO, [ROLES[r] for r in roles], app, {"from": account}
    )


def test_founder__is_active_permission_manager(registry, registry_admin):
    assert registry.isActive(registry_admin)
    assert registry.hasRole(registry_admin, ROLES["PERMISSION_MANAGER"])
    assert registry.members() == [registry_admin]


def test_apply__records_application_and_grants_nothing(registry, regulator_cn, accounts):
    tx = _apply(registry, accounts[5], regulator=regulator_cn.address)
    ev = tx.events["MembershipApplied"]
    assert ev["applicant"] == accounts[5]
    assert ev["regulator"] == regulator_cn.address
    assert ev["roles"] == ["0x" + ROLES["BROKER"].hex()]
    m = registry.getMember(accounts[5])
    assert m["status"] == 1  # Applied
    assert not registry.hasRole(accounts[5], ROLES["BROKER"])
    assert registry.rolesOf(accounts[5]) == []


def test_audit_approved__activates_and_grants_requested_roles(
    registry, manager, regulator_cn, accounts
):
    _apply(registry, accounts[5], roles=("BROKER", "CUSTODIAN"), regulator=regulator_cn.address)
    tx = manager.audit(accounts[5].address, True, "audit report")
    assert tx.events["MembershipAudited"]["approved"] is True
    assert tx.events["MembershipAudited"]["auditHash"] == "0x" + doc_hash("audit report").hex()
    assert [e["role"] for e in tx.events["RoleGranted"]] == [
        "0x" + ROLES["BROKER"].hex(),
        "0x" + ROLES["CUSTODIAN"].hex(),
    ]
    assert registry.isActive(accounts[5])
    assert registry.getMember(accounts[5])["auditor"] == manager.address
    assert registry.regulatorOf(accounts[5]) == regulator_cn.address


def test_audit_rejected__no_roles_and_may_reapply(registry, manager, regulator_cn, accounts):
    _apply(registry, accounts[5], regulator=regulator_cn.address)
    manager.audit(accounts[5].address, False, "missing licence")
    assert registry.getMember(accounts[5])["status"] == 4  # Rejected
    assert not registry.hasRole(accounts[5], ROLES["BROKER"])
    _apply(registry, accounts[5], regulator=regulator_cn.address)
    assert registry.getMember(accounts[5])["status"] == 1
    assert registry.members().count(accounts[5]) == 1


def test_apply__twice__reverts(registry, regulator_cn, accounts):
    _apply(registry, accounts[5], regulator=regulator_cn.address)
    with brownie.reverts(revert_pattern=r"RegistryAlreadyApplied:.*"):
        _apply(registry, accounts[5], regulator=regulator_cn.address)


def test_apply__active_member__reverts(registry, registry_admin):
    with brownie.reverts(revert_pattern=r"RegistryAlreadyApplied:.*"):
        _apply(registry, registry_admin, roles=("REGULATOR",))


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"roles": ()}, "RegistryEmptyRoles"),
        ({"name": b"\x00" * 32}, "RegistryZeroHash"),
        ({"app": b"\x00" * 32}, "RegistryZeroHash"),
        ({"regulator": None}, "RegistryRegulatorInvalid"),  # broker without a regulator
    ],
)
def test_apply__bad_input__reverts_and_changes_nothing(
    registry, regulator_cn, accounts, kwargs, error
):
    args = {"regulator": regulator_cn.address, **kwargs}
    with brownie.reverts(revert_pattern=rf"{error}.*"):
        _apply(registry, accounts[5], **args)
    assert registry.getMember(accounts[5])["status"] == 0
    assert accounts[5] not in registry.members()


def test_apply__unknown_role__reverts(registry, regulator_cn, accounts):
    with brownie.reverts(revert_pattern=r"RegistryUnknownRole:.*"):
        registry.applyForMembership(
            b"\x01" * 32,
            code32("CN"),
            regulator_cn.address,
            [doc_hash("ASTRONAUT")],
            H,
            {"from": accounts[5]},
        )


def test_apply__too_many_roles__reverts(registry, regulator_cn, accounts):
    with brownie.reverts(revert_pattern=r"RegistryTooManyRoles: 17, 16"):
        registry.applyForMembership(
            b"\x01" * 32,
            code32("CN"),
            regulator_cn.address,
            [ROLES["BROKER"]] * 17,
            H,
            {"from": accounts[5]},
        )


def test_apply__regulator_not_a_regulator__reverts(registry, admit, accounts):
    broker = admit(accounts[6], ["REGULATOR"], "CN")
    broker_no_reg = accounts[7]
    registry.revokeRole(broker.address, ROLES["REGULATOR"], {"from": accounts[0]})
    with brownie.reverts(revert_pattern=r"RegistryRegulatorInvalid:.*"):
        _apply(registry, broker_no_reg, regulator=broker.address)


def test_apply__by_operator_address__reverts(registry, regulator_cn, accounts):
    regulator_cn.add_operator(accounts[8].address)
    with brownie.reverts(revert_pattern=r"RegistryAccountInUse:.*"):
        _apply(registry, accounts[8], regulator=regulator_cn.address)


def test_audit__twice__reverts(registry, manager, regulator_cn, accounts):
    _apply(registry, accounts[5], regulator=regulator_cn.address)
    manager.audit(accounts[5].address, True, "ok")
    with brownie.reverts(revert_pattern=r"RegistryNotPendingApplication:.*"):
        manager.audit(accounts[5].address, False, "again")
    assert registry.isActive(accounts[5])


def test_audit__never_applied__reverts(manager, accounts):
    with brownie.reverts(revert_pattern=r"RegistryNotPendingApplication:.*"):
        manager.audit(accounts[9].address, True, "ok")


def test_audit__zero_hash__reverts(registry, manager, regulator_cn, accounts):
    _apply(registry, accounts[5], regulator=regulator_cn.address)
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        registry.auditMembership(accounts[5], True, b"\x00" * 32, {"from": manager.account})
    assert registry.getMember(accounts[5])["status"] == 1


def test_suspend__member_loses_every_role_until_reinstated(
    registry, manager, admit, regulator_cn, accounts
):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    tx = manager.suspend(broker.address, "late filings")
    assert tx.events["MemberSuspended"]["member"] == broker.address
    assert not registry.hasRole(broker.address, ROLES["BROKER"])
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        registry.requireRole(broker.address, ROLES["BROKER"])
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        broker.request_channel(regulator_cn.address, "x")
    manager.reinstate(broker.address, "filings received")
    assert registry.hasRole(broker.address, ROLES["BROKER"])


def test_suspend__operators_are_frozen_with_their_member(
    registry, manager, admit, regulator_cn, accounts
):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    broker.add_operator(accounts[6].address)
    assert registry.requireRole(accounts[6], ROLES["BROKER"]) == broker.address
    manager.suspend(broker.address, "x")
    assert not registry.hasRole(accounts[6], ROLES["BROKER"])


def test_suspend__self__reverts(registry, manager):
    with brownie.reverts(revert_pattern=r"RegistryCannotSuspendSelf:.*"):
        manager.suspend(manager.address, "oops")
    assert registry.isActive(manager.address)


def test_suspend__twice__reverts(manager, admit, regulator_cn, accounts):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    manager.suspend(broker.address, "x")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        manager.suspend(broker.address, "x")


def test_reinstate__active_member__reverts(manager, admit, regulator_cn, accounts):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    with brownie.reverts(revert_pattern=r"RegistryNotSuspended:.*"):
        manager.reinstate(broker.address, "x")


def test_grant_and_revoke_role(registry, registry_admin, admit, regulator_cn, accounts):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    tx = registry.grantRole(broker.address, ROLES["CUSTODIAN"], {"from": registry_admin})
    assert tx.events["RoleGranted"]["role"] == "0x" + ROLES["CUSTODIAN"].hex()
    assert registry.hasRole(broker.address, ROLES["CUSTODIAN"])
    with brownie.reverts(revert_pattern=r"RegistryRoleAlreadyGranted:.*"):
        registry.grantRole(broker.address, ROLES["CUSTODIAN"], {"from": registry_admin})
    registry.revokeRole(broker.address, ROLES["CUSTODIAN"], {"from": registry_admin})
    assert not registry.hasRole(broker.address, ROLES["CUSTODIAN"])
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        registry.revokeRole(broker.address, ROLES["CUSTODIAN"], {"from": registry_admin})


def test_grant__unknown_role_or_inactive_member__reverts(registry, registry_admin, accounts):
    with brownie.reverts(revert_pattern=r"RegistryUnknownRole:.*"):
        registry.grantRole(registry_admin, doc_hash("ASTRONAUT"), {"from": registry_admin})
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        registry.grantRole(accounts[9], ROLES["BROKER"], {"from": registry_admin})
    with brownie.reverts(revert_pattern=r"RegistryZeroAddress.*"):
        registry.grantRole(ZERO, ROLES["BROKER"], {"from": registry_admin})


def test_register_role_type(registry, registry_admin):
    new = doc_hash("CUSTODY_AGENT")
    assert not registry.isRoleType(new)
    registry.registerRoleType(new, {"from": registry_admin})
    assert registry.isRoleType(new)
    with brownie.reverts(revert_pattern=r"RegistryRoleAlreadyRegistered:.*"):
        registry.registerRoleType(new, {"from": registry_admin})
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        registry.registerRoleType(b"\x00" * 32, {"from": registry_admin})


def test_operators__add_remove_and_refusals(registry, admit, regulator_cn, accounts):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    tx = broker.add_operator(accounts[6].address)
    assert tx.events["OperatorAdded"]["operator"] == accounts[6]
    assert registry.memberOf(accounts[6]) == broker.address
    assert registry.operatorsOf(broker.address) == [accounts[6]]
    with brownie.reverts(revert_pattern=r"RegistryAccountInUse:.*"):
        broker.add_operator(accounts[6].address)
    with brownie.reverts(revert_pattern=r"RegistryAccountInUse:.*"):
        broker.add_operator(regulator_cn.address)
    with brownie.reverts(revert_pattern=r"RegistryZeroAddress.*"):
        broker.add_operator(ZERO)
    with brownie.reverts(revert_pattern=r"RegistryNotOperator:.*"):
        registry.removeOperator(accounts[7], {"from": broker.account})
    registry.removeOperator(accounts[6], {"from": broker.account})
    assert registry.memberOf(accounts[6]) == ZERO
    assert registry.operatorsOf(broker.address) == []
