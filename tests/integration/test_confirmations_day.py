"""The confirmations line's business day, run from the fixtures' consortium through run_day."""

import random

import pytest

from consortium.scenarios import DayContext, Members
from consortium.scenarios.confirmations import run_day


@pytest.fixture(scope="module")
def day_context(line_suite, manager, admit, regulator_cn, accounts, tmp_path_factory):
    conf_cast = {
        "sales bank": (accounts[11], ["SALES_BANK"]),
        "sales bank 2": (accounts[18], ["SALES_BANK"]),  # a second bank on the first product
        "WM subsidiary A": (accounts[12], ["PRODUCT_ISSUER"]),
        "WM subsidiary B": (accounts[13], ["PRODUCT_ISSUER"]),
        "WM subsidiary C": (accounts[14], ["PRODUCT_ISSUER"]),
        "bank": (accounts[15], ["BANK"]),
        "finance company": (accounts[16], ["FINANCE_COMPANY"]),
        "reconciler": (accounts[17], ["RECONCILER"]),
        "cash issuer": (accounts[9], ["CASH_ISSUER"]),  # line_suite's deposit token names it
    }
    by_name = {
        n: admit(a, roles, regulator=regulator_cn, name=n) for n, (a, roles) in conf_cast.items()
    }
    members = Members(by_name=by_name, roles={n: r for n, (_, r) in conf_cast.items()})
    return DayContext(
        suite=line_suite,
        members=members,
        manager=manager,
        rng=random.Random(7),
        size={"orders": 30, "payments": 40, "customers": 5},
        workdir=tmp_path_factory.mktemp("confirmations-day"),
    )


def test_run_day__orders_confirmed_anchored_payments_reconciled(day_context):
    result = run_day(day_context)
    failed = [k for k, v in result.checks.items() if not v]
    assert not failed, (failed, result.metrics)
    assert (
        result.counts["packets"] >= 2
    )  # several issuers, one packet each (the check compares exactly)
    assert result.counts["breaks_found"] == result.counts["breaks_corrected"] == 6
    assert result.metrics["payment"] > 0
    for check in (
        "a redemption within the holding confirmed",
        "a subscription above the limit confirmed as refused, with its reason",
        "two banks hold their own terms for one product",
        "the second bank's order confirmed and anchored under its root",
        "bilateral record countersigned by the finance company",
    ):
        assert result.checks[check], check
    assert result.counts["redemptions_confirmed"] >= 1
    assert result.counts["refused_by_issuers"] >= 1
    assert result.counts["banks_on_one_product"] == 2
    assert result.counts["second_bank_confirmed"] == 1
    assert result.counts["countersigned_batches"] == 2  # 40 payments in batches of 20
    assert "AMOUNT_ABOVE_PRODUCT_MAXIMUM" in result.metrics["issuer_refusal_reasons"]
    assert result.transactions > 0 and result.gas > 0
