"""The sales bank finds the customer of a registration result, or of a confirmation, through its
index (not by reading every customer: 2,000 customers x 10,000 confirmations on the large day); a
customer kept without an index entry is still found, an unknown registration still set aside."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest

from consortium.agent.lines.confirmations import CUSTOMER_OF, MessageSetAside, SalesBankRole
from consortium.channels import Message
from consortium.store import Store

ISSUER = "0x" + "11" * 20
OTHER = "0x" + "22" * 20


@pytest.fixture
def bank():
    role = object.__new__(SalesBankRole)
    written: dict[str, str] = {}
    role.agent = SimpleNamespace(
        store=Store(),
        settings=SimpleNamespace(addresses={"wm-issuer-1": ISSUER, "wm-issuer-2": OTHER}),
        write_output=lambda folder, name, text: written.setdefault(f"{folder}/{name}", text),
    )
    role.written = written
    return role


def _customer(bank, cid: str, issuer: str, reg_id: str) -> dict:
    c = bank._customer(
        {"customer_id": cid, "birth_date": datetime.date(1980, 1, 2), "risk_level": 3}
    )
    c["registrations"][issuer] = {"id": reg_id, "status": "pending"}
    bank._index(f"reg:{reg_id}", cid)
    bank.agent.store.put("conf.customer", cid, c)
    return c


def _result(reg_id: str, sender: str = ISSUER, accepted: bool = True) -> Message:
    """An issuer's results message carrying one result."""
    body = {"results": [{"registration_id": reg_id, "accepted": accepted}]}
    return Message("m1", sender, "0xbank", "registration-results", body, b"")


def test_on_registration_results__indexed__that_customer_booked(bank):
    for k in range(3):
        _customer(bank, f"C-{k}", "wm-issuer-1", f"0x{k:064x}")
    bank.on_registration_results(_result(f"0x{1:064x}"))
    statuses = {
        cid: c["registrations"]["wm-issuer-1"]["status"]
        for cid, c in bank.agent.store.all("conf.customer").items()
    }
    assert statuses == {"C-0": "pending", "C-1": "accepted", "C-2": "pending"}
    assert list(bank.written) == ["registrations/C-1-wm-issuer-1.json"]


def test_on_registration_results__no_index_entry__found_by_reading_every_customer(bank):
    _customer(bank, "C-0", "wm-issuer-1", "0xaa")
    bank.agent.store.put(CUSTOMER_OF, "reg:0xaa", {"customer_id": "C-gone"})  # a stale entry
    bank.on_registration_results(_result("0xaa", accepted=False))
    assert (
        bank.agent.store.get("conf.customer", "C-0")["registrations"]["wm-issuer-1"]["status"]
        == "rejected"
    )


def test_on_registration_results__unknown_or_from_another_issuer__set_aside_nothing_booked(bank):
    _customer(bank, "C-0", "wm-issuer-1", "0xaa")
    with pytest.raises(MessageSetAside, match="1 of 1 results name no registration .*0xbb"):
        bank.on_registration_results(_result("0xbb"))
    with pytest.raises(MessageSetAside, match=f"sent from here to {OTHER}"):
        bank.on_registration_results(_result("0xaa", sender=OTHER))
    assert (
        bank.agent.store.get("conf.customer", "C-0")["registrations"]["wm-issuer-1"]["status"]
        == "pending"
    )
    assert bank.written == {}


def test_customer__new__investor_commitment_indexed(bank):
    c = _customer(bank, "C-7", "wm-issuer-1", "0xaa")
    assert bank.agent.store.get(CUSTOMER_OF, f"inv:{c['investor']}") == {"customer_id": "C-7"}
    assert bank._customers_by(f"inv:{c['investor']}") == [("C-7", c)]
