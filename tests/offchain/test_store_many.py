"""The store's documents many at a time: a file of 10,000 employees is one transaction (all or
none), and a range's waiting choices are read in a few queries, each as `put`/`get` would."""

from __future__ import annotations

import pytest

from consortium.store import Store


def test_put_many__then_get_many__same_as_one_by_one():
    many, one = Store(), Store()
    bodies = {f"E-{n}": {"n": n, "salt": f"{n:064x}"} for n in range(1_200)}  # > one query
    many.put_many("annuity.employee", bodies)
    for key, body in bodies.items():
        one.put("annuity.employee", key, body)
    assert many.all("annuity.employee") == one.all("annuity.employee") == bodies
    keys = ["E-1199", "E-0", "missing", "E-600"]
    assert many.get_many("annuity.employee", keys) == {
        k: one.get("annuity.employee", k) for k in keys if k != "missing"
    }
    assert list(many.get_many("annuity.employee", keys)) == ["E-1199", "E-0", "E-600"]


def test_put_many__replaces_existing_documents():
    store = Store()
    store.put("k", "a", {"status": "waiting"})
    store.put_many("k", {"a": {"status": "sent"}, "b": {"status": "waiting"}})
    assert store.all("k") == {"a": {"status": "sent"}, "b": {"status": "waiting"}}


def test_put_many__a_body_that_fails__nothing_of_the_batch_kept():
    store = Store()
    with pytest.raises(TypeError):
        store.put_many("k", {"a": {"ok": 1}, "b": {"bad": object()}})
    assert store.all("k") == {}
