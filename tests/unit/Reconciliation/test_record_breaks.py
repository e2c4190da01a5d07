"""recordBreaks at its bounds: at most 100 entries a call, cause 1..5, side 0..2; a refused call
records no break."""

import brownie
import pytest

from tests.fixtures.confirmations import commit_bilateral

H = b"\x42" * 32


@pytest.fixture
def key(recon, conf_cast, past_day):
    """A reconciled day with 120 breaks announced and none recorded yet."""
    bank, fc = conf_cast.bank, conf_cast.fc
    commit_bilateral(recon, bank.account, fc.address, past_day, H, 200, 1_000)
    summary = (80, 120, 1_000, 1_000, 1_000, 1_000, H)
    recon.closeDay(bank.address, fc.address, past_day, {"from": conf_cast.reconciler.account})
    recon.recordReconciliation(
        bank.address, fc.address, past_day, summary, {"from": conf_cast.reconciler.account}
    )
    return recon.dayKey(bank.address, fc.address, past_day)


def _entries(n, cause=1, side=0):
    return [(seq, H, cause, side, 0, 5) for seq in range(n)]


def test_recordBreaks__101_entries__reverts_and_records_none(recon, conf_cast, key):
    with brownie.reverts(revert_pattern=r"ReconciliationTooManyBreaks: .*, 101, 100"):
        recon.recordBreaks(key, _entries(101), {"from": conf_cast.reconciler.account})
    assert recon.getDay(key)["breaksRecorded"] == 0


def test_recordBreaks__100_entries_with_extreme_cause_and_side__recorded(recon, conf_cast, key):
    entries = _entries(50, cause=5, side=2) + [(50 + s, H, 1, 0, 0, 5) for s in range(50)]
    tx = recon.recordBreaks(key, entries, {"from": conf_cast.reconciler.account})
    assert len(tx.events["BreakRecorded"]) == 100
    assert (tx.events["BreakRecorded"][0]["cause"], tx.events["BreakRecorded"][0]["side"]) == (5, 2)
    assert recon.getDay(key)["breaksRecorded"] == 100


@pytest.mark.parametrize("cause,side", [(0, 0), (6, 0), (1, 3)])
def test_recordBreaks__cause_or_side_out_of_range__reverts_and_records_none(
    recon, conf_cast, key, cause, side
):
    entries = [(0, H, 1, 0, 0, 5), (1, H, cause, side, 0, 5)]
    with brownie.reverts(revert_pattern=rf"ReconciliationBadBreak: .*, 1, {cause}, {side}"):
        recon.recordBreaks(key, entries, {"from": conf_cast.reconciler.account})
    assert recon.getDay(key)["breaksRecorded"] == 0
