"""Re-entry through the ERC-1155 receiver hook of SecurityToken during DvP settlement.

`settle` marks the cycle Settled before moving anything; the security legs go through
SecurityToken.agentTransfer, whose `_safeTransferFrom` calls a contract receiver back. A participant
that is a contract (holding CSD too, so the role check passes) re-entering `settle` from that hook is
refused with SettlementAlreadySettled and every balance ends exactly as the legs say; cash legs are
ERC-20 deposit tokens, which have no hook.
"""

import pytest

from consortium.domain.hashing import code32
from consortium.domain.netting import CASH, SECURITY, Leg, apply_legs, currency_asset, trade_set
from consortium.scenarios import settlement as day
from tests.fixtures.hostile import arm, decode_error, via

CID = code32("HOSTILE-REENTRY")
SID, QTY, PRICE = 1, 1_000, 38_000_000  # HK.0700, cash in HKD minor units
ZERO32 = b"\0" * 32


@pytest.fixture(scope="module")
def attacker(make_attacker, regulator_hk, settle_cast):
    return make_attacker(["BROKER", "CSD"], regulator_hk)


@pytest.fixture(scope="module")
def netted(engine, settle_cast, attacker):
    """A cycle netted to two legs per asset: the attacker buys QTY of SID from participant 0."""
    seller = settle_cast.participants[0]
    hkd = currency_asset(code32("HKD"))
    legs = sorted(
        [
            Leg(attacker.address, SECURITY, SID, QTY),
            Leg(seller.address, SECURITY, SID, -QTY),
            Leg(attacker.address, CASH, hkd, -PRICE),
            Leg(seller.address, CASH, hkd, PRICE),
        ],
        key=lambda x: x.sort_key,
    )

    def _netted():
        ccp = settle_cast.ccp
        ccp.open_cycle(CID, day.TRADE_DATE)
        # no trades uploaded: both sides' buckets are empty, so both reconcile as matched
        via(attacker, engine, "reconcile", CID, ccp.address)
        seller.reconcile(CID, ccp.address)
        settle_cast.csd.issue(seller.address, SID, QTY, "hostile: the seller's custody deposit")
        settle_cast.cash.issue(
            attacker.address, "HKD", PRICE, "hostile: the attacker's settlement cash"
        )
        ccp.close_uploads(CID)
        for who in (attacker.address, seller.address):  # each instructs its own legs
            mine = [(x.kind, x.asset, x.amount, 0, 0) for x in legs if x.participant == who]
            if who == seller.address:
                engine.submitInstruction(CID, mine, seller._tx())
            else:
                via(attacker, engine, "submitInstruction", CID, mine)
        empty = trade_set([])  # no trades uploaded: no uploader, count and hash zero
        engine.submitNetting(
            CID, 0, empty.hash, [x.as_tuple() for x in legs], {"from": ccp.account}
        )
        return legs

    return _netted


def test_settle__participant_hook_reenters_settle__refused_balances_exact(
    engine, settle_cast, attacker, netted
):
    legs = netted()
    holders = [attacker.address, settle_cast.participants[0].address, settle_cast.ccp.address]
    before = day.balances(settle_cast, holders)
    arm(attacker, engine, "settle", CID, [x.as_tuple() for x in legs])
    tx = settle_cast.csd.settle(CID, legs)
    name, args = decode_error(attacker.lastResult(), engine)
    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    assert (name, args) == ("SettlementAlreadySettled", (CID, tx.block_number))
    assert attacker.received() == 1  # one security receipt; the cash legs are ERC-20, no hook
    assert day.balances(settle_cast, holders) == apply_legs(before, legs, settle_cast.ccp.address)
    assert len(tx.events["CycleSettled"]) == 1 and engine.getCycle(CID)["status"] == 3


def test_settle__participant_hook_reinstructs__refused_cycle_closed(
    engine, settle_cast, attacker, netted
):
    """No instruction changes while the cycle settles (its charges are paid from the stored ones)."""
    legs = netted()
    arm(attacker, engine, "submitInstruction", CID, [(SECURITY, SID, 1, 0, 0)])
    settle_cast.csd.settle(CID, legs)
    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    assert decode_error(attacker.lastResult(), engine) == ("SettlementCycleNotOpen", (CID, 3))


def test_settle__participant_hook_uploads_trades__refused_cycle_closed(
    engine, settle_cast, attacker, netted
):
    """No trade can slip into a cycle while it settles: it is Settled before the first move."""
    legs = netted()
    arm(attacker, engine, "uploadTrades", CID, [])
    settle_cast.csd.settle(CID, legs)
    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    assert decode_error(attacker.lastResult(), engine) == ("SettlementCycleNotOpen", (CID, 3))
    assert engine.clearingHash(CID, attacker.address) == "0x" + "00" * 32
