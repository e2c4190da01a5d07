"""The main job, small: all four lines, then every regulator's report, verified against the chain."""

import argparse
import json
import re
from pathlib import Path

from consortium import chain
from consortium.cli import main as cli_main
from consortium.demo import run_demo

ROOT = Path(__file__).resolve().parents[2]
RULES = "config/reporting-rules.yaml"


def test_small_day__every_line_and_report_checks_out(accounts, tmp_path, capsys):
    """The in-process demo, quiet: the summary without brownie's transaction lines (those go to
    driver.log), ending with the portal command and each regulator's report page; the reports
    readable, in folders by regulator id, with no absolute path of this machine in any file."""
    args = argparse.Namespace(
        config="config/consortium.yaml", size="quick", seed=7, out=str(tmp_path), lines=None
    )
    assert run_demo(accounts, args) == 0  # every line's checks and every report verified
    shown = capsys.readouterr().out
    assert (
        "Transaction sent" not in shown
        and "Transaction sent" in (tmp_path / "driver.log").read_text()
    )
    tail = shown.strip().splitlines()
    portal = next(i for i, line in enumerate(tail) if "regulators' portal" in line)
    assert f"consortium serve --reports {tmp_path}" in tail[portal]
    urls = [
        re.search(r"(http://127\.0\.0\.1:8600/\S+) +\((\S+)\)", line) for line in tail[portal + 1 :]
    ]
    assert urls and all(urls), tail[portal:]
    for m in urls:
        reg, date, version = re.fullmatch(
            r"http://127\.0\.0\.1:8600/regulators/(reg-cn|reg-hk)/reports/(\S+)/v(\d+)/", m[1]
        ).groups()
        assert Path(m[2]) == tmp_path / reg / date / f"v{version}" / "report.html"
        assert Path(m[2]).is_file()
    # one report per regulator per day the run touched (the business day, and the bills' maturity)
    assert {m[1].split("/")[4] for m in urls} == {"reg-cn", "reg-hk"}
    reports = [p for p in tmp_path.glob("reg-*/*/v*") if p.is_dir()]
    for folder in reports:
        for f in folder.rglob("*"):
            if f.is_file():
                assert str(ROOT) not in f.read_text(), f
                assert str(tmp_path) not in f.read_text(), f
    cn = [json.loads((f / "report.json").read_text()) for f in tmp_path.glob("reg-cn/*/v*")]
    assert all(r["regulatorId"] == "reg-cn" and r["rules"]["path"] == RULES for r in cn)
    names = {v["name"] for r in cn for v in r["institutions"].values()}
    assert {"Mainland local broker", "Retail sales bank"} <= names
    assert not {"Hong Kong overseas broker", "Overseas custodian"} & names
    html = "".join((f / "report.html").read_text() for f in tmp_path.glob("reg-cn/*/v*"))
    assert "Mainland local broker" in html and "CNY " in html and "+08:00" in html
    # the settlement cycle is dated by the business day it ran on, not a fixed date
    hk = [json.loads((f / "report.json").read_text()) for f in tmp_path.glob("reg-hk/*/v*")]
    cycles = {
        (r["date"], rec["fields"]["cycleId"])
        for r in hk
        for rec in r["records"]
        if rec["event"] == "CycleNetted"
    }
    assert cycles and all(
        cycle.startswith(f"SETTLE-{date.replace('-', '')}-") for date, cycle in cycles
    ), cycles


def test_demo__malformed_consortium_file__stops_before_any_transaction(tmp_path, capsys):
    bad = tmp_path / "consortium.yaml"
    bad.write_text(
        "consortium: {name: x}\njurisdictions:\n  CN: {regulator: r}\ninstitutions:\n"
        "  - {id: r, name: R, jurisdiction: CN, roles: [REGULATOR]}\n"
        "  - {id: b, name: B, jurisdiction: CN, roles: [ASTRONAUT]}\n"
    )
    height = chain.web3().eth.block_number
    assert cli_main(["demo", "--config", str(bad)]) == 2
    assert f"{bad}:6: institution 'b': unknown role 'ASTRONAUT'" in capsys.readouterr().err
    assert chain.web3().eth.block_number == height
