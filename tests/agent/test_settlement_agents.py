"""The cross-border settlement cycle played by seven agents, each its own OS process.

Two brokers, a custodian, the exchange, the CCP, the CSD and a cash issuer. The test drops what
each institution's systems would produce: the depository's and the bank's funding (`issues`), each
first party's charges and trades, a hostile trades file, then the CCP's cycle calendar; everything
after is agents reacting to the chain (cycle opened -> uploads -> uploads closed -> second
clearing -> reconciliations -> netting -> DvP settlement). The CCP is SIGKILLed right after its
second clearing batch is mined and before it booked it, broker-a once its reconciliations along the
chain are sent and before their receipts are collected; both restarted: every record is on chain
once. No Python object is shared with the agents.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from consortium.agent.formats import CHARGE_KINDS, PAYERS
from consortium.agent.lines.settlement import (
    SETTLED,
    chain_peers,
    security_number,
    trade_of,
)
from consortium.agent.settings import load_settings
from consortium.bootstrap import bootstrap_consortium
from consortium.deploy import deploy_settlement
from consortium.domain.clearing import SELL, Charge
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.instructions import apply_charges, derive
from consortium.domain.netting import CASH, SECURITY, currency_asset, net
from consortium.roles.settlement import COMPLETE, SECOND
from consortium.store import Store
from tests.agent.harness import (
    SEED,
    WAIT_SECONDS,
    AgentProcess,
    World,
    alive_until,
    assert_no_private_key,
    assert_stopped_cleanly,
    csv_text,
    demo_keys,
    drop,
    make_home,
    new_consortium,
    record_deployment,
    result_of,
    stop_all,
    wait_for,
)

IDS = ("broker-a", "broker-b", "custodian-hk", "exchange-hk", "ccp", "csd", "bank-hk")
FIRST = ("broker-a", "broker-b", "custodian-hk", "exchange-hk")
TIMEOUT = WAIT_SECONDS
CYCLE = "SETTLE-2026-12-05"
# the next day: broker-b's systems hold T-9's sell at another price than the exchange executed
CYCLE_2 = "SETTLE-2026-12-06"
EXECUTIONS_2 = [("T-9", "0005.HK", 300, 6_600, "broker-a", "broker-b", "client-1", "client-7")]
# the day after: the CSD's agent is down until the CCP has seen every other step (its second
# clearing, so every first party's reconciliation with it, comes last); broker-a sells from cycle 1
CYCLE_3 = "SETTLE-2026-12-07"
EXECUTIONS_3 = [("T-11", "0700.HK", 100, 38_000, "broker-b", "broker-a", "client-7", "client-1")]
# the day after: broker-b's agent dies right after its upload and is still down at the CCP's
# reconciliation cut-off: the CCP defers broker-b's executions instead of waiting for it
CYCLE_4 = "SETTLE-2026-12-08"
EXECUTIONS_4 = [("T-12", "0700.HK", 100, 38_000, "broker-a", "broker-b", "client-1", "client-7")]

CONSORTIUM_YAML = """\
version: 1
consortium: {name: Settlement agent test, founder: Test permission manager, jurisdiction: HK}
jurisdictions:
  HK: {regulator: reg-hk}
institutions:
  - {id: reg-hk, name: Test regulator, jurisdiction: HK, roles: [REGULATOR]}
  - {id: broker-a, name: Test broker A, jurisdiction: HK, roles: [BROKER]}
  - {id: broker-b, name: Test broker B, jurisdiction: HK, roles: [BROKER]}
  - {id: custodian-hk, name: Test custodian, jurisdiction: HK, roles: [CUSTODIAN]}
  - {id: exchange-hk, name: Test exchange, jurisdiction: HK, roles: [EXCHANGE]}
  - {id: ccp, name: Test CCP, jurisdiction: HK, roles: [CCP]}
  - {id: csd, name: Test CSD, jurisdiction: HK, roles: [CSD]}
  - {id: bank-hk, name: Test settlement bank, jurisdiction: HK, roles: [CASH_ISSUER]}
channels: []
currencies: [HKD, CNY]
securities:
  - {id: "0700.HK", currency: HKD, name: Tencent Holdings}
  - {id: "0005.HK", currency: HKD, name: HSBC Holdings}
"""

TRADE_HEADER = [
    "trade_id",
    "security",
    "currency",
    "side",
    "quantity",
    "price",
    "trade_date",
    "owner_ref",
    "participant",
    "local_broker",
    "custodian",
    "exchange",
]
# three executions, each a buy and a sell side; the custodian holds for broker-a
EXECUTIONS = [
    ("T-1", "0700.HK", 1000, 38_000, "broker-a", "broker-b", "client-1", "client-7"),
    ("T-2", "0005.HK", 2000, 6_500, "broker-b", "broker-a", "client-8", "client-1"),
    ("T-3", "0700.HK", 500, 38_100, "broker-b", "broker-a", "client-7", "client-2"),
]


def _rows(executions=EXECUTIONS, day: str = "2026-12-05") -> list[list]:
    rows = []
    for tid, sec, qty, price, buyer, seller, buy_owner, sell_owner in executions:
        for side, party, owner in (("buy", buyer, buy_owner), ("sell", seller, sell_owner)):
            custodian = "custodian-hk" if party == "broker-a" else ""
            rows.append(
                [f"{tid}-{side[0].upper()}", sec, "HKD", side, qty, price, day, owner]
                + [party, "", custodian, "exchange-hk"]
            )
    return rows


def _rows_of(ident: str, rows: list[list] | None = None) -> list[list]:
    return [r for r in (rows or _rows()) if ident in r[8:]]


def _trades(addresses: dict[str, str], rows: list[list] | None = None) -> list:
    """The executions as the chain holds them, built the agents' way (typed rows)."""
    return [trade_of(_typed(r), addresses) for r in (rows or _rows())]


def _typed(row: list) -> dict:
    out = dict(zip(TRADE_HEADER, row, strict=True))
    return out | {"trade_date": date.fromisoformat(out["trade_date"])}


def make_world(base, founder, accounts) -> World:
    """Registry, members, then the settlement suite: the CSD issues securities, bank-hk deposits."""
    cfg_path, cfg, proj, registry, suite = new_consortium(base, CONSORTIUM_YAML, founder, "HK")
    members, _ = bootstrap_consortium(suite, cfg, founder, accounts, SEED, fund_wei=10**20)
    keys, addresses = demo_keys(cfg)
    issuers = {"SecurityToken": addresses["csd"]}
    issuers |= {f"DepositToken:{c}": addresses["bank-hk"] for c in ("HKD", "CNY")}
    suite.contracts.update(deploy_settlement(proj, registry, founder, issuers))
    path = record_deployment(base, suite, founder)
    return World(base, suite, cfg_path, path, keys, addresses, members)


@dataclass
class Cycle:
    world: World
    homes: dict
    agents: dict
    trades: list
    before: dict
    after: dict
    exit_codes: dict
    ccp_killed: int
    broker_killed: int  # broker-a, in its phase of reconciliations along the chain
    first_block: int  # the first block the agents could send in (the world was built before)
    late: tuple  # cycle 3, CSD down, the rest in: the cycle's status and what the CCP awaited
    cut_off: tuple  # cycle 4: (status and awaited before the cut-off, the CCP's report after it)


def _holdings(world: World, holders: list[str]) -> dict:
    token = world.suite["SecurityToken"]
    out = {}
    for h in holders:
        for sec in ("0700.HK", "0005.HK"):
            sid = security_number(sec)
            out[(h, SECURITY, sid)] = int(token.balanceOf(h, sid))
        out[(h, CASH, currency_asset(code32("HKD")))] = int(
            world.suite["DepositToken:HKD"].balanceOf(h)
        )
    return out


CHARGES = [["0700.HK", "fee", "both", 3, 500], ["0005.HK", "fee", "both", 2, 0]]


def _instructions(trades: list) -> dict:
    """What each participant instructs (its charges from the charges files below)."""
    charges = {}
    for code, kind, payer, bps, minimum in CHARGES:
        charges[security_number(code)] = [Charge(CHARGE_KINDS[kind], PAYERS[payer], bps, minimum)]
    return {p: derive(p, trades, charges) for p in sorted({t.participant for t in trades})}


def _fund(world: World, homes: dict, trades: list) -> None:
    """The CSD's custody deposits (what each seller delivers) and the bank's cash (what each buyer
    pays), as their own systems would book them."""
    ident_of = {a: i for i, a in world.addresses.items()}
    securities, cash = Counter(), Counter()
    code_of = {security_number(s): s for s in ("0700.HK", "0005.HK")}
    for t in trades:
        who = ident_of[t.participant]
        if t.side == SELL:
            securities[(who, code_of[t.security_id])] += t.quantity
        else:
            cash[who] += t.gross
    for p, lines in _instructions(trades).items():  # and the fees each pays at settlement
        cash[ident_of[p]] += sum(x.fees + x.taxes for x in lines)
    header = ["ref", "holder", "asset", "amount"]
    rows = [[f"CUST-{w}-{s}", w, s, n] for (w, s), n in sorted(securities.items())]
    drop(homes["csd"], "issues-custody.csv", csv_text(header, rows))
    rows = [[f"PAY-{w}", w, "HKD", n] for w, n in sorted(cash.items())]
    drop(homes["bank-hk"], "issues-cash.csv", csv_text(header, rows))
    # hostile: the bank is asked for a security, the CSD for cash: each refused, nothing issued
    drop(
        homes["bank-hk"], "issues-wrong.csv", csv_text(header, [["X-1", "broker-a", "0700.HK", 5]])
    )
    for home, name in ((homes["csd"], "issues-custody.csv"), (homes["bank-hk"], "issues-cash.csv")):
        wait_for(lambda h=home, n=name: result_of(h, "done", n), TIMEOUT, name)


@pytest.fixture(autouse=True)
def isolation():
    """No per-test rollback: the agents outside keep their state across this module's tests."""
    yield


@pytest.fixture(scope="module")
def cycle(tmp_path_factory, accounts, web3):
    base = tmp_path_factory.mktemp("settlement-agents")
    world = make_world(base / "world", accounts[0], accounts)
    homes = {
        i: make_home(world, i, base / i, settlement={"first_parties": list(FIRST)}) for i in IDS
    }
    agents = {i: AgentProcess(i, homes[i]) for i in IDS}
    live = list(agents.values())
    engine, token = world.suite["SettlementEngine"], world.suite["SecurityToken"]
    cycle_id = code32(CYCLE)
    trades = _trades(world.addresses)
    first_block = web3.eth.block_number + 1
    try:
        # the CCP dies right after its second clearing batch is mined, broker-a with its
        # reconciliations along the chain sent and not collected
        kills = {"ccp": (SECOND, 1), "broker-a": ("wait:reconcile", 1)}
        for i in IDS:
            agents[i].start(kill_at=kills.get(i))
        for a in live:
            a.wait_log("running roles", TIMEOUT)
        alive_until(live, lambda: token.isListed(security_number("0005.HK")), TIMEOUT, "listing")
        _fund(world, homes, trades)
        charges = CHARGES
        for i in FIRST:
            drop(
                homes[i],
                "charges.csv",
                csv_text(["security", "kind", "payer", "bps", "minimum"], charges),
            )
            drop(homes[i], "trades-2026-12-05.csv", csv_text(TRADE_HEADER, _rows_of(i)))
        hostile = _rows_of("broker-a")[:2]
        hostile[1] = hostile[1][:8] + ["broker-zz", "", "", "exchange-hk"]
        drop(homes["broker-a"], "trades-hostile.csv", csv_text(TRADE_HEADER, hostile))
        for i in FIRST:
            wait_for(lambda i=i: result_of(homes[i], "done", "trades-2026-12-05.csv"), TIMEOUT, i)
        holders = [world.addresses[b] for b in ("broker-a", "broker-b", "ccp")]
        before = _holdings(world, holders)
        drop(
            homes["ccp"],
            "cycles-2026-12.csv",
            csv_text(["cycle_id", "trade_date"], [[CYCLE, "2026-12-05"]]),
        )
        killed = _restarted(agents["ccp"], "the CCP's kill after its second clearing")
        broker_killed = _restarted(agents["broker-a"], "broker-a's kill in its reconciliations")
        alive_until(
            live, lambda: int(engine.getCycle(cycle_id)["status"]) == SETTLED, TIMEOUT, "settled"
        )
        late = [r[:0] + [r[0] + "-late"] + r[1:] for r in _rows_of("broker-b")[:1]]
        drop(homes["broker-b"], "trades-late.csv", csv_text(TRADE_HEADER, late))
        wait_for(
            lambda: result_of(homes["broker-b"], "rejected", "trades-late.csv"), TIMEOUT, "late"
        )
        wait_for(
            lambda: all("settled" in _report(homes[b]) for b in ("broker-a", "broker-b")),
            TIMEOUT,
            "the brokers' settlement reports",
        )
        after = _holdings(world, holders)
        _breaking_cycle(homes, live)
        late = _late_cycle(world, homes, agents)
        cut_off = _cut_off_cycle(world, homes, agents)
        codes = stop_all(live)
        yield Cycle(
            world,
            homes,
            agents,
            trades,
            before,
            after,
            codes,
            killed,
            broker_killed,
            first_block,
            late,
            cut_off,
        )
    finally:
        for a in live:
            if a.running():
                a.kill()


def _restarted(agent: AgentProcess, kill: str) -> int:
    """Wait for the agent's kill (`kill` says which), start it again; its exit code."""
    wait_for(lambda: not agent.running(), TIMEOUT, kill)
    code = agent.proc.returncode
    agent.out.close()
    agent.start()
    agent.wait_log("running roles", TIMEOUT, count=agent.starts)
    return code


def _breaking_cycle(homes: dict, live: list) -> None:
    """Cycle 2: broker-b's upload differs from the exchange's record, its reconciliation with the
    CCP breaks, and the CCP defers broker-b's executions (both sides) before netting."""
    rows = _rows(EXECUTIONS_2, "2026-12-06")
    for i in FIRST:
        mine = _rows_of(i, rows)
        if i == "broker-b":
            mine = [r[:5] + [r[5] + 1] + r[6:] for r in mine]
        drop(homes[i], "trades-2026-12-06.csv", csv_text(TRADE_HEADER, mine))
    for i in FIRST:
        wait_for(lambda i=i: result_of(homes[i], "done", "trades-2026-12-06.csv"), TIMEOUT, i)
    calendar = csv_text(["cycle_id", "trade_date"], [[CYCLE_2, "2026-12-06"]])
    drop(homes["ccp"], "cycles-2026-12-06.csv", calendar)
    alive_until(
        live, lambda: "netting" in _report(homes["ccp"], CYCLE_2), TIMEOUT, "cycle 2's netting"
    )


def _late_cycle(world: World, homes: dict, agents: dict) -> tuple[int, dict | None]:
    """Cycle 3 with the CSD's agent stopped until everything else of the cycle is mined and the
    CCP's follower is past it: (the cycle's status, what the CCP reports awaiting) then. The CSD
    restarted distributes, the first parties reconcile with it, the CCP nets and the CSD settles."""
    engine, cycle_id = world.suite["SettlementEngine"], code32(CYCLE_3)
    rows = _rows(EXECUTIONS_3, "2026-12-07")
    trades = _trades(world.addresses, rows)
    a = world.addresses
    brokers = {a["broker-a"], a["broker-b"]}
    without_csd = 0  # the CCP, each counterparty along the chain and (brokers) each investor
    for i in FIRST:
        mine = [t for t in trades if t.involves(a[i])]
        without_csd += 1 + len(chain_peers(a[i], mine))
        without_csd += len({t.owner_commitment for t in mine}) if a[i] in brokers else 0
    csd = agents["csd"]
    assert csd.stop() == 0
    for i in FIRST:
        drop(homes[i], "trades-2026-12-07.csv", csv_text(TRADE_HEADER, _rows_of(i, rows)))
    for i in FIRST:
        wait_for(lambda i=i: result_of(homes[i], "done", "trades-2026-12-07.csv"), TIMEOUT, i)
    drop(
        homes["ccp"],
        "cycles-2026-12-07.csv",
        csv_text(["cycle_id", "trade_date"], [[CYCLE_3, "2026-12-07"]]),
    )
    participants = {t.participant for t in trades}

    def mined() -> list:
        recon = _cycle_events(world, "Reconciled", CYCLE_3)
        instructed = _cycle_events(world, "InstructionSubmitted", CYCLE_3)
        done = (
            len(recon) == without_csd
            and {e.args["participant"] for e in instructed} == participants
        )
        return recon + instructed if done else []

    events = wait_for(mined, TIMEOUT, "cycle 3's reconciliations and instructions, CSD down")
    last = max(e.blockNumber for e in events)
    ccp = Store(load_settings(homes["ccp"].path).store_url)
    wait_for(lambda: ccp.get("follower", "cursor")["block"] >= last, TIMEOUT, "the CCP's follower")
    then = int(engine.getCycle(cycle_id)["status"])
    awaited = _report(homes["ccp"], CYCLE_3).get("awaiting_reconciliations")
    csd.start()
    csd.wait_log("running roles", TIMEOUT, count=2)
    live = list(agents.values())
    alive_until(
        live, lambda: int(engine.getCycle(cycle_id)["status"]) == SETTLED, TIMEOUT, "cycle 3"
    )
    return then, awaited


def _cut_off_cycle(world: World, homes: dict, agents: dict) -> tuple:
    """Cycle 4: broker-b's agent SIGKILLs itself once its uploads' completion is mined (so the
    CCP closes uploads without it); when the other parties
    have reconciled with the CCP, a row for the open cycle sets its reconciliation cut-off in the
    past. Returns (the status and what the CCP awaited before the cut-off, its report after it);
    broker-b is restarted last."""
    engine, cycle_id, a = world.suite["SettlementEngine"], code32(CYCLE_4), world.addresses
    rows = _rows(EXECUTIONS_4, "2026-12-08")
    broker_b = agents["broker-b"]
    assert broker_b.stop() == 0
    broker_b.start(kill_at=(COMPLETE, 1))
    broker_b.wait_log("running roles", TIMEOUT, count=2)
    for i in FIRST:
        drop(homes[i], "trades-2026-12-08.csv", csv_text(TRADE_HEADER, _rows_of(i, rows)))
    for i in FIRST:
        wait_for(lambda i=i: result_of(homes[i], "done", "trades-2026-12-08.csv"), TIMEOUT, i)
    header = ["cycle_id", "trade_date", "reconcile_by"]
    drop(homes["ccp"], "cycles-2026-12-08.csv", csv_text(header[:2], [[CYCLE_4, "2026-12-08"]]))
    wait_for(lambda: not broker_b.running(), TIMEOUT, "broker-b's kill after its completion")
    others = {a[i] for i in FIRST if i != "broker-b"}

    def reconciled() -> bool:
        found = _cycle_events(world, "Reconciled", CYCLE_4)
        return {
            e.args["party"] for e in found if bytes(e.args["peer"]) == _peer(a["ccp"])
        } == others

    wait_for(reconciled, TIMEOUT, "the others' reconciliations with the CCP, broker-b down")

    def awaiting() -> set:
        return set(_report(homes["ccp"], CYCLE_4).get("awaiting_reconciliations") or ())

    wait_for(lambda: awaiting() == {"broker-b"}, TIMEOUT, "the CCP awaiting broker-b alone")
    before = (int(engine.getCycle(cycle_id)["status"]), awaiting())
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
    drop(homes["ccp"], "cycles-cut-off.csv", csv_text(header, [[CYCLE_4, "2026-12-08", past]]))
    live = [x for x in agents.values() if x is not broker_b]
    alive_until(
        live, lambda: "netting" in _report(homes["ccp"], CYCLE_4), TIMEOUT, "cycle 4's netting"
    )
    after = _report(homes["ccp"], CYCLE_4)
    broker_b.out.close()
    broker_b.start()
    broker_b.wait_log("running roles", TIMEOUT, count=3)
    return before, after


def _cycle_events(world: World, name: str, of: str) -> list:
    engine = world.suite["SettlementEngine"]
    found = engine.events.get_sequence(world.suite.block, event_type=name)
    return [e for e in found if e.args["cycleId"] == code32(of)]


def _report(home, cycle: str = CYCLE) -> dict:
    path = home.outbox / "settlement" / f"{cycle}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _events(cycle: Cycle, name: str, of: str = CYCLE) -> list:
    """The engine's `name` events of cycle `of`, in chain order."""
    return [e.args for e in _cycle_events(cycle.world, name, of)]


def test_settlement_cycle__seven_agent_processes__balances_moved_as_netting_computes(cycle):
    result = net(cycle.trades)
    expected = dict(cycle.before)
    for leg in result.legs:
        expected[(leg.participant, leg.kind, leg.asset)] += leg.amount
    bank, tax = cycle.world.addresses["bank-hk"], cycle.world.addresses["reg-hk"]
    instructions = _instructions(cycle.trades)  # each participant's, fees paid to the bank
    expected = apply_charges(expected, instructions, bank, tax)
    assert cycle.after == {k: expected[k] for k in cycle.after}
    paid = _events(cycle, "ChargesPaid")
    assert sum(e["fees"] for e in paid) == sum(x.fees for v in instructions.values() for x in v) > 0
    assert {e["participant"] for e in _events(cycle, "InstructionSubmitted")} == set(instructions)
    assert cycle.after != cycle.before
    ccp = cycle.world.addresses["ccp"]
    assert all(v == cycle.before[k] for k, v in cycle.after.items() if k[0] == ccp)
    engine = cycle.world.suite["SettlementEngine"]
    c = engine.getCycle(code32(CYCLE))
    assert int(c["status"]) == SETTLED and int(c["tradeCount"]) == len(cycle.trades)


def test_settlement_cycle__every_level_reconciled_and_matched_once(cycle):
    recon = _events(cycle, "Reconciled")
    pairs = Counter((e["party"], e["peer"]) for e in recon)
    assert pairs and max(pairs.values()) == 1
    assert all(e["matched"] for e in recon)
    a = cycle.world.addresses
    levels = Counter(int(e["level"]) for e in recon)
    assert levels[0] == 2 * len(FIRST)  # each first party with the CCP and the CSD
    assert levels[1] > 0 and levels[2] > 0  # along the chain, and investors (brokers)
    broker_a = cycle.homes["broker-a"]
    mine = [e for e in recon if e["party"] == a["broker-a"]]
    assert len(_report(broker_a)["reconciliations"]) == len(mine)


def test_settlement_cycle__ccp_sigkilled_after_its_batch__restarted__every_record_once(cycle):
    assert cycle.ccp_killed == -signal.SIGKILL
    assert cycle.agents["ccp"].starts == 2
    a = cycle.world.addresses
    uploads = Counter(e["party"] for e in _events(cycle, "TradesUploaded"))
    assert uploads == Counter({a[i]: 1 for i in FIRST})
    second = Counter(
        (e["secondParty"], e["party"]) for e in _events(cycle, "SecondClearingDistributed")
    )
    assert second == Counter({(a[s], a[p]): 1 for s in ("ccp", "csd") for p in FIRST})
    assert len(_events(cycle, "UploadsClosed")) == 1
    assert len(_events(cycle, "CycleNetted")) == 1 and len(_events(cycle, "CycleSettled")) == 1
    store = Store(load_settings(cycle.homes["ccp"].path).store_url)
    assert store.intents("pending") == []
    assert [r["status"] for r in store.intents(kinds=[SECOND])] == ["booked"] * 4  # a batch a cycle


def test_settlement_cycle__broker_sigkilled_with_reconciliations_in_flight__each_sent_once(cycle):
    """broker-a posts its reconciliations along the chain and with each investor in one phase and
    dies before collecting them: restarted, it asks the chain first and sends none of them again."""
    assert cycle.broker_killed == -signal.SIGKILL
    assert cycle.agents["broker-a"].starts == 2
    a = cycle.world.addresses
    mine = [t for t in cycle.trades if t.involves(a["broker-a"])]
    peers = chain_peers(a["broker-a"], mine) | {a["ccp"], a["csd"]}
    expected = {_peer(p) for p in peers} | {bytes(t.owner_commitment) for t in mine}
    recon = [e for e in _events(cycle, "Reconciled") if e["party"] == a["broker-a"]]
    assert Counter(bytes(e["peer"]) for e in recon) == Counter(dict.fromkeys(expected, 1))
    assert len(expected) > 4 and all(e["matched"] for e in recon)
    # one phase along the chain (the one killed), one with each second party: none sent again
    assert cycle.agents["broker-a"].log().count(f"reconciling cycle {CYCLE}:") == 3


def test_settlement_cycle__outboxes__instructions_and_results_per_party(cycle):
    result = net(cycle.trades)
    for ident in ("broker-a", "broker-b"):
        report = _report(cycle.homes[ident])
        address = cycle.world.addresses[ident]
        mine = sorted(
            (g.kind, str(g.asset), g.amount) for g in result.legs if g.participant == address
        )
        got = sorted(
            (1 if leg["kind"] == "cash" else 0, leg["asset"], leg["amount"])
            for leg in report["instructions"].values()
        )
        assert got == mine
        assert report["settled"]["balances_after"]
    netting = _report(cycle.homes["ccp"])["netting"]
    assert netting["trades"] == len(cycle.trades) and netting["deferred"] == []
    assert len(netting["legs"]) == len(result.legs)
    assert _report(cycle.homes["csd"])["settled"]["legs"] == len(result.legs)


def test_settlement_cycle__hostile_files__rejected_with_line_and_reason_nothing_sent(cycle):
    hostile = result_of(cycle.homes["broker-a"], "rejected", "trades-hostile.csv")
    assert hostile["line"] == 3 and "broker-zz" in hostile["reason"]
    late = result_of(cycle.homes["broker-b"], "rejected", "trades-late.csv")
    assert late["line"] == 2 and "late trades go to a later cycle" in late["reason"]
    wrong = result_of(cycle.homes["bank-hk"], "rejected", "issues-wrong.csv")
    assert wrong["line"] == 2 and "issues no deposit token of '0700.HK'" in wrong["reason"]
    # nothing of them reached the chain: each party's one upload is its good file's rows
    a = cycle.world.addresses
    counts = {e["party"]: int(e["count"]) for e in _events(cycle, "TradesUploaded")}
    assert counts == {a[i]: len(_rows_of(i)) for i in FIRST}
    _, block = cycle.world.suite["DepositToken:HKD"].paymentRefUse(doc_hash("X-1"))
    assert int(block) == 0


def test_settlement_cycle__sigterm__every_agent_exits_0_nothing_pending(cycle):
    assert_stopped_cleanly(cycle.exit_codes, cycle.agents, IDS)
    for ident in cycle.agents:
        store = Store(load_settings(cycle.homes[ident].path).store_url)
        assert store.intents("pending") == []


def test_settlement_cycle__homes__no_private_key_of_the_day_anywhere(cycle):
    assert_no_private_key(cycle.world.keys, cycle.homes)


def test_breaking_cycle__broker_b_broke_with_the_ccp__its_executions_deferred_nothing_netted(cycle):
    a, cycle_id = cycle.world.addresses, code32(CYCLE_2)
    recon = _events(cycle, "Reconciled", CYCLE_2)
    with_ccp = {e["party"]: e["matched"] for e in recon if e["peer"] == _peer(a["ccp"])}
    assert with_ccp == {
        a["broker-a"]: True,
        a["broker-b"]: False,
        a["custodian-hk"]: True,
        a["exchange-hk"]: True,
    }
    deferred = _events(cycle, "TradeDeferred", CYCLE_2)
    ids = {doc_hash(f"T-9-{s}") for s in "BS"}
    assert {bytes(e["tradeId"]) for e in deferred} == ids and len(deferred) == 2
    netting = _report(cycle.homes["ccp"], CYCLE_2)["netting"]
    assert netting["deferred_parties"] == [a["broker-b"]] and netting["instructed"] is False
    assert sorted(bytes.fromhex(d[2:]) for d in netting["deferred"]) == sorted(ids)
    engine = cycle.world.suite["SettlementEngine"]
    assert int(engine.getCycle(cycle_id)["status"]) == 1  # open: nothing left to net
    assert _events(cycle, "CycleNetted", CYCLE_2) == []


def _peer(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def test_settlement_cycle__agents_ask_for_estimated_gas__never_a_whole_block(cycle, web3):
    """Institutions send side by side: a transaction asking for the block's whole gas fits only an
    empty block and stays pending on an automining chain once traffic stops (the day stalled so)."""
    senders = {cycle.world.addresses[i].lower() for i in IDS}
    sent = []
    for number in range(cycle.first_block, web3.eth.block_number + 1):
        block = web3.eth.get_block(number, full_transactions=True)
        sent += [
            (t["gas"], block.gasLimit) for t in block.transactions if t["from"].lower() in senders
        ]
    assert len(sent) > 20
    # a refusal mined on record is sent with the reverting limit (chain.estimate_gas: 7,000,000
    # times the 1.25 buffer), still far from a whole block
    assert all(gas <= max(limit // 4, 8_750_000) < limit // 2 for gas, limit in sent), max(sent)


def test_late_cycle__csd_down_until_the_rest_is_in__ccp_nets_only_after_every_reconciliation(cycle):
    """Every first party reconciles with the CCP, the CSD, along the chain and (brokers) with each
    investor before the CCP nets: with the CSD's second clearing late, the CCP waits and names who
    it waits for, instead of netting and leaving the CSD reconciliations refused."""
    status, awaited = cycle.late
    assert status == 1, "netted with reconciliations missing"  # open
    assert awaited == dict.fromkeys(FIRST, 1)  # each party's reconciliation with the CSD
    found = _cycle_events(cycle.world, "Reconciled", CYCLE_3)
    (netted,) = _cycle_events(cycle.world, "CycleNetted", CYCLE_3)
    assert all(e.blockNumber < netted.blockNumber for e in found)
    assert all(e.args["matched"] for e in found)
    a = cycle.world.addresses
    with_second = Counter(bytes(e.args["peer"]) for e in found if int(e.args["level"]) == 0)
    assert with_second == Counter({_peer(a["ccp"]): len(FIRST), _peer(a["csd"]): len(FIRST)})
    assert _report(cycle.homes["ccp"], CYCLE_3)["awaiting_reconciliations"] == {}
    for i in FIRST:
        assert "reconciliation_refused" not in _report(cycle.homes[i], CYCLE_3)
    status = cycle.world.suite["SettlementEngine"].getCycle(code32(CYCLE_3))["status"]
    assert int(status) == SETTLED


def test_cut_off_cycle__broker_b_down_past_the_reconciliation_cut_off__its_executions_deferred(
    cycle,
):
    """The CCP waits for every reconciliation, but not past the cycle's `reconcile_by`: then it
    names who it still awaits, defers the executions of each party not reconciled with it (both
    sides) and nets the rest."""
    (status, awaited), report = cycle.cut_off
    a = cycle.world.addresses
    assert status == 1 and awaited == {"broker-b"}  # open, waiting for broker-b alone
    assert set(report["reconciliation_cut_off"]) == {"broker-b"}
    assert report["netting"]["deferred_parties"] == [a["broker-b"]]
    deferred = _events(cycle, "TradeDeferred", CYCLE_4)
    assert {bytes(e["tradeId"]) for e in deferred} == {doc_hash(f"T-12-{s}") for s in "BS"}
    assert len(deferred) == 2
    assert _events(cycle, "CycleNetted", CYCLE_4) == []  # broker-b was on every execution
