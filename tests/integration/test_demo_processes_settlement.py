"""The settlement line in the multi-process day: a tiny day (`lines=("settlement",)`) on the test's
chain, each institution of the line its own OS process fed only by the files the seeded generator
gives it (scenarios.settlement_files); the outcome read from the chain and the agents' homes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from consortium.config import load_consortium
from consortium.dayrun import DayOptions, run_processes_day
from consortium.dayrun import day as dayrun
from consortium.dayrun.procs import pid_alive
from consortium.scenarios import settlement_files as line
from consortium.scenarios.files import DayView

SEED = 20261205
SIZES = {"executions": 3, "owners": 2}  # config/day-sizes.yaml `tiny`

# the settlement line's institutions only (two clearing brokers, a custodian, the exchange, the CCP,
# the CSD, the bank issuing the deposit tokens), plus the reporting node and the regulator
SETTLEMENT_CONSORTIUM = """\
version: 1
consortium: {name: Settlement consortium, founder: Operations office, jurisdiction: HK}
jurisdictions:
  HK: {regulator: reg-hk}
institutions:
  - {id: reg-hk, name: Regulator, jurisdiction: HK, roles: [REGULATOR]}
  - {id: reporter, name: Reporting node, jurisdiction: HK, roles: [REPORTER]}
  - {id: broker-hk, name: Broker, jurisdiction: HK, roles: [BROKER]}
  - {id: broker-hk-2, name: Broker 2, jurisdiction: HK, roles: [BROKER]}
  - {id: custodian-hk, name: Custodian, jurisdiction: HK, roles: [CUSTODIAN]}
  - {id: exchange-hk, name: Exchange, jurisdiction: HK, roles: [EXCHANGE]}
  - {id: ccp, name: CCP, jurisdiction: HK, roles: [CCP]}
  - {id: csd, name: CSD, jurisdiction: HK, roles: [CSD]}
  - {id: bank-hk, name: Settlement bank, jurisdiction: HK, roles: [CASH_ISSUER]}
channels:
  - [reporter, reg-hk]
currencies: [HKD, CNY]
securities:
  - {id: "0700.HK", currency: HKD, name: Tencent Holdings}
  - {id: "0005.HK", currency: HKD, name: HSBC Holdings}
"""
AGENTS = {"broker-hk", "broker-hk-2", "custodian-hk", "exchange-hk", "ccp", "csd", "bank-hk"}


def _options(out: Path) -> DayOptions:
    out.mkdir(parents=True, exist_ok=True)
    config = out / "consortium.yaml"
    config.write_text(SETTLEMENT_CONSORTIUM)
    return DayOptions(
        config=str(config),
        size="tiny",
        seed=SEED,
        out=out,
        lines=("settlement",),
        fast_keys=True,
        timeout=240,
    )


def _failed(outcome) -> dict:
    return {
        "checks": {r.line: [k for k, ok in r.checks.items() if not ok] for r in outcome.results},
        "reports": outcome.reports.get("ok"),
        "exit codes": {a.ident: a.exit_code for a in outcome.agents},
    }


@pytest.fixture(scope="module")
def day(accounts, tmp_path_factory):
    """The day, and the driver's view of it (kept to recompute the checks afterwards)."""
    out = tmp_path_factory.mktemp("settlement-processes-day")
    seen = {}
    real = dayrun._outcome

    def keep(d, skipped):
        seen["view"] = d.view
        return real(d, skipped)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dayrun, "_outcome", keep)
        outcome = run_processes_day(accounts, _options(out), Console(quiet=True))
    return outcome, out, seen["view"]


def test_settlement_day__agents__every_check_passes_counts_as_the_seed_says(day):
    outcome, out, _ = day
    assert outcome.ok, (_failed(outcome), outcome.agents)
    (settlement,) = outcome.results
    assert settlement.line == "settlement" and len(settlement.checks) == 7
    assert all(settlement.checks.values())
    cfg = load_consortium(out / "consortium.yaml")
    expected = line.expected_counts(cfg, SIZES, SEED)
    assert settlement.counts == expected
    assert expected["trades"] == 2 * SIZES["executions"] and expected["legs"] > 0
    assert settlement.metrics["breaks_per_level"] == {}
    assert settlement.metrics["settle_gas"] > 0
    assert 0 <= settlement.metrics["netting_efficiency_count"] <= 1
    assert settlement.transactions > 0 and settlement.gas > 0
    assert outcome.reports["ok"] and outcome.reports["regulators"]


def test_settlement_day__one_agent_per_institution__own_key_clean_exit_files_processed(day):
    outcome, out, _ = day
    stats = {a.ident: a for a in outcome.agents}
    assert set(stats) == AGENTS
    assert all(a.exit_code == 0 and a.starts == 1 for a in stats.values())
    assert all(a.transactions > 0 for a in stats.values())  # each sent with its own key
    assert sum(a.transactions for a in stats.values()) == outcome.results[0].transactions
    cfg = load_consortium(out / "consortium.yaml")
    files = line.input_files(cfg, SIZES, SEED)
    assert {i: a.processed for i, a in stats.items()} == {i: len(files.get(i, [])) for i in AGENTS}
    assert all(a.rejected == 0 for a in stats.values())
    for ident in AGENTS:
        log = (out / "agents" / ident / "agent.log").read_text()
        assert "stopped cleanly" in log and " ERROR " not in log


def test_settlement_day__afterwards__no_agent_process_left(day):
    outcome, _, _ = day
    assert len(outcome.pids) == len(AGENTS)
    assert not [pid for pid in outcome.pids if pid_alive(pid)]


def test_settlement_checks__another_seeds_day__not_on_chain__checks_fail(day):
    """Checks read the chain and the homes: a day the agents never played fails them."""
    _, _, view = day
    other = DayView(view.suite, view.homes, view.cfg, view.sizes, view.seed + 1)
    result = line.checks(other)
    assert not result.checks["cycle settled"]
    assert not result.checks["every reconciliation matched"]
    assert not result.checks["balances exact"]
    assert not result.checks["instructions and results in the participants' outboxes"]
    assert result.counts == {"trades": 0, "legs": 0, "reconciliations": 0}
    assert not line.done(other)


def test_settlement_checks__a_participants_outbox_report_gone__that_check_fails(day, tmp_path):
    _, _, view = day
    homes = dict(view.homes)
    d = line.file_day(view.cfg, SIZES, view.seed)
    victim = d.participants[0]
    copy = tmp_path / victim
    (copy / "outbox" / "settlement").mkdir(parents=True)
    homes[victim] = copy  # its home without the cycle's report
    result = line.checks(DayView(view.suite, homes, view.cfg, view.sizes, view.seed))
    assert not result.checks["instructions and results in the participants' outboxes"]
    assert result.checks["cycle settled"] and result.checks["balances exact"]
