"""Supply-chain finance bills: the institutions that issue, pass on, audit, finance and pay them.

- `BillClient`: a core enterprise or supplier (SUPPLY_CHAIN_CLIENT, the membership). Issues bills
  on itself (the debtor: BILL_ISSUER), reviews bills sent to it, passes them (or parts) up its
  supply chain (BILL_TRANSFEROR), asks for financing and signs the factor's agreement
  (BILL_FINANCING_APPLICANT) and, as debtor, pays the holders at maturity (no right needed).
- `BillAuditor`: the audit institution (AUDITOR) that audits every issue, transfer and financing
  it is no party to (segregation of duties: `is_party`).
- `BillFactor`: an asset manager (ASSET_MANAGER) that buys bills at a discount (quote, disburse).

Documents never go on chain: each method takes the document text (or bytes) and sends its keccak
hash. `deploy(proj, registry, admin)` deploys the line's contracts.

Issues, transfer and financing requests, redemptions and deposit issues go through the
institution's outbox (consortium.outbox, over its `store`), keyed by the trade documents' hash, the
request's reference, the redemption's reference and the payment reference: an agent restarted after
a crash books what the chain holds and resends only the rest. Every bill key is scoped to the member
on chain (nobody can use it first), and the probes check that what they find is ours.

Default redemption references are unpredictable (HMAC-SHA256 under a secret salt kept in the
institution's store, so a restarted agent derives the same reference and stays idempotent).

Off-chain payments take two steps: the payer declares (`redeem` or `disburse` with a reference), the
payee confirms receipt (`confirm_payment`), or the payer withdraws an unconfirmed declaration after
its deadline (`withdraw_payment`). Bills the cash token can pay are paid on chain only.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from consortium.domain.bills import BillStatus, NodeState, auditor_is_party, proceeds
from consortium.domain.hashing import code32, doc_hash, new_salt
from consortium.outbox import Outbox, OutboxConflict, Submission, key_of, recorded
from consortium.roles.membership import ActsAs, Institution
from consortium.store import Store

ZERO32 = b"\0" * 32
ISSUE = "BillToken.requestIssue"
TRANSFER = "BillToken.requestTransfer"
FINANCE = "BillToken.requestFinancing"
FINANCE_QUOTES = "BillToken.requestFinancingQuotes"
REDEEM = "BillToken.redeem"
SECRETS = "bills.secret"  # the store's kind for the redemption-reference salt


def _hash(document: str | bytes) -> bytes:
    """A document's hash; a 32-byte value passes through (already a hash or a payment reference)."""
    if isinstance(document, bytes) and len(document) == 32:
        return document
    return doc_hash(document)


# the event (and its id field) each request emits for the node it creates
_REQUESTED = (
    ("BillIssueRequested", "billId"),
    ("BillTransferRequested", "nodeId"),
    ("BillFinancingRequested", "nodeId"),
)


def requested_node(tx: Any) -> int:
    """The node id an issue, transfer or financing request created, from its receipt's events."""
    for event, key in _REQUESTED:
        if event in tx.events:
            return int(tx.events[event][key])
    raise LookupError(f"transaction {tx.txid} created no bill node (no request event)")


@dataclass
class _BillRole(ActsAs):
    """An institution acting on the bill contract with its own account."""

    inst: Institution
    bills: Any
    store: Store = field(default_factory=Store, kw_only=True)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.store)

    def _tx(self) -> dict[str, Any]:
        return {"from": self.account}

    def node(self, node_id: int) -> Any:
        return self.bills.node(node_id)

    def lineage(self, node_id: int) -> list[int]:
        """Node ids from a holding back to the original bill (inclusive)."""
        ids, _ = self.bills.lineage(node_id)
        return [int(i) for i in ids]

    def declarations(self, tx: Any) -> list[int]:
        """Ids of the off-chain payment declarations a receipt made (BillPaymentDeclared)."""
        if tx is None or "BillPaymentDeclared" not in tx.events:
            return []
        return [int(e["declarationId"]) for e in tx.events["BillPaymentDeclared"]]

    def confirm_payment(self, declaration_id: int) -> Any:
        """As payee: confirm we received the declared off-chain payment (burns the redeemed holding,
        or delivers the financed one to the factor). Only after checking our own bank account."""
        return self.bills.confirmPayment(declaration_id, self._tx())

    def withdraw_payment(self, declaration_id: int) -> Any:
        """As payer: withdraw a declaration the payee did not confirm before its deadline."""
        return self.bills.withdrawPayment(declaration_id, self._tx())

    def expire(self, node_id: int, reason: str | bytes) -> Any:
        """As requester or auditor: expire a pending node past its deadline (escrow returned)."""
        return self.bills.expireRequest(node_id, _hash(reason), self._tx())


@dataclass
class BillClient(_BillRole):
    """Core enterprise or supplier: issues, reviews, passes on, finances and pays bills."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.outbox.register_call(
            ISSUE,
            self.bills.requestIssue,
            self._issued,
            lambda receipt, a: {"billId": requested_node(receipt)},
            tx=self._tx,
        )
        for kind, fn in (
            (TRANSFER, self.bills.requestTransfer),
            (FINANCE, self.bills.requestFinancing),
        ):
            self.outbox.register_call(
                kind,
                fn,
                self._requested,
                lambda receipt, a: {"nodeId": requested_node(receipt)},
                tx=self._tx,
            )
        self.outbox.register_call(
            FINANCE_QUOTES,
            self.bills.requestFinancingQuotes,
            lambda a: self._requested(a[:4]),  # the window is the last argument, the ref before it
            lambda receipt, a: {"nodeId": requested_node(receipt)},
            tx=self._tx,
        )
        self.outbox.register_counted(
            REDEEM,
            self.bills.redeem,
            lambda a: self.bills.redemptionOf(self.address, a[0]),
            tx=self._tx,
        )

    def _issued(self, args: list) -> Any:
        """Our live bill issued on these documents, if any (a cancelled one frees them again). The
        key is ours on chain (debtor, documents); a bill found under it owed by anyone else is a
        conflict, never booked as ours."""
        bill_id, block = self.bills.billOfDocuments(self.address, args[4])
        found = recorded(block, billId=int(bill_id))
        if found is None:
            return None
        b = self.bills.bill(bill_id)
        if str(b["debtor"]).lower() != self.address.lower():
            raise OutboxConflict(
                f"{ISSUE}: bill {bill_id} on our documents is owed by {b['debtor']}, not us"
            )
        if int(b["status"]) == BillStatus.CANCELLED:
            return None
        return found

    def _requested(self, args: list) -> Any:
        """The node our request reference (the last argument) created, if any; a node found under
        it that is not our request from the same holding is a conflict (a reused reference)."""
        node_id, block = self.bills.requestOf(self.address, args[-1])
        found = recorded(block, nodeId=int(node_id))
        if found is None:
            return None
        n = self.bills.node(node_id)
        if str(n["from"]).lower() != self.address.lower() or int(n["parent"]) != int(args[0]):
            raise OutboxConflict(
                f"request reference {args[-1]}: node {node_id} is from {n['from']} on node "
                f"{n['parent']}, not our request on node {args[0]}"
            )
        return found

    def _secret(self) -> bytes:
        """The institution's secret salt for redemption references, made once and kept in its store
        (a restarted agent derives the same references: its redemptions stay idempotent)."""
        row = self.store.get(SECRETS, "redemption-salt")
        if row is None:
            row = {"salt": new_salt().hex()}
            self.store.put(SECRETS, "redemption-salt", row)
        return bytes.fromhex(row["salt"])

    def _request_ref(self, request_ref: str | bytes | None, content: list) -> bytes:
        """A request's reference: the one given (hashed), or one derived from its content."""
        if request_ref is None:
            request_ref = json.dumps(["request", content])
        return _hash(request_ref)

    def request_issue(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        """Issue a bill on ourselves, once per set of trade documents; returns (bill id, receipt),
        the receipt None when the chain held the issue already. Arguments: `submit_issue_request`.
        """
        booked = self.outbox.send(ISSUE, *self._issue(*args, **kwargs))
        return int(booked.value["billId"]), booked.tx

    def submit_issue_request(self, *args: Any, **kwargs: Any) -> Submission:
        """The issue request through the outbox without waiting (a pipelined day's phase): its bill
        id is `sub.value["billId"]` once the outbox is collected. Arguments: `_issue`."""
        return self.outbox.submit(ISSUE, *self._issue(*args, **kwargs))

    def _issue(
        self,
        receiver: str,
        face_value: int,
        maturity: int,
        trade_documents: str | bytes,
        currency: str = "CNY",
        require_channel: bool = False,
    ) -> tuple[str, list]:
        """(outbox key, requestIssue arguments) of an issue on ourselves (we owe `receiver`): the
        trade documents' hash is the key (one set of documents, one live bill)."""
        doc = _hash(trade_documents)
        return key_of(doc), [receiver, face_value, code32(currency), maturity, doc, require_channel]

    def review(self, node_id: int, accept: bool, reason: str | bytes) -> Any:
        """Accept or reject an issue or transfer addressed to us (the reason is kept off chain)."""
        return self.bills.review(node_id, accept, _hash(reason), self._tx())

    def cancel_request(self, node_id: int, reason: str | bytes) -> Any:
        """Withdraw our issue, transfer or financing request before anyone acted on it."""
        return self.bills.cancelRequest(node_id, _hash(reason), self._tx())

    def request_transfer(
        self,
        node_id: int,
        to: str,
        amount: int,
        transfer_documents: str | bytes,
        request_ref: str | bytes | None = None,
    ) -> tuple[int, Any]:
        """Pass `amount` of our holding of `node_id` to `to`, once per `request_ref` (by default
        derived from the request: pass one to send the same request twice); returns (new node id,
        receipt), the receipt None when the chain held the request already."""
        booked = self.outbox.send(
            TRANSFER, *self._transfer(node_id, to, amount, transfer_documents, request_ref)
        )
        return int(booked.value["nodeId"]), booked.tx

    def submit_transfer_request(
        self,
        node_id: int,
        to: str,
        amount: int,
        transfer_documents: str | bytes,
        request_ref: str | bytes | None = None,
    ) -> Submission:
        """The transfer request through the outbox without waiting (its node id:
        `sub.value["nodeId"]` once the outbox is collected)."""
        return self.outbox.submit(
            TRANSFER, *self._transfer(node_id, to, amount, transfer_documents, request_ref)
        )

    def _transfer(self, node_id, to, amount, documents, request_ref) -> tuple[str, list]:
        doc = _hash(documents)
        ref = self._request_ref(
            request_ref, ["transfer", node_id, str(to), amount, "0x" + doc.hex()]
        )
        return key_of(ref), [node_id, to, amount, doc, ref]

    def request_financing(
        self,
        node_id: int,
        amount: int,
        request_documents: str | bytes,
        request_ref: str | bytes | None = None,
    ) -> tuple[int, Any]:
        """Offer `amount` of our holding to the factors, once per `request_ref` (as
        `request_transfer`); returns (financing node id, receipt)."""
        booked = self.outbox.send(
            FINANCE, *self._financing(node_id, amount, request_documents, request_ref)
        )
        return int(booked.value["nodeId"]), booked.tx

    def submit_financing_request(
        self,
        node_id: int,
        amount: int,
        request_documents: str | bytes,
        request_ref: str | bytes | None = None,
    ) -> Submission:
        """The financing request through the outbox without waiting (`sub.value["nodeId"]`)."""
        return self.outbox.submit(
            FINANCE, *self._financing(node_id, amount, request_documents, request_ref)
        )

    def request_financing_quotes(
        self, node_id: int, amount: int, request_documents: str | bytes, quote_window: int
    ) -> tuple[int, Any]:
        """Offer `amount` of our holding publicised with a quote window of `quote_window` seconds:
        factors outbid each other until it ends, then we sign the best quote (`accept_financing`).
        Returns (financing node id, receipt)."""
        booked = self.outbox.send(
            FINANCE_QUOTES, *self._quotes(node_id, amount, request_documents, quote_window)
        )
        return int(booked.value["nodeId"]), booked.tx

    def submit_financing_quotes_request(
        self, node_id: int, amount: int, request_documents: str | bytes, quote_window: int
    ) -> Submission:
        """`request_financing_quotes` through the outbox without waiting (`sub.value["nodeId"]`)."""
        return self.outbox.submit(
            FINANCE_QUOTES, *self._quotes(node_id, amount, request_documents, quote_window)
        )

    def _quotes(self, node_id, amount, documents, quote_window) -> tuple[str, list]:
        ref = json.dumps(["financing-quotes", node_id, amount, quote_window])
        key, args = self._financing(node_id, amount, documents, ref)
        return key, [*args, quote_window]

    def _financing(self, node_id, amount, documents, request_ref) -> tuple[str, list]:
        doc = _hash(documents)
        ref = self._request_ref(request_ref, ["financing", node_id, amount, "0x" + doc.hex()])
        return key_of(ref), [node_id, amount, doc, ref]

    def accept_financing(
        self,
        fin_node_id: int,
        agreement: str | bytes,
        factor: str,
        rate_bps: int,
        accept: bool = True,
    ) -> Any:
        """Sign (or decline) the agreement we negotiated with `factor` at `rate_bps`.

        The terms come from our side of the negotiation, never from the chain's quote: the contract
        refuses the signature unless the stored quote is exactly these terms, so a factor that
        front-ran the quote with our agreement hash at another rate cannot get it accepted.
        """
        return self.bills.acceptFinancing(
            fin_node_id, accept, _hash(agreement), factor, rate_bps, self._tx()
        )

    def redeem(
        self,
        items: list[tuple[int, str, int]],
        payment_ref: str | bytes | None = None,
        batch_ref: str | bytes | None = None,
    ) -> Any:
        """Pay holders [(node id, holder, amount), …] at maturity; on chain cash when no reference,
        otherwise a declaration of the off-chain payment per holding (each holder confirms it).

        `batch_ref` names this redemption (its payment order) and makes it happen once (the key is
        ours on chain: (debtor, reference)); by default it is derived from the items and the
        reference under our secret salt (unpredictable to others, the same after a restart), so pass
        one to pay the same items twice (instalments). Returns the transaction (through a pipe in
        flight until the outbox is collected), or None when the chain held the redemption
        already."""
        return self.outbox.submit(REDEEM, *self._redemption(items, payment_ref, batch_ref)).tx

    def _redemption(self, items, payment_ref, batch_ref) -> tuple[str, list]:
        """(outbox key, arguments) of `redeem`: an agent posts many through its pipe."""
        nodes, holders, amounts = zip(*items) if items else ((), (), ())
        ref = ZERO32 if payment_ref is None else _hash(payment_ref)
        if batch_ref is None:
            content = json.dumps(["redeem", [list(i) for i in items], "0x" + ref.hex()])
            key = hmac.new(self._secret(), content.encode(), "sha256").digest()
        else:
            key = _hash(batch_ref)
        return key_of(key), [key, list(nodes), list(holders), list(amounts), ref]

    def holding(self, node_id: int) -> int:
        return int(self.bills.balanceOf(self.address, node_id))

    def mark_overdue(self, bill_id: int) -> Any:
        return self.bills.markOverdue(bill_id, self._tx())


@dataclass
class BillAuditor(_BillRole):
    """Audit institution: qualification audit of every issue, transfer and financing."""

    def audit(self, node_id: int, approve: bool, report: str | bytes) -> Any:
        """Record the audit result and the hash of the audit report kept off chain."""
        return self.bills.audit(node_id, approve, _hash(report), self._tx())

    def is_party(self, node_id: int) -> bool:
        """Whether we are a party to the node (its sender or holder, receiver or factor, or the
        bill's debtor): the chain refuses our audit of it (BillAuditorIsParty), another audit
        institution audits it."""
        n = self.bills.node(node_id)
        debtor = self.bills.bill(n["billId"])["debtor"]
        return auditor_is_party(self.address, str(n["from"]), str(n["to"]), str(debtor))

    def pending(self, node_ids: list[int]) -> list[int]:
        """Of `node_ids`, those waiting for us (reviewed issues/transfers, agreed financings)."""
        waiting = (int(NodeState.REVIEWED), int(NodeState.AGREED))
        return [n for n in node_ids if int(self.bills.node(n)["state"]) in waiting]


@dataclass
class BillFactor(_BillRole):
    """Asset manager (factor): prices financing requests and pays for the bills it buys."""

    def price(self, fin_node_id: int, rate_bps: int, now: int) -> int:
        """Proceeds we would pay at `rate_bps` if we quoted at `now`
        (same rounding as the chain)."""
        n = self.bills.node(fin_node_id)
        b = self.bills.bill(n["billId"])
        return proceeds(int(self.bills.locked(fin_node_id)), rate_bps, int(b["maturity"]), now)

    def quote(self, fin_node_id: int, rate_bps: int, agreement: str | bytes) -> Any:
        """Accept the request at an annual discount rate and propose the agreement (its hash)."""
        return self.bills.quoteFinancing(fin_node_id, rate_bps, _hash(agreement), self._tx())

    def disburse(self, fin_node_id: int, payment_ref: str | bytes | None = None) -> Any:
        """Pay the holder on chain in deposits and take the bill, atomically; with a reference,
        declare the off-chain payment instead (the bill moves when the holder confirms it)."""
        ref = ZERO32 if payment_ref is None else _hash(payment_ref)
        return self.bills.disburseFinancing(fin_node_id, ref, self._tx())
