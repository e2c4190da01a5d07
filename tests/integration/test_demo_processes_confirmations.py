"""The confirmations line as a consortium of processes: a tiny day on the test's chain, its five
institutions' agents fed only by the files the seeded generator gives (the products' rules at the
sales bank and each issuer, customers and orders at the sales bank, credits at the bank, debits at
the finance company, its funding at the deposit-token issuer) and followed only through the chain
and their homes: rules approved by both parties and enacted by the driver (the operations office),
orders confirmed and anchored, the day reconciled and paid. Afterwards no agent process is left,
checked by pid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from consortium.chain import ROOT
from consortium.config import load_consortium, load_sizes
from consortium.dayrun import DayOptions, run_processes_day
from consortium.dayrun import day as dayrun
from consortium.dayrun.procs import pid_alive
from consortium.domain.qualification import RULES_NOT_AGREED
from consortium.scenarios import confirmations
from consortium.scenarios.confirmations_files import INJECTED, file_day
from consortium.scenarios.files import DayView

SEED = 20261205
AGENTS = {"sales-bank", "wm-issuer-1", "wm-issuer-2", "finance-company", "reconciler"}

# the confirmations line's institutions only (fewer to admit), a reporter for the regulator's report
CONSORTIUM = """\
version: 1
consortium: {name: Confirmations consortium, founder: Operations office, jurisdiction: CN}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: Regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: reporter, name: Reporting node, jurisdiction: CN, roles: [REPORTER]}
  - {id: sales-bank, name: Sales bank, jurisdiction: CN, roles: [SALES_BANK, BANK, CASH_ISSUER]}
  - {id: wm-issuer-1, name: Issuer 1, jurisdiction: CN, roles: [PRODUCT_ISSUER]}
  - {id: wm-issuer-2, name: Issuer 2, jurisdiction: CN, roles: [PRODUCT_ISSUER]}
  - {id: finance-company, name: Finance company, jurisdiction: CN, roles: [FINANCE_COMPANY]}
  - {id: reconciler, name: Reconciler, jurisdiction: CN, roles: [RECONCILER]}
channels:
  - [sales-bank, wm-issuer-1]
  - [sales-bank, wm-issuer-2]
  - [sales-bank, finance-company]
  - [reconciler, sales-bank]
  - [reconciler, finance-company]
  - [reporter, reg-cn]
currencies: [CNY]
products:
  wealth:
    - {id: WM-001, issuer: wm-issuer-1, risk_level: 2, min_age: 18}
    - {id: WM-002, issuer: wm-issuer-1, risk_level: 4, min_age: 18}
    - {id: WM-101, issuer: wm-issuer-2, risk_level: 3, min_age: 21}
"""


def _options(out: Path) -> DayOptions:
    out.mkdir(parents=True, exist_ok=True)
    config = out / "consortium.yaml"
    config.write_text(CONSORTIUM)
    return DayOptions(
        config=str(config),
        size="tiny",
        seed=SEED,
        out=out,
        lines=("confirmations",),
        fast_keys=True,
        timeout=240,
    )


def _sizes() -> dict:
    return load_sizes(ROOT / "config/day-sizes.yaml", "tiny")["confirmations"]


def _seeded(out: Path):
    return file_day(load_consortium(out / "consortium.yaml"), _sizes(), SEED)


SEEN: dict = {}


@pytest.fixture(scope="module")
def day(accounts, tmp_path_factory):
    out = tmp_path_factory.mktemp("confirmations-day")
    real = dayrun._outcome

    def spy(d, skipped):  # keeps the day's suite for the unhappy-path test below
        SEEN["suite"] = d.suite
        return real(d, skipped)

    dayrun._outcome = spy
    try:
        outcome = run_processes_day(accounts, _options(out), Console(quiet=True))
    finally:
        dayrun._outcome = real
    return outcome, out


@pytest.fixture(scope="module")
def suite(day):
    return SEEN["suite"]


def test_confirmations_day__every_check_and_report_passes(day):
    outcome, _ = day
    failed = {r.line: [k for k, ok in r.checks.items() if not ok] for r in outcome.results}
    assert outcome.ok, (failed, outcome.reports.get("ok"), outcome.agents)
    (line,) = outcome.results
    assert line.line == "confirmations" and len(line.checks) >= 8
    assert all(line.checks.values()) and line.checks["every input file processed"]
    assert line.transactions > 0 and line.gas > 0
    assert outcome.reports["ok"] and outcome.kills == 0


def test_confirmations_day__counts__as_the_seed_says(day, suite):
    outcome, out = day
    d = _seeded(out)
    (line,) = outcome.results
    counts = dict(line.counts)
    assert counts.pop("confirmed") > 0 and counts.pop("packets") >= 1
    rejected = counts.pop("rejected")
    assert 0 < rejected < len(d.orders) and rejected + line.counts["confirmed"] == len(d.orders)
    assert counts == {
        "registrations": len(d.customers) * 2,
        "orders": len(d.orders),
        "payments": len(d.payments),
        "breaks_found": sum(INJECTED.values()),
        "breaks_corrected": sum(INJECTED.values()),
    }
    assert line.metrics["breaks"] == INJECTED and line.metrics["rules_agreed"] == "3/3"
    assert RULES_NOT_AGREED not in line.metrics["rejection_reasons"]
    assert line.metrics["payment"] == d.total > 0
    for check in (
        "every product's rules approved by both parties and enacted",
        "every confirmation verified and anchored",
        "day paid once on chain: the committed total",
    ):
        assert line.checks[check], check
    # every packet's root anchored on chain by the sales bank, as its outbox says
    anchor = suite["ConfirmationAnchor"]
    bank = yaml.safe_load((out / "agents" / "sales-bank" / "agent.yaml").read_text())
    bank = bank["addresses"]["sales-bank"]
    for f in (out / "agents" / "sales-bank" / "outbox" / "confirmations").glob("*.json"):
        doc = json.loads(f.read_text())
        assert int(anchor.anchorOf(bank, doc["root"])[2]) == len(doc["records"])


def test_confirmations_day__agents__own_keys_exit_0_no_error_logged(day):
    outcome, out = day
    stats = {a.ident: a for a in outcome.agents}
    assert set(stats) == AGENTS
    assert all(a.exit_code == 0 and a.starts == 1 for a in stats.values())
    # the finance company's own transactions: the allowance and the day's payment, once
    assert all(stats[i].transactions > 0 for i in AGENTS)
    assert stats["finance-company"].transactions == 2 and stats["finance-company"].sent > 0
    assert sum(a.transactions for a in stats.values()) == outcome.results[0].transactions
    # sales bank: product-rules, customers, credits, orders, the funding (its deposit token)
    assert (stats["sales-bank"].processed, stats["finance-company"].processed) == (5, 1)
    assert stats["wm-issuer-1"].processed == stats["wm-issuer-2"].processed == 1
    assert all(a.rejected == 0 for a in stats.values())
    for ident in AGENTS:
        log = (out / "agents" / ident / "agent.log").read_text()
        assert "stopped cleanly" in log and " ERROR " not in log


def test_confirmations_day__afterwards__no_agent_process_left(day):
    outcome, _ = day
    assert len(outcome.pids) == len(AGENTS)
    assert not [pid for pid in outcome.pids if pid_alive(pid)]


def test_confirmations_checks__homes_where_nothing_was_done__fail(day, suite, tmp_path):
    """Read against homes where no agent did its job (on the same chain), the line's checks fail
    and its day is not done: a check is never true by default."""
    _, out = day
    homes = {}
    for ident in AGENTS:
        (tmp_path / ident / "outbox").mkdir(parents=True)
        homes[ident] = tmp_path / ident
    real = (out / "agents" / "sales-bank" / "agent.yaml").read_text()
    addresses = {"addresses": yaml.safe_load(real)["addresses"]}
    (tmp_path / "sales-bank" / "agent.yaml").write_text(yaml.safe_dump(addresses))
    cfg = load_consortium(out / "consortium.yaml")
    view = DayView(suite, homes, cfg, {"confirmations": _sizes()}, SEED)
    assert not confirmations.ready("orders", view) and not confirmations.done(view)
    result = confirmations.checks(view)
    failed = {k for k, ok in result.checks.items() if not ok}
    assert "result sent to both" in failed
    assert "registrations decided on chain as the bank's KYC says" in failed
    assert "every product's rules approved by both parties and enacted" in failed
    assert "day paid once on chain: the committed total" in failed
