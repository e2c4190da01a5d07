"""Encrypted point-to-point data channels between two members (the chain sees only hashes).

Each message is a sealed envelope (consortium.envelope: AES-256-GCM data key wrapped to the
recipient with ECIES on secp256k1) whose associated data is the message kind, so a receiver can
pick the kinds it wants before it decrypts. The content is also signed by the sender's key
(coincurve recoverable ECDSA over keccak256 of the payload), so the receiver knows which member
sent it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from coincurve import PrivateKey, PublicKey
from eth_utils import keccak

from consortium.envelope import Envelope, EnvelopeTampered, open, public_key_of, seal


class ChannelClosed(PermissionError):
    """The registry holds no open data channel between the two members."""


class UnknownCounterparty(LookupError):
    """No published messaging key for a member."""


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
    directory: MutableMapping[str, bytes]
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
