"""The look-through records of a report opened for its regulator: a view, never an anchored record.

A report's `lookthrough-record-sealed` records state only who published a record sealed to whom
(the sealed positions are secret: `investor_positions`). With the regulator's key at hand (the
portal's report page, `consortium report --keystore`, the day's report writing) each record's
RecordSealed log is read back from the chain by its transaction and log index, opened and proved
against the published root and the holding chain by the live feed's own code
(roles.lookthrough.open_many), and put in the record's `opened` (left out of its recordHash, so
the anchored Merkle root is the same with or without the opening). A record sealed to another
regulator is never opened; without a key every record says "sealed".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from web3.exceptions import TransactionNotFound

from consortium.domain.encoding import b32
from consortium.reads import batched
from consortium.roles.lookthrough import UNOPENED, SealedLog, open_many

SEALED_EVENT = "RecordSealed"
POSITION = "position"  # the key of a record's `opened` that holds its opened look-through record
OTHER_REGULATOR = "sealed to another regulator: never opened here"


def sealed_records_of(report: dict) -> list[dict]:
    """The report's records of positions sealed to a regulator (SealedRecords.RecordSealed)."""
    return [r for r in report["records"] if r["event"] == SEALED_EVENT]


@dataclass
class SealedOpener:
    """Opens a report's sealed look-through records from the chain `w3` holds: `sealed_records`
    and `holding` are the suite's SealedRecords and HoldingChain (views called as
    `c.publication(...)`: brownie contracts or the portal's Calls), `abi` SealedRecords' ABI to
    decode the logs with."""

    w3: Any
    sealed_records: Any
    abi: list
    holding: Any = None
    _receipts: dict[str, dict] = field(default_factory=dict, repr=False)  # tx: its logs by index
    _event: Any = field(default=None, repr=False)  # the RecordSealed decoder, made once

    def open(self, report: dict, private_key: bytes | None) -> dict:
        """A copy of `report` whose sealed look-through records carry `opened.position`: the
        record opened and proved (`status` "opened"), or why not."""
        view = json.loads(json.dumps(report))
        recs = sealed_records_of(view)
        for rec, position in zip(recs, self.positions(recs, report, private_key)):
            rec["opened"] = {**rec.get("opened", {}), POSITION: position}
        return view

    def position(self, rec: dict, report: dict, private_key: bytes | None) -> dict:
        """One record's opened position for the report's regulator (a dict for the HTML)."""
        return self.positions([rec], report, private_key)[0]

    def positions(self, recs: list[dict], report: dict, private_key: bytes | None) -> list[dict]:
        """The records' opened positions, in order, the chain read in JSON-RPC batches (a large
        day's report holds thousands of records)."""
        if private_key is None:
            return [{"status": UNOPENED} for _ in recs]
        out: list[dict] = []
        logs: list[tuple[int, SealedLog]] = []
        for rec in recs:
            args = self._log_args(rec)
            if args is None:
                out.append({"status": "its log is not on this chain (sealed)"})
            elif str(args["regulator"]).lower() != str(report["regulator"]).lower():
                out.append({"status": OTHER_REGULATOR})
            else:
                block = int(rec["chain"]["blockNumber"])
                sealed = bytes(args["sealedRecord"])
                logs.append(
                    (len(out), SealedLog(args["intermediary"], b32(args["cycleId"]), sealed, block))
                )
                out.append({})
        opened = open_many(
            self.sealed_records,
            [log for _, log in logs],
            private_key,
            self.holding,
            batched(self.w3),
        )
        for (n, _), (o, status) in zip(logs, opened):
            out[n] = {"status": status, **(o.as_json() if o is not None else {})}
        return out

    def _log_args(self, rec: dict) -> dict | None:
        """The RecordSealed arguments of the record's log, read from its transaction's receipt
        (one read per transaction: a publication seals many records); None when the chain has no
        such log of this SealedRecords."""
        chain = rec["chain"]
        if str(chain["address"]).lower() != str(self.sealed_records.address).lower():
            return None
        tx = str(chain["txHash"])
        if tx not in self._receipts:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx)
            except TransactionNotFound:  # a report of another chain: its records stay sealed
                receipt = {"logs": []}
            self._receipts[tx] = {
                (int(lg["logIndex"]), str(lg["address"]).lower()): lg for lg in receipt["logs"]
            }
        log = self._receipts[tx].get((int(chain["logIndex"]), str(chain["address"]).lower()))
        if log is None:
            return None
        if self._event is None:
            contract = self.w3.eth.contract(address=self.sealed_records.address, abi=self.abi)
            self._event = contract.events.RecordSealed()
        return dict(self._event.process_log(log)["args"])


def sealed_opener(w3: Any, contracts: dict[str, Any]) -> SealedOpener | None:
    """The opener of a suite's contracts ({key: brownie contract}), None without SealedRecords."""
    sealed = contracts.get("SealedRecords")
    if sealed is None:
        return None
    return SealedOpener(w3, sealed, list(sealed.abi), contracts.get("HoldingChain"))
