"""Turning the consortium description into members on chain: keys, funding, admission, channels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_utils import keccak

from consortium.config import Consortium
from consortium.domain.bills import AUDIT_ROUTES
from consortium.roles.membership import Institution, PermissionManager
from consortium.scenarios import Members


def institution_key(seed: int, ident: str) -> str:
    """Deterministic demo key per institution (a real member brings its own key or HSM)."""
    return "0x" + keccak(text=f"consortium-ledger-demo:{seed}:{ident}").hex()


def token_issuers(cfg: Consortium, seed: int) -> dict[str, str]:
    """Who issues each token, for `deploy_all(issuers=…)`, before anyone is admitted: the first CSD
    of `cfg` the securities, its first CASH_ISSUER every deposit token (the institutions the day's
    lines act as), at the addresses of their deterministic keys. A token of nobody here is left out
    (the deployer issues it)."""
    from consortium.roles.settlement import CURRENCIES

    def address(role: str) -> str | None:
        found = cfg.with_role(role)
        return Account.from_key(institution_key(seed, found[0].id)).address if found else None

    out = {"SecurityToken": address("CSD")} | {
        f"DepositToken:{code}": address("CASH_ISSUER") for code in CURRENCIES
    }
    return {k: v for k, v in out.items() if v is not None}


DEFAULT_SEED = 20261122  # the demo's default: the same seed gives the same institutions' keys


def deploy_for(admin: Any, cfg: Consortium, seed: int = DEFAULT_SEED, record: bool = True) -> Any:
    """The suite as `consortium deploy` and scripts/deploy.py deploy it for the consortium file
    `cfg`: its founder and jurisdiction, and each token's issuer the member of `cfg` the day's lines
    act as (token_issuers), so the admin does not issue every token."""
    from consortium.deploy import deploy_all

    return deploy_all(
        admin,
        cfg.founder,
        cfg.founder_jurisdiction,
        record=record,
        issuers=token_issuers(cfg, seed),
        business_time_zone=cfg.business_time_zone,
    )


def bootstrap_consortium(
    suite: Any,
    cfg: Consortium,
    founder: Any,
    accounts: Any,
    seed: int,
    fund_wei: int = 10**21,
    progress: Callable[[str], None] | None = None,
) -> tuple[Members, PermissionManager]:
    """Admit every institution of `cfg` (regulators first) and open its channels.

    Institutions get deterministic local keys funded by the founder, so the same day runs on any
    network where the founder holds funds (zero-gas-price Besu networks need no funding at all).
    """
    registry = suite.registry
    manager = PermissionManager(cfg.founder, founder, registry, cfg.founder_jurisdiction)
    by_name: dict[str, Institution] = {}
    routes = audit_routes(cfg)
    for role, auditor_role in routes.items():
        manager.route_audit(role, auditor_role)
    auditing = set(routes.values())
    # regulators first (everyone names one), then the auditing institutions (they audit the
    # qualification of the roles routed to them before the permission manager grants those)
    ordered = sorted(
        cfg.institutions,
        key=lambda i: ("REGULATOR" not in i.roles, not auditing & set(i.roles)),
    )
    for spec in ordered:
        account = accounts.add(institution_key(seed, spec.id))
        if fund_wei and account.balance() < fund_wei // 2:
            founder.transfer(account, fund_wei, silent=True)
        inst = Institution(spec.name, account, registry, spec.jurisdiction)
        regulator = by_name[spec.regulator].address if spec.regulator else None
        manager.admit(inst, spec.roles, regulator, _qualifier(cfg, by_name, spec, routes))
        by_name[spec.id] = inst
        if progress:
            progress(spec.id)
    for a, b in cfg.channels:
        manager.connect(by_name[a], by_name[b], f"cooperation agreement {a} / {b}")
        if progress:
            progress(f"{a}<->{b}")
    if cfg.holding_chain and "HoldingChain" in suite.contracts:
        from consortium.deploy import wire_holding_chain

        address_of = {k: v.address for k, v in by_name.items()}
        wire_holding_chain(suite["HoldingChain"], cfg.holding_chain, address_of, founder)
    return Members(by_name=by_name, roles={i.id: list(i.roles) for i in cfg.institutions}), manager


def audit_routes(cfg: Consortium) -> dict[str, str]:
    """The qualification-audit routes (domain.bills.AUDIT_ROUTES) a consortium file can serve: a
    role someone asks for, routed to an auditing role someone holds (without an audit institution
    the permission manager audits alone)."""
    held = {r for i in cfg.institutions for r in i.roles}
    return {role: aud for role, aud in AUDIT_ROUTES.items() if role in held and aud in held}


def _qualifier(
    cfg: Consortium, admitted: dict[str, Institution], spec: Any, routes: dict[str, str]
) -> Institution | None:
    """An admitted institution, not `spec` itself, holding the auditing role of `spec`'s routed
    roles (the first in the file)."""
    needed = {routes[r] for r in spec.roles if r in routes}
    for other in cfg.institutions:
        if other.id != spec.id and other.id in admitted and needed <= set(other.roles):
            return admitted[other.id]
    return None


def rebuild_members(
    suite: Any, cfg: Consortium, founder: Any, accounts: Any, seed: int
) -> tuple[Members, PermissionManager]:
    """The members `bootstrap_consortium(…, seed)` admitted, rebuilt from their deterministic keys
    without sending anything (a day resumed after a restart)."""
    registry = suite.registry
    by_name = {
        spec.id: Institution(
            spec.name, accounts.add(institution_key(seed, spec.id)), registry, spec.jurisdiction
        )
        for spec in cfg.institutions
    }
    manager = PermissionManager(cfg.founder, founder, registry, cfg.founder_jurisdiction)
    return Members(by_name=by_name, roles={i.id: list(i.roles) for i in cfg.institutions}), manager
