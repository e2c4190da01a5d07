"""The settlement line in the multi-process day: a tiny day (`lines=("settlement",)`) on the test's
chain, each institution of the line its own OS process fed only by the files the seeded generator
gives it (scenarios.settlement_files); the outcome read from the chain and the agents' homes."""

from __future__ import annotations

import pytest

from consortium.config import load_consortium
from consortium.scenarios import settlement_files as line
from consortium.scenarios.files import DayView
from tests.integration.processes import (
    SEED,
    assert_no_agent_left,
    assert_one_clean_agent_each,
    failed,
    play,
)

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


@pytest.fixture(scope="module")
def day(accounts, tmp_path_factory):
    """The day, and the driver's view of it (kept to recompute the checks afterwards)."""
    out = tmp_path_factory.mktemp("settlement-processes-day")
    outcome = play(accounts, out, "settlement", SETTLEMENT_CONSORTIUM)
    return outcome, out, outcome.view


def test_settlement_day__agents__every_check_passes_counts_as_the_seed_says(day):
    outcome, out, _ = day
    assert outcome.ok, failed(outcome)
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
    stats = assert_one_clean_agent_each(outcome, out, AGENTS)
    cfg = load_consortium(out / "consortium.yaml")
    files = line.input_files(cfg, SIZES, SEED)
    assert {i: a.processed for i, a in stats.items()} == {i: len(files.get(i, [])) for i in AGENTS}


def test_settlement_day__afterwards__no_agent_process_left(day):
    assert_no_agent_left(day[0], AGENTS)


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
