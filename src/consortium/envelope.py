"""Sealed envelopes: the one form in which a confidential value travels, in a channel message
(channels.py) or in a report's field (reporting/builder.py).

A fresh 256-bit data key encrypts the value once with AES-256-GCM (pycryptodome), bound to the
associated data (AAD: a channel message's kind, a report field's '<record id>|<field>'); the data
key is wrapped to each recipient's secp256k1 public key with ECIES (eciespy + coincurve). Nothing
here is hand-rolled cryptography: `seal` and `open` only compose those libraries.

Recipients are not named in the envelope. An ECIES-wrapped key does not show which public key it
was wrapped to, and `open` tries each with the private key it is given, so a regulator's report can
carry envelopes sealed to institutions it may see only as pseudonyms without naming them: member
public keys are published, and a recipient list of public keys would re-identify them.

Wire form (version 2), a JSON object of hex strings; `to_bytes` is its canonical compact JSON (keys
sorted, no spaces), what a channel carries and `digest` hashes:
    {"v": 2, "nonce": 12 bytes, "ciphertext": ..., "tag": 16 bytes, "aad": ...,
     "wrapped": [ECIES-wrapped data key, one per recipient, in random order]}
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ecies
from coincurve import PrivateKey, PublicKey
from Crypto.Cipher import AES
from eth_utils import keccak

ENVELOPE_VERSION = 2


class NotARecipient(PermissionError):
    """The private key given to `open` unwraps none of the envelope's data keys."""


class EnvelopeTampered(ValueError):
    """Authentication failed: the envelope was altered after it was sealed."""


class EnvelopeMalformed(EnvelopeTampered):
    """The data is no envelope of this version (garbled, truncated, or another format)."""


class EnvelopeMisplaced(EnvelopeTampered):
    """The envelope is bound to other associated data than the reader expects (say, another
    report record or field): it was moved."""


def _key_bytes(k: bytes | str) -> bytes:
    if isinstance(k, str):
        k = bytes.fromhex(k.removeprefix("0x"))
    return bytes(k)


def normalize_pubkey(pub: bytes | str) -> bytes:
    """A secp256k1 public key in compressed form, from 33/65-byte SEC1 or a 64-byte Ethereum key."""
    raw = _key_bytes(pub)
    if len(raw) == 64:
        raw = b"\x04" + raw
    return PublicKey(raw).format(compressed=True)


def public_key_of(privkey: bytes | str) -> bytes:
    """Compressed public key of a private key."""
    return PrivateKey(_key_bytes(privkey)).public_key.format(compressed=True)


@dataclass(frozen=True)
class KeyPair:
    """An encryption key pair (secp256k1) that envelopes are sealed to; it may be separate from
    the holder's signing key (reports) or the same (agents' messaging key)."""

    private_key: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(PrivateKey().secret)

    @property
    def public_key(self) -> bytes:
        """33-byte compressed public key, what senders seal to."""
        return public_key_of(self.private_key)


def _unhex(data: Mapping[str, Any], name: str) -> bytes:
    value = data[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is {type(value).__name__}, not a hex string")
    return bytes.fromhex(value)


@dataclass(frozen=True)
class Envelope:
    """Ciphertext for one or more recipients; `to_json`/`from_json` (a dict, for report files) and
    `to_bytes`/`from_bytes` (the same dict as canonical JSON, for channels)."""

    nonce: bytes
    ciphertext: bytes
    tag: bytes
    wrapped: tuple[bytes, ...]  # the data key, ECIES-wrapped to each recipient's public key
    aad: bytes = b""
    version: int = ENVELOPE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "nonce": self.nonce.hex(),
            "ciphertext": self.ciphertext.hex(),
            "tag": self.tag.hex(),
            "aad": self.aad.hex(),
            "wrapped": [w.hex() for w in self.wrapped],
        }

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        """The envelope of a `to_json` dict; EnvelopeMalformed for anything else."""
        version = data.get("v") if isinstance(data, Mapping) else None
        if version != ENVELOPE_VERSION:
            raise EnvelopeMalformed(
                f"not an envelope of version {ENVELOPE_VERSION} (found version {version!r}); "
                "ask the sender to seal it again with this version"
            )
        try:
            wrapped = data["wrapped"]
            if not isinstance(wrapped, list) or not all(isinstance(w, str) for w in wrapped):
                raise TypeError("wrapped is not a list of hex strings")
            return cls(
                _unhex(data, "nonce"),
                _unhex(data, "ciphertext"),
                _unhex(data, "tag"),
                tuple(bytes.fromhex(w) for w in wrapped),
                _unhex(data, "aad"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvelopeMalformed(
                f"envelope is garbled ({exc!r}); discard it and ask the sender to seal it again"
            ) from None

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        try:
            parsed = json.loads(data)
        except (ValueError, TypeError) as exc:
            raise EnvelopeMalformed(
                f"not an envelope: not JSON ({exc}); discard it and ask for a resend"
            ) from None
        return cls.from_json(parsed)

    def digest(self) -> bytes:
        """keccak256 of `to_bytes()`: the only trace of a message that may go on chain."""
        return keccak(self.to_bytes())


def seal(plaintext: bytes, recipients: Iterable[bytes | str], aad: bytes = b"") -> Envelope:
    """Encrypt `plaintext` once under a fresh data key, bound to `aad`, and wrap that key to each
    recipient public key (33/65-byte SEC1 or 64-byte Ethereum form)."""
    pubs = [normalize_pubkey(p) for p in recipients]
    if not pubs:
        raise ValueError("seal needs at least one recipient public key")
    data_key = os.urandom(32)
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=os.urandom(12))
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    wrapped = [ecies.encrypt(p, data_key) for p in pubs]
    random.SystemRandom().shuffle(wrapped)  # the order says nothing of who the recipients are
    return Envelope(cipher.nonce, ciphertext, tag, tuple(wrapped), aad)


def _unwrap(env: Envelope, privkey: bytes) -> bytes | None:
    """The data key, from the first wrapped key that opens with `privkey`; None if none does."""
    for wrapped in env.wrapped:
        try:
            key = ecies.decrypt(privkey, wrapped)
        except (ValueError, TypeError):
            continue
        if len(key) == 32:
            return key
    return None


def open(envelope: Envelope | bytes, privkey: bytes | str, aad: bytes | None = None) -> bytes:
    """The plaintext, for one recipient's private key.

    With `aad`, the envelope must be bound to exactly that associated data (EnvelopeMisplaced
    otherwise). NotARecipient when the key unwraps no data key; EnvelopeTampered when the
    ciphertext, tag, nonce or AAD was altered."""
    env = Envelope.from_bytes(envelope) if isinstance(envelope, (bytes, bytearray)) else envelope
    if aad is not None and env.aad != aad:
        raise EnvelopeMisplaced(
            f"envelope is bound to {env.aad!r}, not {aad!r}: it was moved from another record "
            "or message; use the envelope sealed for this one"
        )
    sk = _key_bytes(privkey)
    data_key = _unwrap(env, sk)
    if data_key is None:
        raise NotARecipient(
            f"key {public_key_of(sk).hex()[:16]}… opens none of this envelope's "
            f"{len(env.wrapped)} wrapped keys; ask the sender to seal it for you"
        )
    try:
        cipher = AES.new(data_key, AES.MODE_GCM, nonce=env.nonce)
        cipher.update(env.aad)
        return cipher.decrypt_and_verify(env.ciphertext, env.tag)
    except ValueError as exc:
        raise EnvelopeTampered(
            f"envelope failed authentication ({exc}): it was altered; discard it and ask for a "
            "resend"
        ) from None
