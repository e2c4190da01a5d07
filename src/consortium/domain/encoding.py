"""Hex and bytes32 at the edge of the chain: the one home of those conversions.

Event and call values come back from web3/brownie as bytes, HexBytes or hex strings (with or
without `0x`); records, reports and JSON files hold lower-case `0x` hex. `b32` reads a bytes32 and
refuses any other length; `hexstr` writes one; `from_hex` reads bytes of any length.
"""

from __future__ import annotations

from typing import Any


def from_hex(value: Any) -> bytes:
    """Bytes from bytes/HexBytes, or from a hex string with or without its 0x."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def b32(value: Any) -> bytes:
    """A bytes32 from bytes or hex; ValueError('expected 32 bytes, got N') on any other length."""
    raw = from_hex(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def hexstr(value: Any) -> str:
    """Lower-case 0x-hex of bytes, or of a hex string with or without its 0x."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    s = str(value).lower()
    return s if s.startswith("0x") else "0x" + s
