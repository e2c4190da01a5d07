"""Gas down the holding chain (HoldingChain.sol) on one deterministic settled cycle.

Two clearing participants (tier 1), a custodian (tier 2) and a local broker (tier 3), every one
keeping investor accounts; 20 executions among 50 investors. Figures: the CSD's openTiers (one
step opened per leg), the largest allocate of a step passing to clients, and the largest step to
investors only (a root, a count and a total, whatever the number of investors).
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

from consortium.bench.settlement import _consortium
from consortium.bootstrap import institution_key
from consortium.deploy import wire_holding_chain
from consortium.domain.hashing import code32
from consortium.roles.holding import HoldingDepository, HoldingParty, chain_of, run_down
from consortium.roles.membership import Institution
from consortium.roles.settlement import Broker
from consortium.scenarios import settlement as day

EXECUTIONS = 20


def bench_holding(proj: Any, accounts: Any, executions: int = EXECUTIONS) -> dict[str, int]:
    """Deploy, settle one cycle, pass it down the chain; returns the named gas figures."""
    registry, suite, cast, manager = _consortium(proj, accounts, 0)
    made = []  # deterministic keys: addresses order the legs and the steps, so the gas repeats
    for role, name in (
        ("BROKER", "participant 1"),
        ("BROKER", "participant 2"),
        ("CUSTODIAN", "custodian"),
        ("BROKER", "local broker"),
    ):
        a = accounts.add(institution_key(EXECUTIONS, f"bench-holding {name}"))
        accounts[0].transfer(a, 10**19, silent=True)
        inst = Institution(name, a, registry, "HK")
        manager.admit(inst, [role], accounts[1].address)
        made.append(inst)
    *firsts, custodian, local = made
    lower = [custodian, local]
    cast.participants = [Broker(i, suite["SettlementEngine"], None, {}) for i in firsts]
    cast.custodians = [SimpleNamespace(address=custodian.address)]
    cast.locals = [SimpleNamespace(address=local.address)]
    holding = suite["HoldingChain"]
    tops = [p.address for p in cast.participants]
    entries = [
        {"party": p, "tier": 1, "clients": [custodian.address, local.address], "investors": True}
        for p in tops
    ]
    entries += [
        {"party": custodian.address, "tier": 2, "clients": [local.address], "investors": True},
        {"party": local.address, "tier": 3, "clients": [], "investors": True},
    ]
    wire_holding_chain(
        holding, entries, {p: p for p in [*tops, *(i.address for i in lower)]}, accounts[0]
    )

    trades, _ = day.generate_trades(random.Random(2026), executions, cast, owners=50)
    cid = code32(f"BENCH-HOLDING-{executions}")
    day.fund(cast, trades)
    cast.ccp.open_cycle(cid, day.TRADE_DATE)
    for p in cast.participants:
        p.upload(cid, trades)
    cast.ccp.distribute(cid, cast.ccp.compute(cid, tops))
    cast.ccp.close_uploads(cid)
    for p in cast.participants:
        p.reconcile(cid, cast.ccp.address)
        p.submit_instruction(cid, trades)
    result = cast.ccp.net(cid)
    cast.ccp.instruct(cid, result)
    cast.csd.settle(cid)
    parties = {p.address: HoldingParty(p.institution, holding) for p in cast.participants}
    parties |= {i.address: HoldingParty(i, holding) for i in lower}
    steps, txs = run_down(
        cid,
        result.legs,
        trades,
        chain_of(holding, parties),
        HoldingDepository(cast.csd.institution, holding),
        parties,
    )
    if int(holding.openSteps(cid)) != 0:
        raise RuntimeError("steps left open down the holding chain")
    to_clients = [int(tx.gas_used) for s, tx in zip(steps, txs[1:]) if s.clients]
    to_investors = [int(tx.gas_used) for s, tx in zip(steps, txs[1:]) if not s.clients]
    n = len(result.legs)
    return {
        f"holding_open_tiers_gas_{n}_legs": int(txs[0].gas_used),
        "holding_allocate_to_clients_gas_max": max(to_clients),
        "holding_investor_step_gas_max": max(to_investors),
        "holding_steps": len(steps),
    }


if __name__ == "__main__":  # PYTHONPATH=src .venv/bin/python -m consortium.bench.holding
    import json

    from consortium import chain

    proj = chain.project()
    chain.connect("development")
    print(json.dumps(bench_holding(proj, chain.accounts()), indent=2))
