"""ReportAnchor.anchor: one root per (regulator, day, version); versions never overwritten."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash

ROOT = doc_hash("root")


@pytest.fixture(scope="module")
def today(report_anchor):
    return report_anchor.today()


def test_anchor__reporter__stored_and_event(report_anchor, reporter, regulator_cn, rules, today):
    tx = report_anchor.anchor(
        regulator_cn.address, today, 1, ROOT, rules.rules_hash, 7, {"from": reporter.account}
    )
    ev = tx.events["ReportAnchored"]
    assert dict(ev) == {
        "regulator": regulator_cn.address,
        "day": today,
        "version": 1,
        "root": "0x" + ROOT.hex(),
        "rulesHash": rules.rules_hash_hex,
        "recordCount": 7,
        "reporter": reporter.address,
    }
    a = report_anchor.getAnchor(regulator_cn.address, today, 1)
    assert tuple(a) == (
        "0x" + ROOT.hex(),
        rules.rules_hash_hex,
        7,
        tx.timestamp,
        reporter.address,
        tx.block_number,
    )
    assert report_anchor.latestVersion(regulator_cn.address, today) == 1


def test_anchor__same_version_again__reverts_never_overwrites(
    report_anchor, reporter, regulator_cn, rules, today
):
    first = report_anchor.anchor(
        regulator_cn.address, today, 1, ROOT, rules.rules_hash, 7, {"from": reporter.account}
    )
    other = doc_hash("other root")
    # the key (regulator, day, version) is used: a resend (same root) or an overwrite (other root)
    # is refused with the root anchored first and its block
    for root in (ROOT, other):
        with brownie.reverts(
            f"AnchorVersionAlreadyAnchored: {regulator_cn.address.lower()}, {today}, 1, {ROOT!r}, "
            f"{first.block_number}"
        ):
            report_anchor.anchor(
                regulator_cn.address,
                today,
                1,
                root,
                rules.rules_hash,
                7,
                {"from": reporter.account},
            )
    assert report_anchor.getAnchor(regulator_cn.address, today, 1)[0] == "0x" + ROOT.hex()
    report_anchor.anchor(
        regulator_cn.address, today, 2, other, rules.rules_hash, 8, {"from": reporter.account}
    )
    assert report_anchor.getAnchor(regulator_cn.address, today, 1)[0] == "0x" + ROOT.hex()
    assert report_anchor.getAnchor(regulator_cn.address, today, 2)[0] == "0x" + other.hex()


@pytest.mark.parametrize("version", [0, 2, 3])
def test_anchor__version_not_next__reverts(
    report_anchor, reporter, regulator_cn, rules, today, version
):
    with brownie.reverts(
        f"AnchorVersionNotNext: {regulator_cn.address.lower()}, {today}, {version}, 1"
    ):
        report_anchor.anchor(
            regulator_cn.address,
            today,
            version,
            ROOT,
            rules.rules_hash,
            1,
            {"from": reporter.account},
        )
    assert report_anchor.latestVersion(regulator_cn.address, today) == 0


def test_anchor__not_a_regulator__reverts(report_anchor, reporter, cn, rules, today, connect):
    with brownie.reverts(
        f"RegistryChannelNotOpen: {reporter.address.lower()}, {cn['bank'].address.lower()}"
    ):
        report_anchor.anchor(
            cn["bank"].address, today, 1, ROOT, rules.rules_hash, 1, {"from": reporter.account}
        )
    connect(reporter, cn["bank"])  # even over a channel, a member that is no regulator is refused
    with brownie.reverts(f"AnchorNotRegulator: {cn['bank'].address.lower()}"):
        report_anchor.anchor(
            cn["bank"].address, today, 1, ROOT, rules.rules_hash, 1, {"from": reporter.account}
        )


def test_anchor__future_day__reverts(report_anchor, reporter, regulator_cn, rules, today):
    with brownie.reverts(f"AnchorDayInFuture: {today + 1}, {today}"):
        report_anchor.anchor(
            regulator_cn.address,
            today + 1,
            1,
            ROOT,
            rules.rules_hash,
            1,
            {"from": reporter.account},
        )


def test_anchor__unknown_rules__reverts(report_anchor, reporter, regulator_cn, today):
    h = doc_hash("unregistered rules")
    with brownie.reverts(revert_pattern=r"AnchorUnknownRules: .*"):
        report_anchor.anchor(regulator_cn.address, today, 1, ROOT, h, 1, {"from": reporter.account})


@pytest.mark.parametrize("root,count", [(b"\0" * 32, 3), (ROOT, 0)])
def test_anchor__root_count_mismatch__reverts(
    report_anchor, reporter, regulator_cn, rules, today, root, count
):
    with brownie.reverts(revert_pattern=r"AnchorRootCountMismatch:.*"):
        report_anchor.anchor(
            regulator_cn.address,
            today,
            1,
            root,
            rules.rules_hash,
            count,
            {"from": reporter.account},
        )
    assert report_anchor.latestVersion(regulator_cn.address, today) == 0


def test_anchor__empty_report__zero_root_accepted(
    report_anchor, reporter, regulator_hk, rules, today
):
    report_anchor.anchor(
        regulator_hk.address,
        today - 1,
        1,
        b"\0" * 32,
        rules.rules_hash,
        0,
        {"from": reporter.account},
    )
    assert report_anchor.getAnchor(regulator_hk.address, today - 1, 1)[2] == 0
    assert not report_anchor.verifyRecord(regulator_hk.address, today - 1, 1, ROOT, [])


def test_getAnchor__unknown__reverts(report_anchor, regulator_cn, today):
    with brownie.reverts(f"AnchorNotFound: {regulator_cn.address.lower()}, {today}, 1"):
        report_anchor.getAnchor(regulator_cn.address, today, 1)
