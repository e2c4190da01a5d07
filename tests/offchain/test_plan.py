"""`consortium plan`: the market model checked against figures computed by hand for a small market
and a small, round fake bench/results.json; bad volumes files refused with file:line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from consortium import cli, planning
from consortium.roles.settlement import MAX_UPLOAD_BATCH

RESULTS = {
    "annuity.contribution.batch_100.receive": 100_000,  # 1,000 a contribution
    "annuity.contribution.batch_100.post_later": 200_000,  # 2,000 a contribution
    "annuity.choosePlan.no_reset.8_items": 10_000,
    "annuity.executeInstructions.20x8_buys": 20 * 50_000,  # 50,000 an instruction
    "annuity.reportFeedbacks.20x8_items": 20 * 20_000,
    "annuity.forwardFeedbacks.20x8_items": 20 * 30_000,
    "anchor_gas_per_record_1": 50_000,
    "anchor_gas_per_record_1000": 50.999,  # a record 1 gas, a packet 49,999
    "upload_gas_per_trade_side_10000_trades": 10_000,
    "netting_gas_10000_trades_20_participants": 1_000_000,
    "settlement_gas_10000_trades_20_participants": 2_000_000,
    "reconcile_gas_10000_trades_20_participants": 200_000,
    "settlement_legs_10000_trades_20_participants": 100,
    "ccp_chain_read_ms_10000_trades_20_participants": 10_000,
    "bill_issue_total_gas": 300_000,
    "bill_issue_request_gas": 150_000,
    "bill_split_total_gas": 200_000,
    "bill_split_request_gas": 100_000,
    "bill_financing_total_gas": 500_000,
    "bill_financing_request_gas": 150_000,
    "bill_redeem_gas": 100_000,
    "bill_redeem_batch2_gas": 140_000,  # a further bill 40,000, the batch 60,000
    "reporting.anchor.next_version": 100_000,
    "demo_operations": 1_000,
    "demo_reports_seconds": 10,  # a reporter takes 100 records a second
    "day_processes_ops_per_second": 10,
    "machine": "test",
}

VOLUMES = """\
market:
  annuity_accounts: 2100
  wealth_orders_per_day: 2500
  cross_border_trades_per_day: 1000
  bills_per_month: 210
  institutions: 20
  regulators: 2
calendar:
  business_days_per_month: 21
  business_days_per_year: 200
network:
  peak_hour_share: 0.5
  headroom: 2
  block_period_seconds: 2
  block_gas_limit: 100000000
  tx_gas_cap: 10000000
  tx_cap_margin: 0.5
  reporting_window_hours: 1
lines:
  annuity: {instructions_per_contribution: 1, busiest_agent_share: 0.5}
  confirmations: {busiest_agent_share: 0.1}
  settlement: {cycles_per_day: 1, busiest_agent_share: 1.0}
  bills: {splits_per_bill: 1, financed_share: 0.5, busiest_agent_share: 0.2}
  reporting: {reports_per_regulator_per_day: 4}
batches:
  annuity_receive: 256
  annuity_post: 256
  annuity_allocate: 50
  annuity_instructions: 20
  confirmations_packet: 1000
  settlement_upload: 100
  bills_redeem: 50
bytes:
  tx_envelope: 100
  receipt: 200
  event: 100
  block_header: 500
  store_record: 500
  index_event: 800
"""


@pytest.fixture
def small_plan() -> planning.Plan:
    return planning.plan(planning.parse_volumes(VOLUMES, "small.yaml"), RESULTS)


def _line(p: planning.Plan, name: str) -> planning.LinePlan:
    return next(x for x in p.lines if x.line == name)


def test_plan__annuity__contributions_and_instruction_steps_batched(small_plan):
    annuity = _line(small_plan, "annuity")  # 2,100 accounts / 21 days: 100 contributions a day
    assert annuity.units_per_day == 100
    # receive 1 tx, post 1 tx, allocate 2 (batches of 50), execute, report, forward 5 each (of 20)
    assert annuity.txs_per_day == 1 + 1 + 2 + 3 * 5
    assert annuity.gas_per_day == 100_000 + 200_000 + 1_000_000 + 100 * (50_000 + 20_000 + 30_000)
    forward = next(op for op in annuity.operations if op.name == "forwardFeedbacks")
    assert forward.events_per_day == 100 * 9  # 8 prices and the settlement an instruction


def test_plan__confirmations__a_root_costs_per_packet(small_plan):
    conf = _line(small_plan, "confirmations")
    assert conf.txs_per_day == 3  # 2,500 orders in packets of 1,000
    assert conf.gas_per_day == pytest.approx(2_500 * 1 + 3 * 49_999)
    # a year of 200 days: 3 txs x (100 + 200) + calldata 3 x 164 + events 3 x 100 a day
    assert conf.chain_bytes_per_year == pytest.approx(200 * (3 * 300 + 3 * 164 + 3 * 100))
    assert conf.store_bytes_per_year == pytest.approx(2_500 * 0.1 * 200 * 500)
    assert conf.index_bytes_per_year == pytest.approx(3 * 200 * 800)


def test_plan__settlement__two_sides_a_trade_and_one_cycle(small_plan):
    s = _line(small_plan, "settlement")
    # 2,000 sides in batches of 100, net, settle, one reconciliation per member (20)
    assert s.txs_per_day == 20 + 1 + 1 + 20
    assert s.gas_per_day == pytest.approx(20_000_000 + 1_000_000 + 2_000_000 + 20 * 10_000)
    assert s.limits["EIP-7825 tx cap"] == pytest.approx(2_000_000 / 10_000_000)
    # the CCP's 2,022 operations, half in the peak hour, at 10 a second
    assert s.limits["agent CPU"] == pytest.approx(2_022 * 0.5 / 3_600 / 10)
    # events: 20 uploads, the netting (1 + 100 legs), the settlement, 20 reconciliations
    assert s.limits["event indexing"] == pytest.approx(142 / (100 * 3_600))
    assert s.first_limit == "EIP-7825 tx cap"
    assert "chain in 1 s" in small_plan.notes[0]  # 1,000 trades at 1 ms each


def test_plan__bills__lifecycle_steps_and_batched_redemption(small_plan):
    bills = _line(small_plan, "bills")  # 210 a month / 21 days: 10 a day, 5 financed
    assert bills.txs_per_day == 10 * 3 + 10 * 3 + 5 * 5 + 1
    assert bills.gas_per_day == pytest.approx(
        10 * 300_000 + 10 * 200_000 + 5 * 500_000 + (60_000 + 10 * 40_000)
    )


def test_plan__network__block_gas_and_period_with_headroom(small_plan):
    n = small_plan.network
    gas = 11_300_000 + 152_497 + 23_200_000 + 7_960_000 + 2 * 4 * 100_000
    assert n.gas_per_day == pytest.approx(gas)
    assert n.txs_per_day == 19 + 3 + 42 + 86 + 8
    peak = gas * 0.5 / 3_600
    assert n.peak_gas_per_second == pytest.approx(peak)
    assert n.block_gas_needed == pytest.approx(peak * 2 * 2)
    assert n.longest_block_period == pytest.approx(100_000_000 / (peak * 2))
    assert n.headers_bytes_per_year == pytest.approx(365 * 86_400 / 2 * 500)


def test_plan__batches__raise_keep_and_lower(small_plan):
    advice = {(b.line, b.operation): b for b in small_plan.batches}
    upload = advice["settlement", "uploadTrades"]
    assert upload.largest_under_cap == 500  # 5,000,000 planned gas / 10,000 a side
    # 2,000 sides a day in 20 batches of 100; the contract takes MAX_UPLOAD_BATCH (320) a batch
    assert upload.contract_max == MAX_UPLOAD_BATCH
    assert upload.advice == f"raise to {MAX_UPLOAD_BATCH}: 20 -> 7 transactions a day"
    assert advice["annuity", "allocateCash"].advice.startswith("keep")
    tight = planning.parse_volumes(
        VOLUMES.replace("tx_cap_margin: 0.5", "tx_cap_margin: 0.02"), "tight.yaml"
    )
    lowered = {(b.line, b.operation): b for b in planning.plan(tight, RESULTS).batches}
    # 200,000 planned gas: 20 allocations of 10,000, 200 receipts of 1,000
    assert lowered["annuity", "allocateCash"].advice.startswith("lower to 20:")
    assert lowered["annuity", "receiveContributions"].advice.startswith("lower to 200:")


def test_plan__default_volumes_and_bench_results__every_line_planned():
    p = planning.plan(planning.load_volumes(), planning.load_results())
    assert [x.line for x in p.lines] == list(planning.LINES)
    assert all(x.txs_per_day > 0 and x.gas_per_day > 0 for x in p.lines)
    trades = _line(p, "settlement")
    assert trades.units_per_day == 1_000_000
    assert math.isfinite(p.network.longest_block_period)


@pytest.mark.parametrize(
    "edit, error, where",
    [
        (("  regulators: 2\n", "  regulators: 2\n  regulators: 3\n"), "duplicate key", 8),
        (("  headroom: 2\n", "  headroom: 2\n  hedroom: 3\n"), "unknown key `hedroom`", 14),
        (("lines:\n", "extras: 1\nlines:\n"), "unknown section `extras`", 19),
        (("  bills: {", "  bill: {"), "unknown line `bill`", 23),
        (("  tx_cap_margin: 0.5\n", ""), "needs `tx_cap_margin`", 11),
        (("  institutions: 20\n", "  institutions: twenty\n"), "whole number", 6),
        (("  institutions: 20\n", "  institutions: 2.5\n"), "whole number", 6),
        (("  peak_hour_share: 0.5\n", "  peak_hour_share: 2\n"), "from 0.0416667 to 1", 12),
        (("  headroom: 2\n", "  headroom: true\n"), "a number", 13),
    ],
)
def test_parse_volumes__bad_file__named_error_with_line(edit, error, where):
    text = VOLUMES.replace(*edit)
    assert text != VOLUMES
    with pytest.raises(planning.VolumesFileError, match=error) as info:
        planning.parse_volumes(text, "bad.yaml")
    assert str(info.value).startswith(f"bad.yaml:{where}:")


def test_parse_volumes__section_not_a_mapping__refused():
    text = VOLUMES[: VOLUMES.index("bytes:")] + "bytes: 7\n"
    with pytest.raises(planning.VolumesValueInvalid, match="^bad.yaml:33: `bytes` must be a map"):
        planning.parse_volumes(text, "bad.yaml")


def test_parse_volumes__missing_section__refused():
    text = VOLUMES[: VOLUMES.index("bytes:")]
    with pytest.raises(planning.VolumesKeyMissing, match="section `bytes` is missing"):
        planning.parse_volumes(text, "short.yaml")


def test_plan__results_without_a_figure__named(tmp_path):
    partial = {k: v for k, v in RESULTS.items() if k != "bill_redeem_gas"}
    with pytest.raises(planning.ResultsFigureMissing, match="`bill_redeem_gas`"):
        planning.plan(planning.parse_volumes(VOLUMES, "v.yaml"), partial, "r.json")
    (tmp_path / "r.json").write_text("[1, 2]")
    with pytest.raises(planning.ResultsFileError, match="JSON object"):
        planning.load_results(tmp_path / "r.json")


def _files(tmp_path: Path, volumes: str = VOLUMES) -> list[str]:
    (tmp_path / "v.yaml").write_text(volumes)
    (tmp_path / "r.json").write_text(json.dumps(RESULTS))
    return ["plan", "--volumes", str(tmp_path / "v.yaml"), "--results", str(tmp_path / "r.json")]


def test_cli_plan__tables_and_json(tmp_path, capsys):
    args = _files(tmp_path)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "### Per line, a business day" in out and "| settlement | 1,000 trades | 42 |" in out
    assert "machine: test" in out
    assert cli.main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["network"]["txs_per_day"] == 158
    assert data["provenance"]["machine"] == "test"


def test_cli_plan__bad_volumes__exit_2_with_file_and_line(tmp_path, capsys):
    args = _files(tmp_path, VOLUMES.replace("  regulators: 2\n", "  regulators: -1\n"))
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'v.yaml'}:7: `market.regulators`" in err


def test_scaling_doc__quotes_the_tables_of_the_default_plan():
    """docs/scaling.md quotes `consortium plan` for the default volumes: when bench/results.json
    moves, regenerate the page's tables from the command (this test names the first one that
    differs) and the run it names."""
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs/scaling.md").read_text()
    results = root / "bench/results.json"
    p = planning.plan(
        planning.load_volumes(root / "config/volumes.yaml"), planning.load_results(results)
    )
    digest = planning.provenance(results, {})["sha256"]
    assert digest in doc, f"docs/scaling.md does not name the bench run {digest} it quotes"
    blocks = ("\n" + planning.render(p)).split("\n### ")[1:]  # the first table too
    assert len(blocks) == 6
    for block in blocks:
        title, _, table = block.partition("\n\n")
        table = table.split("\n\n")[0]
        assert table in doc, f"docs/scaling.md: the table {title!r} differs from `consortium plan`"
