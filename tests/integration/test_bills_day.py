"""One business day of the bill line on the test chain, built from the line's fixtures."""

import random

import pytest

from consortium.deploy import Suite
from consortium.domain.bills import FULL_CLIENT
from consortium.scenarios import DayContext, Members
from consortium.scenarios.bills import run_day


@pytest.fixture(scope="module")
def second_factor(admit, regulator_cn, accounts):
    """Another factor: the day's first financing is publicised with a quote window it quotes in."""
    return admit(accounts[14], ["ASSET_MANAGER"], regulator=regulator_cn, name="second factor")


@pytest.fixture(scope="module")
def day(
    registry,
    bill_suite,
    manager,
    core,
    tier1,
    tier2a,
    tier2b,
    auditor,
    factor,
    cash_issuer,
    second_factor,
):
    people = {
        "core": (core.inst, list(FULL_CLIENT)),
        "tier1": (tier1.inst, list(FULL_CLIENT)),
        "tier2a": (tier2a.inst, list(FULL_CLIENT)),
        "tier2b": (tier2b.inst, list(FULL_CLIENT)),
        "auditor": (auditor.inst, ["AUDITOR"]),
        "factor": (factor.inst, ["ASSET_MANAGER"]),
        "factor2": (second_factor, ["ASSET_MANAGER"]),
        "bank": (cash_issuer.inst, ["CASH_ISSUER"]),
    }
    members = Members(
        by_name={k: v[0] for k, v in people.items()}, roles={k: v[1] for k, v in people.items()}
    )
    return lambda size, seed=7: DayContext(
        suite=Suite(registry=registry, contracts=dict(bill_suite)),
        members=members,
        manager=manager,
        rng=random.Random(seed),
        size=size,
    )


def test_run_day__on_chain_cash__all_checks_hold(day):
    result = run_day(day({"bills": 2}))
    assert result.ok, result.checks
    assert set(result.checks) == {
        "balances exact",
        "lineage complete",
        "financing paid",
        "maturity paid right holders",
        "competing quotes: best signed, other released",
    }
    assert result.counts == {
        "bills": 2,
        "transfers": 4,
        "financings": 2,
        "redemptions": 2,
        "competing_quotes": 1,
    }
    assert result.metrics["on_chain_cash"] is True
    assert result.transactions > 20 and result.gas > 0
    assert result.metrics["redeemed"] == result.metrics["face_total"]


def test_run_day__no_redemption__bills_stay_outstanding(day):
    result = run_day(day({"bills": 1, "bill_redeem": 0}, seed=3))
    assert result.ok and "maturity paid right holders" not in result.checks
    assert result.metrics["redeemed"] == 0 and result.counts["redemptions"] == 0


def test_run_day__no_cash_token__off_chain_payments_declared_and_confirmed(
    day, BillToken, registry, registry_admin
):
    """Without a cash token the factor and the debtors declare their wires and every payee confirms
    receipt before the bill moves or burns (issue 17 item 10): the day's checks still hold."""
    bare = BillToken.deploy(registry, "0x" + "00" * 20, "", {"from": registry_admin})
    ctx = day({"bills": 1}, seed=5)
    ctx = DayContext(
        suite=Suite(registry=registry, contracts={"BillToken": bare}),
        members=ctx.members,
        manager=ctx.manager,
        rng=ctx.rng,
        size=ctx.size,
    )
    result = run_day(ctx)
    assert result.ok, result.checks
    assert result.metrics["on_chain_cash"] is False
    assert result.metrics["redeemed"] == result.metrics["face_total"]
