"""Channels between agents in different processes: signed HTTP delivery, persisted at both ends.

Why this shape: a message between institutions must survive either agent being killed, a peer being
down and a hostile network. So the sender persists every message (`transport_out`) before it tries
to deliver, and retries with capped exponential backoff until the peer acknowledges; the receiver
refuses anything it cannot attribute to an active member over an open channel, dedupes by message
id, and answers 200 only after its own commit (`transport_in`). `channels.Endpoint` keeps sealing
(AES-256-GCM + ECIES) and signing the content; this module only moves the sealed bytes.

Wire (`POST /v1/messages`, JSON): {"version", "msg_id", "sender", "recipient", "body" (base64),
"signature"}. The signature is EIP-191 (eth-account `encode_defunct` + `Account.sign_message`) by
the sender's Ethereum key over `wire_text(msg_id, sender, recipient, sha256(body))`, so the
receiver refuses before it decrypts anything. The server checks, in order, each refusal named in
the answer ({"refused": "<Name>", "detail": ...}) and by an exception class: Malformed (and
TooLarge), BadSignature, WrongRecipient, NotAMember / SuspendedMember (`registry.isActive`, read
from the chain for every message), ChannelClosed (`registry.channelOpen`), Replayed (a known msg
id with other content or sender; an identical resend is acknowledged again and stored once).
A named refusal is final for the sender (recorded, not retried; `requeue` to try again once the
cause is fixed); connection errors, 5xx and unnamed answers are retried.

Keys: the messaging (ECIES) key is the agent's Ethereum key (as consortium.keys documents), so a
member's messaging public key is bound to its address. The receiver recovers the sender's public
key from the wire signature; the sender learns a recipient's key from the peer's
`GET /v1/identity?nonce=N` (address, compressed public key and nonce, signed by that key: the
address must be the member expected and derive from the key). `HttpTransport.directory` is a
`KeyDirectory` over the store that does both and refuses a key that is not the address's own; pass
it to `channels.Endpoint` as its `directory`.

The server runs aiohttp on its own thread and event loop (`TransportServer`); chain reads and store
writes run in the loop's executor. An in-memory SQLite store cannot be shared across those
threads, so the transport wants a file or server database.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from aiohttp import web
from eth_account.messages import defunct_hash_message, encode_defunct
from eth_keys import keys as eth_keys
from eth_keys.exceptions import BadSignature as _KeysBadSignature
from eth_keys.exceptions import ValidationError as _KeysValidationError
from eth_utils import to_checksum_address
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy import Table as _Table
from sqlalchemy.exc import IntegrityError

from consortium.envelope import normalize_pubkey
from consortium.store import Store, metadata

log = logging.getLogger(__name__)

WIRE_VERSION = 1
PROTOCOL = "consortium-transport/v1"
MAX_BODY = 32 * 1024 * 1024  # a day's trades for one counterparty fit many times over
MESSAGES_PATH = "/v1/messages"
IDENTITY_PATH = "/v1/identity"
HEALTH_PATH = "/v1/health"

_MSG_ID = re.compile(r"^[0-9A-Za-z_.:-]{1,128}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_NONCE = re.compile(r"^[0-9a-fA-F]{16,64}$")
_WIRE_FIELDS = {"version", "msg_id", "sender", "recipient", "body", "signature"}

transport_out = _Table(
    "transport_out",
    metadata,
    Column("recipient", String(42), primary_key=True),  # lower-case address
    Column("msg_id", String(128), primary_key=True),
    Column("body", LargeBinary, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("signature", String(132), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending | delivered | refused
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),  # clock seconds
    Column("last_error", Text),
    Column("refused", String(32)),  # the peer's named refusal
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger),
)

transport_in = _Table(
    "transport_in",
    metadata,
    Column("recipient", String(42), primary_key=True),
    Column("msg_id", String(128), primary_key=True),
    Column("sender", String(42), nullable=False),
    Column("sender_key", String(66), nullable=False),  # compressed public key, hex
    Column("body", LargeBinary, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("received_at", BigInteger, nullable=False, index=True),
    Column("consumed_at", BigInteger),
)

transport_keys = _Table(
    "transport_keys",
    metadata,
    Column("member", String(42), primary_key=True),  # lower-case address
    Column("public_key", String(66), nullable=False),
    Column("learned_at", BigInteger, nullable=False),
)

TABLES = [transport_out, transport_in, transport_keys]


def _prepare(store: Store) -> Store:
    """The transport's tables in `store` (created if missing); refuses a per-thread memory DB."""
    if store.engine.dialect.name == "sqlite" and store.engine.url.database in (
        None,
        "",
        ":memory:",
    ):
        raise ValueError(
            "the transport's server writes from its own thread and an in-memory SQLite store is "
            "private to each thread: give the agent a file store (Store.at(path)) or a server URL"
        )
    metadata.create_all(store.engine, tables=TABLES)
    return store


# ------------------------------------------------------------------ refusals


class Refusal(str, enum.Enum):
    """A receiver's named reasons, in the order it checks them; the value travels on the wire."""

    MALFORMED = "Malformed"
    TOO_LARGE = "TooLarge"
    BAD_SIGNATURE = "BadSignature"
    WRONG_RECIPIENT = "WrongRecipient"
    NOT_A_MEMBER = "NotAMember"
    SUSPENDED_MEMBER = "SuspendedMember"
    CHANNEL_CLOSED = "ChannelClosed"
    REPLAYED = "Replayed"


class MessageRefused(Exception):
    """The receiver refused a message; nothing of it was stored."""

    reason: Refusal = Refusal.MALFORMED
    http_status: int = 400


class Malformed(MessageRefused):
    """Not a wire message (content type, JSON, a field missing or of the wrong form)."""


class TooLarge(MessageRefused):
    reason, http_status = Refusal.TOO_LARGE, 413


class BadSignature(MessageRefused):
    reason, http_status = Refusal.BAD_SIGNATURE, 401


class WrongRecipient(MessageRefused):
    reason, http_status = Refusal.WRONG_RECIPIENT, 421


class NotAMember(MessageRefused):
    reason, http_status = Refusal.NOT_A_MEMBER, 403


class SuspendedMember(MessageRefused):
    reason, http_status = Refusal.SUSPENDED_MEMBER, 403


class ChannelClosed(MessageRefused):
    reason, http_status = Refusal.CHANNEL_CLOSED, 403


class Replayed(MessageRefused):
    reason, http_status = Refusal.REPLAYED, 409


REFUSALS: dict[str, type[MessageRefused]] = {
    cls.reason.value: cls
    for cls in (
        Malformed,
        TooLarge,
        BadSignature,
        WrongRecipient,
        NotAMember,
        SuspendedMember,
        ChannelClosed,
        Replayed,
    )
}


class UnknownPeer(LookupError):
    """No endpoint URL is known for a recipient."""


class MessageIdConflict(ValueError):
    """The sender already holds another message under this id for this recipient."""


class IdentityMismatch(ValueError):
    """A peer's identity answer is not signed by, or not for, the member expected."""


# ------------------------------------------------------------------ wire


def wire_text(msg_id: str, sender: str, recipient: str, body_sha256: str) -> str:
    """The canonical text the sender signs (EIP-191 personal message): version, id, both ends, and
    the body's hash, so neither the body nor the addressing can change in transit."""
    return (
        f"{PROTOCOL}\nmsg_id:{msg_id}\nsender:{sender.lower()}\n"
        f"recipient:{recipient.lower()}\nbody_sha256:{body_sha256}"
    )


def identity_text(address: str, public_key_hex: str, nonce: str) -> str:
    return (
        f"{PROTOCOL} identity\naddress:{address.lower()}\n"
        f"public_key:{public_key_hex}\nnonce:{nonce}"
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign_text(account: Any, text: str) -> str:
    """EIP-191 signature of `text` by an eth-account LocalAccount, 0x-hex."""
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


def recover(text: str, signature: str) -> tuple[str, bytes]:
    """(checksum address, compressed public key) of whoever signed `text`; ValueError if none.

    Same result as `Account.recover_message(encode_defunct(text=text), signature=...)`, through
    eth_keys so the public key comes with the address."""
    sig = bytes.fromhex(signature.removeprefix("0x"))
    if len(sig) != 65 or sig[64] not in (27, 28):
        raise ValueError("a signature is 65 bytes ending in v = 27 or 28")
    key_sig = eth_keys.Signature(signature_bytes=sig[:64] + bytes([sig[64] - 27]))
    pub = key_sig.recover_public_key_from_msg_hash(defunct_hash_message(text=text))
    return pub.to_checksum_address(), pub.to_compressed_bytes()


_UNRECOVERABLE = (ValueError, _KeysBadSignature, _KeysValidationError)


def address_of_key(public_key: bytes | str) -> str:
    """Checksum address of a secp256k1 public key (33, 64 or 65 bytes)."""
    compressed = normalize_pubkey(public_key)
    return eth_keys.PublicKey.from_compressed_bytes(compressed).to_checksum_address()


def sign_wire(account: Any, msg_id: str, recipient: str, body: bytes) -> dict[str, Any]:
    """The JSON wire message for `body`, signed by `account` (also used by tests to forge)."""
    text = wire_text(msg_id, account.address, recipient, sha256_hex(body))
    return {
        "version": WIRE_VERSION,
        "msg_id": msg_id,
        "sender": account.address,
        "recipient": recipient,
        "body": base64.b64encode(body).decode(),
        "signature": sign_text(account, text),
    }


@dataclass(frozen=True)
class WireMessage:
    msg_id: str
    sender: str  # lower-case
    recipient: str  # lower-case
    body: bytes
    body_sha256: str
    signature: str


def parse_wire(raw: bytes) -> WireMessage:
    """A wire message read strictly; Malformed naming the first field that is wrong."""

    def bad(what: str) -> Malformed:
        return Malformed(f"{what}; send the JSON object {sorted(_WIRE_FIELDS)} (version 1)")

    try:
        d = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("the request body is not JSON") from None
    if not isinstance(d, dict) or set(d) != _WIRE_FIELDS:
        raise bad("the message must hold exactly its six fields")
    if d["version"] != WIRE_VERSION or isinstance(d["version"], bool):
        raise bad(f"version {d['version']!r} is not supported")
    checks = {"msg_id": _MSG_ID, "sender": _ADDRESS, "recipient": _ADDRESS, "signature": _SIGNATURE}
    for name, pattern in checks.items():
        if not isinstance(d[name], str) or not pattern.match(d[name]):
            raise bad(f"field '{name}' is missing or not of its form")
    try:
        body = base64.b64decode(d["body"], validate=True) if isinstance(d["body"], str) else None
    except binascii.Error:
        body = None
    if body is None:
        raise bad("field 'body' is not base64")
    return WireMessage(
        d["msg_id"],
        d["sender"].lower(),
        d["recipient"].lower(),
        body,
        sha256_hex(body),
        d["signature"],
    )


# ------------------------------------------------------------------ membership


class Membership(Protocol):
    """What the receiver asks the chain about a sender, for every message (nothing cached)."""

    def is_active(self, member: str) -> bool: ...

    def is_suspended(self, member: str) -> bool: ...

    def channel_open(self, a: str, b: str) -> bool: ...


SUSPENDED = 3  # IConsortiumRegistry.MemberStatus.Suspended


@dataclass
class RegistryMembership:
    """Membership read from the ConsortiumRegistry: a brownie Contract or a web3.py contract."""

    registry: Any

    def _call(self, name: str, *args: Any) -> Any:
        functions = getattr(self.registry, "functions", None)
        if functions is not None and hasattr(functions, name):
            return getattr(functions, name)(*args).call()
        return getattr(self.registry, name)(*args)

    def is_active(self, member: str) -> bool:
        return bool(self._call("isActive", _checksum(member)))

    def is_suspended(self, member: str) -> bool:
        return int(self._call("getMember", _checksum(member))[0]) == SUSPENDED

    def channel_open(self, a: str, b: str) -> bool:
        return bool(self._call("channelOpen", _checksum(a), _checksum(b)))


def _checksum(address: str) -> str:
    return to_checksum_address(address)


# ------------------------------------------------------------------ receiving


@dataclass(frozen=True)
class Accepted:
    msg_id: str
    sender: str
    duplicate: bool  # an identical resend: acknowledged again, stored once


@dataclass
class Receiver:
    """The server's checks and its commit, without HTTP (the handler runs this in an executor)."""

    store: Store
    address: str  # this agent's member address
    membership: Membership
    clock_ns: Callable[[], int] = time.time_ns

    def __post_init__(self) -> None:
        _prepare(self.store)
        self.address = self.address.lower()

    def accept(self, raw: bytes) -> Accepted:
        """Check in the design's order, then persist; MessageRefused (stored nothing) otherwise."""
        m = parse_wire(raw)
        try:
            signer, signer_key = recover(
                wire_text(m.msg_id, m.sender, m.recipient, m.body_sha256), m.signature
            )
        except _UNRECOVERABLE as exc:
            raise BadSignature(f"message {m.msg_id}: signature unreadable ({exc})") from None
        if signer.lower() != m.sender:
            raise BadSignature(
                f"message {m.msg_id} claims sender {m.sender} but is signed by {signer.lower()} "
                "(altered in transit or forged)"
            )
        if m.recipient != self.address:
            raise WrongRecipient(f"message {m.msg_id} is for {m.recipient}, this is {self.address}")
        self._check_membership(m)
        return self._persist(m, signer_key)

    def _check_membership(self, m: WireMessage) -> None:
        if not self.membership.is_active(m.sender):
            if self.membership.is_suspended(m.sender):
                raise SuspendedMember(f"sender {m.sender} is suspended in the registry")
            raise NotAMember(f"sender {m.sender} is not an active member of the consortium")
        if not self.membership.channel_open(m.sender, self.address):
            raise ChannelClosed(
                f"no open data channel between {m.sender} and {self.address} in the registry"
            )

    def _known(self, c: Any, m: WireMessage) -> Accepted | None:
        row = c.execute(
            select(transport_in.c.sender, transport_in.c.body_sha256).where(
                transport_in.c.recipient == self.address, transport_in.c.msg_id == m.msg_id
            )
        ).first()
        if row is None:
            return None
        if (row.sender, row.body_sha256) != (m.sender, m.body_sha256):
            raise Replayed(
                f"message id {m.msg_id} was already received with other content; "
                "a new message needs a new id"
            )
        return Accepted(m.msg_id, m.sender, duplicate=True)

    def _persist(self, m: WireMessage, signer_key: bytes) -> Accepted:
        row = {
            "recipient": self.address,
            "msg_id": m.msg_id,
            "sender": m.sender,
            "sender_key": signer_key.hex(),
            "body": m.body,
            "body_sha256": m.body_sha256,
            "received_at": self.clock_ns(),
            "consumed_at": None,
        }
        for _ in range(2):  # a concurrent identical resend may win the insert: then it is known
            try:
                with self.store.engine.begin() as c:
                    known = self._known(c, m)
                    if known is not None:
                        return known
                    c.execute(transport_in.insert().values(row))
                return Accepted(m.msg_id, m.sender, duplicate=False)
            except IntegrityError:
                continue
        raise RuntimeError(f"message {m.msg_id}: could not be stored")  # pragma: no cover


def _refusal(exc: MessageRefused, msg_id: str = "") -> web.Response:
    log.warning("refused %s %s: %s", exc.reason.value, msg_id, exc)
    return web.json_response(
        {"refused": exc.reason.value, "detail": str(exc)}, status=exc.http_status
    )


def make_app(
    store: Store,
    account: Any,
    membership: Membership,
    *,
    max_body: int = MAX_BODY,
    on_message: Callable[[], None] | None = None,
) -> web.Application:
    """The agent's HTTP face: POST /v1/messages, GET /v1/identity?nonce=, GET /v1/health.

    `account` is the agent's eth-account LocalAccount: its address is the only recipient accepted
    and its key signs identity answers. `on_message` is called once a new message is stored (the
    agent's loop wakes to handle it instead of sleeping out its idle wait)."""
    receiver = Receiver(store, account.address, membership)
    public_key = address_key(account)

    async def messages(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _refusal(Malformed("the content type must be application/json"))
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refusal(TooLarge(f"a message may be at most {max_body} bytes"))
        loop = asyncio.get_running_loop()
        try:
            accepted = await loop.run_in_executor(None, receiver.accept, raw)
        except MessageRefused as exc:
            return _refusal(exc)
        except Exception as exc:  # the chain or the store is unavailable: the sender retries
            log.exception("could not check or store a message")
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=503)
        if on_message is not None and not accepted.duplicate:
            on_message()
        return web.json_response(
            {"accepted": accepted.msg_id, "duplicate": accepted.duplicate}, status=200
        )

    async def identity(request: web.Request) -> web.Response:
        nonce = request.query.get("nonce", "")
        if not _NONCE.match(nonce):
            return _refusal(Malformed("ask with ?nonce= 16 to 64 hex digits"))
        text = identity_text(account.address, public_key.hex(), nonce)
        return web.json_response(
            {
                "address": account.address,
                "public_key": public_key.hex(),
                "nonce": nonce,
                "signature": sign_text(account, text),
            }
        )

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "address": account.address})

    app = web.Application(client_max_size=max_body)
    app.router.add_post(MESSAGES_PATH, messages)
    app.router.add_get(IDENTITY_PATH, identity)
    app.router.add_get(HEALTH_PATH, health)
    return app


def address_key(account: Any) -> bytes:
    """Compressed public key of an eth-account LocalAccount."""
    return account._key_obj.public_key.to_compressed_bytes()


# ------------------------------------------------------------------ server thread


class TransportServer:
    """Runs an aiohttp application on a background thread with its own event loop.

    Why a thread: the agent's run loop is synchronous (brownie, SQLAlchemy); the server must answer
    while that loop is busy with a transaction."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.host, self.port = app, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> TransportServer:
        """Bind and serve; returns once listening (the actual port is in `port`), raises if not."""
        self._ready.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"transport:{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the transport server did not start within {timeout} s")
        if self._error is not None:
            raise OSError(f"cannot serve on {self.host}:{self.port}: {self._error}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(self.app, access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except Exception as exc:  # reported by start()
            log.exception("transport server could not start on %s:%s", self.host, self.port)
            self._error = exc
            loop.run_until_complete(runner.cleanup())
            loop.close()
            self._ready.set()
            return
        self._loop = loop
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; requests in flight finish first (aiohttp's graceful shutdown)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        self._loop, self._thread = None, None

    def __enter__(self) -> TransportServer:  # noqa: PYI034
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------ sending side


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1 after n failures: base * factor**(n-1), at most cap seconds."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * self.factor ** max(0, failures - 1))


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (msg_id, refusal name)
    retrying: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Identity:
    address: str
    public_key: bytes


class HttpTransport:
    """`channels.Transport` over HTTP, persisted in the agent's store (see the module docstring).

    `peers` maps member addresses to base URLs (`http://host:port`); the runtime builds it from the
    consortium file's `endpoint` fields and agent.yaml `peers`, and may change `peers` later."""

    def __init__(
        self,
        store: Store,
        account: Any,
        peers: Mapping[str, str] | None = None,
        *,
        backoff: Backoff = Backoff(),
        timeout: tuple[float, float] = (2.0, 10.0),
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        self.store = _prepare(store)
        self.account = account
        self.address = account.address.lower()
        self.peers = {k.lower(): v.rstrip("/") for k, v in (peers or {}).items()}
        self.backoff, self.timeout, self.clock = backoff, timeout, clock
        self.session = session or requests.Session()
        self.directory = KeyDirectory(self)

    # -------------------------------------------------------- channels.Transport
    def put(self, to: str, msg_id: str, data: bytes) -> None:
        """Persist the message for `to`, then try to deliver it once now (retried later if not).

        A named refusal from the peer raises its MessageRefused class (the message stays recorded
        as refused): the caller learns at once that the message will not arrive."""
        to = to.lower()
        if to not in self.peers:
            raise UnknownPeer(
                f"no endpoint known for member {to}: add it to the consortium file (endpoint) or "
                "agent.yaml peers; nothing was sent"
            )
        if not _MSG_ID.match(msg_id):
            raise ValueError(f"message id {msg_id!r} is not 1-128 of [0-9A-Za-z_.:-]")
        digest = sha256_hex(data)
        with self.store.engine.begin() as c:
            row = c.execute(
                select(transport_out.c.body_sha256, transport_out.c.status).where(
                    transport_out.c.recipient == to, transport_out.c.msg_id == msg_id
                )
            ).first()
            if row is not None and row.body_sha256 != digest:
                raise MessageIdConflict(
                    f"message id {msg_id} to {to} was already used for other content; "
                    "a new message needs a new id"
                )
            if row is None:
                c.execute(transport_out.insert().values(self._out_row(to, msg_id, data, digest)))
        if row is None or row.status == "pending":
            outcome = self._attempt(to, msg_id)
            if outcome in REFUSALS:
                raise REFUSALS[outcome](
                    f"member {to} refused message {msg_id}: {outcome}; see outgoing(), fix the "
                    "cause, then requeue() it"
                )

    def pending(self, to: str) -> list[tuple[str, bytes]]:
        """Messages received for `to` and not yet acknowledged, in arrival order."""
        q = (
            select(transport_in.c.msg_id, transport_in.c.body)
            .where(transport_in.c.recipient == to.lower(), transport_in.c.consumed_at.is_(None))
            .order_by(transport_in.c.received_at, transport_in.c.msg_id)
        )
        with self.store.engine.connect() as c:
            return [(r.msg_id, bytes(r.body)) for r in c.execute(q)]

    def ack(self, to: str, msg_id: str) -> None:
        """Mark a received message consumed (kept: its id still dedupes resends)."""
        with self.store.engine.begin() as c:
            c.execute(
                update(transport_in)
                .where(
                    transport_in.c.recipient == to.lower(),
                    transport_in.c.msg_id == msg_id,
                    transport_in.c.consumed_at.is_(None),
                )
                .values(consumed_at=time.time_ns())
            )

    def sender_of(self, to: str, msg_id: str) -> str:
        """The verified wire sender of a received message (Endpoint checks the sealed `from`)."""
        with self.store.engine.connect() as c:
            r = c.execute(
                select(transport_in.c.sender).where(
                    transport_in.c.recipient == to.lower(), transport_in.c.msg_id == msg_id
                )
            ).first()
        if r is None:
            raise KeyError(f"no received message {msg_id} for {to}")
        return r.sender

    # -------------------------------------------------------- delivery
    def _out_row(self, to: str, msg_id: str, data: bytes, digest: str) -> dict[str, Any]:
        return {
            "recipient": to,
            "msg_id": msg_id,
            "body": data,
            "body_sha256": digest,
            "signature": sign_text(self.account, wire_text(msg_id, self.address, to, digest)),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": self.clock(),
            "last_error": None,
            "refused": None,
            "created_at": time.time_ns(),
            "delivered_at": None,
        }

    def deliver_pending(self, force: bool = False) -> DeliveryReport:
        """Try every unacknowledged message whose backoff has elapsed (all of them with `force`)."""
        q = select(transport_out.c.recipient, transport_out.c.msg_id).where(
            transport_out.c.status == "pending"
        )
        if not force:
            q = q.where(transport_out.c.next_attempt_at <= self.clock())
        with self.store.engine.connect() as c:
            due = c.execute(q.order_by(transport_out.c.created_at)).all()
        report = DeliveryReport()
        for to, msg_id in due:
            outcome = self._attempt(to, msg_id)
            if outcome == "delivered":
                report.delivered.append(msg_id)
            elif outcome == "pending":
                report.retrying.append(msg_id)
            else:
                report.refused.append((msg_id, outcome))
        return report

    def _attempt(self, to: str, msg_id: str) -> str:
        """One delivery attempt; returns "delivered", "pending" or the peer's refusal name."""
        with self.store.engine.connect() as c:
            row = c.execute(
                select(transport_out).where(
                    transport_out.c.recipient == to, transport_out.c.msg_id == msg_id
                )
            ).first()
        wire = {
            "version": WIRE_VERSION,
            "msg_id": msg_id,
            "sender": self.account.address,
            "recipient": to,
            "body": base64.b64encode(bytes(row.body)).decode(),
            "signature": row.signature,
        }
        url = self.peers.get(to)
        if url is None:
            return self._failed(row, f"no endpoint known for {to}")
        try:
            r = self.session.post(url + MESSAGES_PATH, json=wire, timeout=self.timeout)
        except requests.RequestException as exc:
            return self._failed(row, f"{type(exc).__name__}: {exc}")
        if r.status_code == 200:
            return self._finish(to, msg_id, status="delivered", delivered_at=time.time_ns())
        name = _refusal_name(r)
        if name is not None:
            log.warning("peer %s refused %s: %s", to, msg_id, name)
            return self._finish(to, msg_id, status="refused", refused=name, last_error=r.text[:500])
        return self._failed(row, f"HTTP {r.status_code}: {r.text[:200]}")

    def _failed(self, row: Any, error: str) -> str:
        attempts = row.attempts + 1
        self._finish(
            row.recipient,
            row.msg_id,
            status="pending",
            attempts=attempts,
            last_error=error,
            next_attempt_at=self.clock() + self.backoff.delay(attempts),
        )
        return "pending"

    def _finish(self, to: str, msg_id: str, **values: Any) -> str:
        with self.store.engine.begin() as c:
            c.execute(
                update(transport_out)
                .where(transport_out.c.recipient == to, transport_out.c.msg_id == msg_id)
                .values(**values)
            )
        return values["refused"] if values["status"] == "refused" else values["status"]

    def requeue(self, to: str, msg_id: str) -> None:
        """Deliver a refused message again (after its cause, e.g. a closed channel, was fixed)."""
        self._finish(
            to.lower(), msg_id, status="pending", refused=None, next_attempt_at=self.clock()
        )

    def outgoing(self, status: str | None = None) -> list[dict[str, Any]]:
        """The sender's messages (recipient, msg_id, status, attempts, refused, last_error …)."""
        cols = [c for c in transport_out.c if c.name not in ("body", "signature")]
        q = select(*cols).order_by(transport_out.c.created_at)
        if status is not None:
            q = q.where(transport_out.c.status == status)
        with self.store.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    # -------------------------------------------------------- identities
    def fetch_identity(self, url: str, expected: str | None = None) -> Identity:
        """A peer's address and messaging key from GET /v1/identity, checked: the answer is signed
        by that key over our fresh nonce, the key derives the address, and it is `expected`."""
        nonce = os.urandom(16).hex()
        r = self.session.get(
            url.rstrip("/") + IDENTITY_PATH, params={"nonce": nonce}, timeout=self.timeout
        )
        r.raise_for_status()
        d = r.json()
        try:
            pub = normalize_pubkey(d["public_key"])
            signer, _ = recover(identity_text(d["address"], pub.hex(), nonce), d["signature"])
        except (KeyError, TypeError, AttributeError, *_UNRECOVERABLE) as exc:
            raise IdentityMismatch(f"{url}: unreadable identity answer ({exc})") from None
        address = address_of_key(pub)
        if signer != address or d["address"].lower() != address.lower() or d["nonce"] != nonce:
            raise IdentityMismatch(f"{url}: identity answer not signed by its own key")
        if expected is not None and address.lower() != expected.lower():
            raise IdentityMismatch(
                f"{url} answers as {address}, not {expected}: check the peer's endpoint setting"
            )
        return Identity(address, pub)


def _refusal_name(r: requests.Response) -> str | None:
    if not 400 <= r.status_code < 500:
        return None
    try:
        name = r.json().get("refused")
    except (ValueError, AttributeError):
        return None
    return name if name in REFUSALS else None


class KeyDirectory(MutableMapping[str, bytes]):
    """Members' messaging public keys, kept in the store; what `channels.Endpoint` calls directory.

    A key is accepted only for the address it derives (messaging key = Ethereum key); a missing key
    is learned from the peer's /v1/identity or from the wire signature of a message it sent."""

    def __init__(self, transport: HttpTransport) -> None:
        self.transport = transport
        self.engine = transport.store.engine

    def _stored(self, member: str) -> bytes | None:
        with self.engine.connect() as c:
            r = c.execute(
                select(transport_keys.c.public_key).where(transport_keys.c.member == member)
            ).first()
            if r is not None:
                return bytes.fromhex(r.public_key)
            r = c.execute(
                select(transport_in.c.sender_key).where(transport_in.c.sender == member).limit(1)
            ).first()
        return bytes.fromhex(r.sender_key) if r is not None else None

    def __getitem__(self, member: str) -> bytes:
        member = member.lower()
        found = self._stored(member)
        if found is not None:
            return found
        url = self.transport.peers.get(member)
        if url is None:
            raise KeyError(member)
        try:
            ident = self.transport.fetch_identity(url, expected=member)
        except (requests.RequestException, IdentityMismatch, ValueError) as exc:
            log.warning("could not learn the messaging key of %s: %s", member, exc)
            raise KeyError(member) from exc
        self[member] = ident.public_key
        return ident.public_key

    def __setitem__(self, member: str, public_key: bytes) -> None:
        member = member.lower()
        pub = normalize_pubkey(public_key)
        if address_of_key(pub).lower() != member:
            raise ValueError(
                f"public key {pub.hex()[:16]}… is not {member}'s: the messaging key must be the "
                "member's Ethereum key"
            )
        with self.engine.begin() as c:
            c.execute(delete(transport_keys).where(transport_keys.c.member == member))
            c.execute(
                transport_keys.insert().values(
                    member=member, public_key=pub.hex(), learned_at=time.time_ns()
                )
            )

    def __delitem__(self, member: str) -> None:
        with self.engine.begin() as c:
            done = c.execute(
                delete(transport_keys).where(transport_keys.c.member == member.lower())
            )
        if done.rowcount == 0:
            raise KeyError(member)

    def __iter__(self) -> Iterator[str]:
        with self.engine.connect() as c:
            return iter([r.member for r in c.execute(select(transport_keys.c.member))])

    def __len__(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(transport_keys)).scalar_one())
