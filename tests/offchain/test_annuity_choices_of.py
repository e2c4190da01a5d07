"""The annuity platform's plan choices waiting for their account: an AccountOpened event applies the
waiting choices of that employee only, found through their index (not by reading every choice of
the day: 10,000 x 10,000 rows on the large day)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium.agent.lines import annuity
from consortium.agent.lines.annuity import CHOICE_KIND, CHOICES_OF, AnnuityPlatformRole
from consortium.store import Store

ACCOUNTS = {b"acct-1".ljust(32, b"\0"): "E-1", b"acct-2".ljust(32, b"\0"): "E-2"}


@pytest.fixture
def role(monkeypatch):
    """The platform's role over a store, its chain replaced: accounts known, sends recorded."""
    role = object.__new__(AnnuityPlatformRole)
    role.agent = SimpleNamespace(store=Store())
    role.platform = SimpleNamespace(employee_of=ACCOUNTS.get)
    role.applied = []

    def apply(self, key):
        self.applied.append(key)
        return 0  # the account is not open yet

    monkeypatch.setattr(AnnuityPlatformRole, "_apply_choice", apply)
    monkeypatch.setattr(annuity, "b32", bytes)
    return role


def _file(sha: str) -> SimpleNamespace:
    return SimpleNamespace(sha256=sha)


def test_on_opened__waiting_choices__only_that_employee_s_applied(role):
    role._queue_choice(_file("f1"), "E-1", "balanced", None, False)
    role._queue_choice(_file("f1"), "E-2", "growth", None, False)
    role._queue_choice(_file("f2"), "E-1", "growth", None, True)  # a second file names E-1 again
    role.applied.clear()
    role.on_opened({"account": b"acct-1".ljust(32, b"\0")})
    assert role.applied == ["f1:E-1", "f2:E-1"]
    assert role.agent.store.get(CHOICES_OF, "E-1") == {"keys": ["f1:E-1", "f2:E-1"]}


def test_on_opened__sent_choice_or_index_without_choice__skipped(role):
    role._queue_choice(_file("f1"), "E-1", "balanced", None, False)
    body = role.agent.store.get(CHOICE_KIND, "f1:E-1")
    role.agent.store.put(CHOICE_KIND, "f1:E-1", body | {"status": "sent"})
    # a kill after the index row was written and before its choice: the key leads nowhere
    role.agent.store.put(CHOICES_OF, "E-1", {"keys": ["f1:E-1", "f9:E-1"]})
    role.applied.clear()
    role.on_opened({"account": b"acct-1".ljust(32, b"\0")})
    assert role.applied == []


def test_queue_choice__same_file_twice__one_choice_one_index_entry(role):
    role._queue_choice(_file("f1"), "E-1", "balanced", None, False)
    role._queue_choice(_file("f1"), "E-1", "balanced", None, False)  # the file processed again
    assert role.agent.store.get(CHOICES_OF, "E-1") == {"keys": ["f1:E-1"]}
    assert list(role.agent.store.keys(CHOICE_KIND)) == ["f1:E-1"]


def test_on_opened__account_of_no_employee_here__nothing_applied(role):
    role._queue_choice(_file("f1"), "E-1", "balanced", None, False)
    role.applied.clear()
    role.on_opened({"account": b"other".ljust(32, b"\0")})
    assert role.applied == []
