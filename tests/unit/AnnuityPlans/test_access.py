"""Permission table for AnnuityPlans: only an active TRUSTEE defines plans."""

import brownie
import pytest

from consortium.domain.hashing import code32

ARGS = (code32("P"), [code32("A")], [10_000])

CALLERS = {
    "platform": r"RegistryMissingRole:.*",
    "account_manager": r"RegistryMissingRole:.*",
    "investment_manager": r"RegistryMissingRole:.*",
    "regulator": r"RegistryMissingRole:.*",
    "suspended": r"RegistryNotActiveMember:.*",
    "stranger": r"RegistryNotActiveMember:.*",
}


@pytest.fixture(scope="module")
def callers(
    platform, account_manager, investment_manager, regulator_cn, suspended_annuity_member, stranger
):
    return {
        "platform": platform.institution.account,
        "account_manager": account_manager.institution.account,
        "investment_manager": investment_manager.institution.account,
        "regulator": regulator_cn.account,
        "suspended": suspended_annuity_member.account,
        "stranger": stranger,
    }


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_definePlan__wrong_caller__reverts(plans, callers, caller):
    with brownie.reverts(revert_pattern=CALLERS[caller]):
        plans.definePlan(*ARGS, {"from": callers[caller]})
    assert plans.latestVersion(ARGS[0]) == 0


def test_definePlan__trustee__allowed(plans, trustee):
    plans.definePlan(*ARGS, {"from": trustee.institution.account})
    assert plans.latestVersion(ARGS[0]) == 1


def test_table__covers_every_state_changing_function(plans):
    changing = {
        x["name"]
        for x in plans.abi
        if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")
    }
    assert changing == {"definePlan", "appointInvestmentManager"}


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_appointInvestmentManager__wrong_caller__reverts(plans, trustee, callers, caller):
    plans.definePlan(*ARGS, {"from": trustee.institution.account})
    with brownie.reverts(revert_pattern=CALLERS[caller]):
        plans.appointInvestmentManager(
            ARGS[0], callers["investment_manager"], {"from": callers[caller]}
        )
    assert plans.investmentManagerOf(ARGS[0]) == "0x" + "00" * 20
