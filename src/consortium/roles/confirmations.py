"""Trade confirmations and next-day reconciliation: one class per institution role.

A. SalesBank ↔ ProductIssuer: registration round trip, qualification screening against jointly
   agreed rules, packets per issuer over encrypted channels, EIP-712 confirmations, Merkle-root
   anchoring.
B. PaymentClient (run by the bank) → FinanceCompany / Bank stores; Reconciler the next day; payment.

Every institution keeps its records in its own Store and journals finished steps; every keyed batch
(packet root, bilateral root, breaks from a seq, the day's payment) goes through the store's outbox
(consortium.outbox), which asks the chain before sending and books the receipt after, so an agent
killed mid-way resumes without sending anything twice. No brownie import: contracts and accounts are
passed in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from consortium.channels import DirectoryMailbox, Endpoint, Transport
from consortium.domain import eip712, merkle, qualification
from consortium.domain.eip712 import Confirmation, Domain, Request
from consortium.domain.encoding import from_hex, hexstr
from consortium.domain.hashing import commit, doc_hash, new_salt
from consortium.domain.merkle import BILATERAL_TYPES
from consortium.domain.reconciliation import (
    DayResult,
    reconcile,
    record_id32,
    require_resolved,
)
from consortium.keys import FAST_SCRYPT_N, LOCAL_DAY_PASSPHRASE, PASSPHRASE_ENV, Keystore
from consortium.outbox import Outbox, OutboxConflict, Recorded, key_of
from consortium.roles.membership import ActsAs, Institution
from consortium.store import Store

ZERO32 = b"\0" * 32
MAX_PACKET = 1_000  # records per anchored packet root (keeps proofs short and trees cheap to build)
MAX_BILATERAL_BATCH = 10_000
BREAKS_PER_CALL = 100  # Reconciliation.MAX_BREAKS_PER_CALL
ANCHOR_PACKET = "ConfirmationAnchor.anchorPacket"
COMMIT = "Reconciliation.commitBilateral"
BREAKS = "Reconciliation.recordBreaks"
SETTLE_DAY = "Reconciliation.settleDay"
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass
class Network:
    """What the institutions of this line share off chain: mailbox transport and published keys."""

    transport: Transport
    directory: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def local(cls, root: str | Path) -> Network:
        return cls(DirectoryMailbox(Path(root) / "mailbox"))


def _operator_key(path: Path) -> Any:
    """The operator key in the keystore at `path`, made there first if there is none."""
    keystore = Keystore(path)
    passphrase = os.environ.get(PASSPHRASE_ENV) or LOCAL_DAY_PASSPHRASE
    if not path.exists():
        keystore.create(passphrase, FAST_SCRYPT_N)
    return keystore.unlock(passphrase)


@dataclass
class Participant(ActsAs):
    """An institution acting in this line: member account, operator signing key,
    store and endpoint."""

    inst: Institution
    anchor: Any
    recon: Any
    store: Store
    endpoint: Endpoint
    # eth_account LocalAccount: signs confirmations, opens envelopes; an operator of the member
    key: Any
    receipts: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.store)

    @classmethod
    def build(
        cls,
        inst: Institution,
        suite: Any,
        net: Network,
        workdir: str | Path,
        key: Any = None,
        register_operator: bool = True,
    ) -> Participant:
        """Create (or reuse) the institution's operator key and store; register the key as its
        operator once.

        A key made here is kept in a V3 keystore beside the store (`<member>.keystore.json`, locked
        with $CONSORTIUM_PASSPHRASE or the local day's passphrase, at the simulated day's scrypt
        cost), never in plaintext; an agent brings its own key from its home instead (`key`)."""
        workdir = Path(workdir)
        store = Store.at(workdir / f"{inst.address.lower()}.sqlite")
        if key is None:
            key = _operator_key(workdir / f"{inst.address.lower()}.keystore.json")
        registry = inst.registry
        if register_operator and registry.memberOf(key.address) != inst.address:
            inst.add_operator(key.address)
        ep = Endpoint(inst.address, bytes(key.key), net.transport, net.directory, registry)
        return cls(inst, suite["ConfirmationAnchor"], suite["Reconciliation"], store, ep, key)

    def _tx(self, fn: Any, *args: Any) -> Any:
        tx = fn(*args, {"from": self.account})
        self.receipts.append(tx)
        return tx

    def domain(self) -> Domain:
        return anchor_domain(self.anchor)

    def collect_results(self) -> list[dict[str, Any]]:
        """Store the reconciler's day results addressed to this institution."""
        out = [m.body for m in self.endpoint.receive(["reconciliation-result"])]
        for r in out:
            self.store.put("reconciliation", str(r["day"]), r)
        return out

    def approve_rules(self, rules: qualification.QualificationRules, bank: str, issuer: str) -> Any:
        """Approve `rules` as the next version of the product's terms
        (one half of a joint amendment)."""
        return self._tx(
            self.inst.registry.approveAmendment, rules.terms_id, bank, issuer, rules.terms_hash()
        )


def order_of(q: Request, investor: qualification.Investor) -> qualification.Order:
    """A request as screening sees it (its business type, amount and shares)."""
    return qualification.Order(q.requestId, q.productId, investor, q.kind, q.amount, q.shares)


def answer(
    book: qualification.IssuerBook, q: Request, received_at: int, confirmed_at: int
) -> Confirmation:
    """The issuer's answer to one request, checked against its books (and booked when confirmed):
    a refused request is confirmed as refused, its reason code in the confirmation."""
    code = book.decide(
        q.productId, q.investorCommitment, q.kind, q.amount, q.shares, q.period, received_at
    )
    if code is None:
        book.apply(q.productId, q.investorCommitment, q.kind, q.amount, q.shares)
    return outcome(q, book.issuer, code, confirmed_at)


def outcome(q: Request, issuer: str, code: str | None, confirmed_at: int) -> Confirmation:
    """The confirmation of `q`: confirmed in full without a reason code, else refused with it
    (nothing confirmed), as the contract's outcome check requires."""
    ok = code is None
    return Confirmation(
        q.requestId,
        q.struct_hash(),
        issuer,
        eip712.CONFIRMED if ok else eip712.REFUSED,
        q.amount if ok else 0,
        q.shares if ok else 0,
        confirmed_at,
        qualification.reason_code32(code),
    )


def anchor_domain(anchor: Any) -> Domain:
    """The EIP-712 domain of a deployed ConfirmationAnchor,
    read from its ERC-5267 `eip712Domain()`."""
    _, name, version, chain_id, verifying, _, _ = anchor.eip712Domain()
    return Domain(int(chain_id), str(verifying), str(name), str(version))


# ===================================================================== A. sales bank and issuers


@dataclass
class SalesBank(Participant):
    """The sales bank's node and business system: registers users, screens, batches, anchors."""

    rules: dict[bytes, qualification.QualificationRules] = field(default_factory=dict)
    investors: dict[bytes, qualification.Investor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        # (bank, root) is the packet's key in ConfirmationAnchor, anchorOf(bank, root) its view
        self.outbox.register_call(
            ANCHOR_PACKET, partial(self._tx, self.anchor.anchorPacket), self._anchored
        )

    def _anchored(self, args: list) -> Recorded | None:
        """What this bank anchored under the packet's root: None if nothing; a root of this bank's
        anchored for another period (or by anyone else) is a conflict, never taken as this packet.
        """
        by, _, count, period = self.anchor.anchorOf(self.address, args[2])
        if str(by) == ZERO_ADDRESS:
            return None
        if (
            str(by).lower() != self.address.lower()
            or int(period) != int(args[1])
            or int(count) != int(args[3])
        ):
            raise OutboxConflict(
                f"root {hexstr(from_hex(args[2]))} is anchored by {by} "
                f"for period {period} ({count} records), "
                f"not by {self.address} for period {args[1]} "
                f"({args[3]} records): the packet is not anchored as sent; rebuild it"
            )
        return Recorded(None, {})

    # ---- registration
    def register_user(
        self, issuer: str, investor: qualification.Investor, profile: dict[str, Any]
    ) -> bytes:
        """Forward a registration application to `issuer`;
        only a salted commitment goes on chain."""
        reg_id = os.urandom(32)
        salt = new_salt()
        blob = json.dumps(profile, sort_keys=True)
        commitment = commit(blob, salt)
        self._tx(self.anchor.submitRegistration, issuer, reg_id, commitment)
        self.endpoint.send(
            issuer,
            "registration",
            {
                "registration_id": hexstr(reg_id),
                "profile": profile,
                "salt": hexstr(salt),
                "investor": hexstr(investor.commitment),
            },
        )
        self.investors[investor.commitment] = investor
        self.store.put(
            "registration",
            hexstr(reg_id),
            {"issuer": issuer, "investor": hexstr(investor.commitment), "status": "pending"},
        )
        return reg_id

    def collect_registration_results(self) -> int:
        """Apply the issuers' results:
        an accepted investor becomes a registered customer of the issuer."""
        n = 0
        for m in self.endpoint.receive(["registration-result"]):
            rec = self.store.get("registration", m.body["registration_id"])
            rec["status"] = "accepted" if m.body["accepted"] else "rejected"
            self.store.put("registration", m.body["registration_id"], rec)
            if m.body["accepted"]:
                inv = self.investors[from_hex(rec["investor"])]
                self.investors[inv.commitment] = replace(
                    inv, registered_with=inv.registered_with | {m.sender.lower()}
                )
            n += 1
        return n

    # ---- screening and packets
    def agreed_hashes(self) -> dict[bytes, bytes]:
        """The terms hash on chain for every product the bank has rules for."""
        return {
            p: from_hex(str(self.inst.registry.getTerms(r.terms_id)[2]))
            for p, r in self.rules.items()
        }

    def screen(
        self, requests: list[Request]
    ) -> tuple[list[Request], list[qualification.Rejection]]:
        """Check each request against the agreed rules of its business type (purchase rules for a
        subscription, the holding for a redemption or share change); refused ones are stored with
        their reason."""
        by_id = {q.requestId: q for q in requests}
        ok_ids, rejected = qualification.screen(
            (order_of(q, self.investors[q.investorCommitment]) for q in requests),
            self.rules,
            self.agreed_hashes(),
        )
        for r in rejected:
            self.store.put(
                "rejection", hexstr(r.request_id), {"codes": list(r.codes), "reason": r.reason}
            )
        return [by_id[i] for i in ok_ids], rejected

    @staticmethod
    def packets(requests: Iterable[Request]) -> dict[str, list[Request]]:
        """Group requests per issuer interface id (the issuer's member address): one packet each."""
        out: dict[str, list[Request]] = {}
        for q in requests:
            out.setdefault(q.issuer.lower(), []).append(q)
        return out

    def send_packets(self, period: int, packets: dict[str, list[Request]]) -> dict[str, str]:
        """Send each packet over its channel (ChannelClosed if the registry has none open)."""
        sent = {}
        for issuer, reqs in packets.items():
            if len(reqs) > MAX_PACKET:
                raise ValueError(
                    f"packet for {issuer} has {len(reqs)} requests; split it (max {MAX_PACKET})"
                )
            step = f"packet:{period}:{issuer}"
            if self.store.done(step):
                sent[issuer] = self.store.done(step)
                continue
            m = self.endpoint.send(
                issuer, "packet", {"period": period, "requests": [q.to_json() for q in reqs]}
            )
            for q in reqs:
                self.store.put("request", hexstr(q.requestId), q.to_json())
            self.store.mark(step, m.msg_id)
            sent[issuer] = m.msg_id
        return sent

    # ---- confirmations and anchoring
    def issuer_signers(self, issuer: str) -> set[str]:
        return {issuer, *self.inst.registry.operatorsOf(issuer)}

    def collect_confirmations(self) -> dict[str, list[tuple[Request, Confirmation, bytes]]]:
        """Verify every received confirmation's signature and compute its second-transaction
        hash."""
        out: dict[str, list[tuple[Request, Confirmation, bytes]]] = {}
        dom = self.domain()
        signers: dict[str, set[str]] = {}  # per issuer, read once per collection
        active: dict[str, bool] = {}
        for m in self.endpoint.receive(["confirmations"]):
            for item in m.body["confirmations"]:
                c = Confirmation.from_json(item["confirmation"])
                sig = from_hex(item["signature"])
                req = Request.from_json(self.store.get("request", hexstr(c.requestId)))
                if c.issuer.lower() != m.sender.lower() or req.issuer.lower() != c.issuer.lower():
                    raise eip712.ConfirmationSignerMismatch(
                        f"confirmation of 0x{c.requestId.hex()} from {m.sender} "
                        f"names issuer {c.issuer}"
                    )
                if req.issuer not in signers:
                    signers[req.issuer] = self.issuer_signers(req.issuer)
                    active[req.issuer] = bool(self.inst.registry.isActive(req.issuer))
                eip712.check_confirmation(dom, c, sig, signers[req.issuer], active[req.issuer])
                data_hash = eip712.second_transaction_hash(req, c, sig)
                self.store.put(
                    "second",
                    hexstr(c.requestId),
                    {
                        "issuer": req.issuer,
                        "data_hash": hexstr(data_hash),
                        "signature": hexstr(sig),
                        "confirmation": c.to_json(),
                    },
                )
                out.setdefault(req.issuer.lower(), []).append((req, c, sig))
        return out

    @staticmethod
    def packet_period(confirmed: list[tuple[Request, Confirmation, bytes]]) -> int:
        """The one business day of a packet's requests (a packet never spans two days)."""
        periods = {q.period for q, _, _ in confirmed}
        if len(periods) != 1:
            raise ValueError(
                f"a packet must hold requests of one period, got periods {sorted(periods)}"
            )
        return periods.pop()

    def records_for(
        self, issuer: str, confirmed: list[tuple[Request, Confirmation, bytes]]
    ) -> list[tuple]:
        """Leaf values (period, requestId, issuer, second-transaction hash) of each confirmed
        request."""
        return [
            (q.period, q.requestId, issuer, eip712.second_transaction_hash(q, c, s))
            for q, c, s in confirmed
        ]

    def anchor_packet(
        self, issuer: str, confirmed: list[tuple[Request, Confirmation, bytes]]
    ) -> bytes:
        """Anchor the packet's records as one root;
        resumes safely if the root is already on chain."""
        period = self.packet_period(confirmed)
        tree = merkle.RecordTree(self.records_for(issuer, confirmed))
        self.outbox.send(ANCHOR_PACKET, key_of(tree.root), [issuer, period, tree.root, len(tree)])
        for rec in tree.records:
            self.store.put(
                "proof",
                hexstr(rec[1]),
                {
                    "root": hexstr(tree.root),
                    "record": [rec[0], hexstr(rec[1]), rec[2], hexstr(rec[3])],
                    "proof": [hexstr(p) for p in tree.proof(rec)],
                },
            )
        return tree.root

    def proof_of(self, request_id: bytes) -> tuple[bytes, tuple, list[bytes]]:
        """(root, record, proof) of an anchored request, for anyone to verify on or off chain (on
        chain: `verifyRecord(bank, root, *record, proof)` with this bank's address, the root's
        anchoring bank).
        """
        p = self.store.get("proof", hexstr(request_id))
        if p is None:
            raise KeyError(f"request 0x{request_id.hex()} was not anchored by this bank")
        period, rid, who, data = p["record"]
        rec = (int(period), from_hex(rid), who, from_hex(data))
        return from_hex(p["root"]), rec, [from_hex(x) for x in p["proof"]]


@dataclass
class ProductIssuer(Participant):
    """A wealth-management subsidiary's node: registers users, checks, confirms and signs requests.

    `products`: the issuer's own product parameters (business types open, limits, quota, cut-off);
    the customers it registered and the shares they hold are booked as it goes (`book`)."""

    products: dict[bytes, qualification.Product] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.book = qualification.IssuerBook(self.address, self.products)

    def handle_registrations(self) -> int:
        n = 0
        for m in self.endpoint.receive(["registration"]):
            reg_id = from_hex(m.body["registration_id"])
            accepted = bool(m.body["profile"].get("kyc_ok", True))
            result = {"registration_id": m.body["registration_id"], "accepted": accepted}
            self.store.put(
                "customer", m.body["investor"], {"profile": m.body["profile"], "accepted": accepted}
            )
            if accepted:
                self.book.registered.add(from_hex(m.body["investor"]))
            if (
                self.anchor.getRegistration(reg_id)[2] == 1
            ):  # Pending: decide once, even after a restart
                self._tx(
                    self.anchor.decideRegistration, reg_id, accepted, doc_hash(json.dumps(result))
                )
            self.endpoint.send(m.sender, "registration-result", result)
            n += 1
        return n

    def confirm_packets(self, confirmed_at: int, received_at: int | None = None) -> int:
        """Check every request of every packet received against the issuer's books (registered
        investor, product open for the business type, limits, quota, cut-off; `received_at`, the
        time the packet is taken in, defaults to `confirmed_at`), confirm or refuse it with its
        reason, sign, and send the confirmations back: a refused request is answered, not dropped.
        """
        dom = self.domain()
        n = 0
        for m in self.endpoint.receive(["packet"]):
            items = []
            for j in m.body["requests"]:
                q = Request.from_json(j)
                c = answer(
                    self.book, q, confirmed_at if received_at is None else received_at, confirmed_at
                )
                sig = eip712.sign_confirmation(dom, c, self.key.key)
                items.append({"confirmation": c.to_json(), "signature": hexstr(sig)})
                self.store.put("confirmation", hexstr(q.requestId), items[-1])
            self.endpoint.send(
                m.sender, "confirmations", {"period": m.body["period"], "confirmations": items}
            )
            n += len(items)
        return n


# ================================================================= B. payments and reconciliation


@dataclass
class PaymentClient(Participant):
    """The bank's payment client: one bilateral detail per payment, in batches the finance company
    countersigns before the bank commits them on chain (a batch counts for the day only as both
    sides agreed it); debit details to the finance company with the request, credit details to the
    bank's store, the bank's bilateral copy to the reconciler.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        # (bank, root) is the key: commitBilateral refuses a root this bank committed,
        # committedDayOf(bank, root) tells its day
        self.outbox.register_call(
            COMMIT, partial(self._tx, self.recon.commitBilateral), self._committed
        )

    def _committed(self, args: list) -> Recorded | None:
        """The day this bank committed the batch's root to: None if none;
        another day is a conflict."""
        day_key = from_hex(str(self.recon.committedDayOf(self.address, args[2])))
        if day_key == ZERO32:
            return None
        expected = from_hex(str(self.recon.dayKey(self.address, args[0], args[1])))
        if day_key != expected:
            raise OutboxConflict(
                f"bilateral root {hexstr(from_hex(args[2]))} was committed "
                f"by {self.address} to day key {hexstr(day_key)}, "
                f"not to {hexstr(expected)} ({args[0]}, day {args[1]})"
            )
        return Recorded(None, {"dayKey": hexstr(day_key)})

    def record_day(
        self,
        fc: str,
        reconciler: str,
        day: int,
        payments: pd.DataFrame,
        batch: int = MAX_BILATERAL_BATCH,
    ) -> list[bytes]:
        """payments: id, amount, paid_at. Each batch goes to the finance company for its
        countersignature (commit_countersigned commits it once signed). Returns the roots."""
        roots = []
        for start in range(0, len(payments), batch):
            part = payments.iloc[start : start + batch]
            tree, _ = bilateral_batch(self.address, fc, day, part)
            body = countersign_request(self.address, fc, day, part, tree)
            self.store.put("bilateral.pending", hexstr(tree.root), body | {"to": reconciler})
            self.endpoint.send(fc, "countersign-request", body)
            self.store.add_details("credit", day, part[list(DETAIL)].assign(counterparty=fc))
            roots.append(tree.root)
        return roots

    def commit_countersigned(self) -> list[bytes]:
        """Commit each batch the finance company countersigned (the signature checked first: one
        of its keys over exactly the batch) and send the bank's bilateral copy to the reconciler.
        Returns the roots committed."""
        roots = []
        for m in self.endpoint.receive(["countersignature"]):
            pending = self.store.get("bilateral.pending", m.body["root"])
            if pending is None or pending["fc"].lower() != m.sender.lower():
                continue  # not a batch of ours to that finance company
            signature = from_hex(m.body["signature"])
            b = bilateral_of(pending)
            eip712.check_countersignature(
                bilateral_domain(self.recon), b, signature, self.fc_signers(b.financeCompany)
            )
            self.outbox.send(COMMIT, key_of(b.root), [*bilateral_args(b), signature])
            self.endpoint.send(pending["to"], "bilateral", pending)
            roots.append(b.root)
        return roots

    def fc_signers(self, fc: str) -> set[str]:
        return {fc, *self.inst.registry.operatorsOf(fc)}


DETAIL = ("id", "amount", "paid_at")


def bilateral_batch(
    bank: str, fc: str, day: int, part: pd.DataFrame
) -> tuple[merkle.RecordTree, eip712.Bilateral]:
    """A batch's tree over its bilateral leaves and the struct both sides agree on."""
    recs = [
        (record_id32(i), int(a), bank, fc, int(t))
        for i, a, t in part[list(DETAIL)].itertuples(index=False, name=None)
    ]
    tree = merkle.RecordTree(recs, BILATERAL_TYPES)
    return tree, eip712.Bilateral(bank, fc, day, tree.root, len(recs), int(part["amount"].sum()))


def countersign_request(
    bank: str, fc: str, day: int, part: pd.DataFrame, tree: merkle.RecordTree
) -> dict[str, Any]:
    """The batch as the bank sends it for countersignature (and later to the reconciler)."""
    return {
        "day": day,
        "root": hexstr(tree.root),
        "bank": bank,
        "fc": fc,
        "count": len(part),
        "total": int(part["amount"].sum()),
        "leaves": [hexstr(x) for x in tree.leaves],
        "rows": part[list(DETAIL)].to_numpy().tolist(),
    }


def bilateral_of(body: dict[str, Any]) -> eip712.Bilateral:
    return eip712.Bilateral(
        body["bank"],
        body["fc"],
        int(body["day"]),
        from_hex(body["root"]),
        int(body["count"]),
        int(body["total"]),
    )


def bilateral_args(b: eip712.Bilateral) -> list[Any]:
    """commitBilateral's arguments but the countersignature."""
    return [b.financeCompany, b.day, b.root, b.count, b.total]


def bilateral_domain(recon: Any) -> Domain:
    """The EIP-712 domain of a deployed Reconciliation, read from its ERC-5267 `eip712Domain()`."""
    _, name, version, chain_id, verifying, _, _ = recon.eip712Domain()
    return Domain(int(chain_id), str(verifying), str(name), str(version))


class CountersignRefused(ValueError):
    """A batch sent for countersignature is not what its rows make (root, count or total)."""


def countersign(
    domain: Domain, body: dict[str, Any], sender: str, fc: str, key: Any
) -> tuple[eip712.Bilateral, bytes]:
    """The finance company's countersignature of a batch it received: the rows rebuilt into the
    tree with the sender as bank and itself as finance company must give the batch's root, count
    and total, else CountersignRefused (nothing is signed)."""
    part = pd.DataFrame(body["rows"], columns=list(DETAIL))
    _, b = bilateral_batch(sender, fc, int(body["day"]), part)
    claimed = bilateral_of(body | {"bank": sender, "fc": fc})
    if b != claimed:
        raise CountersignRefused(
            f"batch {body['root']} of day {body['day']} from {sender}: its rows make root "
            f"{hexstr(b.root)}, {b.count} records, total {b.total}, not the root, count and "
            f"total it claims ({claimed.count}, {claimed.total}); not countersigned"
        )
    return b, eip712.sign_bilateral(domain, b, bytes(key.key))


@dataclass
class Bank(Participant):
    """The bank's books: credit details per day, handed to the reconciler on request."""

    def provide_credits(self, day: int, reconciler: str) -> int:
        df = self.store.details("credit", day)
        self.endpoint.send(
            reconciler,
            "credit",
            {"day": day, "rows": df[["id", "amount", "paid_at"]].to_numpy().tolist()},
        )
        return len(df)


@dataclass
class FinanceCompany(Participant):
    """The finance company: stores debit details, provides them,
    pays the bank the day's credit total."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # the day is the key: settleDay refuses a settled day, getDay shows its payment
        self.outbox.register_call(
            SETTLE_DAY, partial(self._tx, self.recon.settleDay), self._settled
        )

    def _settled(self, args: list) -> Recorded | None:
        d = self.recon.getDay(self.recon.dayKey(args[0], self.address, args[1]))
        return Recorded(int(d[8]), {"paymentRef": hexstr(from_hex(str(d[12])))}) if d[4] else None

    def collect_debits(self) -> int:
        """Keep the debit details of each batch the bank sends and countersign the batch (its rows
        rebuilt first); a batch that does not rebuild is answered "countersign-refused"."""
        n = 0
        for m in self.endpoint.receive(["countersign-request"]):
            try:
                b, signature = countersign(
                    bilateral_domain(self.recon), m.body, m.sender, self.address, self.key
                )
            except CountersignRefused as exc:
                self.endpoint.send(m.sender, "countersign-refused", {"reason": str(exc)})
                continue
            df = pd.DataFrame(m.body["rows"], columns=list(DETAIL)).assign(counterparty=m.sender)
            n += self.store.add_details("debit", b.day, df)
            body = {"root": hexstr(b.root), "signature": hexstr(signature)}
            self.endpoint.send(m.sender, "countersignature", body)
        return n

    def provide_debits(self, day: int, reconciler: str) -> int:
        df = self.store.details("debit", day)
        self.endpoint.send(
            reconciler,
            "debit-details",
            {"day": day, "rows": df[["id", "amount", "paid_at"]].to_numpy().tolist()},
        )
        return len(df)

    def settle(self, bank: str, day: int, token: Any = None) -> Any:
        """Pay the bank the day's corrected credit total
        (token allowance first when a token is used)."""
        key = self.recon.dayKey(bank, self.address, day)
        d = self.recon.getDay(key)
        if d[4]:  # settled already (restart after the payment): nothing to do
            return None
        if token is not None and int(d[2]) > 0:
            self._tx(token.approve, self.recon.address, int(d[2]))
        ref = doc_hash(f"payment {bank}/{self.address}/{day}")
        return self.outbox.send(SETTLE_DAY, key_of(key), [bank, day, ref]).tx


@dataclass
class Reconciler(Participant):
    """Next-day reconciler: fetches both sides, checks bilateral copies against their commitments,
    runs the engine, records the result and the breaks on chain, and tells both parties."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # (day, first seq) is the key of a breaks call: recordBreaks refuses it twice, breaksBatchOf
        # tells
        self.outbox.register_counted(
            BREAKS,
            partial(self._tx, self.recon.recordBreaks),
            lambda a: self.recon.breaksBatchOf(a[0], a[1][0][0]),
        )

    def collect(self) -> dict[str, list[dict[str, Any]]]:
        got: dict[str, list[dict[str, Any]]] = {}
        for m in self.endpoint.receive(["bilateral", "credit", "debit-details"]):
            body = dict(m.body, sender=m.sender)
            got.setdefault(m.kind, []).append(body)
            if m.kind == "bilateral":
                self.store.put("bilateral", body["root"], body)
        return got

    def bilateral_frame(
        self, bank: str, fc: str, day: int, batches: list[dict[str, Any]]
    ) -> tuple[pd.DataFrame, set[bytes]]:
        """The copies received,
        with `committed` = leaf is under a root the chain holds for this day."""
        key = self.recon.dayKey(bank, fc, day)
        committed_leaves: set[bytes] = set()
        frames = []
        for b in batches:
            root = from_hex(b["root"])
            leaves = [from_hex(x) for x in b["leaves"]]
            on_chain = from_hex(str(self.recon.committedDayOf(bank, root))) == from_hex(str(key))
            if on_chain and merkle.root_of_leaves(leaves) == root:
                committed_leaves.update(leaves)
            frames.append(pd.DataFrame(b["rows"], columns=["id", "amount", "paid_at"]))
        df = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["id", "amount", "paid_at"])
        )
        df["committed"] = [
            merkle.leaf_hash((record_id32(i), int(a), bank, fc, int(t)), BILATERAL_TYPES)
            in committed_leaves
            for i, a, t in df[["id", "amount", "paid_at"]].itertuples(index=False, name=None)
        ]
        return df, committed_leaves

    @staticmethod
    def resolve(
        df: pd.DataFrame, sides: list[pd.DataFrame], bank: str, fc: str, leaves: set[bytes]
    ) -> pd.DataFrame:
        """For copies not matching their commitment, the amount of a side's detail that does
        (else NaN)."""
        df = df.copy()
        df["resolved_amount"] = np.nan
        for idx in df.index[~df["committed"]]:
            rid = int(df.at[idx, "id"])
            for side in sides:
                for a, t in side.loc[side["id"] == rid, ["amount", "paid_at"]].itertuples(
                    index=False, name=None
                ):
                    if (
                        merkle.leaf_hash(
                            (record_id32(rid), int(a), bank, fc, int(t)), BILATERAL_TYPES
                        )
                        in leaves
                    ):
                        df.at[idx, "resolved_amount"] = int(a)
                        break
                if not np.isnan(df.at[idx, "resolved_amount"]):
                    break
        return df

    def close_day(self, bank: str, fc: str, day: int) -> Any:
        """Close the day to new batches before reading what was committed (once: a closed day is
        left as it is), so no batch the bank adds later can move the total this reconciler
        reconciles."""
        d = self.recon.getDay(self.recon.dayKey(bank, fc, day))
        if d[14]:  # closed already (an earlier run, or another reconciler)
            return None
        return self._tx(self.recon.closeDay, bank, fc, day)

    def reconcile_day(
        self,
        bank: str,
        fc: str,
        day: int,
        bilateral: list[dict[str, Any]],
        debit: pd.DataFrame,
        credit: pd.DataFrame,
    ) -> DayResult:
        """Close the day, then reconcile the copies against the batches it holds."""
        self.close_day(bank, fc, day)
        b, leaves = self.bilateral_frame(bank, fc, day, bilateral)
        b = self.resolve(b, [debit, credit], bank, fc, leaves)
        return reconcile(b, debit, credit)

    def record(self, bank: str, fc: str, day: int, result: DayResult) -> bytes:
        """Record the summary and the breaks; idempotent across restarts (asks the chain first)."""
        require_resolved(result)
        key = self.recon.dayKey(bank, fc, day)
        d = self.recon.getDay(key)
        if not d[3]:
            self.close_day(bank, fc, day)
            summary = (
                result.matched,
                len(result.breaks),
                result.presented[1],
                result.presented[2],
                result.corrected_total,
                result.corrected_total,
                result.breaks_root(),
            )
            self._tx(self.recon.recordReconciliation, bank, fc, day, summary)
            d = self.recon.getDay(key)
        done = int(d[7])
        leaves = result.break_leaves()
        for start in range(done, len(leaves), BREAKS_PER_CALL):
            chunk = [
                (s, rid, c, sd, p, cr)
                for s, rid, c, sd, p, cr in leaves[start : start + BREAKS_PER_CALL]
            ]
            self.outbox.send(BREAKS, key_of(key, start), [key, chunk])
        body = {
            "day": day,
            "matched": result.matched,
            "breaks": result.describe(),
            "corrected_total": result.corrected_total,
            "presented": {str(k): v for k, v in result.presented.items()},
        }
        self.store.put("result", f"{bank}:{fc}:{day}", body)
        for to in (bank, fc):
            step = f"result-sent:{to}:{day}"
            if not self.store.done(step):
                self.store.mark(step, self.endpoint.send(to, "reconciliation-result", body).msg_id)
        return from_hex(str(key))
