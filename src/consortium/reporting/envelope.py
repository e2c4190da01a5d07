"""Envelope encryption of confidential report fields.

Each confidential value gets its own random 256-bit data key; the value is encrypted once with
AES-256-GCM (pycryptodome) under that key, and the data key is wrapped for every entitled recipient
with ECIES on secp256k1 (eciespy + coincurve). A recipient opens the envelope with its own private
key; anyone else sees only ciphertext. The associated data (AAD) binds the envelope to the record and
field it belongs to, so an envelope moved to another record fails to open.

Kept small on purpose: consortium.channels will offer the same seal/open for member-to-member
channels, and the two are to be unified there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import ecies
from coincurve import PrivateKey
from Crypto.Cipher import AES

NONCE_BYTES = 12
KEY_BYTES = 32


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
    data_key = os.urandom(KEY_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=nonce)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    keys = {rid.lower(): ecies.encrypt(bytes(pub), data_key) for rid, pub in recipients.items()}
    return Envelope(nonce, ciphertext, tag, keys)


def open_envelope(env: Envelope, recipient: str, private_key: bytes, aad: bytes = b"") -> bytes:
    """Decrypt as `recipient`; EnvelopeError if it is not entitled or the envelope was altered."""
    wrapped = env.keys.get(recipient.lower())
    if wrapped is None:
        raise EnvelopeError(f"{recipient} is not a recipient of this envelope")
    try:
        data_key = ecies.decrypt(private_key, wrapped)
        cipher = AES.new(data_key, AES.MODE_GCM, nonce=env.nonce)
        cipher.update(aad)
        return cipher.decrypt_and_verify(env.ciphertext, env.tag)
    except (ValueError, TypeError) as exc:
        raise EnvelopeError(
            f"envelope for {recipient} does not open: wrong key or altered ({exc})"
        ) from None
