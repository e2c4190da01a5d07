"""Encrypted point-to-point data channels between two members (the chain sees only hashes).

Envelope encryption: each message gets a fresh random 256-bit data key; the payload is encrypted
once with AES-256-GCM (pycryptodome) and the data key is wrapped for each recipient with ECIES on
secp256k1 (eciespy + coincurve). No hand-rolled cryptography: `seal` and `open` only compose those
libraries. Messages are also signed by the sender's key (coincurve recoverable ECDSA over keccak256
of the payload), so the receiver knows which member sent them.

`seal(plaintext, recipients_pubkeys) -> Envelope` and `open(envelope, privkey) -> bytes` are the
public functions other lines reuse for confidential fields.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ecies
from coincurve import PrivateKey, PublicKey
from Crypto.Cipher import AES
from eth_utils import keccak

ENVELOPE_VERSION = 1


class NotARecipient(PermissionError):
    """The key given to `open` is not among the envelope's recipients."""


class EnvelopeTampered(ValueError):
    """Authentication failed: the envelope was altered or the wrong key was used."""


class ChannelClosed(PermissionError):
    """The registry holds no open data channel between the two members."""


class UnknownCounterparty(LookupError):
    """No published messaging key for a member."""


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
class Envelope:
    """Ciphertext for one or more recipients; serialisable with to_bytes/from_bytes."""

    nonce: bytes
    ciphertext: bytes
    tag: bytes
    recipients: tuple[tuple[bytes, bytes], ...]  # (compressed pubkey, ECIES-wrapped data key)
    aad: bytes = b""
    version: int = ENVELOPE_VERSION

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "v": self.version,
                "nonce": self.nonce.hex(),
                "ct": self.ciphertext.hex(),
                "tag": self.tag.hex(),
                "aad": self.aad.hex(),
                "to": [[p.hex(), w.hex()] for p, w in self.recipients],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        d = json.loads(data)
        if d.get("v") != ENVELOPE_VERSION:
            raise ValueError(
                f"envelope version {d.get('v')} not supported (expected {ENVELOPE_VERSION})"
            )
        return cls(
            nonce=bytes.fromhex(d["nonce"]),
            ciphertext=bytes.fromhex(d["ct"]),
            tag=bytes.fromhex(d["tag"]),
            recipients=tuple((bytes.fromhex(p), bytes.fromhex(w)) for p, w in d["to"]),
            aad=bytes.fromhex(d["aad"]),
        )

    def digest(self) -> bytes:
        """keccak256 of the serialised envelope: the only trace of the message that may go on
        chain."""
        return keccak(self.to_bytes())


def encrypt_for(
    plaintext: bytes, pubkeys: Sequence[bytes], aad: bytes = b""
) -> tuple[bytes, bytes, bytes, list[bytes]]:
    """The envelope primitive every sealed value in the project uses (channels and reports).

    A fresh 256-bit data key encrypts `plaintext` once with AES-256-GCM (pycryptodome), bound to
    `aad`; the data key is wrapped to each public key with ECIES on secp256k1 (eciespy + coincurve).
    Returns (nonce, ciphertext, tag, wrapped keys in the order of `pubkeys`).
    """
    data_key = os.urandom(32)
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=os.urandom(12))
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return cipher.nonce, ciphertext, tag, [ecies.encrypt(bytes(p), data_key) for p in pubkeys]


def decrypt_with(
    nonce: bytes, ciphertext: bytes, tag: bytes, wrapped: bytes, privkey: bytes, aad: bytes = b""
) -> bytes:
    """Unwrap the data key with `privkey` and decrypt;
    ValueError if the key or the data is wrong."""
    data_key = ecies.decrypt(privkey, wrapped)
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=nonce)
    cipher.update(aad)
    return cipher.decrypt_and_verify(ciphertext, tag)


def seal(plaintext: bytes, recipients_pubkeys: Sequence[bytes | str], aad: bytes = b"") -> Envelope:
    """Encrypt `plaintext` for every recipient public key (AES-256-GCM data key wrapped with
    ECIES)."""
    if not recipients_pubkeys:
        raise ValueError("seal needs at least one recipient public key")
    pubs = [normalize_pubkey(p) for p in recipients_pubkeys]
    nonce, ciphertext, tag, wrapped = encrypt_for(plaintext, pubs, aad)
    return Envelope(nonce, ciphertext, tag, tuple(zip(pubs, wrapped)), aad)


def open(envelope: Envelope | bytes, privkey: bytes | str) -> bytes:
    """Decrypt an envelope with one recipient's private key."""
    env = Envelope.from_bytes(envelope) if isinstance(envelope, (bytes, bytearray)) else envelope
    sk = _key_bytes(privkey)
    mine = public_key_of(sk)
    wrapped = next((w for p, w in env.recipients if p == mine), None)
    if wrapped is None:
        raise NotARecipient(
            f"key {mine.hex()[:16]}… is not a recipient of this envelope; "
            "ask the sender to seal it for you"
        )
    try:
        return decrypt_with(env.nonce, env.ciphertext, env.tag, wrapped, sk, env.aad)
    except ValueError as e:
        raise EnvelopeTampered(
            f"envelope failed authentication ({e}); discard it and ask for a resend"
        ) from e


# ---------------------------------------------------------------- transport


class Transport(Protocol):
    """Where sealed messages wait for their recipient (a directory here; a queue or HTTPS in
    production)."""

    def put(self, to: str, msg_id: str, data: bytes) -> None: ...

    def pending(self, to: str) -> list[tuple[str, bytes]]: ...

    def ack(self, to: str, msg_id: str) -> None: ...


@dataclass
class DirectoryMailbox:
    """Local default transport: one folder per recipient, one file per message, atomic writes."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def _box(self, to: str) -> Path:
        box = self.root / to.lower()
        box.mkdir(parents=True, exist_ok=True)
        return box

    def put(self, to: str, msg_id: str, data: bytes) -> None:
        box = self._box(to)
        name = f"{time.time_ns():020d}-{msg_id}.msg"
        tmp = box / (name + ".tmp")
        tmp.write_bytes(data)
        tmp.rename(box / name)

    def pending(self, to: str) -> list[tuple[str, bytes]]:
        return [
            (p.stem.split("-", 1)[1], p.read_bytes()) for p in sorted(self._box(to).glob("*.msg"))
        ]

    def ack(self, to: str, msg_id: str) -> None:
        for p in self._box(to).glob(f"*-{msg_id}.msg"):
            p.rename(p.with_suffix(".done"))


# ---------------------------------------------------------------- endpoint


@dataclass(frozen=True)
class Message:
    """A received (opened, sender-verified) message."""

    msg_id: str
    sender: str
    recipient: str
    kind: str
    body: Any
    digest: bytes


@dataclass
class Endpoint:
    """A member's end of its data channels: sends sealed, signed messages;
    receives and verifies them.

    `registry` (optional) is asked `channelOpen(me, them)` before every send; `directory` maps
    member addresses (lower-case) to their published messaging public keys.
    """

    member: str
    private_key: bytes
    transport: Transport
    directory: dict[str, bytes]
    registry: Any = None
    sent: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory.setdefault(self.member.lower(), public_key_of(self.private_key))

    @property
    def public_key(self) -> bytes:
        return public_key_of(self.private_key)

    def _pub(self, member: str) -> bytes:
        try:
            return self.directory[member.lower()]
        except KeyError:
            raise UnknownCounterparty(f"no messaging key published for member {member}") from None

    def send(self, to: str, kind: str, body: Any) -> Message:
        """Seal `body` (JSON-serialisable) for `to` over the open channel;
        returns the sent message."""
        if self.registry is not None and not self.registry.channelOpen(self.member, to):
            raise ChannelClosed(
                f"no open data channel between {self.member} and {to}: request one "
                "(registry.requestChannel) and have the permission manager open it; "
                "nothing was sent"
            )
        payload = json.dumps(
            {"from": self.member, "to": to, "kind": kind, "body": body},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        sig = PrivateKey(self.private_key).sign_recoverable(keccak(payload), hasher=None)
        env = seal(sig + payload, [self._pub(to)], aad=kind.encode())
        digest = env.digest()
        msg_id = digest.hex()[:32]
        self.transport.put(to, msg_id, env.to_bytes())
        self.sent.append(msg_id)
        return Message(msg_id, self.member, to, kind, body, digest)

    def receive(
        self,
        kinds: Iterable[str] | None = None,
        ack: bool = True,
        refuse: Callable[[str, Exception], None] | None = None,
    ) -> list[Message]:
        """Open every pending message (optionally of some kinds), verifying the sender's signature.

        Without `refuse`, a message that cannot be opened or verified raises (and stays pending).
        With it, such a message is set aside so it never blocks the queue: `refuse(msg_id, error)`
        records it, it is acknowledged, and the other messages are returned."""
        wanted = set(kinds) if kinds is not None else None
        out = []
        for msg_id, data in self.transport.pending(self.member):
            try:
                message = self._open_one(msg_id, data, wanted)
            except Exception as exc:
                if refuse is None:
                    raise
                refuse(msg_id, exc)
                self.transport.ack(self.member, msg_id)
                continue
            if message is None:
                continue
            out.append(message)
            if ack:
                self.transport.ack(self.member, msg_id)
        return out

    def _open_one(self, msg_id: str, data: bytes, wanted: set[str] | None) -> Message | None:
        """The opened, verified message; None when it is of a kind not wanted."""
        env = Envelope.from_bytes(data)
        kind = env.aad.decode()
        if wanted is not None and kind not in wanted:
            return None
        raw = open(env, self.private_key)
        sig, payload = raw[:65], raw[65:]
        d = json.loads(payload)
        signer = PublicKey.from_signature_and_message(sig, keccak(payload), hasher=None).format(
            True
        )
        if signer != self._pub(d["from"]):
            raise EnvelopeTampered(
                f"message {msg_id} claims sender {d['from']} but is signed by another key"
            )
        wire_sender = getattr(self.transport, "sender_of", None)  # a transport that verified it
        if wire_sender is not None and wire_sender(self.member, msg_id) != d["from"].lower():
            raise EnvelopeTampered(
                f"message {msg_id} claims sender {d['from']} but was delivered by "
                f"{wire_sender(self.member, msg_id)} (a member relaying another's message)"
            )
        return Message(msg_id, d["from"], d["to"], d["kind"], d["body"], env.digest())
