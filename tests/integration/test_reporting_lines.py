"""Per-regulator reports over the real business lines: one demo day (all four lines), CN and HK.

The day runs once for the module (consortium.demo.run_day: deploy the suite, admit the institutions
of config/consortium.yaml, run annuity, confirmations, settlement and bills, then build, anchor and
verify every regulator's reports for every day the run touched).
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from consortium.chain import ROOT
from consortium.config import load_consortium
from consortium.reporting.rules import load_rules
from tests.fixtures.reporting import demo_institutions

SEED = 7
CONSORTIUM = "config/consortium.yaml"
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
# every table the four lines fill (fund_flows: bill financing and redemption, day settlement)
LINE_TABLES = {
    "annuity": {"contributions", "annuity_postings", "annuity_instructions", "annuity_accounts"},
    "bills": {"bills", "bill_events", "fund_flows"},
    "confirmations": {"confirmations", "reconciliation", "reconciliation_breaks", "fund_flows"},
    # CN's institutions (broker-cn, custodian-global) upload and reconcile trades, instruct their
    # settlement and pay its charges; the netting, the legs and the securities are the HK clearing
    # participants', CCP's and CSD's: HK's data only
    "settlement": {
        "trades",
        "first_clearing",
        "second_clearing",  # the CCP's and CSD's per currency, of each CN first party
        "settlement_reconciliation",
        "settlement",
        "holding",
    },
}
HK_SETTLEMENT = ("broker-hk", "ccp", "csd", "custodian-hk", "exchange-hk")


@pytest.fixture(scope="module")
def demo(accounts, tmp_path_factory):
    from consortium.demo import run_day

    out = tmp_path_factory.mktemp("demo")
    results, summary = run_day(accounts, CONSORTIUM, "quick", SEED, out, Console(quiet=True))
    return results, summary, out


@pytest.fixture(scope="module")
def institutions():
    """{institution id: address}, as the demo derives them."""
    return demo_institutions(SEED, CONSORTIUM)


@pytest.fixture(scope="module")
def reports(demo, institutions):
    """{regulator id: [report dicts of every day]}, read back from the files the demo wrote."""
    _, _, out = demo
    by_address = {a: i for i, a in institutions.items()}
    found: dict[str, list[dict]] = {}
    for path in sorted(Path(out).glob("reg-*/*/v*/report.json")):
        report = json.loads(path.read_text())
        assert path.parts[-4] == report["regulatorId"] == by_address[report["regulator"]]
        found.setdefault(report["regulatorId"], []).append(report)
    return found


@pytest.fixture(scope="module")
def regulator_of(demo, institutions):
    from brownie import ConsortiumRegistry

    registry = ConsortiumRegistry[-1]
    out = {}
    for a in institutions.values():
        reg = str(registry.regulatorOf(a)).lower()
        out[a.lower()] = a.lower() if int(reg, 16) == 0 else reg  # a regulator supervises itself
    return out


# events of the day no regulator's report carries: token plumbing of OpenZeppelin (the business
# events DepositIssued, SecurityIssued, … carry the same facts) and contract-internal bookkeeping
NOT_REPORTED = {
    "Transfer",
    "TransferSingle",
    "TransferBatch",
    "Approval",
    "ApprovalForAll",
    "RoleAdminChanged",
    "KeyUsed",
    # the reporting node's own anchoring: every report states its rules and anchor itself
    "RulesSet",
    "ReportAnchored",
    # derived state: the executed instruction's amounts (annuity-instruction-executed) give it
    "UnitPriceUpdated",
    # derived state naming no party: the cycle's last HoldingStepped (holding-stepped) gives it
    "TiersCompleted",
}


def test_demo__every_business_event_of_the_day_has_a_reporting_rule(demo):
    """A new event a contract emits reaches the regulators only through a rule: the day's own logs
    show which events have none."""
    from brownie import web3

    from consortium.chain import decode_logs

    ruled = {r.event for r in load_rules().rules}
    logs = web3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})
    emitted = {ev.name for ev in decode_logs([dict(log) for log in logs])}
    assert {"UploadsClosed", "EmployerRegistered", "DayClosed", "CurrencyListed"} <= emitted
    assert emitted - ruled - NOT_REPORTED == set()


def _records(reports, reg):
    return [r for rep in reports[reg] for r in rep["records"]]


def test_demo__lines_ran_and_reports_verified_on_chain(demo, reports):
    results, summary, _ = demo
    assert [r.line for r in results] == ["annuity", "confirmations", "settlement", "bills"]
    assert all(r.ok for r in results), {r.line: r.checks for r in results if not r.ok}
    assert summary["ok"] and summary["regulators"]
    assert all("verified on chain" in v for v in summary["regulators"].values()), summary
    assert set(reports) == {"reg-cn", "reg-hk"}
    for reg, reps in reports.items():
        assert all(
            r["anchor"]["anchored"] and r["rules"]["version"] == load_rules().version for r in reps
        )
        counts = Counter(r["table"] for r in _records(reports, reg))
        print(reg, len(_records(reports, reg)), "records", dict(sorted(counts.items())))


@pytest.mark.parametrize("line", sorted(LINE_TABLES))
def test_cn_report__every_line_table_has_records(reports, line):
    records = [r for r in _records(reports, "reg-cn") if r["line"] == line]
    counts = Counter(r["table"] for r in records)
    assert set(counts) == LINE_TABLES[line], counts
    # the tables the charts draw hold the fields the charts read
    if line == "bills":
        lineage = [r for r in records if r["table"] == "bills"]
        assert any("parentId" in r["fields"] for r in lineage)
        assert all({"nodeId", "amount"} <= set(r["fields"]) for r in lineage)
    if line == "confirmations":
        breaks = [r for r in records if r["table"] == "reconciliation_breaks"]
        assert all(
            {"cause", "presentedAmount", "correctedAmount"} <= set(r["fields"]) for r in breaks
        )
        assert all(set(r["parties"]) == {"bank", "financeCompany"} for r in breaks)
    if line == "annuity":
        posted = [r for r in records if r["table"] == "annuity_postings"]
        # the account hash is public (a pseudonym), the amounts per account are sealed
        assert all(r["fields"]["account"].startswith("0x") for r in posted)
        assert all(r["sealed"]["amount"]["status"] == "sealed" for r in posted)


def test_hk_report__settlement_records_of_its_institutions(reports, institutions):
    records = [r for r in _records(reports, "reg-hk") if r["line"] == "settlement"]
    assert {r["table"] for r in records} == {
        "trades",
        "first_clearing",
        "second_clearing",
        "settlement_reconciliation",
        "netting",
        "settlement",
        "securities",
        "holding",
    }
    named = {p["id"] for r in records for p in r["parties"].values() if p["supervised"]}
    missing = [i for i in HK_SETTLEMENT if institutions[i] not in named]
    assert not missing, f"HK settlement records name none of {missing}"
    netting = [r for r in records if r["table"] == "netting"]
    assert all(0 < r["fields"]["net"] <= r["fields"]["gross"] for r in netting)


@pytest.mark.parametrize("reg", ["reg-cn", "reg-hk"])
def test_reports__no_other_regulators_institution_in_clear(
    demo, reports, institutions, regulator_of, reg
):
    me = institutions[reg].lower()
    records = _records(reports, reg)
    assert records
    for r in records:
        for name, p in r["parties"].items():
            if p["supervised"]:
                assert regulator_of[p["id"].lower()] == me or p["id"].lower() == me, (r["id"], name)
            else:
                assert p["id"].startswith("ext:"), (r["id"], name, p)
                assert regulator_of.get(p["id"].lower()) is None
        # nothing else in the record (fields, sealed envelopes) names a foreign institution
        text = json.dumps({k: r[k] for k in ("parties", "fields", "sealed")})
        for a in ADDRESS.findall(text):
            other = regulator_of.get(a.lower())
            assert other is None or other == me, (r["id"], a)
    # by name: only the institutions it supervises, never another regulator's (not in the page)
    cfg = load_consortium(ROOT / CONSORTIUM)
    for rep in reports[reg]:
        named = {v["id"] for v in rep["institutions"].values()}
        assert named and all(i == reg or cfg.by_id(i).regulator == reg for i in named), named
        html = demo[2] / reg / rep["date"] / f"v{rep['anchor']['version']}" / "report.html"
        page = html.read_text()
        foreign = [i.name for i in cfg.institutions if i.regulator not in (reg, None)]
        assert not [n for n in foreign if n in page]
