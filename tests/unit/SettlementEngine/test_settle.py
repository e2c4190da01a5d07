"""settle: DvP of the net legs through the CCP, all or nothing, final once."""

import dataclasses

import brownie

from consortium.domain.clearing import BUY, SELL, trade_id
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.netting import CASH, Leg
from consortium.scenarios import settlement as day

CID = code32("SETTLE-1")


def test_settle__every_balance_exact_and_final(engine, settle_cast, trades, prepare, holders):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    before = day.balances(settle_cast, holders)
    tx = settle_cast.csd.settle(CID, result.legs)
    after = day.balances(settle_cast, holders)
    assert after == day.after_settlement(
        settle_cast, before, result.legs, settle_cast.ccp.instructions(CID)
    )
    ev = tx.events["CycleSettled"]
    assert ev["settledBy"] == settle_cast.csd.address and ev["legCount"] == result.net_count
    cycle = engine.getCycle(CID)
    assert cycle["status"] == 3 and cycle["settledBlock"] == tx.block_number


def test_settle__twice__reverts(engine, settle_cast, trades, prepare, holders):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    settle_cast.csd.settle(CID, result.legs)
    before = day.balances(settle_cast, holders)
    with brownie.reverts(revert_pattern=r"SettlementAlreadySettled:.*"):
        settle_cast.csd.settle(CID, result.legs)
    assert day.balances(settle_cast, holders) == before


def test_settle__before_netting_or_reconciliation__reverts(
    engine, settle_cast, trades, prepare, holders
):
    result = prepare(CID, trades)
    before = day.balances(settle_cast, holders)
    with brownie.reverts(revert_pattern=r"SettlementCycleNotNetted:.*"):
        settle_cast.csd.settle(CID, result.legs)
    with brownie.reverts(revert_pattern=r"SettlementCycleNotNetted:.*"):
        settle_cast.csd.settle(code32("UNKNOWN"), result.legs)
    assert day.balances(settle_cast, holders) == before


def test_settle__legs_not_the_netted_ones__reverts(engine, settle_cast, trades, prepare, holders):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    other = [Leg(result.legs[0].participant, 0, 1, 1), Leg(result.legs[1].participant, 0, 1, -1)]
    with brownie.reverts(revert_pattern=r"SettlementLegsMismatch:.*"):
        settle_cast.csd.settle(CID, other)
    assert engine.getCycle(CID)["status"] == 2


def test_settle__one_participant_short__nothing_moves(
    engine, settle_cast, trades, prepare, holders
):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    short = next(x for x in result.legs if x.amount < 0 and x.kind == 0)
    held = settle_cast.csd.security_token.balanceOf(short.participant, short.asset)
    settle_cast.csd.security_token.redeem(
        short.participant,
        short.asset,
        held,
        doc_hash("withdrawn"),
        {"from": settle_cast.csd.account},
    )
    before = day.balances(settle_cast, holders)
    with brownie.reverts(revert_pattern=r"ERC1155InsufficientBalance:.*"):
        settle_cast.csd.settle(CID, result.legs)
    assert day.balances(settle_cast, holders) == before
    assert engine.getCycle(CID)["status"] == 2


def test_settle__engine_not_cash_agent__nothing_moves(
    engine, settle_cast, trades, prepare, holders, manager
):
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    for token in settle_cast.cash.tokens.values():
        manager.appoint_settlement_agent(token, engine, False)
    before = day.balances(settle_cast, holders)
    with brownie.reverts(revert_pattern=r"DepositNotSettlementAgent:.*"):
        settle_cast.csd.settle(CID, result.legs)
    assert day.balances(settle_cast, holders) == before


def test_settle__engine_no_longer_security_agent__nothing_moves(
    engine, settle_cast, trades, prepare, holders, manager
):
    """Revoking the engine as the security token's agent stops delivery-versus-payment at once."""
    result = prepare(CID, trades)
    settle_cast.ccp.instruct(CID, result)
    security = settle_cast.csd.security_token
    tx = manager.appoint_settlement_agent(security, engine, False)
    ev = tx.events["SecuritySettlementAgentSet"]
    assert (ev["agent"], ev["allowed"]) == (engine.address, False)
    assert not security.isSettlementAgent(engine)
    before = day.balances(settle_cast, holders)
    with brownie.reverts(f"SecurityNotSettlementAgent: {engine.address.lower()}"):
        settle_cast.csd.settle(CID, result.legs)
    assert day.balances(settle_cast, holders) == before
    assert engine.getCycle(CID)["status"] == 2


def _round_trip(trades):
    """The day's first execution and its reverse one price unit higher: each side's securities net
    to zero, its cash does not (the first buyer gains the quantity times one unit)."""
    buy, sell = trades[0], trades[1]
    assert (buy.side, sell.side) == (BUY, SELL) and buy.security_id == sell.security_id
    back = [
        dataclasses.replace(sell, trade_id=trade_id(3), side=BUY, price=sell.price + 1),
        dataclasses.replace(buy, trade_id=trade_id(4), side=SELL, price=buy.price + 1),
    ]
    return [buy, sell, *back]


def test_settle__cash_only_cycle__pays_the_difference_securities_untouched(
    engine, settle_cast, trades, prepare, holders
):
    result = prepare(CID, _round_trip(trades))
    assert result.legs and all(x.kind == CASH for x in result.legs)
    settle_cast.ccp.instruct(CID, result)
    before = day.balances(settle_cast, holders)
    settle_cast.csd.settle(CID, result.legs)
    after = day.balances(settle_cast, holders)
    assert after == day.after_settlement(
        settle_cast, before, result.legs, settle_cast.ccp.instructions(CID)
    )
    assert {k: v for k, v in after.items() if k[1] != CASH} == {
        k: v for k, v in before.items() if k[1] != CASH
    }
    assert engine.getCycle(CID)["status"] == 3


def test_settle__cash_only_cycle_token_replaced__refused_at_its_first_leg(
    engine, settle_cast, trades, prepare, holders, registry, registry_admin, DepositToken
):
    """The token check also covers a cycle whose very first leg is cash (no security legs)."""
    result = prepare(CID, _round_trip(trades))
    settle_cast.ccp.instruct(CID, result)
    currency = result.legs[0].asset.to_bytes(32, "big")
    real = engine.cashToken(currency)
    fake = DepositToken.deploy(
        registry, currency, settle_cast.cash.address, "fake", "fX", {"from": registry_admin}
    )
    engine.replaceCurrency(currency, fake, {"from": registry_admin})
    before = day.balances(settle_cast, holders)
    with brownie.reverts(
        f"SettlementCurrencyTokenChanged: {CID!r}, {currency!r}, {real.lower()}, "
        f"{fake.address.lower()}"
    ):
        settle_cast.csd.settle(CID, result.legs)
    assert day.balances(settle_cast, holders) == before
    assert engine.getCycle(CID)["status"] == 2
