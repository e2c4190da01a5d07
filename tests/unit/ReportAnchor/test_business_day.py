"""ReportAnchor's business day: the fixed UTC offset set at deploy (AnchorUtcOffsetOutOfRange for an
offset no zone has), today() and the "day in future" check in local days (Asia/Shanghai: a day runs
16:00-16:00 UTC)."""

import brownie
import pytest

from consortium.domain.days import SECONDS_PER_DAY, business_day_of
from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import warp
from tests.fixtures.reporting import BUSINESS_UTC_OFFSET

ROOT = doc_hash("root")
HOUR = 3600
MAX = 14 * HOUR
STEP = 15 * 60


@pytest.mark.parametrize(
    "offset",
    [0, BUSINESS_UTC_OFFSET, MAX, -MAX, -12 * HOUR, 5 * HOUR + 45 * 60, -(3 * HOUR + 30 * 60)],
)
def test_constructor__offset_of_a_zone__kept(ReportAnchor, registry, registry_admin, offset):
    anchor = ReportAnchor.deploy(registry, offset, {"from": registry_admin})
    assert anchor.businessUtcOffset() == offset
    assert anchor.MAX_UTC_OFFSET() == MAX and anchor.UTC_OFFSET_STEP() == STEP


@pytest.mark.parametrize(
    "offset", [MAX + STEP, -MAX - STEP, MAX + 1, 2**31 - 1, -(2**31), 1, 8 * HOUR + 60, -7]
)
def test_constructor__offset_no_zone_has__reverts_named(
    ReportAnchor, registry, registry_admin, offset
):
    with brownie.reverts(f"AnchorUtcOffsetOutOfRange: {offset}, {MAX}, {STEP}"):
        ReportAnchor.deploy(registry, offset, {"from": registry_admin})


def test_deploy__suite_anchor__shanghai_offset(report_anchor):
    assert report_anchor.businessUtcOffset() == BUSINESS_UTC_OFFSET == 8 * HOUR


def _mine_at_utc(chain, seconds_into_utc_day):
    """Mine a block at (just after) the next UTC time of day `seconds_into_utc_day`, at least a
    minute ahead; its timestamp."""
    now = chain[-1].timestamp
    target = now - now % SECONDS_PER_DAY + seconds_into_utc_day
    if target < now + 60:
        target += SECONDS_PER_DAY
    warp(chain, target - 1)
    return chain[-1].timestamp


def test_today__across_the_local_midnight__follows_shanghai_not_utc(chain, report_anchor):
    before = _mine_at_utc(chain, 16 * HOUR - 120)  # about 23:58 in Shanghai
    utc_day = before // SECONDS_PER_DAY
    assert before % SECONDS_PER_DAY < 16 * HOUR
    assert report_anchor.today() == utc_day == business_day_of(before, BUSINESS_UTC_OFFSET)
    warp(chain, utc_day * SECONDS_PER_DAY + 16 * HOUR)  # past 16:00 UTC, 00:00 in Shanghai
    after = chain[-1].timestamp
    assert after // SECONDS_PER_DAY == utc_day  # still the same UTC day
    assert report_anchor.today() == utc_day + 1 == business_day_of(after, BUSINESS_UTC_OFFSET)


def test_anchor__at_1730_utc__next_local_day_accepted_the_one_after_refused(
    chain, report_anchor, reporter, regulator_cn, rules
):
    ts = _mine_at_utc(chain, 17 * HOUR + 30 * 60)  # 01:30 in Shanghai, the UTC day's morrow
    local = ts // SECONDS_PER_DAY + 1
    assert report_anchor.today() == local
    tx = report_anchor.anchor(
        regulator_cn.address, local, 1, ROOT, rules.rules_hash, 1, {"from": reporter.account}
    )
    assert tx.events["ReportAnchored"]["day"] == local
    with brownie.reverts(f"AnchorDayInFuture: {local + 1}, {local}"):
        report_anchor.anchor(
            regulator_cn.address,
            local + 1,
            1,
            ROOT,
            rules.rules_hash,
            1,
            {"from": reporter.account},
        )
    assert report_anchor.latestVersion(regulator_cn.address, local + 1) == 0


def test_anchor__at_1530_utc__tomorrow_in_shanghai_refused(
    chain, report_anchor, reporter, regulator_cn, rules
):
    ts = _mine_at_utc(chain, 15 * HOUR + 30 * 60)  # 23:30 in Shanghai: still the UTC day
    day = ts // SECONDS_PER_DAY
    assert report_anchor.today() == day
    # the block mined by the call may not cross 16:00 UTC: 30 minutes of margin
    with brownie.reverts(f"AnchorDayInFuture: {day + 1}, {day}"):
        report_anchor.anchor(
            regulator_cn.address, day + 1, 1, ROOT, rules.rules_hash, 1, {"from": reporter.account}
        )
