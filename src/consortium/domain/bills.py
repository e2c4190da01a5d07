"""Bill math the chain and the institutions must agree on: financing proceeds and evidence digests.

Mirrors contracts/bills/BillToken.sol exactly; the property tests compare the two on random inputs.
Also a small pure ledger model of the bill lifecycle (`BillLedger`) that the stateful tests use as
their oracle for balances, locks and redemptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

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
