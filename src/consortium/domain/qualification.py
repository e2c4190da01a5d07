"""Per (sales bank, product) qualification rules the two parties agreed, the bank's screening of
orders, and the issuer's own checks of the orders it receives.

The rules are contract terms: their hash must equal
`registry.getTerms(terms_id(sales_bank, product)).termsHash`, which changes only by joint amendment
(both parties approve, the permission manager enacts). The terms id names the sales bank as well as
the product, because a product is distributed by several banks and each bank agrees its own terms
with the issuer (one id per product would let only the first bank ever hold terms for it).

Screening depends on the business type (the source: 发起用户资质与业务类型不匹配): the purchase
rules (age, risk level, minimum amount) are for subscriptions; a redemption or a share change
concerns shares the investor already holds with the issuer, so it is checked against that holding (a
registered customer of the issuer, enough shares) and never refused on purchase rules.

The issuer then runs its own checks (`IssuerBook`) and answers every order it received: a refused
order is confirmed as refused with its reason code in the signed confirmation, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eth_utils import keccak, to_bytes

from consortium.domain.days import day_bounds
from consortium.domain.eip712 import KINDS, REDEMPTION, SHARE_CHANGE, SUBSCRIPTION

# reason codes (stable: they go into stores, reports and, as bytes32, into signed confirmations)
UNDER_MIN_AGE = "UNDER_MIN_AGE"
NOT_REGISTERED = "NOT_REGISTERED_WITH_ISSUER"
RISK_TOO_LOW = "RISK_LEVEL_BELOW_PRODUCT_RISK"
RULES_NOT_AGREED = "RULES_NOT_AGREED_ON_CHAIN"
UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
BELOW_MIN_AMOUNT = "AMOUNT_BELOW_PRODUCT_MINIMUM"
ABOVE_MAX_AMOUNT = "AMOUNT_ABOVE_PRODUCT_MAXIMUM"
INSUFFICIENT_SHARES = "SHARES_EXCEED_HOLDING"
NO_SHARES = "NO_SHARES_GIVEN"
UNKNOWN_KIND = "UNKNOWN_BUSINESS_TYPE"
PRODUCT_CLOSED = "PRODUCT_CLOSED_FOR_BUSINESS_TYPE"
QUOTA_EXHAUSTED = "PRODUCT_QUOTA_EXHAUSTED"
AFTER_CUTOFF = "ORDER_AFTER_PRODUCT_CUTOFF"
WRONG_ISSUER = "PRODUCT_NOT_OF_THIS_ISSUER"


def terms_id(sales_bank: str, product_id: bytes) -> bytes:
    """Registry terms id of the qualification rules `sales_bank` agreed with the product's issuer:
    keccak256(abi.encodePacked("QUALIFICATION", salesBank, productId)), as
    ConfirmationAnchor.qualificationTermsId."""
    bank = to_bytes(hexstr=sales_bank)
    if len(bank) != 20 or bank == b"\0" * 20:
        raise ValueError(f"the terms of a product are a sales bank's: {sales_bank!r} is no address")
    return keccak(b"QUALIFICATION" + bank + bytes(product_id))


@dataclass(frozen=True)
class QualificationRules:
    """What an investor must satisfy to subscribe `product_id` of `issuer` through `sales_bank`
    (risk levels 1 = lowest … 5; `min_amount` in minor units)."""

    product_id: bytes
    issuer: str
    product_risk: int
    min_age: int = 18
    require_registered: bool = True
    sales_bank: str = ""
    min_amount: int = 0

    def canonical(self) -> bytes:
        """Deterministic JSON both parties hash and sign off: key order and spacing fixed."""
        return json.dumps(
            {
                "product_id": "0x" + bytes(self.product_id).hex(),
                "issuer": self.issuer.lower(),
                "sales_bank": self.sales_bank.lower(),
                "product_risk": self.product_risk,
                "min_age": self.min_age,
                "min_amount": self.min_amount,
                "require_registered": self.require_registered,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def terms_hash(self) -> bytes:
        return keccak(self.canonical())

    @property
    def terms_id(self) -> bytes:
        return terms_id(self.sales_bank, self.product_id)


@dataclass(frozen=True)
class Investor:
    """What the sales bank knows of its customer (stays in the bank; only a commitment travels).
    `holdings`: product id -> shares the customer holds of it (with the product's issuer)."""

    commitment: bytes
    age: int
    risk_level: int
    registered_with: frozenset[str] = field(default_factory=frozenset)
    holdings: Mapping[bytes, int] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Order:
    """One order as screening sees it: which product, whose, which business type, how much."""

    request_id: bytes
    product_id: bytes
    investor: Investor
    kind: int = SUBSCRIPTION
    amount: int = 0
    shares: int = 0


@dataclass(frozen=True)
class Rejection:
    """A request refused before sending,
    with its reason codes and a sentence a person can act on."""

    request_id: bytes
    codes: tuple[str, ...]
    reason: str


def _registered(rules: QualificationRules, investor: Investor) -> list[tuple[str, str]]:
    if rules.issuer.lower() in {i.lower() for i in investor.registered_with}:
        return []
    return [(NOT_REGISTERED, f"investor is not a registered customer of issuer {rules.issuer}")]


def check_purchase(
    rules: QualificationRules, investor: Investor, amount: int = 0
) -> list[tuple[str, str]]:
    """Every purchase rule a subscription fails, as (code, explanation)."""
    failed: list[tuple[str, str]] = []
    if investor.age < rules.min_age:
        failed.append(
            (UNDER_MIN_AGE, f"investor is {investor.age}, product requires {rules.min_age}+")
        )
    if rules.require_registered:
        failed += _registered(rules, investor)
    if investor.risk_level < rules.product_risk:
        failed.append(
            (
                RISK_TOO_LOW,
                f"investor risk level {investor.risk_level} < product risk {rules.product_risk}",
            )
        )
    if amount < rules.min_amount:
        failed.append((BELOW_MIN_AMOUNT, f"amount {amount} < product minimum {rules.min_amount}"))
    return failed


def check_holding(
    rules: QualificationRules, investor: Investor, shares: int
) -> list[tuple[str, str]]:
    """What a redemption or share change fails: the investor must be the issuer's registered
    customer and hold the shares it names (purchase rules do not apply to shares already held)."""
    failed = _registered(rules, investor)
    held = int(investor.holdings.get(bytes(rules.product_id), 0))
    if shares <= 0:
        failed.append((NO_SHARES, "a redemption or share change names the shares it concerns"))
    elif shares > held:
        failed.append((INSUFFICIENT_SHARES, f"order names {shares} shares, investor holds {held}"))
    return failed


def check(
    rules: QualificationRules,
    investor: Investor,
    kind: int = SUBSCRIPTION,
    amount: int = 0,
    shares: int = 0,
) -> list[tuple[str, str]]:
    """Every rule the order fails for its business type, as (code, explanation); empty when it
    qualifies."""
    if kind == SUBSCRIPTION:
        return check_purchase(rules, investor, amount)
    if kind in (REDEMPTION, SHARE_CHANGE):
        return check_holding(rules, investor, shares)
    return [(UNKNOWN_KIND, f"business type {kind} is none of {list(KINDS)}")]


def screen(
    orders: Iterable[Order],
    rules_by_product: dict[bytes, QualificationRules],
    agreed_hashes: dict[bytes, bytes],
) -> tuple[list[bytes], list[Rejection]]:
    """Split orders into accepted request ids and rejections.

    `agreed_hashes` maps product id -> the terms hash currently on chain for this bank's terms of
    the product; rules whose hash differs are not in force and every request for that product is
    refused (the parties must amend jointly first).
    """
    accepted: list[bytes] = []
    rejected: list[Rejection] = []
    for o in orders:
        rules = rules_by_product.get(o.product_id)
        if rules is None:
            rejected.append(
                Rejection(
                    o.request_id, (UNKNOWN_PRODUCT,), f"no rules for product 0x{o.product_id.hex()}"
                )
            )
            continue
        if agreed_hashes.get(o.product_id) != rules.terms_hash():
            rejected.append(
                Rejection(
                    o.request_id,
                    (RULES_NOT_AGREED,),
                    f"rules of product 0x{o.product_id.hex()} differ from the terms agreed on "
                    "chain; amend them jointly (approveAmendment by both, enactAmendment by the "
                    "manager)",
                )
            )
            continue
        failed = check(rules, o.investor, o.kind, o.amount, o.shares)
        if failed:
            rejected.append(
                Rejection(
                    o.request_id, tuple(c for c, _ in failed), "; ".join(m for _, m in failed)
                )
            )
        else:
            accepted.append(o.request_id)
    return accepted, rejected


# ===================================================================== the issuer's own checks


@dataclass(frozen=True)
class Product:
    """An issuer's product as its own books hold it (not terms: the issuer's to set).

    `open_kinds`: business types the product accepts now; `min_amount`/`max_amount`: a
    subscription's limits (minor units); `quota`: subscription amount still available (None = no
    quota); `cutoff`: seconds into the order's business day after which orders of that day are
    refused (None = none)."""

    product_id: bytes
    open_kinds: frozenset[int] = frozenset(KINDS)
    min_amount: int = 0
    max_amount: int | None = None
    quota: int | None = None
    cutoff: int | None = None


@dataclass
class IssuerBook:
    """The issuer's registered customers, products and holdings; `decide` answers one order and
    `apply` books a confirmed one (quota used, shares added or taken), so orders of one packet are
    checked in turn against what the earlier ones left."""

    issuer: str
    products: dict[bytes, Product] = field(default_factory=dict)
    registered: set[bytes] = field(default_factory=set)
    holdings: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    used: dict[bytes, int] = field(default_factory=dict)

    def decide(
        self,
        product_id: bytes,
        investor: bytes,
        kind: int,
        amount: int,
        shares: int,
        period: int,
        received_at: int,
    ) -> str | None:
        """The reason code the order is refused for (the first failing check), None to confirm."""
        p = self.products.get(bytes(product_id))
        if p is None:
            return WRONG_ISSUER
        if bytes(investor) not in self.registered:
            return NOT_REGISTERED
        if kind not in KINDS:
            return UNKNOWN_KIND
        if kind not in p.open_kinds:
            return PRODUCT_CLOSED
        if p.cutoff is not None and received_at > day_bounds(period)[0] + p.cutoff:
            return AFTER_CUTOFF
        if kind == SUBSCRIPTION:
            return self._subscription(p, amount)
        if shares <= 0:
            return NO_SHARES
        if shares > self.holdings.get((bytes(investor), p.product_id), 0):
            return INSUFFICIENT_SHARES
        return None

    def _subscription(self, p: Product, amount: int) -> str | None:
        if amount < p.min_amount:
            return BELOW_MIN_AMOUNT
        if p.max_amount is not None and amount > p.max_amount:
            return ABOVE_MAX_AMOUNT
        if p.quota is not None and self.used.get(p.product_id, 0) + amount > p.quota:
            return QUOTA_EXHAUSTED
        return None

    def apply(
        self, product_id: bytes, investor: bytes, kind: int, amount: int, shares: int
    ) -> None:
        """Book a confirmed order: a subscription uses quota and adds shares, a redemption takes
        them (a share change moves no shares between the issuer's books)."""
        key = (bytes(investor), bytes(product_id))
        if kind == SUBSCRIPTION:
            self.used[bytes(product_id)] = self.used.get(bytes(product_id), 0) + amount
            self.holdings[key] = self.holdings.get(key, 0) + shares
        elif kind == REDEMPTION:
            self.holdings[key] = self.holdings.get(key, 0) - shares


def reason_code32(code: str | None) -> bytes:
    """A reason code as the bytes32 a signed confirmation carries (zero for a confirmed order)."""
    if code is None:
        return b"\0" * 32
    raw = code.encode()
    if len(raw) > 32:
        raise ValueError(f"reason code {code!r} longer than 32 bytes")
    return raw.ljust(32, b"\0")


def reason_of(code32: bytes) -> str | None:
    """The reason code a confirmation carries (None when it carries none)."""
    raw = bytes(code32).rstrip(b"\0")
    return raw.decode() if raw else None
