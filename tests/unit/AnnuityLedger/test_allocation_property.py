"""Chain against the Python oracle on random contributions, ratio vectors and prices.

First allocation: legs equal the largest-remainder split, sum exactly, never negative.
Reset: legs equal the oracle's rebalance of on-chain values, sum to the new money, the sell-out mask
equals the oracle's `sold_out`, and executing at the on-chain prices leaves every item within one
minor unit of its target, and no unit of an item whose target is zero.
"""

import itertools

from brownie.test import given, strategy
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from consortium.domain.allocation import (
    INITIAL_UNIT_PRICE,
    MAX_UNIT_PRICE,
    rebalance,
    sold_out,
    split,
    value_of,
)
from consortium.domain.hashing import code32, doc_hash
from consortium.roles.annuity import ContributionBatch, instructions_in
from tests.fixtures.annuity import ratio_vectors

CHOICE = b"\xc4" * 32  # a plan choice's evidence hash (the platform keeps the evidence)

POOL = [code32(f"ITEM{i:02}") for i in range(12)]
_serial = itertools.count()


def _open_and_fund(ledger, platform, account_manager, trustee, amounts):
    ids = [doc_hash(f"employee {next(_serial)}") for _ in amounts]
    ledger.requestAccounts(platform.employer, ids, {"from": platform.institution.account})
    account_manager.open_accounts(ids)
    _fund(ledger, trustee, account_manager, ids, amounts)
    return ids


def _fund(ledger, trustee, account_manager, ids, amounts):
    ref = doc_hash(f"payroll {next(_serial)}")  # a payroll reference is used once
    tx = ledger.receiveContributions(ref, ids, amounts, {"from": trustee.institution.account})
    batch = ContributionBatch(
        tx.events["ContributionBatchReceived"]["batchId"], ref, tuple(ids), tuple(amounts)
    )
    account_manager.post_contributions(batch)


def _define(trustee, code, items, ratios, investment_manager):
    trustee.plans.definePlan(code32(code), items, ratios, {"from": trustee.institution.account})
    trustee.appoint_investment_manager(code, investment_manager.address)
    return trustee.latest_version(code)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.data_too_large,
        HealthCheck.too_slow,
    ],  # clean-clone CI hit it
)
@given(
    amounts=strategy("uint256[]", min_value=1, max_value=10**15, min_length=1, max_length=4),
    ratios=ratio_vectors(16),
)
def test_first_allocation__random__legs_match_oracle_and_sum_exactly(
    ledger,
    platform,
    trustee,
    account_manager,
    investment_manager,
    annuity_world,
    unique_txs,
    amounts,
    ratios,
):
    unique_txs()
    items = [code32(f"R{i}") for i in range(len(ratios))]
    version = _define(trustee, "RANDOM", items, ratios, investment_manager)
    ids = _open_and_fund(ledger, platform, account_manager, trustee, amounts)
    for a, amount in zip(ids, amounts):
        tx = ledger.choosePlan(
            a, code32("RANDOM"), version, False, CHOICE, {"from": platform.institution.account}
        )
        (ins,) = instructions_in(tx)
        assert list(ins.legs) == split(amount, ratios)
        assert sum(ins.legs) == amount == ins.amount
        assert min(ins.legs) >= 0


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow],
)
@given(
    first=strategy("uint256", min_value=1, max_value=10**13),
    extra=strategy("uint256", min_value=0, max_value=10**13),
    ratios_a=ratio_vectors(8),
    ratios_b=ratio_vectors(8),
    picks=st.permutations(range(12)),
    prices=st.lists(st.integers(1, MAX_UNIT_PRICE), min_size=12, max_size=12),
)
def test_reset__random__holdings_reach_target_within_one_minor_unit(
    ledger,
    platform,
    trustee,
    account_manager,
    investment_manager,
    annuity_world,
    unique_txs,
    first,
    extra,
    ratios_a,
    ratios_b,
    picks,
    prices,
):
    unique_txs()
    items_a = [POOL[i] for i in picks[: len(ratios_a)]]
    items_b = [POOL[i] for i in picks[4 : 4 + len(ratios_b)]]  # overlaps plan A by up to 4 items
    va = _define(trustee, "PLAN_A", items_a, ratios_a, investment_manager)
    vb = _define(trustee, "PLAN_B", items_b, ratios_b, investment_manager)
    (a,) = _open_and_fund(ledger, platform, account_manager, trustee, [first])
    pf = platform.institution.account
    (ins,) = instructions_in(
        ledger.choosePlan(a, code32("PLAN_A"), va, False, CHOICE, {"from": pf})
    )
    investment_manager.execute(ins, [INITIAL_UNIT_PRICE] * len(ins.items))
    price = dict(zip(POOL, prices))
    fb = investment_manager.report_feedback(ins, [price[i] for i in ins.items])
    trustee.forward_feedback(fb)
    if extra:
        _fund(ledger, trustee, account_manager, [a], [extra])
    ledger.choosePlan(a, code32("PLAN_B"), vb, True, CHOICE, {"from": pf})
    if ledger.valuation(a)[0] + extra == 0:
        return  # holdings floored to nothing, no new money: refused (test_resetHoldings covers it)
    held = {bytes(i) for i in ledger.holdingsOf(a)[0]}  # plan A items whose buy got any units
    ins = account_manager.reset_holdings(a)
    trustee.confirm_reset(ins)
    onchain = [ledger.unitPrice(i) for i in ins.items]
    current = [value_of(ledger.unitsOf(a, i), p) for i, p in zip(ins.items, onchain)]
    ratios = [dict(zip(items_b, ratios_b)).get(i, 0) for i in ins.items]
    assert list(ins.items[: len(items_b)]) == items_b
    assert set(ins.items) == set(items_b) | held
    assert list(ins.legs) == rebalance(current, extra, ratios)
    assert ins.sell_out == sold_out(current, extra, ratios)
    assert sum(ins.legs) == extra
    investment_manager.execute(ins, onchain)
    target = split(sum(current) + extra, ratios)
    for item, p, t in zip(ins.items, onchain, target):
        assert t - 1 <= value_of(ledger.unitsOf(a, item), p) <= t
        assert t > 0 or ledger.unitsOf(a, item) == 0
