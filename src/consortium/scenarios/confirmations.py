"""One day of the confirmations line.

A. The sales bank registers a few customers with each issuer, screens the period's orders against
   the jointly agreed rules of their business type (purchase rules for subscriptions, the holding
   for redemptions and share changes), sends one packet per issuer; each issuer checks every order
   against its books (registered, open, limits, quota, cut-off) and confirms or refuses it, the
   reason in the signed confirmation; the bank collects them and anchors each packet's root. A
   second sales bank, when the consortium has one, agrees its own terms for the first issuer's
   product and sends an order of its own (two banks on one product).
B. The bank's payment client commits the day's payments; next day the
   reconciler reconciles them (with injected breaks of every class), records the result and breaks
   on chain, and the finance company pays the bank the exact corrected credit total.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from consortium.domain import days, eip712, merkle, qualification
from consortium.domain.hashing import doc_hash
from consortium.domain.reconciliation import BILATERAL, CAUSES
from consortium.roles import confirmations as line
from consortium.roles.membership import Institution
from consortium.scenarios import DayContext, LineResult
from consortium.scenarios.confirmations_files import (  # noqa: F401  the multi-process day's plug-in
    PHASES,
    ROLES,
    agent_settings,
    checks,
    done,
    govern,
    input_files,
    ready,
)

# breaks injected into B: missing debit, missing credit, amount, duplicate, unknown id;
# + 1 tampered copy
INJECTED = 5


def _ensure_channels(
    ctx: DayContext, pipe: Any, pairs: list[tuple[Institution, Institution]]
) -> None:
    """Open the line's channels not open yet: every request in one phase, every countersignature
    (the counterparty, the same agreement) in the next, then every opening."""
    missing = [(a, b) for a, b in pairs if not ctx.suite.registry.channelOpen(a.address, b.address)]
    for who, other in ((0, 1), (1, 0)):
        for pair in missing:
            agreement = f"confirmations cooperation agreement {pair[0].name} / {pair[1].name}"
            pipe.piped(pair[who]).request_channel(pair[other].address, agreement)
        pipe.wait()
    for a, b in missing:
        pipe.piped(ctx.manager).open_channel(a.address, b.address)
    pipe.wait()


def _agree(
    ctx: DayContext,
    pipe: Any,
    rules: list[qualification.QualificationRules],
    bank: Institution,
    issuers: dict[str, Institution],
) -> None:
    """Both parties approve each product's rules not agreed yet (one phase); the manager enacts."""
    agreed = {
        r.terms_id: bytes.fromhex(str(ctx.suite.registry.getTerms(r.terms_id)[2])[2:])
        for r in rules
    }
    todo = [r for r in rules if agreed[r.terms_id] != r.terms_hash()]
    for r in todo:
        for party in (bank, issuers[r.issuer]):
            pipe.piped(party).approve_amendment(r.terms_id, bank.address, r.issuer, r.terms_hash())
    pipe.wait()
    for r in todo:
        pipe.piped(ctx.manager).enact(r.terms_id, bank.address, r.issuer, r.terms_hash())
    pipe.wait()


def agents(ctx: DayContext) -> list:
    """The line's role objects that send keyed batches (each with its outbox), over their stores."""
    workdir = Path(ctx.workdir or tempfile.mkdtemp(prefix="confirmations-")) / "confirmations"
    net, m = line.Network.local(workdir), ctx.members
    cast = [
        (line.SalesBank, m.one("SALES_BANK")),
        (line.PaymentClient, m.one("BANK")),
        (line.FinanceCompany, m.one("FINANCE_COMPANY")),
        (line.Reconciler, m.one("RECONCILER")),
    ]
    return [cls.build(inst, ctx.suite, net, workdir) for cls, inst in cast]


def run_day(ctx: DayContext) -> LineResult:
    """The day; each phase's independent transactions go out through the line's pipe together."""
    result = LineResult("confirmations")
    pipe = ctx.tx_pipe()
    cast = _cast(ctx, pipe)
    now, a = _confirmations(ctx, pipe, cast)
    b = _reconciliation(ctx, pipe, cast, now)
    result.record(*pipe.collected)
    _report(result, cast, a, b)
    return result


def _cast(ctx: DayContext, pipe: Any) -> SimpleNamespace:
    """The line's members, channels and participants (operator keys registered one by one)."""
    m = ctx.members
    sales, issuers = m.one("SALES_BANK"), m.with_role("PRODUCT_ISSUER")
    bank_i, fc_i, rec_i = m.one("BANK"), m.one("FINANCE_COMPANY"), m.one("RECONCILER")
    workdir = Path(ctx.workdir or tempfile.mkdtemp(prefix="confirmations-")) / "confirmations"
    net = line.Network.local(workdir)
    second = m.with_role("SALES_BANK")[1:2]  # another bank distributing the first product
    pairs = [*((sales, i) for i in issuers), (bank_i, fc_i), (rec_i, bank_i), (rec_i, fc_i)]
    pairs += [(b, issuers[0]) for b in second]
    _ensure_channels(ctx, pipe, pairs)

    def mk(cls: Any, inst: Institution) -> Any:
        """A participant whose operator key is registered before the next is built: two roles of
        one institution share its store and key, and the second asks the chain if it is known."""
        participant = pipe.piped(cls.build(pipe.piped(inst), ctx.suite, net, workdir))
        pipe.wait()
        return participant

    bank = mk(line.SalesBank, sales)
    bank2 = [mk(line.SalesBank, b) for b in second]
    iss = [mk(line.ProductIssuer, i) for i in issuers]
    client, fc, rec = (
        mk(line.PaymentClient, bank_i),
        mk(line.FinanceCompany, fc_i),
        mk(line.Reconciler, rec_i),
    )
    return SimpleNamespace(
        sales=sales,
        issuers=issuers,
        bank_i=bank_i,
        fc_i=fc_i,
        rec_i=rec_i,
        bank=bank,
        second=second,
        bank2=bank2,
        iss=iss,
        client=client,
        fc=fc,
        rec=rec,
    )


# every customer holds this many shares of every product (positions carried from earlier days)
HELD = 1_000
MAX_SUBSCRIPTION = 400_000  # the issuers' product limit: a larger subscription is refused


def _products(ctx: DayContext, pipe: Any, cast: SimpleNamespace) -> dict[bytes, Any]:
    """One product per issuer: the terms the sales bank agrees with it, the issuer's own books."""
    products = {}
    for k, (i, p) in enumerate(zip(cast.issuers, cast.iss, strict=True)):
        pid = doc_hash(f"WM product of {i.name}")
        products[pid] = qualification.QualificationRules(
            pid, i.address, product_risk=2 + k % 3, min_age=18, sales_bank=cast.sales.address
        )
        p.book.products[pid] = qualification.Product(pid, max_amount=MAX_SUBSCRIPTION)
    _agree(ctx, pipe, list(products.values()), cast.sales, {i.address: i for i in cast.issuers})
    cast.bank.rules.update(products)
    return products


def _customers(ctx: DayContext, pipe: Any, cast: SimpleNamespace, pids: list[bytes]) -> list:
    """Customers registered with every issuer (the first one qualifies for every product), each
    holding HELD shares of every product on both sides' books."""
    rng, bank = ctx.rng, cast.bank
    customers = []
    for c in range(ctx.size.get("customers", 6)):
        age, risk = (40, 5) if c == 0 else (rng.randint(16, 70), rng.randint(1, 5))
        inv = qualification.Investor(os.urandom(32), age, risk, holdings=dict.fromkeys(pids, HELD))
        for i in cast.issuers:
            bank.register_user(i.address, inv, {"customer": c, "kyc_ok": True})
        customers.append(inv)
    pipe.wait()
    for p in cast.iss:
        p.handle_registrations()
        for inv in customers:
            p.book.holdings.update({(inv.commitment, pid): HELD for pid in p.book.products})
    pipe.wait()
    bank.collect_registration_results()
    return customers


def _confirmations(ctx: DayContext, pipe: Any, cast: SimpleNamespace) -> tuple[int, tuple]:
    """A. confirmations: products agreed, customers registered, orders screened, confirmed or
    refused by the issuers, anchored per issuer, and proved off and on chain."""
    rng, sales = ctx.rng, cast.sales
    bank, iss = cast.bank, cast.iss
    products = _products(ctx, pipe, cast)
    pids = list(products)
    customers = _customers(ctx, pipe, cast, pids)
    now = _chain_time()
    period = days.day_of(now)  # the order period is the business day

    def order(pid: bytes, inv: Any, kind: int, amount: int, shares: int) -> eip712.Request:
        issuer = products[pid].issuer
        args = (pid, kind, amount, shares, inv.commitment, period)
        return eip712.Request(os.urandom(32), sales.address, issuer, *args)

    orders = []
    for _ in range(ctx.size.get("orders", 24)):
        pid = pids[rng.randrange(len(pids))]
        amount = rng.randint(1, 500) * 1_000
        kind = rng.choice([eip712.SUBSCRIPTION, eip712.REDEMPTION, eip712.SHARE_CHANGE])
        inv = customers[rng.randrange(len(customers))]
        orders.append(order(pid, inv, kind, amount, amount // 1_000))
    # the day's fixed cases: a redemption within the holding (passes), a subscription above the
    # issuer's limit by a customer qualified for it (sent, refused by the issuer with its reason)
    redemption = order(pids[0], customers[1 % len(customers)], eip712.REDEMPTION, 0, HELD // 2)
    too_big = order(pids[0], customers[0], eip712.SUBSCRIPTION, MAX_SUBSCRIPTION + 1_000, 401)
    orders += [redemption, too_big]
    accepted, rejected = bank.screen(orders)
    packets = bank.packets(accepted)
    bank.send_packets(period, packets)
    for p in iss:
        p.confirm_packets(now)
    confirmed = bank.collect_confirmations()
    roots = {issuer: bank.anchor_packet(issuer, items) for issuer, items in confirmed.items()}
    pipe.wait()
    provable = all(merkle.verify(*bank.proof_of(q.requestId)) for q in accepted)
    sample = [*accepted[: min(3, len(accepted))], too_big]
    on_chain = all(
        ctx.suite["ConfirmationAnchor"].verifyRecord(
            sales.address, *_flat(bank.proof_of(q.requestId))
        )
        for q in sample
    )
    answers = {q.requestId: c for items in confirmed.values() for q, c, _ in items}
    second, n_second = _second_bank(ctx, pipe, cast, products[pids[0]], period, now)
    fixed = {
        "a redemption within the holding confirmed": _status(answers, redemption) == (1, None),
        "a subscription above the limit confirmed as refused, with its reason": _status(
            answers, too_big
        )
        == (eip712.REFUSED, qualification.ABOVE_MAX_AMOUNT),
        **second,
    }
    return now, (
        orders,
        accepted,
        rejected,
        packets,
        confirmed,
        roots,
        provable,
        on_chain,
        fixed,
        n_second,
    )


def _status(answers: dict[bytes, Any], q: eip712.Request) -> tuple[int, str | None] | None:
    c = answers.get(q.requestId)
    return None if c is None else (c.status, qualification.reason_of(c.reason))


def _second_bank(
    ctx: DayContext, pipe: Any, cast: SimpleNamespace, first: Any, period: int, now: int
) -> tuple[dict[str, bool], int]:
    """Two banks on one product: the second bank agrees its own terms for the first issuer's
    product (the first bank's stay as they are), registers a customer and has an order confirmed
    and anchored under its own root. Its checks and its orders confirmed; nothing when the
    consortium has one sales bank."""
    if not cast.bank2:
        return {}, 0
    inst, bank2, issuer = cast.second[0], cast.bank2[0], cast.iss[0]
    rules = replace(first, sales_bank=inst.address, product_risk=1)
    _agree(ctx, pipe, [rules], inst, {cast.issuers[0].address: cast.issuers[0]})
    bank2.rules[rules.product_id] = rules
    inv = qualification.Investor(os.urandom(32), 30, 1)
    bank2.register_user(issuer.address, inv, {"customer": "second bank's", "kyc_ok": True})
    pipe.wait()
    issuer.handle_registrations()
    pipe.wait()
    bank2.collect_registration_results()
    q = eip712.Request(
        os.urandom(32), inst.address, issuer.address, first.product_id, 1, 5_000, 5,
        inv.commitment, period,
    )  # fmt: skip
    accepted, _ = bank2.screen([q])
    bank2.send_packets(period, bank2.packets(accepted))
    issuer.confirm_packets(now)
    got = bank2.collect_confirmations().get(issuer.address.lower(), [])
    root = bank2.anchor_packet(issuer.address, got) if got else None
    pipe.wait()
    registry = ctx.suite.registry
    n_confirmed = sum(1 for _, c, _ in got if c.status == eip712.CONFIRMED)
    return {
        "two banks hold their own terms for one product": first.terms_id != rules.terms_id
        and str(registry.getTerms(first.terms_id)[0]) == cast.sales.address
        and str(registry.getTerms(rules.terms_id)[0]) == inst.address,
        "the second bank's order confirmed and anchored under its root": len(got) == 1
        and got[0][1].status == eip712.CONFIRMED
        and int(ctx.suite["ConfirmationAnchor"].anchorOf(inst.address, root)[2]) == 1,
    }, n_confirmed


def _reconciliation(ctx: DayContext, pipe: Any, c: SimpleNamespace, now: int) -> tuple:
    """B. reconciliation: a day's payments recorded by both sides, breaks planted, reconciled,
    recorded on chain, funded and settled."""
    rng, bank_i, fc_i, rec_i = ctx.rng, c.bank_i, c.fc_i, c.rec_i
    client, fc, rec = c.client, c.fc, c.rec
    recon = ctx.suite["Reconciliation"]
    zone = int(recon.businessUtcOffset())  # the business day is the institutions' local one
    day = days.last_closable_day(now, int(recon.reconcileOffset()), zone)
    n_pay = ctx.size.get("payments", 60)
    base = rng.randrange(1, 1 << 40)
    pay = pd.DataFrame(
        {
            "id": np.arange(base, base + n_pay, dtype=np.int64),
            "amount": [rng.randint(100, 1_000_000) for _ in range(n_pay)],
            "paid_at": [
                days.business_day_start(day, zone) + rng.randrange(days.SECONDS_PER_DAY)
                for _ in range(n_pay)
            ],
        }
    )
    since = int(_web3().eth.block_number) + 1
    client.record_day(fc_i.address, rec_i.address, day, pay, batch=max(1, n_pay // 2))
    fc.collect_debits()  # the finance company countersigns each batch
    client.commit_countersigned()
    pipe.wait()
    key = recon.dayKey(bank_i.address, fc_i.address, day)
    committed = [  # commitBilateral takes a batch only with the finance company's countersignature
        e["args"]
        for e in recon.events.get_sequence(since, event_type="BilateralCommitted") or []
        if bytes(e["args"]["dayKey"]) == bytes(key)
    ]
    countersigned = (
        len(committed),
        bool(committed)
        and all(str(e["financeCompany"]).lower() == fc_i.address.lower() for e in committed)
        and sum(int(e["count"]) for e in committed) == n_pay
        and sum(int(e["total"]) for e in committed) == int(pay.amount.sum()),
    )
    got = rec.collect()
    bil = [b for b in got.get("bilateral", []) if b["day"] == day]
    debit, credit = fc.store.details("debit", day), client.store.details("credit", day)
    ids = pay.id.tolist()
    debit = debit[debit.id != ids[0]]
    credit = credit[credit.id != ids[1]]
    credit.loc[credit.id == ids[2], "amount"] += 7
    debit = pd.concat(
        [
            debit,
            debit[debit.id == ids[3]],
            pd.DataFrame({"id": [-1], "amount": [1], "counterparty": [""], "paid_at": [0]}),
        ],
        ignore_index=True,
    )
    row = bil[0]["rows"][4]
    bil[0]["rows"][4] = [row[0], row[1] + 1, row[2]]  # the reconciler's copy altered in transit
    day_result = rec.reconcile_day(bank_i.address, fc_i.address, day, bil, debit, credit)
    token = pipe.bind(_token(ctx))
    issuer_inst = _cash_issuer(ctx, pipe, token)
    rec.record(bank_i.address, fc_i.address, day, day_result)
    token.issue(
        fc_i.address,
        day_result.corrected_total,
        doc_hash(f"funding {day}"),
        {"from": issuer_inst.account},
    )
    pipe.wait()
    client_results = client.endpoint.receive(["reconciliation-result"])
    fc.collect_results()
    before = int(token.balanceOf(bank_i.address))
    fc.settle(bank_i.address, day, token)
    pipe.wait()
    paid = int(token.balanceOf(bank_i.address)) - before
    d = recon.getDay(recon.dayKey(bank_i.address, fc_i.address, day))
    return day, pay, n_pay, day_result, client_results, paid, d, countersigned


def _report(result: LineResult, c: SimpleNamespace, a: tuple, b: tuple) -> None:
    """The day's counts, metrics and checks, from what `_confirmations` (a) and
    `_reconciliation` (b) returned."""
    orders, accepted, rejected, packets, confirmed, roots, provable, on_chain, fixed, n_second = a
    day, pay, n_pay, day_result, client_results, paid, d, countersigned = b
    fc = c.fc
    anchored = sum(len(v) for v in confirmed.values())
    anchor_gas = sum(int(t.gas_used) for t in c.bank.receipts if "PacketAnchored" in t.events)
    refused = [x for items in confirmed.values() for _, x, _ in items if x.status == eip712.REFUSED]
    result.counts.update(
        {
            "orders": len(orders),
            "rejected": len(rejected),
            "packets": len(packets),
            "confirmed": anchored,
            "refused_by_issuers": len(refused),
            "redemptions_confirmed": sum(
                1
                for items in confirmed.values()
                for q, x, _ in items
                if q.kind == eip712.REDEMPTION and x.status == eip712.CONFIRMED
            ),
            "banks_on_one_product": 1 + len(c.bank2),
            "second_bank_confirmed": n_second,
            "countersigned_batches": countersigned[0],
            "payments": n_pay,
            "breaks_found": len(day_result.breaks),
            "breaks_corrected": int(d[7]),
        }
    )
    result.metrics.update(
        {
            "anchor_gas_per_record": round(anchor_gas / max(anchored, 1), 1),
            "rejection_reasons": sorted({c for r in rejected for c in r.codes}),
            "issuer_refusal_reasons": sorted({qualification.reason_of(x.reason) for x in refused}),
            "breaks": day_result.counts_by_cause(),
            "payment": paid,
            "roots": {k: "0x" + v.hex() for k, v in roots.items()},
        }
    )
    causes = set(day_result.breaks.cause.tolist())
    result.checks.update(
        {
            "one packet per issuer with orders": set(packets)
            == {q.issuer.lower() for q in accepted},
            "every rejection has a reason": all(r.reason for r in rejected),
            "every issuer refusal carries its reason": all(x.reason != bytes(32) for x in refused),
            **fixed,
            "every confirmation verified and anchored": anchored == len(accepted),
            "every record provable off chain": provable,
            "sample records provable on chain": on_chain,
            "every break class found": causes == set(CAUSES),
            "bilateral record countersigned by the finance company": countersigned[1],
            "commitment break on the bilateral side": bool(
                (day_result.breaks.side == BILATERAL).any()
            ),
            "breaks recorded on chain": int(d[7]) == len(day_result.breaks),
            "payment equals committed total": paid == int(d[2]) == int(pay.amount.sum()),
            "result sent to both": len(client_results) == 1
            and fc.store.get("reconciliation", str(day)) is not None,
        }
    )


def _flat(proof: tuple[bytes, tuple, list[bytes]]) -> tuple[Any, ...]:
    root, rec, p = proof
    return (root, *rec, p)


def _web3() -> Any:
    from consortium import chain

    return chain.web3()


def _chain_time() -> int:
    """Timestamp of the latest block (the chain's clock decides when a day may be reconciled)."""
    from consortium import chain

    return int(chain.web3().eth.get_block("latest")["timestamp"])


def _token(ctx: DayContext) -> Any:
    """The deposit token the Reconciliation contract pays in (the suite's CNY token when shared)."""
    from consortium import chain

    return chain.at("DepositToken", ctx.suite["Reconciliation"].settlementToken())


def _cash_issuer(ctx: DayContext, pipe: Any, token: Any) -> Institution:
    """The member that issues `token` (DepositToken.issuer()), to fund the finance company; it is
    granted CASH_ISSUER if the consortium file gave it none (the founder issues it when the file
    names no CASH_ISSUER: see consortium.bootstrap.token_issuers)."""
    address = str(token.issuer())
    candidates = [*ctx.members.by_name.values(), ctx.manager]
    found = [i for i in candidates if i.address.lower() == address.lower()]
    if not found:
        raise LookupError(
            f"the deposit token's issuer {address} is no member of the consortium file: deploy the "
            "suite with the issuers of consortium.bootstrap.token_issuers"
        )
    if not ctx.suite.registry.hasRole(address, line_role("CASH_ISSUER")):
        pipe.bind(ctx.suite.registry).grantRole(
            address, line_role("CASH_ISSUER"), {"from": ctx.manager.account}
        )
        pipe.wait()
    return found[0]


def line_role(name: str) -> bytes:
    from consortium.domain.roles import ROLES as ROLE_IDS

    return ROLE_IDS[name]
