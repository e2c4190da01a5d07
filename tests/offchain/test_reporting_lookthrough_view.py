"""The report's look-through positions section on synthetic views (no chain): opened rows show the
position with its proofs, unopened rows say why and show no value, cash carries its currency; the
opening is a view that never touches the records' hashes. The chain side (opening, proving, other
keys, tampering) is tested in tests/integration/test_watch_regulator.py."""

import re

from consortium.domain.hashing import code32
from consortium.domain.merkle import record_hash
from consortium.domain.netting import CASH, SECURITY
from consortium.portal.pages import report_page, since_section
from consortium.reporting.lookthrough import POSITION, SealedOpener, sealed_records_of
from consortium.reporting.render_html import POSITION_HEADS, lookthrough_rows, render_html
from consortium.roles.lookthrough import HELD, UNOPENED
from tests.offchain.test_reporting_render import REG
from tests.offchain.test_reporting_render import _report as synthetic_report

BROKER = "0x" + "33" * 20
COMMITMENT = "0x" + "ab" * 32


def _sealed_record(i):
    return {
        "id": f"1:{i}:0x{i:064x}:{i}:lookthrough-record-sealed",
        "rule": "lookthrough-record-sealed",
        "line": "lookthrough",
        "table": "lookthrough",
        "event": "RecordSealed",
        "contract": "SealedRecords",
        "chain": {
            "chainId": 1,
            "address": "0x" + "44" * 20,
            "blockNumber": 10 + i,
            "blockHash": "0x",
            "txHash": f"0x{i:064x}",
            "logIndex": i,
            "timestamp": 86400 * 5 + i,
        },
        "parties": {
            "intermediary": {"id": BROKER, "jurisdiction": "CN", "supervised": True},
            "regulator": {"id": REG, "jurisdiction": "CN", "supervised": True},
        },
        "fields": {"cycleId": "CYCLE-1"},
        "sealed": {},
    }


def _report(n=3):
    """test_reporting_render's synthetic report, of `n` sealed look-through records."""
    report = synthetic_report([_sealed_record(i) for i in range(n)])
    return report | {
        "currencies": {"CNY": 2},
        "institutions": {BROKER: {"id": "broker-cn", "name": "Broker CN"}},
        "timeZone": "Asia/Shanghai",
        "tables": {"lookthrough": {"title": "Look-through publications", "count": n}},
    }


def _opened(kind, asset_name, amount, proven=True, holding=HELD):
    return {
        "status": "opened",
        "intermediary": BROKER,
        "investor": "inv-7",
        "commitment": COMMITMENT,
        "kind": kind,
        "assetName": asset_name,
        "amount": amount,
        "proven": proven,
        "holding": holding,
    }


def _rows(view):
    return [dict(zip(POSITION_HEADS, r, strict=True)) for r in lookthrough_rows(view)]


def test_rows__opened_security_and_cash_with_currency__unopened_says_why_and_shows_nothing():
    view = _report()
    view["records"][0]["opened"] = {POSITION: _opened(SECURITY, "7001", 1500)}
    view["records"][1]["opened"] = {POSITION: _opened(CASH, "CNY", 123456, holding="not held")}
    view["records"][2]["opened"] = {POSITION: {"status": "not openable with this key"}}
    sec, cash, shut = _rows(view)
    assert (sec["investor"], sec["security"], sec["position"]) == ("inv-7", "7001", 1500)
    assert sec["proved against the root"] is True and sec["holding chain"] == HELD
    assert sec["intermediary"] == "Broker CN" and sec["cycle"] == "CYCLE-1"
    assert sec["time"] == "1970-01-06 08:00:00 +08:00"
    assert cash["position"] == "CNY 1,234.56" and cash["holding chain"] == "not held"
    assert shut["opening"] == "not openable with this key"
    assert all(shut[h] == "[sealed]" for h in POSITION_HEADS[4:])


def test_page__without_opening__every_record_sealed_and_no_value_in_the_html():
    page = render_html(_report())
    assert "Look-through positions sealed to this regulator (0 of 3 opened)" in page
    assert page.count("sealed (no key given)") == 3
    assert "inv-7" not in page and COMMITMENT not in page


def test_page__opened__values_shown_and_recordhashes_unchanged():
    report = _report()
    hashes = [r["recordHash"] for r in report["records"]]
    view = {**report, "records": [dict(r) for r in report["records"]]}
    for r in view["records"]:
        r["opened"] = {POSITION: _opened(SECURITY, "7001", 1500)}
    page = render_html(view)
    assert "(3 of 3 opened)" in page and page.count(f'title="{COMMITMENT}"') == 3
    assert re.search(r'<td class="num">1,500</td>', page)
    assert ["0x" + record_hash(r).hex() for r in view["records"]] == hashes  # a view only


def test_page__no_sealed_record__no_section():
    report = _report(0)
    assert lookthrough_rows(report) == [] and "lookthrough-positions" not in render_html(report)


def test_opener__without_key_or_for_another_contract__reads_no_chain():
    """No key: unopened without any chain read; a record of another SealedRecords: not read."""

    class NoChain:
        def __getattr__(self, name):
            raise AssertionError(f"the chain was asked ({name})")

    class Contract:
        address = "0x" + "66" * 20

    opener = SealedOpener(NoChain(), Contract(), [], None)
    report = _report(2)
    view = opener.open(report, None)
    assert [r["opened"][POSITION] for r in sealed_records_of(view)] == [{"status": UNOPENED}] * 2
    moved = opener.position(report["records"][0], report, b"\x01" * 32)
    assert moved == {"status": "its log is not on this chain (sealed)"}
    assert all("opened" not in r for r in report["records"])


def test_portal_report_page__feed_link_positions_and_since_the_report():
    view = _report(1)
    view["records"][0]["opened"] = {POSITION: _opened(SECURITY, "7001", 1500)}
    since = [{"text": f"block 99 · settlement · CycleSettled(cycleId={code32('C').hex()[:8]})"}]
    page = report_page(view, "/r/base", True, REG, "Reg CN", "/regulators/reg-cn/feed", since)
    assert 'href="/regulators/reg-cn/feed"' in page
    assert "(1 of 1 opened)" in page and "inv-7" in page
    assert '<h2 id="since">Since the report (1)</h2>' in page and "block 99 · settlement" in page
    assert "Nothing yet." in since_section([], "/f")
