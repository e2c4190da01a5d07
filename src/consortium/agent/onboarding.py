"""Joining the consortium from an institution's own home, and the permission manager's answers.

Why here and not in the demo's bootstrap: a bank that joins a running consortium applies with its
own key (its agent's keystore), on its own node, and the permission manager audits with *its* key;
nobody else holds either. `consortium member apply|request-channel` act for the institution of an
agent home; `consortium member audit|open-channel` for the permission manager, whose key is a
keystore of its own (`--keystore`); `consortium member audit-qualification` for the auditing
institution a role's joining audit is routed to (its own keystore), before the permission manager's
audit; `consortium member status` reads the registry with no key.
A refusal of the registry is one sentence naming its custom error (exit 2); nothing else is sent.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortium.agent.runner import connect_chain
from consortium.agent.settings import AgentSettings, load_settings
from consortium.inputs import CommandError
from consortium.keys import Keystore
from consortium.roles.membership import ZERO_ROLE

STATUS = {0: "none", 1: "applied", 2: "active", 3: "suspended", 4: "rejected"}  # MemberStatus
APPLIED, ACTIVE = 1, 2


class RegistryRefused(CommandError):
    """The registry reverted the call; the message names its custom error."""


class NoGasMoney(CommandError):
    """The acting key cannot pay for gas on a chain with a gas price."""


class UnknownAddress(CommandError):
    """agent.yaml `addresses` lacks a member this step needs."""


class NamedRefusal(CommandError):
    """A refusal of the command itself, before anything is sent; its message starts with its name,
    as the registry's custom errors read (`NothingPending: 0x…: …`)."""

    def __str__(self) -> str:
        return f"{type(self).__name__}: {super().__str__()}"


class NothingPending(NamedRefusal):
    """No qualification audit awaits the applicant: no pending application (asking for the role),
    or, for an active member's later grant, a role it already holds."""


class NoRoutedRole(NamedRefusal):
    """The role (or every role the application asks for) is not routed to an auditing role: the
    permission manager audits it alone (`member audit`)."""


class NotRoutedAuditor(NamedRefusal):
    """The keystore's account does not act for a member holding the auditing role the role's
    qualification audit is routed to."""


@dataclass
class Acting:
    """Who acts and against which suite: the brownie account (key in memory only) and the
    registry."""

    account: Any
    suite: Any
    settings: AgentSettings

    @property
    def registry(self) -> Any:
        return self.suite.registry


def _connect(settings: AgentSettings, keystore: Path | None, passphrase: str | None) -> Acting:
    local = Keystore(keystore).unlock(passphrase) if keystore is not None else None
    conn = connect_chain(settings, local)
    return Acting(conn.account, conn.suite, settings)


def as_institution(home: str | Path, passphrase: str) -> Acting:
    """The institution of an agent home, connected as its agent would be."""
    settings = load_settings(home)
    return _connect(settings, settings.keystore, passphrase)


def as_manager(
    keystore: str | Path | None,
    passphrase: str | None,
    consortium: str | Path,
    network: str,
    rpc: str | None,
    deployments: str | Path | None,
    who: str = "permission-manager",
) -> Acting:
    """The permission manager (or `who`, another key acting without an agent home: an auditing
    institution): its keystore (None: read only), and the chain and record it names on the
    command."""
    settings = AgentSettings(
        home=Path("."),
        institution=who,
        consortium=Path(consortium),
        network=network,
        rpc=rpc,
        deployments=Path(deployments) if deployments else None,
    )
    return _connect(settings, Path(keystore) if keystore else None, passphrase)


def _send(what: str, call: Callable[[], Any]) -> Any:
    """Send one registry call; a revert becomes RegistryRefused naming the contract's error."""
    from brownie.exceptions import VirtualMachineError

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # brownie prints every transaction
            return call()
    except VirtualMachineError as exc:
        raise RegistryRefused(f"{what} refused by the registry: {exc.revert_msg}") from None
    except ValueError as exc:  # web3's answer to a key without gas money
        if "insufficient funds" not in str(exc).lower():
            raise
        raise NoGasMoney(
            f"{what} not sent: the key has no funds for gas on this chain; the permission manager "
            "sends some (consortium member fund ADDRESS), or run a zero-gas-price network"
        ) from None


def apply(acting: Acting, dossier: str = "") -> str:
    """Apply for the roles the consortium file gives the home's institution, under the regulator
    of its jurisdiction (a regulator applies under none). The name goes on chain salted."""
    from consortium.config import load_consortium
    from consortium.roles.membership import Institution

    cfg = load_consortium(acting.settings.consortium)
    spec = next(i for i in cfg.institutions if i.id == acting.settings.institution)
    regulator = None
    if spec.regulator and spec.regulator != spec.id:
        regulator = acting.settings.addresses.get(spec.regulator)
        if regulator is None:
            raise UnknownAddress(
                f"{acting.settings.home / 'agent.yaml'}: `addresses` has no {spec.regulator!r}, "
                f"the regulator of {spec.jurisdiction}; add its member address"
            )
    inst = Institution(spec.name, acting.account, acting.registry, spec.jurisdiction)
    _send("the application", lambda: inst.apply(spec.roles, regulator, dossier))
    return (
        f"{spec.id} ({acting.account.address}) applied for {', '.join(spec.roles)}"
        + (f" under {spec.regulator}" if regulator else "")
        + "; the permission manager audits next"
    )


def request_channel(acting: Acting, peer: str, agreement: str) -> str:
    """Ask for a data channel with the member `peer` (an id of agent.yaml `addresses`), or
    countersign `peer`'s pending request: the same agreement text from the other party."""
    address = acting.settings.addresses.get(peer)
    if address is None:
        raise UnknownAddress(
            f"{acting.settings.home / 'agent.yaml'}: `addresses` has no {peer!r}; "
            "add its member address"
        )
    from consortium.domain.hashing import doc_hash

    _send(
        "the channel request",
        lambda: acting.registry.requestChannel(
            address, doc_hash(agreement), {"from": acting.account}
        ),
    )
    return (
        f"channel with {peer} ({address}) requested on the agreement given; it is opened once the "
        "other party has sent the same agreement (countersigned) and the permission manager opens"
        " it"
    )


def audit(acting: Acting, applicant: str, approve: bool, report: str | bytes) -> str:
    """The permission manager's audit of an application: roles granted on approval."""
    from consortium.domain.hashing import doc_hash

    _send(
        "the audit",
        lambda: acting.registry.auditMembership(
            applicant, approve, doc_hash(report), {"from": acting.account}
        ),
    )
    return f"{applicant}: {'approved' if approve else 'rejected'}; now {status(acting, applicant)}"


@dataclass(frozen=True)
class Routed:
    """A role awaiting the applicant's qualification audit and the auditing role it is routed to."""

    role: bytes
    auditor_role: bytes


def requested_roles(acting: Acting, applicant: str) -> list[bytes]:
    """The roles of the applicant's pending application. The registry keeps them without a getter,
    so they are read from its latest MembershipApplied event (indexed by the applicant) since the
    deployment block."""
    from consortium import chain

    registry = acting.registry
    contract = chain.web3().eth.contract(address=registry.address, abi=registry.abi)
    logs = contract.events.MembershipApplied().get_logs(
        from_block=int(acting.suite.block), argument_filters={"applicant": applicant}
    )
    if not logs:
        return []
    latest = max(logs, key=lambda e: (int(e["blockNumber"]), int(e["logIndex"])))
    return [bytes(r) for r in latest["args"]["roles"]]


def _names(roles: list[bytes]) -> str:
    from consortium.domain.roles import role_name

    return ", ".join(role_name(r) for r in roles) or "no role"


def qualifications_due(acting: Acting, applicant: str, role: str | None = None) -> list[Routed]:
    """The routed roles awaiting `applicant`'s qualification audit, read before anything is sent:
    those its pending application asks for, or only `role`, which may also be a role an active
    member does not hold yet (a later grant). NothingPending, NoRoutedRole otherwise."""
    from consortium.domain.roles import ROLES

    registry = acting.registry
    status = int(registry.getMember(applicant)["status"])
    shown = STATUS.get(status, str(status))
    if role is not None and role not in ROLES:
        raise CommandError(f"--role {role}: no such role; known: {', '.join(sorted(ROLES))}")
    if status == APPLIED:
        asked = requested_roles(acting, applicant)
        if role is not None and ROLES[role] not in asked:
            raise NothingPending(
                f"{applicant}: its pending application asks for {_names(asked)}, not {role}: "
                "nothing to audit"
            )
        candidates = [ROLES[role]] if role is not None else asked
    elif status == ACTIVE and role is not None:
        if ROLES[role] in {bytes(r) for r in registry.rolesOf(applicant)}:
            raise NothingPending(f"{applicant}: active and already holds {role}: nothing to audit")
        candidates = [ROLES[role]]
    else:
        later = " (an active member's later grant: --role ROLE)" if status == ACTIVE else ""
        raise NothingPending(
            f"{applicant}: {shown}, no pending application{later}: nothing to audit"
        )
    routed = [Routed(r, bytes(registry.roleAuditor(r))) for r in candidates]
    due = [q for q in routed if q.auditor_role != ZERO_ROLE]
    if not due:
        raise NoRoutedRole(
            f"{_names(candidates)}: no auditing role is routed for "
            f"{'it' if len(candidates) == 1 else 'them'}; the permission manager audits "
            f"{applicant} alone (consortium member audit)"
        )
    return due


def audit_qualification(
    acting: Acting, applicant: str, approve: bool, report: str | bytes, role: str | None = None
) -> str:
    """An auditing institution's qualification audit of `applicant` (资质审核): each routed role its
    pending application asks for (or `role`) passed or failed on one report, whose keccak256 goes
    on chain. Nothing is sent unless every role is due (NothingPending, NoRoutedRole), the key
    holds each routed auditing role (NotRoutedAuditor) and the registry accepts each call in a dry
    run (RegistryRefused naming its error): a refusal never leaves a half-recorded audit."""
    from eth_utils import to_checksum_address

    from consortium.domain.roles import role_name
    from consortium.roles.membership import Institution

    applicant = to_checksum_address(applicant)
    due = qualifications_due(acting, applicant, role)
    me = acting.account.address
    for q in due:
        if not acting.registry.hasRole(me, q.auditor_role):
            raise NotRoutedAuditor(
                f"{me} does not hold {role_name(q.auditor_role)}, the role the qualification "
                f"audit of {role_name(q.role)} is routed to: only its holders audit it"
            )
    auditor = Institution(acting.settings.institution, acting.account, acting.registry)
    for dry_run in (True, False):
        for q in due:
            _send(
                f"the qualification audit of {role_name(q.role)}",
                lambda q=q, dry=dry_run: auditor.audit_qualification(
                    applicant, q.role, approve, report, dry_run=dry
                ),
            )
    them = "it" if len(due) == 1 else "them"
    verdict = f"{applicant}: qualification for {_names([q.role for q in due])}"
    if not approve:
        return (
            f"{verdict} failed; the permission manager cannot grant {them} until a new audit "
            "passes (RegistryQualificationNotPassed)"
        )
    if int(acting.registry.getMember(applicant)["status"]) == ACTIVE:  # a later grant
        return f"{verdict} passed; the permission manager can grant {them} now (grantRole)"
    return (
        f"{verdict} passed; the permission manager can grant {them} now "
        f"(consortium member audit {applicant} --approve)"
    )


def open_channel(acting: Acting, a: str, b: str) -> str:
    _send(
        "opening the channel", lambda: acting.registry.openChannel(a, b, {"from": acting.account})
    )
    return f"channel {a} <-> {b} open"


def fund(acting: Acting, address: str, wei: int) -> str:
    """Send gas money to a new member's key: on a local chain with a gas price; a Besu network at
    zero gas price needs none."""
    _send("the funding", lambda: acting.account.transfer(address, wei, silent=True))
    return f"{address}: funded with {wei} wei"


def status(acting: Acting, member: str) -> str:
    """One line: the member's status and roles as the registry holds them."""
    from consortium.domain.roles import ROLE_BY_ID

    m = acting.registry.getMember(member)
    roles = [ROLE_BY_ID.get(bytes(r), bytes(r).hex()) for r in acting.registry.rolesOf(member)]
    return f"{STATUS.get(int(m['status']), m['status'])}, roles {', '.join(roles) or 'none'}"
