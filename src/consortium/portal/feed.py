"""A regulator's live look-through feed, as the blocks arrive: one module for `consortium watch`
and the portal's feed page.

From the suite's decoded events (ChainView) it keeps those concerning the regulator: events naming
an institution it supervises (uploads, instructions, charges, settlement, ...), each upload with
the party's first clearing data per currency (SettlementEngine.firstClearing: trades, gross, fees,
taxes, net), each second clearing entry with the second party's totals per currency
(secondClearing), each reconciliation by amounts that differed (ClearingTotalsMismatch: the
currency, ours and theirs), and the look-through records sealed to it
(SealedRecords.RecordSealed), opened with its key and proved against the published root (off chain
and with verifyPosition) and against the intermediary's investor root on HoldingChain (each record
is shown "proved against the holding chain", or why not). Records sealed to another regulator are
not shown: the regulator could not open them anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from consortium.domain.encoding import from_hex
from consortium.domain.hashing import code32, code_text
from consortium.portal.chainview import ChainEvent, ChainView
from consortium.roles.lookthrough import open_or_why
from consortium.roles.settlement import CURRENCIES

CLEARING_FIELDS = ("trades", "gross", "fees", "taxes", "buyNet", "sellNet")


@dataclass
class RegulatorFeed:
    """The feed of regulator `regulator` over `view`; `private_key` opens its sealed records
    (without it they are listed as sealed, unopened)."""

    view: ChainView
    regulator: str
    private_key: bytes | None = None
    currencies: tuple[str, ...] = CURRENCIES
    _seen: dict[int, dict | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.regulator = self.regulator.lower()

    def poll(self) -> list[dict]:
        """New items since the last poll (ChainView reads the new blocks)."""
        return self.items(self.view.poll())

    def start_at(self, block: int) -> None:
        """The next poll reads from `block` on."""
        self.view.cursor = block - 1

    def items(self, events: Iterable[ChainEvent]) -> list[dict]:
        """The feed's items for `events` (each computed once: chain calls are not repeated)."""
        out = []
        for e in events:
            if e.seq not in self._seen:
                item = self._item(e)
                if item is not None:
                    item["text"] = describe(item)
                self._seen[e.seq] = item
            if self._seen[e.seq] is not None:
                out.append(self._seen[e.seq])
        return out

    def _item(self, e: ChainEvent) -> dict | None:
        if e.event == "RecordSealed":
            if str(e.args.get("regulator", "")).lower() != self.regulator:
                return None
            return self._sealed(e)
        if self.regulator not in e.regulators:
            return None
        item = e.as_json()
        if e.contract != "SettlementEngine":
            return item
        if e.event == "TradesUploaded":
            item["clearing"] = self._totals("firstClearing", e.args["cycleId"], e.args["party"])
        elif e.event == "SecondClearingDistributed":
            who = (e.args["secondParty"], e.args["party"])
            item["second_clearing"] = self._totals("secondClearing", e.args["cycleId"], *who)
        return item

    def _totals(self, view: str, cycle_id: str, *who: str) -> dict[str, dict[str, int]]:
        """Per currency with trades, the engine's `view` (firstClearing, secondClearing) of the
        cycle for `who`, as of the latest block."""
        engine = self.view.contract("SettlementEngine", self.view.addresses["SettlementEngine"])
        out = {}
        for ccy in self.currencies:
            totals = getattr(engine, view)(cycle_id, *who, code32(ccy))
            if int(totals[0]):
                out[ccy] = {k: int(v) for k, v in zip(CLEARING_FIELDS, totals)}
        return out

    def _sealed(self, e: ChainEvent) -> dict:
        item = e.as_json()
        args = {k: v for k, v in e.args.items() if k != "sealedRecord"}
        contract = self.view.contract("SealedRecords", self.view.addresses["SealedRecords"])
        opened, status = open_or_why(
            contract,
            e.args["intermediary"],
            e.args["cycleId"],
            from_hex(e.args["sealedRecord"]),
            self.private_key,
            e.block,
            self.view.holding(),
        )
        if opened is None:
            item["args"] = args | {"sealed": status}
            return item
        record = opened.as_json()
        item["record"] = record
        item["args"] = args | {
            "investor": record["investor"],
            "asset": record["assetName"],
            "amount": record["amount"],
            "proven": record["proven"],
            "holding": record["holding"],
        }
        return item


def describe(item: dict) -> str:
    """One line of text for an item (the terminal's `consortium watch`)."""
    args = item["args"]
    head = f"block {item['block']} · {item['line']} · {item['event']}"
    if "record" in item:
        r = item["record"]
        proof = "proven against root" if r["proven"] else "NOT PROVEN"
        return (
            f"{head}: investor {r['investor']} asset {r['assetName']} amount {r['amount']} "
            f"at {r['intermediary']} ({proof} {r['root'][:18]}…; {r['holding']})"
        )
    if item["event"] == "ClearingTotalsMismatch":
        ours, theirs = args["ours"], args["theirs"]
        differ = []
        for k in CLEARING_FIELDS:
            if ours[k] != theirs[k]:
                differ.append(f"{k} ours {ours[k]} theirs {theirs[k]}")
        return (
            f"{head}: totals mismatch in {code_text(from_hex(args['currency']), 'replace')} "
            f"between {args['party']} and {args['counterparty']} (level {args['level']}): "
            + ", ".join(differ)
        )
    text = ", ".join(f"{k}={v}" for k, v in args.items())
    for label, key in (("first clearing", "clearing"), ("second clearing", "second_clearing")):
        for ccy, t in item.get(key, {}).items():
            text += (
                f"; {label} {ccy}: {t['trades']} trades, gross {t['gross']}, fees {t['fees']},"
                f" taxes {t['taxes']}, buy net {t['buyNet']}, sell net {t['sellNet']}"
            )
    return f"{head}({text})"
