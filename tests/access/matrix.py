"""Who may call what: one entry per state-changing function of every contract `deploy_all` deploys.

test_access_matrix.py calls every function listed here from the accounts that must not call it and
expects the named error; a function missing from this table fails the test, so a new function
cannot ship without its access rule.

Entry kinds:
- role("A", "B")  the caller must act for an active member holding one of these roles (onlyRole);
- member()        any active member (the registry refuses strangers and suspended members); with
                  missing_role_error, also a member that is not the right party (e.g. not the
                  operator's owner) is tried;
- refused(error)   nobody may call it this way: every caller (stranger, suspended member, a member
                  holding every role) gets `error` (disabled transfers, agent-only moves);
- open(reason)    callable by anyone by design (say why); the test only checks it is listed.

Every role() and member() rule is called by a stranger, an applicant not yet audited and a
suspended member holding every role (RegistryNotActiveMember). A rule with missing_role_error is
also called by a member holding every role but the allowed ones, and (role() rules) by an operator
of that member. A rule with not_party_error is also called by a member holding every role that is
not the one party the contract names (the token's issuer, its CSD, the regulator's reporter with a
channel to it), expecting that error.

The unit folders keep only the "allowed caller succeeds" cases; refusals by caller live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    kind: str
    roles: tuple[str, ...] = ()
    reason: str = ""
    # error expected from an active member holding every role except `roles`; None: such a member
    # may call it (member() rules), so only strangers and suspended members are tried
    missing_role_error: str | None = None
    # positional argument overrides (index -> value or callable(fixtures) -> value)
    args: dict = field(default_factory=dict)
    # error expected from an active member holding every role that is not the contract's own party
    # (e.g. a CASH_ISSUER that is not the deposit token's issuer); None: not tried
    not_party_error: str | None = None


def role(*roles: str, **kw) -> Rule:
    kw.setdefault("missing_role_error", r"RegistryMissingRole:.*")
    return Rule("role", roles, **kw)


def member(**kw) -> Rule:
    return Rule("member", **kw)


def open_(reason: str) -> Rule:
    return Rule("open", reason=reason)


def refused(error: str, reason: str) -> Rule:
    return Rule("refused", reason=reason, missing_role_error=error)


MATRIX: dict[str, dict[str, Rule]] = {
    "ConsortiumRegistry": {
        "applyForMembership": open_(
            "anyone may apply; the audit decides (members get RegistryAlreadyApplied)"
        ),
        "auditMembership": role("PERMISSION_MANAGER"),
        "grantRole": role("PERMISSION_MANAGER"),
        "revokeRole": role("PERMISSION_MANAGER"),
        "registerRoleType": role("PERMISSION_MANAGER"),
        "suspendMember": role("PERMISSION_MANAGER"),
        "reinstateMember": role("PERMISSION_MANAGER"),
        "openChannel": role("PERMISSION_MANAGER"),
        "enactAmendment": role("PERMISSION_MANAGER"),
        "addNode": role("PERMISSION_MANAGER"),
        "removeNode": role("PERMISSION_MANAGER"),
        "addOperator": member(),
        "removeOperator": member(missing_role_error=r"RegistryNotOperator:.*"),
        "requestChannel": member(),
        # the requester withdraws or the counterparty declines: the pair is keyed by the caller itself
        "withdrawChannelRequest": member(),
        "closeChannel": member(),  # parties or the permission manager: tests/unit/…/test_channels.py
        "approveAmendment": member(missing_role_error=r"RegistryNotTermsParty:.*"),
        "setRoleAuditor": role("PERMISSION_MANAGER"),
        # any active member reaches the routing check (the suite routes nothing: RegistryRoleNotRouted);
        # the holder of the routed auditor role only (RegistryNotRoleAuditor), never for itself:
        # tests/unit/ConsortiumRegistry/test_qualification_audit.py
        "auditQualification": member(missing_role_error=r"RegistryRoleNotRouted:.*"),
    },
    "ReportAnchor": {
        # REPORTER or PERMISSION_MANAGER; a member with neither is told it lacks PERMISSION_MANAGER
        "setRules": role("REPORTER", "PERMISSION_MANAGER"),
        # REPORTER with an open channel to the regulator (issue 17 item 14): a REPORTER without
        # one is refused
        "anchor": role("REPORTER", not_party_error=r"RegistryChannelNotOpen:.*"),
    },
    "SealedRecords": {
        # any active member, for itself only: the publisher is the member the caller acts for
        "publish": member(),
        # the same: a member appends to its own publication only (another's is not published
        # for it: SealedNotPublished, test_parts)
        "appendRecords": member(),
    },
    "ConfirmationAnchor": {
        "submitRegistration": role("SALES_BANK"),
        "decideRegistration": role("PRODUCT_ISSUER"),
        "anchorPacket": role("SALES_BANK"),
        "anchorPeriod": role("SALES_BANK"),
    },
    "Reconciliation": {
        "commitBilateral": role("BANK"),
        "closeDay": role("RECONCILER"),
        "recordReconciliation": role("RECONCILER"),
        "recordBreaks": role("RECONCILER"),
        "settleDay": role("FINANCE_COMPANY"),
    },
    "AnnuityPlans": {
        "definePlan": role(
            "TRUSTEE"
        ),  # a later version: the plan's trustee (AnnuityNotPlanTrustee)
        "appointInvestmentManager": role("TRUSTEE"),  # the plan's trustee (AnnuityNotPlanTrustee)
    },
    # the role first; then the appointed party (tests/hostile/test_review_annuity.py:
    # a role holder not appointed is refused): the employer's platform / trustee / account manager,
    # the plan's investment manager
    "AnnuityLedger": {
        "registerEmployer": role("ANNUITY_PLATFORM"),
        "requestAccounts": role("ANNUITY_PLATFORM"),
        "openAccounts": role("ACCOUNT_MANAGER"),
        "receiveContributions": role("TRUSTEE"),
        "postContributions": role("ACCOUNT_MANAGER"),
        "choosePlan": role("ANNUITY_PLATFORM"),
        "resetHoldings": role("ACCOUNT_MANAGER"),
        "confirmReset": role("TRUSTEE"),
        "allocateCash": role("TRUSTEE"),
        "executeInstruction": role("INVESTMENT_MANAGER"),
        "reportFeedback": role("INVESTMENT_MANAGER"),
        "forwardFeedback": role("TRUSTEE"),
        "executeInstructions": role("INVESTMENT_MANAGER"),
        "reportFeedbacks": role("INVESTMENT_MANAGER"),
        "forwardFeedbacks": role("TRUSTEE"),
    },
    "BillToken": {
        # the three rights apart (issue 18): a member holding every role but the right is refused, so
        # SUPPLY_CHAIN_CLIENT (the membership) alone neither issues, transfers nor finances
        "requestIssue": role("BILL_ISSUER"),
        "review": role("SUPPLY_CHAIN_CLIENT"),
        "audit": role("AUDITOR"),
        "requestTransfer": role("BILL_TRANSFEROR"),
        "requestFinancing": role("BILL_FINANCING_APPLICANT"),
        "requestFinancingQuotes": role("BILL_FINANCING_APPLICANT"),
        "quoteFinancing": role("ASSET_MANAGER"),
        "acceptFinancing": role("BILL_FINANCING_APPLICANT"),
        "disburseFinancing": role("ASSET_MANAGER"),
        # paying one's own bills and withdrawing one's own requests need no right: a right revoked
        # never traps a debt or an escrow
        "redeem": role("SUPPLY_CHAIN_CLIENT"),
        "markOverdue": member(),
        "cancelRequest": role("SUPPLY_CHAIN_CLIENT"),
        # the node's requester or an AUDITOR; the payee; the payer (parties: tests/hostile/test_review_bills.py)
        "expireRequest": member(),
        "confirmPayment": member(),
        "withdrawPayment": member(),
        "safeTransferFrom": refused(
            r"BillDirectTransferDisabled:.*",
            "bills move only by request → review → audit (tests/unit/BillToken)",
        ),
        "safeBatchTransferFrom": refused(r"BillDirectTransferDisabled:.*", "as safeTransferFrom"),
        "setApprovalForAll": open_("an approval moves nothing: direct transfers are disabled"),
    },
    "SecurityToken": {
        # the token's one CSD member (or its operators) only; agents are appointed by governance
        "listSecurity": role("CSD", not_party_error=r"SecurityNotCsd:.*"),
        "issue": role("CSD", not_party_error=r"SecurityNotCsd:.*"),
        "redeem": role("CSD", not_party_error=r"SecurityNotCsd:.*"),
        "setSettlementAgent": role("PERMISSION_MANAGER"),
        "agentTransfer": refused(
            r"SecurityNotSettlementAgent:.*", "gated by the agent list (contracts), not by role"
        ),
        "safeTransferFrom": open_(
            "the holder's operator approval is the gate; both holders are "
            "member-checked in _update (tests/unit/SecurityToken)"
        ),
        "safeBatchTransferFrom": open_("as safeTransferFrom"),
        "setApprovalForAll": open_(
            "an approval moves nothing; holders are member-checked in _update"
        ),
    },
    "SettlementEngine": {
        "listCurrency": role("PERMISSION_MANAGER"),
        "replaceCurrency": role("PERMISSION_MANAGER"),
        "openCycle": role("CCP"),
        "closeUploads": role("CCP"),
        "submitNetting": role("CCP"),
        "unwindCycle": role("CCP"),
        "deferTrades": role("CCP"),
        "settle": role("CSD"),
        # first parties: BROKER, CUSTODIAN or EXCHANGE; second parties: CCP or CSD
        "uploadTrades": role(
            "BROKER", "CUSTODIAN", "EXCHANGE", missing_role_error=r"SettlementNotFirstParty:.*"
        ),
        "completeUploads": role(
            "BROKER", "CUSTODIAN", "EXCHANGE", missing_role_error=r"SettlementNotFirstParty:.*"
        ),
        "setClearingConfig": role(
            "BROKER", "CUSTODIAN", "EXCHANGE", missing_role_error=r"SettlementNotFirstParty:.*"
        ),
        "reconcile": role(
            "BROKER", "CUSTODIAN", "EXCHANGE", missing_role_error=r"SettlementNotFirstParty:.*"
        ),
        "reconcileInvestor": role(
            "BROKER", "CUSTODIAN", "EXCHANGE", missing_role_error=r"SettlementNotFirstParty:.*"
        ),
        "submitInstruction": role(
            "BROKER", "CUSTODIAN", "EXCHANGE", missing_role_error=r"SettlementNotFirstParty:.*"
        ),
        "setChargeAccounts": role(
            "BROKER", "CUSTODIAN", "EXCHANGE", missing_role_error=r"SettlementNotFirstParty:.*"
        ),
        "submitSecondClearing": role(
            "CCP", "CSD", missing_role_error=r"SettlementNotSecondParty:.*"
        ),
    },
    "HoldingChain": {
        "setHolder": role("PERMISSION_MANAGER"),
        "linkClient": role("PERMISSION_MANAGER"),
        "openTiers": role("CSD"),
        # any active member configured as an intermediary (its tier), not a role: a member holding
        # every role but configured nowhere in the chain is refused by name
        "allocate": member(missing_role_error=r"HoldingNotIntermediary:.*"),
    },
    "DepositToken": {
        # the token's one issuing member (or its operators) only; agents are appointed by governance
        "issue": role("CASH_ISSUER", not_party_error=r"DepositNotIssuer:.*"),
        "redeem": role("CASH_ISSUER", not_party_error=r"DepositNotIssuer:.*"),
        "setSettlementAgent": role("PERMISSION_MANAGER"),
        "agentTransfer": refused(
            r"DepositNotSettlementAgent:.*", "gated by the agent list (contracts), not by role"
        ),
        "transfer": member(missing_role_error=r"ERC20InsufficientBalance:.*"),
        "transferFrom": open_(
            "the holder's allowance is the gate: business contracts (Reconciliation, "
            "bill financing) spend it; both holders are member-checked in _update"
        ),
        "approve": open_("an allowance moves nothing; holders are checked when it is used"),
    },
}
