"""Sign-In with Ethereum (EIP-4361) and the portal's session cookie.

The server writes the whole EIP-4361 message (siwe-py: its grammar, its signature check) with a
fresh nonce, and the person's wallet signs it (EIP-191 personal_sign). A nonce is good for one
sign-in attempt only (taken out of the table before the signature is checked: a replayed message
is refused whether the first attempt passed or not) and for NONCE_SECONDS. The message must name
this portal's domain and URI and the chain the portal reads: a message signed for another site or
another network does not sign in here.

The session is an itsdangerous-signed cookie (HMAC-SHA256 with a secret made per server start
unless one is given) carrying the address and the sign-in time; an altered cookie does not load,
an old one expires after SESSION_SECONDS. It is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from siwe import SiweMessage, VerificationError

NONCE_SECONDS = 300
MAX_NONCES = 10_000  # outstanding challenges kept; the oldest go first (asking costs nothing)
SESSION_SECONDS = 8 * 3600
COOKIE = "consortium_portal"
STATEMENT = "Sign in to the Consortium Ledger portal. This signature sends no transaction."


class SignInRefused(Exception):
    """A sign-in the portal refuses; each reason is its own class, the message says why."""


class UnknownNonce(SignInRefused):
    """The nonce was never issued here, or was already used."""


class ExpiredNonce(SignInRefused):
    """The nonce was issued more than NONCE_SECONDS ago."""


class WrongDomain(SignInRefused):
    """The message names another site (domain or URI)."""


class WrongChain(SignInRefused):
    """The message names another chain id than the one the portal reads."""


class BadSignatureRefused(SignInRefused):
    """The signature is not the message's address's, or the message is malformed."""


class NotAMember(SignInRefused):
    """The signer is no active member of the consortium."""


@dataclass
class SignIn:
    """Issues EIP-4361 messages and checks their signatures for one portal."""

    domain: str  # host:port the browser shows
    uri: str  # the portal's origin, http://host:port
    chain_id: int
    nonce_seconds: int = NONCE_SECONDS
    clock: object = time.time
    _nonces: dict[str, float] = field(default_factory=dict)

    def challenge(self, address: str) -> str:
        """The message for `address` to sign, with a fresh nonce."""
        now = self.clock()
        live = [(n, t) for n, t in self._nonces.items() if now - t < self.nonce_seconds]
        self._nonces = dict(live[-(MAX_NONCES - 1) :])
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = now
        issued = dt.datetime.fromtimestamp(now, dt.UTC)
        message = SiweMessage(
            domain=self.domain,
            address=address,
            statement=STATEMENT,
            uri=self.uri,
            version="1",
            chain_id=self.chain_id,
            nonce=nonce,
            issued_at=_iso(issued),
            expiration_time=_iso(issued + dt.timedelta(seconds=self.nonce_seconds)),
        )
        return message.prepare_message()

    def check(self, text: str, signature: str) -> str:
        """The checksummed address that signed `text`; SignInRefused (a subclass) otherwise."""
        try:
            message = SiweMessage.from_message(text)
        except Exception as exc:  # noqa: BLE001 - the parser raises several kinds: all "malformed"
            raise BadSignatureRefused(f"not an EIP-4361 message ({exc})") from None
        issued = self._nonces.pop(message.nonce, None)  # single use, whatever happens next
        if issued is None:
            raise UnknownNonce("this sign-in message's nonce was not issued here or is used")
        if self.clock() - issued >= self.nonce_seconds:
            raise ExpiredNonce(f"the sign-in message expired ({self.nonce_seconds} s): ask again")
        if message.domain != self.domain or message.uri.rstrip("/") != self.uri.rstrip("/"):
            raise WrongDomain(
                f"the message is for {message.domain} ({message.uri}), this portal is "
                f"{self.domain}"
            )
        if int(message.chain_id) != self.chain_id:
            raise WrongChain(f"the message is for chain {message.chain_id}, not {self.chain_id}")
        try:
            when = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
            message.verify(signature, domain=self.domain, nonce=message.nonce, timestamp=when)
        except VerificationError as exc:
            raise BadSignatureRefused(
                f"the signature does not verify ({type(exc).__name__})"
            ) from None
        return message.address


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Sessions:
    """The signed session cookie's content: {"a": address, "t": sign-in time}."""

    def __init__(self, secret: str | None = None, max_age: int = SESSION_SECONDS):
        self._s = URLSafeTimedSerializer(secret or secrets.token_hex(32), salt="portal-session")
        self.max_age = max_age

    def issue(self, address: str) -> str:
        return self._s.dumps({"a": address, "t": int(time.time())})

    def read(self, cookie: str | None) -> str | None:
        """The signed-in address, or None (no cookie, altered, or expired)."""
        if not cookie:
            return None
        try:
            data = self._s.loads(cookie, max_age=self.max_age)
        except (BadSignature, SignatureExpired):
            return None
        return data.get("a") if isinstance(data, dict) else None
