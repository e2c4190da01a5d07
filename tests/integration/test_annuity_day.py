"""The annuity line's business day, run from the fixtures' institutions like the demo runs it."""

import random

from consortium.deploy import Suite
from consortium.scenarios import DayContext, Members
from consortium.scenarios.annuity import run_day


def test_annuity_day__quick_size__every_check_holds(
    registry, manager, annuity, platform, trustee, account_manager, investment_manager
):
    members = Members(
        by_name={
            "platform": platform.institution,
            "trustee": trustee.institution,
            "account manager": account_manager.institution,
            "investment manager": investment_manager.institution,
        },
        roles={
            "platform": ["ANNUITY_PLATFORM"],
            "trustee": ["TRUSTEE"],
            "account manager": ["ACCOUNT_MANAGER"],
            "investment manager": ["INVESTMENT_MANAGER"],
        },
    )
    ctx = DayContext(
        suite=Suite(registry=registry, contracts=dict(annuity)),
        members=members,
        manager=manager,
        rng=random.Random(7),
        size={"annuity_employees": 10, "annuity_resets": 3},
    )
    result = run_day(ctx)
    assert result.ok, result.checks
    assert result.counts["employees"] == 10
    assert result.counts["instructions"] == 20  # 10 first + 3 resets + 7 month-two allocations
    assert result.counts["resets_confirmed_by_trustee"] == 3
    assert result.checks["every reset confirmed by the trustee before it was executed"]
    assert (
        result.metrics["assets_minor_units"] - result.metrics["contributed_minor_units"]
        == result.metrics["return_minor_units"]
    )
    # the 20 instructions' three steps (execute, report, forward) go in batched calls: the whole
    # day (enrolment, payrolls, choices, resets) takes fewer transactions than one per step did
    assert 0 < result.transactions < 3 * 20 and result.gas > 0
