"""Per-product qualification rules a sales bank and an issuer agreed, and the screening of requests.

The rules are contract terms: their hash must equal
`registry.getTerms(terms_id(product)).termsHash`, which changes only by joint amendment (both
parties approve, the permission manager enacts). A sales bank screens every request against the
agreed rules before sending and keeps each rejection with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from eth_utils import keccak

# reason codes (stable: they go into stores and reports)
UNDER_MIN_AGE = "UNDER_MIN_AGE"
NOT_REGISTERED = "NOT_REGISTERED_WITH_ISSUER"
RISK_TOO_LOW = "RISK_LEVEL_BELOW_PRODUCT_RISK"
RULES_NOT_AGREED = "RULES_NOT_AGREED_ON_CHAIN"
UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"


def terms_id(product_id: bytes) -> bytes:
    """Registry terms id of a product's qualification rules:
    keccak256("QUALIFICATION" ‖ productId)."""
    return keccak(b"QUALIFICATION" + bytes(product_id))


@dataclass(frozen=True)
class QualificationRules:
    """What an investor must satisfy to buy `product_id` of `issuer`
    (risk levels 1 = lowest … 5)."""

    product_id: bytes
    issuer: str
    product_risk: int
    min_age: int = 18
    require_registered: bool = True

    def canonical(self) -> bytes:
        """Deterministic JSON both parties hash and sign off: key order and spacing fixed."""
        return json.dumps(
            {
                "product_id": "0x" + bytes(self.product_id).hex(),
                "issuer": self.issuer.lower(),
                "product_risk": self.product_risk,
                "min_age": self.min_age,
                "require_registered": self.require_registered,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def terms_hash(self) -> bytes:
        return keccak(self.canonical())

    @property
    def terms_id(self) -> bytes:
        return terms_id(self.product_id)


@dataclass(frozen=True)
class Investor:
    """What the sales bank knows of its customer (stays in the bank; only a commitment travels)."""

    commitment: bytes
    age: int
    risk_level: int
    registered_with: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Rejection:
    """A request refused before sending,
    with its reason codes and a sentence a person can act on."""

    request_id: bytes
    codes: tuple[str, ...]
    reason: str


def check(rules: QualificationRules, investor: Investor) -> list[tuple[str, str]]:
    """Every rule the investor fails, as (code, explanation); empty when the investor qualifies."""
    failed: list[tuple[str, str]] = []
    if investor.age < rules.min_age:
        failed.append(
            (UNDER_MIN_AGE, f"investor is {investor.age}, product requires {rules.min_age}+")
        )
    if rules.require_registered and rules.issuer.lower() not in {
        i.lower() for i in investor.registered_with
    }:
        failed.append(
            (NOT_REGISTERED, f"investor is not a registered customer of issuer {rules.issuer}")
        )
    if investor.risk_level < rules.product_risk:
        failed.append(
            (
                RISK_TOO_LOW,
                f"investor risk level {investor.risk_level} < product risk {rules.product_risk}",
            )
        )
    return failed


def screen(
    items: Iterable[tuple[bytes, bytes, Investor]],
    rules_by_product: dict[bytes, QualificationRules],
    agreed_hashes: dict[bytes, bytes],
) -> tuple[list[bytes], list[Rejection]]:
    """Split (request_id, product_id, investor) items into accepted request ids and rejections.

    `agreed_hashes` maps product id -> the terms hash currently on chain; rules whose hash differs
    are not in force and every request for that product is refused (the parties must amend jointly
    first).
    """
    accepted: list[bytes] = []
    rejected: list[Rejection] = []
    for request_id, product_id, investor in items:
        rules = rules_by_product.get(product_id)
        if rules is None:
            rejected.append(
                Rejection(
                    request_id, (UNKNOWN_PRODUCT,), f"no rules for product 0x{product_id.hex()}"
                )
            )
            continue
        if agreed_hashes.get(product_id) != rules.terms_hash():
            rejected.append(
                Rejection(
                    request_id,
                    (RULES_NOT_AGREED,),
                    f"rules of product 0x{product_id.hex()} differ from the terms agreed on chain; "
                    "amend them jointly (approveAmendment by both, enactAmendment by the manager)",
                )
            )
            continue
        failed = check(rules, investor)
        if failed:
            rejected.append(
                Rejection(request_id, tuple(c for c, _ in failed), "; ".join(m for _, m in failed))
            )
        else:
            accepted.append(request_id)
    return accepted, rejected
