"""The multi-process day without a chain: which lines it plays, and the annuity line's input files
(seeded, sized as the in-process day, valid for the agents' inbox formats)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from consortium.config import load_consortium, load_sizes
from consortium.dayrun.lines import agent_institutions, playable
from consortium.scenarios import annuity
from consortium.scenarios.files import DayView

ROOT = Path(__file__).resolve().parents[2]
ANNUITY_ROLES = set(annuity.ROLES)


def _cfg():
    return load_consortium(ROOT / "config/consortium.yaml")


def _rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_playable__only_annuity_agents__other_lines_skipped_with_a_reason():
    played, skipped = playable(("annuity", "confirmations", "settlement", "bills"), ANNUITY_ROLES)
    assert [line.name for line in played] == ["annuity"]
    assert len(skipped) == 3 and all("skipped" in s for s in skipped)
    assert skipped[0].startswith("confirmations: ")


def test_playable__annuity_roles_missing__annuity_skipped_naming_the_role():
    played, skipped = playable(("annuity",), ANNUITY_ROLES - {"TRUSTEE"})
    assert played == [] and skipped == ["annuity: no agents yet for TRUSTEE, skipped"]


def test_agent_institutions__one_per_institution_holding_a_played_role():
    played, _ = playable(("annuity",), ANNUITY_ROLES)
    assert agent_institutions(_cfg(), played, ANNUITY_ROLES) == [
        "annuity-platform",
        "trustee",
        "account-manager",
        "investment-manager",
    ]


def test_annuity_input_files__quick_size__seeded_and_sized_as_the_in_process_day():
    cfg = _cfg()
    sizes = load_sizes(ROOT / "config/day-sizes.yaml", "quick")["annuity"]
    files = annuity.input_files(cfg, sizes, 7)
    again = annuity.input_files(cfg, sizes, 7)
    other = annuity.input_files(cfg, sizes, 8)
    platform = {f.name: f for f in files["annuity-platform"]}
    enrol = _rows(next(f for f in platform.values() if f.phase == "enrol").content)
    assert len(enrol) == sizes["annuity_employees"] == 12
    assert {r["plan_code"] for r in enrol} <= {"conservative", "balanced", "growth"}
    assert enrol == _rows(next(f for f in again["annuity-platform"] if f.phase == "enrol").content)
    assert enrol != _rows(next(f for f in other["annuity-platform"] if f.phase == "enrol").content)
    switch = _rows(next(f for f in platform.values() if f.phase == "switch").content)
    assert len(switch) == sizes["annuity_resets"] and all(r["reset"] == "yes" for r in switch)
    assert [f.phase for f in files["trustee"]] == ["payroll-1", "payroll-2"]


def test_annuity_payroll__account_ids_read_from_the_platform_outbox_when_dropped(tmp_path):
    cfg = _cfg()
    sizes = {"annuity_employees": 3, "annuity_resets": 1}
    files = annuity.input_files(cfg, sizes, 7)
    d = annuity.file_day(cfg, sizes, 7)
    home = tmp_path / "annuity-platform"
    (home / "outbox" / "accounts").mkdir(parents=True)
    ids = {e: "0x" + f"{k + 1:064x}" for k, e in enumerate(d.employees)}
    lines = ["employee_id,account_id"] + [f"{e},{a}" for e, a in ids.items()]
    path = home / "outbox" / "accounts" / f"enrolments-{d.employer}.csv"
    path.write_text("\n".join(lines) + "\n")
    view = DayView(None, {"annuity-platform": home}, cfg, {"annuity": sizes}, 7)
    rows = _rows(files["trustee"][0].resolve(view))
    assert [(r["employee_id"], r["account_id"]) for r in rows] == list(ids.items())
    assert [int(r["amount"]) for r in rows] == [d.months[0][e] for e in d.employees]
    assert annuity.ready("enrol", view)


def test_large_profile__seeded_days__at_least_issue_14_s_large_day():
    """`--size large` is issue 14's large day, counted as the issue counts it: employees, orders,
    trades (an execution is one trade, a buy and a sell row in the trades files), bills."""
    from consortium.scenarios import bills_files, confirmations_files, settlement_files

    cfg, sizes, seed = _cfg(), load_sizes(ROOT / "config/day-sizes.yaml", "large"), 20261122
    assert len(annuity.file_day(cfg, sizes["annuity"], seed).employees) >= 10_000
    assert len(confirmations_files.file_day(cfg, sizes["confirmations"], seed).orders) >= 5_000
    rows = settlement_files.file_day(cfg, sizes["settlement"], seed).rows
    assert len({r["trade_id"][:-2] for r in rows}) >= 10_000 and len(rows) == 2 * 10_000
    assert len(bills_files.file_day(cfg, sizes["bills"], seed).bills) >= 200


def test_day_timeout__grows_with_the_day_s_sizes_never_below_the_medium_deadline():
    from consortium.dayrun.day import BUSINESS_TIMEOUT, SECONDS_PER_RECORD, day_timeout

    tiny = load_sizes(ROOT / "config/day-sizes.yaml", "tiny")
    large = load_sizes(ROOT / "config/day-sizes.yaml", "large")
    assert day_timeout(tiny) == BUSINESS_TIMEOUT
    records = sum(v for line in large.values() for v in line.values())
    assert day_timeout(large) == SECONDS_PER_RECORD * records > 4 * BUSINESS_TIMEOUT
    assert day_timeout({}) == BUSINESS_TIMEOUT
