"""The main job, small: all four lines, then every regulator's report, verified against the chain."""

from rich.console import Console

from consortium import chain
from consortium.cli import main as cli_main
from consortium.demo import LINES, run_day


def test_small_day__every_line_and_report_checks_out(accounts, tmp_path):
    results, reports = run_day(
        accounts, "config/consortium.yaml", "quick", 7, tmp_path, Console(quiet=True)
    )
    assert [r.line for r in results] == list(LINES)
    for r in results:
        assert r.checks, f"{r.line} reported no checks"
        assert r.ok, (r.line, {k: v for k, v in r.checks.items() if not v})
        assert r.transactions > 0 and r.gas > 0
    assert reports["ok"]
    # one report per regulator per day the run touched (the business day, and the bills' maturity)
    assert {key.split()[0] for key in reports["regulators"]} == {"reg-cn", "reg-hk"}
    assert all("verified on chain" in v for v in reports["regulators"].values())


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
