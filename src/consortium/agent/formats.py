"""The business files an institution's own systems drop in its agent's inbox: one `Format` each.

Why a table: the inbox validates every file against it before anything reaches the chain (types,
ranges, known counterparties, duplicate keys, who may submit it), docs/formats.md describes the same
table for the people who write those files, and the runtime reads typed rows keyed by the column
names below. Personal data (employee ids, customer ids, birth dates, beneficial owners) is carried
in the clear here because it stays with the institution: the agent salts and hashes it before
anything leaves for the chain or a channel.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from consortium.domain.bills import (
    CLIENT_ROLE,
    FINANCING_RIGHT,
    ISSUE_RIGHT,
    MAX_QUOTE_WINDOW,
    MAX_REDEMPTION_BATCH,
    TRANSFER_RIGHT,
)
from consortium.domain.clearing import (
    BPS_DENOMINATOR,
    MAX_PRICE,
    MAX_QUANTITY,
    SIDES,
    ChargeKind,
    Payer,
)
from consortium.domain.eip712 import REDEMPTION, SHARE_CHANGE, SUBSCRIPTION

if TYPE_CHECKING:
    from consortium.agent.inbox import InboxContext

MAX_AMOUNT = 10**15  # minor units: 10 trillion in a currency of cents; a larger value is a typo
MAX_ID_LENGTH = 64  # characters of an id or reference
MAX_INT64 = 2**63 - 1  # payment ids and node ids: what the store's BigInteger columns hold
MAX_PLAN_VERSION = 1_000_000
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2199, 12, 31)

# the chain's codes of the choice columns' words (orders.kind, trades.side, charges.kind/payer)
ORDER_KINDS = {"subscription": SUBSCRIPTION, "redemption": REDEMPTION, "share-change": SHARE_CHANGE}
CHARGE_KINDS = {"fee": ChargeKind.FEE, "tax": ChargeKind.TAX}
PAYERS = {"both": Payer.BOTH, "buyer": Payer.BUYER, "seller": Payer.SELLER}

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,30}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
    r"(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_HEX32 = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_TRUE, _FALSE = {"yes", "true", "1", "y"}, {"no", "false", "0", "n"}


class ValueRefused(ValueError):
    """A value does not fit its column (type or range); the message says which and what fits."""


class ReferenceRefused(ValueError):
    """A value names a counterparty, product, plan, security or currency the consortium lacks."""


@dataclass(frozen=True)
class Column:
    """One column: its name (the row key), kind, bounds and meaning (docs/formats.md prints it)."""

    name: str
    kind: str  # id | amount | int | bool | date | month | datetime | choice | hex32 | institution
    #            | product | plan | security | currency
    meaning: str
    required: bool = True
    default: Any = None
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    role: str = ""  # institution columns: the role the named institution must hold
    not_self: bool = False  # institution columns: may not name the submitter

    @property
    def range_text(self) -> str:
        """The column's type and range as docs/formats.md shows them."""
        if self.kind in ("amount", "int"):
            return f"integer {self.low:,} .. {self.high:,}"
        if self.kind == "choice":
            return " / ".join(self.choices)
        if self.kind == "institution":
            who = f"institution id holding {self.role}" if self.role else "institution id"
            return who + (", not the submitter" if self.not_self else "")
        return _KIND_TEXT[self.kind]


_KIND_TEXT = {
    "id": f"text, 1..{MAX_ID_LENGTH} characters, no control characters",
    "bool": "yes / no (also true/false, 1/0)",
    "date": "date yyyy-mm-dd",
    "month": "month yyyy-mm",
    "datetime": "ISO 8601 date-time with offset, e.g. 2026-12-05T09:30:00Z",
    "hex32": "64 hex digits (0x optional)",
    "product": "wealth product id of the consortium file",
    "plan": "annuity plan id of the consortium file",
    "security": "security id of the consortium file",
    "currency": "currency code of the consortium file",
}


@dataclass(frozen=True)
class Format:
    """One file format: who may submit it, its columns, its unique keys, what the agent does."""

    name: str
    line: str  # business line: annuity | confirmations | settlement | bills
    roles: frozenset[str]  # an institution holding any of these may submit it
    columns: tuple[Column, ...]
    keys: tuple[tuple[str, ...], ...]  # each a set of columns unique within one file
    summary: str
    action: str
    example: tuple[Mapping[str, str], ...]
    check: Callable[[list[dict[str, Any]], InboxContext], tuple[int, str] | None] | None = field(
        default=None, compare=False
    )  # cross-row rule: (row index, reason) of the first row breaking it, or None
    rules: str = ""  # the cross-row rule in words (docs/formats.md)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


# ------------------------------------------------------------------ values


def clean_id(raw: str) -> str:
    """An id or reference: trimmed, non-empty, bounded, free of control and format characters
    (a bidi override or a NUL in an id would show one thing to a person and store another)."""
    value = raw.strip()
    if not value:
        raise ValueRefused("is empty; give a value")
    if len(value) > MAX_ID_LENGTH:
        raise ValueRefused(f"is {len(value)} characters long; at most {MAX_ID_LENGTH}")
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueRefused(f"contains the control character U+{ord(bad):04X}; remove it")
    return value


def _integer(raw: Any, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueRefused(f"must be a whole number, got {raw!r}")
    if isinstance(raw, str):
        if not _DIGITS.fullmatch(raw.strip()):
            raise ValueRefused(f"must be a whole number in minor units (digits only), got {raw!r}")
        raw = int(raw.strip())
    if not low <= raw <= high:
        raise ValueRefused(f"is {raw:,}; must be {low:,} .. {high:,}")
    return raw


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueRefused(f"must be yes or no, got {raw!r}")


def _date(raw: Any) -> date:
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise ValueRefused(f"must be a date yyyy-mm-dd, got {raw!r}") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueRefused(f"is {value}; must be {MIN_DATE} .. {MAX_DATE}")
    return value


def _month(raw: Any) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not _MONTH.fullmatch(text) or not 1 <= int(text[5:]) <= 12:
        raise ValueRefused(f"must be a month yyyy-mm, got {raw!r}")
    _date(text + "-01")
    return text


def _datetime(raw: Any) -> int:
    """Unix seconds of an ISO 8601 date-time that states its offset (a local time without one
    would shift by the agent's time zone)."""
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        if not _DATETIME.fullmatch(text):
            raise ValueError
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueRefused(f"must be a date-time like 2026-12-05T09:30:00Z, got {raw!r}") from None
    if value.tzinfo is None:
        raise ValueRefused(f"{raw!r} has no offset; end it with Z or +hh:mm")
    _date(value.astimezone(UTC).date().isoformat())
    return int(value.timestamp())


def _hex32(raw: Any) -> bytes:
    text = raw.strip() if isinstance(raw, str) else ""
    if not _HEX32.fullmatch(text):
        raise ValueRefused(f"must be 64 hex digits (a sha256), got {raw!r}")
    return bytes.fromhex(text[-64:])


def _reference(kind: str, value: str, known: Mapping[str, Any]) -> str:
    if value not in known:
        have = ", ".join(sorted(known)[:12]) or "none"
        raise ReferenceRefused(f"{kind} {value!r} is not in the consortium file (have: {have})")
    return value


def _institution(col: Column, value: str, ctx: InboxContext) -> str:
    known = {i.id: i for i in ctx.consortium.institutions}
    _reference("institution", value, known)
    if col.role and col.role not in known[value].roles:
        raise ReferenceRefused(f"institution {value!r} does not hold the role {col.role}")
    if col.not_self and value == ctx.institution:
        raise ReferenceRefused(f"names the submitter {value!r} itself; name the counterparty")
    return value


def known_products(ctx: InboxContext) -> dict[str, Mapping[str, Any]]:
    """{wealth product id: its entry (issuer, risk_level, min_age)} of the consortium file."""
    return {str(p["id"]): p for p in ctx.consortium.products.get("wealth") or []}


def known_plans(ctx: InboxContext) -> dict[str, Mapping[str, Any]]:
    return {str(p["id"]): p for p in ctx.consortium.products.get("annuity_plans") or []}


def known_securities(ctx: InboxContext) -> dict[str, Mapping[str, Any]]:
    return {str(s["id"]): s for s in ctx.consortium.securities}


def parse_value(col: Column, raw: Any, ctx: InboxContext) -> Any:
    """The typed value of `raw` (CSV text or a JSON value) in `col`; ValueRefused or
    ReferenceRefused with the reason (the caller adds file, line and column)."""
    if col.kind in ("amount", "int"):
        return _integer(raw, col.low, col.high)
    if col.kind == "bool":
        return _boolean(raw)
    if col.kind == "date":
        return _date(raw)
    if col.kind == "month":
        return _month(raw)
    if col.kind == "datetime":
        return _datetime(raw)
    if col.kind == "hex32":
        return _hex32(raw)
    if not isinstance(raw, str):
        raise ValueRefused(f"must be text, got {raw!r}")
    value = clean_id(raw)
    if col.kind == "choice":
        if value.lower() not in col.choices:
            raise ValueRefused(f"is {value!r}; must be one of {', '.join(col.choices)}")
        return value.lower()
    if col.kind == "institution":
        return _institution(col, value, ctx)
    lookups = {
        "product": ("wealth product", known_products),
        "plan": ("annuity plan", known_plans),
        "security": ("security", known_securities),
        "currency": ("currency", lambda c: dict.fromkeys(c.consortium.currencies)),
    }
    if col.kind in lookups:
        label, known = lookups[col.kind]
        return _reference(label, value, known(ctx))
    return value


def age_on(birth: date, day: date) -> int:
    """Whole years from `birth` to `day` (a customer's age on an order's date)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# ------------------------------------------------------------------ cross-row rules


def _same_within(group: str, *fields: str) -> Callable[..., tuple[int, str] | None]:
    """Rows of one `group` value must agree on `fields` (one employer, one trustee)."""

    def check(rows: list[dict[str, Any]], _ctx: Any = None) -> tuple[int, str] | None:
        first: dict[Any, dict[str, Any]] = {}
        for n, row in enumerate(rows):
            seen = first.setdefault(row[group], row)
            for f in fields:
                if row[f] != seen[f]:
                    return n, (
                        f"{group} {row[group]!r} has {f} {row[f]!r} here but {seen[f]!r} on an "
                        f"earlier row; one {group} has one {f}"
                    )
        return None

    return check


def _redemption_rules(rows: list[dict[str, Any]], _ctx: Any = None) -> tuple[int, str] | None:
    """One payment reference per batch, at most MAX_REDEMPTION_BATCH holdings per batch."""
    count: dict[str, int] = {}
    for n, row in enumerate(rows):
        count[row["batch_ref"]] = count.get(row["batch_ref"], 0) + 1
        if count[row["batch_ref"]] > MAX_REDEMPTION_BATCH:
            return n, (
                f"batch {row['batch_ref']!r} has more than {MAX_REDEMPTION_BATCH} holdings "
                f"(BillToken's limit); split it into two batch references"
            )
    return _same_within("batch_ref", "payment_ref")(rows)


ONE_HOLDING = "each row names its holding by node_id or by from_documents, not both."


def _one_holding(rows: list[dict[str, Any]], _ctx: Any = None) -> tuple[int, str] | None:
    """A holding is named once: by its node id, or by the documents that created it (what a
    bank's systems know when they never read the positions)."""
    for n, row in enumerate(rows):
        if (row.get("node_id") is None) == (row.get("from_documents") is None):
            return n, "give node_id or from_documents (one of them) to name the holding"
    return None


def _trade_rules(rows: list[dict[str, Any]], ctx: InboxContext) -> tuple[int, str] | None:
    """A trade is in its security's currency, and names the submitter in one of its roles (a
    party uploads only the trades it is on)."""
    securities = known_securities(ctx)
    for n, row in enumerate(rows):
        ccy = str(securities[row["security"]].get("currency", ""))
        if ccy and row["currency"] != ccy:
            return n, f"security {row['security']} trades in {ccy}, not {row['currency']}"
        parties = (row["participant"], row["local_broker"], row["custodian"], row["exchange"])
        if ctx.institution not in parties:
            return n, (
                f"trade {row['trade_id']} does not name {ctx.institution} as participant, local "
                f"broker, custodian or exchange; upload only your own trades"
            )
    return None


# ------------------------------------------------------------------ the table


def _amount(meaning: str, name: str = "amount") -> Column:
    return Column(name, "amount", meaning, low=1, high=MAX_AMOUNT)


EMPLOYEE = Column(
    "employee_id", "id", "the employer's id of the employee (personal: salted and hashed)"
)
NODE = Column(
    "node_id",
    "int",
    "the bill node (holding) on chain, as in the bill positions",
    low=1,
    high=MAX_INT64,
)
HELD = Column(
    "node_id",
    "int",
    "the holding passed on, as in the bill positions (or give from_documents)",
    required=False,
    low=1,
    high=MAX_INT64,
)
FROM_DOCS = Column(
    "from_documents",
    "hex32",
    "instead of node_id: sha256 of the documents of the bill or transfer that gave the holding",
    required=False,
)
DOCS = Column("documents_sha256", "hex32", "sha256 of the documents (the file, not its contents)")
REF = Column("request_ref", "id", "the request's own reference: the same reference is sent once")
PAYMENT = Column("payment_id", "int", "the payment's id in both books", low=1, high=MAX_INT64)
PAID_AT = Column("paid_at", "datetime", "when the payment was made")
DAY = Column("day", "date", "the business day the payment belongs to")

_ANNUITY = [
    Format(
        "enrolments",
        "annuity",
        frozenset({"ANNUITY_PLATFORM"}),
        (
            EMPLOYEE,
            Column("employer_ref", "id", "the employer's reference (hashed on chain)"),
            Column("trustee", "institution", "the trustee the employer entrusted", role="TRUSTEE"),
            Column(
                "account_manager",
                "institution",
                "the employer's annuity account manager",
                role="ACCOUNT_MANAGER",
            ),
            Column(
                "plan_code",
                "plan",
                "the plan chosen at enrolment (empty: chosen later in plan-choices)",
                required=False,
            ),
        ),
        (("employee_id",),),
        "New employees of an employer to open annuity accounts for.",
        "Registers the employer once (with its trustee and account manager), draws a salt per "
        "employee, keeps (employee id, salt, account id) in its store and requests the accounts "
        "on chain (only the salted hashes); chooses the plan when one is given.",
        (
            {
                "employee_id": "E-1001",
                "employer_ref": "ACME-CN",
                "trustee": "trustee",
                "account_manager": "account-manager",
                "plan_code": "balanced",
            },
            {
                "employee_id": "E-1002",
                "employer_ref": "ACME-CN",
                "trustee": "trustee",
                "account_manager": "account-manager",
                "plan_code": "",
            },
        ),
        _same_within("employer_ref", "trustee", "account_manager"),
        "the rows of one employer_ref name the same trustee and account_manager.",
    ),
    Format(
        "contributions",
        "annuity",
        frozenset({"TRUSTEE"}),
        (
            Column("payroll_ref", "id", "the employer's payroll run: each run is booked once"),
            EMPLOYEE,
            _amount("the contribution in minor units"),
            Column("period", "month", "the payroll month"),
            Column(
                "account_id",
                "hex32",
                "the employee's annuity account id (empty: looked up from the platform's register)",
                required=False,
            ),
        ),
        (("payroll_ref", "employee_id"),),
        "An employer's payroll contributions, as the trustee receives them.",
        "Books each payroll run once on chain (receiveContributions, keyed by payroll_ref, chunked "
        "at 256 accounts) against the employees' account ids; the account manager posts them.",
        (
            {
                "payroll_ref": "ACME-2026-12",
                "employee_id": "E-1001",
                "amount": "150000",
                "period": "2026-12",
                "account_id": "",
            },
        ),
    ),
    Format(
        "plan-choices",
        "annuity",
        frozenset({"ANNUITY_PLATFORM"}),
        (
            EMPLOYEE,
            Column("plan_code", "plan", "the target plan"),
            Column(
                "version",
                "int",
                "the plan version (empty: the latest)",
                required=False,
                low=1,
                high=MAX_PLAN_VERSION,
            ),
            Column(
                "reset",
                "bool",
                "yes: rebalance existing holdings too; no: new money only",
                required=False,
                default=False,
            ),
        ),
        (("employee_id",),),
        "Employees' plan choices (new money only, or with a reset of their holdings).",
        "Sends each choice on chain (choosePlan) for the enrolled employee's account id.",
        (
            {"employee_id": "E-1001", "plan_code": "growth", "version": "", "reset": "yes"},
            {"employee_id": "E-1002", "plan_code": "balanced", "version": "1", "reset": "no"},
        ),
    ),
]


def _rules_parties(rows: list[dict[str, Any]], ctx: InboxContext) -> tuple[int, str] | None:
    """The issuer named is the product's issuer in the consortium file, and the submitter is one of
    the two parties (each approves with its own key)."""
    products = known_products(ctx)
    for n, row in enumerate(rows):
        owner = str(products[row["product"]]["issuer"])
        if row["issuer"] != owner:
            return n, (
                f"product {row['product']!r} is issued by {owner!r}, not {row['issuer']!r}; "
                "name its issuer"
            )
        if ctx.institution not in (row["sales_bank"], row["issuer"]):
            return n, (
                f"{ctx.institution!r} is no party to these rules ({row['sales_bank']!r} and "
                f"{row['issuer']!r} are); each party submits its own file"
            )
    return None


_CONFIRMATIONS = [
    Format(
        "product-rules",
        "confirmations",
        frozenset({"SALES_BANK", "PRODUCT_ISSUER"}),
        (
            Column("product", "product", "the wealth product the rules are for"),
            Column("sales_bank", "institution", "the bank selling it", role="SALES_BANK"),
            Column("issuer", "institution", "the product's issuer", role="PRODUCT_ISSUER"),
            Column("product_risk", "int", "the lowest customer risk level allowed", low=1, high=5),
            Column(
                "min_age",
                "int",
                "the youngest customer allowed (age on the order's day)",
                required=False,
                default=18,
                high=150,
            ),
            Column(
                "require_registered",
                "bool",
                "whether the customer must be registered with the issuer",
                required=False,
                default=True,
            ),
        ),
        (("product", "sales_bank"),),
        "Qualification rules of a wealth product, as the sales bank and the issuer agreed them.",
        "Approves the rules as the product's terms on chain (approveAmendment) with this "
        "institution's key, once: rules already approved or in force are left as they are. The "
        "consortium's operations office enacts them once both parties approved; the sales bank "
        "screens orders against them from then on. Results in outbox/product-rules/.",
        (
            {
                "product": "WM-001",
                "sales_bank": "sales-bank",
                "issuer": "wm-issuer-1",
                "product_risk": "2",
                "min_age": "18",
                "require_registered": "yes",
            },
            {
                "product": "WM-002",
                "sales_bank": "sales-bank",
                "issuer": "wm-issuer-1",
                "product_risk": "4",
                "min_age": "18",
                "require_registered": "yes",
            },
        ),
        _rules_parties,
        "the issuer is the product's issuer in the consortium file; the submitter is the "
        "sales_bank or the issuer named.",
    ),
    Format(
        "customers",
        "confirmations",
        frozenset({"SALES_BANK"}),
        (
            Column("customer_id", "id", "the bank's customer id (personal: salted and hashed)"),
            Column(
                "issuer",
                "institution",
                "the product issuer to register with",
                role="PRODUCT_ISSUER",
            ),
            Column("birth_date", "date", "the customer's birth date (age checks; stays off chain)"),
            Column("risk_level", "int", "the customer's assessed risk tolerance", low=1, high=5),
            Column("kyc_ok", "bool", "whether the bank's KYC passed"),
        ),
        (("customer_id", "issuer"),),
        "Customer registrations with a wealth-product issuer.",
        "Commits the salted profile on chain (submitRegistration) and sends the profile and salt "
        "to the issuer over their channel; the issuer's answer makes the customer registered.",
        (
            {
                "customer_id": "C-000017",
                "issuer": "wm-issuer-1",
                "birth_date": "1980-04-02",
                "risk_level": "3",
                "kyc_ok": "yes",
            },
        ),
    ),
    Format(
        "orders",
        "confirmations",
        frozenset({"SALES_BANK"}),
        (
            Column("order_id", "id", "the bank's order id (hashed into the request id)"),
            Column("customer_id", "id", "a customer registered through `customers`"),
            Column("product", "product", "the wealth product; its issuer receives the order"),
            Column(
                "kind",
                "choice",
                "what is asked",
                choices=tuple(ORDER_KINDS),
            ),
            _amount("the order's amount in minor units"),
            Column("shares", "int", "shares (redemptions, share changes)", low=0, high=MAX_AMOUNT),
            Column("order_date", "date", "the business day the order belongs to (its period)"),
        ),
        (("order_id",),),
        "Wealth-product orders of registered customers.",
        "Screens each order against the product's agreed rules (age, risk, registration), stores "
        "refusals with their reason, sends one packet per issuer per day and anchors the confirmed "
        "packet's root; results land in outbox/.",
        (
            {
                "order_id": "O-2026-12-05-0001",
                "customer_id": "C-000017",
                "product": "WM-001",
                "kind": "subscription",
                "amount": "5000000",
                "shares": "0",
                "order_date": "2026-12-05",
            },
        ),
    ),
    Format(
        "debits",
        "confirmations",
        frozenset({"FINANCE_COMPANY"}),
        (
            PAYMENT,
            _amount("the amount debited in minor units"),
            PAID_AT,
            Column(
                "counterparty", "institution", "the bank that was paid", role="BANK", not_self=True
            ),
            DAY,
        ),
        (("payment_id",),),
        "The finance company's debit details of a business day.",
        "Stores them as the day's debit side; hands them to the reconciler when it asks.",
        (
            {
                "payment_id": "900000001",
                "amount": "125000",
                "paid_at": "2026-12-04T09:30:00Z",
                "counterparty": "sales-bank",
                "day": "2026-12-04",
            },
        ),
    ),
    Format(
        "credits",
        "confirmations",
        frozenset({"BANK"}),
        (
            PAYMENT,
            _amount("the amount credited in minor units"),
            PAID_AT,
            Column(
                "counterparty",
                "institution",
                "the finance company that paid",
                role="FINANCE_COMPANY",
                not_self=True,
            ),
            DAY,
        ),
        (("payment_id",),),
        "The bank's credit details of a business day (its payments from a finance company).",
        "Commits the day's bilateral roots on chain, sends the details to the reconciler and the "
        "finance company over their channels, keeps its credit side in its store.",
        (
            {
                "payment_id": "900000001",
                "amount": "125000",
                "paid_at": "2026-12-04T09:30:00Z",
                "counterparty": "finance-company",
                "day": "2026-12-04",
            },
        ),
    ),
]

FIRST_PARTIES = frozenset({"BROKER", "CUSTODIAN", "EXCHANGE"})


def _party(name: str, role: str, meaning: str, required: bool = False) -> Column:
    return Column(name, "institution", meaning, required=required, role=role)


_SETTLEMENT = [
    Format(
        "trades",
        "settlement",
        FIRST_PARTIES,
        (
            Column("trade_id", "id", "the execution side's id (hashed on chain)"),
            Column("security", "security", "the security traded"),
            Column("currency", "currency", "the trade currency (the security's)"),
            Column("side", "choice", "the participant's side", choices=tuple(SIDES)),
            Column("quantity", "int", "shares", low=1, high=MAX_QUANTITY),
            Column("price", "int", "price per share in minor units", low=1, high=MAX_PRICE),
            Column("trade_date", "date", "the trade date (the settlement cycle)"),
            Column("owner_ref", "id", "the beneficial owner's pseudonym (salted and hashed)"),
            _party("participant", "BROKER", "the clearing participant (overseas broker)", True),
            _party("local_broker", "BROKER", "the local broker, if any"),
            _party("custodian", "CUSTODIAN", "the custodian, if any"),
            _party("exchange", "EXCHANGE", "the exchange, if any"),
        ),
        (("trade_id",),),
        "Executions of the day, one row per side, as a broker, custodian or exchange holds them.",
        "Uploads the trades it is on for the cycle (uploadTrades, idempotent per batch), computes "
        "its clearing and reconciles with its counterparties and investors.",
        (
            {
                "trade_id": "T-20261205-0001-B",
                "security": "0700.HK",
                "currency": "HKD",
                "side": "buy",
                "quantity": "500",
                "price": "38250",
                "trade_date": "2026-12-05",
                "owner_ref": "client-0042",
                "participant": "broker-hk",
                "local_broker": "broker-cn",
                "custodian": "custodian-hk",
                "exchange": "exchange-hk",
            },
        ),
        _trade_rules,
        "the currency is the security's (consortium file); every trade names the submitter as "
        "participant, local_broker, custodian or exchange (a party uploads only its own trades).",
    ),
    Format(
        "charges",
        "settlement",
        FIRST_PARTIES,
        (
            Column("security", "security", "the security the charge applies to"),
            Column("kind", "choice", "fee or tax", choices=tuple(CHARGE_KINDS)),
            Column("payer", "choice", "who pays it", choices=tuple(PAYERS)),
            Column("bps", "int", "rate in basis points", low=0, high=BPS_DENOMINATOR),
            Column(
                "minimum",
                "int",
                "minimum per trade in minor units",
                required=False,
                default=0,
                low=0,
                high=MAX_AMOUNT,
            ),
        ),
        (("security", "kind", "payer"),),
        "The institution's fee and tax configuration per security (the whole set per security).",
        "Sets the configuration of each security named (setClearingConfig) with all its rows.",
        (
            {"security": "0700.HK", "kind": "fee", "payer": "both", "bps": "3", "minimum": "500"},
            {"security": "0700.HK", "kind": "tax", "payer": "both", "bps": "10", "minimum": "100"},
        ),
    ),
]

_SETTLEMENT += [
    Format(
        "cycles",
        "settlement",
        frozenset({"CCP"}),
        (
            Column("cycle_id", "id", "the cycle's reference, at most 32 bytes (bytes32 on chain)"),
            Column("trade_date", "date", "the trade date whose executions the cycle settles"),
            Column(
                "cut_off",
                "datetime",
                "when uploads close even if an expected first party has not uploaded",
                required=False,
            ),
            Column(
                "reconcile_by",
                "datetime",
                "when the CCP stops waiting for reconciliations: the executions of a party not "
                "reconciled with it are deferred and the rest netted",
                required=False,
            ),
        ),
        (("cycle_id",),),
        "The settlement cycles the CCP opens (its cut-off calendar).",
        "Opens each cycle not open yet (openCycle); the first parties upload the trades of its "
        "trade date when they see it open, then declare them complete; uploads close once every "
        "expected first party completed its uploads, or at the cut-off; the cycle runs from the "
        "chain's events. A row for a cycle open already sets its cut-offs anew. At "
        "`reconcile_by` the CCP defers the executions of each party not reconciled with it "
        "(decision `reconciliation_break`) and nets the rest.",
        (
            {
                "cycle_id": "SETTLE-2026-12-05",
                "trade_date": "2026-12-05",
                "cut_off": "2026-12-05T16:00:00+08:00",
                "reconcile_by": "2026-12-05T18:00:00+08:00",
            },
        ),
    ),
    Format(
        "issues",
        "settlement",
        frozenset({"CSD", "CASH_ISSUER"}),
        (
            Column("ref", "id", "the custody or payment reference (once only, kept on chain)"),
            Column("holder", "institution", "the member credited"),
            Column("asset", "id", "a security id (CSD) or currency code (cash issuer)"),
            _amount("shares (securities) or minor units (cash) credited"),
        ),
        (("ref",),),
        "Securities deposited with the CSD, or cash received by a deposit-token issuer.",
        "Issues each row once by its reference (SecurityToken.issue or DepositToken.issue); a "
        "reference booked before is not issued again.",
        (
            {
                "ref": "CUST-2026-12-05-001",
                "holder": "broker-hk",
                "asset": "0700.HK",
                "amount": "5000",
            },
        ),
    ),
]

CLIENT = CLIENT_ROLE  # the membership: who may receive a bill

_BILLS = [
    Format(
        "bill-issues",
        "bills",
        frozenset({ISSUE_RIGHT}),
        (
            REF,
            Column(
                "receiver",
                "institution",
                "the creditor the bill is owed to",
                role=CLIENT,
                not_self=True,
            ),
            _amount("face value in minor units"),
            Column("currency", "currency", "the bill's currency", required=False, default="CNY"),
            Column("maturity", "date", "the day the bill falls due"),
            Column(
                "documents_sha256", "hex32", "sha256 of the trade documents: one live bill per set"
            ),
            Column(
                "batch_ref",
                "id",
                "the payables batch it belongs to (kept off chain)",
                required=False,
            ),
        ),
        (("request_ref",), ("documents_sha256",)),
        "Bills the submitter issues on itself to its suppliers (it is the debtor).",
        "Requests the issue on chain (requestIssue, once per set of trade documents); the receiver "
        "reviews it; positions land in outbox/.",
        (
            {
                "request_ref": "PO-778812",
                "receiver": "tier1-supplier",
                "amount": "250000000",
                "currency": "CNY",
                "maturity": "2027-03-31",
                "documents_sha256": "9f2c" + "00" * 30,
                "batch_ref": "AP-2026-12",
            },
        ),
    ),
    Format(
        "bill-transfers",
        "bills",
        frozenset({TRANSFER_RIGHT}),
        (
            REF,
            HELD,
            FROM_DOCS,
            Column(
                "to",
                "institution",
                "the supplier the holding passes to",
                role=CLIENT,
                not_self=True,
            ),
            _amount("the part passed on, in minor units"),
            Column("documents_sha256", "hex32", "sha256 of the transfer's trade documents"),
        ),
        (("request_ref",),),
        "Parts of bills held passed on to the submitter's own suppliers.",
        "Requests each transfer on chain (requestTransfer, once per request_ref).",
        (
            {
                "request_ref": "TR-0001",
                "node_id": "3",
                "from_documents": "",
                "to": "tier2-supplier-a",
                "amount": "100000000",
                "documents_sha256": "ab" * 32,
            },
        ),
        _one_holding,
        ONE_HOLDING,
    ),
    Format(
        "bill-financing",
        "bills",
        frozenset({FINANCING_RIGHT}),
        (
            REF,
            HELD,
            FROM_DOCS,
            _amount("the part offered for financing, in minor units"),
            Column("documents_sha256", "hex32", "sha256 of the financing request's documents"),
            Column(
                "quote_window_minutes",
                "int",
                "publicise the request for this long: factors outbid each other, the best quote "
                "is signed after it (empty: the first quote)",
                required=False,
                low=1,
                high=MAX_QUOTE_WINDOW // 60,
            ),
        ),
        (("request_ref",),),
        "Parts of bills held offered to the factors for financing.",
        "Requests the financing on chain (requestFinancing, once per request_ref; with a quote "
        "window requestFinancingQuotes, and the best quote is signed when it ends); factors quote.",
        (
            {
                "request_ref": "FIN-0001",
                "node_id": "5",
                "from_documents": "",
                "amount": "60000000",
                "documents_sha256": "cd" * 32,
                "quote_window_minutes": "",
            },
        ),
        _one_holding,
        ONE_HOLDING,
    ),
    Format(
        "bill-redemptions",
        "bills",
        frozenset({CLIENT}),
        (
            Column("batch_ref", "id", "the payment order: each batch is redeemed once"),
            NODE,
            Column("holder", "institution", "the holder paid", not_self=True),
            _amount("the amount paid in minor units"),
            Column(
                "payment_ref",
                "id",
                "the off-chain payment's reference (empty: paid in cash tokens on chain)",
                required=False,
            ),
        ),
        (("batch_ref", "node_id", "holder"),),
        "The debtor's payment of its bills' holders at maturity.",
        f"Redeems each batch once (redeem, at most {MAX_REDEMPTION_BATCH} holdings per batch).",
        (
            {
                "batch_ref": "PAY-2027-03-31",
                "node_id": "3",
                "holder": "tier1-supplier",
                "amount": "150000000",
                "payment_ref": "",
            },
        ),
        _redemption_rules,
        f"at most {MAX_REDEMPTION_BATCH} rows per batch_ref; the rows of one batch_ref have the "
        "same payment_ref.",
    ),
]

FORMATS: dict[str, Format] = {
    f.name: f for f in [*_ANNUITY, *_CONFIRMATIONS, *_SETTLEMENT, *_BILLS]
}


def format_of(file_name: str) -> Format | None:
    """The format a file's name selects: `<format>[-anything].csv|.json`; the longest name wins
    (`bill-issues-x.csv` is bill-issues)."""
    stem = file_name.rsplit(".", 1)[0]
    fits = [f for f in FORMATS if stem == f or stem.startswith(f + "-")]
    return FORMATS[max(fits, key=len)] if fits else None


def format_markdown(fmt: Format) -> str:
    """The format's section of docs/formats.md (tests check the document holds it verbatim)."""
    who = " or ".join(sorted(fmt.roles))
    out = [
        f"### `{fmt.name}` ({fmt.line})",
        "",
        fmt.summary,
        "",
        f"- File name: `{fmt.name}.csv`, `{fmt.name}-<anything>.csv` or `.json`",
        f"- Submitted by: an institution holding {who}",
        "- Unique within a file: " + "; ".join(" + ".join(f"`{c}`" for c in k) for k in fmt.keys),
    ]
    if fmt.rules:
        out.append(f"- Across rows: {fmt.rules}")
    out += ["", "| column | required | type and range | meaning |", "|---|---|---|---|"]
    for c in fmt.columns:
        req = "yes" if c.required else ("no" if c.default is None else f"no (default {c.default})")
        out.append(f"| `{c.name}` | {req} | {c.range_text} | {c.meaning} |")
    header = [c.name for c in fmt.columns]
    out += ["", "Example:", "", "```csv", ",".join(header)]
    out += [",".join(str(row.get(h, "")) for h in header) for row in fmt.example]
    out += ["```", "", f"What the agent does: {fmt.action}", ""]
    return "\n".join(out)
