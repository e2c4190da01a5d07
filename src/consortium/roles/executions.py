"""A settlement cycle's executions as the chain holds them:
what a CCP or CSD clears, nets and defers.

A second party (CCP, CSD) has no list of the cycle's trades handed to it: it reads the first
parties' uploads from the chain. `TradesUploaded` logs of the engine under the cycle's id
(eth_getLogs on the engine's address and the cycleId topic) name the transactions; each
transaction's input is a direct `uploadTrades(cycleId, trades)` call (an upload relayed through
another contract has other calldata and is refused with CallNotDecodable: the engine's logs do not
carry the trades). Deferrals are read the same way: `TradeDeferred` logs, each trade taken from its
`deferTrades` calldata by its record hash, in log order (the engine's deferral order); and the CSD's
legs to settle: the `submitNetting` calldata of the cycle's last `CycleNetted` (none when a
`CycleUnwound` came after it), checked against the legs hash the log states.

Executions of record (the rule, per trade id):
- the venue is the source of executions: a trade is taken as uploaded by the exchange it names;
- a trade its exchange did not upload (or naming none) is taken as its first upload in chain order
  (block, then log index) by a party named on it;
- once the cycle holds any trade naming an exchange, a trade naming none is no venue execution: it
  is listed in `off_venue` and not cleared (a broker's one-sided upload of its own cannot unbalance
  the CCP's netting); a line without an exchange (no upload names one) clears every uploaded trade;
- two uploads of one trade id that differ are an `UploadBreak`, reported, never resolved silently:
  the record stays as the rule above takes it, and the first party's on-chain reconciliation with
  the second party breaks as it always did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from consortium.domain.clearing import TRADE_TYPES, ZERO_ADDRESS, Trade
from consortium.domain.instructions import InstructionLine
from consortium.domain.netting import LEG_TYPE, Leg, legs_hash

TRADE_TUPLE = "(" + ",".join(TRADE_TYPES) + ")"
UPLOAD_SIGNATURE = f"uploadTrades(bytes32,{TRADE_TUPLE}[])"
DEFER_SIGNATURE = f"deferTrades(bytes32,{TRADE_TUPLE}[],bytes32)"
UPLOAD_SELECTOR = keccak(text=UPLOAD_SIGNATURE)[:4]
DEFER_SELECTOR = keccak(text=DEFER_SIGNATURE)[:4]
NETTING_SIGNATURE = f"submitNetting(bytes32,uint64,bytes32,{LEG_TYPE}[])"
NETTING_SELECTOR = keccak(text=NETTING_SIGNATURE)[:4]
CYCLE_NETTED = keccak(text="CycleNetted(bytes32,address,uint64,bytes32,bytes32,uint256)")
CYCLE_UNWOUND = keccak(text="CycleUnwound(bytes32,address,bytes32,bytes32)")
TRADES_UPLOADED = keccak(text="TradesUploaded(bytes32,address,uint256,uint64,bytes32,bytes32)")
TRADE_DEFERRED = keccak(text="TradeDeferred(bytes32,address,bytes32,bytes32,bytes32)")
INSTRUCTION_LINE = keccak(
    text="InstructionLineSubmitted(bytes32,address,uint8,uint256,int256,uint256,uint256)"
)
INSTRUCTION_SUBMITTED = keccak(text="InstructionSubmitted(bytes32,address,uint256)")
INSTRUCTION_VOIDED = keccak(text="InstructionVoided(bytes32,address,bytes32)")


class CallNotDecodable(RuntimeError):
    """A cycle's log points at a transaction whose input is not the engine call that emitted it
    (relayed through another contract, or not the content the log states)."""


class UnknownExecution(ValueError):
    """A trade id the caller named is none of the cycle's executions of record."""


@dataclass(frozen=True)
class Upload:
    """One uploadTrades call as the chain holds it."""

    party: str
    block: int
    log_index: int
    tx_hash: str
    trades: tuple[Trade, ...]


@dataclass(frozen=True)
class UploadBreak:
    """Two uploads of one trade id that differ: `record` as taken of record, `other` as `party`
    uploaded it."""

    trade_id: bytes
    record_party: str
    record: Trade
    party: str
    other: Trade


@dataclass
class CycleExecutions:
    """What the chain says about a cycle: executions of record (ascending ids), deferrals (deferral
    order), differing uploads, trades outside the venue, and every upload read."""

    trades: list[Trade] = field(default_factory=list)
    deferred: list[Trade] = field(default_factory=list)
    breaks: list[UploadBreak] = field(default_factory=list)
    off_venue: list[Trade] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)

    def by_id(self) -> dict[bytes, Trade]:
        return {t.trade_id: t for t in self.trades}

    def uploaders(self) -> list[str]:
        """First parties that uploaded, in order of their first upload."""
        return list(dict.fromkeys(u.party for u in self.uploads))

    def own_uploads(self) -> list[Trade]:
        """The trades as uploaded by the participant named on them (an off-venue one included):
        what the engine's trade set covers at netting."""
        return [t for u in self.uploads for t in u.trades if t.participant == u.party]


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)


def _address(topic: Any) -> str:
    return to_checksum_address(_bytes(topic)[-20:])


def _logs(w3: Any, engine: str, topic: bytes, cycle_id: bytes, from_block: int) -> list[dict]:
    logs = w3.eth.get_logs(
        {
            "address": to_checksum_address(engine),
            "fromBlock": from_block,
            "toBlock": "latest",
            "topics": ["0x" + topic.hex(), "0x" + bytes(cycle_id).hex()],
        }
    )
    return sorted(logs, key=lambda g: (int(g["blockNumber"]), int(g["logIndex"])))


def _calldata(w3: Any, tx_hash: Any, selector: bytes, types: list[str], engine: str) -> tuple:
    tx = w3.eth.get_transaction(tx_hash)
    data = _bytes(tx["input"])
    if str(tx.get("to") or "").lower() != engine.lower() or data[:4] != selector:
        raise CallNotDecodable(
            f"transaction {_bytes(tx_hash).hex()} emitted the engine's log without calling it "
            "directly; read that cycle from a trace-capable node or upload directly"
        )
    return decode(types, data[4:])


def _trades(rows: Iterable[tuple]) -> tuple[Trade, ...]:
    return tuple(Trade(*row) for row in rows)


def read_uploads(w3: Any, engine: str, cycle_id: bytes, from_block: int = 0) -> list[Upload]:
    """Every upload of the cycle, in chain order (one eth_getLogs, one eth_getTransaction each)."""
    out = []
    for log in _logs(w3, engine, TRADES_UPLOADED, cycle_id, from_block):
        _, rows = _calldata(
            w3, log["transactionHash"], UPLOAD_SELECTOR, ["bytes32", f"{TRADE_TUPLE}[]"], engine
        )
        out.append(
            Upload(
                _address(log["topics"][2]),
                int(log["blockNumber"]),
                int(log["logIndex"]),
                "0x" + _bytes(log["transactionHash"]).hex(),
                _trades(rows),
            )
        )
    return out


def read_deferred(w3: Any, engine: str, cycle_id: bytes, from_block: int = 0) -> list[Trade]:
    """The cycle's deferred trades in deferral order, each as the CCP's deferTrades call sent it."""
    out: list[Trade] = []
    decoded: dict[bytes, dict[bytes, Trade]] = {}  # tx hash -> record hash -> trade
    for log in _logs(w3, engine, TRADE_DEFERRED, cycle_id, from_block):
        h = _bytes(log["transactionHash"])
        if h not in decoded:
            _, rows, _ = _calldata(
                w3,
                log["transactionHash"],
                DEFER_SELECTOR,
                ["bytes32", f"{TRADE_TUPLE}[]", "bytes32"],
                engine,
            )
            decoded[h] = {t.record_hash(): t for t in _trades(rows)}
        record = _bytes(log["data"])[32:64]
        out.append(decoded[h][record])
    return out


def of_record(uploads: Iterable[Upload]) -> CycleExecutions:
    """The executions of record by the module's rule, with every differing upload as a break."""
    uploads = list(uploads)
    first: dict[bytes, tuple[str, Trade]] = {}
    venue: dict[bytes, tuple[str, Trade]] = {}
    for u in uploads:
        for t in u.trades:
            first.setdefault(t.trade_id, (u.party, t))
            if t.exchange == u.party:
                venue.setdefault(t.trade_id, (u.party, t))
    chosen = {tid: venue.get(tid, first[tid]) for tid in first}
    out = CycleExecutions(uploads=uploads)
    for u in uploads:
        for t in u.trades:
            party, record = chosen[t.trade_id]
            if t != record:
                out.breaks.append(UploadBreak(t.trade_id, party, record, u.party, t))
    has_venue = any(t.exchange != ZERO_ADDRESS for _, t in chosen.values())
    for tid in sorted(chosen):
        t = chosen[tid][1]
        (out.off_venue if has_venue and t.exchange == ZERO_ADDRESS else out.trades).append(t)
    return out


def read_cycle(w3: Any, engine: str, cycle_id: bytes, from_block: int = 0) -> CycleExecutions:
    """A cycle's executions of record, breaks and deferrals, from the chain alone."""
    out = of_record(read_uploads(w3, engine, cycle_id, from_block))
    out.deferred = read_deferred(w3, engine, cycle_id, from_block)
    return out


def read_legs(w3: Any, engine: str, cycle_id: bytes, from_block: int = 0) -> list[Leg]:
    """The legs of the cycle's standing netting as the CCP instructed them (leg order, the order
    the legs hash covers); [] when the cycle is not netted now (never, or unwound since)."""
    netted = _logs(w3, engine, CYCLE_NETTED, cycle_id, from_block)
    unwound = _logs(w3, engine, CYCLE_UNWOUND, cycle_id, from_block)
    at = lambda g: (int(g["blockNumber"]), int(g["logIndex"]))
    if not netted or (unwound and at(unwound[-1]) > at(netted[-1])):
        return []
    log = netted[-1]
    *_, rows = _calldata(
        w3,
        log["transactionHash"],
        NETTING_SELECTOR,
        ["bytes32", "uint64", "bytes32", f"{LEG_TYPE}[]"],
        engine,
    )
    legs = [Leg(to_checksum_address(p), int(k), int(a), int(x)) for p, k, a, x in rows]
    stated = _bytes(log["data"])[64:96]  # (tradeCount, tradeSetHash, legsHash, legCount)
    if legs_hash(legs) != stated:
        raise CallNotDecodable(
            f"netting transaction {_bytes(log['transactionHash']).hex()} carries legs other than "
            "its log states; read that cycle from a trace-capable node"
        )
    return legs


def read_instructions(
    w3: Any, engine: str, cycle_id: bytes, from_block: int = 0
) -> dict[str, list[InstructionLine]]:
    """Every participant's standing settlement instruction of the cycle, from the logs alone: the
    lines of its last InstructionSubmitted (each preceded by its InstructionLineSubmitted logs),
    none once an InstructionVoided came after it."""
    logs = [
        g
        for topic in (INSTRUCTION_LINE, INSTRUCTION_SUBMITTED, INSTRUCTION_VOIDED)
        for g in _logs(w3, engine, topic, cycle_id, from_block)
    ]
    logs.sort(key=lambda g: (int(g["blockNumber"]), int(g["logIndex"])))
    pending: dict[str, list[InstructionLine]] = {}
    standing: dict[str, list[InstructionLine]] = {}
    for g in logs:
        party, topic = _address(g["topics"][2]), _bytes(g["topics"][0])
        if topic == INSTRUCTION_LINE:
            row = decode(["uint8", "uint256", "int256", "uint256", "uint256"], _bytes(g["data"]))
            pending.setdefault(party, []).append(InstructionLine(*(int(x) for x in row)))
        elif topic == INSTRUCTION_SUBMITTED:
            standing[party] = pending.pop(party, [])
        else:
            standing.pop(party, None)
    return standing
