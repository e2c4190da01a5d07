"""Gas figures of the annuity line (called by `make bench`; no wall-clock assertions).

Deploys its own registry and annuity contracts, admits the four platforms, then measures:
appointing a plan's investment manager, registering an employer, open account (request + open, one
account), contribution (receive + post) single and batch of 100 (first contributions, creating asset
records), plan switch without reset (First instruction, 8 items) and with reset (choosePlan +
resetHoldings, 8-item plan over 8 held items), and the instruction lifecycle (execute, report,
forward) of the 8-item instructions, one by one and batched (20 instructions a call).
"""

from __future__ import annotations

from typing import Any

from consortium.deploy import deploy_annuity as deploy
from consortium.domain.hashing import code32, doc_hash
from consortium.roles.annuity import (
    AccountManagerPlatform,
    AnnuityServicePlatform,
    ContributionBatch,
    InvestmentManagerPlatform,
    TrusteePlatform,
    instructions_in,
)
from consortium.roles.membership import Institution, PermissionManager

EIGHT = {
    "CN_EQUITY": 1700,
    "HK_EQUITY": 1300,
    "US_EQUITY": 900,
    "CN_BOND": 2100,
    "CREDIT": 1100,
    "REIT": 700,
    "GOLD": 500,
    "MONEY_MKT": 1700,
}
EIGHT_B = {
    "CN_EQUITY": 500,
    "HK_EQUITY": 500,
    "US_EQUITY": 500,
    "CN_BOND": 4000,
    "CREDIT": 2000,
    "REIT": 500,
    "GOLD": 500,
    "MONEY_MKT": 1500,
}


def bench_annuity(proj: Any, accounts: Any) -> dict[str, int]:
    """Flat {figure name: gas} for the annuity line on a fresh registry
    (uses accounts 0, 1, 3..6)."""
    ledger, plans, platform, trustee, am, im = _members(proj, accounts)
    gas: dict[str, int] = {}

    tx = plans.definePlan(
        code32("EIGHT"),
        [code32(i) for i in EIGHT],
        list(EIGHT.values()),
        {"from": trustee.institution.account},
    )
    gas["annuity.definePlan.8_items"] = tx.gas_used
    trustee.define_plan("EIGHT_B", EIGHT_B)
    tx = trustee.appoint_investment_manager("EIGHT", im.address)
    gas["annuity.appointInvestmentManager"] = tx.gas_used
    trustee.appoint_investment_manager("EIGHT_B", im.address)
    tx = ledger.registerEmployer(
        doc_hash("bench employer"),
        trustee.address,
        am.address,
        {"from": platform.institution.account},
    )
    gas["annuity.registerEmployer"] = tx.gas_used
    platform.employer = int(tx.events["EmployerRegistered"]["employerId"])

    (req,) = platform.enrol(["bench-solo"])
    (opened,) = am.open_accounts([platform.account_id("bench-solo")])
    gas["annuity.openAccount.request"] = req.gas_used
    gas["annuity.openAccount.open"] = opened.gas_used
    gas["annuity.openAccount.total"] = req.gas_used + opened.gas_used

    employees = [f"bench-{k:03d}" for k in range(100)]
    reqs = platform.enrol(employees)
    opens = am.open_accounts([platform.account_id(e) for e in employees])
    gas["annuity.openAccounts.batch_100"] = sum(t.gas_used for t in reqs + opens)

    solo = platform.account_id("bench-solo")
    _contributions(platform, trustee, am, ledger, solo, employees, gas)

    # plan switch without reset: 8-item First instruction for the account's cash
    tx = platform.choose_plan("bench-solo", "EIGHT", 1)
    gas["annuity.choosePlan.no_reset.8_items"] = tx.gas_used
    (ins,) = instructions_in(tx)
    ex = im.execute(ins)
    fb = im.report_feedback(ins, [10**12 + 7 * k for k in range(8)])
    fw = trustee.forward_feedback(fb)
    gas["annuity.executeInstruction.8_buys"] = ex.gas_used
    gas["annuity.reportFeedback.8_items"] = fb.tx.gas_used
    gas["annuity.forwardFeedback.8_items"] = fw.gas_used

    # the same three steps batched: 20 employees' 8-item First instructions, one call per step
    # (20 x 8 = MAX_BATCH_ITEMS legs, as the investment manager's agent groups them)
    issued = [instructions_in(platform.choose_plan(e, "EIGHT", 1))[0] for e in employees[:20]]
    work = [(i, [10**12 + 7 * k for k in range(8)]) for i in issued]
    ((_, ex_many),) = im.execute_many(work)
    reported = im.report_feedbacks(work)
    (fw_many,) = trustee.forward_feedbacks(reported)
    gas["annuity.executeInstructions.20x8_buys"] = ex_many.gas_used
    gas["annuity.reportFeedbacks.20x8_items"] = reported[0].tx.gas_used
    gas["annuity.forwardFeedbacks.20x8_items"] = fw_many.gas_used

    # plan switch with reset: 8 held items moved to another 8-item plan, plus new money
    (batch,) = trustee.receive_contributions("bench payroll reset", {solo: 50_000})
    am.post_contributions(batch)
    choose = platform.choose_plan("bench-solo", "EIGHT_B", 1, reset=True)
    reset = ledger.resetHoldings(solo, {"from": am.institution.account})
    gas["annuity.choosePlan.reset_request"] = choose.gas_used
    gas["annuity.resetHoldings.8_items"] = reset.gas_used
    gas["annuity.planSwitch.reset.total"] = choose.gas_used + reset.gas_used
    (ins,) = instructions_in(reset)
    gas["annuity.confirmReset"] = trustee.confirm_reset(ins).gas_used
    gas["annuity.planSwitch.reset.total"] += gas["annuity.confirmReset"]
    gas["annuity.executeInstruction.reset_8_legs"] = im.execute(
        ins, [int(ledger.unitPrice(i)) for i in ins.items]
    ).gas_used
    return gas


def _members(proj: Any, accounts: Any) -> tuple[Any, Any, Any, Any, Any, Any]:
    """A fresh registry and annuity suite with its regulator and the four platforms admitted."""
    admin = accounts[0]
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash("bench manager"), code32("CN"), {"from": admin}
    )
    manager = PermissionManager("bench manager", admin, registry)
    regulator = Institution("bench regulator", accounts[1], registry)
    manager.admit(regulator, ["REGULATOR"], None)
    suite = deploy(proj, registry, admin)
    ledger, plans = suite["AnnuityLedger"], suite["AnnuityPlans"]

    def inst(i: int, role: str) -> Institution:
        member = Institution(f"bench {role.lower()}", accounts[i], registry)
        manager.admit(member, [role], regulator.address)
        return member

    platform = AnnuityServicePlatform(inst(3, "ANNUITY_PLATFORM"), ledger, plans)
    trustee = TrusteePlatform(inst(4, "TRUSTEE"), ledger, plans)
    am = AccountManagerPlatform(inst(5, "ACCOUNT_MANAGER"), ledger)
    im = InvestmentManagerPlatform(inst(6, "INVESTMENT_MANAGER"), ledger)
    return ledger, plans, platform, trustee, am, im


def _contributions(
    platform: Any, trustee: Any, am: Any, ledger: Any, solo: bytes, employees: list[str], gas: dict
) -> None:
    """Contributions received and posted (a first, record-creating posting and a later one), for
    one account and for a batch of 100."""
    for label, contributions in (
        ("single", {solo: 100_000}),
        ("batch_100", {platform.account_id(e): 80_000 + k for k, e in enumerate(employees)}),
    ):
        (batch,) = trustee.receive_contributions(f"bench payroll {label}", contributions)
        rx = ledger.receiveContributions(
            doc_hash(f"again {label}"),
            list(batch.accounts),
            list(batch.amounts),
            {"from": trustee.institution.account},
        )
        # measure a first (record-creating) posting and a later one
        tx_first = am.post_contributions(batch)
        again = ContributionBatch(
            int(rx.events["ContributionBatchReceived"]["batchId"]),
            doc_hash(f"again {label}"),
            batch.accounts,
            batch.amounts,
        )
        tx_later = am.post_contributions(again)
        gas[f"annuity.contribution.{label}.receive"] = rx.gas_used
        gas[f"annuity.contribution.{label}.post_first"] = tx_first.gas_used
        gas[f"annuity.contribution.{label}.post_later"] = tx_later.gas_used
        gas[f"annuity.contribution.{label}.total_first"] = rx.gas_used + tx_first.gas_used
