"""Bilateral commitments, next-day reconciliation with injected breaks, breaks published, payment exact."""

import brownie
import numpy as np
import pandas as pd
import pytest
from brownie.test import given, strategy

from consortium.domain import days
from consortium.domain import reconciliation as R
from tests.fixtures.confirmations import commit_bilateral

H = b"\x42" * 32


def _payments(n, day, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64) + day * 1_000_000,
            "amount": rng.integers(1, 100_000, n, dtype=np.int64),
            "paid_at": day * 86_400 + rng.integers(0, 86_400, n, dtype=np.int64),
        }
    )


@pytest.fixture(scope="module")
def funded(token, conf_cast):
    token.issue(conf_cast.fc.address, 10**12, H, {"from": conf_cast.cash_issuer.account})
    return token


def _run_day(people, conf_cast, day, payments, tamper=None):
    """The client records the day; stores receive; optional tamper(debit, credit, bilateral) edits copies."""
    client, fc, rec = people.client, people.fc, people.reconciler
    client.record_day(conf_cast.fc.address, conf_cast.reconciler.address, day, payments, batch=40)
    fc.collect_debits()
    client.commit_countersigned()
    got = rec.collect()
    bil = got["bilateral"]
    debit, credit = fc.store.details("debit", day), client.store.details("credit", day)
    if tamper:
        debit, credit, bil = tamper(debit, credit, bil)
    return rec.reconcile_day(conf_cast.bank.address, conf_cast.fc.address, day, bil, debit, credit)


def test_day__no_breaks__success_and_exact_payment(recon, people, conf_cast, past_day, funded):
    pay = _payments(100, past_day)
    result = _run_day(people, conf_cast, past_day, pay)
    assert result.ok and result.matched == 100 and result.corrected_total == int(pay.amount.sum())
    key = people.reconciler.record(conf_cast.bank.address, conf_cast.fc.address, past_day, result)
    ev = people.reconciler.receipts[-1].events["DayReconciled"]
    assert (ev["matched"], ev["breaks"], ev["corrected"]) == (100, 0, int(pay.amount.sum()))
    assert [r["matched"] for r in people.fc.collect_results()] == [100]
    bank_before = funded.balanceOf(conf_cast.bank.address)
    tx = people.fc.settle(conf_cast.bank.address, past_day, funded)
    assert tx.events["DaySettled"]["amount"] == int(pay.amount.sum())
    assert funded.balanceOf(conf_cast.bank.address) - bank_before == int(pay.amount.sum())
    assert recon.getDay(key)[4] is True


def _inject_every_break(debit, credit, bil):
    """Missing on each side, amount mismatch, duplicate, unknown id, and a tampered bilateral copy."""
    ids = debit.id.tolist()
    debit = debit[debit.id != ids[0]]  # missing debit
    credit = credit[credit.id != ids[1]]  # missing credit
    credit.loc[credit.id == ids[2], "amount"] += 5  # amount mismatch on credit
    debit = pd.concat([debit, debit[debit.id == ids[3]]], ignore_index=True)  # duplicate debit
    debit = pd.concat(
        [debit, pd.DataFrame({"id": [999], "amount": [77], "paid_at": [0], "counterparty": [""]})],
        ignore_index=True,
    )  # unknown id
    rows = bil[0]["rows"]
    rows[4] = [rows[4][0], rows[4][1] + 1000, rows[4][2]]  # the reconciler's copy was altered
    return debit, credit, bil


def test_day__every_break_class__classified_corrected_and_published(
    recon, people, conf_cast, past_day, funded
):
    past_day -= 1  # role objects' stores outlive the chain snapshot: one day per test
    pay = _payments(60, past_day, seed=2)
    result = _run_day(people, conf_cast, past_day, pay, tamper=_inject_every_break)
    ids = pay.id.tolist()
    got = {(int(r.id), int(r.side)): int(r.cause) for r in result.breaks.itertuples()}
    assert got == {
        (ids[0], R.DEBIT): R.MISSING,
        (ids[1], R.CREDIT): R.MISSING,
        (ids[2], R.CREDIT): R.AMOUNT_MISMATCH,
        (ids[3], R.DEBIT): R.DUPLICATE,
        (999, R.DEBIT): R.UNKNOWN_ID,
        (ids[4], R.BILATERAL): R.COMMITMENT_MISMATCH,
    }
    total = int(pay.amount.sum())
    assert result.corrected_total == total and result.matched == 60 - 5
    cm = result.breaks[result.breaks.cause == R.COMMITMENT_MISMATCH].iloc[0]
    assert (
        int(cm.corrected) == int(pay.amount[4]) and int(cm.presented) == int(pay.amount[4]) + 1000
    )
    key = people.reconciler.record(conf_cast.bank.address, conf_cast.fc.address, past_day, result)
    d = recon.getDay(key)
    assert (d[5], d[6], d[7], d[2]) == (55, 6, 6, total)
    evs = people.reconciler.receipts[-1].events["BreakRecorded"]
    assert [(e["seq"], e["cause"]) for e in evs] == [
        (i, int(c)) for i, c in enumerate(result.breaks.cause)
    ]
    assert any("amount differs" in line for line in result.describe())
    bank_before = funded.balanceOf(conf_cast.bank.address)
    people.fc.settle(conf_cast.bank.address, past_day, funded)
    assert funded.balanceOf(conf_cast.bank.address) - bank_before == total


def test_record__twice__reverts_and_resume_records_nothing_twice(
    recon, people, conf_cast, past_day
):
    past_day -= 2
    pay = _payments(10, past_day, seed=3)
    result = _run_day(people, conf_cast, past_day, pay, tamper=_inject_every_break)
    key = people.reconciler.record(conf_cast.bank.address, conf_cast.fc.address, past_day, result)
    n = len(people.reconciler.receipts)
    assert (
        people.reconciler.record(conf_cast.bank.address, conf_cast.fc.address, past_day, result)
        == key
    )
    assert len(people.reconciler.receipts) == n  # the resumed agent found everything on chain
    s = (
        result.matched,
        6,
        0,
        0,
        result.corrected_total,
        result.corrected_total,
        result.breaks_root(),
    )
    with brownie.reverts(revert_pattern=r"ReconciliationDayAlreadyReconciled:.*"):
        recon.recordReconciliation(
            conf_cast.bank.address,
            conf_cast.fc.address,
            past_day,
            s,
            {"from": conf_cast.reconciler.account},
        )
    with brownie.reverts(revert_pattern=r"ReconciliationTooManyBreaks:.*"):
        recon.recordBreaks(key, [(6, H, 1, 1, 0, 0)], {"from": conf_cast.reconciler.account})
    with brownie.reverts(revert_pattern=r"ReconciliationDayClosed:.*"):
        commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 1, 1)
    assert recon.getDay(key)[7] == 6


def test_record__wrong_totals_or_too_early__reverts(recon, conf_cast, chain, past_day):
    today = days.business_day_of(chain.time(), "Asia/Shanghai")  # the local day, not UTC's
    for day in (past_day, today):
        commit_bilateral(
            recon,
            conf_cast.bank.account,
            conf_cast.fc.address,
            day,
            bytes([day % 256]) + H[1:],
            3,
            300,
        )
    ok = (3, 0, 300, 300, 300, 300, b"\0" * 32)
    with brownie.reverts(revert_pattern=r"ReconciliationTooEarly:.*"):
        recon.closeDay(
            conf_cast.bank.address,
            conf_cast.fc.address,
            today,
            {"from": conf_cast.reconciler.account},
        )
    with brownie.reverts(revert_pattern=r"ReconciliationDayNotClosed:.*"):
        recon.recordReconciliation(
            conf_cast.bank.address,
            conf_cast.fc.address,
            today,
            ok,
            {"from": conf_cast.reconciler.account},
        )
    with brownie.reverts(revert_pattern=r"ReconciliationDayNotClosed:.*"):
        recon.recordReconciliation(
            conf_cast.bank.address,
            conf_cast.fc.address,
            past_day,
            ok,
            {"from": conf_cast.reconciler.account},
        )
    recon.closeDay(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        {"from": conf_cast.reconciler.account},
    )
    for bad, err in [
        ((3, 0, 300, 300, 299, 300, b"\0" * 32), "ReconciliationCorrectedTotalMismatch"),
        ((3, 0, 300, 300, 300, 301, b"\0" * 32), "ReconciliationCorrectedTotalMismatch"),
        ((4, 0, 300, 300, 300, 300, b"\0" * 32), "ReconciliationCountMismatch"),
        ((3, 1, 300, 300, 300, 300, b"\0" * 32), "ReconciliationBreaksRootMissing"),
        ((3, 0, 300, 300, 300, 300, H), "ReconciliationBreaksRootMissing"),
    ]:
        with brownie.reverts(revert_pattern=err + ":.*"):
            recon.recordReconciliation(
                conf_cast.bank.address,
                conf_cast.fc.address,
                past_day,
                bad,
                {"from": conf_cast.reconciler.account},
            )
    with brownie.reverts(revert_pattern=r"ReconciliationNothingCommitted:.*"):
        recon.recordReconciliation(
            conf_cast.bank.address,
            conf_cast.fc.address,
            past_day - 1,
            ok,
            {"from": conf_cast.reconciler.account},
        )
    assert (
        recon.getDay(recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, past_day))[3]
        is False
    )


def test_commit__bad_input__reverts(recon, conf_cast, registry, past_day):
    commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 1, 5)
    for args, err in [
        ((conf_cast.fc.address, past_day, H, 1, 5), "ReconciliationRootAlreadyCommitted"),
        ((conf_cast.fc.address, past_day, b"\0" * 32, 1, 5), "ReconciliationZeroRoot"),
        ((conf_cast.fc.address, past_day, b"\x01" * 32, 0, 5), "ReconciliationCountOutOfRange"),
        ((conf_cast.issuer_a.address, past_day, b"\x01" * 32, 1, 5), "RegistryChannelNotOpen"),
    ]:
        with brownie.reverts(revert_pattern=err + ".*"):
            commit_bilateral(recon, conf_cast.bank.account, *args)
    d = recon.getDay(recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, past_day))
    assert (d[0], d[1], d[2]) == (1, 1, 5)


def test_breaks__out_of_order_or_bad_cause__reverts(recon, conf_cast, past_day):
    commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 2, 10)
    key = recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, past_day)
    with brownie.reverts(revert_pattern=r"ReconciliationDayNotReconciled:.*"):
        recon.recordBreaks(key, [(0, H, 1, 1, 0, 5)], {"from": conf_cast.reconciler.account})
    recon.closeDay(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        {"from": conf_cast.reconciler.account},
    )
    recon.recordReconciliation(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        (1, 2, 5, 10, 10, 10, H),
        {"from": conf_cast.reconciler.account},
    )
    with brownie.reverts(revert_pattern=r"ReconciliationBreakOutOfOrder:.*"):
        recon.recordBreaks(key, [(1, H, 1, 1, 0, 5)], {"from": conf_cast.reconciler.account})
    with brownie.reverts(revert_pattern=r"ReconciliationBadBreak:.*"):
        recon.recordBreaks(key, [(0, H, 6, 1, 0, 5)], {"from": conf_cast.reconciler.account})
    with brownie.reverts(revert_pattern=r"ReconciliationTooManyBreaks:.*"):
        recon.recordBreaks(key, [], {"from": conf_cast.reconciler.account})
    recon.recordBreaks(
        key, [(0, H, 1, 1, 0, 5), (1, H, 2, 2, 6, 5)], {"from": conf_cast.reconciler.account}
    )
    assert recon.getDay(key)[7] == 2


def test_settle__not_reconciled_twice_or_other_party__reverts(
    recon, conf_cast, past_day, token, funded
):
    commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 1, 10)
    with brownie.reverts(revert_pattern=r"ReconciliationDayNotReconciled:.*"):
        recon.settleDay(conf_cast.bank.address, past_day, H, {"from": conf_cast.fc.account})
    recon.closeDay(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        {"from": conf_cast.reconciler.account},
    )
    recon.recordReconciliation(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        (1, 0, 10, 10, 10, 10, b"\0" * 32),
        {"from": conf_cast.reconciler.account},
    )
    token.approve(recon, 10, {"from": conf_cast.fc.account})
    recon.settleDay(conf_cast.bank.address, past_day, H, {"from": conf_cast.fc.account})
    with brownie.reverts(revert_pattern=r"ReconciliationDayAlreadySettled:.*"):
        recon.settleDay(conf_cast.bank.address, past_day, H, {"from": conf_cast.fc.account})
    with brownie.reverts(revert_pattern=r"ReconciliationNotDayParty:.*"):
        recon.settleDay(conf_cast.fc.address, past_day, H, {"from": conf_cast.fc.account})


def test_commit__root_again__reverts_naming_its_day(recon, conf_cast, past_day):
    commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 1, 5)
    key = recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, past_day)
    assert recon.committedDayOf(conf_cast.bank.address, H) == key
    # a resend, even for another day, is refused with the day the root was committed to
    for day in (past_day, past_day - 1):
        with brownie.reverts(f"ReconciliationRootAlreadyCommitted: {H!r}, {bytes(key)!r}"):
            commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, day, H, 1, 5)
    d = recon.getDay(key)
    assert (d[0], d[1], d[2]) == (1, 1, 5)


def test_breaks__call_resent__reverts_naming_first_call(recon, conf_cast, past_day):
    commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 3, 10)
    key = recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, past_day)
    recon.closeDay(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        {"from": conf_cast.reconciler.account},
    )
    recon.recordReconciliation(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        (1, 3, 5, 10, 10, 10, H),
        {"from": conf_cast.reconciler.account},
    )
    chunk = [(0, H, 1, 1, 0, 5), (1, H, 2, 2, 6, 5)]
    tx = recon.recordBreaks(key, chunk, {"from": conf_cast.reconciler.account})
    assert recon.breaksBatchOf(key, 0) == (2, tx.block_number)
    assert recon.breaksBatchOf(key, 1) == (0, 0) and recon.breaksBatchOf(key, 2) == (0, 0)
    for resent in (chunk, chunk[:1]):  # the same call, or any call from the same seq
        with brownie.reverts(
            f"ReconciliationBreaksAlreadyRecorded: {bytes(key)!r}, 0, 2, {tx.block_number}"
        ):
            recon.recordBreaks(key, resent, {"from": conf_cast.reconciler.account})
    assert recon.getDay(key)[7] == 2
    tx = recon.recordBreaks(key, [(2, H, 3, 1, 0, 5)], {"from": conf_cast.reconciler.account})
    assert recon.breaksBatchOf(key, 2) == (1, tx.block_number) and recon.getDay(key)[7] == 3


def test_settle__resent__reverts_naming_first_payment(recon, conf_cast, past_day, token, funded):
    commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 1, 10)
    recon.closeDay(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        {"from": conf_cast.reconciler.account},
    )
    recon.recordReconciliation(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        (1, 0, 10, 10, 10, 10, b"\0" * 32),
        {"from": conf_cast.reconciler.account},
    )
    key = recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, past_day)
    assert recon.getDay(key)[8] == 0
    token.approve(recon, 20, {"from": conf_cast.fc.account})
    tx = recon.settleDay(conf_cast.bank.address, past_day, H, {"from": conf_cast.fc.account})
    assert recon.getDay(key)[8] == tx.block_number and recon.getDay(key)[12] == "0x" + H.hex()
    paid = token.balanceOf(conf_cast.bank.address)
    other = b"\x43" * 32
    with brownie.reverts(
        f"ReconciliationDayAlreadySettled: {bytes(key)!r}, {H!r}, {tx.block_number}"
    ):
        recon.settleDay(conf_cast.bank.address, past_day, other, {"from": conf_cast.fc.account})
    assert (
        token.balanceOf(conf_cast.bank.address) == paid and recon.getDay(key)[12] == "0x" + H.hex()
    )


@given(
    amounts=strategy("uint32[]", min_length=1, max_length=40),
    drop=strategy("uint8"),
    bump=strategy("uint16"),
)
def test_engine__random_day__chain_accepts_exact_totals(
    recon, conf_cast, past_day, amounts, drop, bump
):
    """Property: whatever the breaks, the engine's corrected totals equal what the chain committed."""
    n = len(amounts)
    ids = np.arange(1, n + 1, dtype=np.int64)
    bil = pd.DataFrame({"id": ids, "amount": np.array(amounts, dtype=np.int64), "committed": True})
    debit = bil[["id", "amount"]].drop(index=drop % n)
    credit = bil[["id", "amount"]].copy()
    credit.loc[bump % n, "amount"] += bump
    res = R.reconcile(bil, debit, credit)
    commit_bilateral(
        recon, conf_cast.bank.account, conf_cast.fc.address, past_day, b"\x07" * 32, n, sum(amounts)
    )
    s = (
        res.matched,
        len(res.breaks),
        res.presented[1],
        res.presented[2],
        res.corrected_total,
        res.corrected_total,
        res.breaks_root(),
    )
    recon.closeDay(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        {"from": conf_cast.reconciler.account},
    )
    tx = recon.recordReconciliation(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        s,
        {"from": conf_cast.reconciler.account},
    )
    assert tx.events["DayReconciled"]["corrected"] == sum(amounts)
