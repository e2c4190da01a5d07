"""Reports a person can read: names of supervised institutions, amounts with currency, local times,
folders by regulator id, no absolute paths (no chain)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.config import load_consortium
from consortium.domain.money import AmountFormatError, format_amount, parse_amount
from consortium.reporting.anchoring import RulesStatus
from consortium.reporting.builder import RecordContext, build_report, portable_path
from consortium.reporting.directory import Dossier, PartyInfo, pseudonym
from consortium.reporting.errors import ReportingError
from consortium.reporting.output import report_dir, report_url, write_report
from consortium.reporting.pipeline import _targets
from consortium.reporting.render_html import render_html
from consortium.reporting.rules import RulesError, parse_rules
from consortium.reporting.tables import local_time, table_rows
from tests.offchain.test_reporting_joins import _event as joined_event

ROOT = Path(__file__).resolve().parents[2]
REG_CN, REG_HK = "0x" + "c1" * 20, "0x" + "d1" * 20
BANK, FOREIGN = "0x" + "0a" * 20, "0x" + "0f" * 20

RULES = """version: 1
tables:
  flows: {title: Flows, chart: {type: flow, from: payer, to: payee, value: amount}}
rules:
  - id: paid
    line: x
    contract: Cash
    event: Paid
    table: flows
    parties: [payer, payee]
    fields:
      amount: {level: public, currency: contract}
      fee: {level: public, currency: param:ccy}
      units: public
"""

# 2026-12-02 23:30:00 UTC: already 3 December in Shanghai
LATE = int(dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.UTC).timestamp())
DAY = LATE // 86400


PEOPLE = {
    REG_CN: PartyInfo(REG_CN, True, "CN", REG_CN, frozenset({"REGULATOR"})),
    REG_HK: PartyInfo(REG_HK, True, "HK", REG_HK, frozenset({"REGULATOR"})),
    BANK: PartyInfo(BANK, True, "CN", REG_CN, frozenset({"BANK"})),
    FOREIGN: PartyInfo(FOREIGN, True, "HK", REG_HK, frozenset({"BROKER"})),
}


class Directory:
    people = PEOPLE

    def info(self, address):
        return self.people[address.lower()]


DOSSIER = Dossier(
    {
        REG_CN: ("reg-cn", "Mainland regulator"),
        REG_HK: ("reg-hk", "Hong Kong regulator"),
        BANK: ("bank-cn", "Mainland Bank"),
        FOREIGN: ("broker-hk", "Secret Hong Kong Broker"),
    },
    {"CNY": 2, "JPY": 0, "HKD": 2},
    "Asia/Shanghai",
)


def _event(n, amount, fee, contract="Cash:CNY", ccy="JPY", timestamp=LATE):
    args = {"payer": BANK, "payee": FOREIGN, "amount": amount, "fee": fee, "units": 7}
    args["ccy"] = "0x" + ccy.encode().hex().ljust(64, "0")
    return {**joined_event("Paid", n, **args), "contract": contract, "timestamp": timestamp}


def _report(regulator=REG_CN, dossier=DOSSIER, rules_path="/somewhere/else/rules.yaml"):
    rules = parse_rules(RULES, rules_path)
    d = Directory()
    ctx = RecordContext(rules, d, {}, {}, [d.people[REG_CN], d.people[REG_HK]], {}, dossier)
    events = [_event(1, 123_456_789, 1_500), _event(2, -5, 0, contract="Cash:HKD", ccy="CNY")]
    return build_report(events, d.people[regulator], DAY, 1, ctx, RulesStatus(None, None, None))


# ------------------------------------------------------------------ amounts
@given(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["CNY", "HKD", "USD", "JPY", "XAU"]),
    st.integers(min_value=0, max_value=18),
)
def test_format_amount__parses_back_to_the_integer(minor, currency, decimals):
    text = format_amount(minor, currency, decimals)
    assert parse_amount(text, decimals) == (currency, minor)
    assert "e" not in text.lower().split(" ", 1)[1]  # never a float's exponent


@pytest.mark.parametrize(
    "minor,currency,decimals,text",
    [
        (123_456, "CNY", 2, "CNY 1,234.56"),
        (5, "HKD", 2, "HKD 0.05"),
        (-5, "USD", 2, "USD -0.05"),
        (1_234_567, "JPY", 0, "JPY 1,234,567"),
        (10**22 + 1, "CNY", 2, "CNY 100,000,000,000,000,000,000.01"),  # past a float's digits
    ],
)
def test_format_amount__per_currency_decimals(minor, currency, decimals, text):
    assert format_amount(minor, currency, decimals) == text


@pytest.mark.parametrize("bad", [1.5, "100", True])
def test_format_amount__refuses_what_is_not_minor_units(bad):
    with pytest.raises(TypeError, match="whole number of minor units"):
        format_amount(bad, "CNY", 2)


@pytest.mark.parametrize("text", ["CNY 1,234.5", "CNY 1234.56", "cny 1.00", "CNY 1.00 ", "1.00"])
def test_parse_amount__refuses_other_texts(text):
    with pytest.raises(AmountFormatError):
        parse_amount(text, 2)


def test_consortium_file__currencies_with_decimals():
    cfg = load_consortium(ROOT / "config/consortium.yaml")
    assert cfg.decimals == {"CNY": 2, "HKD": 2, "USD": 2, "JPY": 0}
    assert cfg.currencies == ["CNY", "HKD", "USD", "JPY"]


# ------------------------------------------------------------------ names
def test_report__names_supervised_institutions_and_pseudonyms_the_rest():
    cn, hk = _report(REG_CN), _report(REG_HK)
    assert cn["regulatorId"] == "reg-cn" and hk["regulatorId"] == "reg-hk"
    assert cn["institutions"] == {
        REG_CN: {"id": "reg-cn", "name": "Mainland regulator"},
        BANK: {"id": "bank-cn", "name": "Mainland Bank"},
    }
    _, rows = table_rows(cn, "flows", readable=True)
    assert rows[0]["payer"] == "Mainland Bank"
    assert rows[0]["payee"] == pseudonym(REG_CN, FOREIGN)
    html = render_html(cn)
    assert "Mainland Bank" in html and pseudonym(REG_CN, FOREIGN) in html
    # the dossier names the HK broker, but REG_CN does not supervise it: never named in its report
    assert "Secret Hong Kong Broker" not in html + json.dumps(cn)
    _, hk_rows = table_rows(hk, "flows", readable=True)
    assert hk_rows[0]["payee"] == "Secret Hong Kong Broker"
    assert hk_rows[0]["payer"] == pseudonym(REG_HK, BANK)


def test_report__without_a_dossier_stays_as_before():
    report = _report(dossier=None)
    assert report["regulatorId"] is None and report["institutions"] == {}
    _, rows = table_rows(report, "flows", readable=True)
    assert rows[0]["payer"] == BANK
    assert report_dir(Path("reports"), report) == Path("reports") / REG_CN / report["date"] / "v0"


# ------------------------------------------------------------------ amounts in the report
def test_report__amounts_with_currency_in_html_integers_in_json_and_csv(tmp_path):
    report = _report()
    first, second = report["records"]
    assert first["fields"]["amount"] == 123_456_789  # the JSON keeps minor units
    assert first["currency"] == {"amount": "CNY", "fee": "JPY"}
    assert second["currency"] == {"amount": "HKD", "fee": "CNY"}
    _, rows = table_rows(report, "flows", readable=True)
    assert [(r["amount"], r["fee"], r["units"]) for r in rows] == [
        ("CNY 1,234,567.89", "JPY 1,500", 7),
        ("HKD -0.05", "CNY 0.00", 7),
    ]
    paths = write_report(report, tmp_path)
    csv_text = paths["csv:flows"].read_text()
    assert "123456789" in csv_text and "CNY 1," not in csv_text
    html = paths["html"].read_text()
    assert "CNY 1,234,567.89" in html and "JPY 1,500" in html and "HKD -0.05" in html


def test_report__amount_of_a_currency_without_decimals_is_labelled_minor_units():
    report = _report(dossier=Dossier(DOSSIER.names, {"CNY": 2}, "Asia/Shanghai"))
    _, rows = table_rows(report, "flows", readable=True)
    assert rows[0]["fee"] == "JPY 1,500 (minor units)"


def test_rules__currency_spec_is_checked():
    bad = RULES.replace("currency: contract", "currency: yuan")
    with pytest.raises(RulesError, match="currency 'yuan' must be a code"):
        parse_rules(bad, "r.yaml")
    text = RULES.replace("units: public", "units: {level: public, format: hex, currency: CNY}")
    with pytest.raises(RulesError, match="currency applies to integer amounts only"):
        parse_rules(text, "r.yaml")


# ------------------------------------------------------------------ times
def test_times__in_the_business_time_zone_across_utc_midnight():
    assert local_time(LATE, "Asia/Shanghai") == "2026-12-03 07:30:00 +08:00"
    assert local_time(LATE, "UTC") == "2026-12-02 23:30:00 +00:00"
    report = _report()
    assert report["date"] == "2026-12-02" and report["timeZone"] == "Asia/Shanghai"
    _, rows = table_rows(report, "flows", readable=True)
    assert rows[0]["time"] == "2026-12-03 07:30:00 +08:00"
    _, raw = table_rows(report, "flows")
    assert raw[0]["time"] == "23:30:00"  # the CSV keeps UTC, as the JSON's timestamps
    html = render_html(report)
    assert "time (Asia/Shanghai)" in html and "2026-12-03 07:30:00 +08:00" in html


# ------------------------------------------------------------------ folders and paths
def test_report__folder_and_url_by_regulator_id(tmp_path):
    report = _report()
    report["anchor"]["version"] = 2
    paths = write_report(report, tmp_path)
    assert paths["html"] == tmp_path / "reg-cn" / "2026-12-02" / "v2" / "report.html"
    assert report_url("http://127.0.0.1:8600/", report) == (
        "http://127.0.0.1:8600/regulators/reg-cn/reports/2026-12-02/v2/"
    )


def test_report__no_absolute_path_in_any_written_file(tmp_path):
    report = _report(rules_path=str(ROOT / "config" / "reporting-rules.yaml"))
    assert report["rules"]["path"] == "config/reporting-rules.yaml"
    paths = write_report(report, tmp_path)
    for path in paths.values():
        text = path.read_text()
        assert str(ROOT) not in text and str(tmp_path) not in text, path
    assert _report()["rules"]["path"] == "rules.yaml"  # a file elsewhere: by name (and hash)


@pytest.mark.parametrize(
    "given_path,shown",
    [
        ("config/reporting-rules.yaml", "config/reporting-rules.yaml"),
        (str(ROOT / "config" / "x.yaml"), "config/x.yaml"),
        ("/etc/rules.yaml", "rules.yaml"),
    ],
)
def test_portable_path(given_path, shown):
    assert portable_path(given_path) == shown


# ------------------------------------------------------------------ a regulator by id
class Registry:
    """The RegistryDirectory's view of the regulators (require_regulator by address)."""

    def regulators(self):
        return [PEOPLE[REG_CN], PEOPLE[REG_HK]]

    def require_regulator(self, address):
        if address.lower() not in (REG_CN, REG_HK):
            raise ReportingError(f"unknown regulator {address}")
        return PEOPLE[address.lower()]


def test_targets__regulator_by_id_address_or_every_one():
    assert _targets(Registry(), "reg-hk", DOSSIER) == [PEOPLE[REG_HK]]
    assert _targets(Registry(), REG_CN, DOSSIER) == [PEOPLE[REG_CN]]
    assert _targets(Registry(), None, DOSSIER) == [PEOPLE[REG_CN], PEOPLE[REG_HK]]
    with pytest.raises(ReportingError, match="unknown regulator 'reg-xx': not an institution"):
        _targets(Registry(), "reg-xx", DOSSIER)
    with pytest.raises(ReportingError, match="unknown regulator"):
        _targets(Registry(), "reg-hk", None)  # no dossier: ids mean nothing
