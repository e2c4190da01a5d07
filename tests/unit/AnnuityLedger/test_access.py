"""Permission table for AnnuityLedger: every state-changing function from every wrong caller.

Roles only: who among the holders of the right role may act (the employer's platform, trustee and
account manager, the plan's investment manager) is tested in tests/hostile/test_review_annuity.py.
"""

import brownie
import pytest

from consortium.domain.hashing import code32, doc_hash

H = doc_hash("account")
ITEM = code32("CN_BOND")

# function -> (allowed role key, args)
ANY = "0x" + "11" * 20
TABLE = {
    "registerEmployer": ("platform", (doc_hash("employer"), ANY, ANY)),
    "requestAccounts": ("platform", (1, [H])),
    "openAccounts": ("account_manager", ([H],)),
    "receiveContributions": ("trustee", (doc_hash("payroll"), [H], [100])),
    "postContributions": ("account_manager", (1, [H], [100])),
    "choosePlan": ("platform", (H, code32("BALANCED"), 1, False)),
    "resetHoldings": ("account_manager", (H,)),
    "allocateCash": ("trustee", ([H],)),
    "executeInstruction": ("investment_manager", (1, [ITEM], [100], [10**12])),
    "reportFeedback": ("investment_manager", (1, [ITEM], [10**12], doc_hash("report"))),
    "forwardFeedback": ("trustee", (1, [ITEM], [10**12])),
}
ROLE_KEYS = ["platform", "trustee", "account_manager", "investment_manager", "regulator"]
CASES = [
    (fn, caller, r"RegistryMissingRole:.*")
    for fn, (allowed, _) in TABLE.items()
    for caller in ROLE_KEYS
    if caller != allowed
] + [
    (fn, caller, r"RegistryNotActiveMember:.*")
    for fn in TABLE
    for caller in ("suspended", "stranger")
]


@pytest.fixture(scope="module")
def callers(
    platform,
    trustee,
    account_manager,
    investment_manager,
    regulator_cn,
    suspended_annuity_member,
    stranger,
):
    return {
        "platform": platform.institution.account,
        "trustee": trustee.institution.account,
        "account_manager": account_manager.institution.account,
        "investment_manager": investment_manager.institution.account,
        "regulator": regulator_cn.account,
        "suspended": suspended_annuity_member.account,
        "stranger": stranger,
    }


@pytest.mark.parametrize("fn,caller,error", CASES)
def test_ledger__wrong_caller__reverts(ledger, callers, fn, caller, error):
    with brownie.reverts(revert_pattern=error):
        getattr(ledger, fn)(*TABLE[fn][1], {"from": callers[caller]})
    assert ledger.getAccount(H)["status"] == 0


def test_ledger__suspended_member_reinstated__allowed_again(
    ledger, manager, suspended_annuity_member, trustee, account_manager
):
    manager.reinstate(suspended_annuity_member.address, "reconciled")
    member = {"from": suspended_annuity_member.account}
    tx = ledger.registerEmployer(doc_hash("e2"), trustee.address, account_manager.address, member)
    employer = tx.events["EmployerRegistered"]["employerId"]
    ledger.requestAccounts(employer, [H], member)
    assert ledger.getAccount(H)["status"] == 1


def test_table__covers_every_state_changing_function(ledger):
    changing = {
        x["name"]
        for x in ledger.abi
        if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")
    }
    assert changing == set(TABLE)
