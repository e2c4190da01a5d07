"""Report days are the institutions' business days (Asia/Shanghai, the ReportAnchor's offset), not
UTC days: across the midnight that matters (16:00 UTC), a payment at 17:30 UTC is in the next
Shanghai day's report, not in the report of its UTC date."""

from dataclasses import dataclass

import pytest

from consortium.domain.days import SECONDS_PER_DAY, day_date
from consortium.domain.hashing import code32
from consortium.reporting import ReportingError, ReportJob, build_reports, verify_report
from consortium.reporting.directory import Dossier
from consortium.reporting.pipeline import open_index
from consortium.reporting.rules import load_rules
from tests.fixtures.bills import warp
from tests.fixtures.reporting import BUSINESS_UTC_OFFSET

HOUR = 3600
LATE = 111  # 15:00 UTC = 23:00 in Shanghai: the UTC date's local day
NIGHT = 222  # 17:30 UTC = 01:30 in Shanghai: the next local day, same UTC date


@dataclass
class Evening:
    utc_day: int  # the UTC date of both payments; also the local day of the first
    late_at: int
    night_at: int


def _pay(event_source, broker, bank, amount, tag):
    event_source.settlePayment(
        bytes([tag]) * 32,
        broker.address,
        bank.address,
        amount,
        code32("CNY"),
        {"from": broker.account},
    )


@pytest.fixture(scope="module")
def evening(chain, cn, event_source, reporter):
    """Two payments of one UTC date on either side of Shanghai's midnight (16:00 UTC)."""
    now = chain[-1].timestamp
    utc_day = now // SECONDS_PER_DAY + 1  # tomorrow (UTC): the whole evening ahead
    warp(chain, utc_day * SECONDS_PER_DAY + 15 * HOUR)
    _pay(event_source, cn["broker"], cn["bank"], LATE, 0x51)
    late_at = chain[-1].timestamp
    warp(chain, utc_day * SECONDS_PER_DAY + 17 * HOUR + 30 * 60)
    _pay(event_source, cn["broker"], cn["bank"], NIGHT, 0x52)
    night_at = chain[-1].timestamp
    assert late_at // SECONDS_PER_DAY == night_at // SECONDS_PER_DAY == utc_day
    return Evening(utc_day, late_at, night_at)


@pytest.fixture
def build(suite, report_anchor, reporter, regulator_cn, tmp_path):
    def _build(day, **kw):
        kw.setdefault("anchor", report_anchor)
        kw.setdefault("reporter", reporter.account)
        kw.setdefault("out", tmp_path / "reports")
        kw.setdefault("db_url", f"sqlite:///{tmp_path / 'index.sqlite'}")
        return build_reports(suite, day, regulator_cn.address, progress=False, **kw)

    return _build


def _flows(report):
    return sorted(r["fields"]["amount"] for r in report["records"] if r["table"] == "fund_flows")


def test_report__payment_at_1730_utc__in_the_next_shanghai_days_report(
    build, evening, report_anchor, regulator_cn
):
    (same,) = build(evening.utc_day)
    (next_,) = build(evening.utc_day + 1)
    assert _flows(same.report) == [LATE]  # not NIGHT, though it has the same UTC date
    assert _flows(next_.report) == [NIGHT]
    # the next local day begins at 16:00 UTC of the UTC date, and its report says so
    start = evening.utc_day * SECONDS_PER_DAY + 16 * HOUR
    assert (
        next_.report["dayStart"] == start and next_.report["dayEnd"] == start + SECONDS_PER_DAY - 1
    )
    assert same.report["dayEnd"] == start - 1
    assert next_.report["date"] == day_date(evening.utc_day + 1)
    assert next_.report["utcOffset"] == BUSINESS_UTC_OFFSET == report_anchor.businessUtcOffset()
    assert next_.paths["json"].parent.parent.name == day_date(evening.utc_day + 1)
    for b in (same, next_):
        assert report_anchor.latestVersion(regulator_cn.address, b.day) == 1
        assert verify_report(b.paths["json"], report_anchor).ok


def test_report_job__no_day__the_local_day_of_the_latest_block(
    suite, evening, reporter, regulator_cn, tmp_path, chain
):
    assert chain[-1].timestamp // SECONDS_PER_DAY == evening.utc_day  # the UTC date is still D
    (b,) = ReportJob(
        suite,
        None,
        regulator_cn.address,
        reporter.account,
        db_url=f"sqlite:///{tmp_path / 'index.sqlite'}",
        out=tmp_path / "reports",
    ).run()
    assert b.day == evening.utc_day + 1 and _flows(b.report) == [NIGHT]


def test_report__dossier_in_utc__clear_error_nothing_anchored(
    build, evening, report_anchor, regulator_cn, tmp_path
):
    dossier = Dossier({}, {"CNY": 2}, "UTC")
    with pytest.raises(
        ReportingError,
        match=r"dossier's business time zone UTC \(UTC\+00:00\) is not the ReportAnchor's "
        r"businessUtcOffset \(UTC\+08:00\)",
    ):
        build(evening.utc_day + 1, dossier=dossier)
    assert report_anchor.latestVersion(regulator_cn.address, evening.utc_day + 1) == 0
    assert not (tmp_path / "reports").exists()


def test_report__dossier_default_zone__agrees_with_the_suite(build, evening):
    (b,) = build(evening.utc_day + 1, dossier=Dossier({}, {"CNY": 2}))
    assert b.report["timeZone"] == "Asia/Shanghai" and _flows(b.report) == [NIGHT]


def test_index__the_anchors_day_and_zone_is_its_identity(suite, evening, rules, tmp_path, web3):
    index = open_index(suite, rules, tmp_path, web3)
    assert index.utc_offset == BUSINESS_UTC_OFFSET
    index.run()
    amounts = {
        d: [e["args"]["amount"] for e in index.events_of_day(d) if e["event"] == "PaymentSettled"]
        for d in (evening.utc_day, evening.utc_day + 1)
    }
    assert amounts == {evening.utc_day: [LATE], evening.utc_day + 1: [NIGHT]}
    again = open_index(suite, rules, tmp_path, web3)  # a resumed run: same zone, no re-index
    assert again.check_chain() is None and again.run().restarted is None
    utc = open_index(suite, rules, tmp_path, web3, utc_offset=0)  # another zone: re-indexed
    assert "business time zone" in utc.check_chain()
    utc.run()
    assert utc.state()["restarts"] == 1
    both = [e["args"]["amount"] for e in utc.events_of_day(evening.utc_day)]
    assert LATE in both and NIGHT in both
    for i in (index, again, utc):
        i.dispose()


def test_rules__business_day_utc__report_of_the_utc_date(
    build, evening, rules, report_anchor, registry_admin, tmp_path
):
    text = rules.raw.decode().replace("business_day: business", "business_day: utc")
    text = text.replace(f"version: {rules.version}\n", f"version: {rules.version + 1}\n", 1)
    path = tmp_path / "rules-utc.yaml"
    path.write_text(text)
    utc_rules = load_rules(path)
    assert utc_rules.business_day == "utc"
    report_anchor.setRules(utc_rules.rules_hash, utc_rules.version, {"from": registry_admin})
    (b,) = build(evening.utc_day, rules_path=path, db_url=f"sqlite:///{tmp_path / 'utc.sqlite'}")
    assert _flows(b.report) == [LATE, NIGHT] and b.report["utcOffset"] == 0
    assert b.report["dayStart"] == evening.utc_day * SECONDS_PER_DAY
    assert verify_report(b.paths["json"], report_anchor).ok
