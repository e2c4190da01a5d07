"""The deposit token's issue as an outbox kind,
shared by every line whose cash issuer funds members.

Why: an issue resent after a crash would credit a member twice; DepositToken refuses a reused
payment reference (DepositPaymentRefUsed) and `paymentRefUse` says for whom it was booked, which is
what the outbox (consortium.outbox) asks before sending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consortium.outbox import Outbox, OutboxConflict, Recorded, recorded


def issue_kind(code: str) -> str:
    """The outbox kind name of issuing the deposit token of currency `code`."""
    return f"DepositToken:{code}.issue"


def register_deposit_issue(
    outbox: Outbox, name: str, token: Any, tx: Callable[[], dict[str, Any]]
) -> None:
    """Register kind `name`: DepositToken.issue keyed by its payment reference; args are
    [to, amount, paymentRef]."""

    def probe(a: list) -> Recorded | None:
        holder, block = token.paymentRefUse(a[2])
        found = recorded(block, holder=str(holder))
        if found is not None and str(holder).lower() != str(a[0]).lower():
            raise OutboxConflict(f"payment reference {a[2]} was booked for {holder}, not {a[0]}")
        return found

    outbox.register_call(name, token.issue, probe, lambda receipt, a: {"holder": str(a[0])}, tx=tx)
