"""Agents stopped in the middle of a batch: SIGKILL (nothing lost, nothing sent twice) and SIGTERM
(the step in flight finishes and is booked, exit 0); then a payroll over the trustee's limit waits
for a person's `consortium decide` while the agent runs.

The trustee's payroll goes on chain one keyed batch per account (batch_size 1), so a file is many
transactions; the test waits until the trustee's log shows a batch booked and stops it there. After
a restart, every batch is on chain once (batchOfRef per reference, one ContributionBatchReceived
each), every intent in its store is booked as the chain holds it, and the file is done once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from consortium.agent.inbox import JOURNAL
from consortium.agent.settings import load_settings
from consortium.domain.hashing import doc_hash
from consortium.roles.annuity import POST, RECEIVE
from consortium.store import Store
from tests.agent.harness import (
    ANNUITY_IDS,
    PRICES,
    ROOT,
    WAIT_SECONDS,
    AgentProcess,
    alive_until,
    csv_text,
    drop,
    make_home,
    make_world,
    read_accounts,
    result_of,
    start_all,
    stop_all,
)
from tests.faults.helpers import logs_since

N = 10  # employees: one batch each
TIMEOUT = WAIT_SECONDS


@pytest.fixture(autouse=True)
def isolation():
    """No per-test rollback here: the agents outside keep their state across this module's tests."""
    yield


@pytest.fixture(scope="module")
def world(tmp_path_factory, accounts):
    base = tmp_path_factory.mktemp("agent-kill")
    world = make_world(base / "world", accounts[0], accounts)
    settings = {"investment_manager": "investment-manager", "prices": PRICES, "batch_size": 1}
    review = {  # the trustee asks a person about a payroll run above 1,000,000
        "limits": {"contribution_max_total": 1_000_000},
        "decisions": {"contribution_review": "queue"},
    }
    homes = {
        i: make_home(world, i, base / i, annuity=settings, **(review if i == "trustee" else {}))
        for i in ANNUITY_IDS
    }
    agents = {i: AgentProcess(i, homes[i]) for i in ANNUITY_IDS}
    world.homes, world.agents = homes, agents
    ledger = world.suite["AnnuityLedger"]
    try:
        start_all(list(agents.values()))
        header = ["employee_id", "employer_ref", "trustee", "account_manager", "plan_code"]
        rows = [[f"K-{k}", "ACME", "trustee", "account-manager", "balanced"] for k in range(N)]
        drop(homes["annuity-platform"], "enrolments-k.csv", csv_text(header, rows))
        out = homes["annuity-platform"].outbox / "accounts" / "enrolments-k.csv"
        alive_until(list(agents.values()), out.exists, TIMEOUT, "the account list")
        world.accounts = read_accounts(homes["annuity-platform"], "enrolments-k")
        alive_until(
            list(agents.values()),
            lambda: all(ledger.getAccount(a)["planVersion"] == 1 for a in world.accounts.values()),
            TIMEOUT,
            "accounts open with their plan",
        )
        yield world
        stop_all(list(agents.values()))
    finally:
        for a in agents.values():
            if a.running():
                a.kill()


def _payroll(world, ref: str, amount: int) -> str:
    header = ["payroll_ref", "employee_id", "amount", "period", "account_id"]
    rows = [[ref, e, amount, "2026-12", a] for e, a in world.accounts.items()]
    name = f"contributions-{ref}.csv"
    drop(world.homes["trustee"], name, csv_text(header, rows))
    return name


def _store(world, ident: str) -> Store:
    return Store(load_settings(world.homes[ident].path).store_url)


def _invested(world, total: int) -> None:
    ledger = world.suite["AnnuityLedger"]
    alive_until(
        list(world.agents.values()),
        lambda: all(
            ledger.getAccount(a)["contributed"] == total
            and ledger.getAccount(a)["cash"] == 0
            and ledger.getAccount(a)["openInstruction"] == 0
            for a in world.accounts.values()
        ),
        TIMEOUT,
        f"every account contributed {total} and invested",
    )


def _booked_as_on_chain(world, ref: str) -> list[int]:
    """The trustee's bookings of the payroll's batches, each as the chain holds its reference."""
    ledger = world.suite["AnnuityLedger"]
    rows = [
        r
        for r in _store(world, "trustee").intents(kinds=[RECEIVE])
        if r["args"][0] in {"0x" + doc_hash(f"{ref}#{n}").hex() for n in range(N)}
    ]
    assert all(r["status"] == "booked" for r in rows), rows
    ids = []
    for r in rows:
        batch_id, block = ledger.batchOfRef(r["args"][0])
        assert r["booking"]["value"]["batchId"] == batch_id and block > 0
        ids.append(int(batch_id))
    return ids


def test_trustee__sigkill_in_the_middle_of_a_payroll__restarted_every_batch_once(world, web3):
    trustee, ledger = world.agents["trustee"], world.suite["AnnuityLedger"]
    start, before = web3.eth.block_number + 1, int(ledger.batchCount())
    name = _payroll(world, "PAY-KILL", 1_000)
    trustee.wait_log("contribution batch 2/10 of PAY-KILL booked", TIMEOUT)
    assert trustee.kill() == -signal.SIGKILL
    assert result_of(world.homes["trustee"], "done", name) is None  # killed before the file's end
    died_at = int(ledger.batchCount()) - before
    assert 2 <= died_at <= N

    start_all([trustee])
    _invested(world, 1_000)
    assert int(ledger.batchCount()) - before == N
    assert len(logs_since(web3, ledger, "ContributionBatchReceived", start)) == N
    assert sorted(_booked_as_on_chain(world, "PAY-KILL")) == list(range(before + 1, before + N + 1))
    done = result_of(world.homes["trustee"], "done", name)
    assert done["status"] == "done" and len(done["result"]["batches"]) == N
    journal = _store(world, "trustee").all(JOURNAL)
    assert [j["file"] for j in journal.values()].count(name) == 1
    assert not list(world.homes["trustee"].inbox.iterdir())
    assert not list(world.homes["trustee"].folder("rejected").iterdir())


def test_trustee__sigterm_in_the_middle_of_a_payroll__finishes_the_file_books_it_exits_0(
    world, web3
):
    trustee, ledger = world.agents["trustee"], world.suite["AnnuityLedger"]
    before = int(ledger.batchCount())
    name = _payroll(world, "PAY-TERM", 2_000)
    trustee.wait_log("contribution batch 1/10 of PAY-TERM booked", TIMEOUT)
    trustee.signal(signal.SIGTERM)
    assert trustee.stop(signalled=True) == 0
    assert "trustee: stopped cleanly" in trustee.log()
    # the file was the step in flight: finished, booked, done; nothing pending
    assert int(ledger.batchCount()) - before == N
    assert len(_booked_as_on_chain(world, "PAY-TERM")) == N
    assert _store(world, "trustee").intents("pending") == []
    assert result_of(world.homes["trustee"], "done", name)["status"] == "done"

    start_all([trustee])  # the rest of the day (allocation) goes on after a restart
    _invested(world, 3_000)
    assert int(ledger.batchCount()) - before == N  # nothing sent again


def _decide(world, item: str, answer: str, reason: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "consortium.cli",
            "decide",
            "--institution",
            "trustee",
            "--home",
            str(world.homes["trustee"].path),
            item,
            answer,
            "--reason",
            reason,
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_trustee__payroll_over_its_limit__queued_until_a_person_decides(world):
    ledger, home = world.suite["AnnuityLedger"], world.homes["trustee"]
    before = int(ledger.batchCount())
    big, no = _payroll(world, "PAY-BIG", 200_000), _payroll(world, "PAY-NO", 300_000)
    agents = list(world.agents.values())
    alive_until(agents, lambda: result_of(home, "done", no), TIMEOUT, "both files done")
    assert result_of(home, "done", big)["result"]["queued_for_review"] == ["payroll-PAY-BIG"]
    queued = json.loads((home.outbox / "decisions" / "payroll-PAY-BIG.json").read_text())
    assert (queued["status"], queued["subject"]["total"]) == ("queued", N * 200_000)
    assert int(ledger.batchCount()) == before  # nothing sent before a person answers

    _decide(world, "payroll-PAY-NO", "reject", "not our employer's payroll")
    _decide(world, "payroll-PAY-BIG", "accept", "year-end bonus, checked with HR")
    _invested(world, 3_000 + 200_000)
    assert int(ledger.batchCount()) - before == N
    assert all(ledger.batchOfRef(doc_hash(f"PAY-NO#{n}"))[1] == 0 for n in range(N))
    outcome = json.loads((home.outbox / "decisions" / "payroll-PAY-NO.outcome.json").read_text())
    assert outcome == {"item": "payroll-PAY-NO", "answer": "reject"}
    accepted = home.outbox / "decisions" / "payroll-PAY-BIG.outcome.json"
    alive_until(agents, accepted.exists, TIMEOUT, "the accepted payroll's outcome")
    assert len(json.loads(accepted.read_text())["batches"]) == N
    assert (
        "payroll PAY-BIG: accept (year-end bonus, checked with HR)" in world.agents["trustee"].log()
    )


@pytest.mark.parametrize("ident, kind", [("trustee", RECEIVE), ("account-manager", POST)])
def test_agent__sigkill_after_a_batch_is_mined_before_it_is_booked__booked_from_the_chain_once(
    world, web3, ident, kind
):
    """The exact window the outbox exists for: the 3rd batch is on chain, its intent pending."""
    agent, ledger = world.agents[ident], world.suite["AnnuityLedger"]
    agent.signal(signal.SIGTERM)
    assert agent.stop(signalled=True) == 0
    agent.start(kill_at=(kind, 3))
    agent.wait_log("running roles", TIMEOUT, count=agent.starts)
    before, start = int(ledger.batchCount()), web3.eth.block_number + 1
    total = ledger.getAccount(next(iter(world.accounts.values())))["contributed"]
    ref = f"PAY-{ident.upper()}-HOOK"
    _payroll(world, ref, 7)
    assert agent.proc.wait(TIMEOUT) == -signal.SIGKILL
    (pending,) = _store(world, ident).intents("pending")
    assert pending["kind"] == kind  # on chain, not booked: the process died in between

    start_all([agent])
    _invested(world, total + 7)
    assert int(ledger.batchCount()) - before == N
    event = "ContributionBatchReceived" if kind == RECEIVE else "ContributionBatchPosted"
    assert len(logs_since(web3, ledger, event, start)) == N
    rows = _store(world, ident).intents(kinds=[kind])
    assert all(r["status"] == "booked" for r in rows)
    assert pending["key"] in {r["key"] for r in rows if r["booking"]["source"] == "chain"}
