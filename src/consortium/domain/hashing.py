"""Commitments that keep personal and confidential data off chain."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from eth_utils import keccak

_salt_source: Callable[[], bytes] = lambda: os.urandom(32)


def new_salt() -> bytes:
    """A fresh 32-byte salt; the institution keeps it next to the record it protects."""
    return _salt_source()


@contextmanager
def deterministic_salts(seed: int | str) -> Iterator[None]:
    """Salts from a seeded generator inside the block, for the benchmark only.

    Why: a salt's zero bytes cost 4 gas of calldata instead of 16, so random salts move gas figures
    by a few dozen gas between runs; seeded salts make every quoted figure repeat exactly. Never use
    it for real data: a predictable salt lets anyone test guesses against a commitment.
    """
    global _salt_source
    rng, previous = random.Random(seed), _salt_source
    _salt_source = lambda: rng.randbytes(32)
    try:
        yield
    finally:
        _salt_source = previous


def commit(value: str | bytes, salt: bytes) -> bytes:
    """Salted commitment `keccak256(salt ‖ value)`; only this goes on chain."""
    data = value.encode() if isinstance(value, str) else value
    if len(salt) != 32:
        raise ValueError(f"salt must be 32 bytes, got {len(salt)}")
    return keccak(salt + data)


def doc_hash(document: str | bytes) -> bytes:
    """keccak256 of a document kept off chain (agreement, audit report, dossier)."""
    return keccak(document.encode() if isinstance(document, str) else document)


def code32(code: str) -> bytes:
    """A short code (jurisdiction, currency, security id) as left-aligned bytes32,
    like `bytes32("CN")`."""
    raw = code.encode()
    if len(raw) > 32:
        raise ValueError(f"code {code!r} longer than 32 bytes")
    return raw.ljust(32, b"\0")


def code_text(raw: bytes, errors: str = "strict") -> str:
    """The short code a `code32` bytes32 holds ("CNY"); `errors` as bytes.decode's (for bytes read
    from someone else's record, "replace" shows them rather than failing)."""
    return bytes(raw).rstrip(b"\0").decode(errors=errors)
