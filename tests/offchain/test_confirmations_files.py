"""The confirmations line's day files (scenarios/confirmations_files.py), without a chain: seeded
and pure, dated by the chain's clock, the debits holding exactly the injected breaks."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from consortium.config import load_consortium, load_sizes
from consortium.domain import days
from consortium.scenarios import confirmations_files as conf
from consortium.scenarios.files import DayView

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_796_000_000  # a chain timestamp (2026-11-30, 00:53 UTC)


@pytest.fixture(scope="module")
def cfg():
    return load_consortium(ROOT / "config/consortium.yaml")


@pytest.fixture(scope="module")
def sizes():
    return load_sizes(ROOT / "config/day-sizes.yaml", "tiny")["confirmations"]


def _view(cfg, sizes, offset: int, utc_offset: int = 0) -> DayView:
    recon = SimpleNamespace(reconcileOffset=lambda: offset, businessUtcOffset=lambda: utc_offset)
    view = DayView({"Reconciliation": recon}, {}, cfg, {"confirmations": sizes}, 7)
    view.memo("confirmations:now", lambda: NOW)
    return view


def _rows(files: dict, view: DayView, name: str) -> list[dict]:
    (f,) = [f for fs in files.values() for f in fs if f.name == name]
    return list(csv.DictReader(io.StringIO(f.resolve(view).decode())))


def test_file_day__same_seed_same_day__another_seed_another(cfg, sizes):
    assert conf.file_day(cfg, sizes, 7) == conf.file_day(cfg, sizes, 7)
    assert conf.file_day(cfg, sizes, 7) != conf.file_day(cfg, sizes, 8)
    d = conf.file_day(cfg, sizes, 7)
    # 8 seeded orders + the fixed subscription of shares and the one above WM-001's maximum
    assert (len(d.customers), len(d.orders), len(d.payments)) == (3, 10, 12)
    assert d.issuers == ("wm-issuer-1", "wm-issuer-2") and d.registrations == 6
    assert [c.kyc_ok for c in d.customers] == [True, True, False]
    held, big = d.orders[-2:]
    first = d.customers[0]
    assert (first.age, first.risk_level) == (40, 5)  # qualifies for every product
    assert (held.order_id, held.customer_id, held.product) == (d.held, first.customer_id, "WM-001")
    assert held.kind == "subscription" and held.shares == conf.HELD_SHARES
    assert big.order_id == d.too_big and big.amount > d.products["WM-001"]["max_amount"]
    (redeem,) = d.later
    assert redeem.kind == "redemption" and 0 < redeem.shares <= held.shares
    assert d.second_bank == "sales-bank-2" and len(d.second_orders) == 1
    assert d.second_orders[0].product == "WM-001"


def test_input_files__each_institution_its_own_files_in_their_phases(cfg, sizes):
    files = conf.input_files(cfg, sizes, 7)
    phases = {(i, f.name): f.phase for i, fs in files.items() for f in fs}
    assert phases == {
        ("sales-bank", "product-rules-sales-bank.csv"): "rules",
        ("wm-issuer-1", "product-rules-wm-issuer-1.csv"): "rules",
        ("wm-issuer-2", "product-rules-wm-issuer-2.csv"): "rules",
        ("sales-bank", "customers-sales-bank.csv"): "customers",
        ("sales-bank", "credits-sales-bank.csv"): "payments",
        ("sales-bank", "issues-finance-company-funding.csv"): "payments",  # its deposit token
        ("sales-bank", "orders-sales-bank.csv"): "orders",
        ("sales-bank", "orders-sales-bank-later.csv"): "redemptions",
        ("finance-company", "debits-finance-company.csv"): "payments",
        ("sales-bank-2", "product-rules-sales-bank-2.csv"): "rules",
        ("sales-bank-2", "customers-sales-bank-2.csv"): "customers",
        ("sales-bank-2", "orders-sales-bank-2.csv"): "orders",
    }
    assert conf.PHASES[0] == "rules" and conf.PHASES[-1] == "redemptions"
    assert set(conf.PHASES) == set(phases.values())
    assert conf.agent_settings(cfg, sizes, 7) == {
        "reconciler": {"confirmations": {"cutoff": "now"}}
    }


def test_books__debits_hold_one_break_of_each_kind_a_book_can_hold(cfg, sizes):
    view = _view(cfg, sizes, 0)
    files = conf.input_files(cfg, sizes, 7)
    d = conf.file_day(cfg, sizes, 7)
    credits = {int(r["payment_id"]): r for r in _rows(files, view, "credits-sales-bank.csv")}
    debits = {int(r["payment_id"]): r for r in _rows(files, view, "debits-finance-company.csv")}
    assert {i: int(r["amount"]) for i, r in credits.items()} == {
        i: a for i, (a, _) in d.payments.items()
    }
    assert set(credits) - set(debits) == {d.missing}
    assert set(debits) - set(credits) == {d.unknown}
    changed = {i for i in set(credits) & set(debits) if credits[i]["amount"] != debits[i]["amount"]}
    assert changed == {d.changed}
    assert int(debits[d.changed]["amount"]) == int(credits[d.changed]["amount"]) + conf.CHANGED_BY
    assert sum(conf.INJECTED.values()) == 3


@pytest.mark.parametrize(
    "utc_offset, offset, back",
    [(0, 0, 1), (0, 6 * 3600, 2), (8 * 3600, 6 * 3600, 1), (8 * 3600, 9 * 3600, 2)],
)
def test_books__dated_the_last_day_the_contract_lets_the_reconciler_close(
    cfg, sizes, utc_offset, offset, back
):
    """00:53 UTC (08:53 in Shanghai): past a cut-off at midnight yesterday closes; before a 06:00
    cut-off in UTC, the day before; in Shanghai 06:00 local has passed, 09:00 has not. Payments are
    stamped inside the local business day."""
    view = _view(cfg, sizes, offset, utc_offset)
    rows = _rows(conf.input_files(cfg, sizes, 7), view, "credits-sales-bank.csv")
    day = days.business_day_of(NOW, utc_offset) - back
    assert {r["day"] for r in rows} == {days.day_date(day)}
    stamps = [dt.datetime.fromisoformat(r["paid_at"]) for r in rows]
    assert {days.business_day_of(int(t.timestamp()), utc_offset) for t in stamps} == {day}


def test_orders_and_customers__dated_by_the_chain_ages_as_seeded(cfg, sizes):
    view = _view(cfg, sizes, 0)
    files = conf.input_files(cfg, sizes, 7)
    d = conf.file_day(cfg, sizes, 7)
    orders = _rows(files, view, "orders-sales-bank.csv")
    assert [r["order_id"] for r in orders] == [o.order_id for o in d.orders]
    assert {r["order_date"] for r in orders} == {"2026-11-30"}
    customers = _rows(files, view, "customers-sales-bank.csv")
    ages = {r["customer_id"]: 2026 - int(r["birth_date"][:4]) for r in customers}
    assert ages == {c.customer_id: c.age for c in d.customers}


def test_ready__unknown_phase__refused(cfg, sizes):
    with pytest.raises(ValueError, match="unknown confirmations phase"):
        conf.ready("lunch", _view(cfg, sizes, 0))


def test_rules_files__the_bank_every_product__each_issuer_its_own__as_the_consortium_file(
    cfg, sizes
):
    view = _view(cfg, sizes, 0)
    files = conf.input_files(cfg, sizes, 7)
    d = conf.file_day(cfg, sizes, 7)
    bank = _rows(files, view, "product-rules-sales-bank.csv")
    assert sorted(r["product"] for r in bank) == sorted(d.products)
    for r in bank:
        p = d.products[r["product"]]
        assert r["issuer"] == p["issuer"] and r["sales_bank"] == "sales-bank"
        assert (int(r["product_risk"]), int(r["min_age"])) == (p["risk_level"], p["min_age"])
    # the second bank's own terms for WM-001 (other than the first bank's)
    (second,) = _rows(files, view, "product-rules-sales-bank-2.csv")
    assert (second["product"], second["sales_bank"], second["issuer"]) == (
        "WM-001",
        "sales-bank-2",
        "wm-issuer-1",
    )
    assert (
        second["product_risk"] != next(r for r in bank if r["product"] == "WM-001")["product_risk"]
    )
    for issuer in d.issuers:
        own = _rows(files, view, f"product-rules-{issuer}.csv")
        assert own and {r["issuer"] for r in own} == {issuer}
        mine = [r for r in bank if r["issuer"] == issuer]
        assert own == (mine + [second] if issuer == "wm-issuer-1" else mine)


def test_funding__the_finance_company_gets_exactly_the_day_s_credits(cfg, sizes):
    view = _view(cfg, sizes, 0)
    files = conf.input_files(cfg, sizes, 7)
    d = conf.file_day(cfg, sizes, 7)
    (row,) = _rows(files, view, "issues-finance-company-funding.csv")
    credits = _rows(files, view, "credits-sales-bank.csv")
    assert row["holder"] == "finance-company" and row["asset"] == "CNY"
    assert int(row["amount"]) == d.total == sum(int(r["amount"]) for r in credits)


def test_input_files__no_cash_issuer_among_the_line_s_agents__refused(cfg, sizes):
    import dataclasses

    others = [
        dataclasses.replace(i, roles=tuple(r for r in i.roles if r != "CASH_ISSUER"))
        for i in cfg.institutions
    ]
    bare = dataclasses.replace(cfg, institutions=others)
    with pytest.raises(ValueError, match="CASH_ISSUER"):
        conf.input_files(bare, sizes, 7)


def test_ready__orders_wait_for_the_rules_in_force(cfg, sizes, monkeypatch):
    view = _view(cfg, sizes, 0)
    d = conf.file_day(cfg, sizes, view.seed)
    answered = {"sales-bank": d.registrations, "sales-bank-2": 1}
    monkeypatch.setattr(conf, "_answered", lambda v, bank: answered[bank])
    monkeypatch.setattr(conf, "_all_enacted", lambda v, d: False)
    assert conf.ready("rules", view) and conf.ready("customers", view)
    assert not conf.ready("orders", view)
    monkeypatch.setattr(conf, "_all_enacted", lambda v, d: True)
    assert conf.ready("orders", view)
    answered["sales-bank-2"] = 0  # the second bank's customer not answered yet
    assert not conf.ready("orders", view)


def test_answered__registration_files_counted_unread(cfg, sizes, tmp_path):
    view = _view(cfg, sizes, 0)
    view.homes = {"sales-bank": tmp_path}
    assert conf._answered(view, "sales-bank") == 0  # no outbox folder yet
    folder = tmp_path / "outbox" / "registrations"
    folder.mkdir(parents=True)
    for n in range(3):
        (folder / f"C-{n}-issuer.json").write_text("{")  # counted without being parsed
    (folder / ".C-9-issuer.json.tmp").write_text("{}")  # a file still being written
    assert conf._answered(view, "sales-bank") == 3


def test_ready__the_redemption_waits_for_the_shares_it_draws_on(cfg, sizes, monkeypatch):
    view = _view(cfg, sizes, 0)
    d = conf.file_day(cfg, sizes, view.seed)
    records: dict = {}
    monkeypatch.setattr(conf, "_record_of", lambda v, bank, oid: records.get((bank, oid)))
    assert not conf.ready("redemptions", view)
    records[("sales-bank", d.held)] = {"status": "confirmed"}
    assert conf.ready("redemptions", view)
