"""The bills line as a consortium of processes: a tiny day (one bill) on the test's chain, each
institution of the line its own agent fed only by its business files (the cash issuer's credits, the
core's issue and redemption, the tier-1's transfers, the tier-2's financing request); everything
else is an agent reacting to the chain. The driver moves the local chain's clock to maturity."""

from __future__ import annotations

import pytest

from consortium.chain import ROOT
from consortium.config import load_consortium, load_sizes
from consortium.scenarios import bills
from consortium.scenarios.bills_files import file_day
from consortium.scenarios.files import DayView
from tests.integration.processes import (
    SEED,
    assert_no_agent_left,
    assert_one_clean_agent_each,
    failed,
    play,
)

CLIENTS = ("core", "tier1", "tier2-a", "tier2-b")
BILLS_AGENTS = {*CLIENTS, "auditor", "factor", "factor-2", "cash-bank"}

# the bills line's institutions only (fewer to admit), the regulator and the reporting node
BILLS_CONSORTIUM = """\
version: 1
consortium: {name: Bills consortium, founder: Operations office, jurisdiction: CN}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: Regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: reporter, name: Reporting node, jurisdiction: CN, roles: [REPORTER]}
  - {id: auditor, name: Audit institution, jurisdiction: CN, roles: [AUDITOR]}
  - {id: core, name: Core enterprise, jurisdiction: CN, roles: [SUPPLY_CHAIN_CLIENT, BILL_ISSUER]}
  - id: tier1
    name: Tier-1 supplier
    jurisdiction: CN
    roles: [SUPPLY_CHAIN_CLIENT, BILL_ISSUER, BILL_TRANSFEROR, BILL_FINANCING_APPLICANT]
  - id: tier2-a
    name: Tier-2 supplier A
    jurisdiction: CN
    roles: [SUPPLY_CHAIN_CLIENT, BILL_TRANSFEROR, BILL_FINANCING_APPLICANT]
  - {id: tier2-b, name: Tier-2 supplier B, jurisdiction: CN, roles: [SUPPLY_CHAIN_CLIENT, BILL_FINANCING_APPLICANT]}
  - {id: factor, name: Factor, jurisdiction: CN, roles: [ASSET_MANAGER]}
  - {id: factor-2, name: Second factor, jurisdiction: CN, roles: [ASSET_MANAGER]}
  - {id: cash-bank, name: Deposit bank, jurisdiction: CN, roles: [CASH_ISSUER]}
channels:
  - [reporter, reg-cn]
currencies: [CNY]
"""


@pytest.fixture(scope="module")
def day(accounts, tmp_path_factory):
    """The tiny bills day, the driver's view of it (for the checks below) and the seeded day."""
    out = tmp_path_factory.mktemp("bills-processes-day")
    outcome = play(accounts, out, "bills", BILLS_CONSORTIUM)
    sizes = load_sizes(ROOT / "config/day-sizes.yaml", "tiny")["bills"]
    return (
        outcome,
        out,
        outcome.view,
        file_day(load_consortium(out / "consortium.yaml"), sizes, SEED),
    )


def test_bills_processes_day__every_check_and_report_passes(day):
    outcome, _, _, _ = day
    assert outcome.ok, failed(outcome)
    (line,) = outcome.results
    assert line.line == "bills" and outcome.skipped == []
    assert set(line.checks) >= {
        "balances exact",
        "lineage complete",
        "financing paid",
        "maturity paid right holders",
        "every input file processed",
    }
    assert line.transactions > 0 and line.gas > 0
    assert outcome.reports["ok"] and outcome.reports["regulators"]


def test_bills_processes_day__counts_and_metrics__as_the_seed_says(day):
    outcome, _, _, d = day
    (line,) = outcome.results
    n = len(d.bills)
    assert n == 1  # tiny
    assert line.counts == {
        "bills": n,
        "transfers": 2 * n,
        "financings": n,
        "redemptions": n,
        "competing_quotes": 1,  # the first bill's quote window: both factors quoted
    }
    assert line.checks["competing quotes: best signed, other released"]
    assert line.metrics["face_total"] == line.metrics["redeemed"] == sum(b.face for b in d.bills)
    assert line.metrics["financed"] == sum(b.part_a for b in d.bills)
    assert 0 < line.metrics["proceeds"] < line.metrics["financed"]  # discounted
    assert line.metrics["on_chain_cash"] and line.metrics["redeemed_on_chain_clock"]


def test_bills_processes_day__one_agent_per_institution__each_with_its_own_key(day):
    outcome, out, _, d = day
    stats = assert_one_clean_agent_each(outcome, out, BILLS_AGENTS)
    (b,) = d.bills
    files = {i: 0 for i in BILLS_AGENTS}
    for ident in (b.core, b.core, b.tier1, b.t2a, d.cash_issuer):  # core: issue, redemption
        files[ident] += 1
    assert {i: a.processed for i, a in stats.items()} == files


def test_bills_state_before_redemption__read_as_it_became_ready__as_the_chain_held_it(day):
    """The checks compare the redemption with the state read when it became ready (the node need
    keep no history); a view that did not see it reads the block before the first redemption:
    the same values."""
    from consortium.scenarios.bills_files import BEFORE, _outcome

    _, _, view, d = day
    seen = view.memo(BEFORE, lambda: None)
    redeemed = view.suite["BillToken"].events.get_sequence(
        int(view.suite.block), event_type="BillRedeemed"
    )
    assert seen is not None and int(seen.block) < min(int(e.blockNumber) for e in redeemed)
    fresh = _outcome(DayView(view.suite, view.homes, view.cfg, view.sizes, SEED)).before
    assert fresh.block == min(int(e.blockNumber) for e in redeemed) - 1
    assert (fresh.held, fresh.locked, fresh.redeemed, fresh.cash) == (
        seen.held,
        seen.locked,
        seen.redeemed,
        seen.cash,
    )
    (b,) = d.bills
    assert sum(seen.held.values()) + sum(seen.locked.values()) == b.face  # nothing redeemed yet
    assert set(seen.cash) == set(d.participants())


def test_bills_processes_day__afterwards__no_agent_process_left(day):
    assert_no_agent_left(day[0], BILLS_AGENTS)


def test_bills_checks__a_day_whose_files_were_never_dropped__fail(day):
    """The same chain judged for another seed (other documents, other references) or for more
    bills than were issued: the checks read the chain, so they fail."""
    _, _, view, _ = day
    other = DayView(view.suite, view.homes, view.cfg, view.sizes, SEED + 1)
    result = bills.checks(other)
    assert not result.ok
    assert result.counts["bills"] == 0 and not result.checks["bills issued as drawn"]
    assert not bills.done(other)
    more = {"bills": view.sizes_of("bills") | {"bills": 2}}
    result = bills.checks(DayView(view.suite, view.homes, view.cfg, more, SEED))
    assert result.counts["bills"] == 1 and not result.checks["balances exact"]
    assert not result.ok


def test_bills_files__outbox_positions_tampered__checks_fail(day, tmp_path):
    """A holder's positions that do not match the chain fail the positions check."""
    import shutil

    _, _, view, d = day
    homes = {}
    for ident, home in view.homes.items():
        homes[ident] = tmp_path / ident
        shutil.copytree(home / "outbox", homes[ident] / "outbox")
        shutil.copy(home / "agent.yaml", homes[ident] / "agent.yaml")
    held = homes[d.factor] / "outbox" / "positions" / "holdings.json"
    held.write_text('{"holdings": [{"node_id": 99, "amount": 1}]}')
    result = bills.checks(DayView(view.suite, homes, view.cfg, view.sizes, SEED))
    assert not result.checks["positions in the outboxes agree"]
    assert result.checks["balances exact"] and result.checks["financing paid"]
