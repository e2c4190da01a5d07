"""Joining the consortium and running it: the applicant institution and the permission manager."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from consortium.domain.hashing import code32, commit, doc_hash, new_salt
from consortium.domain.roles import ROLES

ZERO_ROLE = b"\0" * 32


def _role_ids(roles: Iterable[str]) -> list[bytes]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; known: {sorted(ROLES)}")
    return [ROLES[r] for r in roles]


@dataclass
class Institution:
    """A vetted institution: applies, runs operators, asks for channels, approves amendments."""

    name: str
    account: Any
    registry: Any
    jurisdiction: str = "CN"

    @property
    def address(self) -> str:
        return self.account.address

    def apply(self, roles: Iterable[str], regulator: str | None, dossier: str = "") -> Any:
        """Apply for membership; the name goes on chain only as a salted hash."""
        name_hash = commit(self.name, new_salt())
        dossier_hash = doc_hash(dossier or f"application dossier of {self.name}")
        return self.registry.applyForMembership(
            name_hash,
            code32(self.jurisdiction),
            regulator or "0x" + "00" * 20,
            _role_ids(roles),
            dossier_hash,
            {"from": self.account},
        )

    def request_channel(self, counterparty: str, agreement: str) -> Any:
        return self.registry.requestChannel(
            counterparty, doc_hash(agreement), {"from": self.account}
        )

    def withdraw_channel_request(self, counterparty: str) -> Any:
        """Withdraw this member's pending channel request with `counterparty`, or decline theirs (a
        request is fixed once made: a new agreement is requested only after this)."""
        return self.registry.withdrawChannelRequest(counterparty, {"from": self.account})

    def approve_amendment(self, terms_id: bytes, party_a: str, party_b: str, terms: bytes) -> Any:
        return self.registry.approveAmendment(
            terms_id, party_a, party_b, terms, {"from": self.account}
        )

    def add_operator(self, operator: str) -> Any:
        return self.registry.addOperator(operator, {"from": self.account})

    def audit_qualification(
        self,
        applicant: str,
        role: str | bytes,
        passed: bool,
        report: str | bytes,
        dry_run: bool = False,
    ) -> Any:
        """As an auditing institution (the holder of the role `role`'s audit is routed to), record
        the qualification audit of `applicant` for `role` (a name, or a role id): the permission
        manager grants a routed role only after a pass. The report (text or a file's bytes) goes on
        chain as its keccak256. `dry_run`: the registry's answer without sending (an eth_call), so a
        caller auditing several roles can be refused before any is sent."""
        audit = self.registry.auditQualification
        return (audit.call if dry_run else audit)(
            applicant,
            ROLES[role] if isinstance(role, str) else role,
            passed,
            doc_hash(report),
            {"from": self.account},
        )


@dataclass
class PermissionManager(Institution):
    """The consortium's permission manager: audits applications, opens channels, enacts
    amendments."""

    def audit(self, applicant: str, approved: bool, report: str) -> Any:
        return self.registry.auditMembership(
            applicant, approved, doc_hash(report), {"from": self.account}
        )

    def admit(
        self,
        institution: Institution,
        roles: Iterable[str],
        regulator: str | None,
        qualifier: Institution | None = None,
    ) -> None:
        """Application and approving audit in one step (used when bootstrapping a consortium).

        A role whose qualification audit is routed to an auditing role (`route_audit`) is audited
        first by `qualifier`, an institution holding that role; without one the registry refuses the
        grant (RegistryQualificationNotPassed)."""
        roles = list(roles)
        institution.apply(roles, regulator)
        if qualifier is not None:
            for role in roles:
                if bytes(self.registry.roleAuditor(ROLES[role])) != ZERO_ROLE:
                    qualifier.audit_qualification(
                        institution.address, role, True, f"{role} qualification: {institution.name}"
                    )
        self.audit(institution.address, True, f"qualification audit of {institution.name}: passed")

    def route_audit(self, role: str, auditor_role: str | None) -> Any:
        """Route the qualification audit of `role` to the holders of `auditor_role` (None: the
        permission manager audits it alone)."""
        auditor = ROLES[auditor_role] if auditor_role else ZERO_ROLE
        return self.registry.setRoleAuditor(ROLES[role], auditor, {"from": self.account})

    def open_channel(self, a: str, b: str) -> Any:
        return self.registry.openChannel(a, b, {"from": self.account})

    def connect(self, a: Institution, b: Institution, agreement: str) -> None:
        """Request (by `a`), countersign (by `b`, the same agreement) and open a data channel
        between two members: the channel is an agreement of both parties."""
        a.request_channel(b.address, agreement)
        b.request_channel(a.address, agreement)
        self.open_channel(a.address, b.address)

    def enact(self, terms_id: bytes, party_a: str, party_b: str, terms: bytes) -> Any:
        return self.registry.enactAmendment(
            terms_id, party_a, party_b, terms, {"from": self.account}
        )

    def appoint_settlement_agent(self, token: Any, agent: Any, allowed: bool = True) -> Any:
        """Appoint (or dismiss) a business contract as settlement agent of a DepositToken or the
        SecurityToken: governance's call, never the issuer's; only contracts can be appointed."""
        return token.setSettlementAgent(agent, allowed, {"from": self.account})

    def suspend(self, member: str, reason: str) -> Any:
        return self.registry.suspendMember(member, doc_hash(reason), {"from": self.account})

    def reinstate(self, member: str, reason: str) -> Any:
        return self.registry.reinstateMember(member, doc_hash(reason), {"from": self.account})

    def add_node(self, member: str, enode: str) -> Any:
        return self.registry.addNode(member, enode, {"from": self.account})


class ActsAs:
    """Mixin of a role object acting as one member (its `inst`): the member's address, and the
    account that signs its transactions."""

    inst: Institution

    @property
    def address(self) -> str:
        return self.inst.address

    @property
    def account(self) -> Any:
        return self.inst.account
