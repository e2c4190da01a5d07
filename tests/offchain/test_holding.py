"""domain.holding: every tier conserves, the twin refuses what the contract refuses."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain.clearing import BUY, SELL, Trade, trade_id
from consortium.domain.holding import (
    ChainConfig,
    Holder,
    HoldingError,
    InvestorSet,
    Tiers,
    investor_leaves,
    legs_per_tier,
    plan,
    steps_of,
    verify_investor,
)
from consortium.domain.netting import Leg, positions

P1, P2 = "0x" + "1" * 40, "0x" + "2" * 40
CUST, LOCAL = "0x" + "3" * 40, "0x" + "4" * 40
HKD = b"HKD".ljust(32, b"\0")


def chain() -> ChainConfig:
    c = ChainConfig(
        holders={P1: Holder(1), P2: Holder(1), CUST: Holder(2), LOCAL: Holder(3)},
    )
    c.clients = {(P1, CUST), (P1, LOCAL), (P2, CUST), (P2, LOCAL), (CUST, LOCAL)}
    return c


def legs_of(trades) -> list[Leg]:
    """The CCP's net legs of `trades` (the sum of the participants' positions, zeros dropped)."""
    return sorted(
        (Leg(p, k, a, v) for (p, k, a), v in positions(trades).items() if v),
        key=lambda g: g.sort_key,
    )


trade_st = st.tuples(
    st.integers(1, 3),  # security
    st.sampled_from([BUY, SELL]),
    st.integers(1, 50),  # quantity
    st.integers(1, 1000),  # price
    st.integers(0, 5),  # owner
    st.sampled_from([P1, P2]),
    st.sampled_from([None, CUST]),
    st.sampled_from([None, LOCAL]),
)


def make(rows) -> list[Trade]:
    out = []
    for n, (sec, side, q, price, owner, part, cust, local) in enumerate(rows, start=1):
        out.append(
            Trade(
                trade_id(n),
                sec,
                HKD,
                side,
                q,
                price,
                20261206,
                bytes([owner + 1]) * 32,
                local,
                part,
                cust,
                None,
            )
        )
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(trade_st, min_size=1, max_size=30))
def test_plan__every_tier_conserves_and_investors_hold_every_leg(rows):
    trades = make(rows)
    legs = legs_of(trades)
    c = chain()
    steps = plan(legs, trades, c)
    twin = Tiers(c)
    twin.open(legs)
    for s in steps:
        twin.allocate(s.party, s.kind, s.asset, s.clients, s.investors)
        # each step passes down exactly what it received
        assert sum(v for _, v in s.clients) + s.investors.total == s.received
    assert twin.open_steps == 0
    assert all(v == 0 for v in twin.pending.values())
    # nothing created or lost: investors hold, per participant subtree, exactly its legs
    per_asset: dict = {}
    for s in steps:
        per_asset[(s.kind, s.asset)] = per_asset.get((s.kind, s.asset), 0) + s.investors.total
    for (kind, asset), total in per_asset.items():
        assert total == sum(g.amount for g in legs if (g.kind, g.asset) == (kind, asset))
    # each investor's leaves are its trades' signed amounts
    leaves = investor_leaves(trades, c)
    for s in steps:
        for commitment, asset, amount in s.investors.leaves:
            assert (commitment, asset, amount) in leaves[s.party]
            assert verify_investor(
                s.investors.root, commitment, asset, amount, s.investors.proof(commitment, amount)
            )
    counts = legs_per_tier(steps, legs)
    assert counts[0] == len(legs)
    # each intermediary plans its own steps from its own book alone, as the whole plan has them
    for party in c.holders:
        assert steps_of(party, trades, c) == [s for s in steps if s.party == party]


def _opened():
    trades = make([(1, BUY, 10, 100, 0, P1, CUST, LOCAL), (1, SELL, 10, 100, 1, P2, None, None)])
    legs = legs_of(trades)
    twin = Tiers(chain())
    twin.open(legs)
    return twin, plan(legs, trades, chain()), legs


def test_twin__refusals_named_as_the_contract_names_them():
    twin, steps, legs = _opened()
    top = next(s for s in steps if s.party == P1 and s.kind == 0)
    with pytest.raises(HoldingError) as e:
        twin.allocate(P1, 0, 1, ((CUST, 9),))
    assert (e.value.name, e.value.values[-2:]) == ("HoldingNotConserved", (10, 9))
    with pytest.raises(HoldingError, match="HoldingNotClient"):
        twin.allocate(P1, 0, 1, ((P2, 10),))
    with pytest.raises(HoldingError, match="HoldingOutOfSequence"):
        twin.allocate(CUST, 0, 1, ((LOCAL, 10),))
    with pytest.raises(HoldingError, match="HoldingZeroAllocation"):
        twin.allocate(P1, 0, 1, ((CUST, 10), (LOCAL, 0)))
    with pytest.raises(HoldingError, match="HoldingDuplicateClient"):
        twin.allocate(P1, 0, 1, ((CUST, 5), (CUST, 5)))
    with pytest.raises(HoldingError, match="HoldingNotIntermediary"):
        twin.allocate("0x" + "9" * 40, 0, 1)
    with pytest.raises(HoldingError, match="HoldingNothingPending"):
        twin.allocate(P1, 0, 77)
    with pytest.raises(HoldingError, match="HoldingTiersAlreadyOpen"):
        twin.open(legs)
    twin.allocate(top.party, top.kind, top.asset, top.clients, top.investors)
    with pytest.raises(HoldingError, match="HoldingStepAlreadyDone"):
        twin.allocate(top.party, top.kind, top.asset, top.clients, top.investors)
    c = chain()
    c.holders[P1] = Holder(1, investors=False)
    other = Tiers(c)
    other.open(legs)
    with pytest.raises(HoldingError, match="HoldingNotClient"):
        other.allocate(P1, 0, 1, (), InvestorSet(((b"\1" * 32, 1, 10),)))


def test_plan__a_participant_whose_clients_net_to_zero_still_passes_down():
    # P1's custodian client buys 10, its local broker client sells 10: P1 has no leg in security 1
    trades = make(
        [
            (1, BUY, 10, 100, 0, P1, CUST, None),
            (1, SELL, 10, 100, 1, P1, None, LOCAL),
            (1, SELL, 10, 100, 2, P2, None, None),
            (1, BUY, 10, 100, 3, P2, None, None),
        ]
    )
    legs = legs_of(trades)
    assert not [g for g in legs if g.kind == 0]
    steps = plan(legs, trades, chain())
    twin = Tiers(chain())
    twin.open(legs)
    for s in steps:
        twin.allocate(s.party, s.kind, s.asset, s.clients, s.investors)
    zero = next(s for s in steps if s.party == P1 and s.kind == 0)
    assert zero.received == 0 and sorted(v for _, v in zero.clients) == [-10, 10]
    assert twin.open_steps == 0


def test_plan__leg_not_the_trades_sum__refused():
    trades = make([(1, BUY, 10, 100, 0, P1, None, None), (1, SELL, 10, 100, 1, P2, None, None)])
    legs = legs_of(trades)
    legs[0] = Leg(legs[0].participant, legs[0].kind, legs[0].asset, legs[0].amount + 1)
    with pytest.raises(ValueError, match="plan from the cycle's netted trades"):
        plan(legs, trades, chain())
