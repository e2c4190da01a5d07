"""commitBilateral at its bounds: records per root and batches per day; a refused commit records nothing."""

import brownie

from tests.fixtures.confirmations import commit_bilateral

MAX_RECORDS, MAX_BATCHES = 1_000_000, 256


def _root(i: int) -> bytes:
    return (i + 1).to_bytes(32, "big")


def test_commitBilateral__count_at_and_above_max__max_accepted_above_refused(
    recon, conf_cast, past_day
):
    bank, fc = conf_cast.bank, conf_cast.fc
    key = recon.dayKey(bank.address, fc.address, past_day)
    commit_bilateral(recon, bank.account, fc.address, past_day, _root(0), MAX_RECORDS, 7)
    with brownie.reverts(f"ReconciliationCountOutOfRange: {MAX_RECORDS + 1}, {MAX_RECORDS}"):
        commit_bilateral(recon, bank.account, fc.address, past_day, _root(1), MAX_RECORDS + 1, 7)
    d = recon.getDay(key)
    assert (d["committedCount"], d["batches"], d["committedTotal"]) == (MAX_RECORDS, 1, 7)
    assert recon.committedDayOf(bank.address, _root(1)) == "0x" + "00" * 32


def test_commitBilateral__batch_after_the_256th__reverts_and_day_unchanged(
    recon, conf_cast, past_day
):
    bank, fc = conf_cast.bank, conf_cast.fc
    key = recon.dayKey(bank.address, fc.address, past_day)
    for i in range(MAX_BATCHES):  # the 256th is still accepted
        commit_bilateral(recon, bank.account, fc.address, past_day, _root(i), 1, 10)
    with brownie.reverts(revert_pattern=rf"ReconciliationTooManyBatches: .*, {MAX_BATCHES}"):
        commit_bilateral(recon, bank.account, fc.address, past_day, _root(MAX_BATCHES), 1, 10)
    d = recon.getDay(key)
    assert (d["committedCount"], d["batches"], d["committedTotal"]) == (256, 256, 2560)
    assert recon.committedDayOf(bank.address, _root(MAX_BATCHES)) == "0x" + "00" * 32
