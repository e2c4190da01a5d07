"""scripts/report.py through the one reporting pipeline (ReportJob), on the reporting fixtures:
the day from REPORT_DAY or the latest block, anchored with REPORT_REPORTER, one line per report."""

import importlib.util
import re
from pathlib import Path

from consortium.deploy import Suite
from consortium.reporting.days import day_date

ROOT = Path(__file__).resolve().parents[2]
LINE = r"^(0x[0-9a-fA-F]{40}) (\d{4}-\d\d-\d\d) v(\d+): (\d+) records, root 0x[0-9a-f]{64} -> (.+)$"


def _run_script(suite, monkeypatch, capsys, tmp_path, **env):
    spec = importlib.util.spec_from_file_location("report_script", ROOT / "scripts/report.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    contracts = {k: v for k, v in suite.items() if k != "ConsortiumRegistry"}
    recorded = Suite(registry=suite["ConsortiumRegistry"], contracts=contracts, block=0)
    monkeypatch.setattr(script, "load_suite", lambda network: recorded)
    monkeypatch.setenv("REPORT_OUT", str(tmp_path / "reports"))
    monkeypatch.setenv("REPORT_DB", f"sqlite:///{tmp_path / 'index.sqlite'}")
    for key in ("REPORT_VERIFY", "REPORT_DAY", "REPORT_REGULATOR", "REPORT_REPORTER"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    script.main()
    out = capsys.readouterr().out.splitlines()  # brownie prints the anchoring transactions too
    return [m.groups() for m in (re.match(LINE, line) for line in out) if m]


def test_script_report__day_and_reporter_given__anchors_each_regulators_report(
    suite, reporter, regulator_cn, regulator_hk, business_day, monkeypatch, capsys, tmp_path
):
    date = day_date(business_day.day)
    lines = _run_script(suite, monkeypatch, capsys, tmp_path, REPORT_DAY=date, REPORT_REPORTER="3")
    assert {line[0] for line in lines} == {regulator_cn.address, regulator_hk.address}
    assert all(line[1] == date and line[2] == "1" and int(line[3]) > 0 for line in lines)
    assert all(Path(line[4]).is_file() for line in lines)


def test_script_report__no_day_no_reporter__latest_blocks_day_unanchored(
    suite, regulator_cn, business_day, monkeypatch, capsys, tmp_path
):
    lines = _run_script(suite, monkeypatch, capsys, tmp_path, REPORT_REGULATOR=regulator_cn.address)
    assert [line[:3] for line in lines] == [(regulator_cn.address, day_date(business_day.day), "0")]
