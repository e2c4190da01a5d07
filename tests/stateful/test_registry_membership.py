"""Registry invariants: no role without an audited membership; a role check passes exactly for an
active member holding the role (the derived fast-path grant never drifts from the role set)."""

from brownie.test import strategy
from hypothesis import HealthCheck

from consortium.devtools.examples import budget
from consortium.domain.hashing import doc_hash
from consortium.domain.roles import ROLES

ROLE_IDS = [ROLES[r] for r in ("BROKER", "CUSTODIAN", "AUDITOR")]
STATUS = {0: "None", 1: "Applied", 2: "Active", 3: "Suspended", 4: "Rejected"}


class RegistryMachine:
    st_who = strategy("uint8", max_value=5)
    st_role = strategy("uint8", max_value=2)
    st_ok = strategy("bool")

    def __init__(cls, registry, manager, regulator, accounts):
        cls.registry, cls.manager, cls.regulator = registry, manager, regulator
        cls.actors = [accounts[i] for i in range(5, 11)]

    def _call(self, fn, *args):
        try:
            fn(*args)
        except Exception as exc:  # VirtualMachineError: a refused call changes nothing
            if "revert" not in str(exc).lower() and "Registry" not in str(exc):
                raise

    def rule_apply(self, st_who, st_role):
        self._call(
            self.registry.applyForMembership,
            b"\x01" * 32,
            b"CN".ljust(32, b"\0"),
            self.regulator,
            [ROLE_IDS[st_role]],
            doc_hash("app"),
            {"from": self.actors[st_who]},
        )

    def rule_audit(self, st_who, st_ok):
        self._call(
            self.registry.auditMembership,
            self.actors[st_who],
            st_ok,
            doc_hash("audit"),
            {"from": self.manager},
        )

    def rule_suspend(self, st_who):
        self._call(
            self.registry.suspendMember, self.actors[st_who], doc_hash("s"), {"from": self.manager}
        )

    def rule_reinstate(self, st_who):
        self._call(
            self.registry.reinstateMember,
            self.actors[st_who],
            doc_hash("r"),
            {"from": self.manager},
        )

    def rule_grant(self, st_who, st_role):
        self._call(
            self.registry.grantRole, self.actors[st_who], ROLE_IDS[st_role], {"from": self.manager}
        )

    def rule_revoke(self, st_who, st_role):
        self._call(
            self.registry.revokeRole, self.actors[st_who], ROLE_IDS[st_role], {"from": self.manager}
        )

    def invariant_no_role_without_audited_membership(self):
        for a in self.actors:
            m = self.registry.getMember(a)
            if self.registry.rolesOf(a):
                assert STATUS[m["status"]] in ("Active", "Suspended"), (a, m)
                assert m["auditor"] == self.manager and m["auditHash"] != "0x" + "00" * 32

    def invariant_role_checks_pass_exactly_for_active_members_holding_the_role(self):
        """The registry's derived fast-path grant must equal (role held) and (member active)."""
        for a in self.actors:
            active = self.registry.getMember(a)["status"] == 2
            held = {bytes(x) for x in self.registry.rolesOf(a)}
            for r in ROLE_IDS:
                assert self.registry.hasRole(a, r) == (active and r in held), (a, r)


def test_registry_state_machine(state_machine, registry, manager, regulator_cn, accounts):
    # the other machines' profile (tests/stateful/machine.py): hypothesis' health checks judge
    # generation by time and size, which a loaded chain host fails without any bug
    state_machine(
        RegistryMachine,
        registry,
        manager.account,
        regulator_cn.address,
        accounts,
        settings={
            "max_examples": budget(15),
            "stateful_step_count": 12,
            "deadline": None,
            "suppress_health_check": list(HealthCheck),
        },
    )
