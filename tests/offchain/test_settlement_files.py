"""The settlement line's input files for the multi-process day, without a chain: seeded and sized as
the in-process day, each valid for the receiving agent's inbox formats, the funding exactly what
the trades deliver and pay, and the phases waiting for what a bank would wait for."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from consortium.agent.inbox import InboxContext, read_rows
from consortium.config import load_consortium, load_sizes
from consortium.dayrun.lines import agent_roles, playable
from consortium.domain.clearing import SIDES, clear
from consortium.scenarios import settlement_files as line
from consortium.scenarios.files import DayView
from consortium.scenarios.settlement_tables import CHARGES

ROOT = Path(__file__).resolve().parents[2]


def _cfg():
    return load_consortium(ROOT / "config/consortium.yaml")


def _sizes(size: str = "quick") -> dict:
    return load_sizes(ROOT / "config/day-sizes.yaml", size)["settlement"]


def _all_rows(cfg, files) -> dict[tuple[str, str], list[dict]]:
    """Every file read as the receiving agent's inbox reads it (refusal: the test fails)."""
    return {
        (ident, f.name): read_rows(f.name, f.content, InboxContext.of(cfg, ident))[1]
        for ident, fs in files.items()
        for f in fs
    }


def test_playable__settlement_has_agents_and_files__played():
    played, skipped = playable(("settlement",), agent_roles())
    assert [p.name for p in played] == ["settlement"] and skipped == []


def test_input_files__quick__valid_for_each_inbox_sized_and_seeded():
    cfg, sizes = _cfg(), _sizes()
    files = line.input_files(cfg, sizes, 7)
    rows = _all_rows(cfg, files)
    trades = [r for (_, name), rs in rows.items() if name.startswith("trades-") for r in rs]
    ids = {r["trade_id"] for r in trades}
    assert len(ids) == 2 * sizes["executions"] == 40
    assert files == line.input_files(cfg, sizes, 7)
    assert files != line.input_files(cfg, sizes, 8)
    d = line.file_day(cfg, sizes, 7)
    assert len({r["owner_ref"] for r in d.rows}) <= sizes["owners"]
    assert {r["participant"] for r in d.rows} <= {"broker-hk", "broker-hk-2"}  # outside CN
    assert {r["local_broker"] for r in d.rows} <= {"", "broker-cn"}
    assert {r["security"] for r in d.rows} <= {"0700.HK", "0005.HK", "9988.HK"}  # no USD token
    for ident in d.first_parties:  # each party gets every row naming it, and only those
        (own,) = [rs for (i, name), rs in rows.items() if i == ident and name.startswith("trades")]
        assert {r["trade_id"] for r in own} == {r["trade_id"] for r in d.rows_of(ident)}
    calendar = rows[("ccp", f"cycles-{d.trade_date}.csv")]
    assert [(r["cycle_id"], r["trade_date"]) for r in calendar] == [(d.cycle, d.trade_date)]


def test_input_files__funding__each_seller_its_shares_each_buyer_its_cash_and_charges():
    cfg, sizes = _cfg(), _sizes()
    files = line.input_files(cfg, sizes, 7)
    rows = _all_rows(cfg, files)
    d = line.file_day(cfg, sizes, 7)
    delivered, paid = Counter(), Counter()
    for r in d.rows:
        if r["side"] == "sell":
            delivered[(r["participant"], r["security"])] += r["quantity"]
        else:
            paid[(r["participant"], r["currency"])] += r["quantity"] * r["price"]
    for r in d.rows:  # and the fees and taxes each pays at settlement, under its broker charges
        table = CHARGES["broker_hk" if r["currency"] == "HKD" else "broker_cn"]
        line_ = clear(SIDES[r["side"]], r["quantity"], r["price"], table)
        paid[(r["participant"], r["currency"])] += line_.fees + line_.taxes
    assert sum(d.charges()[k][0] for k in d.charges()) > 0  # the brokers' fees are charged
    custody = rows[("csd", f"issues-custody-{d.cycle}.csv")]
    cash = rows[(d.cash_issuer, f"issues-cash-{d.cycle}.csv")]
    assert d.cash_issuer == "sales-bank"  # the first CASH_ISSUER: the deposit tokens' issuer
    assert Counter({(r["holder"], r["asset"]): r["amount"] for r in custody}) == delivered
    assert Counter({(r["holder"], r["asset"]): r["amount"] for r in cash}) == paid
    assert len({r["ref"] for r in custody + cash}) == len(custody) + len(cash)


def test_agent_settings__the_ccp_waits_for_the_parties_the_trades_name():
    cfg, sizes = _cfg(), _sizes("tiny")
    settings = line.agent_settings(cfg, sizes, 7)
    named = {r[c] for r in line.file_day(cfg, sizes, 7).rows for c in line.PARTY_COLUMNS} - {""}
    assert set(settings["ccp"]["settlement"]["first_parties"]) == named
    assert "reg-hk" not in settings and "csd" in settings


def test_ready__phases_wait_for_the_earlier_files_results(tmp_path):
    cfg, sizes = _cfg(), _sizes("tiny")
    files = line.input_files(cfg, sizes, 7)
    homes = {i: tmp_path / i for i in files}
    view = DayView(None, homes, cfg, {"settlement": sizes}, 7)
    assert not line.ready("trades", view)

    def finish(phase: str) -> None:
        for ident, fs in files.items():
            for f in fs:
                if f.phase == phase:
                    (homes[ident] / "done").mkdir(parents=True, exist_ok=True)
                    result = homes[ident] / "done" / f"{f.name}.result.json"
                    result.write_text(json.dumps({"status": "done"}))

    finish("funding")
    assert line.ready("trades", view) and not line.ready("cycle", view)
    finish("trades")
    assert line.ready("cycle", view)
    with pytest.raises(ValueError, match="unknown settlement phase"):
        line.ready("netting", view)


def test_file_day__fewer_than_two_brokers__refused_naming_what_to_add(tmp_path):
    text = (ROOT / "config/consortium.yaml").read_text()
    path = tmp_path / "consortium.yaml"
    path.write_text(text.replace("roles: [BROKER]}", "roles: [CUSTODIAN]}"))
    with pytest.raises(ValueError, match="needs two brokers"):
        line.file_day(load_consortium(path), _sizes("tiny"), 7)


def test_file_day__no_ccp__refused_naming_the_role(tmp_path):
    text = (ROOT / "config/consortium.yaml").read_text()
    path = tmp_path / "consortium.yaml"
    path.write_text(text.replace("roles: [CCP]}", "roles: [CUSTODIAN]}"))
    with pytest.raises(ValueError, match="holding CCP"):
        line.file_day(load_consortium(path), _sizes("tiny"), 7)
