"""The regulator's live look-through feed (`consortium watch`, the portal's feed page): after a
settled cycle and its settlement down the holding chain, each intermediary publishes its
investors' positions as the holding chain settled them, sealed to their regulators; reg-hk sees
its institutions' uploads with first clearing data and opens exactly its own records, each proved
against the intermediary's investor root on HoldingChain, none of reg-cn's, and the reverse."""

import json
import random
import re
from pathlib import Path

import pytest

from consortium import chain
from consortium.cli import main
from consortium.domain.hashing import code32
from consortium.envelope import KeyPair
from consortium.keys import Keystore
from consortium.lookthrough import Position, RegulatorKey
from consortium.portal.chainview import ChainView
from consortium.portal.feed import RegulatorFeed
from consortium.roles.lookthrough import (
    HELD,
    Intermediary,
    open_sealed,
    positions_from_steps,
    publish_positions,
)
from consortium.scenarios import settlement as day
from consortium.scenarios import settlement_holding
from consortium.txpipe import TxPipe

CYCLE = code32("WATCH-1")


@pytest.fixture(scope="module")
def enc(regulator_cn, regulator_hk):
    """Each regulator's encryption key (the dev accounts hold no private key to use)."""
    return {r.address.lower(): KeyPair.generate().private_key for r in (regulator_cn, regulator_hk)}


@pytest.fixture(scope="module")
def published(
    settle_cast,
    settlement_suite,
    holding_chain,
    registry,
    registry_admin,
    regulator_cn,
    regulator_hk,
    enc,
):
    """One settled cycle, settled down the holding chain, then every intermediary's investor
    leaves published as look-through positions (as the day's publish_lookthrough does)."""
    from consortium.envelope import public_key_of

    sealed_records = chain.project().SealedRecords.deploy(registry, {"from": registry_admin})
    trades, tickets = day.generate_trades(random.Random(5), 10, settle_cast, owners=6)
    day.fund(settle_cast, trades)
    out = day.run_cycle(settle_cast, CYCLE, trades, pipe=TxPipe(chain.web3()))
    assert int(settle_cast.ccp.engine.getCycle(CYCLE)[0]) == 3  # settled
    holding = settlement_holding.run_holding(
        settle_cast, settlement_suite, CYCLE, out.netting.legs, trades
    )
    assert holding is not None and holding.open_steps == 0  # settled down to the investors
    members = {
        m.institution.address.lower(): m.institution
        for m in [
            *settle_cast.participants,
            *settle_cast.locals,
            *settle_cast.custodians,
            *settle_cast.exchanges,
        ]
    }
    where = {a: m.jurisdiction for a, m in members.items()}
    keys = {
        r.jurisdiction: RegulatorKey(r.address, public_key_of(enc[r.address.lower()]))
        for r in (regulator_cn, regulator_hk)
    }
    by_broker = positions_from_steps(holding.steps, tickets, where)
    for who, ps in by_broker.items():
        publish_positions(Intermediary(members[who.lower()], sealed_records), CYCLE, ps, keys)
    addresses = {k: v.address for k, v in settlement_suite.items()}
    addresses |= {"ConsortiumRegistry": registry.address, "SealedRecords": sealed_records.address}
    return {
        "by_broker": by_broker,
        "addresses": addresses,
        "out": out,
        "where": where,
        "members": members,
        "keys": keys,
        "steps": holding.steps,
    }


def _feed(published, regulator, key):
    view = ChainView(chain.web3(), published["addresses"])
    feed = RegulatorFeed(view, regulator, key)
    feed.start_at(0)
    return feed.poll()


def _expected(published, jurisdiction):
    return sorted(
        (p.investor_id, p.amount)
        for ps in published["by_broker"].values()
        for p in ps
        if p.jurisdiction == jurisdiction
    )


@pytest.mark.parametrize("mine,other", [("HK", "CN"), ("CN", "HK")])
def test_watch__regulator_opens_exactly_its_records_and_not_the_others(
    published, regulator_cn, regulator_hk, enc, mine, other
):
    regs = {"CN": regulator_cn, "HK": regulator_hk}
    reg = regs[mine]
    items = _feed(published, reg.address, enc[reg.address.lower()])
    records = [i["record"] for i in items if "record" in i]
    assert records and all(r["proven"] for r in records)
    # each one is an investor leaf its intermediary allocated on HoldingChain, proved there
    assert all(r["held"] and r["holding"] == HELD for r in records)
    assert sorted((r["investor"], r["amount"]) for r in records) == _expected(published, mine)
    assert _expected(published, other)  # the other regulator has records too: none shown here
    assert all(
        i["args"]["regulator"].lower() == reg.address.lower()
        for i in items
        if i["event"] == "RecordSealed"
    )
    # the other regulator's key opens none of this regulator's records
    foreign = _feed(published, reg.address, enc[regs[other].address.lower()])
    sealed = [i for i in foreign if i["event"] == "RecordSealed"]
    assert sealed and not any("record" in i for i in sealed)
    assert all(i["args"]["sealed"] == "not openable with this key" for i in sealed)


def test_watch__positions_are_the_holding_chains_investor_leaves(published):
    """Published per intermediary: exactly the investor leaves of its steps down the chain."""
    leaves = sorted(
        (s.party, s.kind, a, bytes(c), v)
        for s in published["steps"]
        for c, a, v in s.investors.leaves
    )
    positions = sorted(
        (who, p.kind, p.asset, p.commitment, p.amount)
        for who, ps in published["by_broker"].items()
        for p in ps
    )
    assert positions and positions == leaves
    assert {p.jurisdiction for ps in published["by_broker"].values() for p in ps} == {"CN", "HK"}


@pytest.mark.parametrize("jurisdiction", ["CN", "HK"])
def test_watch__record_amount_not_the_holding_chains__shown_not_proved(
    published, registry, registry_admin, regulator_cn, regulator_hk, enc, jurisdiction
):
    """An intermediary seals one amount other than what it allocated down the holding chain: the
    record proves against its own published root, not against HoldingChain; the feed says so."""
    reg = {"CN": regulator_cn, "HK": regulator_hk}[jurisdiction]
    who, ps = next(
        (w, ps) for w, ps in published["by_broker"].items() if ps[0].jurisdiction == jurisdiction
    )
    p = ps[0]
    lie = Position(p.investor_id, p.kind, p.asset, p.amount + 1, p.jurisdiction, p.salt)
    other = chain.project().SealedRecords.deploy(registry, {"from": registry_admin})
    (tx,) = publish_positions(
        Intermediary(published["members"][who.lower()], other),
        CYCLE,
        [lie, *ps[1:]],
        published["keys"],
    )
    key = enc[reg.address.lower()]
    holding = chain.project().HoldingChain.at(published["addresses"]["HoldingChain"])
    opened = [
        open_sealed(other, who, CYCLE, bytes(e["sealedRecord"]), key, tx.block_number, holding)
        for e in tx.events["RecordSealed"]
        if e["regulator"] == reg.address
    ]
    lied = [o for o in opened if o.record.amount == p.amount + 1]
    assert len(lied) == 1 and lied[0].proven and not lied[0].held
    assert "does not prove against the holding chain's investor root" in lied[0].holding
    assert f"amount {p.amount + 1}" in lied[0].holding
    # its proofs under the intermediary's own tree of that asset are no longer the chain's: every
    # record of the same asset fails too, the records of the other assets still prove
    assert all(o.held == ((o.record.kind, o.record.asset) != (p.kind, p.asset)) for o in opened)
    # the feed over this publication shows the same, as text
    view = ChainView(chain.web3(), published["addresses"] | {"SealedRecords": other.address})
    feed = RegulatorFeed(view, reg.address, key)
    feed.start_at(tx.block_number)
    items = [i for i in feed.poll() if "record" in i]
    held_of = {(o.record.investor_id, hex(o.record.asset), o.record.amount): o.held for o in opened}
    assert len(items) == len(opened) == len(held_of)
    for i in items:
        held = held_of[(i["record"]["investor"], i["record"]["asset"], i["record"]["amount"])]
        assert i["record"]["held"] == held
        assert (f"; {HELD})" in i["text"]) == held
        assert (f"not {HELD}: " in i["text"]) == (not held)


def test_open_many__batched__reads_each_root_once_and_agrees_with_one_read_each(
    published, regulator_cn, enc
):
    """The day's end and the reports open thousands of records: read in JSON-RPC batches, each
    publication's root and each asset's investor root once and one verification per record, with
    the same verdicts as one call each; an altered envelope is refused without a read."""
    from collections import Counter

    from consortium.reads import batched, one_by_one
    from consortium.roles.lookthrough import NOT_OPENABLE, SealedLog, open_many

    project = chain.project()
    sealed = project.SealedRecords.at(published["addresses"]["SealedRecords"])
    holding = project.HoldingChain.at(published["addresses"]["HoldingChain"])
    w3 = chain.web3()
    c = w3.eth.contract(address=sealed.address, abi=sealed.abi)
    logs = [
        SealedLog(a["intermediary"], bytes(a["cycleId"]), bytes(a["sealedRecord"]), log.blockNumber)
        for log in c.events.RecordSealed.get_logs(from_block=0)
        for a in (log["args"],)
    ]
    key = enc[regulator_cn.address.lower()]
    first = next(log for log in logs if open_many(sealed, [log], key)[0][0] is not None)
    altered = bytearray(first.sealed)
    altered[-1] ^= 1
    logs.append(SealedLog(first.intermediary, first.cycle_id, bytes(altered), first.block))
    reads: Counter = Counter()

    def counted(views):
        def read(contract, fn, args):
            reads[fn] += len(args)
            return views(contract, fn, args)

        return read

    got = open_many(sealed, logs, key, holding, counted(batched(w3, chunk=7)))
    assert got == open_many(sealed, logs, key, holding, one_by_one)
    opened = [o for o, _ in got if o is not None]
    assert sorted((o.record.investor_id, o.record.amount) for o in opened) == _expected(
        published, "CN"
    )
    assert all(o.proven and o.held for o in opened)
    assert {s for o, s in got[:-1] if o is None} == {NOT_OPENABLE}  # HK's records
    assert got[-1][0] is None and got[-1][1].startswith("refused")
    assert reads["publication"] == len({o.intermediary for o in opened})
    assert reads["investorsOf"] == len(
        {(o.intermediary, o.record.kind, o.record.asset) for o in opened}
    )
    assert reads["verifyPosition"] == reads["verifyInvestor"] == len(opened)


def test_watch__hk_uploads_carry_first_clearing_per_currency(published, regulator_hk, enc):
    items = _feed(published, regulator_hk.address, None)
    uploads = [i for i in items if i["event"] == "TradesUploaded"]
    assert uploads
    where = published["where"]
    assert all(where[i["args"]["party"].lower()] == "HK" for i in uploads)  # its own institutions
    with_data = [i for i in uploads if i["clearing"]]
    assert with_data and all(
        t["gross"] > 0 and t["trades"] > 0 for i in with_data for t in i["clearing"].values()
    )
    events = {i["event"] for i in items}
    assert {"InstructionSubmitted", "CycleSettled", "PositionsPublished"} & events
    # without the key, its records are listed sealed, never opened
    assert all("record" not in i for i in items)


def test_watch_cli__once__prints_own_records_only(
    published, regulator_hk, enc, tmp_path, capsys, monkeypatch
):
    deployments = tmp_path / "deployment.json"
    deployments.write_text(
        json.dumps({"chain_id": chain.web3().eth.chain_id, "contracts": published["addresses"]})
    )
    keystore = tmp_path / "reg-hk.json"
    key = enc[regulator_hk.address.lower()]
    Keystore(keystore).import_key(key, "pass", iterations=2**12)
    enc_address = Keystore(keystore).address()
    monkeypatch.setenv("CONSORTIUM_PASSPHRASE", "pass")
    rc = main(
        [
            "watch",
            "--regulator",
            regulator_hk.address,
            "--once",
            "--from-block",
            "0",
            "--rpc",
            chain.rpc_url(),
            "--deployments",
            str(deployments),
            "--keystore",
            f"{regulator_hk.address}={keystore}",
        ]
    )
    assert rc == 0 and enc_address  # the encryption key is a key of its own
    out = capsys.readouterr().out
    mine = _expected(published, "HK")
    for investor, amount in mine:
        assert f"investor {investor} " in out
    assert out.count("proven against root") == len(mine)
    assert out.count(f"; {HELD})") == len(mine)
    assert "first clearing" in out


def test_run_day__publishes_the_holding_chains_investor_leaves_sealed(
    settle_members,
    settlement_suite,
    holding_chain,
    registry,
    registry_admin,
    manager,
    regulator_cn,
    regulator_hk,
    enc,
):
    """The in-process day's look-through hook: after settlement down the holding chain, every
    investor leaf is published sealed; each regulator opens its own, each proved on HoldingChain."""
    from types import SimpleNamespace

    from consortium.deploy import Suite
    from consortium.roles.lookthrough import read_sealed
    from consortium.scenarios import DayContext, Members

    by_name, roles = dict(settle_members[0]), dict(settle_members[1])
    regs = {"CN": regulator_cn, "HK": regulator_hk}
    for where, reg in regs.items():  # as members whose accounts hold their encryption keys
        by_name[reg.name] = SimpleNamespace(
            name=reg.name,
            address=reg.address,
            jurisdiction=where,
            account=SimpleNamespace(private_key=enc[reg.address.lower()]),
        )
        roles[reg.name] = ["REGULATOR"]
    sealed_records = chain.project().SealedRecords.deploy(registry, {"from": registry_admin})
    suite = Suite(registry, dict(settlement_suite, SealedRecords=sealed_records))
    ctx = DayContext(suite, Members(by_name, roles), manager, random.Random(3), {"executions": 12})
    result = day.run_day(ctx)
    assert result.ok, result.checks
    assert result.counts["holding_steps"] > 0 and result.counts["lookthrough_positions"] > 0
    holding = settlement_suite["HoldingChain"]
    opened = {
        where: read_sealed(
            sealed_records, reg.address, enc[reg.address.lower()], chain.web3(), 0, holding
        )
        for where, reg in regs.items()
    }
    # every position of both jurisdictions, each opened by its own regulator and held on chain
    assert sum(len(o) for o in opened.values()) == result.counts["lookthrough_positions"]
    assert all(o.proven and o.held for os in opened.values() for o in os)
    assert all(opened.values())


# ------------------------------------------------------------------ the same in the report's HTML
def _report_suite(published, sealed_records=None):
    """The suite's contracts the reports read ({key: brownie contract}), no ReportAnchor: built
    unanchored; `sealed_records` in place of the fixture's SealedRecords."""
    project = chain.project()
    addresses = published["addresses"] | (
        {"SealedRecords": sealed_records.address} if sealed_records is not None else {}
    )
    out = {}
    for key, address in addresses.items():
        name = key.split(":")[0]
        if name != "ReportAnchor":
            out[key] = getattr(project, name).at(address)
    return out


def _html_reports(published, enc, tmp_path, keys, sealed_records=None, block=None):
    """{regulator (lower): (report.json dict, the look-through rows of its report.html)} of the
    day of `block` (default the latest), written with `keys` ({regulator: private key})."""
    from consortium.reporting.days import business_day_of, report_utc_offset
    from consortium.reporting.pipeline import build_reports
    from consortium.reporting.rules import DEFAULT_RULES_PATH, load_rules

    w3 = chain.web3()
    offset = report_utc_offset(load_rules(DEFAULT_RULES_PATH))
    ts = w3.eth.get_block(block if block is not None else "latest")["timestamp"]
    built = build_reports(
        _report_suite(published, sealed_records),
        business_day_of(int(ts), offset),
        out=tmp_path,
        private_keys=keys,
        w3=w3,
        deployment_block=0,
        progress=False,
    )
    return {
        b.regulator.lower(): (b.report, _position_rows(b.paths["html"].read_text())) for b in built
    }


def _position_rows(page):
    """The rows of the report page's look-through positions table, as {heading: cell text}."""
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside, self.rows, self.cell = False, [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table" and ("id", "tbl-lookthrough-positions") in attrs:
                self.inside = True
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag == "table":
                self.inside = False
            elif self.inside and tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(self.cell.strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Rows()
    parser.feed(page)
    if not parser.rows:
        return []
    heads, *rows = parser.rows
    return [dict(zip(heads, r, strict=True)) for r in rows]


def _sealed_to(published, regulator, jurisdiction):
    """(investor, asset, amount) of every position the fixture sealed to `jurisdiction`."""
    from consortium.roles.lookthrough import asset_name

    return sorted(
        (p.investor_id, asset_name(p.kind, p.asset), p.amount)
        for ps in published["by_broker"].values()
        for p in ps
        if p.jurisdiction == jurisdiction
    )


def _amount(cell):
    """A position's integer from its cell: '1,500', or a cash amount 'CNY 1,500 (minor units)'."""
    return int(re.sub(r"[^0-9-]", "", cell.replace("(minor units)", "")))


def _opened(rows):
    return sorted(
        (r["investor"], r["security"], _amount(r["position"]))
        for r in rows
        if r["opening"] == "opened"
    )


@pytest.fixture(scope="module")
def report_pages(published, enc, tmp_path_factory):
    """Each regulator's report of the publication's day, once with its key, once without, once
    with the other regulator's key in its place."""
    addresses = sorted(enc)
    swapped = {a: enc[b] for a, b in zip(addresses, reversed(addresses), strict=True)}
    return {
        name: _html_reports(published, enc, tmp_path_factory.mktemp(name), keys)
        for name, keys in (("own", enc), ("none", None), ("swapped", swapped))
    }


@pytest.mark.parametrize("jurisdiction", ["CN", "HK"])
def test_report_html__own_key__positions_opened_equal_what_was_sealed(
    published, report_pages, regulator_cn, regulator_hk, jurisdiction
):
    reg = {"CN": regulator_cn, "HK": regulator_hk}[jurisdiction].address.lower()
    report, rows = report_pages["own"][reg]
    sealed = [r for r in report["records"] if r["event"] == "RecordSealed"]
    assert rows and len(rows) == len(sealed)  # one row per record sealed to it, none of another
    expected = _sealed_to(published, reg, jurisdiction)
    # investor amounts here are securities' units (no currency): the cell shows the integer
    assert _opened(rows) == expected
    assert all(r["proved against the root"] == "yes" for r in rows)
    assert all(r["holding chain"] == HELD for r in rows)
    commitments = {
        "0x" + p.commitment.hex()
        for ps in published["by_broker"].values()
        for p in ps
        if p.jurisdiction == jurisdiction
    }
    assert {r["investor commitment"] for r in rows} == commitments
    names = {a.lower() for a in published["by_broker"]}
    assert {r["intermediary"].lower() for r in rows} <= names


@pytest.mark.parametrize("jurisdiction", ["CN", "HK"])
def test_report_html__without_key_or_with_another_regulators__nothing_opens(
    report_pages, regulator_cn, regulator_hk, jurisdiction
):
    reg = {"CN": regulator_cn, "HK": regulator_hk}[jurisdiction].address.lower()
    for name, status in (
        ("none", "sealed (no key given)"),
        ("swapped", "not openable with this key"),
    ):
        _report, rows = report_pages[name][reg]
        assert rows and all(r["opening"] == status for r in rows), name
        assert all(r["investor"] == "🔒 sealed" and r["position"] == "🔒 sealed" for r in rows)


def test_report_html__opening_leaves_the_anchored_records_and_root_unchanged(report_pages):
    """The opened values are a view: report.json, its record hashes and Merkle root are the same
    whether the HTML was written with the key, without, or with the wrong one."""
    from consortium.domain.merkle import record_hash

    for reg, (report, _rows) in report_pages["own"].items():
        for other in ("none", "swapped"):
            theirs = report_pages[other][reg][0]
            assert theirs["anchor"]["root"] == report["anchor"]["root"]
            assert [r["recordHash"] for r in theirs["records"]] == [
                r["recordHash"] for r in report["records"]
            ]
        assert all("opened" not in r for r in report["records"])
        assert all("0x" + record_hash(r).hex() == r["recordHash"] for r in report["records"])


def test_report_html__tampered_records__shown_failed_not_opened_as_proved(
    published, registry, registry_admin, regulator_hk, enc, tmp_path
):
    """An intermediary publishes one amount it did not allocate down the holding chain, and one
    record's ciphertext is altered before publishing: the page shows the first opened but not
    proved against the holding chain, the second refused; the others of other assets stay proved."""
    from consortium.lookthrough import seal_positions

    reg = regulator_hk.address
    who, ps = next(
        (w, ps) for w, ps in published["by_broker"].items() if ps[0].jurisdiction == "HK"
    )
    p = ps[0]
    lie = Position(p.investor_id, p.kind, p.asset, p.amount + 1, p.jurisdiction, p.salt)
    other = chain.project().SealedRecords.deploy(registry, {"from": registry_admin})
    sealed = seal_positions(who, CYCLE, [lie, *ps[1:]], published["keys"])
    mine = [i for i, r in enumerate(sealed.regulators) if r.lower() == reg.lower()]
    assert len(mine) >= 2
    flipped = mine[-1]
    record = bytearray(sealed.records[flipped])
    record[-1] ^= 0x01  # the ciphertext's last byte
    sealed.records[flipped] = bytes(record)
    tx = other.publish(*sealed.args(), {"from": published["members"][who.lower()].account})
    pages = _html_reports(published, enc, tmp_path, enc, other, tx.block_number)
    rows = pages[reg.lower()][1]
    assert len(rows) == len(mine)
    refused = [r for r in rows if r["opening"].startswith("refused: ")]
    assert len(refused) == 1 and refused[0]["position"] == "🔒 sealed"
    lied = [r for r in rows if r["opening"] == "opened" and r["investor"] == p.investor_id]
    lied = [r for r in lied if _amount(r["position"]) == p.amount + 1]
    assert len(lied) == 1
    assert lied[0]["holding chain"].startswith(f"not {HELD}: ")
    assert f"amount {p.amount + 1}" in lied[0]["holding chain"]
    others = [r for r in rows if r["opening"] == "opened" and r is not lied[0]]
    assert all(r["proved against the root"] == "yes" for r in others)


def test_report_html__a_record_sealed_to_another_regulator__never_opened_even_with_its_key(
    published, report_pages, regulator_cn, regulator_hk, enc
):
    """A record of reg-cn's jurisdiction put into reg-hk's report is not opened there, not even
    with reg-cn's key at hand: the page says so and shows no value of it."""
    from consortium.reporting.lookthrough import OTHER_REGULATOR, POSITION, sealed_opener
    from consortium.reporting.render_html import render_html

    cn, hk = regulator_cn.address.lower(), regulator_hk.address.lower()
    theirs = next(r for r in report_pages["own"][cn][0]["records"] if r["event"] == "RecordSealed")
    report = json.loads(json.dumps(report_pages["own"][hk][0]))
    report["records"].append(theirs)
    opener = sealed_opener(chain.web3(), _report_suite(published))
    for key in (enc[hk], enc[cn]):
        view = opener.open(report, key)
        moved = view["records"][-1]["opened"][POSITION]
        assert moved == {"status": OTHER_REGULATOR}
        rows = _position_rows(render_html(view))
        assert rows[-1]["opening"] == OTHER_REGULATOR and rows[-1]["investor"] == "🔒 sealed"
        # reg-hk's own records open with its key only
        own = [r for r in rows[:-1] if r["opening"] == "opened"]
        assert len(own) == (len(rows) - 1 if key == enc[hk] else 0)
    assert "opened" not in report["records"][-1]  # the report itself is never changed


def test_report_cli__keystore__html_opens_the_regulators_records(
    published, registry, registry_admin, regulator_hk, enc, tmp_path, monkeypatch, capsys
):
    """`consortium report --keystore 0xREG=PATH`: the regulator's report.html shows its records
    opened (the keystore's key is the one they are sealed to); report.json stays sealed."""
    from types import SimpleNamespace

    from consortium import cli, deploy
    from consortium.reporting.days import business_day_of, day_date

    anchor = deploy._deploy_reporting(chain.project(), registry, registry_admin)["ReportAnchor"]
    contracts = {k: c for k, c in _report_suite(published).items() if k != "ConsortiumRegistry"}
    suite = deploy.Suite(registry, contracts | {"ReportAnchor": anchor}, 0)
    monkeypatch.setattr(cli, "_attach", lambda args: SimpleNamespace(network_name=lambda: "dev"))
    monkeypatch.setattr(deploy, "load_suite", lambda network: suite)
    keystore = tmp_path / "reg-hk.json"
    Keystore(keystore).import_key(enc[regulator_hk.address.lower()], "pass", iterations=2**12)
    monkeypatch.setenv("CONSORTIUM_PASSPHRASE", "pass")
    block = chain.web3().eth.get_block("latest")
    day = day_date(business_day_of(int(block["timestamp"]), int(anchor.businessUtcOffset())))
    args = ["report", "--day", day, "--regulator", regulator_hk.address, "--out", str(tmp_path)]
    assert main([*args, "--keystore", f"{regulator_hk.address}={keystore}"]) == 0
    html = Path(capsys.readouterr().out.strip().splitlines()[-1].rsplit(": ", 1)[1])
    rows = _position_rows(html.read_text())
    assert rows and _opened(rows) == _sealed_to(published, regulator_hk.address, "HK")
    report = json.loads((html.parent / "report.json").read_text())
    assert all("opened" not in r for r in report["records"])
