"""The regulator's live look-through feed (`consortium watch`, the portal's feed page): after a
settled cycle and its settlement down the holding chain, each intermediary publishes its
investors' positions as the holding chain settled them, sealed to their regulators; reg-hk sees
its institutions' uploads with first clearing data and opens exactly its own records, each proved
against the intermediary's investor root on HoldingChain, none of reg-cn's, and the reverse."""

import json
import random

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
    tx = publish_positions(
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
