"""The annuity line played by four agents, each its own OS process, against the test's chain.

The test drops the files a bank's systems would produce (enrolments and plan choices at the service
platform, a payroll at the trustee) and waits for the outcome on chain and in the outboxes; every
decision in between is an agent reacting to a chain event (accounts requested -> opened, batch
received -> posted -> invested, instruction issued -> executed -> feedback -> forwarded -> settled).
Then SIGTERM: each agent exits 0. No Python object is shared with the agents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import requests

from consortium.chain import free_port
from consortium.domain.allocation import split
from tests.agent.harness import (
    ANNUITY_IDS,
    PRICES,
    WAIT_SECONDS,
    AgentProcess,
    alive_until,
    assert_no_private_key,
    assert_stopped_cleanly,
    csv_text,
    drop,
    make_home,
    make_world,
    read_accounts,
    result_of,
    start_all,
    stop_all,
)

EMPLOYEES = {"E-1": "balanced", "E-2": "conservative", "E-3": "balanced", "E-4": "", "E-5": ""}
LATER = {"E-4": "conservative", "E-5": "balanced"}
SWITCH = {"E-1": "conservative"}  # after the payroll is invested: a switch with a reset
FINAL = {e: SWITCH.get(e) or p or LATER[e] for e, p in EMPLOYEES.items()}
AMOUNTS = {"E-1": 150_000, "E-2": 99_999, "E-3": 10_001, "E-4": 230_000, "E-5": 77_777}
RATIOS = {"balanced": [2000, 4000, 4000], "conservative": [6000, 4000]}
TIMEOUT = WAIT_SECONDS
AGENTS: list = []  # the running agent processes (alive_until fails fast when one dies)


@dataclass
class Day:
    world: object
    homes: dict
    agents: dict
    accounts: dict
    exit_codes: dict
    health: dict


def _enrol(homes, ledger) -> dict[str, str]:
    header = ["employee_id", "employer_ref", "trustee", "account_manager", "plan_code"]
    rows = [[e, "ACME-CN", "trustee", "account-manager", p] for e, p in EMPLOYEES.items()]
    drop(homes["annuity-platform"], "enrolments-2026-12.csv", csv_text(header, rows))
    out = homes["annuity-platform"].outbox / "accounts" / "enrolments-2026-12.csv"
    alive_until(AGENTS, out.exists, TIMEOUT, "the platform's account list")
    accounts = read_accounts(homes["annuity-platform"], "enrolments-2026-12")
    alive_until(
        AGENTS,
        lambda: all(ledger.getAccount(a)["status"] == 2 for a in accounts.values()),
        TIMEOUT,
        "the account manager to open every account",
    )
    return accounts


def _choose(homes, ledger, accounts) -> None:
    header = ["employee_id", "plan_code", "version", "reset"]
    drop(
        homes["annuity-platform"],
        "plan-choices-2026-12.csv",
        csv_text(header, [[e, p, "", "no"] for e, p in LATER.items()]),
    )
    alive_until(
        AGENTS,
        lambda: all(int(ledger.getAccount(a)["planVersion"]) == 1 for a in accounts.values()),
        TIMEOUT,
        "every employee's plan on chain",
    )


def _pay(homes, accounts) -> None:
    header = ["payroll_ref", "employee_id", "amount", "period", "account_id"]
    trustee = homes["trustee"]
    drop(trustee, "contributions-bad.csv", csv_text(header, [["PAY-X", "E-1", 5, "2026-12", ""]]))
    rows = [["PAY-2026-12", e, AMOUNTS[e], "2026-12", accounts[e]] for e in EMPLOYEES]
    drop(trustee, "contributions-2026-12.csv", csv_text(header, rows))

    def statements() -> bool:
        folder = homes["annuity-platform"].outbox / "statements"
        found = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
        return len(found) == len(EMPLOYEES) and all(
            s["contributed"] == AMOUNTS[e] and s["cash"] == 0 for e, s in found.items()
        )

    alive_until(AGENTS, statements, TIMEOUT, "every employee's statement, invested")


def _switch(homes, ledger, accounts) -> None:
    """E-1 moves its holdings to another plan: the platform sends the choice, the account manager
    resets the holdings, the investment manager executes, the trustee forwards the feedback."""
    header = ["employee_id", "plan_code", "version", "reset"]
    drop(
        homes["annuity-platform"],
        "plan-choices-switch.csv",
        csv_text(header, [[e, p, "", "yes"] for e, p in SWITCH.items()]),
    )
    platform = homes["annuity-platform"]
    enrol_header = ["employee_id", "employer_ref", "trustee", "account_manager", "plan_code"]
    dup = [
        ["E-9", "ACME-CN", "trustee", "account-manager", ""],
        ["E-1", "ACME-CN", "trustee", "account-manager", ""],
    ]
    drop(platform, "enrolments-dup.csv", csv_text(enrol_header, dup))
    drop(platform, "plan-choices-unknown.csv", csv_text(header, [["E-404", "balanced", "", "no"]]))
    for name in ("enrolments-dup.csv", "plan-choices-unknown.csv"):
        alive_until(AGENTS, lambda n=name: result_of(platform, "rejected", n), TIMEOUT, name)
    account = accounts["E-1"]
    alive_until(
        AGENTS,
        lambda: ledger.instructionCount() == len(EMPLOYEES) + 1
        and ledger.getInstruction(len(EMPLOYEES) + 1)["status"] == 4
        and ledger.getAccount(account)["openInstruction"] == 0,
        TIMEOUT,
        "E-1's reset instruction settled",
    )


@pytest.fixture(scope="module")
def day(tmp_path_factory, accounts):
    base = tmp_path_factory.mktemp("annuity-agents")
    world = make_world(base / "world", accounts[0], accounts)
    ports = {i: free_port() for i in ANNUITY_IDS}
    homes = {
        i: make_home(
            world,
            i,
            base / i,
            annuity={"investment_manager": "investment-manager", "prices": PRICES, "batch_size": 2},
            listen=f"127.0.0.1:{ports[i]}",
            peers={j: f"http://127.0.0.1:{p}" for j, p in ports.items() if j != i},
        )
        for i in ANNUITY_IDS
    }
    agents = {i: AgentProcess(i, homes[i]) for i in ANNUITY_IDS}
    AGENTS[:] = agents.values()
    ledger = world.suite["AnnuityLedger"]
    try:
        start_all(list(agents.values()))
        health = {
            i: requests.get(f"http://127.0.0.1:{p}/v1/health", timeout=10).json()
            for i, p in ports.items()
        }
        accounts_of = _enrol(homes, ledger)
        _choose(homes, ledger, accounts_of)
        _pay(homes, accounts_of)
        _switch(homes, ledger, accounts_of)
        codes = stop_all(list(agents.values()))
        yield Day(world, homes, agents, accounts_of, codes, health)
    finally:
        for a in agents.values():
            if a.running():
                a.kill()


def test_annuity_day__four_agent_processes__every_employee_invested_by_plan(day):
    ledger = day.world.suite["AnnuityLedger"]
    for emp, account in day.accounts.items():
        a = ledger.getAccount(account)
        plan = FINAL[emp]
        assert a["planCode"] == "0x" + plan.encode().ljust(32, b"\0").hex()
        assert (a["contributed"], a["cash"], a["openInstruction"]) == (AMOUNTS[emp], 0, 0)
        items, _units, values = ledger.holdingsOf(account)
        assert len(items) == len(RATIOS[plan])
        # invested at the investment manager's prices: each leg's value within a minor unit
        for value, leg in zip(values, split(AMOUNTS[emp], RATIOS[plan])):
            assert leg - 1 <= value <= leg
    assert ledger.instructionCount() == len(EMPLOYEES) + len(SWITCH)  # one First each, one Reset
    assert all(ledger.getInstruction(i)["status"] == 4 for i in range(1, len(EMPLOYEES) + 2))
    assert ledger.getInstruction(len(EMPLOYEES) + 1)["kind"] == 1  # Reset
    assert not ledger.getAccount(day.accounts["E-1"])["resetPending"]


def test_annuity_day__payroll__three_batches_each_on_chain_once_and_posted(day):
    ledger = day.world.suite["AnnuityLedger"]
    assert ledger.batchCount() == 3  # 5 accounts, batch_size 2
    for batch_id in (1, 2, 3):
        assert ledger.getContributionBatch(batch_id)["posted"]
    result = result_of(day.homes["trustee"], "done", "contributions-2026-12.csv")
    assert result["status"] == "done" and result["result"]["batches"] == [1, 2, 3]


def test_annuity_day__statements__in_the_platform_outbox_add_up(day):
    folder = day.homes["annuity-platform"].outbox / "statements"
    for emp in EMPLOYEES:
        s = json.loads((folder / f"{emp}.json").read_text())
        assert s["contributed"] == AMOUNTS[emp] and s["cash"] == 0
        assert s["total"] == s["invested"] and s["total"] - s["contributed"] == s["total_return"]


def test_annuity_day__statements__batched_reads_same_as_one_by_one(day):
    """The platform reads a range's statements in JSON-RPC batches: each is what reading the
    employee's valuation and holdings one at a time gives. (Employees whose plan was switched
    are left out: the day's fixture stops the agents once the reset is settled on chain, which
    may be before the platform's last statement of it.)"""
    ledger = day.world.suite["AnnuityLedger"]
    folder = day.homes["annuity-platform"].outbox / "statements"
    for emp, account in day.accounts.items():
        if emp in SWITCH:
            continue
        s = json.loads((folder / f"{emp}.json").read_text())
        invested, cash, contributed, total_return = ledger.valuation(account)
        items, units, values = ledger.holdingsOf(account)
        assert (s["invested"], s["cash"], s["contributed"], s["total_return"]) == (
            invested,
            cash,
            contributed,
            total_return,
        )
        assert s["holdings"] == [
            {"item": str(i), "units": str(u), "value": v} for i, u, v in zip(items, units, values)
        ]


def test_annuity_day__inbox__good_files_done_bad_file_rejected_with_line_and_reason(day):
    platform, trustee = day.homes["annuity-platform"], day.homes["trustee"]
    for name in ("enrolments-2026-12.csv", "plan-choices-2026-12.csv", "plan-choices-switch.csv"):
        assert result_of(platform, "done", name)["status"] == "done"
    assert result_of(platform, "done", "enrolments-2026-12.csv")["result"] == {
        "employees": 5,
        "accounts_requested": 5,
    }
    bad = result_of(trustee, "rejected", "contributions-bad.csv")
    assert bad["status"] == "rejected" and bad["line"] == 2 and "account_id" in bad["reason"]
    dup = result_of(platform, "rejected", "enrolments-dup.csv")
    assert dup["line"] == 3 and "'E-1' is enrolled already" in dup["reason"]
    unknown = result_of(platform, "rejected", "plan-choices-unknown.csv")
    assert unknown["line"] == 2 and "'E-404' is not enrolled" in unknown["reason"]
    # nothing of a refused file was kept or sent: E-9 is in no register, no account was requested
    from consortium.agent.settings import load_settings
    from consortium.store import Store

    store = Store(load_settings(platform.path).store_url)
    assert store.get("annuity.employee", "E-9") is None
    ledger = day.world.suite["AnnuityLedger"]
    requested = ledger.events.get_sequence(
        day.world.suite.block, event_type="AccountOpeningRequested"
    )
    assert len(requested) == len(EMPLOYEES)
    assert not list(platform.inbox.iterdir()) and not list(trustee.inbox.iterdir())


def test_annuity_day__sigterm__every_agent_exits_0_with_nothing_pending(day):
    from consortium.agent.settings import load_settings
    from consortium.store import Store

    assert_stopped_cleanly(day.exit_codes, day.agents, ANNUITY_IDS)
    for ident in day.agents:
        store = Store(load_settings(day.homes[ident].path).store_url)
        assert store.intents("pending") == []


def test_annuity_day__homes__no_private_key_of_the_day_anywhere(day):
    assert_no_private_key(day.world.keys, day.homes)


def test_annuity_day__transport__each_agent_served_its_endpoint_as_its_own_address(day):
    assert day.health == {
        i: {"status": "ok", "address": day.world.addresses[i]} for i in ANNUITY_IDS
    }
    for agent in day.agents.values():
        assert "serving http://127.0.0.1:" in agent.log()
