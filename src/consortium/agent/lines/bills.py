"""The supply-chain bill line as agents: clients (debtor and suppliers), the auditor, the factor.

Who starts what (no Python object is shared; each agent reads the chain or its own store):
- SUPPLY_CHAIN_CLIENT: `bill-issues` (BILL_ISSUER) -> requestIssue on itself (it is the debtor);
  `bill-transfers` (BILL_TRANSFEROR) and `bill-financing` (BILL_FINANCING_APPLICANT) ->
  requestTransfer / requestFinancing of a holding named by its node id or
  by the documents of the bill or transfer that gave it (`from_documents`: what both sides of a
  trade know, where a node id is only in the positions); `bill-redemptions` -> redeem at maturity.
  Reacts to a bill or transfer addressed to it (review: agent.yaml `decisions.bill_review`, auto
  within `limits.bill_review_max_amount`, else queued for `consortium decide`), to a factor's quote
  of its financing request (`decisions.financing_accept`, auto up to
  `limits.financing_max_rate_bps`), and to an off-chain payment declared to it (`payment_confirm`:
  auto, or queued for a person who checks the bank account first).
- AUDITOR: a reviewed issue or transfer, an agreed financing -> audit (`decisions.bill_audit`,
  auto within `limits.bill_audit_max_amount` when set), unless it is a party to it (segregation of
  duties: another audit institution audits it).
- ASSET_MANAGER (the factor): a financing request -> quote at agent.yaml `bills: {rate_bps: N}`
  (an asset manager without it is no factor and never quotes; with `outbid_only: true` it quotes
  only in a publicised request's quote window, to beat another factor's standing quote);
  the audited financing -> disburse (in the cash token when it pays the bill's currency, else a
  declared off-chain payment the holder confirms); payments declared to it -> confirm, as a holder.

Every client and the factor write their positions to outbox/positions/ after each change:
holdings.json (what it holds, per node) and, for a debtor, owed.json (who holds its bills). Every
handler asks the chain's state before it sends, so an event replayed after a kill sends nothing
twice; requests go through the outbox keyed by the request reference (issues by the documents).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time
from typing import Any, ClassVar

from consortium.agent.base import FileRefused, Role
from consortium.agent.ranged import Retries, phase_size, send_each
from consortium.agent.settings import SettingsError
from consortium.domain.bills import (
    BillStatus,
    NodeKind,
    NodeState,
    QuoteRefused,
    QuoteWindow,
    auditor_is_party,
)
from consortium.domain.encoding import b32
from consortium.domain.hashing import doc_hash
from consortium.outbox import OutboxConflict, OutboxRefused, close_phase, jsonable
from consortium.roles.bills import FINANCE as FINANCING
from consortium.roles.bills import (
    FINANCE_QUOTES,
    ISSUE,
    REDEEM,
    TRANSFER,
    BillAuditor,
    BillClient,
    BillFactor,
)
from consortium.txpipe import PHASE_TXS, TxPipeError, TxPipeTimeout

log = logging.getLogger("consortium.agent")

NODE_KIND = "bills.node"  # what the chain's request events said of each node (docs, parties)
REVIEW, ACCEPT, CONFIRM, AUDIT = "bill_review", "financing_accept", "payment_confirm", "bill_audit"
ZERO = "0x" + "00" * 20
MAX_RATE_BPS = 10_000  # BillToken.MAX_RATE_BPS


def _same(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower()


def _hex(value: Any) -> str:
    return "0x" + b32(value).hex()


def maturity_of(day: Any) -> int:
    """A maturity date as the chain's timestamp: the start of that day, UTC (the bill falls due
    on that day; redemption is possible from its first second)."""
    return int(datetime.combine(day, time(), UTC).timestamp())


def line_of(file: Any, index: int) -> int:
    return int(file.line_of(index))


class _BillsRole(Role):
    """What every bill role shares: the contract, the chain's view of nodes, the policy helper."""

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.dirty = True
        # a suite without the bill line: the role stays idle (its roles may serve other lines)
        self.active = "BillToken" in agent.suite.contracts
        if not self.active:
            self.events, self.formats, self.decisions = {}, (), ()
            return
        agent.follower.after_range(self._after_range)

    @property
    def bills(self) -> Any:
        return self.agent.suite["BillToken"]

    @property
    def me(self) -> str:
        return self.agent.account.address

    def who(self, address: Any) -> str:
        """The institution id of a member address (agent.yaml `addresses`), else the address."""
        for ident, a in self.agent.settings.addresses.items():
            if _same(a, address):
                return ident
        return str(address)

    def address_of(self, ident: str, line: int) -> str:
        address = self.agent.settings.addresses.get(ident)
        if address is None:
            raise FileRefused(
                line, f"no member address for {ident!r}: add it under 'addresses:' in agent.yaml"
            )
        return address

    def state(self, node_id: int) -> int:
        return int(self.bills.node(node_id)["state"])

    def now(self) -> int:
        return int(self.agent.w3.eth.get_block("latest")["timestamp"])

    def remember(self, ev: Any) -> None:
        """Keep what a request event said of its node (its documents, parties): the chain's node
        has no documents hash, and `from_documents` and the positions need it."""
        node = int(ev["billId"] if ev.name == "BillIssueRequested" else ev["nodeId"])
        body = {
            "bill": int(ev["billId"]),
            "kind": ev.name,
            "from": str(ev.args.get("debtor") or ev.args.get("from") or ev.args.get("holder")),
            "to": str(ev.args.get("receiver") or ev.args.get("to") or ZERO),
            "docs": _hex(ev["docHash"]),
            "amount": int(ev.args.get("faceValue") or ev.args.get("amount")),
        }
        self.agent.store.put(NODE_KIND, str(node), body)
        self.dirty = True

    def nodes(self) -> dict[int, dict[str, Any]]:
        return {int(k): v for k, v in self.agent.store.all(NODE_KIND).items()}

    def mark(self, _ev: Any = None) -> None:
        """Any bill event: the positions are written again after this range of blocks."""
        self.dirty = True

    def _after_range(self) -> None:
        if self.dirty:
            self.dirty = False
            self.write_positions()

    def write_positions(self) -> None:
        """Hook: roles that hold bills write their positions."""

    def policy(self, kind: str, within: bool, item: str, subject: dict[str, Any]) -> bool:
        """True: act now (auto and within the limits); else queued once for a person."""
        if self.agent.settings.decision_mode(kind) == "auto" and within:
            return True
        if self.agent.decisions.get(item) is None:
            log.info("%s queued for a person (%s)", item, kind)
        self.agent.decisions.queue(kind, item, subject)
        return False

    def limit(self, name: str) -> int | None:
        value = self.agent.settings.limits.get(name)
        return None if value is None else int(value)

    def outcome(self, decision: Any, **more: Any) -> None:
        body = {"item": decision.item, "answer": decision.answer, "reason": decision.reason}
        self.agent.write_output(
            "decisions", f"{decision.item}.outcome.json", json.dumps(body | more, indent=2)
        )


class _HolderRole(_BillsRole):
    """A role that holds bills: confirms payments declared to it and writes its positions."""

    def on_declared(self, ev: Any) -> None:
        """An off-chain payment declared to us (a disbursement or a redemption): confirmed once
        (a replayed event finds the declaration gone), by policy or by a person."""
        self.dirty = True
        if not _same(ev["payee"], self.me):
            return
        did = int(ev["declarationId"])
        if int(self.bills.payment(did)["kind"]) == 0:
            return  # confirmed (or withdrawn) already
        subject = {
            "declaration": did,
            "node": int(ev["nodeId"]),
            "amount": int(ev["amount"]),
            "payer": self.who(ev["payer"]),
            "payment_ref": _hex(ev["paymentRef"]),
        }
        if self.policy(CONFIRM, True, f"bill-payment-{did}", subject):
            self.confirm(did)

    def confirm(self, did: int) -> None:
        if int(self.bills.payment(did)["kind"]) == 0:
            return
        log.info("confirming payment %d received", did)
        self.bills.confirmPayment(did, self.agent.tx())

    def _read(self, fn: str, args: list[tuple]) -> list:
        """`bills.fn(*a)` for each `a` in JSON-RPC batches (the agent's pipe): a position file
        of hundreds of nodes is a few round trips, not two reads per node."""
        return self.agent.pipe.call_many(self.bills, fn, args)

    def _bills(self, ids: list[int]) -> dict[int, Any]:
        ids = list(dict.fromkeys(ids))
        return dict(zip(ids, self._read("bill", [(i,) for i in ids])))

    def holdings(self) -> list[dict[str, Any]]:
        nodes = sorted(self.nodes().items())
        amounts = self._read("balanceOf", [(self.me, node) for node, _ in nodes])
        held = [(node, info, int(a)) for (node, info), a in zip(nodes, amounts) if int(a)]
        bills = self._bills([info["bill"] for _, info, _ in held])
        out = []
        for node, info, amount in held:
            b = bills[info["bill"]]
            out.append(
                {
                    "node_id": node,
                    "bill_id": info["bill"],
                    "amount": amount,
                    "debtor": self.who(b["debtor"]),
                    "maturity": int(b["maturity"]),
                    "maturity_date": str(datetime.fromtimestamp(int(b["maturity"]), UTC).date()),
                    "documents_sha256": info["docs"],
                }
            )
        return out

    def owed(self) -> list[dict[str, Any]]:
        """Every holding of the bills we owe (what a redemption file names)."""
        nodes = self.nodes()
        issued = self._bills([n for n, i in nodes.items() if i["kind"] == "BillIssueRequested"])
        mine = {n for n, b in issued.items() if _same(b["debtor"], self.me)}
        ours = [(node, info) for node, info in sorted(nodes.items()) if info["bill"] in mine]
        holders = [n["to"] for n in self._read("node", [(node,) for node, _ in ours])]
        live = [(node, info, h) for (node, info), h in zip(ours, holders) if not _same(h, ZERO)]
        amounts = self._read("balanceOf", [(h, node) for node, _, h in live])
        return [
            {
                "bill_id": info["bill"],
                "node_id": node,
                "holder": self.who(holder),
                "amount": int(amount),
            }
            for (node, info, holder), amount in zip(live, amounts)
            if int(amount)
        ]

    def write_positions(self) -> None:
        block = int(self.agent.w3.eth.block_number)
        held = {"institution": self.agent.spec.id, "as_of_block": block, "holdings": []}
        held["holdings"] = self.holdings()
        self.agent.write_output("positions", "holdings.json", json.dumps(held, indent=2))
        owed = self.owed()
        if owed:
            body = {"institution": self.agent.spec.id, "as_of_block": block, "owed": owed}
            self.agent.write_output("positions", "owed.json", json.dumps(body, indent=2))


_CLIENT_EVENTS = {
    "BillIssueRequested": "on_issue",
    "BillTransferRequested": "on_transfer",
    "BillFinancingRequested": "remember",
    "BillFinancingQuoted": "on_quoted",
    "BillPaymentDeclared": "on_declared",
    **dict.fromkeys(
        (
            "BillReviewed",
            "BillAudited",
            "BillFinancingAgreed",
            "BillFinancingDisbursed",
            "BillRedeemed",
            "BillSettled",
            "BillPaymentConfirmed",
            "BillRequestCancelled",
            "BillRequestExpired",
        ),
        "mark",
    ),
}


class BillClientRole(_HolderRole):
    role = "SUPPLY_CHAIN_CLIENT"
    formats = ("bill-issues", "bill-transfers", "bill-financing", "bill-redemptions")
    decisions = (REVIEW, ACCEPT, CONFIRM)
    events: ClassVar[dict[str, str]] = dict(_CLIENT_EVENTS)

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.windows: dict[int, int] = {}  # financing node -> end of its quote window
        self._piped: BillClient | None = None  # the client sending through the agent's pipe
        self._to_review: dict[int, tuple[int, str]] = {}  # the range's nodes for us: amount, from
        if self.active:
            self.client = BillClient(agent.institution, self.bills, store=agent.store)
            self._review_retries = Retries(agent.store, "bills.review-failed")
            agent.follower.after_range(self.flush_reviews)

    def start(self) -> None:
        if self.active:
            self.client.outbox.resume()
            self._resume_windows()

    def _resume_windows(self) -> None:
        """Our financing requests quoted before a restart are considered again (a quote window's
        end is kept in memory only): `tick` signs the best once its window ended."""
        for node, info in self.nodes().items():
            ours = info["kind"] == "BillFinancingRequested" and _same(info["from"], self.me)
            if ours and self.state(node) == NodeState.QUOTED:
                self.windows[node] = int(self.bills.financing(node)["deadline"])

    def tick(self) -> None:
        """Sign (or queue) the best quote on each publicised request of ours after its window."""
        if not self.windows:
            return
        now = self.now()
        for node, ends in list(self.windows.items()):
            if now >= ends:
                del self.windows[node]
                self._consider(node)

    def handle_file(self, file: Any) -> dict[str, Any]:
        handler = {
            "bill-issues": self.issue,
            "bill-transfers": self.transfer,
            "bill-financing": self.finance,
            "bill-redemptions": self.redeem,
        }[file.format]
        result = handler(file)
        self.write_positions()
        return result

    # ---------------------------------------------------------------- files
    def _ours(self, kind: str, key: str, args: list) -> bool:
        """An earlier run of the same request (a restart): its intent holds the same args."""
        row = self.agent.store.intent(kind, key)
        return row is not None and row["args"] == jsonable(list(args))

    def issue(self, file: Any) -> dict[str, Any]:
        """Every row checked first (nothing sent for a refused file), then each issue once."""
        now, work = self.now(), []
        for n, row in enumerate(file.rows):
            line = line_of(file, n)
            maturity = maturity_of(row["maturity"])
            if maturity <= now:
                raise FileRefused(
                    line, f"maturity {row['maturity']} is not after the chain's time; nothing sent"
                )
            receiver = self.address_of(row["receiver"], line)
            key, args = self.client._issue(
                receiver, row["amount"], maturity, row["documents_sha256"], row["currency"]
            )
            bill_id, block = self.bills.billOfDocuments(self.me, args[4])
            live = int(block) and int(self.bills.bill(bill_id)["status"]) != BillStatus.CANCELLED
            if live and not self._ours(ISSUE, key, args):
                raise FileRefused(
                    line,
                    f"these documents are bill {int(bill_id)} already; nothing of this file "
                    f"was sent",
                )
            work.append((key, args))
        return {"bills": self._send([(ISSUE, key, args) for key, args in work], "billId")}

    def _send(self, work: list[tuple[str, str, list]], field: str) -> list[int]:
        """Each (kind, key, args) once through the outbox, posted through the agent's pipe,
        PHASE_TXS a phase (a file of 200 bills is a few waits, not 200); what each was booked as.
        A batch the chain refuses rejects the file naming it (the phases before stay booked: a
        corrected file finds them on chain)."""
        pipe = self.agent.pipe
        outbox, booked = self._piped_client().outbox, []
        for start in range(0, len(work), PHASE_TXS):
            part = work[start : start + PHASE_TXS]
            try:
                subs = [outbox.submit(kind, key, args) for kind, key, args in part]
                close_phase(pipe, outbox)
            except OutboxConflict as exc:
                close_phase(pipe, outbox)
                raise FileRefused(0, str(exc)) from None
            except (OutboxRefused, TxPipeError) as exc:
                if isinstance(exc, TxPipeTimeout):
                    raise  # fate unknown: the intents stay pending, the file is tried again
                raise FileRefused(0, f"{part[0][0]}: {exc}") from None
            for (kind, key, _), sub in zip(part, subs):
                log.info("%s %s booked as %s", kind, key[:18], sub.booking.value)
                booked.append(int(sub.booking.value[field]))
        return booked

    def _holding(self, file: Any, n: int, row: dict[str, Any]) -> int:
        """The node a transfer or financing row draws on: its node_id, or our holding created by
        the documents of `from_documents`."""
        if row.get("node_id") is not None:
            return int(row["node_id"])
        docs = "0x" + row["from_documents"].hex()
        for node, info in sorted(self.nodes().items()):
            if info["docs"] == docs and int(self.bills.balanceOf(self.me, node)):
                return node
        raise FileRefused(
            line_of(file, n),
            f"no holding of ours came from documents {docs[:12]}…: wait until it is audited "
            f"(outbox/positions/holdings.json lists it) or give node_id",
        )

    def _requests(self, file: Any, kind: str) -> list[tuple[str, list, int]]:
        """(outbox key, args, line) of each row, every row checked against our holdings first;
        rows already on chain from this same request (a restart) are not checked again."""
        work, drawn = [], {}
        for n, row in enumerate(file.rows):
            line, ref = line_of(file, n), doc_hash(row["request_ref"])
            found, block = self.bills.requestOf(self.me, ref)
            if int(block):
                parent = int(self.bills.node(found)["parent"])
                key, args = self._request_args(kind, parent, row, line)
                if not self._ours(_sent_as(kind, args), key, args):
                    raise FileRefused(
                        line,
                        f"request_ref {row['request_ref']!r} was used before (node "
                        f"{int(found)}); give each request a new reference",
                    )
                work.append((key, args, line))
                continue
            node = self._holding(file, n, row)
            key, args = self._request_args(kind, node, row, line)
            drawn[node] = drawn.get(node, 0) + row["amount"]
            held = int(self.bills.balanceOf(self.me, node))
            if drawn[node] > held:
                raise FileRefused(
                    line,
                    f"node {node}: we hold {held:,}, the file draws {drawn[node]:,} on it; "
                    f"nothing of this file was sent",
                )
            work.append((key, args, line))
        return work

    def _request_args(self, kind: str, node: int, row: dict, line: int) -> tuple[str, list]:
        docs, ref = row["documents_sha256"], row["request_ref"]
        if kind == TRANSFER:
            to = self.address_of(row["to"], line)
            return self.client._transfer(node, to, row["amount"], docs, ref)
        key, args = self.client._financing(node, row["amount"], docs, ref)
        minutes = row.get("quote_window_minutes")
        return key, args if minutes is None else [*args, 60 * int(minutes)]

    def transfer(self, file: Any) -> dict[str, Any]:
        work = self._requests(file, TRANSFER)
        return {"nodes": self._send([(TRANSFER, k, a) for k, a, _ in work], "nodeId")}

    def finance(self, file: Any) -> dict[str, Any]:
        """Each request once; a row with quote_window_minutes publicised with that window
        (requestFinancingQuotes): `tick` signs the best quote when it ends."""
        work = self._requests(file, FINANCING)
        return {"nodes": self._send([(_sent_as(FINANCING, a), k, a) for k, a, _ in work], "nodeId")}

    def redeem(self, file: Any) -> dict[str, Any]:
        """Each batch once, every row of a batch the chain does not hold yet checked first: our
        bill, matured, the holder holds it, the payment's way (cash token or off-chain reference)
        the one the bill's currency allows. The rows' reads go in JSON-RPC batches and the
        batches through the agent's pipe: row by row and one redemption a transaction waited for,
        the large day's 295 rows in 100 batches were still being paid after ten minutes."""
        batches: dict[str, list] = {}
        refs: dict[str, Any] = {}
        for n, row in enumerate(file.rows):
            batch = row["batch_ref"]
            holder = self.address_of(row["holder"], line_of(file, n))
            batches.setdefault(batch, []).append((row["node_id"], holder, row["amount"]))
            refs[batch] = row.get("payment_ref")
        pipe, names = self.agent.pipe, list(batches)
        held = pipe.call_many(self.bills, "redemptionOf", [(self.me, doc_hash(b)) for b in names])
        new = {b for b, h in zip(names, held) if int(h[1]) == 0}  # not on chain yet
        self._check_redemptions(file, [n for n, r in enumerate(file.rows) if r["batch_ref"] in new])
        work = [(REDEEM, *self.client._redemption(batches[b], refs[b], b)) for b in names]
        counts = self._send(work, "count")
        return {"batches": names, "holdings": sum(counts)}

    def _check_redemptions(self, file: Any, rows: list[int]) -> None:
        """Refuse the file at the first of `rows` (indexes) that cannot be redeemed, in row order,
        each row's checks in the order a person fixes them; nodes, bills and holdings read in
        JSON-RPC batches, each currency's way of payment once."""
        if not rows:
            return
        pipe, now = self.agent.pipe, self.now()
        ids = list(dict.fromkeys(int(file.rows[n]["node_id"]) for n in rows))
        nodes = dict(zip(ids, pipe.call_many(self.bills, "node", [(i,) for i in ids])))
        live = [i for i in ids if int(nodes[i]["state"]) != NodeState.NONE]
        bill_ids = list(dict.fromkeys(int(nodes[i]["billId"]) for i in live))
        bills = dict(zip(bill_ids, pipe.call_many(self.bills, "bill", [(b,) for b in bill_ids])))
        addresses = self.agent.settings.addresses  # each row's holder known (redeem)
        owned = list(
            dict.fromkeys(
                (addresses[r["holder"]], int(r["node_id"]))
                for r in (file.rows[n] for n in rows)
                if int(r["node_id"]) in live
            )
        )
        balances = dict(zip(owned, pipe.call_many(self.bills, "balanceOf", owned)))
        currencies = dict.fromkeys(b32(b["currency"]) for b in bills.values())
        pays = {c: self._cash_pays(c) for c in currencies}  # currency -> paid on chain
        for n in rows:
            row, line = file.rows[n], line_of(file, n)
            node = int(row["node_id"])
            if int(nodes[node]["state"]) == NodeState.NONE:
                raise FileRefused(line, f"node {node} does not exist")
            bill_id = int(nodes[node]["billId"])
            b = bills[bill_id]
            if not _same(b["debtor"], self.me):
                raise FileRefused(line, f"bill {bill_id} (node {node}) is not ours to pay")
            if now < int(b["maturity"]):
                day = datetime.fromtimestamp(int(b["maturity"]), UTC).date()
                raise FileRefused(line, f"bill {bill_id} matures on {day}; redeem it from then on")
            holding = int(balances[(addresses[row["holder"]], node)])
            if row["amount"] > holding:
                raise FileRefused(
                    line, f"{row['holder']} holds {holding:,} of node {node}, not {row['amount']:,}"
                )
            on_chain = pays[b32(b["currency"])]
            if on_chain == bool(row.get("payment_ref")):
                how = "leave payment_ref empty" if on_chain else "give the wire's payment_ref"
                raise FileRefused(line, f"bill {bill_id}: {how} (its currency's payment way)")

    def _cash_pays(self, currency: Any) -> bool:
        return _cash_pays(self.agent, self.bills, currency)

    # ---------------------------------------------------------------- events
    def on_issue(self, ev: Any) -> None:
        """A bill issued to us: reviewed after the range (`flush_reviews`)."""
        self.remember(ev)
        if _same(ev["receiver"], self.me):
            self._to_review[int(ev["billId"])] = (int(ev["faceValue"]), self.who(ev["debtor"]))

    def on_transfer(self, ev: Any) -> None:
        """A part transferred to us: reviewed after the range (`flush_reviews`)."""
        self.remember(ev)
        if _same(ev["to"], self.me):
            self._to_review[int(ev["nodeId"])] = (int(ev["amount"]), self.who(ev["from"]))

    def flush_reviews(self) -> None:
        """Review the range's nodes addressed to us still requested on chain (read in JSON-RPC
        batches): accepted within `limits.bill_review_max_amount` (auto), else queued for a
        person; the acceptances posted through the agent's pipe, one that fails retried on the
        next ranges."""
        todo, self._to_review = self._to_review, {}
        for d in self._review_retries.due():
            todo.setdefault(int(d["node"]), (int(d["amount"]), str(d["from"])))
        if not todo:
            return
        pipe, ids = self.agent.pipe, list(todo)
        nodes = pipe.call_many(self.bills, "node", [(n,) for n in ids])
        limit = self.limit("bill_review_max_amount")
        accepted = []
        for node, n in zip(ids, nodes):
            if int(n["state"]) != NodeState.REQUESTED:
                continue  # reviewed already (a replayed event), or withdrawn
            amount, sender = todo[node]
            subject = {"node": node, "amount": amount, "from": sender, "limit": limit}
            within = limit is None or amount <= limit
            if self.policy(REVIEW, within, f"bill-review-{node}", subject):
                accepted.append(node)
        client = self._piped_client()

        def accept(node: int) -> list[Any]:
            amount, sender = todo[node]
            log.info("accepting node %d (%s from %s)", node, amount, sender)
            return [client.review(node, True, f"accepted within limits: node {node}")]

        for node, error in send_each(pipe, accepted, accept, phase_size(self.agent)):
            amount, sender = todo[node]
            item = {"node": node, "amount": amount, "from": sender}
            self._review_retries.settle(str(node), item, error)

    def _piped_client(self) -> BillClient:
        """The client sending through the agent's pipe (its outbox over the same store)."""
        if self._piped is None:
            self._piped = self.agent.pipe.piped(self.client)
        return self._piped

    def on_quoted(self, ev: Any) -> None:
        self.dirty = True
        node = int(ev["nodeId"])
        n = self.bills.node(node)
        if not _same(n["from"], self.me) or int(n["state"]) != NodeState.QUOTED:
            return
        ends = int(self.bills.financing(node)["deadline"])  # a quote window's end, before we sign
        if ends > self.now():
            self.windows[node] = ends  # other factors may still outbid: `tick` signs the best
            return
        self._consider(node)

    def _consider(self, node: int) -> None:
        """Sign (policy `financing_accept`) the quote standing on our financing request."""
        if self.state(node) != NodeState.QUOTED:
            return
        f = self.bills.financing(node)
        rate, limit = int(f["rateBps"]), self.limit("financing_max_rate_bps")
        subject = {
            "node": node,
            "factor": str(f["factor"]),
            "rate_bps": rate,
            "proceeds": int(f["proceeds"]),
            "agreement": _hex(f["agreementHash"]),
        }
        if self.policy(ACCEPT, limit is None or rate <= limit, f"bill-quote-{node}", subject):
            self._accept(subject, True)

    def _accept(self, s: dict[str, Any], accept: bool) -> None:
        if self.state(s["node"]) != NodeState.QUOTED:
            return
        log.info(
            "%s quote of node %d at %d bps",
            "accepting" if accept else "declining",
            s["node"],
            s["rate_bps"],
        )
        self.client.accept_financing(
            s["node"], b32(s["agreement"]), s["factor"], s["rate_bps"], accept
        )

    def on_decision(self, decision: Any) -> None:
        s = decision.subject
        if decision.kind == REVIEW:
            if self.state(s["node"]) == NodeState.REQUESTED:
                self.client.review(s["node"], decision.accepted, decision.reason or decision.answer)
        elif decision.kind == ACCEPT:
            self._accept(s, decision.accepted)
        elif decision.kind == CONFIRM and decision.accepted:
            self.confirm(s["declaration"])
        self.outcome(decision, node=s.get("node"))
        self.write_positions()


def _sent_as(kind: str, args: list) -> str:
    """The outbox kind of a request's args: a financing with a quote window (its fifth argument)
    is requestFinancingQuotes."""
    return FINANCE_QUOTES if kind == FINANCING and len(args) == 5 else kind


def _cash_pays(agent: Any, bills: Any, currency: Any) -> bool:
    """The bill contract pays this currency on chain (its cash token's currency)."""
    cash = str(bills.cash())
    if int(cash, 16) == 0:
        return False
    token = next(
        (c for c in agent.suite.contracts.values() if _same(getattr(c, "address", ""), cash)),
        None,
    )
    return token is not None and b32(token.currency()) == b32(currency)


class BillAuditorRole(_BillsRole):
    role = "AUDITOR"
    decisions = (AUDIT,)
    events: ClassVar[dict[str, str]] = {
        "BillReviewed": "on_reviewed",
        "BillFinancingAgreed": "on_agreed",
    }

    def __init__(self, agent: Any):
        super().__init__(agent)
        self._to_audit: dict[int, int] = {}  # the range's nodes -> the state they wait for us in
        self._piped: BillAuditor | None = None
        if self.active:
            self.auditor = BillAuditor(agent.institution, self.bills, store=agent.store)
            self._retries = Retries(agent.store, "bills.audit-failed")
            agent.follower.after_range(self.flush_audits)

    def on_reviewed(self, ev: Any) -> None:
        """An issue or transfer accepted by its receiver: audited after the range."""
        if ev["accepted"]:
            self._to_audit[int(ev["nodeId"])] = NodeState.REVIEWED

    def on_agreed(self, ev: Any) -> None:
        """A financing agreed: audited after the range."""
        if ev["accepted"]:
            self._to_audit[int(ev["nodeId"])] = NodeState.AGREED

    def flush_audits(self) -> None:
        """Audit the range's nodes still waiting for us on chain, unless we are a party to one
        (another audit institution audits it): nodes, bills and locked amounts read in JSON-RPC
        batches, approved within `limits.bill_audit_max_amount` (auto) or queued for a person,
        the audits posted through the agent's pipe, one that fails retried on the next ranges.
        One by one, the medium day's 30 audits held its bills line half a minute."""
        todo, self._to_audit = self._to_audit, {}
        for d in self._retries.due():
            todo.setdefault(int(d["node"]), int(d["waiting"]))
        if not todo:
            return
        pipe, ids = self.agent.pipe, list(todo)
        nodes = dict(zip(ids, pipe.call_many(self.bills, "node", [(n,) for n in ids])))
        waiting = [n for n in ids if int(nodes[n]["state"]) == todo[n]]  # else audited, expired
        bill_ids = list(dict.fromkeys(int(nodes[n]["billId"]) for n in waiting))
        bills = pipe.call_many(self.bills, "bill", [(b,) for b in bill_ids])
        debtor = {b: str(x["debtor"]) for b, x in zip(bill_ids, bills)}
        ours = []
        for n in waiting:
            x = nodes[n]
            if auditor_is_party(self.me, str(x["from"]), str(x["to"]), debtor[int(x["billId"])]):
                log.info("node %d: we are a party to it, another audit institution audits it", n)
            else:
                ours.append(n)
        locked = pipe.call_many(self.bills, "locked", [(n,) for n in ours])
        limit = self.limit("bill_audit_max_amount")
        approved = []
        for n, amount in zip(ours, locked):
            subject = {"node": n, "amount": int(amount), "limit": limit}
            within = limit is None or int(amount) <= limit
            if self.policy(AUDIT, within, f"bill-audit-{n}", subject):
                approved.append(n)
        if self._piped is None:  # the auditor sending through the agent's pipe, made once
            self._piped = pipe.piped(self.auditor)
        auditor = self._piped

        def audit(node: int) -> list[Any]:
            log.info("auditing node %d: approved", node)
            return [auditor.audit(node, True, f"audit of node {node}: documents in order")]

        for node, error in send_each(pipe, approved, audit, phase_size(self.agent)):
            self._retries.settle(str(node), {"node": node, "waiting": todo[node]}, error)

    def on_decision(self, decision: Any) -> None:
        node = decision.subject["node"]
        if self.state(node) in (NodeState.REVIEWED, NodeState.AGREED):
            self.auditor.audit(node, decision.accepted, decision.reason or decision.answer)
        self.outcome(decision, node=node)


class BillFactorRole(_HolderRole):
    role = "ASSET_MANAGER"
    events: ClassVar[dict[str, str]] = {
        "BillIssueRequested": "remember",
        "BillTransferRequested": "remember",
        "BillFinancingRequested": "on_requested",
        "BillFinancingQuoted": "on_quoted",
        "BillAudited": "on_audited",
        "BillPaymentDeclared": "on_declared",
        "BillRedeemed": "mark",
        "BillPaymentConfirmed": "mark",
        "BillFinancingDisbursed": "mark",
    }
    decisions = (CONFIRM,)

    def __init__(self, agent: Any):
        super().__init__(agent)
        rate = agent.settings.line("bills").get("rate_bps")  # none: this member is no factor
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= MAX_RATE_BPS
        ):
            raise SettingsError(
                f"{agent.settings.home / 'agent.yaml'}: bills.rate_bps must be a whole number "
                f"0 .. {MAX_RATE_BPS} (annual discount, basis points), got {rate!r}"
            )
        self.rate = rate
        self.outbid_only = agent.settings.line("bills").get("outbid_only", False)
        if not isinstance(self.outbid_only, bool):
            raise SettingsError(
                f"{agent.settings.home / 'agent.yaml'}: bills.outbid_only must be true or false "
                f"(quote only to beat a standing quote in a quote window), got {self.outbid_only!r}"
            )
        self._to_disburse: list[int] = []  # the range's audited financings
        self._piped_factor: BillFactor | None = None
        if self.active:
            self.factor = BillFactor(agent.institution, self.bills, store=agent.store)
            self._disburse_retries = Retries(agent.store, "bills.disburse-failed")
            agent.follower.after_range(self.flush_disbursements)

    def on_requested(self, ev: Any) -> None:
        """Quote each financing request still waiting, at our rate (agent.yaml `bills.rate_bps`;
        an asset manager without one does not factor); the agreement's text is ours (the holder
        signs its hash, read from the quote). Another factor quoting first is no failure."""
        self.remember(ev)
        self._quote(int(ev["nodeId"]))

    def on_quoted(self, ev: Any) -> None:
        """Another factor quoted in a publicised request's window: outbid it at a lower rate."""
        if not _same(ev["factor"], self.me):
            self._quote(int(ev["nodeId"]))

    def _quote(self, node: int) -> None:
        if self.rate is None or not self._open_to_us(node):
            return  # quoted already (by us before a restart, or by another factor), or beaten
        log.info("quoting node %d at %d bps", node, self.rate)
        try:
            self.factor.quote(
                node, self.rate, f"factoring agreement node {node} at {self.rate} bps"
            )
        except Exception:
            if self._open_to_us(node):
                raise
            log.info("node %d was quoted by another factor first (or better)", node)

    def _open_to_us(self, node: int) -> bool:
        """A request waiting for its first quote (unless we only outbid), or in an open quote
        window a standing quote of another factor our rate beats (QuoteWindow, the chain's rule)."""
        state = self.state(node)
        if state == NodeState.REQUESTED:
            return not self.outbid_only
        if state != NodeState.QUOTED:
            return False
        f = self.bills.financing(node)
        window = QuoteWindow(int(f["deadline"]), best=(str(f["factor"]), int(f["rateBps"])))
        if window.ends == 0 or _same(f["factor"], self.me):
            return False
        try:
            window.quote(self.me, int(self.rate or 0), self.now())
        except QuoteRefused:
            return False
        return True

    def on_audited(self, ev: Any) -> None:
        """An audited financing: paid for after the range (`flush_disbursements`)."""
        self.dirty = True
        if self.active and int(ev["kind"]) == NodeKind.FINANCING and ev["approved"]:
            self._to_disburse.append(int(ev["nodeId"]))

    def flush_disbursements(self) -> None:
        """Pay once for each of the range's audited financings still ours to pay on chain: in
        the cash token when it pays the bill's currency, else declare the wire (the holder's
        confirmation delivers the bill). Nodes and bills read in JSON-RPC batches, our earlier
        declarations in one log query, the payments sent through the agent's pipe; one that fails
        is retried on the next ranges. One by one (a transaction, a block and a log query over the
        whole day each), the large day's 200 financings took half an hour."""
        todo = list(
            dict.fromkeys(
                self._to_disburse + [int(d["node"]) for d in self._disburse_retries.due()]
            )
        )
        self._to_disburse = []
        if not todo:
            return
        pipe = self.agent.pipe
        nodes = pipe.call_many(self.bills, "node", [(n,) for n in todo])
        due = [
            (n, x)
            for n, x in zip(todo, nodes)
            if _same(x["to"], self.me) and int(x["state"]) == NodeState.AUDITED
        ]
        declared = self._declared({n for n, _ in due})
        due = [(n, x) for n, x in due if n not in declared]  # waiting for the holder's confirmation
        bill_ids = list(dict.fromkeys(int(x["billId"]) for _, x in due))
        bills = pipe.call_many(self.bills, "bill", [(b,) for b in bill_ids])
        currency = {b: b32(x["currency"]) for b, x in zip(bill_ids, bills)}
        # currency -> paid on chain (read before sending: a failed read fails no phase)
        pays = {c: _cash_pays(self.agent, self.bills, c) for c in set(currency.values())}
        if self._piped_factor is None:  # the factor sending through the agent's pipe, made once
            self._piped_factor = pipe.piped(self.factor)
        factor = self._piped_factor

        def disburse(item: tuple[int, Any]) -> list[Any]:
            node, x = item
            ref = None if pays[currency[int(x["billId"])]] else f"disbursement {node}"
            log.info("disbursing node %d (%s)", node, "on chain" if ref is None else "off chain")
            return [factor.disburse(node, ref)]

        for (node, _), error in send_each(pipe, due, disburse, phase_size(self.agent)):
            self._disburse_retries.settle(str(node), {"node": node}, error)

    def _declared(self, nodes: set[int]) -> set[int]:
        """Of `nodes`, those we declared an off-chain payment for that still stands (before a
        restart): our declarations read in one log query, their payments in one batch."""
        if not nodes:
            return set()
        topic = self.bills.topics["BillPaymentDeclared"]
        ours = [
            ev
            for ev in self.agent.follower.history(str(self.bills.address), topic)
            if int(ev["nodeId"]) in nodes and _same(ev["payer"], self.me)
        ]
        if not ours:
            return set()
        payments = self.agent.pipe.call_many(
            self.bills, "payment", [(int(ev["declarationId"]),) for ev in ours]
        )
        return {int(ev["nodeId"]) for ev, p in zip(ours, payments) if int(p["kind"]) != 0}

    def on_decision(self, decision: Any) -> None:
        if decision.kind == CONFIRM and decision.accepted:
            self.confirm(decision.subject["declaration"])
        self.outcome(decision)
        self.write_positions()


BILLS_ROLES = [BillClientRole, BillAuditorRole, BillFactorRole]
