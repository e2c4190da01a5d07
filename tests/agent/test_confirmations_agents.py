"""The confirmations and reconciliation line played by five agents, each its own OS process.

The test drops the files a bank's systems would produce (customers and orders at the sales bank,
credits at the bank, debits at the finance company) and waits for the outcome on chain and in the
outboxes: registrations decided by the issuers, orders screened, packets confirmed (one held for a
person at the second issuer and answered with `consortium decide`), anchored once each, the day
reconciled at the reconciler's cut-off with its injected breaks. The sales bank is SIGKILLed right
after its first "registrations" message went and before it marked it sent (restarted, it sends that
message again: every registration decided once, answered once), then right after its first packet
is anchored and before it books it; restarted, it finishes with every record on chain once. A garbage message sent to an issuer is set aside without blocking its queue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from consortium import chain
from consortium.agent.lines.confirmations import product_rules
from consortium.agent.settings import load_settings
from consortium.agent.transport import HttpTransport
from consortium.bootstrap import bootstrap_consortium
from consortium.chain import free_port
from consortium.deploy import deploy_confirmations
from consortium.domain import days
from consortium.domain.reconciliation import AMOUNT_MISMATCH, DEBIT, MISSING
from consortium.roles.confirmations import ANCHOR_PACKET
from consortium.store import Store, journal
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
    start_all,
    stop_all,
)

IDS = ("sales-bank", "wm-issuer-1", "wm-issuer-2", "finance-company", "reconciler")
TIMEOUT = WAIT_SECONDS
LIMIT = 1_000_000  # wm-issuer-2: orders above it wait for a person

CONSORTIUM_YAML = """\
version: 1
consortium: {name: Confirmations agent test, founder: Test permission manager, jurisdiction: CN}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: Test regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: sales-bank, name: Test sales bank, jurisdiction: CN, roles: [SALES_BANK, BANK]}
  - {id: wm-issuer-1, name: Test issuer 1, jurisdiction: CN, roles: [PRODUCT_ISSUER]}
  - {id: wm-issuer-2, name: Test issuer 2, jurisdiction: CN, roles: [PRODUCT_ISSUER]}
  - {id: finance-company, name: Test finance company, jurisdiction: CN, roles: [FINANCE_COMPANY]}
  - {id: reconciler, name: Test reconciler, jurisdiction: CN, roles: [RECONCILER]}
channels:
  - [sales-bank, wm-issuer-1]
  - [sales-bank, wm-issuer-2]
  - [sales-bank, finance-company]
  - [reconciler, sales-bank]
  - [reconciler, finance-company]
currencies: [CNY]
products:
  wealth:
    - {id: WM-001, issuer: wm-issuer-1, risk_level: 2, min_age: 18}
    - {id: WM-002, issuer: wm-issuer-1, risk_level: 4, min_age: 18}
    - {id: WM-101, issuer: wm-issuer-2, risk_level: 3, min_age: 21}
"""

PAYMENTS = {900000001 + k: 10_000 * (k + 1) for k in range(6)}
MISSING_DEBIT, CHANGED_DEBIT = 900000002, 900000004  # the breaks the finance company's file holds
AGENTS: list = []  # the sales bank first
KILLS: list = []  # the sales bank's exit codes of its kills, in order


@dataclass
class Day:
    world: World
    homes: dict
    agents: dict
    exit_codes: dict
    kill_code: int
    recon_day: int
    decision_item: str
    listed: str


def _world(base: Path, founder, accounts) -> World:
    """Registry and the confirmations line deployed, the consortium admitted, the products' rules
    agreed by both parties and enacted by the permission manager."""
    cfg_path, cfg, proj, registry, suite = new_consortium(base, CONSORTIUM_YAML, founder, "CN")
    suite.contracts.update(deploy_confirmations(proj, registry, founder))
    members, manager = bootstrap_consortium(suite, cfg, founder, accounts, SEED, fund_wei=10**20)
    keys, addresses = demo_keys(cfg)
    bank = members.by_name["sales-bank"]
    for rules in product_rules(cfg, addresses, bank.address).values():
        issuer = next(i for i in members.by_name.values() if i.address == rules.issuer)
        for party in (bank, issuer):
            party.approve_amendment(rules.terms_id, bank.address, rules.issuer, rules.terms_hash())
        manager.enact(rules.terms_id, bank.address, rules.issuer, rules.terms_hash())
    path = record_deployment(base, suite, founder)
    return World(base, suite, cfg_path, path, keys, addresses, members)


def _chain_date(offset_days: int = 0) -> datetime:
    now = int(chain.web3().eth.get_block("latest")["timestamp"])
    return datetime.fromtimestamp(now, UTC) + timedelta(days=offset_days)


def _register(homes, today) -> None:
    under_age = today.replace(year=today.year - 17).date().isoformat()
    rows = [
        ["C-1", "wm-issuer-1", "1980-04-02", 5, "yes"],
        ["C-1", "wm-issuer-2", "1980-04-02", 5, "yes"],
        ["C-2", "wm-issuer-1", "1990-01-01", 2, "yes"],
        ["C-2", "wm-issuer-2", "1990-01-01", 2, "yes"],
        ["C-3", "wm-issuer-1", under_age, 5, "yes"],
        ["C-4", "wm-issuer-2", "1975-06-30", 5, "no"],
    ]
    header = ["customer_id", "issuer", "birth_date", "risk_level", "kyc_ok"]
    drop(homes["sales-bank"], "customers-2026-12.csv", csv_text(header, rows))
    bank = AGENTS[0]  # killed after its first registrations message, before marking it
    others = [a for a in AGENTS if a is not bank]
    alive_until(others, lambda: not bank.running(), TIMEOUT, "the sales bank's first kill")
    KILLS.append(bank.proc.wait())
    bank.out.close()
    bank.start(kill_at=(ANCHOR_PACKET, 1))
    bank.wait_log("running roles", TIMEOUT, count=bank.starts)
    folder = homes["sales-bank"].outbox / "registrations"
    alive_until(
        AGENTS, lambda: len(list(folder.glob("*.json"))) == len(rows), TIMEOUT, "registrations"
    )


ORDER_HEADER = ["order_id", "customer_id", "product", "kind", "amount", "shares", "order_date"]


def _orders(today: str) -> list[list]:
    return [
        ["O-1", "C-1", "WM-001", "subscription", 500_000, 0, today],
        ["O-2", "C-2", "WM-002", "subscription", 300_000, 0, today],  # risk 2 < 4
        ["O-3", "C-3", "WM-001", "subscription", 10_000, 0, today],  # 17 years old
        ["O-4", "C-1", "WM-101", "subscription", 2_000_000, 0, today],  # above LIMIT: a person
        # a redemption by the 17-year-old: never refused on the purchase rules (age), but no shares
        # are held yet (the holding grows with confirmed subscriptions): SHARES_EXCEED_HOLDING
        ["O-5", "C-3", "WM-001", "redemption", 100_000, 10, today],
        ["O-6", "C-4", "WM-101", "subscription", 10_000, 0, today],  # the issuer refused C-4
        ["O-7", "C-1", "WM-101", "subscription", 200_000, 0, today],
        ["O-8", "C-1", "WM-001", "subscription", 60 * LIMIT, 0, today],  # refused by issuer 1
    ]


def _hostile_orders(homes, today: str) -> None:
    bank = homes["sales-bank"]
    unknown = [
        ["O-10", "C-1", "WM-001", "subscription", 1_000, 0, today],
        ["O-11", "C-404", "WM-001", "subscription", 1_000, 0, today],
    ]
    drop(bank, "orders-unknown-customer.csv", csv_text(ORDER_HEADER, unknown))
    bad = [["O-12", "C-1", "WM-001", "subscription", "12.50", 0, today]]
    drop(bank, "orders-bad-amount.csv", csv_text(ORDER_HEADER, bad))
    for name in ("orders-unknown-customer.csv", "orders-bad-amount.csv"):
        alive_until(AGENTS, lambda n=name: result_of(bank, "rejected", n), TIMEOUT, name)


def _garbage_to_issuer(base: Path, world: World, url: str) -> None:
    """A member (the sales bank's key) delivers a message whose content is no envelope: the
    transport accepts it (signed by a member over an open channel), the issuer's endpoint cannot
    open it and sets it aside."""
    sender = Account.from_key(world.keys["sales-bank"])
    transport = HttpTransport(Store(f"sqlite:///{base / 'hostile.sqlite'}"), sender, {})
    issuer = world.addresses["wm-issuer-1"]
    transport.peers[issuer.lower()] = url
    transport.put(issuer, "garbage-0001", b"this is not an envelope")
    assert transport.outgoing("delivered"), transport.outgoing()


def _decide(home, item: str | None = None) -> str:
    args = ["decide", "--institution", "wm-issuer-2", "--home", str(home.path)]
    if item is not None:
        args += [item, "accept", "--reason", "client known, amount checked by the desk"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), CONSORTIUM_PASSPHRASE=PASSPHRASE)
    out = subprocess.run(
        [sys.executable, "-m", "consortium.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def _confirmed_files(homes) -> dict[str, dict]:
    folder = homes["sales-bank"].outbox / "confirmations"
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _confirm_day(homes, agents, today: str) -> tuple[int, str, str]:
    """Orders dropped; the sales bank dies after its first anchor and is restarted; the held order
    is accepted by a person; both packets confirmed. Returns the kill's exit code, the decision."""
    drop(homes["sales-bank"], "orders-2026-12.csv", csv_text(ORDER_HEADER, _orders(today)))
    bank = agents["sales-bank"]
    others = [a for a in AGENTS if a is not bank]
    alive_until(others, lambda: not bank.running(), TIMEOUT, "the sales bank's kill")
    kill_code = bank.proc.wait()
    bank.out.close()
    bank.start()
    bank.wait_log("running roles", TIMEOUT, count=bank.starts)
    alive_until(AGENTS, lambda: len(_confirmed_files(homes)) == 1, TIMEOUT, "issuer 1's packet")
    folder = homes["wm-issuer-2"].outbox / "decisions"
    alive_until(AGENTS, lambda: list(folder.glob("*.json")), TIMEOUT, "issuer 2's decision")
    listed = _decide(homes["wm-issuer-2"])
    item = listed.split()[0]
    _decide(homes["wm-issuer-2"], item)
    alive_until(AGENTS, lambda: len(_confirmed_files(homes)) == 2, TIMEOUT, "issuer 2's packet")
    return kill_code, item, listed


def _reconcile(homes, day: int) -> None:
    date = days.day_date(day)
    start = datetime.fromtimestamp(days.day_bounds(day)[0], UTC)

    def rows(counterparty: str, skip: int = 0, changed: int = 0) -> list[list]:
        out = []
        for k, (pid, amount) in enumerate(PAYMENTS.items()):
            if pid == skip:
                continue
            at = (start + timedelta(hours=9 + k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.append([pid, amount + (7 if pid == changed else 0), at, counterparty, date])
        return out

    header = ["payment_id", "amount", "paid_at", "counterparty", "day"]
    drop(homes["sales-bank"], f"credits-{date}.csv", csv_text(header, rows("finance-company")))
    debits = rows("sales-bank", skip=MISSING_DEBIT, changed=CHANGED_DEBIT)
    drop(homes["finance-company"], f"debits-{date}.csv", csv_text(header, debits))
    for ident in ("reconciler", "sales-bank", "finance-company"):
        folder = homes[ident].outbox / "reconciliations"
        alive_until(
            AGENTS, lambda f=folder: list(f.glob("*.json")), TIMEOUT, f"{ident}'s day result"
        )


@pytest.fixture(scope="module")
def day(tmp_path_factory, accounts):
    base = tmp_path_factory.mktemp("confirmations-agents")
    world = _world(base / "world", accounts[0], accounts)
    ports = {i: free_port() for i in IDS}
    special = {
        "wm-issuer-1": {"limits": {"order_review_max_amount": 50 * LIMIT}},
        "wm-issuer-2": {
            "decisions": {"order_review": "queue"},
            "limits": {"order_review_max_amount": LIMIT},
        },
        "reconciler": {"confirmations": {"cutoff": "now"}},
    }
    homes = {
        i: make_home(
            world,
            i,
            base / i,
            listen=f"127.0.0.1:{ports[i]}",
            peers={j: f"http://127.0.0.1:{p}" for j, p in ports.items() if j != i},
            **special.get(i, {}),
        )
        for i in IDS
    }
    agents = {i: AgentProcess(i, homes[i]) for i in IDS}
    AGENTS[:] = agents.values()
    try:
        agents["sales-bank"].start(kill_at=("message:registrations", 1))
        start_all([a for i, a in agents.items() if i != "sales-bank"])
        agents["sales-bank"].wait_log("running roles", TIMEOUT)
        _garbage_to_issuer(base, world, f"http://127.0.0.1:{ports['wm-issuer-1']}")
        today = _chain_date()
        _register(homes, today)
        _hostile_orders(homes, today.date().isoformat())
        kill_code, item, listed = _confirm_day(homes, agents, today.date().isoformat())
        recon_day = days.parse_day(_chain_date(-2).date())
        _reconcile(homes, recon_day)
        codes = stop_all(list(agents.values()))
        yield Day(world, homes, agents, codes, kill_code, recon_day, item, listed)
    finally:
        for a in agents.values():
            if a.running():
                a.kill()


def _events(day: Day, contract: str, name: str) -> list:
    c = day.world.suite[contract]
    return [e.args for e in c.events.get_sequence(day.world.suite.block, event_type=name)]


def _store(day: Day, ident: str) -> Store:
    return Store(load_settings(day.homes[ident].path).store_url)


def _handled(day: Day, ident: str, kind: str) -> int:
    """How many messages of `kind` the institution handled (its journal's `conf.msg:` steps)."""
    store = _store(day, ident)
    with store.engine.connect() as c:
        steps = c.execute(select(journal.c.step).where(journal.c.ref == kind)).all()
    return sum(1 for (step,) in steps if step.startswith("conf.msg:"))


def test_confirmations_day__orders__screened_confirmed_and_each_packet_anchored_once(day):
    files = _confirmed_files(day.homes)
    by_issuer = {f["issuer"]: f for f in files.values()}
    assert set(by_issuer) == {"wm-issuer-1", "wm-issuer-2"}
    orders = {i: sorted(r["order_id"] for r in f["records"]) for i, f in by_issuer.items()}
    assert orders == {"wm-issuer-1": ["O-1", "O-8"], "wm-issuer-2": ["O-4", "O-7"]}
    status = {
        r["order_id"]: (r["status"], r["amount"]) for f in files.values() for r in f["records"]
    }
    assert status["O-8"] == ("refused", 0)  # above issuer 1's limit, its policy auto: refused
    reasons = {r["order_id"]: r["reason"] for f in files.values() for r in f["records"]}
    assert reasons["O-8"] == "REFUSED_ON_ORDER_REVIEW"  # the reason the signed confirmation carries
    assert all(reasons[o] is None for o in ("O-1", "O-4", "O-7"))
    assert all(s == "confirmed" for o, (s, _) in status.items() if o != "O-8")
    held = next(r for r in by_issuer["wm-issuer-2"]["records"] if r["order_id"] == "O-4")
    assert held["amount"] == 2_000_000
    anchored = _events(day, "ConfirmationAnchor", "PacketAnchored")
    bank = day.world.addresses["sales-bank"]
    assert len(anchored) == 2  # one per packet, none twice despite the kill
    roots = {f["root"]: f for f in files.values()}
    for ev in anchored:
        f = roots["0x" + bytes(ev["root"]).hex()]
        assert ev["salesBank"] == bank and ev["issuer"] == day.world.addresses[f["issuer"]]
        n = len(f["records"])
        assert ev["count"] == n and days.day_date(int(ev["period"])) == f["period"]
        by, _, count, _ = day.world.suite["ConfirmationAnchor"].anchorOf(bank, ev["root"])
        assert by == bank and count == n


def test_confirmations_day__screening__refusals_with_reasons_in_result_and_outbox(day):
    result = result_of(day.homes["sales-bank"], "done", "orders-2026-12.csv")["result"]
    assert (result["orders"], result["sent"], result["packets"]) == (8, 4, 2)
    codes = {r["order_id"]: r["codes"] for r in result["refused"]}
    assert codes == {
        "O-2": ["RISK_LEVEL_BELOW_PRODUCT_RISK"],
        "O-3": ["UNDER_MIN_AGE"],
        "O-5": ["SHARES_EXCEED_HOLDING"],
        "O-6": ["NOT_REGISTERED_WITH_ISSUER"],
    }
    screening = day.homes["sales-bank"].outbox / "screening" / "orders-2026-12.json"
    assert json.loads(screening.read_text())["refused"] == result["refused"]


def test_confirmations_day__registrations__decided_on_chain_once_each_despite_a_kill(day):
    assert KILLS == [-9]  # after the first registrations message went, before its mark
    submitted = _events(day, "ConfirmationAnchor", "RegistrationSubmitted")
    decided = _events(day, "ConfirmationAnchor", "RegistrationDecided")
    assert len(submitted) == len(decided) == 6
    store = _store(day, "sales-bank")
    sent = [r for c in store.all("conf.customer").values() for r in c["registrations"].values()]
    assert len(sent) == 6 and {r["status"] for r in sent} == {"accepted", "rejected"}
    # issuer 1 got its batch twice (the kill came between the send and its mark); each issuer
    # answered once
    handled = {i: _handled(day, i, "registrations") for i in ("wm-issuer-1", "wm-issuer-2")}
    assert handled == {"wm-issuer-1": 2, "wm-issuer-2": 1}
    assert _handled(day, "sales-bank", "registration-results") == 2
    assert sorted(bool(e["accepted"]) for e in decided) == [False] + [True] * 5
    folder = day.homes["sales-bank"].outbox / "registrations"
    c4 = json.loads((folder / "C-4-wm-issuer-2.json").read_text())
    assert c4["status"] == "rejected"


def test_confirmations_day__decision__held_order_queued_then_accepted_by_decide(day):
    assert day.decision_item.startswith("order-") and "order_review" in day.listed
    d = _store(day, "wm-issuer-2").get("decision", day.decision_item)
    assert (d["answer"], d["status"]) == ("accept", "acted")
    assert d["subject"]["amount"] == 2_000_000 and d["subject"]["limit"] == LIMIT
    assert _store(day, "wm-issuer-1").all("decision") == {}  # within its limit: automatic


def test_confirmations_day__hostile_files__rejected_with_line_and_reason_nothing_sent(day):
    bank = day.homes["sales-bank"]
    unknown = result_of(bank, "rejected", "orders-unknown-customer.csv")
    assert unknown["line"] == 3 and "'C-404' is not known here" in unknown["reason"]
    bad = result_of(bank, "rejected", "orders-bad-amount.csv")
    assert bad["line"] == 2 and "amount" in bad["reason"]
    store = _store(day, "sales-bank")
    assert store.get("conf.order", "O-10") is None and store.get("conf.order", "O-12") is None
    sent = {r["order_id"] for f in _confirmed_files(day.homes).values() for r in f["records"]}
    assert not sent & {"O-10", "O-11", "O-12"}
    assert not list(bank.inbox.iterdir())


def test_confirmations_day__garbage_message__set_aside_and_the_queue_went_on(day):
    refused = _store(day, "wm-issuer-1").get("conf.refused", "garbage-0001")
    assert refused is not None and refused["reason"].startswith(
        "EnvelopeMalformed: not an envelope"
    )
    assert "message garbage-0001 set aside" in day.agents["wm-issuer-1"].log()


def test_confirmations_day__reconciliation__breaks_found_recorded_and_sent_to_both(day):
    recon = day.world.suite["Reconciliation"]
    reconciled = _events(day, "Reconciliation", "DayReconciled")
    breaks = _events(day, "Reconciliation", "BreakRecorded")
    assert len(reconciled) == 1 and len(_events(day, "Reconciliation", "BilateralCommitted")) == 1
    found = sorted((int(b["cause"]), int(b["side"])) for b in breaks)
    assert found == sorted([(MISSING, DEBIT), (AMOUNT_MISMATCH, DEBIT)])
    bank, fc = day.world.addresses["sales-bank"], day.world.addresses["finance-company"]
    d = recon.getDay(recon.dayKey(bank, fc, day.recon_day))
    assert d["reconciled"] and d["committedTotal"] == sum(PAYMENTS.values())
    for ident in ("reconciler", "sales-bank", "finance-company"):
        (path,) = (day.homes[ident].outbox / "reconciliations").glob("*.json")
        body = json.loads(path.read_text())
        assert body["day"] == day.recon_day and len(body["breaks"]) == 2
        assert body["corrected_total"] == sum(PAYMENTS.values())
        assert body["matched"] == len(PAYMENTS) - 2


def test_confirmations_day__kill__sales_bank_killed_after_anchoring_finished_once(day):
    assert day.kill_code == -9 and day.agents["sales-bank"].starts == 3
    store = _store(day, "sales-bank")
    assert store.intents("pending") == []
    booked = store.intents("booked", [ANCHOR_PACKET])
    assert len(booked) == 2
    done = list((day.homes["sales-bank"].folder("done")).glob("*.result.json"))
    assert sorted(p.name for p in done) == sorted(
        [
            "customers-2026-12.csv.result.json",
            "orders-2026-12.csv.result.json",
            f"credits-{days.day_date(day.recon_day)}.csv.result.json",
        ]
    )


def test_confirmations_day__sigterm__every_agent_exits_0(day):
    assert_stopped_cleanly(day.exit_codes, day.agents, IDS)


def test_confirmations_day__homes__no_private_key_of_the_day_anywhere(day):
    assert_no_private_key(day.world.keys, day.homes)
