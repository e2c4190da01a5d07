"""Chain vs Python on random trade sets: first clearing data, netting accepted, DvP all-or-nothing."""

import random

import brownie
from brownie.test import given, strategy
from hypothesis import settings

from consortium.domain.clearing import first_clearing
from consortium.domain.hashing import code32, doc_hash
from consortium.scenarios import settlement as day


@settings(max_examples=12)
@given(
    seed=strategy("uint32"), n=strategy("uint8", min_value=1, max_value=12), short=strategy("bool")
)
def test_random_day__clearing_matches_python__settlement_exact_or_nothing(
    engine, settle_cast, prepare, holders, seed, n, short
):
    trades, _ = day.generate_trades(random.Random(seed), n, settle_cast)
    cid = code32(f"P-{seed}-{n}")
    result = prepare(cid, trades)
    for p in settle_cast.participants:
        want = first_clearing(p.address, trades, p.charges)
        assert engine.clearingHash(cid, p.address) == "0x" + want.clearing_hash.hex()
        for ccy, tot in want.totals.items():
            assert tuple(engine.firstClearing(cid, p.address, ccy)) == tot.as_tuple()
    settle_cast.ccp.instruct(cid, result)
    before = day.balances(settle_cast, holders)
    deliveries = [x for x in result.legs if x.amount < 0]
    if short and deliveries:
        leg = random.Random(seed).choice(deliveries)
        held = before[(leg.participant, leg.kind, leg.asset)]
        cut = held - abs(leg.amount) + 1  # leave one unit short of the delivery
        if leg.kind == 0:
            settle_cast.csd.security_token.redeem(
                leg.participant,
                leg.asset,
                cut,
                doc_hash(f"withdrawn {cid.hex()}"),
                {"from": settle_cast.csd.account},
            )
        else:
            ccy = leg.asset.to_bytes(32, "big").rstrip(b"\0").decode()
            settle_cast.cash.tokens[ccy].redeem(
                leg.participant,
                cut,
                doc_hash(f"cut {cid.hex()}"),
                {"from": settle_cast.cash.account},
            )
        before = day.balances(settle_cast, holders)
        with brownie.reverts(
            revert_pattern=r"(ERC1155InsufficientBalance|ERC20InsufficientBalance):.*"
        ):
            settle_cast.csd.settle(cid, result.legs)
        assert day.balances(settle_cast, holders) == before
        assert engine.getCycle(cid)["status"] == 2
    else:
        settle_cast.csd.settle(cid, result.legs)
        assert day.balances(settle_cast, holders) == day.after_settlement(
            settle_cast, before, result.legs, settle_cast.ccp.instructions(cid)
        )
