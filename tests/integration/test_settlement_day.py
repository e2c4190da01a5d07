"""A realistic settlement day across two jurisdictions, from upload to DvP finality."""

import random

from consortium.chain import web3
from consortium.domain.hashing import code32
from consortium.domain.netting import positions
from consortium.scenarios import DayContext, Members
from consortium.scenarios import settlement as day
from consortium.txpipe import TxPipe

LEVEL_SECOND, LEVEL_INTERMEDIARY, LEVEL_INVESTOR = 0, 1, 2


def test_day__break_at_intermediary_level__others_proceed_and_balances_exact(settle_cast, engine):
    trades, _ = day.generate_trades(random.Random(11), 40, settle_cast, owners=5)
    day.fund(settle_cast, trades)
    holders = [p.address for p in settle_cast.participants] + [settle_cast.ccp.address]
    holders += [settle_cast.fee_collector, settle_cast.tax_authority]
    before = day.balances(settle_cast, holders)
    local = settle_cast.locals[0]
    victim = next(t for t in trades if t.local_broker == local.address)
    out = day.run_cycle(
        settle_cast,
        code32("DAY-1"),
        trades,
        corrupt={local.address: victim.trade_id},
        pipe=TxPipe(web3()),
    )

    # the break shows at the intermediary and investor levels of the local broker only
    broken = [r for r in out.reconciliations if not r["matched"]]
    local_key = "0x" + local.address[2:].lower().rjust(64, "0")
    assert broken and all(r["party"] == local.address or r["peer"] == local_key for r in broken)
    assert out.breaks()[LEVEL_INTERMEDIARY] >= 2  # both sides see it
    assert out.breaks()[LEVEL_INVESTOR] == 1
    # redone by amounts: each break names the tampered trade and the fields that differ
    assert out.amount_breaks and all(
        b.trade_ids() == [victim.trade_id]
        and {"price", "gross"} <= {x.field for x in b.trade_breaks}
        for b in out.amount_breaks
    )
    summary = out.summary()
    assert summary["instructions_matched"] == len(settle_cast.participants)
    assert summary["amount_breaks"][0]["trade_ids"] == ["0x" + victim.trade_id.hex()]
    assert sum(summary["charges_paid"].values()) > 0
    # on chain, by amounts: against the CCP and the CSD the local broker's first clearing totals
    # differ in the tampered trade's currency (its price, so its gross)
    mismatches = summary["totals_mismatches"]
    assert {(m["party"], m["counterparty"], m["level"]) for m in mismatches} == {
        (local.address, settle_cast.ccp.address, LEVEL_SECOND),
        (local.address, settle_cast.csd.address, LEVEL_SECOND),
    }
    ccy = victim.currency.rstrip(b"\0").decode()
    assert all(m["currency"] == ccy and "gross" in m["fields"] for m in mismatches)
    # every clearing participant matched the CCP and CSD: netting and settlement did not wait
    for p in settle_cast.participants:
        seconds = [
            r for r in out.reconciliations if r["party"] == p.address and int(r["level"]) == 0
        ]
        assert seconds and all(r["matched"] for r in seconds)

    after = day.balances(settle_cast, holders)
    assert after == day.after_settlement(settle_cast, before, out.netting.legs, out.instructions)
    assert set(out.instructions) == {p.address for p in settle_cast.participants}
    assert all(after[k] == before[k] for k in after if k[0] == settle_cast.ccp.address)  # CCP flat
    pos = positions(trades)
    assert {(l.participant, l.kind, l.asset): l.amount for l in out.netting.legs} == {
        k: v for k, v in pos.items() if v
    }
    assert out.netting.net_count <= 3 * (4 + 2)  # one leg per participant and asset at most
    cycle = engine.getCycle(code32("DAY-1"))
    assert cycle["status"] == 3 and cycle["legsHash"] == "0x" + out.netting.legs_hash.hex()
    settled = out.txs[-1].events["CycleSettled"]
    assert settled["legCount"] == out.netting.net_count


def test_run_day__from_day_context__all_checks_hold(
    settle_members, settlement_suite, registry, manager
):
    by_name, roles = settle_members
    suite = dict(settlement_suite, ConsortiumRegistry=registry)
    ctx = DayContext(suite, Members(by_name, roles), manager, random.Random(3), {"executions": 15})
    result = day.run_day(ctx)
    assert result.ok, result.checks
    assert result.counts["trades"] == 30
    assert result.counts["totals_mismatches"] == 0
    assert result.metrics["netting_efficiency_count"] > 0
