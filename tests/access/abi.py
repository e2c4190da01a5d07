"""The one reading of a contract's ABI that the permission tests share."""

from __future__ import annotations


def state_changing(abi: list[dict]) -> dict[str, dict]:
    """{name: ABI entry} of the functions that are neither view nor pure (overloads: the last)."""
    return {
        x["name"]: x
        for x in abi
        if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")
    }
