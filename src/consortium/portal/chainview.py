"""The chain as the portal sees it, over web3 (no brownie): who is who, record proofs, events.

Who is who comes from the ConsortiumRegistry (a regulator holds REGULATOR; an institution is a
member; everyone else is nobody here), read through the same RegistryDirectory the reports use, so
the portal and the reports never disagree on whom a regulator supervises. Events are read with
eth_getLogs over the suite's addresses and decoded with the compiled ABIs in build/contracts.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3._utils.events import get_event_data

from consortium.domain.encoding import hexstr
from consortium.reporting.directory import PartyInfo, RegistryDirectory
from consortium.reporting.lookthrough import SealedOpener
from consortium.reporting.verify import RecordCheck, verify_record

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "build" / "contracts"

# a contract's business line, for the overview's progress per line
LINES = {
    "ConsortiumRegistry": "membership",
    "DepositToken": "deposits",
    "SecurityToken": "settlement",
    "SettlementEngine": "settlement",
    "AnnuityPlans": "annuity",
    "AnnuityLedger": "annuity",
    "BillToken": "bills",
    "ConfirmationAnchor": "confirmations",
    "Reconciliation": "confirmations",
    "ReportAnchor": "reporting",
    "ReportingEventSource": "reporting",
    "SealedRecords": "lookthrough",
}


def line_of(contract_key: str) -> str:
    name = contract_key.split(":")[0]
    return LINES.get(name, name)


def load_abi(name: str, build: Path = BUILD) -> list[dict]:
    """The ABI of contract `name` from brownie's build artefacts."""
    return json.loads((build / f"{name}.json").read_text())["abi"]


class Calls:
    """A web3 contract whose view functions are called like a brownie contract's (`c.f(x)`), so
    RegistryDirectory and verify_record read it unchanged."""

    def __init__(self, contract: Any):
        self.contract = contract
        self.address = contract.address
        self.abi = contract.abi  # for views read in batches (reads.batched)

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.contract.functions, name)
        return lambda *args: fn(*args).call()


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log of a suite contract."""

    seq: int  # order of arrival in this portal
    block: int
    tx: str
    log_index: int
    contract: str  # suite key ("DepositToken:CNY")
    line: str
    event: str
    args: dict
    regulators: frozenset[str]  # lower-case addresses of the regulators it concerns

    def as_json(self) -> dict:
        return {
            "seq": self.seq,
            "block": self.block,
            "tx": self.tx,
            "contract": self.contract,
            "line": self.line,
            "event": self.event,
            "args": self.args,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return hexstr(bytes(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _addresses_in(args: dict) -> set[str]:
    """The addresses an event names: address parameters and bytes32 holding one (uint160)."""
    out = set()
    for value in args.values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and len(v) == 42 and v.startswith("0x"):
                out.add(v)
            elif isinstance(v, str) and len(v) == 66 and v[2:26] == "0" * 24 and int(v, 16):
                out.add(to_checksum_address("0x" + v[26:]))
    return out


class ChainView:
    """The suite at `addresses` ({suite key: address}) on the chain `w3` talks to."""

    def __init__(self, w3: Any, addresses: dict[str, str], build: Path = BUILD):
        self.w3 = w3
        self.addresses = {k: to_checksum_address(v) for k, v in addresses.items()}
        self.build = build
        self.registry = self.contract("ConsortiumRegistry", self.addresses["ConsortiumRegistry"])
        self.directory = RegistryDirectory(self.registry)
        self.chain_id = int(w3.eth.chain_id)
        self._topics: dict[tuple[str, bytes], dict] = {}
        for key, address in self.addresses.items():
            for item in load_abi(key.split(":")[0], build):
                if item.get("type") == "event" and not item.get("anonymous"):
                    self._topics[(address.lower(), event_abi_to_log_topic(item))] = item
        self._keys = {a.lower(): k for k, a in self.addresses.items()}
        self.events: deque[ChainEvent] = deque(maxlen=2_000)
        self.cursor: int | None = None
        self._seq = 0

    def contract(self, name: str, address: str) -> Calls:
        return Calls(self.w3.eth.contract(address=address, abi=load_abi(name, self.build)))

    def holding(self) -> Calls | None:
        """The suite's HoldingChain (look-through records are proved against it), if deployed."""
        address = self.addresses.get("HoldingChain")
        return self.contract("HoldingChain", address) if address else None

    def sealed_opener(self) -> SealedOpener | None:
        """What opens a report's look-through records on this chain (None: no SealedRecords)."""
        address = self.addresses.get("SealedRecords")
        if address is None:
            return None
        abi = load_abi("SealedRecords", self.build)
        return SealedOpener(self.w3, self.contract("SealedRecords", address), abi, self.holding())

    # ---------------------------------------------------------------- who is who
    def who(self, address: str) -> PartyInfo | None:
        """The member at `address` (None when it is not an active member)."""
        info = self.directory.info(address)
        return info if info.member and self.registry.isActive(info.address) else None

    def members(self) -> list[PartyInfo]:
        return [self.directory.info(str(a)) for a in self.registry.members()]

    def channels(self, members: list[PartyInfo]) -> list[tuple[str, str]]:
        out = []
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if self.registry.channelOpen(a.address, b.address):
                    out.append((a.address, b.address))
        return out

    # ---------------------------------------------------------------- proofs
    def verify(self, report: dict, record_id: str) -> RecordCheck:
        """One record of `report` against the root its anchor holds on chain (the proof recomputed
        here, and the contract's verifyRecord view asked)."""
        record = next((r for r in report["records"] if str(r.get("id")) == record_id), None)
        if record is None:
            return RecordCheck(record_id, False, "no such record in this report")
        if report["anchor"].get("chainId") not in (None, self.chain_id):
            return RecordCheck(record_id, False, f"anchored on chain {report['anchor']['chainId']}")
        address = report["anchor"].get("contract") or self.addresses.get("ReportAnchor")
        if not address or len(self.w3.eth.get_code(address)) == 0:
            return RecordCheck(record_id, False, f"no ReportAnchor at {address} on this chain")
        anchor = self.contract("ReportAnchor", address)
        return verify_record(
            record,
            report["regulator"],
            int(report["day"]),
            int(report["anchor"]["version"]),
            anchor,
            report["rules"]["hash"],
        )

    # ---------------------------------------------------------------- events
    def poll(self, back: int = 1_000) -> list[ChainEvent]:
        """The suite's events of the blocks since the last poll (the first poll reads `back`
        blocks), decoded, kept in `events` and returned."""
        head = int(self.w3.eth.block_number)
        start = max(0, head - back) if self.cursor is None else self.cursor + 1
        if start > head:
            return []
        logs = self.w3.eth.get_logs(
            {"fromBlock": start, "toBlock": head, "address": list(self.addresses.values())}
        )
        new = [e for e in (self._decode(log) for log in logs) if e is not None]
        self.cursor = head
        self.events.extend(new)
        return new

    def _decode(self, log: Any) -> ChainEvent | None:
        address = str(log["address"]).lower()
        abi = self._topics.get((address, bytes(log["topics"][0]))) if log["topics"] else None
        if abi is None:
            return None
        data = get_event_data(self.w3.codec, abi, log)
        args = {k: _plain(v) for k, v in data["args"].items()}
        regulators = set()
        for a in _addresses_in(args):
            info = self.directory.info(a)
            if info.regulator:
                regulators.add(info.regulator.lower())
        self._seq += 1
        key = self._keys[address]
        return ChainEvent(
            self._seq,
            int(log["blockNumber"]),
            hexstr(bytes(log["transactionHash"])),
            int(log["logIndex"]),
            key,
            line_of(key),
            data["event"],
            args,
            frozenset(regulators),
        )

    def progress(self) -> dict[str, Counter]:
        """Events kept so far, per line and event name."""
        out: dict[str, Counter] = {}
        for e in self.events:
            out.setdefault(e.line, Counter())[e.event] += 1
        return out
