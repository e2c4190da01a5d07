"""Bill math the chain and the institutions must agree on: financing proceeds and evidence digests.

Mirrors contracts/bills/BillToken.sol exactly; the property tests compare the two on random inputs.
Also a small pure ledger model of the bill lifecycle (`BillLedger`) that the stateful tests use as
their oracle for balances, locks and redemptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import permutations
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from consortium.domain.days import SECONDS_PER_DAY, days_to_maturity
from consortium.domain.encoding import b32

MAX_RATE_BPS = 10_000
DISCOUNT_DENOMINATOR = 3_650_000  # 10,000 bps × 365 days
MAX_LINEAGE_DEPTH = 32
MAX_REDEMPTION_BATCH = 50
FINANCING_WINDOW = 7 * SECONDS_PER_DAY  # from the holder's signature to audit and disbursement
PAYMENT_CONFIRMATION_WINDOW = 7 * SECONDS_PER_DAY  # a payee's time to confirm an off-chain payment
MAX_QUOTE_WINDOW = 3 * SECONDS_PER_DAY  # longest quote window of a publicised financing request

# The supply-chain client's roles (issue 18): SUPPLY_CHAIN_CLIENT is the membership (receive and
# review bills, pay one's own, withdraw one's own requests); the joining audit grants the three
# rights apart (开单权限、转单权限、融资权限), each a role BillToken checks where it applies.
CLIENT_ROLE = "SUPPLY_CHAIN_CLIENT"
ISSUE_RIGHT = "BILL_ISSUER"  # requestIssue
TRANSFER_RIGHT = "BILL_TRANSFEROR"  # requestTransfer
FINANCING_RIGHT = "BILL_FINANCING_APPLICANT"  # requestFinancing, acceptFinancing
RIGHTS = (ISSUE_RIGHT, TRANSFER_RIGHT, FINANCING_RIGHT)
FULL_CLIENT = (CLIENT_ROLE, *RIGHTS)  # a client holding every right
# whose qualification audit each client role is routed to (ConsortiumRegistry.setRoleAuditor): the
# source's audit terminal audits a supply-chain client's joining application
AUDIT_ROUTES: dict[str, str] = {role: "AUDITOR" for role in FULL_CLIENT}


def auditor_is_party(auditor: str, node_from: str, node_to: str, debtor: str) -> bool:
    """Segregation of duties (BillToken.audit, BillAuditorIsParty): an audit institution that is
    also a client or factor never audits a node it sends, holds, receives or finances, nor a node of
    a bill it owes."""
    me = auditor.lower()
    return me in {node_from.lower(), node_to.lower(), debtor.lower()}


class QuoteRefused(ValueError):
    """A quote the chain would refuse in a financing's quote window (BillToken.quoteFinancing)."""


class QuoteWindowClosed(QuoteRefused):
    """BillQuoteWindowClosed: the window ended; no more quotes."""


class QuoteNotBetter(QuoteRefused):
    """BillQuoteNotBetter: in a window a quote must beat the best so far (a lower rate)."""


class QuoteWindowOpen(QuoteRefused):
    """BillQuoteWindowOpen: the holder signs only after the window ends."""


def max_quote_window(now: int, maturity: int) -> int:
    """Longest quote window a financing request may have at `now` (it ends before maturity)."""
    return min(MAX_QUOTE_WINDOW, maturity - now - 1)


@dataclass
class QuoteWindow:
    """Twin of a financing request publicised with a quote window (requestFinancingQuotes): factors
    quote until `ends`, each beating the best so far (the one beaten is released); after `ends` the
    holder signs the best quote. A factor's agent uses it to tell whether quoting is worth a
    transaction, the holder's to know when it may sign."""

    ends: int
    best: tuple[str, int] | None = None  # (factor, rate bps) of the quote standing
    released: list[tuple[str, int]] = field(default_factory=list)

    def quote(self, factor: str, rate_bps: int, now: int) -> None:
        if now >= self.ends:
            raise QuoteWindowClosed(f"the quote window closed at {self.ends} (now {now})")
        if self.best is not None and rate_bps >= self.best[1]:
            raise QuoteNotBetter(f"{rate_bps} bps does not beat the best quote {self.best[1]} bps")
        if self.best is not None:
            self.released.append(self.best)
        self.best = (factor, rate_bps)

    def accept(self, now: int) -> tuple[str, int]:
        """The quote the holder signs: the best one, once the window ended."""
        if now < self.ends:
            raise QuoteWindowOpen(f"the quote window is open until {self.ends} (now {now})")
        if self.best is None:
            raise LookupError("no factor quoted in the window")
        return self.best


class NoBillParties(LookupError):
    """The clients' rights leave no core (issue right), tier-1 (transfer right), financing tier-2
    (financing right) and fourth client for a day's bill."""


def draw_parties(rng: Any, rights: Mapping[str, Iterable[str]]) -> tuple[str, str, str, str]:
    """A bill's core, tier-1, financing tier-2 and receiving tier-2, drawn from the clients (id ->
    roles held) so each holds the right its step needs: the first fitting order of a shuffle, so any
    consortium whose rights allow a day finds one (a greedy draw could pick the only transferor as
    core)."""
    ids = sorted(i for i, held in rights.items() if CLIENT_ROLE in set(held))
    held = {i: set(rights[i]) for i in ids}
    needs = (ISSUE_RIGHT, TRANSFER_RIGHT, FINANCING_RIGHT, CLIENT_ROLE)
    for four in permutations(rng.sample(ids, len(ids)), 4):
        if all(need in held[who] for who, need in zip(four, needs)):
            return four[0], four[1], four[2], four[3]
    raise NoBillParties(
        f"a bill needs 4 {CLIENT_ROLE} members: one holding {ISSUE_RIGHT} (core), another "
        f"{TRANSFER_RIGHT} (tier-1), another {FINANCING_RIGHT} (the tier-2 that finances) and "
        f"a fourth; "
        f"the consortium has {sorted((i, sorted(h & set(RIGHTS))) for i, h in held.items())}"
    )


class EvidenceStep(IntEnum):
    """Steps folded into a node's evidence digest (IBillToken.EvidenceStep)."""

    NONE = 0
    REQUEST = 1
    REVIEW = 2
    AUDIT = 3
    QUOTE = 4
    AGREE = 5
    DISBURSE = 6
    CANCEL = 7
    EXPIRE = 8


class NodeState(IntEnum):
    """IBillToken.NodeState."""

    NONE = 0
    REQUESTED = 1
    REVIEWED = 2
    QUOTED = 3
    AGREED = 4
    AUDITED = 5
    VALID = 6
    REJECTED = 7


class NodeKind(IntEnum):
    """IBillToken.NodeKind."""

    NONE = 0
    ISSUE = 1
    TRANSFER = 2
    FINANCING = 3


class PaymentKind(IntEnum):
    """IBillToken.PaymentKind: what an off-chain payment declaration pays for."""

    NONE = 0
    REDEMPTION = 1
    DISBURSEMENT = 2


def financing_deadline(signed_at: int, maturity: int) -> int:
    """When an agreed financing may be expired: min(signature + FINANCING_WINDOW, maturity), as
    BillToken.acceptFinancing sets it."""
    return min(signed_at + FINANCING_WINDOW, maturity)


class BillStatus(IntEnum):
    """IBillToken.BillStatus."""

    NONE = 0
    PENDING = 1
    ACTIVE = 2
    OVERDUE = 3
    SETTLED = 4
    CANCELLED = 5


def discount(amount: int, rate_bps: int, days: int) -> int:
    """Factor's discount in minor units: floor(amount × rateBps × days / 3,650,000).

    Rounds down, in the holder's favour, exactly as BillToken.quoteFinancing does.
    """
    if not 0 <= rate_bps <= MAX_RATE_BPS:
        raise ValueError(
            f"rate {rate_bps} bps outside 0..{MAX_RATE_BPS}; quote a rate in basis points"
        )
    if amount < 0 or days < 0:
        raise ValueError("amount and days must be non-negative")
    return amount * rate_bps * days // DISCOUNT_DENOMINATOR


def proceeds(amount: int, rate_bps: int, maturity: int, now: int) -> int:
    """What the factor pays the holder for `amount` of a bill maturing at `maturity`,
    quoted at `now`.

    Raises ValueError where the discount would exceed the amount (the chain refuses such a quote
    with BillDiscountExceedsAmount): quote a lower rate or finance a shorter maturity.
    """
    d = discount(amount, rate_bps, days_to_maturity(maturity, now))
    if d > amount:
        raise ValueError(f"discount {d} exceeds amount {amount}: quote a lower rate")
    return amount - d


def chain_evidence(prev: bytes | str, step: int, actor: str, doc: bytes | str, ok: bool) -> bytes:
    """Next evidence digest: keccak256(abi.encode(prev, step, actor, hash, ok)),
    as BillToken._chain."""
    return keccak(
        encode(
            ["bytes32", "uint8", "address", "bytes32", "bool"],
            [b32(prev), int(step), to_checksum_address(actor), b32(doc), bool(ok)],
        )
    )


def evidence_of(steps: list[tuple[int, str, bytes | str, bool]]) -> bytes:
    """Digest of a node after `steps` [(step, actor, hash, ok), …],
    starting from zero at the request."""
    digest = b"\0" * 32
    for step, actor, doc, ok in steps:
        digest = chain_evidence(digest, step, actor, doc, ok)
    return digest


# ----------------------------------------------------------------------------- ledger model


@dataclass
class ModelNode:
    """One lineage node in the model: who asked, for whom, how much is locked, what it became."""

    node_id: int
    bill_id: int
    parent: int
    kind: NodeKind
    sender: str
    receiver: str | None
    amount: int
    depth: int
    state: NodeState = NodeState.REQUESTED


@dataclass
class BillLedger:
    """Pure model of BillToken's balances: holdings, escrow (locked) and redemptions per bill.

    Why: the stateful test drives the contract and this model with the same steps and checks that
    Σ holdings + locked + redeemed = face value for every live bill, and that they match the chain.
    """

    next_id: int = 1
    face: dict[int, int] = field(default_factory=dict)
    status: dict[int, BillStatus] = field(default_factory=dict)
    redeemed: dict[int, int] = field(default_factory=dict)
    nodes: dict[int, ModelNode] = field(default_factory=dict)
    balances: dict[tuple[int, str], int] = field(default_factory=dict)  # (node, holder) -> amount

    def _node(self, node_id: int) -> ModelNode:
        if node_id not in self.nodes:
            raise KeyError(f"node {node_id} unknown to the model")
        return self.nodes[node_id]

    def balance(self, node_id: int, holder: str) -> int:
        return self.balances.get((node_id, holder), 0)

    def locked(self, node_id: int) -> int:
        n = self.nodes.get(node_id)
        return n.amount if n and n.state not in (NodeState.VALID, NodeState.REJECTED) else 0

    def issue(self, debtor: str, receiver: str, face: int) -> int:
        bill_id = self.next_id
        self.next_id += 1
        self.face[bill_id] = face
        self.status[bill_id] = BillStatus.PENDING
        self.redeemed[bill_id] = 0
        self.nodes[bill_id] = ModelNode(
            bill_id, bill_id, 0, NodeKind.ISSUE, debtor, receiver, face, 0
        )
        return bill_id

    def request(
        self, parent: int, holder: str, receiver: str | None, amount: int, kind: NodeKind
    ) -> int:
        p = self._node(parent)
        have = self.balance(parent, holder)
        if p.state != NodeState.VALID or amount <= 0 or amount > have:
            raise ValueError(
                f"node {parent}: cannot lock {amount} of {have} (state {p.state.name})"
            )
        node_id = self.next_id
        self.next_id += 1
        self.balances[(parent, holder)] = have - amount
        self.nodes[node_id] = ModelNode(
            node_id, p.bill_id, parent, kind, holder, receiver, amount, p.depth + 1
        )
        return node_id

    def advance(self, node_id: int, state: NodeState, receiver: str | None = None) -> None:
        """Review, quote, agree or audit steps that keep the amount locked."""
        n = self._node(node_id)
        n.state = state
        if receiver is not None:
            n.receiver = receiver

    def deliver(self, node_id: int) -> None:
        """Audit approval (issue, transfer) or disbursement (financing): escrow → receiver."""
        n = self._node(node_id)
        n.state = NodeState.VALID
        key = (node_id, n.receiver)
        self.balances[key] = self.balances.get(key, 0) + n.amount
        if n.kind == NodeKind.ISSUE:
            self.status[n.bill_id] = BillStatus.ACTIVE

    def reject(self, node_id: int) -> None:
        """Rejection, cancellation or expiry at any step: escrow returned to the parent holding (or
        the issue cancelled)."""
        n = self._node(node_id)
        n.state = NodeState.REJECTED
        if n.kind == NodeKind.ISSUE:
            self.status[n.bill_id] = BillStatus.CANCELLED
        else:
            key = (n.parent, n.sender)
            self.balances[key] = self.balances.get(key, 0) + n.amount

    def redeem(self, node_id: int, holder: str, amount: int) -> None:
        n = self._node(node_id)
        have = self.balance(node_id, holder)
        if amount <= 0 or amount > have:
            raise ValueError(f"node {node_id}: cannot redeem {amount} of {have}")
        self.balances[(node_id, holder)] = have - amount
        self.redeemed[n.bill_id] += amount
        if self.redeemed[n.bill_id] == self.face[n.bill_id]:
            self.status[n.bill_id] = BillStatus.SETTLED

    def held(self, bill_id: int) -> int:
        return sum(v for (nid, _), v in self.balances.items() if self.nodes[nid].bill_id == bill_id)

    def locked_total(self, bill_id: int) -> int:
        return sum(self.locked(nid) for nid, n in self.nodes.items() if n.bill_id == bill_id)

    def conserved(self, bill_id: int) -> bool:
        """Σ holdings + locked + redeemed = face value (vacuous for a cancelled issue: all zero)."""
        total = self.held(bill_id) + self.locked_total(bill_id) + self.redeemed[bill_id]
        if self.status[bill_id] == BillStatus.CANCELLED:
            return total == 0
        return total == self.face[bill_id]

    def lineage(self, node_id: int) -> list[int]:
        """Node ids from `node_id` back to its bill."""
        path = [node_id]
        while self._node(path[-1]).parent:
            path.append(self.nodes[path[-1]].parent)
        return path
