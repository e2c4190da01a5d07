"""One day of the confirmations line.

A. The sales bank registers a few customers with each issuer, screens the period's orders against
   the jointly agreed rules, sends one packet per issuer, collects EIP-712 confirmations and anchors
   each packet's root. B. The bank's payment client commits the day's payments; next day the
   reconciler reconciles them (with injected breaks of every class), records the result and breaks
   on chain, and the finance company pays the bank the exact corrected credit total.
"""

from __future__ import annotations

import os
import tempfile
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
    """Open the line's channels not open yet: every request in one phase, then every opening."""
    missing = [(a, b) for a, b in pairs if not ctx.suite.registry.channelOpen(a.address, b.address)]
    for a, b in missing:
        agreement = f"confirmations cooperation agreement {a.name} / {b.name}"
        pipe.piped(a).request_channel(b.address, agreement)
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
    pairs = [*((sales, i) for i in issuers), (bank_i, fc_i), (rec_i, bank_i), (rec_i, fc_i)]
    _ensure_channels(ctx, pipe, pairs)

    def mk(cls: Any, inst: Institution) -> Any:
        """A participant whose operator key is registered before the next is built: two roles of
        one institution share its store and key, and the second asks the chain if it is known."""
        participant = pipe.piped(cls.build(pipe.piped(inst), ctx.suite, net, workdir))
        pipe.wait()
        return participant

    bank = mk(line.SalesBank, sales)
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
        iss=iss,
        client=client,
        fc=fc,
        rec=rec,
    )


def _confirmations(ctx: DayContext, pipe: Any, cast: SimpleNamespace) -> tuple[int, tuple]:
    """A. confirmations: products agreed, customers registered, orders screened, confirmed,
    anchored per issuer, and proved off and on chain."""
    rng, sales, issuers = ctx.rng, cast.sales, cast.issuers
    bank, iss = cast.bank, cast.iss
    products = {}
    for k, i in enumerate(issuers):
        pid = doc_hash(f"WM product of {i.name}")
        products[pid] = qualification.QualificationRules(
            pid, i.address, product_risk=2 + k % 3, min_age=18
        )
    _agree(ctx, pipe, list(products.values()), sales, {i.address: i for i in issuers})
    bank.rules.update(products)
    customers = []
    for c in range(ctx.size.get("customers", 6)):
        inv = qualification.Investor(os.urandom(32), rng.randint(16, 70), rng.randint(1, 5))
        for i in issuers:
            bank.register_user(i.address, inv, {"customer": c, "kyc_ok": True})
        customers.append(inv)
    pipe.wait()
    for p in iss:
        p.handle_registrations()
    pipe.wait()
    bank.collect_registration_results()
    now = _chain_time()
    period = days.day_of(now)  # the order period is the business day
    pids = list(products)
    orders = []
    for n in range(ctx.size.get("orders", 24)):
        pid = pids[rng.randrange(len(pids))]
        inv = customers[rng.randrange(len(customers))]
        amount = rng.randint(1, 500) * 1_000
        orders.append(
            eip712.Request(
                os.urandom(32),
                sales.address,
                products[pid].issuer,
                pid,
                rng.choice([eip712.SUBSCRIPTION, eip712.REDEMPTION, eip712.SHARE_CHANGE]),
                amount,
                amount // 10,
                inv.commitment,
                period,
            )
        )
    accepted, rejected = bank.screen(orders)
    packets = bank.packets(accepted)
    bank.send_packets(period, packets)
    for p in iss:
        p.confirm_packets(now)
    confirmed = bank.collect_confirmations()
    roots = {issuer: bank.anchor_packet(issuer, items) for issuer, items in confirmed.items()}
    pipe.wait()
    provable = all(merkle.verify(*bank.proof_of(q.requestId)) for q in accepted)
    sample = accepted[: min(3, len(accepted))]
    on_chain = all(
        ctx.suite["ConfirmationAnchor"].verifyRecord(
            sales.address, *_flat(bank.proof_of(q.requestId))
        )
        for q in sample
    )
    return now, (orders, accepted, rejected, packets, confirmed, roots, provable, on_chain)


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
    client.record_day(fc_i.address, rec_i.address, day, pay, batch=max(1, n_pay // 2))
    fc.collect_debits()  # the finance company countersigns each batch
    client.commit_countersigned()
    pipe.wait()
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
    return day, pay, n_pay, day_result, client_results, paid, d


def _report(result: LineResult, c: SimpleNamespace, a: tuple, b: tuple) -> None:
    """The day's counts, metrics and checks, from what `_confirmations` (a) and
    `_reconciliation` (b) returned."""
    orders, accepted, rejected, packets, confirmed, roots, provable, on_chain = a
    day, pay, n_pay, day_result, client_results, paid, d = b
    fc = c.fc
    anchored = sum(len(v) for v in confirmed.values())
    anchor_gas = sum(int(t.gas_used) for t in c.bank.receipts if "PacketAnchored" in t.events)
    result.counts.update(
        {
            "orders": len(orders),
            "rejected": len(rejected),
            "packets": len(packets),
            "confirmed": anchored,
            "payments": n_pay,
            "breaks_found": len(day_result.breaks),
            "breaks_corrected": int(d[7]),
        }
    )
    result.metrics.update(
        {
            "anchor_gas_per_record": round(anchor_gas / max(anchored, 1), 1),
            "rejection_reasons": sorted({c for r in rejected for c in r.codes}),
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
            "every confirmation verified and anchored": anchored == len(accepted),
            "every record provable off chain": provable,
            "sample records provable on chain": on_chain,
            "every break class found": causes == set(CAUSES),
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
