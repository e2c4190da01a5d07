"""The settlement line in the multi-process day: a tiny day (`lines=("settlement",)`) on the test's
chain, each institution of the line its own OS process fed only by the files the seeded generator
gives it (scenarios.settlement_files); the outcome read from the chain and the agents' homes."""

from __future__ import annotations

from collections import Counter

import pytest

from consortium.bootstrap import institution_key
from consortium.config import load_consortium
from consortium.domain.hashing import code32
from consortium.outbox import key_of
from consortium.roles.lookthrough import PUBLISH, complete, open_sealed, publication
from consortium.scenarios import settlement_files as line
from consortium.scenarios.files import DayView
from consortium.store import Store
from tests.agent.harness import WAIT_SECONDS, wait_for
from tests.integration.processes import (
    SEED,
    assert_no_agent_left,
    assert_one_clean_agent_each,
    failed,
    play,
)

SIZES = {"executions": 3, "owners": 2}  # config/day-sizes.yaml `tiny`

# the settlement line's institutions only (two clearing brokers, a custodian in each jurisdiction,
# the exchange, the CCP, the CSD, the bank issuing the deposit tokens), plus the reporting node and a
# regulator per jurisdiction; the holding chain passes the brokers' settlement down to the
# custodians, so the brokers' and the custodians' investors' positions are sealed to HK and CN
SETTLEMENT_CONSORTIUM = """\
version: 1
consortium: {name: Settlement consortium, founder: Operations office, jurisdiction: HK}
jurisdictions:
  HK: {regulator: reg-hk}
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-hk, name: Regulator, jurisdiction: HK, roles: [REGULATOR]}
  - {id: reg-cn, name: Mainland regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: reporter, name: Reporting node, jurisdiction: HK, roles: [REPORTER]}
  - {id: broker-hk, name: Broker, jurisdiction: HK, roles: [BROKER]}
  - {id: broker-hk-2, name: Broker 2, jurisdiction: HK, roles: [BROKER]}
  - {id: custodian-hk, name: Custodian, jurisdiction: HK, roles: [CUSTODIAN]}
  - {id: custodian-cn, name: Mainland custodian, jurisdiction: CN, roles: [CUSTODIAN]}
  - {id: exchange-hk, name: Exchange, jurisdiction: HK, roles: [EXCHANGE]}
  - {id: ccp, name: CCP, jurisdiction: HK, roles: [CCP]}
  - {id: csd, name: CSD, jurisdiction: HK, roles: [CSD]}
  - {id: bank-hk, name: Settlement bank, jurisdiction: HK, roles: [CASH_ISSUER]}
channels:
  - [reporter, reg-hk]
  - [reporter, reg-cn]
currencies: [HKD, CNY]
securities:
  - {id: "0700.HK", currency: HKD, name: Tencent Holdings}
  - {id: "0005.HK", currency: HKD, name: HSBC Holdings}
holding_chain:
  - {party: broker-hk, tier: 1, clients: [custodian-hk, custodian-cn], investors: true}
  - {party: broker-hk-2, tier: 1, clients: [custodian-hk, custodian-cn], investors: true}
  - {party: custodian-hk, tier: 2, investors: true}
  - {party: custodian-cn, tier: 2, investors: true}
"""
AGENTS = {
    "broker-hk",
    "broker-hk-2",
    "custodian-hk",
    "custodian-cn",
    "exchange-hk",
    "ccp",
    "csd",
    "bank-hk",
}
LOOKTHROUGH = "positions sealed to their regulators, opened and proved"


@pytest.fixture(scope="module")
def day(accounts, tmp_path_factory):
    """The day, and the driver's view of it (kept to recompute the checks afterwards)."""
    out = tmp_path_factory.mktemp("settlement-processes-day")
    outcome = play(accounts, out, "settlement", SETTLEMENT_CONSORTIUM)
    return outcome, out, outcome.view


def test_settlement_day__agents__every_check_passes_counts_as_the_seed_says(day):
    outcome, out, _ = day
    assert outcome.ok, failed(outcome)
    (settlement,) = outcome.results
    assert settlement.line == "settlement" and len(settlement.checks) == 8
    assert all(settlement.checks.values())
    cfg = load_consortium(out / "consortium.yaml")
    expected = line.expected_counts(cfg, SIZES, SEED)
    assert settlement.counts == expected
    assert expected["trades"] == 2 * SIZES["executions"] and expected["legs"] > 0
    assert expected["lookthrough_positions"] > 0 and settlement.checks[LOOKTHROUGH]
    assert settlement.metrics["breaks_per_level"] == {}
    assert settlement.metrics["settle_gas"] > 0
    assert 0 <= settlement.metrics["netting_efficiency_count"] <= 1
    assert settlement.transactions > 0 and settlement.gas > 0
    assert outcome.reports["ok"] and outcome.reports["regulators"]


def test_settlement_day__one_agent_per_institution__own_key_clean_exit_files_processed(day):
    outcome, out, _ = day
    stats = assert_one_clean_agent_each(outcome, out, AGENTS)
    cfg = load_consortium(out / "consortium.yaml")
    files = line.input_files(cfg, SIZES, SEED)
    assert {i: a.processed for i, a in stats.items()} == {i: len(files.get(i, [])) for i in AGENTS}


def test_settlement_day__afterwards__no_agent_process_left(day):
    assert_no_agent_left(day[0], AGENTS)


def test_settlement_checks__another_seeds_day__not_on_chain__checks_fail(day):
    """Checks read the chain and the homes: a day the agents never played fails them."""
    _, _, view = day
    other = DayView(view.suite, view.homes, view.cfg, view.sizes, view.seed + 1)
    result = line.checks(other)
    assert not result.checks["cycle settled"]
    assert not result.checks["every reconciliation matched"]
    assert not result.checks["balances exact"]
    assert not result.checks["instructions and results in the participants' outboxes"]
    assert line.expected_counts(view.cfg, SIZES, view.seed + 1)["lookthrough_positions"] > 0
    assert not result.checks[LOOKTHROUGH]  # its positions were never published
    assert result.counts == {
        "trades": 0,
        "legs": 0,
        "reconciliations": 0,
        "totals_mismatches": 0,
        "lookthrough_positions": 0,
    }
    assert not line.done(other)


def test_settlement_checks__a_participants_outbox_report_gone__that_check_fails(day, tmp_path):
    _, _, view = day
    homes = dict(view.homes)
    d = line.file_day(view.cfg, SIZES, view.seed)
    victim = d.participants[0]
    copy = tmp_path / victim
    (copy / "outbox" / "settlement").mkdir(parents=True)
    homes[victim] = copy  # its home without the cycle's report
    result = line.checks(DayView(view.suite, homes, view.cfg, view.sizes, view.seed))
    assert not result.checks["instructions and results in the participants' outboxes"]
    assert result.checks["cycle settled"] and result.checks["balances exact"]


# ---------------------------------------------------------------------------- look-through


def _sealed_logs(view, cycle: bytes) -> list:
    from consortium import chain

    sealed = view.suite["SealedRecords"]
    events = chain.web3().eth.contract(address=sealed.address, abi=sealed.abi).events
    return events.RecordSealed.get_logs(
        from_block=int(view.suite.block), argument_filters={"cycleId": cycle}
    )


def _cycle(view) -> bytes:
    return code32(line.file_day(view.cfg, SIZES, view.seed).cycle)


def test_lookthrough__agents_published__each_regulator_opens_its_own_and_no_others(day):
    """Every record is opened by the regulator it names (its key from the day's seed, as its
    follower holds it) and proved against the root and the holding chain; the other regulator's
    key opens none of them."""
    outcome, _, view = day
    e = line._expected(view)
    addresses = e.addresses
    sealed, holding, cycle = view.suite["SealedRecords"], view.suite["HoldingChain"], _cycle(view)
    keys = {r: institution_key(view.seed, r) for r in ("reg-hk", "reg-cn")}
    logs = _sealed_logs(view, cycle)
    by_regulator = Counter(str(log["args"]["regulator"]).lower() for log in logs)
    assert by_regulator == {addresses[r].lower(): 3 for r in keys}  # the seed's 3 + 3 positions
    for log in logs:
        a = log["args"]
        own = next(r for r in keys if addresses[r].lower() == str(a["regulator"]).lower())
        other = next(r for r in keys if r != own)
        args = (sealed, a["intermediary"], a["cycleId"], bytes(a["sealedRecord"]))
        opened = open_sealed(*args, keys[own], int(log["blockNumber"]), holding)
        assert opened is not None and opened.proven and opened.held
        jurisdiction = view.cfg.by_id(own).jurisdiction
        ident = {v.lower(): k for k, v in addresses.items()}[str(a["intermediary"]).lower()]
        assert view.cfg.by_id(ident).jurisdiction == jurisdiction
        assert open_sealed(*args, keys[other], int(log["blockNumber"]), holding) is None
    (settlement,) = outcome.results
    records = settlement.metrics["lookthrough_records"]
    assert records["reg-hk sealed positions"] == records["reg-cn sealed positions"] == 3
    assert records["reg-hk first clearing"] > 0


def test_lookthrough__published_once_per_intermediary__through_its_outbox(day):
    _, out, view = day
    e = line._expected(view)
    sealed, cycle = view.suite["SealedRecords"], _cycle(view)
    ident = {v.lower(): k for k, v in e.addresses.items()}
    publishers = sorted(ident[w.lower()] for w in e.positions)
    assert publishers == ["broker-hk", "custodian-cn"]
    found = sealed.events.get_sequence(int(view.suite.block), event_type="PositionsPublished")
    assert sorted(ident[str(x.args["intermediary"]).lower()] for x in found) == publishers
    for who in publishers:
        store = Store.at(out / "agents" / who / "store.sqlite")
        row = store.intent(PUBLISH, key_of(cycle, e.addresses[who]))
        assert row["status"] == "booked" and row["booking"]["source"] == "receipt"
        assert complete(publication(sealed, e.addresses[who], cycle))


def test_lookthrough__killed_before_booking_and_restarted__nothing_published_twice(day):
    """The window the outbox exists for: the publication mined, the agent killed before booking
    it (its intent left pending) and its events replayed from before the holding chain opened;
    restarted, it books the publication from the chain and sends nothing."""
    from consortium import chain
    from consortium.agent.follower import CURSOR_KEY, CURSOR_KIND
    from consortium.chain import ROOT
    from consortium.dayrun.procs import AgentProcess

    _, out, view = day
    e = line._expected(view)
    sealed, cycle, who = view.suite["SealedRecords"], _cycle(view), "custodian-cn"
    home = out / "agents" / who
    store = Store.at(home / "store.sqlite")
    key = key_of(cycle, e.addresses[who])
    store.intend(PUBLISH, key, store.intent(PUBLISH, key)["args"])  # as if killed before booking
    opened = view.suite["HoldingChain"].events.get_sequence(
        int(view.suite.block), event_type="TiersOpened"
    )
    store.put(CURSOR_KIND, CURSOR_KEY, {"block": int(opened[0].blockNumber) - 1})
    logs_before = len(_sealed_logs(view, cycle))
    head = int(chain.web3().eth.block_number)
    agent = AgentProcess(who, home, ROOT)
    agent.start()
    try:
        wait_for(
            lambda: (home / "agent.log").read_text().count("running roles") >= 2,
            WAIT_SECONDS,
            f"{who} restarted",
        )
        wait_for(
            lambda: store.intent(PUBLISH, key)["status"] == "booked"
            and int(store.get(CURSOR_KIND, CURSOR_KEY)["block"]) >= head,
            WAIT_SECONDS,
            f"{who} to book its publication and replay its events",
        )
    finally:
        code = agent.stop()
    assert code == 0
    assert store.intent(PUBLISH, key)["booking"]["source"] == "chain"
    assert len(_sealed_logs(view, cycle)) == logs_before
    found = sealed.events.get_sequence(int(view.suite.block), event_type="PositionsPublished")
    mine = [x for x in found if str(x.args["intermediary"]).lower() == e.addresses[who].lower()]
    assert len(mine) == 1
    assert int(chain.web3().eth.block_number) == head  # not one transaction sent
    log = (home / "agent.log").read_text()
    assert " ERROR " not in log, log[-3000:]
