"""First clearing data in each regulator's daily report: the settlement line's day (the demo's
in-process driver, config/consortium.yaml's institutions), then reg-cn's and reg-hk's reports.

A first party's last FirstClearingData record of a cycle and currency is its first clearing data:
it must equal what `domain/clearing.py` computes over the trades the party uploaded (read back from
the chain's calldata) under the charges it configured, and reach only the party's own regulator.
"""

import json
from pathlib import Path

import pytest
from rich.console import Console

from consortium.chain import ROOT
from consortium.config import load_consortium
from consortium.domain.clearing import Charge, ChargeKind, Payer, first_clearing
from consortium.domain.hashing import code32, code_text
from consortium.domain.money import format_amount
from consortium.roles.executions import read_uploads
from tests.fixtures.reporting import demo_institutions

SEED = 11
CONSORTIUM = "config/consortium.yaml"
AMOUNTS = ("gross", "fees", "taxes", "buyNet", "sellNet")
DECIMALS = {"CNY": 2, "HKD": 2}  # config/consortium.yaml's currencies


@pytest.fixture(scope="module")
def demo(accounts, tmp_path_factory):
    """The settlement line's day, its reports written, anchored and verified."""
    from consortium.demo import run_day

    out = tmp_path_factory.mktemp("first-clearing")
    results, summary = run_day(
        accounts, CONSORTIUM, "quick", SEED, out, Console(quiet=True), lines=("settlement",)
    )
    return results, summary, out


@pytest.fixture(scope="module")
def institutions():
    """{institution id: address}, as the demo derives them."""
    return demo_institutions(SEED, CONSORTIUM)


@pytest.fixture(scope="module")
def reported(demo):
    """{regulator id: {(party, cycle id text, currency): the cycle's last record's fields}} and
    {regulator id: [every FirstClearingData record]}."""
    last: dict[str, dict] = {}
    records: dict[str, list] = {}
    for path in sorted(Path(demo[2]).glob("reg-*/*/v*/report.json")):
        report = json.loads(path.read_text())
        mine = [r for r in report["records"] if r["event"] == "FirstClearingData"]
        mine.sort(key=lambda r: (r["chain"]["blockNumber"], r["chain"]["logIndex"]))
        records.setdefault(report["regulatorId"], []).extend(mine)
        for r in mine:
            key = (r["parties"]["party"]["id"], r["fields"]["cycleId"], r["fields"]["currency"])
            last.setdefault(report["regulatorId"], {})[key] = r
    return last, records


def _expected(engine, web3, cycle: str) -> dict[tuple, tuple]:
    """The Python mirror's first clearing data of every party that uploaded to `cycle`, from its
    uploads' calldata and the charges it configured on chain."""
    books: dict[str, list] = {}
    for u in read_uploads(web3, engine.address, code32(cycle)):
        books.setdefault(u.party, []).extend(u.trades)
    out = {}
    for party, trades in books.items():
        charges = {
            sid: [
                Charge(ChargeKind(k), Payer(p), int(bps), int(m))
                for k, p, bps, m in engine.clearingConfig(party, sid)
            ]
            for sid in {t.security_id for t in trades}
        }
        for ccy, tot in first_clearing(party, trades, charges).totals.items():
            out[(party, cycle, code_text(ccy))] = tot.as_tuple()
    return out


def test_day__settled_and_reports_verified(demo):
    results, summary, _ = demo
    assert [r.line for r in results] == ["settlement"] and results[0].ok, results[0].checks
    assert summary["ok"] and all("verified on chain" in v for v in summary["regulators"].values())


def test_reports__first_clearing_data_equals_python_mirror_per_party_and_currency(
    demo, reported, institutions
):
    from brownie import SettlementEngine, web3

    last, _ = reported
    cycles = {k[1] for by_key in last.values() for k in by_key}
    assert len(cycles) == 1
    expected = _expected(SettlementEngine[-1], web3, cycles.pop())
    got = {
        key: (r["fields"]["tradeCount"], *(r["fields"][a] for a in AMOUNTS))
        for by_key in last.values()
        for key, r in by_key.items()
    }
    assert got == expected  # every uploader, every currency, to exactly one regulator
    cn = {institutions[i] for i in ("broker-cn", "custodian-global")}
    assert {k[0] for k in last["reg-cn"]} == cn
    assert {k[0] for k in last["reg-hk"]} == {k[0] for k in expected} - cn
    assert {k[2] for k in last["reg-cn"]} == {"CNY", "HKD"}  # both markets' trades
    assert any(v[2] > 0 and v[3] > 0 for v in expected.values())  # fees and taxes charged


@pytest.mark.parametrize("reg", ["reg-cn", "reg-hk"])
def test_reports__first_clearing_only_of_supervised_parties_amounts_with_currency(
    demo, reported, institutions, reg
):
    _, records = reported
    assert records[reg]
    cfg = load_consortium(ROOT / CONSORTIUM)
    mine = {institutions[i.id] for i in cfg.institutions if i.regulator == reg}
    for r in records[reg]:
        assert r["table"] == "first_clearing" and r["rule"] == "settlement-first-clearing"
        assert r["parties"]["party"]["supervised"] and r["parties"]["party"]["id"] in mine
        assert r["currency"] == {a: r["fields"]["currency"] for a in AMOUNTS}
        assert not r["sealed"]  # an aggregate per party (settlement_amounts): public


@pytest.mark.parametrize("reg", ["reg-cn", "reg-hk"])
def test_report_html__first_clearing_table_with_amounts_in_currency(demo, reported, reg):
    """The page a person reads shows the table and each record's gross in its currency."""
    _, records = reported
    page = next(Path(demo[2]).glob(f"{reg}/*/v*/report.html")).read_text()
    assert "First clearing data per party, cycle and currency" in page
    for r in records[reg]:
        ccy = r["fields"]["currency"]
        assert format_amount(r["fields"]["gross"], ccy, DECIMALS[ccy]) in page


def test_day_summary__settlement_figures_and_lookthrough_records_per_regulator(demo, reported):
    """The day's summary for settlement: trades, legs per tier, fees and taxes paid per currency,
    instructions matched, and per regulator the look-through records its report holds."""
    (result,), _, _ = demo
    _, records = reported
    assert result.counts["trades"] > 0 and result.counts["instructions_matched"] > 0
    assert result.metrics["legs_per_tier"]["tier 0"] == result.counts["legs"]
    assert result.counts["holding_steps"] > 0
    paid = result.metrics["charges_paid"]
    assert {k.split()[0] for k in paid} == {"fees", "taxes"} and all(v > 0 for v in paid.values())
    looked = result.metrics["lookthrough_records"]
    for reg in ("reg-cn", "reg-hk"):
        assert looked[f"{reg} first clearing"] == len(records[reg])
    sealed = sum(v for k, v in looked.items() if k.endswith("sealed positions"))
    assert sealed == result.counts["lookthrough_positions"] > 0


@pytest.mark.parametrize("reg", ["reg-cn", "reg-hk"])
def test_report_html__lookthrough_positions_opened_with_the_regulators_key(demo, reg):
    """The day writes each regulator's page with the key its look-through records are sealed to
    (the member's key): every record sealed to it is opened, proved against the published root
    and the holding chain; report.json holds none of it and still verifies (the day's check)."""
    from consortium.roles.lookthrough import HELD

    (result,), _summary, out = demo
    folder = next(Path(out).glob(f"{reg}/*/v*"))
    report = json.loads((folder / "report.json").read_text())
    sealed = [r for r in report["records"] if r["event"] == "RecordSealed"]
    assert sealed and all("opened" not in r for r in report["records"])
    page = (folder / "report.html").read_text()
    n = len(sealed)
    assert f"Look-through positions sealed to this regulator ({n} of {n} opened)" in page
    assert page.count(f"<td>{HELD}</td>") == n
    looked = result.metrics["lookthrough_records"]
    assert looked[f"{reg} sealed positions"] == n
