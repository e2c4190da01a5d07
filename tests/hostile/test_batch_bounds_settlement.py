"""Oversized batches, settlement line: trades, second clearing, net legs, DvP and charge lines.

At the bound: 320 trades of one beneficial owner (the cheapest valid batch; the worst case, a
distinct owner per trade and so a fresh owner bucket each, is checked under the EIP-7825 cap by
`test_uploadTrades__distinct_owners_at_the_bound__fit_the_cap`), 50 second-clearing entries
(MAX_SECOND_CLEARING_ENTRIES) of one currency line each (so MAX_SECOND_CLEARING_LINES) spread
over every first party, 400 net legs over 50
securities × 8 first parties (each party instructing its 50), and their DvP (every receipt a fresh
balance slot); an instruction of 100 lines (MAX_INSTRUCTION_LINES). settle has no size
check of its own: its legs must be the netted ones, so a longer list is refused by hash.
"""

from types import SimpleNamespace

import pytest

from consortium.domain.clearing import BUY, Charge, ChargeKind, Payer, Trade
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.netting import SECURITY, Leg, trade_set
from consortium.roles.settlement import MAX_UPLOAD_BATCH
from consortium.scenarios import settlement as day
from tests.fixtures.hostile import TX_GAS_CAP, Bound, bound_tests

UP, NET, SET = code32("BOUND-UPLOAD"), code32("BOUND-NET"), code32("BOUND-SETTLE")
INSTR = code32("BOUND-INSTRUCT")
EXTRA = [100 + i for i in range(46)]  # listed here; with the scenario's 4 securities: 50
MORE = [200 + i for i in range(51)]  # listed too: 101 securities for an instruction's lines


def _legs(parties, sids):
    """Per security: the lowest address delivers len - 1 units, every other party receives one."""
    legs = []
    for sid in sids:
        ordered = sorted(parties, key=lambda a: int(a, 16))
        legs.append(Leg(ordered[0], SECURITY, sid, -(len(ordered) - 1)))
        legs += [Leg(a, SECURITY, sid, 1) for a in ordered[1:]]
    return [x.as_tuple() for x in sorted(legs, key=lambda x: x.sort_key)]


@pytest.fixture(scope="module")
def world(engine, security_token, settle_cast):
    """An open upload cycle; a reconciled cycle to net; a netted one to settle, its seller funded."""
    ccp, csd = settle_cast.ccp, settle_cast.csd
    parties = [p.address for p in settle_cast.first_parties()]
    for sid in EXTRA + MORE:
        csd.list_security(sid, f"HOSTILE.{sid}")
    sids = sorted(day.SECURITIES) + EXTRA
    legs = _legs(parties, sids)
    for cycle in (UP, NET, SET, INSTR):
        ccp.open_cycle(cycle, day.TRADE_DATE)
    for cycle in (NET, SET, INSTR):  # nothing uploaded: every party's buckets match the CCP's
        for p in settle_cast.first_parties():
            p.reconcile(cycle, ccp.address)
    seller = min(parties, key=lambda a: int(a, 16))
    for sid in sids:
        csd.issue(seller, sid, len(parties) - 1, f"hostile: custody deposit {sid}")
    for cycle in (NET, SET, INSTR):
        ccp.close_uploads(cycle)
    for cycle in (NET, SET):  # each party instructs its legs (50 lines: under the bound)
        for p in settle_cast.first_parties():
            mine = [(k, a, x, 0, 0) for q, k, a, x in legs if q == p.address]
            engine.submitInstruction(cycle, mine, p._tx())
    empty = _empty_set(legs)
    engine.submitNetting(SET, 0, empty, legs, {"from": ccp.account})
    return SimpleNamespace(
        engine=engine,
        token=security_token,
        cast=settle_cast,
        broker=settle_cast.participants[0],
        parties=parties,
        sids=sids,
        legs=legs,
        seller=seller,
    )


def _empty_set(legs):
    """The trade-set hash of a cycle nobody uploaded own trades to (the legs play no part)."""
    return trade_set([]).hash


def _trades(w, n, owners=1):
    return [
        Trade(
            (i + 1).to_bytes(32, "big"),
            1,
            code32("HKD"),
            BUY,
            1,
            1,
            day.TRADE_DATE,
            doc_hash(f"owner {i % owners}"),
            participant=w.broker.address,
        ).as_tuple()
        for i in range(n)
    ]


def _entries(w, n):
    return [
        # a trade-set hash is a 192-bit bucket hash chain (TradeUpload)
        (
            w.parties[i % len(w.parties)],
            1,
            b"\x00" * 8 + doc_hash(f"set {i}")[8:],
            doc_hash("config"),
            [(code32("CNY"), (1, 100, 1, 0, 101, 0))],
        )
        for i in range(n)
    ]


def _lines(n):
    """n securities lines: the scenario's, EXTRA's and MORE's securities, one unit each."""
    sids = sorted(day.SECURITIES) + EXTRA + MORE
    return [(SECURITY, sid, 1, 0, 0) for sid in sids[:n]]


def _instructed(w, tx, n):
    assert tx.events["InstructionSubmitted"]["lines"] == n
    assert len(tx.events["InstructionLineSubmitted"]) == n


def _extra_leg(w, n):
    return w.legs + [w.legs[-1]] * (n - len(w.legs))


CHARGE = Charge(ChargeKind.FEE, Payer.BOTH, 3, 500).as_tuple()


def _uploaded(w, tx, n):
    ev = tx.events["TradesUploaded"]
    assert ev["count"] == n and w.engine.bucket(UP, w.broker.address, b"\0" * 32)["count"] == n


def _distributed(w, tx, n):
    assert len(tx.events["SecondClearingDistributed"]) == n


def _netted(w, tx, n):
    assert len(tx.events["SettlementInstructed"]) == n and w.engine.getCycle(NET)["legCount"] == n


def _settled(w, tx, n):
    assert tx.events["CycleSettled"]["legCount"] == n
    for sid in (w.sids[0], w.sids[-1]):
        assert w.token.balanceOf(w.seller, sid) == 0
        assert all(w.token.balanceOf(p, sid) == 1 for p in w.parties if p != w.seller)
        assert w.token.balanceOf(w.cast.ccp.address, sid) == 0


def _configured(w, tx, n):
    assert tx.events["ClearingConfigSet"]["charges"] == n
    assert len(w.engine.clearingConfig(w.broker.address, 1)) == n


def _holdings(w):
    holders = [w.seller, w.parties[-1], w.cast.ccp.address]
    return [w.token.balanceOf(h, s) for h in holders for s in w.sids[:3]] + [
        tuple(w.engine.getCycle(SET))
    ]


BOUNDS = {
    "uploadTrades": Bound(
        MAX_UPLOAD_BATCH,
        lambda w, n: (w.engine.uploadTrades, (UP, _trades(w, n)), w.broker.account),
        rf"SettlementBatchTooLarge: {MAX_UPLOAD_BATCH + 1}, {MAX_UPLOAD_BATCH}",
        lambda w: (w.engine.clearingHash(UP, w.broker.address), tuple(w.engine.getCycle(UP))),
        _uploaded,
    ),
    "submitSecondClearing": Bound(
        50,
        lambda w, n: (
            w.engine.submitSecondClearing,
            (UP, _entries(w, n), doc_hash(f"batch {n}")),
            w.cast.ccp.account,
        ),
        r"SettlementBatchTooLarge: 51, 50",
        lambda w: [
            tuple(w.engine.bucket(UP, w.cast.ccp.address, "0x" + p[2:].rjust(64, "0")))
            for p in w.parties
        ],
        _distributed,
    ),
    "submitNetting": Bound(
        400,
        lambda w, n: (
            w.engine.submitNetting,
            (NET, 0, _empty_set(_extra_leg(w, n)), _extra_leg(w, n)),
            w.cast.ccp.account,
        ),
        r"SettlementBatchTooLarge: 401, 400",
        lambda w: tuple(w.engine.getCycle(NET)),
        _netted,
    ),
    "settle": Bound(
        400,
        lambda w, n: (w.engine.settle, (SET, _extra_leg(w, n)), w.cast.csd.account),
        r"SettlementLegsMismatch: .*",
        _holdings,
        _settled,
        mine_refusal=False,
    ),
    "submitInstruction": Bound(
        100,
        lambda w, n: (w.engine.submitInstruction, (INSTR, _lines(n)), w.broker.account),
        r"SettlementBatchTooLarge: 101, 100",
        lambda w: w.cast.ccp.instructions(INSTR).get(w.broker.address),
        _instructed,
    ),
    "setClearingConfig": Bound(
        8,
        lambda w, n: (w.engine.setClearingConfig, (1, [CHARGE] * n), w.broker.account),
        r"SettlementTooManyCharges: 9, 8",
        lambda w: [tuple(c) for c in w.engine.clearingConfig(w.broker.address, 1)],
        _configured,
    ),
}


(
    test_batch__at_bound__accepted_under_gas_cap,
    test_batch__bound_plus_one__named_error_state_unchanged,
) = bound_tests(BOUNDS)


def test_uploadTrades__distinct_owners_at_the_bound__fit_the_cap(world):
    """The bound's worst case, executed under the cap (never mined): a distinct owner per trade.

    MAX_UPLOAD_BATCH (320) is bound by the transaction's size (about 123 KB, under the 128 KiB
    pools accept), not by gas: 320 such trades need 9,202,486 gas (eth_estimateGas, anvil), 55 %
    of the EIP-7825 cap. One eth_call (estimating takes ganache ~40 s).
    """
    upload, tx = world.engine.uploadTrades, {"from": world.broker.account, "gas_limit": TX_GAS_CAP}
    n = int(world.engine.MAX_UPLOAD_BATCH())
    upload.call(UP, _trades(world, n, owners=n), tx)
