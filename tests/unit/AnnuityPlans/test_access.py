"""AnnuityPlans access, the allowed side: the TRUSTEE defines plans and appoints their investment
manager. Refusals by caller live in tests/access/matrix.py."""

from consortium.domain.hashing import code32

ARGS = (code32("P"), [code32("A")], [10_000])


def test_definePlan__trustee__allowed(plans, trustee):
    plans.definePlan(*ARGS, {"from": trustee.institution.account})
    assert plans.latestVersion(ARGS[0]) == 1


def test_appointInvestmentManager__plan_trustee__allowed(plans, trustee, investment_manager):
    plans.definePlan(*ARGS, {"from": trustee.institution.account})
    manager = investment_manager.institution.account
    plans.appointInvestmentManager(ARGS[0], manager, {"from": trustee.institution.account})
    assert plans.investmentManagerOf(ARGS[0]) == manager
