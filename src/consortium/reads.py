"""Contract views read one call each or in JSON-RPC batches, for brownie contracts and the portal's
web3 `Calls` alike (each has an address and an ABI). The day's end and its reports read thousands
of views (a report's records, a regulator's sealed positions): one call each held the large
day's end for over twenty minutes on a node holding gigabytes of state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Views = Callable[[Any, str, list[tuple]], list]  # (contract, function, [args]) -> [result]


def one_by_one(contract: Any, fn: str, args: list[tuple]) -> list:
    """`contract.fn(*a)` for each `a`, one call each (brownie contracts or the portal's Calls):
    the reads of a single record."""
    return [getattr(contract, fn)(*a) for a in args]


def batched(web3: Any, chunk: int = 500) -> Views:
    """Views read in JSON-RPC batches of `chunk` calls through `web3` (brownie contracts or the
    portal's Calls: their address and ABI): a day's thousands of records proved in a few dozen
    round trips, where one call each held the large day's end for over twenty minutes."""

    def views(contract: Any, fn: str, args: list[tuple]) -> list:
        c = web3.eth.contract(address=contract.address, abi=contract.abi)
        out: list = []
        for start in range(0, len(args), chunk):
            with web3.batch_requests() as batch:
                for a in args[start : start + chunk]:
                    batch.add(getattr(c.functions, fn)(*a))
                out.extend(batch.execute())
        return out

    return views
