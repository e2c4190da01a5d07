"""EIP-712 typed data of sales requests and issuers' confirmations,
mirroring ConfirmationAnchor.sol.

Why typed signatures: any third party (the other party's auditor, a regulator, a court) can check
which issuer confirmed which request from the signature alone. Hashes here are computed by hand with
eth-abi (the oracle the property tests compare with the contract); signing and recovery use
eth-account's typed-data encoder, so the two implementations check each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from consortium.domain.encoding import b32

DOMAIN_NAME = "ConsortiumConfirmations"
DOMAIN_VERSION = "1"

REQUEST_FIELDS = [
    ("requestId", "bytes32"),
    ("salesBank", "address"),
    ("issuer", "address"),
    ("productId", "bytes32"),
    ("kind", "uint8"),
    ("amount", "uint256"),
    ("shares", "uint256"),
    ("investorCommitment", "bytes32"),
    ("period", "uint64"),
]
CONFIRMATION_FIELDS = [
    ("requestId", "bytes32"),
    ("requestHash", "bytes32"),
    ("issuer", "address"),
    ("status", "uint8"),
    ("confirmedAmount", "uint256"),
    ("confirmedShares", "uint256"),
    ("confirmedAt", "uint64"),
    ("reason", "bytes32"),
]

# request kinds (what the issuer must confirm) and confirmation statuses
SUBSCRIPTION, REDEMPTION, SHARE_CHANGE = 1, 2, 3
KINDS = (SUBSCRIPTION, REDEMPTION, SHARE_CHANGE)
KIND_NAMES = {SUBSCRIPTION: "subscription", REDEMPTION: "redemption", SHARE_CHANGE: "share change"}
CONFIRMED, REFUSED = 1, 2


def _type_string(name: str, fields: list[tuple[str, str]]) -> str:
    return f"{name}(" + ",".join(f"{t} {n}" for n, t in fields) + ")"


REQUEST_TYPEHASH = keccak(text=_type_string("Request", REQUEST_FIELDS))
CONFIRMATION_TYPEHASH = keccak(text=_type_string("Confirmation", CONFIRMATION_FIELDS))
DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


class ConfirmationSignerMismatch(ValueError):
    """A confirmation was signed by someone other than the issuer it names."""


class ConfirmationOutcomeInvalid(ValueError):
    """A confirmation whose status, reason and amounts disagree (on chain:
    AnchorConfirmationOutcomeInvalid): a confirmed request carries no reason; a refused one
    carries its reason and confirms nothing."""


def check_outcome(c: Confirmation) -> None:
    """The rule ConfirmationAnchor.checkConfirmation applies to a confirmation's outcome."""
    zero = b"\0" * 32
    confirmed = c.status == CONFIRMED and bytes(c.reason) == zero
    refused = (
        c.status == REFUSED
        and bytes(c.reason) != zero
        and c.confirmedAmount == 0
        and c.confirmedShares == 0
    )
    if not (confirmed or refused):
        raise ConfirmationOutcomeInvalid(
            f"confirmation of 0x{c.requestId.hex()}: status {c.status} with reason "
            f"0x{bytes(c.reason).hex()} and {c.confirmedAmount}/{c.confirmedShares} confirmed; "
            "a confirmed request carries no reason, a refused one its reason and nothing confirmed"
        )


class ConfirmationSignatureInvalid(ValueError):
    """A signature OpenZeppelin's ECDSA.recover refuses: not 65 bytes, v not 27/28, or high s."""


# secp256k1 group order; ECDSA.recover refuses s > N / 2 (EIP-2), the malleable twin (r, N - s)
# of every valid signature, so the off-chain check must refuse it too or the two would disagree
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain of one deployed ConfirmationAnchor."""

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def separator(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    DOMAIN_TYPEHASH,
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    self.verifying_contract,
                ],
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


class _Typed:
    """Shared behaviour of the EIP-712 structs: field values, struct hash, ABI tuple, JSON."""

    FIELDS: ClassVar[list[tuple[str, str]]]
    TYPEHASH: ClassVar[bytes]

    def values(self) -> list[Any]:
        return [getattr(self, n) for n, _ in self.FIELDS]

    def struct_hash(self) -> bytes:
        return _struct_hash(self.TYPEHASH, self.FIELDS, self.values())

    def as_tuple(self) -> tuple:
        """ABI tuple for contract calls."""
        return tuple(self.values())

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, d: dict[str, Any]):
        return cls(**_from_jsonable(d, cls.FIELDS))


@dataclass(frozen=True)
class Request(_Typed):
    """A subscription, redemption or share change a sales bank sends to an issuer
    (minor units / shares)."""

    requestId: bytes
    salesBank: str
    issuer: str
    productId: bytes
    kind: int
    amount: int
    shares: int
    investorCommitment: bytes
    period: int

    FIELDS: ClassVar[list[tuple[str, str]]] = REQUEST_FIELDS
    TYPEHASH: ClassVar[bytes] = REQUEST_TYPEHASH


@dataclass(frozen=True)
class Confirmation(_Typed):
    """An issuer's answer to one request; `requestHash` binds it to the exact request struct."""

    requestId: bytes
    requestHash: bytes
    issuer: str
    status: int
    confirmedAmount: int
    confirmedShares: int
    confirmedAt: int
    # why a refused request was refused (qualification.reason_code32); zero when confirmed
    reason: bytes = b"\0" * 32

    FIELDS: ClassVar[list[tuple[str, str]]] = CONFIRMATION_FIELDS
    TYPEHASH: ClassVar[bytes] = CONFIRMATION_TYPEHASH


def _struct_hash(typehash: bytes, fields: list[tuple[str, str]], values: list[Any]) -> bytes:
    return keccak(
        encode(
            ["bytes32"] + [t for _, t in fields],
            [typehash] + [b32(v) if t == "bytes32" else v for (_, t), v in zip(fields, values)],
        )
    )


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: ("0x" + v.hex() if isinstance(v, (bytes, bytearray)) else v) for k, v in d.items()}


def _from_jsonable(d: dict[str, Any], fields: list[tuple[str, str]]) -> dict[str, Any]:
    return {n: (b32(d[n]) if t == "bytes32" else d[n]) for n, t in fields}


def digest(domain: Domain, struct_hash: bytes) -> bytes:
    """keccak256("\\x19\\x01" ‖ domainSeparator ‖ structHash),
    as OpenZeppelin `_hashTypedDataV4`."""
    return keccak(b"\x19\x01" + domain.separator() + struct_hash)


def _typed(domain: Domain, c: Confirmation) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Confirmation": [{"name": n, "type": t} for n, t in CONFIRMATION_FIELDS],
        },
        "primaryType": "Confirmation",
        "domain": domain.as_dict(),
        "message": {**c.to_json(), "issuer": to_checksum_address(c.issuer)},
    }


def sign_confirmation(domain: Domain, c: Confirmation, private_key: bytes | str) -> bytes:
    """65-byte signature (r ‖ s ‖ v) of the confirmation by eth-account's typed-data signer."""
    signed = Account.sign_message(encode_typed_data(full_message=_typed(domain, c)), private_key)
    return bytes(signed.signature)


def check_signature_form(signature: bytes) -> None:
    """Refuse what ECDSA.recover refuses on chain (eth-account alone accepts high s and v 0/1)."""
    sig = bytes(signature)
    if len(sig) != 65:
        raise ConfirmationSignatureInvalid(
            f"signature is {len(sig)} bytes, expected 65 (r ‖ s ‖ v): "
            "ECDSAInvalidSignatureLength on chain"
        )
    s = int.from_bytes(sig[32:64], "big")
    if s > SECP256K1_N // 2:
        raise ConfirmationSignatureInvalid(
            f"signature s = {hex(s)} is in the upper half of the curve order "
            "(the malleable twin of a valid signature): ECDSAInvalidSignatureS on chain; "
            "ask the signer for its own signature"
        )
    if sig[64] not in (27, 28):
        raise ConfirmationSignatureInvalid(
            f"signature v = {sig[64]}, expected 27 or 28: ECDSAInvalidSignature on chain"
        )


def recover_signer(domain: Domain, c: Confirmation, signature: bytes) -> str:
    """The address that signed `c` under `domain`; ConfirmationSignatureInvalid for a form the
    contract refuses (so Python never accepts a signature the chain rejects)."""
    check_signature_form(signature)
    return Account.recover_message(
        encode_typed_data(full_message=_typed(domain, c)), signature=signature
    )


def check_confirmation(
    domain: Domain,
    c: Confirmation,
    signature: bytes,
    issuer_signers: set[str],
    issuer_active: bool = True,
) -> str:
    """Recover the signer and require it to be one of the issuer's signing keys; returns the signer.

    `issuer_signers` are the issuer's member address and its operators (registry.operatorsOf), the
    same resolution `ConfirmationAnchor.checkConfirmation` does with `registry.memberOf`;
    `issuer_active` is `registry.isActive(issuer)`: a suspended issuer's signature counts for
    nothing, as on chain (AnchorConfirmationSignerNotActive).
    """
    signer = recover_signer(domain, c, signature)
    if signer.lower() not in {s.lower() for s in issuer_signers}:
        raise ConfirmationSignerMismatch(
            f"confirmation of request 0x{c.requestId.hex()} names issuer {c.issuer} "
            "but was signed by "
            f"{signer}, not one of that issuer's keys: refuse it and ask the issuer to re-sign"
        )
    if not issuer_active:
        raise ConfirmationSignerMismatch(
            f"confirmation of request 0x{c.requestId.hex()} is signed for {c.issuer}, "
            "which is not an "
            "active member (suspended): it counts for nothing; wait for its reinstatement"
        )
    check_outcome(c)  # after the signer: a tampered field is a wrong signature first
    return signer


def second_transaction_hash(
    request: Request, confirmation: Confirmation, signature: bytes
) -> bytes:
    """Hash of the "second transaction data" (request + signed confirmation) that gets anchored.

    keccak256(abi.encode(requestStructHash, confirmationStructHash, keccak256(signature))).
    """
    if confirmation.requestHash != request.struct_hash():
        raise ValueError(
            f"confirmation of 0x{confirmation.requestId.hex()} "
            "is for another version of the request"
        )
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32"],
            [request.struct_hash(), confirmation.struct_hash(), keccak(signature)],
        )
    )


# ------------------------------------------------------------------ bilateral countersignature

RECONCILIATION_DOMAIN_NAME = "ConsortiumReconciliation"
BILATERAL_FIELDS = [
    ("bank", "address"),
    ("financeCompany", "address"),
    ("day", "uint32"),
    ("root", "bytes32"),
    ("count", "uint32"),
    ("total", "uint128"),
]
BILATERAL_TYPEHASH = keccak(text=_type_string("Bilateral", BILATERAL_FIELDS))


class CountersignatureMismatch(ValueError):
    """A bilateral batch's countersignature is not the finance company's over exactly that batch."""


@dataclass(frozen=True)
class Bilateral(_Typed):
    """One batch of a day's bilateral details as both sides agree it (Reconciliation.Bilateral):
    the bank commits it, the finance company countersigns it, so neither side alone sets the
    truth the payment follows."""

    bank: str
    financeCompany: str
    day: int
    root: bytes
    count: int
    total: int

    FIELDS: ClassVar[list[tuple[str, str]]] = BILATERAL_FIELDS
    TYPEHASH: ClassVar[bytes] = BILATERAL_TYPEHASH


def reconciliation_domain(chain_id: int, reconciliation: str) -> Domain:
    """The EIP-712 domain of a deployed Reconciliation (its constructor's EIP712 name, version)."""
    return Domain(chain_id, reconciliation, RECONCILIATION_DOMAIN_NAME, DOMAIN_VERSION)


def _bilateral_typed(domain: Domain, b: Bilateral) -> dict[str, Any]:
    domain_fields = [("name", "string"), ("version", "string"), ("chainId", "uint256")]
    return {
        "types": {
            "EIP712Domain": [
                {"name": n, "type": t}
                for n, t in [*domain_fields, ("verifyingContract", "address")]
            ],
            "Bilateral": [{"name": n, "type": t} for n, t in BILATERAL_FIELDS],
        },
        "primaryType": "Bilateral",
        "domain": domain.as_dict(),
        "message": {
            **b.to_json(),
            "bank": to_checksum_address(b.bank),
            "financeCompany": to_checksum_address(b.financeCompany),
        },
    }


def sign_bilateral(domain: Domain, b: Bilateral, private_key: bytes | str) -> bytes:
    """The finance company's 65-byte countersignature (r ‖ s ‖ v) of a bilateral batch."""
    signed = Account.sign_message(
        encode_typed_data(full_message=_bilateral_typed(domain, b)), private_key
    )
    return bytes(signed.signature)


def check_countersignature(
    domain: Domain, b: Bilateral, signature: bytes, fc_signers: set[str]
) -> str:
    """The signer of a countersignature, required to be one of the finance company's keys (its
    member address, its operators), as `Reconciliation.commitBilateral` requires; returns it."""
    check_signature_form(signature)
    signer = Account.recover_message(
        encode_typed_data(full_message=_bilateral_typed(domain, b)), signature=signature
    )
    if signer.lower() not in {s.lower() for s in fc_signers}:
        raise CountersignatureMismatch(
            f"bilateral batch 0x{b.root.hex()} of day {b.day} is countersigned by {signer}, "
            f"not by a key of finance company {b.financeCompany}: ask it to countersign the batch "
            "as committed (ReconciliationCountersignedByOther on chain)"
        )
    return signer
