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

from consortium.chain import ROOT
from consortium.config import load_consortium, load_sizes
from consortium.domain.qualification import ABOVE_MAX_AMOUNT, RULES_NOT_AGREED
from consortium.scenarios import confirmations
from consortium.scenarios.confirmations_files import INJECTED, file_day
from consortium.scenarios.files import DayView
from tests.agent.test_confirmations_agents import CONSORTIUM_YAML as AGENTS_YAML
from tests.integration.processes import (
    SEED,
    assert_no_agent_left,
    assert_one_clean_agent_each,
    failed,
    play,
)

AGENTS = {
    "sales-bank",
    "sales-bank-2",
    "wm-issuer-1",
    "wm-issuer-2",
    "finance-company",
    "reconciler",
}
MAX_AMOUNT = 500_000  # WM-001's maximum in the issuer's books: the day's order above it is refused


def _consortium() -> str:
    """The agent tests' consortium of the line, plus what the whole day needs: a reporting node
    for the regulator's report, the sales bank issuing the deposit tokens that pay the day, a
    second sales bank distributing WM-001 (two banks on one product) and WM-001's maximum."""
    cfg = yaml.safe_load(AGENTS_YAML)
    cfg["institutions"] += [
        {"id": "reporter", "name": "Reporting node", "jurisdiction": "CN", "roles": ["REPORTER"]},
        {"id": "sales-bank-2", "name": "Bank 2", "jurisdiction": "CN", "roles": ["SALES_BANK"]},
    ]
    bank = next(i for i in cfg["institutions"] if i["id"] == "sales-bank")
    bank["roles"].append("CASH_ISSUER")
    cfg["channels"] += [["reporter", "reg-cn"], ["sales-bank-2", "wm-issuer-1"]]
    wm1 = next(p for p in cfg["products"]["wealth"] if p["id"] == "WM-001")
    wm1["max_amount"] = MAX_AMOUNT
    return yaml.safe_dump(cfg)


CONSORTIUM = _consortium()


def _sizes() -> dict:
    return load_sizes(ROOT / "config/day-sizes.yaml", "tiny")["confirmations"]


def _seeded(out: Path):
    return file_day(load_consortium(out / "consortium.yaml"), _sizes(), SEED)


@pytest.fixture(scope="module")
def day(accounts, tmp_path_factory):
    out = tmp_path_factory.mktemp("confirmations-day")
    return play(accounts, out, "confirmations", CONSORTIUM), out


@pytest.fixture(scope="module")
def suite(day):
    return day[0].view.suite


def test_confirmations_day__every_check_and_report_passes(day):
    outcome, _ = day
    assert outcome.ok, failed(outcome)
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
    assert counts.pop("confirmed") > 0 and counts.pop("packets") >= 2  # the redemption's own
    rejected = counts.pop("rejected")
    orders = len(d.orders) + len(d.later)
    assert 0 < rejected < orders
    # each order is refused by the bank's screening, confirmed, or confirmed as refused
    assert rejected + line.counts["confirmed"] + line.counts["refused_by_issuers"] == orders
    assert counts == {
        "registrations": len(d.customers) * 2,
        "orders": orders,
        "refused_by_issuers": 1,  # the order above WM-001's maximum
        "redemptions_confirmed": 1,
        "banks_on_one_product": 2,
        "second_bank_confirmed": 1,
        "countersigned_batches": 1,  # the tiny day's payments fit one bilateral batch
        "payments": len(d.payments),
        "breaks_found": sum(INJECTED.values()),
        "breaks_corrected": sum(INJECTED.values()),
    }
    assert line.metrics["issuer_refusal_reasons"] == [ABOVE_MAX_AMOUNT]
    assert line.metrics["breaks"] == INJECTED and line.metrics["rules_agreed"] == "3/3"
    assert RULES_NOT_AGREED not in line.metrics["rejection_reasons"]
    assert line.metrics["payment"] == d.total > 0
    for check in (
        "every product's rules approved by both parties and enacted",
        "every confirmation verified and anchored",
        "day paid once on chain: the committed total",
        "a redemption within the holding confirmed",
        "an order above the product maximum confirmed as refused, with its reason",
        "two banks hold their own terms for one product",
        "the second bank's order confirmed and anchored under its root",
        "bilateral record countersigned by the finance company",
        "every issuer refusal carries its reason",
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
    stats = assert_one_clean_agent_each(outcome, out, AGENTS)
    # the finance company's own transactions: the allowance and the day's payment, once
    assert stats["finance-company"].transactions == 2 and stats["finance-company"].sent > 0
    # sales bank: product-rules, customers, credits, orders, the later orders (the redemption),
    # the funding (its deposit token); the second bank: its product-rules, customers, orders
    assert (stats["sales-bank"].processed, stats["finance-company"].processed) == (6, 1)
    assert stats["sales-bank-2"].processed == 3
    assert stats["wm-issuer-1"].processed == stats["wm-issuer-2"].processed == 1


def test_confirmations_day__afterwards__no_agent_process_left(day):
    assert_no_agent_left(day[0], AGENTS)


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
    assert "a redemption within the holding confirmed" in failed
    assert "an order above the product maximum confirmed as refused, with its reason" in failed
    assert "the second bank's order confirmed and anchored under its root" in failed
    assert result.counts["redemptions_confirmed"] == result.counts["refused_by_issuers"] == 0
