"""The annuity platform's plan choices waiting for their account: the accounts opened in a range of
blocks apply the waiting choices of those employees only, found through their index (not by reading
every choice of the day: 10,000 x 10,000 rows on the large day); the accounts are read in one batch
and the open ones' choices sent through the agent's pipe, one phase, each choice once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium.agent.lines import annuity
from consortium.agent.lines.annuity import CHOICE_KIND, CHOICES_OF, OPEN, AnnuityPlatformRole
from consortium.domain.hashing import code32
from consortium.store import Store

ACCOUNTS = {f"E-{n}": f"acct-{n}".encode().ljust(32, b"\0") for n in range(1, 6)}
EMPLOYEE_OF = {a: e for e, a in ACCOUNTS.items()}
REQUESTED = 1


class FakePipe:
    """The agent's pipe: views answered from `accounts`, each batch and each phase counted."""

    def __init__(self, accounts: dict[bytes, dict]):
        self.accounts, self.batches, self.waits = accounts, [], 0

    def call_many(self, contract, fn, args):
        assert fn == "getAccount"
        self.batches.append(len(args))
        return [self.accounts[a] for (a,) in args]

    def wait(self):
        self.waits += 1
        return []


def _account(status: int, plan: str = "", version: int = 0) -> dict:
    code = code32(plan) if plan else b"\0" * 32
    return {"status": status, "planCode": code, "planVersion": version}


@pytest.fixture
def role(monkeypatch):
    """The platform's role over a store, its chain replaced: accounts known, sends recorded."""
    role = object.__new__(AnnuityPlatformRole)
    pipe = FakePipe({a: _account(REQUESTED) for a in ACCOUNTS.values()})
    plans = SimpleNamespace(latestVersion=lambda code: 3)
    suite = {"AnnuityPlans": plans, "AnnuityLedger": "ledger"}
    role.agent = SimpleNamespace(store=Store(), pipe=pipe, suite=suite)
    role.platform = SimpleNamespace(employee_of=EMPLOYEE_OF.get, account_id=ACCOUNTS.__getitem__)
    role.sent = []
    role._opened = []
    role._piped = SimpleNamespace(
        choose_plan=lambda emp, plan, version, reset, consent_ref: role.sent.append(
            (emp, plan, version, reset)
        )
    )
    monkeypatch.setattr(annuity, "b32", bytes)
    return role


def _file(sha: str) -> SimpleNamespace:
    return SimpleNamespace(sha256=sha)


def _open(role, emp: str, plan: str = "", version: int = 0) -> None:
    role.agent.pipe.accounts[ACCOUNTS[emp]] = _account(OPEN, plan, version)
    role.on_opened({"account": ACCOUNTS[emp]})


def test_flush_choices__accounts_opened__only_those_employees_choices_sent(role):
    role._queue_choices(
        _file("f1"), [("E-1", "balanced", None, False), ("E-2", "growth", 1, False)]
    )
    role._queue_choices(_file("f2"), [("E-1", "growth", None, True)])  # a second file names E-1
    assert role.sent == []  # no account open yet: every choice waits
    _open(role, "E-1")
    role.flush_choices()
    assert role.sent == [("E-1", "balanced", 3, False), ("E-1", "growth", 3, True)]
    assert role.agent.store.get(CHOICES_OF, "E-1") == {"keys": ["f1:E-1", "f2:E-1"]}
    assert role.agent.store.get(CHOICE_KIND, "f1:E-1")["status"] == "sent"
    assert role.agent.store.get(CHOICE_KIND, "f1:E-2")["status"] == "waiting"


def test_flush_choices__many_openings__one_batch_of_reads_one_phase(role):
    rows = [(e, "balanced", 2, False) for e in ACCOUNTS]
    role._queue_choices(_file("f1"), rows)
    role.agent.pipe.batches.clear()
    for emp in ACCOUNTS:
        _open(role, emp)
    role.flush_choices()
    assert role.agent.pipe.batches == [len(ACCOUNTS)]  # every account read in one batch
    assert role.agent.pipe.waits == 1
    assert sorted(s[0] for s in role.sent) == sorted(ACCOUNTS)
    role.sent.clear()
    for account in ACCOUNTS.values():  # the range replayed (a kill before the cursor moved)
        role.on_opened({"account": account})
    role.flush_choices()
    assert role.sent == []  # each choice once


def test_apply_choices__sending_choice_landed_before_a_kill__booked_not_resent(role):
    role._queue_choices(_file("f1"), [("E-1", "balanced", 2, False), ("E-2", "growth", 2, False)])
    for key in ("f1:E-1", "f1:E-2"):
        body = role.agent.store.get(CHOICE_KIND, key)
        role.agent.store.put(CHOICE_KIND, key, body | {"status": "sending"})
    _open(role, "E-1", "balanced", 2)  # its choice is on chain: the kill came after the send
    _open(role, "E-2")  # its choice never left: sent now
    role.flush_choices()
    assert role.sent == [("E-2", "growth", 2, False)]
    assert role.agent.store.get(CHOICE_KIND, "f1:E-1")["status"] == "sent"


def test_flush_choices__sent_choice_or_index_without_choice__skipped(role):
    role._queue_choices(_file("f1"), [("E-1", "balanced", None, False)])
    body = role.agent.store.get(CHOICE_KIND, "f1:E-1")
    role.agent.store.put(CHOICE_KIND, "f1:E-1", body | {"status": "sent"})
    # a kill after the index row was written and before its choice: the key leads nowhere
    role.agent.store.put(CHOICES_OF, "E-1", {"keys": ["f1:E-1", "f9:E-1"]})
    _open(role, "E-1")
    role.flush_choices()
    assert role.sent == []


def test_queue_choices__same_file_twice__one_choice_one_index_entry(role):
    role._queue_choices(_file("f1"), [("E-1", "balanced", None, False)])
    role._queue_choices(_file("f1"), [("E-1", "balanced", None, False)])  # processed again
    assert role.agent.store.get(CHOICES_OF, "E-1") == {"keys": ["f1:E-1"]}
    assert list(role.agent.store.keys(CHOICE_KIND)) == ["f1:E-1"]


def test_on_opened__account_of_no_employee_here__nothing_applied(role):
    role._queue_choices(_file("f1"), [("E-1", "balanced", None, False)])
    role.on_opened({"account": b"other".ljust(32, b"\0")})
    role.flush_choices()
    assert role.sent == [] and role._opened == []
