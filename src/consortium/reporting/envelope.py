"""Envelope encryption of confidential report fields.

Each confidential value gets its own random 256-bit data key; the value is encrypted once with
AES-256-GCM (pycryptodome) under that key, and the data key is wrapped for every entitled recipient
with ECIES on secp256k1 (eciespy + coincurve). A recipient opens the envelope with its own private
key; anyone else sees only ciphertext. The associated data (AAD) binds the envelope to the record
and field it belongs to, so an envelope moved to another record fails to open.

The cryptography is consortium.channels' (encrypt_for / decrypt_with), the one envelope primitive
of the project; this module only addresses envelopes by recipient id (a member's address) and
gives them a JSON form for reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from coincurve import PrivateKey

from consortium.channels import decrypt_with, encrypt_for


class EnvelopeError(ValueError):
    """An envelope that cannot be opened by this recipient (not entitled, or tampered with)."""


@dataclass(frozen=True)
class KeyPair:
    """A recipient's encryption key (secp256k1), separate from its signing key."""

    private_key: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(PrivateKey().secret)

    @property
    def public_key(self) -> bytes:
        """33-byte compressed public key, what senders wrap data keys to."""
        return PrivateKey(self.private_key).public_key.format(compressed=True)


@dataclass
class KeyDirectory:
    """Public encryption keys of members and regulators, by address (lower-case hex)."""

    public_keys: dict[str, bytes] = field(default_factory=dict)

    def add(self, address: str, public_key: bytes) -> None:
        self.public_keys[address.lower()] = bytes(public_key)

    def get(self, address: str) -> bytes | None:
        return self.public_keys.get(address.lower())


@dataclass(frozen=True)
class Envelope:
    """An encrypted value: AES-GCM ciphertext plus the data key wrapped per recipient."""

    nonce: bytes
    ciphertext: bytes
    tag: bytes
    keys: dict[str, bytes]  # recipient id (address, lower-case) -> ECIES-wrapped data key

    def to_json(self) -> dict:
        return {
            "alg": "AES-256-GCM+ECIES-secp256k1",
            "nonce": self.nonce.hex(),
            "ciphertext": self.ciphertext.hex(),
            "tag": self.tag.hex(),
            "keys": {r: k.hex() for r, k in sorted(self.keys.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping) -> Envelope:
        return cls(
            bytes.fromhex(data["nonce"]),
            bytes.fromhex(data["ciphertext"]),
            bytes.fromhex(data["tag"]),
            {r: bytes.fromhex(k) for r, k in data["keys"].items()},
        )


def seal(plaintext: bytes, recipients: Mapping[str, bytes], aad: bytes = b"") -> Envelope:
    """Encrypt `plaintext` once and wrap its fresh data key to each recipient's public key."""
    if not recipients:
        raise EnvelopeError("no recipient: a confidential value must be sealed to at least one key")
    ids = list(recipients)
    nonce, ciphertext, tag, wrapped = encrypt_for(
        plaintext, [bytes(recipients[i]) for i in ids], aad
    )
    return Envelope(nonce, ciphertext, tag, {rid.lower(): w for rid, w in zip(ids, wrapped)})


def open_envelope(env: Envelope, recipient: str, private_key: bytes, aad: bytes = b"") -> bytes:
    """Decrypt as `recipient`; EnvelopeError if it is not entitled or the envelope was altered."""
    wrapped = env.keys.get(recipient.lower())
    if wrapped is None:
        raise EnvelopeError(f"{recipient} is not a recipient of this envelope")
    try:
        return decrypt_with(env.nonce, env.ciphertext, env.tag, wrapped, private_key, aad)
    except (ValueError, TypeError) as exc:
        raise EnvelopeError(
            f"envelope for {recipient} does not open: wrong key or altered ({exc})"
        ) from None
