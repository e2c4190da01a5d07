"""The executions of record a CCP or CSD reads from a cycle's uploads: the venue's copy first, the
first upload otherwise, off-venue trades apart, every differing copy a break; calldata it cannot
read as a direct engine call is refused by name. No chain: hand-made uploads and a stub web3."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak

from consortium.domain.clearing import BUY, SELL, Trade, trade_id
from consortium.domain.netting import LEG_TYPE, Leg, legs_hash
from consortium.roles.executions import (
    CYCLE_NETTED,
    CYCLE_UNWOUND,
    DEFER_SELECTOR,
    NETTING_SELECTOR,
    TRADE_DEFERRED,
    TRADE_TUPLE,
    TRADES_UPLOADED,
    UPLOAD_SELECTOR,
    CallNotDecodable,
    Upload,
    UploadBreak,
    of_record,
    read_cycle,
    read_legs,
)

BUILD = Path(__file__).resolve().parents[2] / "build/contracts/SettlementEngine.json"
P1, P2, LOCAL, EXCH = (f"0x{k:040x}" for k in (0x11, 0x22, 0x33, 0x44))
ENGINE = "0x" + "ee" * 20
CID = b"\x01" * 32


def _trade(n: int, side: int, participant: str, exchange: str | None = EXCH, **kw) -> Trade:
    return Trade(
        trade_id(n), 1, b"HKD".ljust(32, b"\0"), side, 100, 38_000, 20261123, b"\x09" * 32,
        kw.get("local"), participant, None, exchange,
    )  # fmt: skip


def _up(party: str, block: int, *trades: Trade) -> Upload:
    return Upload(party, block, 0, f"0x{block:064x}", tuple(trades))


BUY1, SELL1 = _trade(1, BUY, P1, local=LOCAL), _trade(2, SELL, P2)
BAD = replace(BUY1, price=BUY1.price + 1)


def test_of_record__venue_copy_wins_over_an_earlier_tampered_one__break_reported():
    cycle = of_record([_up(LOCAL, 1, BAD), _up(P1, 2, BUY1), _up(EXCH, 3, BUY1, SELL1)])
    assert cycle.trades == [BUY1, SELL1]
    assert cycle.breaks == [UploadBreak(BUY1.trade_id, EXCH, BUY1, LOCAL, BAD)]
    assert cycle.uploaders() == [LOCAL, P1, EXCH] and cycle.off_venue == []


def test_of_record__exchange_tampered__its_copy_still_of_record_others_break():
    """The venue is the source: a tampered venue copy is of record, each differing copy a break."""
    cycle = of_record([_up(P1, 1, BUY1), _up(EXCH, 2, BAD, SELL1), _up(LOCAL, 3, BUY1)])
    assert cycle.by_id()[BUY1.trade_id] == BAD
    assert [(b.party, b.other, b.record_party) for b in cycle.breaks] == [
        (P1, BUY1, EXCH),
        (LOCAL, BUY1, EXCH),
    ]


def test_of_record__venue_silent__first_upload_in_chain_order():
    cycle = of_record([_up(LOCAL, 1, BAD), _up(P1, 2, BUY1), _up(P2, 2, SELL1)])
    assert cycle.trades == [BAD, SELL1]  # the exchange named on them uploaded nothing
    assert cycle.breaks == [UploadBreak(BUY1.trade_id, LOCAL, BAD, P1, BUY1)]


def test_of_record__off_venue_trade_in_a_venue_cycle__not_cleared_no_venue_line_clears_all():
    rogue = _trade(9, BUY, LOCAL, exchange=None)
    cycle = of_record([_up(EXCH, 1, BUY1, SELL1), _up(LOCAL, 2, rogue)])
    assert cycle.trades == [BUY1, SELL1] and cycle.off_venue == [rogue]
    plain = [replace(t, exchange="0x" + "00" * 20) for t in (BUY1, SELL1)]
    cycle = of_record([_up(P1, 1, plain[0]), _up(P2, 2, plain[1])])
    assert cycle.trades == plain and cycle.off_venue == [] and cycle.breaks == []


def test_selectors_and_topics__those_of_the_engines_abi():
    abi = json.loads(BUILD.read_text())["abi"]
    sig = lambda e: f"{e['name']}({','.join(_type(i) for i in e['inputs'])})"
    by_name = {e["name"]: sig(e) for e in abi if e.get("type") in ("function", "event")}
    assert keccak(text=by_name["uploadTrades"])[:4] == UPLOAD_SELECTOR
    assert keccak(text=by_name["deferTrades"])[:4] == DEFER_SELECTOR
    assert keccak(text=by_name["TradesUploaded"]) == TRADES_UPLOADED
    assert keccak(text=by_name["TradeDeferred"]) == TRADE_DEFERRED
    assert keccak(text=by_name["submitNetting"])[:4] == NETTING_SELECTOR
    assert keccak(text=by_name["CycleNetted"]) == CYCLE_NETTED
    assert keccak(text=by_name["CycleUnwound"]) == CYCLE_UNWOUND


def _type(item: dict) -> str:
    if item["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in item["components"]) + ")" + item["type"][5:]
    return item["type"]


class _Eth:
    def __init__(self, logs: dict[bytes, list[dict]], txs: dict[str, dict]):
        self.logs, self.txs = logs, txs

    def get_logs(self, flt: dict) -> list[dict]:
        assert flt["address"].lower() == ENGINE and flt["topics"][1] == "0x" + CID.hex()
        return self.logs.get(bytes.fromhex(flt["topics"][0][2:]), [])

    def get_transaction(self, h: str) -> dict:
        return self.txs[h]


class _W3:
    def __init__(self, logs, txs):
        self.eth = _Eth(logs, txs)


def _upload_tx(to: str, trades: list[Trade]) -> dict:
    data = UPLOAD_SELECTOR + encode(
        ["bytes32", f"{TRADE_TUPLE}[]"], [CID, [t.as_tuple() for t in trades]]
    )
    return {"to": to, "input": "0x" + data.hex()}


def _log(topic: bytes, party: str, block: int, tx: str, data: bytes = b"") -> dict:
    return {
        "topics": [topic, CID, bytes(12) + bytes.fromhex(party[2:])],
        "blockNumber": block, "logIndex": 0, "transactionHash": tx, "data": data,
    }  # fmt: skip


def test_read_cycle__uploads_and_deferrals_from_logs_and_calldata():
    defer_data = DEFER_SELECTOR + encode(
        ["bytes32", f"{TRADE_TUPLE}[]", "bytes32"], [CID, [SELL1.as_tuple()], b"\x05" * 32]
    )
    txs = {
        "0xa1": _upload_tx(ENGINE, [BUY1, SELL1]),
        "0xa2": {"to": ENGINE, "input": "0x" + defer_data.hex()},
    }
    deferred_log = _log(
        TRADE_DEFERRED, P2, 7, "0xa2", SELL1.trade_id + SELL1.record_hash() + b"\x05" * 32
    )
    logs = {
        TRADES_UPLOADED: [_log(TRADES_UPLOADED, EXCH, 5, "0xa1")],
        TRADE_DEFERRED: [deferred_log],
    }
    cycle = read_cycle(_W3(logs, txs), ENGINE, CID)
    assert cycle.trades == [BUY1, SELL1] and cycle.deferred == [SELL1]
    assert cycle.uploads[0].party.lower() == EXCH


def test_read_cycle__upload_relayed_through_another_contract__refused_by_name():
    logs = {TRADES_UPLOADED: [_log(TRADES_UPLOADED, EXCH, 5, "0xa1")]}
    relayed = _upload_tx("0x" + "77" * 20, [BUY1])
    with pytest.raises(CallNotDecodable, match="without calling it directly"):
        read_cycle(_W3(logs, {"0xa1": relayed}), ENGINE, CID)
    wrong_call = {"to": ENGINE, "input": "0x" + (DEFER_SELECTOR + b"\0" * 64).hex()}
    with pytest.raises(CallNotDecodable):
        read_cycle(_W3(logs, {"0xa1": wrong_call}), ENGINE, CID)


LEGS = [Leg(P1, 0, 1, 100), Leg(P2, 0, 1, -100)]


def _netting(legs: list[Leg], stated: bytes, block: int, tx: str) -> tuple[dict, dict]:
    data = NETTING_SELECTOR + encode(
        ["bytes32", "uint64", "bytes32", f"{LEG_TYPE}[]"],
        [CID, 2, b"\x03" * 32, [x.as_tuple() for x in legs]],
    )
    log = _log(
        CYCLE_NETTED,
        EXCH,
        block,
        tx,
        encode(["uint64", "bytes32", "bytes32", "uint256"], [2, b"\x03" * 32, stated, len(legs)]),
    )
    return log, {"to": ENGINE, "input": "0x" + data.hex()}


def test_read_legs__last_netting_unless_unwound_since_and_checked_against_its_log():
    log1, tx1 = _netting(LEGS, legs_hash(LEGS), 5, "0xb1")
    assert read_legs(_W3({CYCLE_NETTED: [log1]}, {"0xb1": tx1}), ENGINE, CID) == LEGS
    assert read_legs(_W3({}, {}), ENGINE, CID) == []
    unwound = _log(CYCLE_UNWOUND, EXCH, 6, "0xb2")
    logs = {CYCLE_NETTED: [log1], CYCLE_UNWOUND: [unwound]}
    assert read_legs(_W3(logs, {"0xb1": tx1}), ENGINE, CID) == []
    other = [Leg(P1, 0, 1, 50), Leg(P2, 0, 1, -50)]
    log2, tx2 = _netting(other, legs_hash(other), 7, "0xb3")
    logs[CYCLE_NETTED].append(log2)
    assert read_legs(_W3(logs, {"0xb1": tx1, "0xb3": tx2}), ENGINE, CID) == other
    lying, tx3 = _netting(LEGS, legs_hash(other), 8, "0xb4")
    with pytest.raises(CallNotDecodable, match="other than its log states"):
        read_legs(_W3({CYCLE_NETTED: [lying]}, {"0xb4": tx3}), ENGINE, CID)
