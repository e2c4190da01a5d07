"""One business day of supply-chain finance bills.

Core enterprises issue bills to tier-1 suppliers; each tier-1 splits its bill to two tier-2
suppliers; one of them sells its part to a factor. Every step is reviewed by the counterparty and
audited. On a local chain the day then moves the clock to the (short) maturity and the debtors pay
the holders of record; on a live network the bills stay outstanding and the redemption is skipped.

Sizes (ctx.size): `bills` (default 2), `bill_maturity_days` (default 7), `bill_redeem` (default 1:
time-travel to maturity and redeem on local chains; 0 leaves the clock alone for later lines).
"""

from __future__ import annotations

from typing import Any

from consortium.domain.bills import BillStatus, proceeds
from consortium.roles.bills import BillAuditor, BillClient, BillFactor, CashIssuer
from consortium.scenarios import DayContext, LineResult

DAY = 86_400
LOCAL_CHAINS = ("development", "ganache-local")


def _clock() -> Any:
    from consortium import chain

    return chain


def run_day(ctx: DayContext) -> LineResult:
    """Issue, split, finance and (on local chains) redeem; check balances, lineage and payments."""
    result = LineResult(line="bills")
    bills = ctx.suite["BillToken"]
    clients, auditor, factor = _roles(ctx)
    if len(clients) < 4:
        raise LookupError(
            f"bills day needs 4 SUPPLY_CHAIN_CLIENT members (core, tier-1, two tier-2), "
            f"found {len(clients)}: add them to config/consortium.yaml"
        )
    cash = _cash_contract(ctx, bills)
    issuers = ctx.members.with_role("CASH_ISSUER")
    on_chain_cash = cash is not None and bool(issuers)
    n_bills = ctx.size.get("bills", 2)
    maturity_days = ctx.size.get("bill_maturity_days", 7)

    if on_chain_cash:
        issuer = CashIssuer(issuers[0], cash, store=ctx.store(issuers[0]))
        if not cash.isSettlementAgent(bills):
            result.record(issuer.allow_bills(bills))
        result.record(issuer.fund(factor.address, 10**13, "factor: cash for bill financing"))

    now = int(_clock().web3().eth.get_block("latest").timestamp)
    maturity = now + maturity_days * DAY
    holdings: list[tuple[int, int, BillClient | BillFactor, int]] = (
        []
    )  # (bill, node, holder, amount)
    faces: dict[int, tuple[BillClient, int]] = {}
    paid_ok = True
    financed = proceeds_total = 0
    for _ in range(n_bills):
        core, tier1, t2a, t2b = ctx.rng.sample(clients, 4)
        face = ctx.rng.randrange(100_000_00, 5_000_000_00)
        bill_id, tx = core.request_issue(tier1.address, face, maturity, f"po {ctx.rng.random()}")
        result.record(
            tx,
            tier1.review(bill_id, True, "goods received"),
            auditor.audit(bill_id, True, "issue audit"),
        )
        faces[bill_id] = (core, face)
        part_a = face * ctx.rng.randrange(20, 50) // 100
        part_b = face * ctx.rng.randrange(20, 50) // 100
        nodes = {}
        for receiver, part in ((t2a, part_a), (t2b, part_b)):
            node, tx = tier1.request_transfer(bill_id, receiver.address, part, "sub-contract")
            result.record(
                tx,
                receiver.review(node, True, "accepted"),
                auditor.audit(node, True, "transfer audit"),
            )
            nodes[receiver.address] = node
        holdings += [
            (bill_id, bill_id, tier1, face - part_a - part_b),
            (bill_id, nodes[t2b.address], t2b, part_b),
        ]

        fin, tx = t2a.request_financing(nodes[t2a.address], part_a, "financing request")
        rate = ctx.rng.choice([400, 600, 800])
        quote = factor.quote(fin, rate, f"factoring agreement {fin}")
        result.record(
            tx,
            quote,
            t2a.accept_financing(fin, f"factoring agreement {fin}"),
            auditor.audit(fin, True, "financing audit"),
        )
        due = proceeds(part_a, rate, maturity, int(quote.timestamp))
        before = cash.balanceOf(t2a.address) if on_chain_cash else 0
        result.record(factor.disburse(fin, None if on_chain_cash else f"wire {fin}"))
        if on_chain_cash:
            paid_ok &= cash.balanceOf(t2a.address) == before + due
        holdings.append((bill_id, fin, factor, part_a))
        financed += part_a
        proceeds_total += due

    result.checks["balances exact"] = all(
        int(bills.balanceOf(h.address, node)) == amt for _, node, h, amt in holdings
    ) and all(_conserved(bills, b, face, holdings) for b, (_, face) in faces.items())
    result.checks["lineage complete"] = all(
        h.lineage(node)[-1] == bill for bill, node, h, _ in holdings
    )
    result.checks["financing paid"] = paid_ok

    redeemed = 0
    local = _clock().network_name() in LOCAL_CHAINS
    if ctx.size.get("bill_redeem", 1) and local:
        clock = _clock().brownie.chain
        clock.sleep(maturity - int(_clock().web3().eth.get_block("latest").timestamp) + 1)
        clock.mine()
        settled = True
        for bill_id, (core, face) in faces.items():
            items = [(node, h.address, amt) for b, node, h, amt in holdings if b == bill_id and amt]
            if on_chain_cash:
                result.record(issuer.fund(core.address, face, f"core cash {bill_id}"))
            before = {a: cash.balanceOf(a) for _, a, _ in items} if on_chain_cash else {}
            result.record(core.redeem(items, None if on_chain_cash else f"maturity wire {bill_id}"))
            if on_chain_cash:
                settled &= all(cash.balanceOf(a) == before[a] + amt for _, a, amt in items)
            settled &= (
                int(bills.bill(bill_id)["status"]) == BillStatus.SETTLED
                and int(bills.outstanding(bill_id)) == 0
            )
            redeemed += face
        result.checks["maturity paid right holders"] = settled

    result.counts = {
        "bills": len(faces),
        "transfers": 2 * len(faces),
        "financings": len(faces),
        "redemptions": len(faces) if redeemed else 0,
    }
    result.metrics = {
        "face_total": sum(f for _, f in faces.values()),
        "financed": financed,
        "proceeds": proceeds_total,
        "redeemed": redeemed,
        "on_chain_cash": on_chain_cash,
        "redeemed_on_chain_clock": bool(redeemed),
    }
    return result


def _roles(ctx: DayContext) -> tuple[list[BillClient], BillAuditor, BillFactor]:
    bills = ctx.suite["BillToken"]
    clients = [
        BillClient(i, bills, store=ctx.store(i))
        for i in ctx.members.with_role("SUPPLY_CHAIN_CLIENT")
    ]
    auditor = ctx.members.one("AUDITOR")
    factor = ctx.members.one("ASSET_MANAGER")
    return (
        clients,
        BillAuditor(auditor, bills, store=ctx.store(auditor)),
        BillFactor(factor, bills, store=ctx.store(factor)),
    )


def agents(ctx: DayContext) -> list:
    """The line's role objects that send keyed batches (each with its outbox), over their stores."""
    out: list[Any] = _roles(ctx)[0]
    cash, issuers = _cash_contract(ctx, ctx.suite["BillToken"]), ctx.members.with_role(
        "CASH_ISSUER"
    )
    if cash is not None and issuers:
        out.append(CashIssuer(issuers[0], cash, store=ctx.store(issuers[0])))
    return out


def _cash_contract(ctx: DayContext, bills: Any) -> Any:
    """The deposit token the bill contract pays in, from the suite (None if it has none)."""
    address = bills.cash()
    if int(address, 16) == 0:
        return None
    for name, contract in getattr(ctx.suite, "contracts", {}).items():
        if name.startswith("DepositToken") and contract.address == address:
            return contract
    return None


def _conserved(bills: Any, bill_id: int, face: int, holdings: list) -> bool:
    """Σ holdings + locked + redeemed = face for one bill, from the chain."""
    held = sum(int(bills.balanceOf(h.address, node)) for b, node, h, _ in holdings if b == bill_id)
    nodes = {node for b, node, _, _ in holdings if b == bill_id}
    locked = sum(int(bills.locked(n)) for n in nodes)
    return held + locked + int(bills.bill(bill_id)["redeemed"]) == face
