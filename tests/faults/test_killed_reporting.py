"""The reporting node killed between anchoring a report's root and writing the report resumes it.

Key: (regulator, day, version). The rebuilt report would have new seals and so a new root; the
reporter saved the built report with its intent, so the next run books the version the chain holds
and writes that report instead of anchoring another version.
"""

import json

import brownie

from consortium.outbox import Outbox, key_of
from consortium.reporting import build_reports, verify_report
from consortium.reporting.anchoring import ANCHOR
from consortium.store import Store
from tests.faults.helpers import Killed, logs_since


def test_anchor__reporter_killed_after_send__report_finished_once_and_resend_refused(
    suite,
    report_anchor,
    reporter,
    regulator_cn,
    key_directory,
    business_day,
    tmp_path,
    web3,
    monkeypatch,
):
    out, store = tmp_path / "reports", tmp_path / "reporter.sqlite"

    reporting_node = {"anchor": report_anchor, "reporter": reporter.account, "out": out}

    def build():
        """One run of the reporting node: the day's report for the CN regulator, over its store."""
        day = business_day
        return build_reports(
            suite,
            day.day,
            regulator_cn.address,
            keys=key_directory,
            disclosures=day.disclosures,
            progress=False,
            store=Store.at(store),
            **reporting_node,
        )

    def die(*_a, **_kw):
        raise Killed

    start = web3.eth.block_number + 1
    with monkeypatch.context() as m:
        m.setattr(Outbox, "_book", die)
        try:
            build()
            raise AssertionError("the reporter should have died after anchoring")
        except Killed:
            pass
    day, reg = business_day.day, regulator_cn.address
    assert report_anchor.latestVersion(reg, day) == 1
    anchored = report_anchor.getAnchor(reg, day, 1)
    assert not list(out.glob("**/report.json"))  # died before writing it
    (pending,) = Store.at(store).intents("pending")
    assert (pending["kind"], pending["key"]) == (ANCHOR, key_of(reg, day, 1))

    (b,) = build()  # the restarted reporter finishes the same report, anchors nothing new
    assert b.version == 1 and report_anchor.latestVersion(reg, day) == 1
    assert b.report["anchor"]["root"] == anchored[0]
    (log,) = logs_since(web3, report_anchor, "ReportAnchored", start)
    assert b.report["anchor"]["txHash"] == "0x" + bytes(log["transactionHash"]).hex()
    assert json.loads(b.paths["json"].read_text())["anchor"]["anchored"] is True
    assert verify_report(b.paths["json"], report_anchor).ok
    row = Store.at(store).intent(ANCHOR, key_of(reg, day, 1))
    assert row["status"] == "booked" and row["booking"]["source"] == "chain"
    with brownie.reverts(
        f"AnchorVersionAlreadyAnchored: {reg.lower()}, {day}, 1, {bytes(anchored[0])!r}, {anchored[5]}"
    ):
        report_anchor.anchor(
            reg, day, 1, anchored[0], anchored[1], anchored[2], {"from": reporter.account}
        )
    (again,) = build()  # a deliberate rebuild later is a new version, as before
    assert again.version == 2 and report_anchor.latestVersion(reg, day) == 2
