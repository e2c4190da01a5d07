"""Netting properties in Python: conservation per asset, gross positions reproduced, CCP flat."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.domain.clearing import BUY, SELL, Trade, trade_id
from consortium.domain.netting import CASH, NettingImbalance, apply_legs, net, positions

PARTS = ["0x" + f"{i:02x}" * 20 for i in range(1, 7)]
CCY = [b"CNY".ljust(32, b"\0"), b"HKD".ljust(32, b"\0")]


def _trades(spec):
    out = []
    for k, (b, s, sid, qty, price) in enumerate(spec):
        if b == s:
            s = (s + 1) % len(PARTS)
        ccy = CCY[sid % 2]
        for n, side, who in ((2 * k + 1, BUY, b), (2 * k + 2, SELL, s)):
            out.append(
                Trade(
                    trade_id(n), sid, ccy, side, qty, price, 1, b"\x01" * 32, participant=PARTS[who]
                )
            )
    return out


# (buyer, seller, security, quantity, price) draws; chain-free, so hypothesis's own given (brownie's
# reverts the test chain before every example)
U8, U32 = st.integers(0, 2**8 - 1), st.integers(0, 2**32 - 1)
EXECS = st.lists(st.tuples(U8, U8, U8, U32, U32), min_size=1, max_size=40)


@settings(max_examples=50, deadline=None)
@given(spec=EXECS)
def test_net__conserves_and_reproduces_positions(spec):
    spec = [(b % 6, s % 6, sid % 4 + 1, q + 1, p + 1) for b, s, sid, q, p in spec]
    trades = _trades(spec)
    result = net(trades)
    sums = {}
    for leg in result.legs:
        sums[(leg.kind, leg.asset)] = sums.get((leg.kind, leg.asset), 0) + leg.amount
        assert leg.amount != 0
    assert all(v == 0 for v in sums.values())
    assert {(x.participant, x.kind, x.asset): x.amount for x in result.legs} == {
        k: v for k, v in positions(trades).items() if v
    }
    keys = [x.sort_key for x in result.legs]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert result.net_count <= 6 * (4 + 2)
    # DvP through a CCP holding nothing: everyone funded with its gross needs ends exact, CCP flat
    funded = {}
    for t in trades:
        if t.side == SELL:
            key = (t.participant, 0, t.security_id)
            funded[key] = funded.get(key, 0) + t.quantity
        else:
            key = (t.participant, CASH, int.from_bytes(t.currency, "big"))
            funded[key] = funded.get(key, 0) + t.gross
    after = apply_legs(funded, result.legs, "0xcc")
    assert all(v == 0 for (who, _, _), v in after.items() if who == "0xcc")


def test_net__one_sided_trade__refused_with_reason():
    trades = _trades([(0, 1, 1, 10, 10)])[:1]
    with pytest.raises(NettingImbalance, match="upload both sides"):
        net(trades)


def test_efficiency__netting_reduces_obligations():
    trades = _trades([(0, 1, 1, 10, 10), (1, 0, 1, 10, 10), (0, 1, 1, 5, 10)])
    result = net(trades)
    assert result.gross_count == 12 and result.net_count == 4
    assert result.efficiency()["count"] == pytest.approx(1 - 4 / 12)


@settings(max_examples=50, deadline=None)
@given(spec=EXECS, who=U8)
def test_deferrals__whole_executions__remaining_trades_still_net_to_zero(spec, who):
    """Deferring a defaulter's trades with the other side of each execution leaves a set that nets
    (the engine still checks every asset at zero); the defaulter is on no remaining leg, and the
    trade set counts exactly the remaining trades, every uploader's (on a leg or not)."""
    from consortium.domain.netting import deferrals, trade_set

    spec = [(b % 6, s % 6, sid % 4 + 1, q + 1, p + 1) for b, s, sid, q, p in spec]
    trades = _trades(spec)
    defaulter = PARTS[who % 6]
    deferred = deferrals(trades, [defaulter])
    assert {t for t in trades if t.participant == defaulter} <= set(deferred)
    assert [t.trade_id for t in deferred] == sorted(t.trade_id for t in deferred)
    result = net(trades, deferred)  # raises NettingImbalance if the deferred set did not balance
    assert defaulter not in {leg.participant for leg in result.legs}
    left = [t for t in trades if t not in deferred]
    assert result.trade_set.count == len(left)
    assert result.trade_set == trade_set(trades, deferred)
    # the hash does not depend on the order in which the participants first uploaded
    assert trade_set(trades[::-1], deferred).hash == result.trade_set.hash
