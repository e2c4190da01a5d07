"""The cash issuer: a deposit token's issuing member, whatever line needs deposits.

A member holding CASH_ISSUER credits members with tokenised deposits against cash it received off
chain. Every DepositToken names its one issuing member for good (`issuer()`), so an institution's
`CashIssuer` holds the tokens it issues, by currency code; the settlement and bill lines and the
agents all use this one class.

Why an outbox: an issue resent after a crash would credit a member twice; DepositToken refuses a
reused payment reference (DepositPaymentRefUsed) and `paymentRefUse` says for whom it was booked,
which is what the outbox (consortium.outbox) asks before sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consortium.domain.hashing import code_text, doc_hash
from consortium.outbox import Outbox, OutboxConflict, Recorded, key_of, recorded
from consortium.roles.membership import ActsAs, Institution
from consortium.store import Store

# an issue's gas limit: explicit, so issues pipeline (no estimate against a pending state); far
# below a block's, so agents sending side by side never wait for an empty block
ISSUE_GAS_LIMIT = 300_000


class NotThisIssuersCurrency(LookupError):
    """The cash issuer was asked to issue a currency whose deposit token it does not issue."""


def issue_kind(code: str) -> str:
    """The outbox kind name of issuing the deposit token of currency `code`."""
    return f"DepositToken:{code}.issue"


def currency_code(token: Any) -> str:
    """The currency code a DepositToken was deployed for ("CNY"), from its bytes32 `currency()`."""
    return code_text(token.currency())


@dataclass
class CashIssuer(ActsAs):
    """An institution as the issuer of its deposit tokens (`tokens`: currency code -> DepositToken
    whose `issuer()` is this institution)."""

    inst: Institution
    tokens: Mapping[str, Any]
    store: Store = field(default_factory=Store, kw_only=True)

    @classmethod
    def of(cls, inst: Institution, *tokens: Any, store: Store | None = None) -> CashIssuer:
        """The issuer of `tokens`, each filed under the currency it was deployed for."""
        return cls(inst, {currency_code(t): t for t in tokens}, store=store or Store())

    def __post_init__(self) -> None:
        self.tokens = dict(self.tokens)
        self.outbox = Outbox(self.store)
        for code, token in self.tokens.items():
            _register_issue(self.outbox, issue_kind(code), token, self._tx)

    def _tx(self) -> dict[str, Any]:
        return {"from": self.inst.account, "gas_limit": ISSUE_GAS_LIMIT}

    def issue(self, to: str, code: str, amount: int, ref: str) -> Any:
        """Issue `amount` (minor units) of currency `code` to `to` against the cash received under
        payment reference `ref`, once.

        Returns the transaction (through a pipe in flight until the outbox is collected), or None
        when the chain had the reference booked already."""
        if code not in self.tokens:
            have = ", ".join(sorted(self.tokens)) or "none"
            raise NotThisIssuersCurrency(
                f"{self.address} issues no deposit token of {code!r} (it issues: {have}); "
                "ask that currency's cash issuer"
            )
        h = doc_hash(ref)
        return self.outbox.submit(issue_kind(code), key_of(h), [to, amount, h]).tx


def _register_issue(outbox: Outbox, name: str, token: Any, tx: Any) -> None:
    """Register kind `name`: DepositToken.issue keyed by its payment reference; args are
    [to, amount, paymentRef]."""

    def probe(a: list) -> Recorded | None:
        holder, block = token.paymentRefUse(a[2])
        found = recorded(block, holder=str(holder))
        if found is not None and str(holder).lower() != str(a[0]).lower():
            raise OutboxConflict(f"payment reference {a[2]} was booked for {holder}, not {a[0]}")
        return found

    outbox.register_call(name, token.issue, probe, lambda receipt, a: {"holder": str(a[0])}, tx=tx)
