"""The wealth-product confirmations and next-day reconciliation line as agents, one per institution.

Who starts what (no Python object is shared; data between institutions goes over the signed HTTP
transport, sealed by `channels.Endpoint`, or the chain):
- SALES_BANK and PRODUCT_ISSUER: `product-rules` files -> each product's qualification rules
  approved as its terms (ConsortiumRegistry.approveAmendment) with the party's own key, once (terms
  in force or an approval of ours on chain are left as they are); the permission manager enacts
  them once both approved (in the multi-process day: the operations office, scenarios' `govern`).
  The sales bank screens orders by the rules it approved (else the consortium file's).
- SALES_BANK: `customers` files -> per chunk of REG_CHUNK registrations, the chain read in one
  JSON-RPC batch, each missing salted profile committed (submitRegistration, posted through the
  agent's TxPipe without waiting for each), then one message per issuer with every profile and
  salt of the chunk ("registrations"); a registration the chain refuses is written out as refused
  with its reason, the others go on. The issuer's results ("registration-results") make each
  customer accepted or rejected (outbox/registrations/). `orders` files -> each order screened
  against the product's jointly agreed rules (refusals with their reason in outbox/screening/),
  one packet per issuer and day sent ("packet"); each packet's signed confirmations
  ("confirmations") are verified, the packet's root anchored once (ConfirmationAnchor.anchorPacket)
  and written to outbox/confirmations/.
- PRODUCT_ISSUER: a "registrations" message is read from the chain in one batch, each profile
  checked against its commitment (a mismatch is answered rejected with the reason), the pending
  ones decided on chain through the pipe in one phase, and every result sent back in one
  "registration-results" message; a packet's requests are confirmed and signed (EIP-712). Policy
  `order_review`: an order above `limits.order_review_max_amount` is refused (auto, the default)
  or queued for a person (agent.yaml `decisions: {order_review: queue}`, answered with `consortium
  decide`); the packet's confirmations go back once every request is answered.
- BANK: `credits` files -> each batch of the day's bilateral details sent to the finance company
  to countersign ("countersign-request"); once its EIP-712 countersignature is back and checked
  ("countersignature"), the root committed on chain with it (commitBilateral) and the bank's copy
  ("bilateral") sent to the reconciler; the bank's credit details ("credit") to the reconciler.
- FINANCE_COMPANY: countersigns each batch whose rows rebuild the root, count and total it claims
  (else answers "countersign-refused" with the reason); `debits` files -> its debit details sent
  to the reconciler ("debit-details").
  Once the reconciler's result of a day is here, the day reconciled on chain with every break
  recorded, the result's corrected total the committed one and its funds enough: pays the day
  (Reconciliation.settleDay, through its outbox: asked of the chain first), once; written to
  outbox/payments/.
- RECONCILER: holds each day's details in its store; at its cut-off (agent.yaml
  `confirmations: {cutoff: "HH:MM"}` on the next local business day, or "now") and once the chain
  allows it (the contract's business time zone),
  closes the day, reconciles, records the result and breaks on chain and sends the result to both
  parties ("reconciliation-result"); each writes it to outbox/reconciliations/.

Every message is handled once (journal `conf.msg:<id>`) and acknowledged only after it was handled,
so a kill at any point replays it; each handler is idempotent (the chain asked first, keyed outbox
batches, deterministic ids, stored signed confirmations). A message that cannot be opened or
verified is set aside (acknowledged, recorded as `conf.refused` with its reason) and never blocks
the queue.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from consortium.agent.base import FileRefused, Role
from consortium.agent.formats import ORDER_KINDS, age_on
from consortium.agent.settings import SettingsError
from consortium.channels import Endpoint, Message
from consortium.domain import days, eip712, qualification
from consortium.domain.encoding import from_hex, hexstr
from consortium.domain.hashing import code32, commit, doc_hash, new_salt
from consortium.outbox import key_of
from consortium.roles.confirmations import (
    COMMIT,
    MAX_BILATERAL_BATCH,
    MAX_PACKET,
    CountersignRefused,
    FinanceCompany,
    PaymentClient,
    Reconciler,
    SalesBank,
    anchor_domain,
    bilateral_args,
    bilateral_batch,
    bilateral_domain,
    bilateral_of,
    countersign,
    countersign_request,
    outcome,
)
from consortium.roles.confirmations import (
    order_of as request_order,
)

log = logging.getLogger("consortium.agent")

LINE = "confirmations"  # agent.yaml section
ORDER_REVIEW = "order_review"  # issuer policy: orders above limits.order_review_max_amount
REVIEW_LIMIT = "order_review_max_amount"
REVIEW_REFUSED = "REFUSED_ON_ORDER_REVIEW"  # reason code of an order refused by policy or a person
PENDING, ACCEPTED = 1, 2  # IConfirmationAnchor.RegistrationStatus.Pending, .Accepted
ZERO_ADDRESS = "0x" + "00" * 20


REG_CHUNK = 200  # registrations per pipe phase and per message to one issuer
CUSTOMER_OF = "conf.customer-of"  # the sales bank's index of its customers (SalesBankRole._index)


class MessageSetAside(Exception):
    """A message opened fine but its content cannot be accepted (names another issuer, a request
    never sent, a bad signature): it is recorded as refused and acknowledged, never retried."""


def product_rules(consortium: Any, addresses: dict[str, str], bank: str) -> dict[str, Any]:
    """{wealth product id: QualificationRules} from the consortium file's `products.wealth`
    (issuer, risk_level, min_age, min_amount) as sales bank `bank` agrees them; the product's
    on-chain id is code32 of its id."""
    out = {}
    for p in consortium.products.get("wealth") or []:
        issuer = addresses.get(str(p["issuer"]))
        if issuer is None:
            continue
        out[str(p["id"])] = qualification.QualificationRules(
            code32(str(p["id"])),
            issuer,
            product_risk=int(p.get("risk_level", 1)),
            min_age=int(p.get("min_age", 18)),
            sales_bank=bank,
            min_amount=int(p.get("min_amount", 0)),
        )
    return out


def issuer_products(consortium: Any, issuer_id: str) -> dict[bytes, qualification.Product]:
    """The issuer's own products as the consortium file's `products.wealth` describes them:
    business types `open` (default all), `min_amount`, `max_amount`, `quota` (minor units) and a
    `cutoff` "HH:MM" (UTC, into the order's day)."""
    out = {}
    for p in consortium.products.get("wealth") or []:
        if str(p["issuer"]) != issuer_id:
            continue
        kinds = p.get("open") or list(ORDER_KINDS)
        cutoff = p.get("cutoff")
        pid = code32(str(p["id"]))
        out[pid] = qualification.Product(
            pid,
            open_kinds=frozenset(ORDER_KINDS[str(k)] for k in kinds),
            min_amount=int(p.get("min_amount", 0)),
            max_amount=None if p.get("max_amount") is None else int(p["max_amount"]),
            quota=None if p.get("quota") is None else int(p["quota"]),
            cutoff=None if cutoff is None else _hhmm_seconds(str(cutoff)),
        )
    return out


def _hhmm_seconds(text: str) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    return hours * 3600 + minutes * 60


def agreed_rules(role: Any) -> dict[str, Any]:
    """The rules this agent screens by: the consortium file's, replaced by those its
    `product-rules` files approved (the terms both parties sign off)."""
    out = product_rules(role.agent.consortium, role.agent.settings.addresses, role.me)
    for pid, r in role.agent.store.all("conf.rules").items():
        out[pid] = qualification.QualificationRules(
            code32(pid),
            r["issuer"],
            product_risk=int(r["product_risk"]),
            min_age=int(r["min_age"]),
            require_registered=bool(r["require_registered"]),
            sales_bank=role.me,
            min_amount=int(r.get("min_amount", 0)),
        )
    return out


def _b32(value: Any) -> bytes:
    return bytes(value) if isinstance(value, (bytes, bytearray)) else from_hex(str(value))


def day_number(value: dt.date) -> int:
    return days.parse_day(value)


def _registration_entry(entry: Any) -> tuple[bytes, dict[str, Any]] | None:
    """(registration id, entry) of one entry of a registrations message; None when it does not
    parse (it is left unanswered: it must not keep the message from being handled)."""
    try:
        reg_id = from_hex(entry["registration_id"])
        if (
            len(reg_id) != 32
            or len(from_hex(entry["salt"])) != 32
            or not isinstance(entry["registration_id"], str)
            or not isinstance(entry["profile"], dict)
            or not isinstance(entry["investor"], str)
        ):
            return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return reg_id, entry


def _chain_now(agent: Any) -> int:
    return int(agent.w3.eth.get_block("latest")["timestamp"])


class _ConfRole(Role):
    """What every role of the line shares: the contracts, the member addresses, the endpoint over
    the agent's transport and the once-only message loop."""

    @property
    def anchor(self) -> Any:
        return self.agent.suite["ConfirmationAnchor"]

    @property
    def recon(self) -> Any:
        return self.agent.suite["Reconciliation"]

    @property
    def me(self) -> str:
        return str(self.agent.account.address)

    @property
    def endpoint(self) -> Endpoint:
        """The agent's endpoint (two roles of one institution share it)."""
        return self.agent.endpoint("confirmations")

    def participant(self, cls: type) -> Any:
        """The line's role object (roles/confirmations.py) on this agent's key, store, endpoint."""
        return cls(
            self.agent.institution,
            self.anchor,
            self.recon,
            self.agent.store,
            self.endpoint,
            self.agent.local,
        )

    @property
    def registry(self) -> Any:
        return self.agent.suite.registry

    def registrations(self, ids: list[bytes]) -> list[tuple[str, str, int, bytes]]:
        """(sales bank, issuer, status, commitment) of each registration, read in one JSON-RPC
        batch through the agent's pipe (one round trip for a chunk, not one per registration)."""
        rows = self.agent.pipe.call_many(self.anchor, "getRegistration", [(i,) for i in ids])
        return [(str(r[0]), str(r[1]), int(r[2]), _b32(r[3])) for r in rows]

    def piped_phase(self, fn: str, calls: list[tuple]) -> list[str | None]:
        """`anchor.fn(*args)` for each args, posted through the agent's pipe without waiting for
        each, the phase closed before returning (the pipe's nonces live only between waits: brownie
        sends next): each transaction's error, None when mined fine. Receipts that never came raise
        TxPipeTimeout (their fate unknown: the caller's retry asks the chain first)."""
        pipe = self.agent.pipe
        method = getattr(pipe.piped(self.anchor), fn)
        tx = self.agent.tx()
        sent = []
        try:
            for args in calls:
                sent.append(method(*args, tx))
        finally:
            pipe.wait(raise_on_failure=False)
        return [None if p.status == 1 else str(p.error) for p in sent]

    def address(self, ident: str, line: int = 0) -> str:
        address = self.agent.settings.addresses.get(ident)
        if address is None:
            raise FileRefused(
                line, f"no member address for {ident!r}: add it under 'addresses:' in agent.yaml"
            )
        return str(address)

    def ident_of(self, address: str) -> str:
        for ident, a in self.agent.settings.addresses.items():
            if str(a).lower() == address.lower():
                return str(ident)
        return address

    def only_one(self, role: str) -> str:
        """The address of the consortium's one institution holding `role`."""
        ids = [i.id for i in self.agent.consortium.institutions if role in i.roles]
        if len(ids) != 1:
            raise SettingsError(f"the consortium file must name one {role}, it names {ids}")
        return self.address(ids[0])

    def send_once(self, step: str, to: str, kind: str, body: Any) -> None:
        """Send a message unless the journal says it went (a kill between the send and the mark
        sends it again: every receiver dedupes by business key)."""
        if self.agent.store.done(step):
            return
        m = self.endpoint.send(to, kind, body)
        self.agent.store.mark(step, m.msg_id)

    def handle_messages(self, kinds: list[str], handle: Callable[[Message], None]) -> None:
        """Each pending message of `kinds` handled once, acknowledged after; one that cannot be
        opened or accepted is set aside; one whose handling fails for a passing reason (the node)
        stays pending for the next loop."""
        ep = self.endpoint
        for m in ep.receive(kinds, ack=False, refuse=self.set_aside):
            step = f"conf.msg:{m.msg_id}"
            if not self.agent.store.done(step):
                try:
                    handle(m)
                except MessageSetAside as exc:
                    self.set_aside(m.msg_id, exc, m)
                except Exception:
                    log.exception("%s message %s failed; kept for the next loop", m.kind, m.msg_id)
                    continue
                self.agent.store.mark(step, m.kind)
            ep.transport.ack(ep.member, m.msg_id)
            if self.agent.stopping:
                return

    def set_aside(self, msg_id: str, exc: Exception, m: Message | None = None) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("message %s set aside: %s", msg_id, reason)
        body = {"reason": reason, "at": int(time.time())}
        if m is not None:
            body |= {"kind": m.kind, "sender": m.sender}
        self.agent.store.put("conf.refused", msg_id, body)

    def write_result(self, body: dict[str, Any], day: int, parties: str) -> None:
        name = f"{days.day_date(day)}-{parties}.json"
        self.agent.write_output("reconciliations", name, json.dumps(body, indent=2))

    def on_result(self, m: Message) -> None:
        """A reconciler's day result addressed to this institution: kept and written out."""
        body = m.body
        self.agent.store.put("conf.result", f"{body['day']}:{m.sender.lower()}", body)
        self.write_result(
            body | {"reconciler": self.ident_of(m.sender)}, int(body["day"]), "result"
        )

    # ---------------------------------------------------------------- product rules
    def approve_rules(self, file: Any) -> dict[str, Any]:
        """Approve each row's rules as its product's terms with this institution's key, once (the
        chain asked first: terms in force or an approval of ours are left as they are)."""
        rows = [self._rules_of(file, n, row) for n, row in enumerate(file.rows)]
        approved = 0
        for row, rules, bank in rows:
            status = self._approve_once(rules, bank)
            approved += status == "approved"
            if self.role == "SALES_BANK":
                self.agent.store.put("conf.rules", row["product"], _rules_doc(rules))
            out = {
                "product": row["product"],
                "sales_bank": row["sales_bank"],
                "issuer": row["issuer"],
                "terms_id": hexstr(rules.terms_id),
                "terms_hash": hexstr(rules.terms_hash()),
                "status": status,
            }
            name = f"{row['product']}-{row['sales_bank']}.json"
            self.agent.write_output("product-rules", name, json.dumps(out, indent=2))
        return {"products": len(rows), "approved": approved}

    def _rules_of(self, file: Any, n: int, row: dict) -> tuple[dict, Any, str]:
        line = file.line_of(n)
        bank, issuer = self.address(row["sales_bank"], line), self.address(row["issuer"], line)
        rules = qualification.QualificationRules(
            code32(row["product"]),
            issuer,
            product_risk=row["product_risk"],
            min_age=row["min_age"],
            require_registered=bool(row["require_registered"]),
            sales_bank=bank,
        )
        a, b, _, version = self.registry.getTerms(rules.terms_id)
        if int(version) and (str(a).lower(), str(b).lower()) != (bank.lower(), issuer.lower()):
            raise FileRefused(
                line,
                f"the terms of {row['product']!r} are agreed between {self.ident_of(str(a))} and "
                f"{self.ident_of(str(b))}; only they can amend them; nothing of this file was "
                "approved",
            )
        return row, rules, bank

    def _approve_once(self, rules: Any, bank: str) -> str:
        """'in force' (nothing to do) or 'approved' (now, or found approved by us on chain:
        approveAmendment refuses a second approval, and a restart must not send one)."""
        _, _, held, version = self.registry.getTerms(rules.terms_id)
        wanted = rules.terms_hash()
        if _b32(held) == wanted:
            return "in force"
        for ev in self.agent.events_of(self.registry, "AmendmentApproved"):
            a = ev.args
            if (
                _b32(a["termsId"]) == rules.terms_id
                and str(a["party"]).lower() == self.me.lower()
                and _b32(a["amendmentHash"]) == wanted
                and int(a["version"]) == int(version) + 1
            ):
                return "approved"
        log.info("approving the rules of 0x%s as terms v%d", rules.product_id.hex()[:12], version)
        self.registry.approveAmendment(rules.terms_id, bank, rules.issuer, wanted, self.agent.tx())
        return "approved"


def _rules_doc(rules: Any) -> dict[str, Any]:
    return {
        "issuer": rules.issuer,
        "product_risk": rules.product_risk,
        "min_age": rules.min_age,
        "require_registered": rules.require_registered,
        "min_amount": rules.min_amount,
    }


# ===================================================================== sales bank and issuers


class SalesBankRole(_ConfRole):
    role = "SALES_BANK"
    formats = ("product-rules", "customers", "orders")

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.bank: SalesBank | None = None

    def start(self) -> None:
        self.bank = self.participant(SalesBank)
        self.bank.rules = {r.product_id: r for r in agreed_rules(self).values()}
        self.bank.outbox.resume()

    def handle_file(self, file: Any) -> dict[str, Any]:
        if file.format == "product-rules":
            return self.approve_rules(file)
        if file.format == "customers":
            return self.register(file)
        return self.orders(file)

    def tick(self) -> None:
        self.handle_messages(["registration-results"], self.on_registration_results)
        self.handle_messages(["confirmations"], self.on_confirmations)

    # ---------------------------------------------------------------- registrations
    def register(self, file: Any) -> dict[str, Any]:
        """Each customer registered with the issuer named (once: a known registration is left as
        it is): the profile's salted commitment on chain, the profile and salt to the issuer. Per
        chunk of REG_CHUNK registrations, the chain is read in one batch, the missing commitments
        are posted through the agent's pipe without waiting for each, then one message per issuer
        carries the chunk's registrations (0.86 s per registration sent and waited for before)."""
        for n, row in enumerate(file.rows):
            self.address(row["issuer"], file.line_of(n))
        items: dict[str, dict[str, Any]] = {}
        for row in file.rows:  # a row repeated in the file is one registration
            item = self._registration(file, row)
            if item is not None:
                items.setdefault(item["reg"]["id"], item)
        todo = list(items.values())  # the same list, in the same order, when the file is retried
        for k, start in enumerate(range(0, len(todo), REG_CHUNK)):
            part = todo[start : start + REG_CHUNK]
            self._submit(part)
            by_issuer: dict[str, list[dict[str, Any]]] = {}
            for item in part:
                if item["reg"]["status"] != "refused":
                    by_issuer.setdefault(item["issuer"], []).append(item["body"])
            for issuer, bodies in by_issuer.items():
                log.info("%d registrations to %s", len(bodies), self.ident_of(issuer))
                self.send_once(
                    f"conf.regs-sent:{file.sha256}:{issuer}:{k}",
                    issuer,
                    "registrations",
                    {"registrations": bodies},
                )
        refused = [
            {
                "customer_id": i["customer_id"],
                "issuer": i["issuer_id"],
                "reason": i["reg"]["reason"],
            }
            for i in todo
            if i["reg"]["status"] == "refused"
        ]
        return {
            "customers": len(file.rows),
            "registrations_sent": len(todo) - len(refused),
            "refused": refused,
        }

    def _customer(self, row: dict) -> dict[str, Any]:
        cid = row["customer_id"]
        c = self.agent.store.get("conf.customer", cid)
        if c is None:
            salt = new_salt()
            c = {
                "salt": hexstr(salt),
                "investor": hexstr(commit(f"investor:{cid}", salt)),
                "birth_date": row["birth_date"].isoformat(),
                "risk_level": row["risk_level"],
                "registrations": {},
            }
            self._index(f"inv:{c['investor']}", cid)
            self.agent.store.put("conf.customer", cid, c)
        return c

    def _registration(self, file: Any, row: dict) -> dict[str, Any] | None:
        """The row's registration (kept in the customer's row before anything is sent: its id
        and salt are the same on a retry); None when an earlier file registered the customer with
        this issuer (a registration the chain refused may be asked again by a later file)."""
        cid, issuer_id = row["customer_id"], row["issuer"]
        c = self._customer(row)
        reg = c["registrations"].get(issuer_id)
        if reg is not None and reg["source"] != file.sha256:
            if reg["status"] != "refused":
                return None
            reg = None
        if reg is None:
            reg = {
                "id": hexstr(doc_hash(f"{self.me}:{file.sha256}:{cid}:{issuer_id}")),
                "salt": hexstr(new_salt()),
                "source": file.sha256,
                "status": "pending",
            }
            c["registrations"][issuer_id] = reg
            self._index(f"reg:{reg['id']}", cid)
            self.agent.store.put("conf.customer", cid, c)
        profile = {
            "customer_id": cid,
            "birth_date": c["birth_date"],
            "risk_level": c["risk_level"],
            "kyc_ok": bool(row["kyc_ok"]),
        }
        body = {
            "registration_id": reg["id"],
            "profile": profile,
            "salt": reg["salt"],
            "investor": c["investor"],
        }
        return {
            "customer_id": cid,
            "issuer_id": issuer_id,
            "issuer": self.address(issuer_id),
            "reg": reg,
            "body": body,
            "commitment": commit(json.dumps(profile, sort_keys=True), from_hex(reg["salt"])),
        }

    def _submit(self, part: list[dict[str, Any]]) -> None:
        """Commit each registration of the chunk the chain does not hold yet, through the agent's
        pipe, and close the phase before returning (brownie sends next). A registration the
        chain refuses (e.g. no open channel to that issuer) is recorded as refused with the
        reason, and the others go on; one that timed out raises, and the file is retried."""
        live = [i for i in part if i["reg"]["status"] != "refused"]
        held = self.registrations([from_hex(i["reg"]["id"]) for i in live])
        missing = [i for i, r in zip(live, held) if r[0] == ZERO_ADDRESS]
        if not missing:
            return
        log.info("registering %d customers", len(missing))
        calls = [(i["issuer"], from_hex(i["reg"]["id"]), i["commitment"]) for i in missing]
        errors = self.piped_phase("submitRegistration", calls)
        failed = [(i, e) for i, e in zip(missing, errors) if e is not None]
        if not failed:
            return
        now = self.registrations([from_hex(i["reg"]["id"]) for i, _ in failed])
        for (i, error), r in zip(failed, now):
            if r[0].lower() != self.me.lower():  # not ours on chain after all (else: sent before)
                self._refused(i, str(error))

    def _refused(self, item: dict[str, Any], reason: str) -> None:
        log.warning(
            "registration of %s with %s refused: %s", item["customer_id"], item["issuer_id"], reason
        )
        item["reg"] |= {"status": "refused", "reason": reason}
        c = self.agent.store.get("conf.customer", item["customer_id"])
        c["registrations"][item["issuer_id"]] = item["reg"]
        self.agent.store.put("conf.customer", item["customer_id"], c)
        out = {"customer_id": item["customer_id"], "issuer": item["issuer_id"]}
        self._write_registration(out | {"status": "refused", "reason": reason})

    def _write_registration(self, out: dict[str, Any]) -> None:
        name = f"{out['customer_id']}-{out['issuer']}.json"
        self.agent.write_output("registrations", name, json.dumps(out, indent=2))

    def _index(self, key: str, cid: str) -> None:
        """`reg:<registration id>` or `inv:<investor commitment>` -> the customer id: a result or a
        confirmation finds its customer without reading every customer (2,000 customers x 10,000
        confirmations on the large day). Written before the customer's row."""
        self.agent.store.put(CUSTOMER_OF, key, {"customer_id": cid})

    def _customers_by(self, key: str) -> list[tuple[str, dict]]:
        """The customer `key` indexes, else every customer (a row written before its index)."""
        found = self.agent.store.get(CUSTOMER_OF, key)
        c = found and self.agent.store.get("conf.customer", found["customer_id"])
        if c:
            return [(found["customer_id"], c)]
        return list(self.agent.store.all("conf.customer").items())

    def on_registration_results(self, m: Message) -> None:
        """An issuer's results of the registrations it was sent: each makes its customer accepted
        or rejected (written to outbox/registrations/); applying one twice changes nothing. Results
        naming no registration of ours with that issuer are set aside, the others applied."""
        results = m.body.get("results") if isinstance(m.body, dict) else None
        if not isinstance(results, list) or not results:
            raise MessageSetAside("a registration-results message without results")
        unknown = [r for r in results if not self._apply_result(m.sender, r)]
        if unknown:
            shown = ", ".join(str(r.get("registration_id"))[:12] for r in unknown[:3])
            raise MessageSetAside(
                f"{len(unknown)} of {len(results)} results name no registration sent from here "
                f"to {m.sender} ({shown})"
            )

    def _apply_result(self, sender: str, result: Any) -> bool:
        if not isinstance(result, dict) or not isinstance(result.get("registration_id"), str):
            return False
        rid = result["registration_id"]
        for cid, c in self._customers_by(f"reg:{rid}"):
            for issuer_id, reg in c["registrations"].items():
                if reg["id"] != rid or reg["status"] == "refused":
                    continue
                if self.address(issuer_id).lower() != sender.lower():
                    return False
                status = "accepted" if result.get("accepted") is True else "rejected"
                out = {"customer_id": cid, "issuer": issuer_id, "status": status}
                if result.get("reason"):
                    out["reason"] = str(result["reason"])
                self._write_registration(out)  # the same file again for a repeated result
                if reg["status"] != status:
                    reg["status"] = status
                    self.agent.store.put("conf.customer", cid, c)
                return True
        return False

    # ---------------------------------------------------------------- orders
    def orders(self, file: Any) -> dict[str, Any]:
        """Every row checked first (a refused file sends nothing); then screened, the accepted
        orders sent as one packet per issuer and day."""
        rules = agreed_rules(self)
        self.bank.rules = {r.product_id: r for r in rules.values()}
        # the file's customers and earlier orders read in a few queries, its orders written in
        # one commit: a query or commit per row was most of a 330-order file's 6.7 s
        store = self.agent.store
        customers = store.get_many("conf.customer", sorted({r["customer_id"] for r in file.rows}))
        earlier = store.get_many("conf.order", [r["order_id"] for r in file.rows])
        for n, row in enumerate(file.rows):
            self._check_order(file, n, row, customers, earlier)
        items = [self._request(row, rules, customers[row["customer_id"]]) for row in file.rows]
        store.put_many(
            "conf.order",
            {oid: {"source": file.sha256, "request": hexstr(q.requestId)} for q, _, oid in items},
        )
        ok_ids, rejected = qualification.screen(
            (request_order(q, inv) for q, inv, _ in items),
            self.bank.rules,
            self.bank.agreed_hashes(),
        )
        ok = set(ok_ids)
        order_of = {q.requestId: oid for q, _, oid in items}
        store.put_many("request", {hexstr(q.requestId): q.to_json() for q, _, _ in items})
        store.put_many("conf.order-of", {hexstr(q.requestId): {"order_id": o} for q, _, o in items})
        packets: dict[tuple[str, int], list[eip712.Request]] = {}
        for q, _, _ in items:
            if q.requestId in ok:
                packets.setdefault((q.issuer, q.period), []).append(q)
        for (issuer, period), reqs in packets.items():
            for k, start in enumerate(range(0, len(reqs), MAX_PACKET)):
                part = reqs[start : start + MAX_PACKET]
                body = {"period": period, "requests": [q.to_json() for q in part]}
                log.info("packet of %d orders to %s", len(part), self.ident_of(issuer))
                self.send_once(
                    f"conf.packet:{file.sha256}:{issuer}:{period}:{k}", issuer, "packet", body
                )
        refused = [
            {"order_id": order_of[r.request_id], "codes": list(r.codes), "reason": r.reason}
            for r in rejected
        ]
        screening = {"file": file.name, "sent": len(ok), "refused": refused}
        self.agent.write_output(
            "screening", f"{file.path.stem}.json", json.dumps(screening, indent=2)
        )
        return {"orders": len(items), "sent": len(ok), "packets": len(packets), "refused": refused}

    def _check_order(
        self, file: Any, n: int, row: dict, customers: dict[str, dict], orders: dict[str, dict]
    ) -> None:
        """`customers` and `orders`: the store's customers and orders of the file's rows."""
        line, oid = file.line_of(n), row["order_id"]
        if row["customer_id"] not in customers:
            raise FileRefused(
                line,
                f"customer {row['customer_id']!r} is not known here; register them with a "
                f"customers file first; nothing of this file was sent",
            )
        earlier = orders.get(oid)
        if earlier is not None and earlier["source"] != file.sha256:
            raise FileRefused(
                line,
                f"order {oid!r} was sent already (by an earlier file); nothing of this file "
                f"was sent",
            )

    def _request(
        self, row: dict, rules: dict[str, Any], c: dict[str, Any]
    ) -> tuple[eip712.Request, qualification.Investor, str]:
        """The order as a request, with the customer `c` as the rules see them on the order's
        day."""
        oid = row["order_id"]
        rid = doc_hash(f"{self.me}:order:{oid}")
        r = rules[row["product"]]
        q = eip712.Request(
            rid,
            self.me,
            r.issuer,
            r.product_id,
            ORDER_KINDS[row["kind"]],
            row["amount"],
            row["shares"],
            from_hex(c["investor"]),
            day_number(row["order_date"]),
        )
        accepted_with = frozenset(
            self.address(i).lower()
            for i, reg in c["registrations"].items()
            if reg["status"] == "accepted"
        )
        birth = dt.date.fromisoformat(c["birth_date"])
        holdings = {from_hex(p): int(n) for p, n in (c.get("holdings") or {}).items()}
        inv = qualification.Investor(
            q.investorCommitment,
            age_on(birth, row["order_date"]),
            c["risk_level"],
            accepted_with,
            holdings,
        )
        return q, inv, oid

    # ---------------------------------------------------------------- confirmations
    def on_confirmations(self, m: Message) -> None:
        """Verify each confirmation (signer, request), anchor the packet's root once, write the
        confirmations received to outbox/confirmations/."""
        # every item is the sender's (checked in _verified): its keys, standing and the domain are
        # read once per message, not three chain reads per confirmation (226 in a medium packet)
        keys = (
            self.bank.domain(),
            self.bank.issuer_signers(m.sender),
            self.registry.isActive(m.sender),
        )
        confirmed = [self._verified(m, item, keys) for item in m.body["confirmations"]]
        if not confirmed:
            raise MessageSetAside("a confirmations message without confirmations")
        root = self.bank.anchor_packet(m.sender, confirmed)
        for q, c, _ in confirmed:
            self._book_holding(q, c)
        period = confirmed[0][0].period
        order_of = self.agent.store.get_many(
            "conf.order-of", [hexstr(q.requestId) for q, _, _ in confirmed]
        )
        records = [
            {
                "order_id": order_of.get(hexstr(q.requestId), {}).get("order_id"),
                "request_id": hexstr(q.requestId),
                "status": "confirmed" if c.status == eip712.CONFIRMED else "refused",
                "reason": qualification.reason_of(c.reason),
                "amount": c.confirmedAmount,
                "shares": c.confirmedShares,
                "confirmed_at": c.confirmedAt,
                "signature": hexstr(sig),
            }
            for q, c, sig in confirmed
        ]
        issuer = self.ident_of(m.sender)
        body = {"issuer": issuer, "period": days.day_date(period), "root": hexstr(root)}
        name = f"{issuer}-{days.day_date(period)}-{root.hex()[:12]}.json"
        log.info("packet of %s anchored: %d records, root %s", issuer, len(records), root.hex())
        self.agent.write_output(
            "confirmations", name, json.dumps(body | {"records": records}, indent=2)
        )

    def _book_holding(self, q: eip712.Request, c: eip712.Confirmation) -> None:
        """A confirmed subscription adds the shares to the customer's holding, a confirmed
        redemption takes them (once per request): what later redemptions are screened against."""
        if c.status != eip712.CONFIRMED or q.kind == eip712.SHARE_CHANGE:
            return
        step = f"conf.held:{hexstr(q.requestId)}"
        if self.agent.store.done(step):
            return
        for cid, cust in self._customers_by(f"inv:{hexstr(q.investorCommitment)}"):
            if cust["investor"] != hexstr(q.investorCommitment):
                continue
            held = cust.setdefault("holdings", {})
            sign = 1 if q.kind == eip712.SUBSCRIPTION else -1
            held[hexstr(q.productId)] = int(held.get(hexstr(q.productId), 0)) + sign * q.shares
            self.agent.store.put("conf.customer", cid, cust)
        self.agent.store.mark(step, "booked")

    def _verified(
        self, m: Message, item: dict, keys: tuple[Any, set[str], Any]
    ) -> tuple[Any, Any, bytes]:
        """(request, confirmation, signature) of one item of `m`, else MessageSetAside; `keys`:
        the anchor's domain, the sender's signing keys and whether it is active."""
        try:
            c = eip712.Confirmation.from_json(item["confirmation"])
            sig = from_hex(item["signature"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageSetAside(f"a confirmation that does not parse ({exc})") from None
        stored = self.agent.store.get("request", hexstr(c.requestId))
        if stored is None:
            raise MessageSetAside(f"confirmation of 0x{c.requestId.hex()}, a request never sent")
        q = eip712.Request.from_json(stored)
        if not (c.issuer.lower() == m.sender.lower() == q.issuer.lower()):
            raise MessageSetAside(
                f"confirmation of 0x{c.requestId.hex()} from {m.sender} names issuer {c.issuer}"
            )
        if c.requestHash != q.struct_hash():
            raise MessageSetAside(f"confirmation of 0x{c.requestId.hex()} is for another request")
        domain, signers, active = keys
        try:
            eip712.check_confirmation(domain, c, sig, signers, bool(active))
        except ValueError as exc:
            raise MessageSetAside(str(exc)) from None
        return q, c, sig


class IssuerRole(_ConfRole):
    role = "PRODUCT_ISSUER"
    formats = ("product-rules",)
    decisions = (ORDER_REVIEW,)

    def handle_file(self, file: Any) -> dict[str, Any]:
        """Rules of this issuer's own products only (another issuer approves its own)."""
        for n, row in enumerate(file.rows):
            if row["issuer"] != self.agent.spec.id:
                raise FileRefused(
                    file.line_of(n),
                    f"{row['product']!r} is {row['issuer']}'s product; an issuer approves only "
                    "its own products' rules; nothing of this file was approved",
                )
        return self.approve_rules(file)

    def tick(self) -> None:
        self.handle_messages(["registrations"], self.on_registrations)
        self.handle_messages(["packet"], self.on_packet)

    def on_registrations(self, m: Message) -> None:
        """A sales bank's registrations: each accepted when its KYC passed and its profile is the
        one committed on chain (else rejected, with the reason for a profile that does not match),
        the pending ones decided on chain through the agent's pipe in one phase, then one message
        back with every result. An entry that is not the sender's registration with this issuer is
        answered rejected and not decided; a message holding none of the sender's is set aside. A
        registration decided before is answered as the chain holds it (a profile sent again with
        other content changes neither the chain nor the issuer's books)."""
        entries = m.body.get("registrations") if isinstance(m.body, dict) else None
        if not isinstance(entries, list) or not entries:
            raise MessageSetAside("a registrations message without registrations")
        parsed = {p[0]: p for p in map(_registration_entry, entries) if p is not None}
        ok = list(parsed.values())  # an entry repeated in the message is answered once
        held = dict(zip(parsed, self.registrations(list(parsed))))
        results, decide, foreign = [], [], 0
        for reg_id, body in ok:
            bank, issuer, status, commitment = held[reg_id]
            result: dict[str, Any] = {"registration_id": body["registration_id"]}
            if bank.lower() != m.sender.lower() or issuer.lower() != self.me.lower():
                reason = f"not on chain as {m.sender}'s registration with {self.me}"
                results.append(result | {"accepted": False, "reason": reason})
                foreign += 1
                continue
            blob = json.dumps(body["profile"], sort_keys=True)
            matches = commit(blob, from_hex(body["salt"])) == commitment
            result["accepted"] = matches and bool(body["profile"].get("kyc_ok"))
            if not matches:
                result["reason"] = "the profile is not the one committed on chain"
            if status == PENDING:
                self.agent.store.put(  # before the decision: a replay finds it kept
                    "conf.customer",
                    body["investor"],
                    {"profile": body["profile"], "accepted": result["accepted"]},
                )
                result_hash = doc_hash(json.dumps(result, sort_keys=True))
                decide.append((reg_id, result["accepted"], result_hash))
            else:  # decided before: answered as the chain holds it, the issuer's books unchanged
                result["accepted"] = status == ACCEPTED
            results.append(result)
        if foreign == len(results):
            raise MessageSetAside(f"none of the {len(entries)} registrations is {m.sender}'s to us")
        self._decide(decide)
        ids = sorted(r["registration_id"].lower() for r in results)
        log.info("registrations of %s answered: %d", self.ident_of(m.sender), len(results))
        self.send_once(
            f"conf.regs-result:{hexstr(doc_hash(','.join(ids)))}",
            m.sender,
            "registration-results",
            {"results": results},
        )

    def _decide(self, decide: list[tuple[bytes, bool, bytes]]) -> None:
        """Decide every pending registration through the agent's pipe, one phase closed before
        returning; one still pending after a failure raises (the message is kept for the next
        loop, which asks the chain again)."""
        if not decide:
            return
        errors = self.piped_phase("decideRegistration", decide)
        failed = [(d[0], e) for d, e in zip(decide, errors) if e is not None]
        if not failed:
            return
        held = self.registrations([reg_id for reg_id, _ in failed])
        still = [(r, e) for (r, e), h in zip(failed, held) if h[2] == PENDING]
        if still:
            raise RuntimeError(
                f"{len(still)} registration(s) not decided, e.g. 0x{still[0][0].hex()}: "
                f"{still[0][1]}"
            )

    def on_packet(self, m: Message) -> None:
        """Answer every request of the packet (policy `order_review`), then send the signed
        confirmations; a packet already answered is answered again with the same confirmations."""
        try:
            reqs = [eip712.Request.from_json(j) for j in m.body["requests"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageSetAside(f"a packet that does not parse ({exc})") from None
        for q in reqs:
            if q.issuer.lower() != self.me.lower() or q.salesBank.lower() != m.sender.lower():
                raise MessageSetAside(f"request 0x{q.requestId.hex()} is not {m.sender}'s to us")
        key = hexstr(doc_hash(",".join(sorted(hexstr(q.requestId) for q in reqs))))
        if self.agent.store.get("conf.packet", key) is None:
            # the books and the chain's clock read once per packet, not per request (the books
            # read every accepted customer: 226 x 400 rows in a medium packet, 10^7 at large)
            book, now = self._book(), _chain_now(self.agent)
            answers = {hexstr(q.requestId): self._answer(q, key, book, now) for q in reqs}
            packet = {
                "sender": m.sender,
                "period": m.body["period"],
                "requests": [q.to_json() for q in reqs],
                "answers": {k: v for k, v in answers.items() if v is not None},
            }
            self.agent.store.put("conf.packet", key, packet)
        self._finish(key, resend=self.agent.store.done(f"conf.confirmed:{key}") is not None)

    def _book(self) -> qualification.IssuerBook:
        """The issuer's books: its products (consortium file), the customers it accepted, and the
        quota used and shares held as its earlier confirmations left them (kept in its store)."""
        state = self.agent.store.get("conf.book", "state") or {"used": {}, "holdings": {}}
        registered = {
            from_hex(inv)
            for inv, c in self.agent.store.all("conf.customer").items()
            if c.get("accepted")
        }
        holdings = {}
        for key, n in state["holdings"].items():
            inv, pid = key.split(":")
            holdings[(from_hex(inv), from_hex(pid))] = int(n)
        return qualification.IssuerBook(
            self.me,
            issuer_products(self.agent.consortium, self.agent.spec.id),
            registered,
            holdings,
            {from_hex(p): int(n) for p, n in state["used"].items()},
        )

    def _keep(self, book: qualification.IssuerBook) -> None:
        state = {
            "used": {hexstr(p): n for p, n in book.used.items()},
            "holdings": {f"{hexstr(i)}:{hexstr(p)}": n for (i, p), n in book.holdings.items()},
        }
        self.agent.store.put("conf.book", "state", state)

    def _answer(
        self, q: eip712.Request, packet: str, book: qualification.IssuerBook, now: int
    ) -> bool | str | None:
        """True to confirm, a reason code to refuse, None when a person is asked: the issuer's
        books first (registered investor, product open for the business type, limits, quota,
        cut-off), then policy `order_review` for an amount above the review limit. `book` carries
        the packet's earlier answers (each confirmed one applied and kept)."""
        code = book.decide(
            q.productId,
            q.investorCommitment,
            q.kind,
            q.amount,
            q.shares,
            q.period,
            now,
        )
        if code is not None:
            log.info("order 0x%s refused: %s", q.requestId.hex()[:12], code)
            return code
        limit = self.agent.settings.limits.get(REVIEW_LIMIT)
        if limit is None or q.amount <= limit:
            return self._booked(book, q)
        if self.agent.settings.decision_mode(ORDER_REVIEW) != "queue":
            log.info("order 0x%s refused: %d above %d", q.requestId.hex()[:12], q.amount, limit)
            return REVIEW_REFUSED
        item = f"order-{q.requestId.hex()[:16]}"
        if self.agent.decisions.get(item) is None:
            log.info("order 0x%s queued for review (%s)", q.requestId.hex()[:12], item)
            subject = {
                "packet": packet,
                "request_id": hexstr(q.requestId),
                "product": hexstr(q.productId),
                "amount": q.amount,
                "limit": limit,
            }
            self.agent.decisions.queue(ORDER_REVIEW, item, subject)
        return None

    def _booked(self, book: qualification.IssuerBook, q: eip712.Request) -> bool:
        book.apply(q.productId, q.investorCommitment, q.kind, q.amount, q.shares)
        self._keep(book)
        return True

    def on_decision(self, decision: Any) -> None:
        key = decision.subject["packet"]
        packet = self.agent.store.get("conf.packet", key)
        rid = decision.subject["request_id"]
        answer: bool | str = REVIEW_REFUSED
        if decision.accepted:
            q = next(
                eip712.Request.from_json(j)
                for j in packet["requests"]
                if j["requestId"].lower() == rid.lower()
            )
            answer = self._booked(self._book(), q)
        packet["answers"][rid] = answer
        self.agent.store.put("conf.packet", key, packet)
        log.info("order %s: %s (%s)", decision.item, decision.answer, decision.reason)
        self._finish(key, resend=False)

    def _finish(self, key: str, resend: bool) -> None:
        """Sign (once, kept in the store) and send the packet's confirmations when every request
        is answered."""
        packet = self.agent.store.get("conf.packet", key)
        if len(packet["answers"]) < len(packet["requests"]):
            return
        if "items" not in packet:
            packet["items"] = self._sign(packet)
            self.agent.store.put("conf.packet", key, packet)
        body = {"period": packet["period"], "confirmations": packet["items"]}
        if resend:
            self.endpoint.send(packet["sender"], "confirmations", body)
            return
        self.send_once(f"conf.confirmed:{key}", packet["sender"], "confirmations", body)
        confirmed = sum(1 for v in packet["answers"].values() if v is True)
        log.info(
            "packet %s: %d confirmed, %d refused",
            key[:10],
            confirmed,
            len(packet["items"]) - confirmed,
        )

    def _sign(self, packet: dict) -> list[dict[str, str]]:
        dom = anchor_domain(self.anchor)
        now = _chain_now(self.agent)
        items = []
        for j in packet["requests"]:
            q = eip712.Request.from_json(j)
            answer = packet["answers"][hexstr(q.requestId)]
            code = (
                None if answer is True else (answer if isinstance(answer, str) else REVIEW_REFUSED)
            )
            c = outcome(q, self.me, code, now)
            sig = eip712.sign_confirmation(dom, c, bytes(self.agent.local.key))
            items.append({"confirmation": c.to_json(), "signature": hexstr(sig)})
        return items


# ================================================================= reconciliation


class BankRole(_ConfRole):
    role = "BANK"
    formats = ("credits",)

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.client: PaymentClient | None = None

    def start(self) -> None:
        self.client = self.participant(PaymentClient)
        self.client.outbox.resume()

    def tick(self) -> None:
        self.handle_messages(["reconciliation-result"], self.on_result)
        self.handle_messages(["countersignature", "countersign-refused"], self.on_countersigned)

    def handle_file(self, file: Any) -> dict[str, Any]:
        """Per finance company and day: each batch sent to the finance company for its
        countersignature (committed once it comes back), the credit details to the reconciler."""
        groups = _by_party_day(file, self)
        reconciler = self.only_one("RECONCILER")
        roots = []
        for (fc, day), frame in groups.items():
            roots += self._send_day(file, fc, day, frame, reconciler)
        return {
            "days": len(groups),
            "payments": len(file.rows),
            "roots": [hexstr(r) for r in roots],
        }

    def _send_day(
        self, file: Any, fc: str, day: int, frame: pd.DataFrame, reconciler: str
    ) -> list[bytes]:
        roots = []
        for start in range(0, len(frame), MAX_BILATERAL_BATCH):
            part = frame.iloc[start : start + MAX_BILATERAL_BATCH]
            tree, _ = bilateral_batch(self.me, fc, day, part)
            body = countersign_request(self.me, fc, day, part, tree)
            root = hexstr(tree.root)
            self.agent.store.put("conf.cosign", root, body | {"to": reconciler})
            log.info(
                "%d payments of day %s to %s to countersign", len(part), day, self.ident_of(fc)
            )
            self.send_once(f"conf.cosign:{root}", fc, "countersign-request", body)
            roots.append(tree.root)
        credit = {
            "day": day,
            "fc": fc,
            "roots": [hexstr(r) for r in roots],
            "rows": frame[["id", "amount", "paid_at"]].to_numpy().tolist(),
        }
        self.agent.store.put("conf.credit", f"{fc.lower()}:{day}", credit | {"source": file.sha256})
        self.send_once(f"conf.credit:{file.sha256}:{fc}:{day}", reconciler, "credit", credit)
        return roots

    def on_countersigned(self, m: Message) -> None:
        """The finance company's answer to a batch: a countersignature (checked: one of its keys
        over exactly the batch) commits the batch and sends the bank's copy to the reconciler; a
        refusal is set aside with its reason."""
        if m.kind == "countersign-refused":
            raise MessageSetAside(f"countersignature refused: {m.body.get('reason')}")
        pending = self.agent.store.get("conf.cosign", m.body["root"])
        if pending is None or pending["fc"].lower() != m.sender.lower():
            raise MessageSetAside(f"countersignature of {m.body['root']}: no such batch of ours")
        b, signature = bilateral_of(pending), from_hex(m.body["signature"])
        try:
            eip712.check_countersignature(
                bilateral_domain(self.recon), b, signature, self.client.fc_signers(b.financeCompany)
            )
        except ValueError as exc:
            raise MessageSetAside(str(exc)) from None
        log.info("committing %d payments of day %s to %s", b.count, b.day, self.ident_of(b.bank))
        self.client.outbox.send(COMMIT, key_of(b.root), [*bilateral_args(b), signature])
        self.send_once(f"conf.bilateral:{m.body['root']}", pending["to"], "bilateral", pending)


class FinanceCompanyRole(_ConfRole):
    """Besides its debits: pays each reconciled day's total to the bank once (settleDay)."""

    role = "FINANCE_COMPANY"
    formats = ("debits",)

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.fc: FinanceCompany | None = None
        self.waiting: set[str] = set()  # days whose payment waits for funds (logged once)

    def start(self) -> None:
        self.fc = self.participant(FinanceCompany)
        self.fc.outbox.resume()

    def tick(self) -> None:
        self.handle_messages(["reconciliation-result"], self.on_result)
        self.handle_messages(["countersign-request"], self.on_countersign_request)
        for key in self.agent.store.all("conf.result"):
            if self.agent.stopping:
                return
            for bank in self._banks_of(int(key.split(":")[0])):
                try:
                    self.pay(bank, int(key.split(":")[0]))
                except Exception:  # the node: paid (or not) is asked of the chain next loop
                    log.exception("day %s not paid; tried again next loop", key)

    def on_countersign_request(self, m: Message) -> None:
        """Countersign a batch of the bank's bilateral details (its rows rebuilt into the root,
        count and total it claims, else refused with the reason): the batch counts for the day only
        with this signature."""
        try:
            b, signature = countersign(
                bilateral_domain(self.recon), m.body, m.sender, self.me, self.agent.local
            )
        except CountersignRefused as exc:
            self.send_once(
                f"conf.cosign-refused:{m.msg_id}",
                m.sender,
                "countersign-refused",
                {"reason": str(exc)},
            )
            raise MessageSetAside(str(exc)) from None
        log.info(
            "countersigning %d payments of day %s of %s", b.count, b.day, self.ident_of(b.bank)
        )
        body = {"root": hexstr(b.root), "signature": hexstr(signature)}
        self.send_once(f"conf.cosigned:{hexstr(b.root)}", m.sender, "countersignature", body)

    def _banks_of(self, day: int) -> list[str]:
        """The banks this finance company gave debits of `day` for (one payment each)."""
        keys = self.agent.store.all("conf.debit")
        return [k.split(":")[0] for k in keys if int(k.split(":")[1]) == day]

    def pay(self, bank: str, day: int) -> bool:
        """Pay the bank the day's total once the day is reconciled and every break recorded (the
        contract pays the committed total; the reconciler's corrected total must equal it); once:
        a paid day (on chain) is only written out. True when the day is paid."""
        step = f"conf.paid:{bank}:{day}"
        if self.agent.store.done(step):
            return True
        d = self.recon.getDay(self.recon.dayKey(bank, self.me, day))
        if not d["reconciled"] or int(d["breaksRecorded"]) < int(d["breaks"]):
            return False
        total = int(d["committedTotal"])
        if not d["settled"]:
            result = self.agent.store.get("conf.result", f"{day}:{str(d['reconciler']).lower()}")
            if result is None or int(result["corrected_total"]) != total:
                return False  # no result of the day's own reconciler yet
            token = self._token()
            if token is not None and int(token.balanceOf(self.me)) < total:
                if step not in self.waiting:
                    log.warning("day %s: %d to pay, funds short; waiting", day, total)
                    self.waiting.add(step)
                return False
            log.info("paying day %s: %d to %s", days.day_date(day), total, self.ident_of(bank))
            self.fc.settle(bank, day, token)
            d = self.recon.getDay(self.recon.dayKey(bank, self.me, day))
        body = {
            "day": days.day_date(day),
            "bank": self.ident_of(bank),
            "amount": total,
            "payment_ref": hexstr(_b32(d["paymentRef"])),
            "block": int(d["settledBlock"]),
        }
        self.agent.write_output(
            "payments",
            f"{days.day_date(day)}-{self.ident_of(bank)}.json",
            json.dumps(body, indent=2),
        )
        self.agent.store.mark(step, body["payment_ref"])
        return True

    def _token(self) -> Any:
        """The deposit token the Reconciliation contract pays in (None: a reference only)."""
        address = str(self.recon.settlementToken())
        if address == ZERO_ADDRESS:
            return None
        for contract in self.agent.suite.contracts.values():
            if str(contract.address).lower() == address.lower():
                return contract
        raise SettingsError(
            f"the Reconciliation pays in {address}, a token the deployment record does not list; "
            "point agent.yaml at the deployment that deployed it"
        )

    def handle_file(self, file: Any) -> dict[str, Any]:
        groups = _by_party_day(file, self)
        reconciler = self.only_one("RECONCILER")
        for (bank, day), frame in groups.items():
            body = {"day": day, "bank": bank, "rows": frame.to_numpy().tolist()}
            self.agent.store.put(
                "conf.debit", f"{bank.lower()}:{day}", body | {"source": file.sha256}
            )
            log.info("debit details of day %s (%d) to the reconciler", day, len(frame))
            self.send_once(
                f"conf.debit:{file.sha256}:{bank}:{day}", reconciler, "debit-details", body
            )
        return {"days": len(groups), "payments": len(file.rows)}


def _by_party_day(file: Any, role: _ConfRole) -> dict[tuple[str, int], pd.DataFrame]:
    """{(counterparty address, day): its id, amount, paid_at frame}; a day given by an earlier
    file is refused (a day's side is given once)."""
    groups: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
    first: dict[tuple[str, int], int] = {}
    kind = "conf.credit" if file.format == "credits" else "conf.debit"
    for n, row in enumerate(file.rows):
        key = (role.address(row["counterparty"], file.line_of(n)), day_number(row["day"]))
        groups.setdefault(key, []).append((row["payment_id"], row["amount"], row["paid_at"]))
        first.setdefault(key, file.line_of(n))
    for (party, day), line in first.items():
        doc = role.agent.store.get(kind, f"{party.lower()}:{day}")
        if doc is not None and doc.get("source") != file.sha256:
            raise FileRefused(
                line,
                f"day {days.day_date(day)} with {role.ident_of(party)} was given by an earlier "
                f"file; a day's details are given once; nothing of this file was sent",
            )
    return {k: pd.DataFrame(v, columns=["id", "amount", "paid_at"]) for k, v in groups.items()}


class ReconcilerRole(_ConfRole):
    role = "RECONCILER"

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.rec: Reconciler | None = None
        self.cutoff = 0

    def start(self) -> None:
        self.rec = self.participant(Reconciler)
        self.rec.outbox.resume()
        cutoff = str(self.agent.settings.line(LINE).get("cutoff", "now"))
        self.cutoff = _cutoff_seconds(cutoff, self.agent.settings.home)

    def tick(self) -> None:
        self.handle_messages(["bilateral", "credit", "debit-details"], self.on_details)
        for key, credit in self.agent.store.all("conf.recon.credit").items():
            if self.agent.stopping:
                return
            if not self.agent.store.done(f"conf.reconciled:{key}"):
                try:
                    self._try_day(key, credit)
                except Exception:  # the node, or a day that cannot be reconciled yet
                    log.exception("day %s not reconciled; tried again next loop", key)

    def on_details(self, m: Message) -> None:
        body, sender = m.body, m.sender.lower()
        day = int(body["day"])
        if m.kind == "bilateral":
            if body["bank"].lower() != sender:
                raise MessageSetAside(f"bilateral copy of {body['bank']} sent by {m.sender}")
            self.agent.store.put("conf.recon.bilateral", body["root"], body)
        elif m.kind == "credit":
            key = f"{sender}:{body['fc'].lower()}:{day}"
            self.agent.store.put("conf.recon.credit", key, body | {"bank": m.sender})
        else:
            key = f"{body['bank'].lower()}:{sender}:{day}"
            self.agent.store.put("conf.recon.debit", key, body | {"fc": m.sender})

    def _try_day(self, key: str, credit: dict) -> None:
        """Reconcile the day once both sides and every bilateral copy are here, the cut-off has
        passed and the chain allows it; record it and tell both parties."""
        debit = self.agent.store.get("conf.recon.debit", key)
        copies = [self.agent.store.get("conf.recon.bilateral", r) for r in credit["roots"]]
        if debit is None or any(c is None for c in copies):
            return
        bank, fc, day = credit["bank"], debit["fc"], int(credit["day"])
        now = _chain_now(self.agent)
        cutoff = max(self.cutoff, int(self.recon.reconcileOffset()))
        if now < days.business_cutoff(day, cutoff, int(self.recon.businessUtcOffset())):
            return  # the preset time of the next local business day has not come
        frame = lambda rows: pd.DataFrame(rows, columns=["id", "amount", "paid_at"])
        log.info(
            "reconciling day %s of %s / %s",
            days.day_date(day),
            self.ident_of(bank),
            self.ident_of(fc),
        )
        result = self.rec.reconcile_day(
            bank, fc, day, copies, frame(debit["rows"]), frame(credit["rows"])
        )
        day_key = self.rec.record(bank, fc, day, result)
        body = self.agent.store.get("result", f"{bank}:{fc}:{day}") | {
            "day_key": hexstr(day_key),
            "bank": self.ident_of(bank),
            "finance_company": self.ident_of(fc),
            "date": days.day_date(day),
        }
        self.write_result(body, day, f"{self.ident_of(bank)}-{self.ident_of(fc)}")
        log.info(
            "day %s reconciled: %d matched, %d breaks",
            days.day_date(day),
            result.matched,
            len(result.breaks),
        )
        self.agent.store.mark(f"conf.reconciled:{key}", hexstr(day_key))


def _cutoff_seconds(text: str, home: Any) -> int:
    """Seconds into the next business day from which a day is reconciled: "now" (as soon as the
    chain allows) or "HH:MM" local time of the business time zone."""
    if text == "now":
        return 0
    try:
        t = dt.time.fromisoformat(text)
    except ValueError:
        raise SettingsError(
            f"{home / 'agent.yaml'}: confirmations.cutoff must be \"now\" or \"HH:MM\" (local), "
            f"got {text!r}"
        ) from None
    return t.hour * 3600 + t.minute * 60


CONFIRMATIONS_ROLES = [SalesBankRole, IssuerRole, BankRole, FinanceCompanyRole, ReconcilerRole]
