"""The confirmations line in the multi-process day: its business files and how its day is judged.

The sales bank and each issuer drop the products' qualification rules first (each approves them on
chain with its own key; the operations office, `govern`, enacts each product's rules once both
approved); the sales bank's systems drop the customers to register with each issuer, then (once
every registration is answered and every product's rules are in force) the day's orders; the
bank's and the finance company's books drop yesterday's credits and debits, the debits carrying one
break of each kind a book can hold (a payment missing, an amount changed, an id the bank never
committed), and the deposit-token issuer the cash the finance company pays in with. Everything else
happens between the agents: registrations decided on chain, orders screened against the agreed
rules, packets confirmed by the issuers and anchored, the day reconciled at the reconciler's
cut-off with its breaks recorded on chain and sent to both parties, and the day's total paid by the
finance company (Reconciliation.settleDay).

Fixed cases on the first product (rules issue 18 asks the day to exercise): the first customer
(qualified for it) subscribes shares, and an amount above the product's `max_amount` (the issuer's
books, from the consortium file), which passes the bank's screening and comes back confirmed as
refused (AMOUNT_ABOVE_PRODUCT_MAXIMUM); once the shares are confirmed, a later orders file redeems
part of them (screened against the holding, not the purchase rules, and confirmed). A second sales
bank, when the consortium names one, agrees its own terms for the product with its issuer,
registers a customer and has a subscription confirmed and anchored under its own root. The bank's
bilateral batches go on chain only with the finance company's countersignature.

Seeded as the in-process day's sizes (customers, orders, payments); the dates are the chain's
(orders belong to the chain's day, payments to the last day the Reconciliation contract lets the
reconciler close), fixed once per day in the view's memo so `checks` recomputes the same files.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from dataclasses import dataclass
from typing import Any

from consortium.domain import days, eip712, qualification
from consortium.domain.hashing import code32
from consortium.domain.reconciliation import AMOUNT_MISMATCH, CAUSES, MISSING, UNKNOWN_ID
from consortium.roles.confirmations import MAX_PACKET
from consortium.scenarios import LineResult

ROLES = ("SALES_BANK", "PRODUCT_ISSUER", "BANK", "FINANCE_COMPANY", "RECONCILER")
PHASES = ("rules", "customers", "payments", "orders", "redemptions")
KINDS = ("subscription", "redemption", "share-change")  # the `orders` format's kinds
INJECTED = (
    {  # the debits file's breaks, by cause: a missing payment, a changed amount, an unknown id
        CAUSES[MISSING]: 1,
        CAUSES[AMOUNT_MISMATCH]: 1,
        CAUSES[UNKNOWN_ID]: 1,
    }
)
CHANGED_BY = 7  # minor units added to the changed debit
HELD_SHARES = 10  # the first customer's subscription of the first product; it redeems REDEEMED
REDEEMED = 4


@dataclass(frozen=True)
class Customer:
    customer_id: str
    age: int
    risk_level: int
    kyc_ok: bool


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    product: str
    kind: str
    amount: int
    shares: int


@dataclass(frozen=True)
class FileDay:
    """The seeded content of the line's files; `checks` recomputes its expectations from it."""

    sales_bank: str
    cash_issuer: str  # issues the deposit token the day is paid in (the first CASH_ISSUER)
    bank: str
    finance_company: str
    reconciler: str
    issuers: tuple[str, ...]
    products: dict[str, dict]  # product id -> its consortium-file entry
    customers: tuple[Customer, ...]
    orders: tuple[Order, ...]
    payments: dict[int, tuple[int, int]]  # payment id -> (amount, seconds into its day)
    missing: int  # payment id the debits leave out
    changed: int  # payment id whose debit amount differs
    unknown: int  # payment id only the debits hold
    later: tuple[Order, ...] = ()  # the sales bank's later orders file: the redemption
    held: str = ""  # order id of the first customer's subscription the redemption draws on
    too_big: str = ""  # order id above the product's max_amount (refused by its issuer)
    second_bank: str = ""  # another sales bank distributing the first product
    second_customers: tuple[Customer, ...] = ()
    second_orders: tuple[Order, ...] = ()

    @property
    def registrations(self) -> int:
        return len(self.customers) * len(self.issuers)

    @property
    def orders_file(self) -> str:
        return f"orders-{self.sales_bank}.csv"

    @property
    def later_file(self) -> str:
        return f"orders-{self.sales_bank}-later.csv"

    @property
    def first_product(self) -> str:
        return min(self.products)

    def terms(self) -> list[tuple[str, str, int, int]]:
        """(sales bank, product, product risk, min age) of every terms the day agrees: the sales
        bank's for every product, the second bank's own for the first product."""
        out = [
            (self.sales_bank, pid, int(p.get("risk_level", 1)), int(p.get("min_age", 18)))
            for pid, p in sorted(self.products.items())
        ]
        if self.second_bank:
            out.append((self.second_bank, self.first_product, 1, 18))
        return out

    @property
    def total(self) -> int:
        """The day's credits: what the bank committed and the finance company pays."""
        return sum(a for a, _ in self.payments.values())


def file_day(cfg: Any, sizes: dict, seed: int) -> FileDay:
    """The day's seeded content (sizes: customers, orders, payments, as the in-process day)."""
    rng = random.Random(f"{seed}:confirmations-files")

    def one(role: str) -> str:
        found = cfg.with_role(role)
        return found[0].id if found else ""

    members = {i.id for i in cfg.institutions}
    products = {
        str(p["id"]): dict(p)
        for p in cfg.products.get("wealth") or []
        if str(p["issuer"]) in members
    }
    issuers = tuple(sorted({str(p["issuer"]) for p in products.values()}))
    n = max(1, int(sizes.get("customers", 6)))
    customers = []
    for k in range(n):
        age, risk = rng.randint(16, 70), rng.randint(1, 5)
        customers.append(
            Customer(
                f"C-{seed % 10_000:04d}-{k:04d}",
                *((age, risk) if k else (40, 5)),  # the first qualifies for every product
                not (n >= 3 and k == n - 1),  # the last one's KYC failed
            )
        )
    orders = []
    for k in range(int(sizes.get("orders", 24))):
        amount = rng.randint(1, 500) * 1_000
        # mostly subscriptions: the day's one orders file is screened before anything is held,
        # so its redemptions and share changes are refused SHARES_EXCEED_HOLDING (as they must be)
        kind = rng.choices(KINDS, weights=(3, 1, 1))[0]
        orders.append(
            Order(
                f"O-{seed % 10_000:04d}-{k:05d}",
                rng.choice(customers).customer_id,
                rng.choice(sorted(products)),
                kind,
                amount,
                0 if kind == "subscription" else amount // 10,
            )
        )
    fixed = _fixed(cfg, products, customers[0], seed)
    orders += fixed["orders"]
    base = rng.randrange(1, 1 << 40)
    n_pay = max(3, int(sizes.get("payments", 60)))
    payments = {
        base + k: (rng.randint(100, 1_000_000), rng.randrange(days.SECONDS_PER_DAY))
        for k in range(n_pay)
    }
    ids = sorted(payments)
    return FileDay(
        one("SALES_BANK"),
        one("CASH_ISSUER"),
        one("BANK"),
        one("FINANCE_COMPANY"),
        one("RECONCILER"),
        issuers,
        products,
        tuple(customers),
        tuple(orders),
        payments,
        ids[0],
        ids[1],
        base + n_pay + 1,
        fixed["later"],
        fixed["held"],
        fixed["too_big"],
        fixed["second_bank"],
        fixed["second_customers"],
        fixed["second_orders"],
    )


def _fixed(cfg: Any, products: dict[str, dict], first: Customer, seed: int) -> dict[str, Any]:
    """The day's fixed cases on the first product (see the module's docstring): the first
    customer's subscription of shares and one above the product's max_amount (if it has one), its
    later redemption, and the second sales bank's customer and order (if there is one)."""
    out: dict[str, Any] = {
        "orders": [],
        "later": (),
        "held": "",
        "too_big": "",
        "second_bank": "",
        "second_customers": (),
        "second_orders": (),
    }
    if not products:
        return out
    pid = min(products)
    tag = f"{seed % 10_000:04d}"
    held = Order(f"O-{tag}-HELD", first.customer_id, pid, "subscription", 10_000, HELD_SHARES)
    out["orders"].append(held)
    out["held"] = held.order_id
    out["later"] = (
        Order(f"O-{tag}-REDEEM", first.customer_id, pid, "redemption", 4_000, REDEEMED),
    )
    limit = products[pid].get("max_amount")
    if limit is not None:
        above = int(limit) + 1_000
        big = Order(f"O-{tag}-ABOVE-MAX", first.customer_id, pid, "subscription", above, 0)
        out["orders"].append(big)
        out["too_big"] = big.order_id
    banks = [i.id for i in cfg.with_role("SALES_BANK")]
    if len(banks) > 1:
        customer = Customer(f"C-{tag}-B2", 30, 1, True)
        out["second_bank"] = banks[1]
        out["second_customers"] = (customer,)
        out["second_orders"] = (
            Order(f"O-{tag}-B2", customer.customer_id, pid, "subscription", 5_000, 5),
        )
    return out


def agent_settings(cfg: Any, sizes: dict, seed: int) -> dict[str, dict]:
    """The reconciler closes a day as soon as the chain allows it (agent.yaml
    `confirmations: {cutoff: now}`): the day's payments are yesterday's."""
    return {file_day(cfg, sizes, seed).reconciler: {"confirmations": {"cutoff": "now"}}}


def input_files(cfg: Any, sizes: dict, seed: int) -> dict[str, list]:
    """The sales bank's customers and orders, the bank's credits, the finance company's debits
    (their dates the chain's, read when their phase begins)."""
    from consortium.scenarios.files import InputFile, csv_bytes

    d = file_day(cfg, sizes, seed)
    customers, orders, book = _customers_file, _orders_file, _book_file
    files: dict[str, list] = {}
    for ident in (d.sales_bank, *d.issuers, *([d.second_bank] if d.second_bank else [])):
        files.setdefault(ident, []).append(
            InputFile(f"product-rules-{ident}.csv", _rules_file(d, ident), "rules")
        )
    files[d.sales_bank].append(
        InputFile(f"customers-{d.sales_bank}.csv", customers(d.customers, d.issuers), "customers")
    )
    if d.second_bank:
        issuer = (str(d.products[d.first_product]["issuer"]),)
        bank2 = d.second_bank
        files[bank2].append(
            InputFile(f"customers-{bank2}.csv", customers(d.second_customers, issuer), "customers")
        )
        files[bank2].append(InputFile(f"orders-{bank2}.csv", orders(d.second_orders), "orders"))
    if not d.cash_issuer or not set(ROLES) & set(cfg.by_id(d.cash_issuer).roles):
        raise ValueError(
            f"the day is paid in the deposit token {d.cash_issuer!r} issues, but it runs no agent "
            f"of this line (roles {', '.join(ROLES)}); make the first CASH_ISSUER one of them"
        )
    funding = [[f"FUND-{d.finance_company}-{seed}", d.finance_company, "CNY", d.total]]
    files.setdefault(d.cash_issuer, []).append(
        InputFile(
            f"issues-{d.finance_company}-funding.csv",
            csv_bytes(["ref", "holder", "asset", "amount"], funding),
            "payments",
        )
    )
    files.setdefault(d.bank, []).append(
        InputFile(f"credits-{d.bank}.csv", book(d, "credits"), "payments")
    )
    files.setdefault(d.finance_company, []).append(
        InputFile(f"debits-{d.finance_company}.csv", book(d, "debits"), "payments")
    )
    if d.orders:
        files[d.sales_bank].append(InputFile(d.orders_file, orders(d.orders), "orders"))
    if d.later:
        files[d.sales_bank].append(InputFile(d.later_file, orders(d.later), "redemptions"))
    return files


def _customers_file(who: tuple[Customer, ...], issuers: tuple[str, ...]) -> Any:
    """A bank's customers file: each customer with each issuer (birth dates by the chain's year)."""
    from consortium.scenarios.files import csv_bytes

    def content(view: Any) -> bytes:
        year = _today(view).year
        rows = [
            [c.customer_id, i, f"{year - c.age}-01-01", c.risk_level, _yes(c.kyc_ok)]
            for c in who
            for i in issuers
        ]
        return csv_bytes(["customer_id", "issuer", "birth_date", "risk_level", "kyc_ok"], rows)

    return content


def _orders_file(which: tuple[Order, ...]) -> Any:
    """An orders file, its orders of the chain's day."""
    from consortium.scenarios.files import csv_bytes

    def content(view: Any) -> bytes:
        today = _today(view).isoformat()
        header = ["order_id", "customer_id", "product", "kind", "amount", "shares", "order_date"]
        rows = [
            [o.order_id, o.customer_id, o.product, o.kind, o.amount, o.shares, today] for o in which
        ]
        return csv_bytes(header, rows)

    return content


def _book_file(d: FileDay, side: str) -> Any:
    """The bank's credits or the finance company's debits of the day the reconciler closes."""
    from consortium.scenarios.files import csv_bytes

    def content(view: Any) -> bytes:
        day, zone = _recon_day(view), int(view.suite["Reconciliation"].businessUtcOffset())
        counterparty = d.finance_company if side == "credits" else d.bank
        header = ["payment_id", "amount", "paid_at", "counterparty", "day"]
        rows = [
            [i, a, _paid_at(day, s, zone), counterparty, days.day_date(day)]
            for i, a, s in _book_rows(d, side)
        ]
        return csv_bytes(header, rows)

    return content


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _rules_file(d: FileDay, ident: str) -> bytes:
    """The terms of the day (`FileDay.terms`) a party approves: a bank its own, an issuer those
    of its products."""
    from consortium.scenarios.files import csv_bytes

    rows = [
        [pid, bank, d.products[pid]["issuer"], risk, age]
        for bank, pid, risk, age in d.terms()
        if ident in (bank, str(d.products[pid]["issuer"]))
    ]
    return csv_bytes(["product", "sales_bank", "issuer", "product_risk", "min_age"], rows)


def _book_rows(d: FileDay, side: str) -> list[tuple[int, int, int]]:
    """(payment id, amount, seconds into the day) of one side's book: the credits as paid, the
    debits with the injected breaks."""
    rows = [(i, a, s) for i, (a, s) in sorted(d.payments.items())]
    if side == "credits":
        return rows
    out = [(i, a + (CHANGED_BY if i == d.changed else 0), s) for i, a, s in rows if i != d.missing]
    return out + [(d.unknown, 1, 0)]


def _paid_at(day: int, seconds: int, zone: days.Zone) -> str:
    """A payment's time, `seconds` into the local business day `day`, as a UTC stamp."""
    at = dt.datetime.fromtimestamp(days.business_day_start(day, zone) + seconds, dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _chain_now(view: Any) -> int:
    from consortium import chain

    return int(chain.web3().eth.get_block("latest")["timestamp"])


def _today(view: Any) -> dt.date:
    """The chain's day when the line's files were first written (orders belong to it)."""
    stamp = view.memo("confirmations:now", lambda: _chain_now(view))
    return dt.datetime.fromtimestamp(stamp, dt.UTC).date()


def _recon_day(view: Any) -> int:
    """The last day the Reconciliation contract lets the reconciler close now (as the in-process
    day picks it)."""

    def pick() -> int:
        now = view.memo("confirmations:now", lambda: _chain_now(view))
        recon = view.suite["Reconciliation"]
        zone = int(recon.businessUtcOffset())  # the institutions' local business day
        return days.last_closable_day(now, int(recon.reconcileOffset()), zone)

    return view.memo("confirmations:recon-day", pick)


def _day(view: Any) -> FileDay:
    return view.memo(
        "confirmations", lambda: file_day(view.cfg, view.sizes_of("confirmations"), view.seed)
    )


def _json_files(folder: Any) -> list[dict]:
    out = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):  # written by rename, but be safe
            continue
    return out


def _registrations(view: Any, bank: str) -> list[dict]:
    return _json_files(view.outbox(bank) / "registrations")


def _answered(view: Any, bank: str) -> int:
    """How many registrations the bank's outbox lists as answered: its files counted, not read
    (each is written by rename; a large day polls thousands of them)."""
    folder = view.outbox(bank) / "registrations"
    return sum(1 for _ in folder.glob("*.json")) if folder.exists() else 0


def _screening(view: Any, d: FileDay, name: str | None = None) -> dict | None:
    """The sales bank's screening of one of its orders files (the day's first by default)."""
    stem = (name or d.orders_file).removesuffix(".csv")
    path = view.outbox(d.sales_bank) / "screening" / f"{stem}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet
        return None


def _confirmed(view: Any, bank: str) -> list[dict]:
    return _json_files(view.outbox(bank) / "confirmations")


def _results(view: Any, ident: str) -> list[dict]:
    return _json_files(view.outbox(ident) / "reconciliations")


def _record_of(view: Any, bank: str, order_id: str) -> dict | None:
    """The confirmation record of one order in a bank's outbox (None while not confirmed)."""
    for f in _confirmed(view, bank):
        for r in f.get("records", []):
            if r.get("order_id") == order_id:
                return r
    return None


def ready(phase: str, view: Any) -> bool:
    """The rules, customers and books at once; the orders once every registration is answered
    (a bank sends orders only for customers the issuers have decided on) and every product's
    rules are in force on chain; the redemption once the shares it draws on are confirmed."""
    d = _day(view)
    if phase in ("rules", "customers", "payments"):
        return True
    if phase == "orders":
        second = not d.second_bank or _answered(view, d.second_bank) >= len(d.second_customers)
        return _answered(view, d.sales_bank) >= d.registrations and second and _all_enacted(view, d)
    if phase == "redemptions":
        held = _record_of(view, d.sales_bank, d.held) if d.held else {"status": "confirmed"}
        return held is not None
    raise ValueError(f"unknown confirmations phase {phase!r}")


def govern(view: Any, manager: Any) -> None:
    """The operations office enacts each terms of the day once both parties approved them on
    chain (asked of the chain each time: rules in force are left as they are)."""
    d = _day(view)
    state = view.memo("confirmations:governed", dict)
    if state.get("enacted"):
        return
    registry = view.suite.registry
    pending = {r.terms_id: r for r in _rules(view, d) if not _in_force(view, r)}
    if not pending:
        state["enacted"] = True
        return
    approvals: dict[bytes, set[str]] = {}
    events = registry.events.get_sequence(view.suite.block, event_type="AmendmentApproved")
    for ev in (e.args for e in events):
        r = pending.get(bytes(ev["termsId"]))
        if r is None or bytes(ev["amendmentHash"]) != r.terms_hash():
            continue
        if int(ev["version"]) == int(registry.getTerms(r.terms_id)[3]) + 1:
            approvals.setdefault(r.terms_id, set()).add(str(ev["party"]).lower())
    for tid, r in pending.items():
        if {r.sales_bank.lower(), r.issuer.lower()} <= approvals.get(tid, set()):
            manager.enact(tid, r.sales_bank, r.issuer, r.terms_hash())


def _in_force(view: Any, r: qualification.QualificationRules) -> bool:
    held = str(view.suite.registry.getTerms(r.terms_id)[2])
    return bytes.fromhex(held[2:]) == r.terms_hash()


def _all_enacted(view: Any, d: FileDay) -> bool:
    return all(_in_force(view, r) for r in _rules(view, d))


def _paid(view: Any, d: FileDay) -> dict | None:
    """The finance company's payment of the reconciled day, as its outbox writes it."""
    out = [
        p
        for p in _json_files(view.outbox(d.finance_company) / "payments")
        if p.get("day") == days.day_date(_recon_day(view))
    ]
    return out[0] if out else None


def done(view: Any) -> bool:
    """Orders screened, every expected packet anchored (both banks'), the day's result with all
    three, the day paid."""
    d = _day(view)
    if d.orders and _screening(view, d) is None:
        return False
    if d.later and _screening(view, d, d.later_file) is None:
        return False
    expected = _expected_screening(view, d)
    if len(_confirmed(view, d.sales_bank)) < expected.packets:
        return False
    if d.second_bank and len(_confirmed(view, d.second_bank)) < 1:
        return False
    if not all(_results(view, i) for i in (d.reconciler, d.bank, d.finance_company)):
        return False
    return _paid(view, d) is not None


@dataclass(frozen=True)
class Expected:
    """What the sales bank's screening of each of its orders files must give, recomputed from
    the files and the rules the chain holds as agreed, and what its issuers must refuse."""

    files: dict[str, tuple[dict[str, list[str]], dict[str, list[str]]]]  # name -> (accepted by
    # issuer id, refused order id -> its reason codes)
    agreed: int  # products whose rules (the sales bank's) are in force on chain
    issuer_refused: dict[str, str]  # order id -> the reason code its issuer refuses it with

    @property
    def accepted(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for ok, _ in self.files.values():
            for issuer, ids in ok.items():
                out.setdefault(issuer, []).extend(ids)
        return out

    @property
    def refused(self) -> dict[str, list[str]]:
        return {k: v for _, refused in self.files.values() for k, v in refused.items()}

    @property
    def packet_issuers(self) -> list[str]:
        """The issuer of each packet the sales bank sends (MAX_PACKET orders at most)."""
        return sorted(
            issuer
            for ok, _ in self.files.values()
            for issuer, ids in ok.items()
            for _ in range(math.ceil(len(ids) / MAX_PACKET))
        )

    @property
    def packets(self) -> int:
        return len(self.packet_issuers)

    @property
    def confirmed(self) -> int:
        return sum(len(v) for v in self.accepted.values())


def _addresses(view: Any, d: FileDay) -> dict[str, str]:
    """Every member's address, as the sales bank's agent.yaml names them."""
    import yaml

    return view.memo(
        "confirmations:addresses",
        lambda: dict(
            yaml.safe_load((view.homes[d.sales_bank] / "agent.yaml").read_text())["addresses"]
        ),
    )


def _rules(view: Any, d: FileDay) -> list[qualification.QualificationRules]:
    """Every terms of the day (`FileDay.terms`) as the product-rules files give them."""
    addresses = _addresses(view, d)
    return [
        qualification.QualificationRules(
            code32(pid),
            addresses[str(d.products[pid]["issuer"])],
            product_risk=risk,
            min_age=age,
            sales_bank=addresses[bank],
        )
        for bank, pid, risk, age in d.terms()
    ]


def _screened(
    view: Any, d: FileDay, orders: tuple[Order, ...], held: dict[str, int]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """One of the sales bank's orders files screened as its agent must: (accepted order ids by
    issuer id, refused order id -> codes). `held`: customer id -> shares of the first product
    its earlier confirmed orders left (what a redemption is screened against)."""
    addresses = _addresses(view, d)
    registry = view.suite.registry
    by_product = {
        r.product_id: r for r in _rules(view, d) if r.sales_bank == addresses[d.sales_bank]
    }
    agreed = {
        pid: bytes.fromhex(str(registry.getTerms(r.terms_id)[2])[2:])
        for pid, r in by_product.items()
    }
    customers = {c.customer_id: c for c in d.customers}
    first = code32(d.first_product) if d.products else b""
    items = []
    for o in orders:
        c = customers[o.customer_id]
        registered = frozenset(addresses[i].lower() for i in d.issuers) if c.kyc_ok else frozenset()
        holdings = {first: held[o.customer_id]} if o.customer_id in held else {}
        investor = qualification.Investor(b"", c.age, c.risk_level, registered, holdings)
        items.append(
            qualification.Order(
                o.order_id.encode(),
                code32(o.product),
                investor,
                dict(zip(KINDS, eip712.KINDS))[o.kind],
                o.amount,
                o.shares,
            )
        )
    ok, rejected = qualification.screen(items, by_product, agreed)
    accepted: dict[str, list[str]] = {}
    product_of = {o.order_id: o.product for o in orders}
    for rid in ok:
        oid = rid.decode()
        accepted.setdefault(str(d.products[product_of[oid]]["issuer"]), []).append(oid)
    return accepted, {r.request_id.decode(): list(r.codes) for r in rejected}


def _expected_screening(view: Any, d: FileDay) -> Expected:
    """The first orders file screened with no holdings (a redemption or share change of it is
    refused SHARES_EXCEED_HOLDING, never on the purchase rules); the later file against the shares
    the first customer's confirmed subscription left."""
    files = {d.orders_file: _screened(view, d, d.orders, {})}
    if d.later:
        sent = {o for v in files[d.orders_file][0].values() for o in v}
        shares = HELD_SHARES if d.held in sent else 0
        files[d.later_file] = _screened(view, d, d.later, {d.later[0].customer_id: shares})
    agreed = sum(1 for r in _rules(view, d)[: len(d.products)] if _in_force(view, r))
    sent = {o for ok, _ in files.values() for v in ok.values() for o in v}
    issuer_refused = {
        o.order_id: qualification.ABOVE_MAX_AMOUNT
        for o in d.orders
        if o.order_id in sent
        and o.kind == "subscription"
        and d.products[o.product].get("max_amount") is not None
        and o.amount > int(d.products[o.product]["max_amount"])
    }
    return Expected(files, agreed, issuer_refused)


def checks(view: Any) -> LineResult:
    """The day's outcome recomputed from its files, read from the chain and the outboxes."""
    d = _day(view)
    result = LineResult(line="confirmations")
    a = _confirmation_checks(view, d, result)
    fixed = _fixed_checks(view, d, result)
    b = _reconciliation_checks(view, d, result)
    result.checks.update(a | fixed | b)
    return result


def _events(view: Any, contract: str, name: str) -> list:
    c = view.suite[contract]
    return [e.args for e in c.events.get_sequence(view.suite.block, event_type=name)]


def _confirmation_checks(view: Any, d: FileDay, result: LineResult) -> dict[str, bool]:
    """Registrations, screening, packets confirmed (or refused by the issuers) and anchored."""
    expected = _expected_screening(view, d)
    regs = _registrations(view, d.sales_bank)
    kyc = {c.customer_id: c.kyc_ok for c in d.customers}
    decided = _events(view, "ConfirmationAnchor", "RegistrationDecided")
    screenings = {name: _screening(view, d, name) or {} for name in expected.files}
    refused = {r["order_id"]: r for s in screenings.values() for r in s.get("refused", [])}
    files = _confirmed(view, d.sales_bank)
    records = [r for f in files for r in f.get("records", [])]
    bank = _addresses(view, d)[d.sales_bank]
    anchor = view.suite["ConfirmationAnchor"]
    anchored = all(int(anchor.anchorOf(bank, f["root"])[2]) == len(f["records"]) for f in files)
    by_issuer = {r["order_id"]: r["reason"] for r in records if r.get("status") == "refused"}
    result.counts.update(
        {
            "registrations": len(regs),
            "orders": len(d.orders) + len(d.later),
            "rejected": len(refused),
            "packets": len(files),
            "confirmed": sum(1 for r in records if r.get("status") == "confirmed"),
            "refused_by_issuers": len(by_issuer),
        }
    )
    result.metrics.update(
        {
            "rules_agreed": f"{expected.agreed}/{len(d.products)}",
            "rejection_reasons": sorted({c for r in refused.values() for c in r["codes"]}),
            "issuer_refusal_reasons": sorted(set(by_issuer.values())),
            "roots": {f["issuer"]: f["root"] for f in files},
        }
    )
    screened = "orders screened as the rules agreed on chain say"
    n_second = len(d.second_customers)
    out = {
        "every product's rules approved by both parties and enacted": expected.agreed
        == len(d.products)
        and len(_json_files(view.outbox(d.sales_bank) / "product-rules")) == len(d.products),
        "registrations decided on chain as the bank's KYC says": len(regs) == d.registrations
        and len(decided) == d.registrations + n_second
        and all((r["status"] == "accepted") == kyc[r["customer_id"]] for r in regs),
        screened: all(
            screenings[name].get("sent") == sum(len(v) for v in ok.values())
            and {r["order_id"]: r["codes"] for r in screenings[name].get("refused", [])} == no
            for name, (ok, no) in expected.files.items()
        ),
        "every rejection has a reason": all(r.get("reason") for r in refused.values()),
        "every issuer refusal carries its reason": by_issuer == expected.issuer_refused,
    }
    if expected.confirmed or files:  # nothing to confirm: no check that would verify nothing
        out |= {
            "one packet per issuer with orders": sorted(f["issuer"] for f in files)
            == expected.packet_issuers,
            "every confirmation verified and anchored": len(records) == expected.confirmed
            and sorted(r["order_id"] for r in records)
            == sorted(o for v in expected.accepted.values() for o in v)
            and anchored,
        }
    return out


def _fixed_checks(view: Any, d: FileDay, result: LineResult) -> dict[str, bool]:
    """The day's fixed cases: a redemption within the holding confirmed, an order above the
    product's maximum confirmed as refused with its reason, two banks on one product (each its
    own terms, the second bank's order confirmed and anchored under its own root)."""
    out: dict[str, bool] = {}
    redeemed = [_record_of(view, d.sales_bank, o.order_id) for o in d.later]
    result.counts["redemptions_confirmed"] = sum(
        1 for r in redeemed if r and r.get("status") == "confirmed"
    )
    if d.later:
        out["a redemption within the holding confirmed"] = result.counts[
            "redemptions_confirmed"
        ] == len(d.later)
    if d.too_big:
        r = _record_of(view, d.sales_bank, d.too_big) or {}
        out["an order above the product maximum confirmed as refused, with its reason"] = (
            r.get("status") == "refused" and r.get("reason") == qualification.ABOVE_MAX_AMOUNT
        )
    result.counts["banks_on_one_product"] = 1 + bool(d.second_bank)
    if not d.second_bank:
        return out
    addresses = _addresses(view, d)
    registry, anchor = view.suite.registry, view.suite["ConfirmationAnchor"]
    pid = code32(d.first_product)
    banks = (addresses[d.sales_bank], addresses[d.second_bank])
    terms = [qualification.terms_id(b, pid) for b in banks]
    files = _confirmed(view, d.second_bank)
    records = [r for f in files for r in f.get("records", [])]
    bank2 = addresses[d.second_bank]
    result.counts["second_bank_confirmed"] = sum(
        1 for r in records if r.get("status") == "confirmed"
    )
    out |= {
        "two banks hold their own terms for one product": terms[0] != terms[1]
        and all(str(registry.getTerms(t)[0]).lower() == b.lower() for t, b in zip(terms, banks))
        and all(_in_force(view, r) for r in _rules(view, d)),
        "the second bank's order confirmed and anchored under its root": sorted(
            r["order_id"] for r in records if r.get("status") == "confirmed"
        )
        == sorted(o.order_id for o in d.second_orders)
        and all(int(anchor.anchorOf(bank2, f["root"])[2]) == len(f["records"]) for f in files),
    }
    return out


def _reconciliation_checks(view: Any, d: FileDay, result: LineResult) -> dict[str, bool]:
    """The day reconciled at the reconciler's cut-off, its breaks found, recorded, sent to both."""
    day = _recon_day(view)
    addresses = _addresses(view, d)
    recon = view.suite["Reconciliation"]
    key = recon.dayKey(addresses[d.bank], addresses[d.finance_company], day)
    got = recon.getDay(key)
    mine = [r for r in _results(view, d.reconciler) if int(r.get("day", -1)) == day]
    theirs = {
        i: [r for r in _results(view, i) if int(r.get("day", -1)) == day]
        for i in (d.bank, d.finance_company)
    }
    found: dict[str, int] = {}
    for ev in _events(view, "Reconciliation", "BreakRecorded"):
        if bytes(ev["dayKey"]) == bytes(key):
            cause = CAUSES.get(int(ev["cause"]), str(ev["cause"]))
            found[cause] = found.get(cause, 0) + 1
    total = d.total
    n_breaks = sum(INJECTED.values())
    settled = [
        e for e in _events(view, "Reconciliation", "DaySettled") if bytes(e["dayKey"]) == bytes(key)
    ]
    paid = _paid(view, d) or {}
    committed = [
        e
        for e in _events(view, "Reconciliation", "BilateralCommitted")
        if bytes(e["dayKey"]) == bytes(key)
    ]
    result.counts.update(
        {
            "countersigned_batches": len(committed),
            "payments": len(d.payments),
            "breaks_found": sum(found.values()),
            "breaks_corrected": int(got["breaksRecorded"]),
        }
    )
    result.metrics.update(
        {
            "breaks": found,
            "reconciled_day": days.day_date(day),
            "payment": int(settled[0]["amount"]) if settled else 0,
        }
    )
    return {
        # commitBilateral takes a batch only with the finance company's EIP-712 countersignature
        "bilateral record countersigned by the finance company": bool(committed)
        and all(
            str(e["financeCompany"]).lower() == addresses[d.finance_company].lower()
            for e in committed
        )
        and sum(int(e["count"]) for e in committed) == len(d.payments)
        and sum(int(e["total"]) for e in committed) == total,
        "every injected break found": found == INJECTED,
        "breaks recorded on chain": bool(got["reconciled"])
        and int(got["breaks"]) == int(got["breaksRecorded"]) == n_breaks,
        "committed total is the bank's credits": int(got["committedTotal"]) == total
        and bool(mine)
        and int(mine[0].get("corrected_total", -1)) == total,
        "result sent to both": all(
            len(v) == 1 and len(v[0].get("breaks", [])) == n_breaks for v in theirs.values()
        ),
        "day paid once on chain: the committed total": bool(got["settled"])
        and len(settled) == 1
        and int(settled[0]["amount"]) == total
        and paid.get("amount") == total,
    }
