"""The supply-chain bill line played by six agents, each its own OS process, against the test's chain.

The test drops the files a bank's systems would produce (bill issues and the redemption at the core
enterprise, transfers at the tier-1 supplier, a financing request at a tier-2 supplier) and waits for
the outcome on chain and in the outboxes; everything in between is an agent reacting to a chain
event: the receiver reviews (auto within its limit; above it a person answers with `consortium
decide`), the auditor audits, the factor quotes, the holder accepts, the factor declares its wire,
the holder confirms it; at maturity (the test plays the clock) the holders confirm the debtor's
wires. The tier-1 agent is SIGKILLed right after its first transfer is mined (its file's transfers
go out in one pipelined phase) and restarted. The bill contract has no cash token here: every
payment is off chain, in two steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from consortium import chain
from consortium.bootstrap import bootstrap_consortium
from consortium.domain.hashing import doc_hash
from tests.agent.harness import (
    PASSPHRASE,
    ROOT,
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
)

CLIENTS = ("core", "tier1", "tier2-a", "tier2-b")
IDS = (*CLIENTS, "auditor", "factor")
TIMEOUT = WAIT_SECONDS
FACE_A, FACE_B = 1_000_000, 9_000_000  # B is above tier1's review limit: a person decides
PART_A, PART_B, FINANCED = 300_000, 250_000, 200_000
RATE = 600
AGENTS: list = []

CONSORTIUM_YAML = """\
version: 1
consortium: {name: Bills test consortium, founder: Test permission manager, jurisdiction: CN}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: Test regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: core, name: Core enterprise, jurisdiction: CN, roles: [SUPPLY_CHAIN_CLIENT, BILL_ISSUER]}
  - {id: tier1, name: Tier-1 supplier, jurisdiction: CN, roles: [SUPPLY_CHAIN_CLIENT, BILL_TRANSFEROR]}
  - id: tier2-a
    name: Tier-2 supplier A
    jurisdiction: CN
    roles: [SUPPLY_CHAIN_CLIENT, BILL_FINANCING_APPLICANT]
  - {id: tier2-b, name: Tier-2 supplier B, jurisdiction: CN, roles: [SUPPLY_CHAIN_CLIENT]}
  - {id: auditor, name: Audit institution, jurisdiction: CN, roles: [AUDITOR]}
  - {id: factor, name: Factor, jurisdiction: CN, roles: [ASSET_MANAGER]}
channels: []
currencies: [CNY]
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


DOCS = {k: sha(k) for k in ("po-A", "po-B", "sub-A", "sub-B", "fin", "past", "bad")}


def make_bills_world(base, founder, accounts) -> World:
    """Registry + BillToken without a cash token (payments off chain), the test consortium."""
    cfg_path, cfg, proj, registry, suite = new_consortium(base, CONSORTIUM_YAML, founder, "CN")
    suite.contracts["BillToken"] = proj.BillToken.deploy(
        registry, "0x" + "00" * 20, "consortium://bills/{id}", {"from": founder}
    )
    members, _ = bootstrap_consortium(suite, cfg, founder, accounts, SEED, fund_wei=10**20)
    path = record_deployment(base, suite, founder)
    keys, addresses = demo_keys(cfg)
    return World(base, suite, cfg_path, path, keys, addresses, members)


@dataclass
class Day:
    world: World
    homes: dict
    agents: dict
    bills: dict
    nodes: dict
    codes: dict
    mid_positions: dict
    first_exit: int
    decided: str
    maturity: str


def chain_day(offset_days: int) -> str:
    now = int(chain.web3().eth.get_block("latest")["timestamp"])
    return (datetime.fromtimestamp(now, UTC) + timedelta(days=offset_days)).date().isoformat()


def positions(home, name: str = "holdings.json") -> dict:
    path = home.outbox / "positions" / name
    return json.loads(path.read_text()) if path.exists() else {}


def decide(home, ident: str, item: str, answer: str, reason: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), CONSORTIUM_PASSPHRASE=PASSPHRASE)
    cmd = [sys.executable, "-m", "consortium.cli", "decide", "--institution", ident]
    cmd += ["--home", str(home.path), item, answer, "--reason", reason]
    return subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _issue(homes, bills_c) -> tuple[dict, str]:
    header = ["request_ref", "receiver", "amount", "currency", "maturity", "documents_sha256"]
    due = chain_day(3)
    core = homes["core"]
    drop(
        core,
        "bill-issues-bad.csv",
        csv_text(header, [["PO-X", "nobody", 5, "CNY", due, DOCS["bad"]]]),
    )
    past = [["PO-P", "tier1", 5, "CNY", "2020-01-01", DOCS["past"]]]
    drop(core, "bill-issues-past.csv", csv_text(header, past))
    rows = [
        ["PO-A", "tier1", FACE_A, "CNY", due, DOCS["po-A"]],
        ["PO-B", "tier1", FACE_B, "CNY", due, DOCS["po-B"]],
    ]
    drop(core, "bill-issues-2026-12.csv", csv_text(header, rows))
    done = alive_until(
        AGENTS, lambda: result_of(core, "done", "bill-issues-2026-12.csv"), TIMEOUT, "the issues"
    )
    a, b = done["result"]["bills"]
    alive_until(AGENTS, lambda: bills_c.node(a)["state"] == 6, TIMEOUT, "bill A reviewed, audited")
    return {"A": a, "B": b}, due


def _decide_b(homes, bills_c, b: int) -> str:
    tier1 = homes["tier1"]
    item = f"bill-review-{b}"
    alive_until(
        AGENTS,
        lambda: (tier1.outbox / "decisions" / f"{item}.json").exists(),
        TIMEOUT,
        "bill B queued for a person at tier1",
    )
    assert bills_c.node(b)["state"] == 1  # nothing decided for the person
    done = decide(tier1, "tier1", item, "accept", "goods checked by the buyer")
    assert done.returncode == 0, done.stderr
    alive_until(AGENTS, lambda: bills_c.node(b)["state"] == 6, TIMEOUT, "bill B accepted, audited")
    return item


def _split(homes, agents, bills_c, bill_a: int) -> tuple[dict, int]:
    """tier1 passes two parts of A, named by A's documents; it is SIGKILLed after the first is
    mined, before booking, and restarted."""
    tier1 = homes["tier1"]
    header = ["request_ref", "from_documents", "to", "amount", "documents_sha256"]
    too_much = [["TR-X", DOCS["po-A"], "tier2-a", FACE_A + 1, DOCS["sub-A"]]]
    drop(tier1, "bill-transfers-too-much.csv", csv_text(header, too_much))
    alive_until(
        AGENTS,
        lambda: result_of(tier1, "rejected", "bill-transfers-too-much.csv"),
        TIMEOUT,
        "the over-drawn transfer refused",
    )
    rows = [
        ["TR-A", DOCS["po-A"], "tier2-a", PART_A, DOCS["sub-A"]],
        ["TR-B", DOCS["po-A"], "tier2-b", PART_B, DOCS["sub-B"]],
    ]
    drop(tier1, "bill-transfers-2026-12.csv", csv_text(header, rows))
    agent = agents["tier1"]
    first_exit = agent.proc.wait(TIMEOUT)
    agent.out.close()
    agent.start()
    agent.wait_log("running roles", TIMEOUT, count=2)
    done = alive_until(
        AGENTS,
        lambda: result_of(tier1, "done", "bill-transfers-2026-12.csv"),
        TIMEOUT,
        "the transfers after the restart",
    )
    ta, tb = done["result"]["nodes"]
    alive_until(
        AGENTS,
        lambda: bills_c.node(ta)["state"] == 6 and bills_c.node(tb)["state"] == 6,
        TIMEOUT,
        "both transfers reviewed and audited",
    )
    return {"TA": ta, "TB": tb}, first_exit


def _finance(homes, bills_c, nodes) -> int:
    header = ["request_ref", "from_documents", "amount", "documents_sha256"]
    t2a = homes["tier2-a"]
    drop(
        t2a,
        "bill-financing-1.csv",
        csv_text(header, [["FIN-1", DOCS["sub-A"], FINANCED, DOCS["fin"]]]),
    )
    done = alive_until(
        AGENTS, lambda: result_of(t2a, "done", "bill-financing-1.csv"), TIMEOUT, "the request"
    )
    (fin,) = done["result"]["nodes"]
    alive_until(
        AGENTS,
        lambda: bills_c.node(fin)["state"] == 6,
        TIMEOUT,
        "financing quoted, accepted, audited, disbursed and confirmed",
    )
    factor = homes["factor"]
    alive_until(
        AGENTS,
        lambda: [h["node_id"] for h in positions(factor).get("holdings", [])] == [fin],
        TIMEOUT,
        "the factor's position",
    )
    return fin


def _redeem(homes, bills_c, bill_a: int) -> None:
    core = homes["core"]
    header = ["batch_ref", "node_id", "holder", "amount", "payment_ref"]

    def owed_a() -> list:
        found = positions(core, "owed.json").get("owed", [])
        return [o for o in found if o["bill_id"] == bill_a and o["amount"]]

    owed = alive_until(AGENTS, lambda: len(owed_a()) == 4 and owed_a(), TIMEOUT, "owed.json")
    rows = [["PAY-A", o["node_id"], o["holder"], o["amount"], "WIRE-A"] for o in owed]
    drop(core, "bill-redemptions-early.csv", csv_text(header, rows))
    alive_until(
        AGENTS,
        lambda: result_of(core, "rejected", "bill-redemptions-early.csv"),
        TIMEOUT,
        "the early redemption refused",
    )
    from brownie import chain as clock

    maturity = int(bills_c.bill(bill_a)["maturity"])
    clock.sleep(maturity - int(chain.web3().eth.get_block("latest")["timestamp"]) + 60)
    clock.mine()
    drop(core, "bill-redemptions-2026-12.csv", csv_text(header, rows))
    alive_until(AGENTS, lambda: bills_c.bill(bill_a)["status"] == 4, TIMEOUT, "bill A settled")


@pytest.fixture(scope="module")
def day(tmp_path_factory, accounts):
    base = tmp_path_factory.mktemp("bills-agents")
    world = make_bills_world(base / "world", accounts[0], accounts)
    extra = {
        "tier1": {"limits": {"bill_review_max_amount": 5_000_000}},
        "tier2-a": {"limits": {"financing_max_rate_bps": 1000}},
        "factor": {"bills": {"rate_bps": RATE}},
    }
    homes = {i: make_home(world, i, base / i, **extra.get(i, {})) for i in IDS}
    agents = {i: AgentProcess(i, homes[i]) for i in IDS}
    AGENTS[:] = [a for i, a in agents.items() if i != "tier1"]
    bills_c = world.suite["BillToken"]
    try:
        for i, a in agents.items():
            a.start(("BillToken.requestTransfer", 1) if i == "tier1" else None)
        for a in agents.values():
            a.wait_log("running roles", TIMEOUT)
        ids, due = _issue(homes, bills_c)
        decided = _decide_b(homes, bills_c, ids["B"])
        nodes, first_exit = _split(homes, agents, bills_c, ids["A"])
        AGENTS[:] = agents.values()
        nodes["FIN"] = _finance(homes, bills_c, nodes)
        mid = {i: positions(homes[i]) for i in IDS if i != "auditor"}
        _redeem(homes, bills_c, ids["A"])
        codes = stop_all(list(agents.values()))
        yield Day(world, homes, agents, ids, nodes, codes, mid, first_exit, decided, due)
    finally:
        for a in agents.values():
            if a.running():
                a.kill()


def _events(day: Day, name: str) -> list:
    bills_c = day.world.suite["BillToken"]
    return list(bills_c.events.get_sequence(day.world.suite.block, event_type=name))


def test_bills_day__issued_reviewed_audited_split_financed_redeemed(day):
    bills_c = day.world.suite["BillToken"]
    a, b = day.bills["A"], day.bills["B"]
    assert int(bills_c.bill(a)["status"]) == 4 and int(bills_c.outstanding(a)) == 0
    assert int(bills_c.bill(a)["redeemed"]) == FACE_A
    assert int(bills_c.bill(b)["status"]) == 2  # active, matured, not redeemed: nobody paid it
    addr = day.world.addresses
    assert int(bills_c.balanceOf(addr["tier1"], b)) == FACE_B
    for node in (a, day.nodes["TA"], day.nodes["TB"], day.nodes["FIN"]):
        for ident in IDS:
            assert int(bills_c.balanceOf(addr[ident], node)) == 0
    fin = bills_c.financing(day.nodes["FIN"])
    assert fin["factor"] == addr["factor"] and int(fin["rateBps"]) == RATE
    assert bills_c.node(day.nodes["FIN"])["parent"] == day.nodes["TA"]


def test_bills_day__mid_day_positions__each_holder_its_holdings(day):
    held = {
        i: {h["node_id"]: h["amount"] for h in p.get("holdings", [])}
        for i, p in day.mid_positions.items()
    }
    a, b, n = day.bills["A"], day.bills["B"], day.nodes
    assert held["tier1"] == {a: FACE_A - PART_A - PART_B, b: FACE_B}
    assert held["tier2-a"] == {n["TA"]: PART_A - FINANCED}
    assert held["tier2-b"] == {n["TB"]: PART_B}
    assert held["factor"] == {n["FIN"]: FINANCED}
    assert held["core"] == {}
    t1 = day.mid_positions["tier1"]["holdings"]
    assert {h["documents_sha256"] for h in t1} == {"0x" + DOCS["po-A"], "0x" + DOCS["po-B"]}
    assert all(h["debtor"] == "core" for h in t1)
    assert {h["maturity_date"] for h in t1} == {day.maturity}
    # after the redemption only B is left, at tier1
    final = {i: positions(day.homes[i]).get("holdings", []) for i in CLIENTS}
    assert [(h["node_id"], h["amount"]) for h in final["tier1"]] == [(b, FACE_B)]
    assert final["tier2-a"] == final["tier2-b"] == []
    assert positions(day.homes["factor"])["holdings"] == []


def test_bills_day__every_record_on_chain_once(day):
    counts = {
        "BillIssueRequested": 2,
        "BillReviewed": 4,
        "BillAudited": 5,
        "BillTransferRequested": 2,
        "BillFinancingRequested": 1,
        "BillFinancingQuoted": 1,
        "BillFinancingAgreed": 1,
        "BillFinancingDisbursed": 1,
        "BillPaymentDeclared": 5,
        "BillPaymentConfirmed": 5,
        "BillRedeemed": 4,
        "BillSettled": 1,
    }
    assert {k: len(_events(day, k)) for k in counts} == counts
    assert all(e["args"]["accepted"] for e in _events(day, "BillReviewed"))
    assert all(e["args"]["approved"] for e in _events(day, "BillAudited"))


def test_bills_day__sigkill_of_tier1_mid_batch__restarted_books_both_from_the_chain_once(day):
    """The file's transfers go out through the agent's pipe in one phase: when the kill comes
    (the first mined, not booked) the second is on chain too; the restarted agent books both from
    the chain and sends nothing again."""
    assert day.first_exit == -9
    tier1 = day.agents["tier1"]
    assert tier1.starts == 2 and tier1.log().count("running roles") == 2
    done = result_of(day.homes["tier1"], "done", "bill-transfers-2026-12.csv")
    assert done["result"]["nodes"] == [day.nodes["TA"], day.nodes["TB"]]
    from consortium.agent.settings import load_settings
    from consortium.store import Store

    store = Store(load_settings(day.homes["tier1"].path).store_url)
    booked = store.intents("booked", ["BillToken.requestTransfer"])
    assert len(booked) == 2 and store.intents("pending") == []
    assert [r["booking"]["source"] for r in booked] == ["chain", "chain"]
    requested = [
        e
        for e in _events(day, "BillTransferRequested")
        if int(e["args"]["nodeId"]) in day.nodes.values()
    ]
    assert len(requested) == 2  # each transfer on chain once


def test_bills_day__queued_review__answered_with_consortium_decide(day):
    tier1 = day.homes["tier1"]
    d = json.loads((tier1.outbox / "decisions" / f"{day.decided}.json").read_text())
    assert d["kind"] == "bill_review" and d["status"] == "acted" and d["answer"] == "accept"
    assert d["subject"]["amount"] == FACE_B and d["subject"]["limit"] == 5_000_000
    outcome = json.loads((tier1.outbox / "decisions" / f"{day.decided}.outcome.json").read_text())
    assert outcome["answer"] == "accept" and outcome["node"] == day.bills["B"]
    again = decide(tier1, "tier1", day.decided, "reject", "too late")
    assert again.returncode == 2 and "answered already" in again.stderr


def test_bills_day__hostile_files__rejected_with_line_and_reason_nothing_sent(day):
    core, tier1 = day.homes["core"], day.homes["tier1"]
    bad = result_of(core, "rejected", "bill-issues-bad.csv")
    assert bad["line"] == 2 and bad["refusal"] == "UnknownReference" and "nobody" in bad["reason"]
    past = result_of(core, "rejected", "bill-issues-past.csv")
    assert past["line"] == 2 and "2020-01-01 is not after the chain's time" in past["reason"]
    much = result_of(tier1, "rejected", "bill-transfers-too-much.csv")
    assert much["line"] == 2 and f"we hold {FACE_A:,}" in much["reason"]
    early = result_of(core, "rejected", "bill-redemptions-early.csv")
    assert early["line"] == 2 and "matures on" in early["reason"]
    bills_c = day.world.suite["BillToken"]
    for doc in ("past", "bad"):
        assert int(bills_c.billOfDocuments(day.world.addresses["core"], "0x" + DOCS[doc])[1]) == 0
    assert int(bills_c.requestOf(day.world.addresses["tier1"], doc_hash("TR-X"))[1]) == 0
    redemptions = bills_c.redemptionOf(day.world.addresses["core"], doc_hash("PAY-A"))
    assert int(redemptions[0]) == 4  # the batch once, by the file sent at maturity
    for ident in ("core", "tier1"):
        assert not list(day.homes[ident].inbox.iterdir())


def test_bills_day__sigterm__every_agent_exits_0_without_errors(day):
    assert_stopped_cleanly(day.codes, day.agents, IDS)


def test_bills_day__homes__no_private_key_of_the_day_anywhere(day):
    assert_no_private_key(day.world.keys, day.homes)
