"""Confirmation and reconciliation agents killed between sending and booking resume without resending.

Keys: a packet's (sales bank, Merkle root) (anchorPacket), a bilateral
batch's (bank, root) (commitBilateral), a breaks call's (day, first seq) (recordBreaks), the day itself
(settleDay). Each agent is rebuilt over its store and key (Participant.build on the same folder).
"""

import json
import os

import brownie
import numpy as np
import pandas as pd
import pytest

from consortium.domain import merkle, qualification
from consortium.outbox import key_of
from consortium.roles import confirmations as line
from tests.faults.helpers import dies_after_send, logs_since, resumed_once
from tests.fixtures.confirmations import commit_bilateral

PA = b"A" * 32


@pytest.fixture
def build(line_suite, tmp_path):
    """Factory: build(cls, institution) -> that institution's agent over its store in tmp_path
    (building again gives the restarted agent: same store, same key)."""
    net = line.Network.local(tmp_path)
    return lambda cls, inst: cls.build(inst, line_suite, net, tmp_path)


def _payments(day, n=10):
    rng = np.random.default_rng(day)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64) + day * 1_000,
            "amount": rng.integers(1, 100_000, n, dtype=np.int64),
            "paid_at": day * 86_400 + rng.integers(0, 86_400, n, dtype=np.int64),
        }
    )


def _reconciled(build, conf_cast, day, drop_debit=True):
    """Commit the day's payments, collect both sides and reconcile (one debit dropped: one break)."""
    client, fc, rec = (
        build(c, i)
        for c, i in (
            (line.PaymentClient, conf_cast.bank),
            (line.FinanceCompany, conf_cast.fc),
            (line.Reconciler, conf_cast.reconciler),
        )
    )
    pay = _payments(day)
    client.record_day(conf_cast.fc.address, conf_cast.reconciler.address, day, pay)
    fc.collect_debits()
    client.commit_countersigned()
    bil = [b for b in rec.collect()["bilateral"] if b["day"] == day]
    debit, credit = fc.store.details("debit", day), client.store.details("credit", day)
    if drop_debit:
        debit = debit[debit.id != int(pay.id[0])]
    return pay, rec.reconcile_day(
        conf_cast.bank.address, conf_cast.fc.address, day, bil, debit, credit
    )


def test_commit_bilateral__killed_after_send__booked_once_and_resend_refused(
    recon, conf_cast, build, past_day, web3
):
    day, start = past_day - 10, web3.eth.block_number + 1
    pay = _payments(day)
    fc = build(line.FinanceCompany, conf_cast.fc)
    build(line.Reconciler, conf_cast.reconciler)  # keys
    agent = build(line.PaymentClient, conf_cast.bank)
    agent.record_day(conf_cast.fc.address, conf_cast.reconciler.address, day, pay)
    fc.collect_debits()  # countersigned: the commit is the bank's next step
    with dies_after_send(agent):
        agent.commit_countersigned()
    recs = [
        (line.record_id32(i), int(a), conf_cast.bank.address, conf_cast.fc.address, int(t))
        for i, a, t in pay[["id", "amount", "paid_at"]].itertuples(index=False, name=None)
    ]
    root = merkle.RecordTree(recs, line.BILATERAL_TYPES).root
    key = recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, day)
    assert recon.committedDayOf(conf_cast.bank.address, root) == key

    fresh = build(line.PaymentClient, conf_cast.bank)
    resumed_once(fresh, line.COMMIT, key_of(root), {"dayKey": key})
    assert fresh.record_day(conf_cast.fc.address, conf_cast.reconciler.address, day, pay) == [root]
    fc.collect_debits()
    assert fresh.commit_countersigned() == [root]  # booked: not sent again
    assert len(logs_since(web3, recon, "BilateralCommitted", start)) == 1
    with brownie.reverts(f"ReconciliationRootAlreadyCommitted: {root!r}, {bytes(key)!r}"):
        commit_bilateral(
            recon,
            conf_cast.bank.account,
            conf_cast.fc.address,
            day,
            root,
            len(pay),
            int(pay.amount.sum()),
        )
    assert recon.getDay(key)[1] == 1  # one batch committed


def test_record_breaks__killed_after_send__booked_once_and_resend_refused(
    recon, conf_cast, build, past_day, web3
):
    day = past_day - 11
    _, result = _reconciled(build, conf_cast, day)
    bank, fc = conf_cast.bank.address, conf_cast.fc.address
    start = web3.eth.block_number + 1
    with dies_after_send(agent := build(line.Reconciler, conf_cast.reconciler)):
        agent.record(bank, fc, day, result)
    key = recon.dayKey(bank, fc, day)
    count, block = recon.breaksBatchOf(key, 0)
    assert count == len(result.breaks) == recon.getDay(key)[7] == 1

    fresh = build(line.Reconciler, conf_cast.reconciler)
    resumed_once(fresh, line.BREAKS, key_of(key, 0), {"count": 1})
    assert fresh.record(bank, fc, day, result) == bytes(key)  # nothing recorded twice
    assert len(logs_since(web3, recon, "BreakRecorded", start)) == 1
    (leaf,) = result.break_leaves()
    with brownie.reverts(f"ReconciliationBreaksAlreadyRecorded: {bytes(key)!r}, 0, 1, {block}"):
        recon.recordBreaks(key, [leaf], {"from": conf_cast.reconciler.account})
    assert recon.getDay(key)[7] == 1


def test_settle_day__killed_after_send__paid_once_and_resend_refused(
    recon, token, conf_cast, build, past_day, web3
):
    day = past_day - 12
    pay, result = _reconciled(build, conf_cast, day, drop_debit=False)
    bank, fc_addr = conf_cast.bank.address, conf_cast.fc.address
    build(line.Reconciler, conf_cast.reconciler).record(bank, fc_addr, day, result)
    total = int(pay.amount.sum())
    token.issue(fc_addr, total, os.urandom(32), {"from": conf_cast.cash_issuer.account})
    start, before = web3.eth.block_number + 1, token.balanceOf(bank)
    with dies_after_send(agent := build(line.FinanceCompany, conf_cast.fc)):
        agent.settle(bank, day, token)
    key = recon.dayKey(bank, fc_addr, day)
    d = recon.getDay(key)
    assert d[4] and token.balanceOf(bank) == before + total

    fresh = build(line.FinanceCompany, conf_cast.fc)
    resumed_once(fresh, line.SETTLE_DAY, key_of(key), {"paymentRef": d[12]})
    assert fresh.settle(bank, day, token) is None
    assert token.balanceOf(bank) == before + total  # paid once
    assert len(logs_since(web3, recon, "DaySettled", start)) == 1
    with brownie.reverts(
        f"ReconciliationDayAlreadySettled: {bytes(key)!r}, " f"{bytes(d[12])!r}, {d[8]}"
    ):
        recon.settleDay(bank, day, b"\x01" * 32, {"from": conf_cast.fc.account})


def test_anchor_packet__killed_after_send__booked_once_and_resend_refused(
    anchor, people, conf_cast, build, make_rules, agree, make_request, web3
):
    bank = people.sales_bank
    rules = make_rules(PA, conf_cast.issuer_a, risk=3)
    agree(rules, conf_cast.sales_bank, conf_cast.issuer_a)
    bank.rules[PA] = rules
    inv = qualification.Investor(
        os.urandom(32), 40, 5, frozenset({conf_cast.issuer_a.address.lower()})
    )
    bank.investors[inv.commitment] = inv
    people.issuer_a.book.products[PA] = qualification.Product(PA)
    people.issuer_a.book.registered.add(inv.commitment)
    reqs = [
        make_request(conf_cast.issuer_a, 100 + i, PA, investor=inv.commitment) for i in range(2)
    ]
    bank.send_packets(7, bank.packets(reqs))
    people.issuer_a.confirm_packets(300)
    items = bank.collect_confirmations()[conf_cast.issuer_a.address.lower()]
    start = web3.eth.block_number + 1
    with dies_after_send(agent := build(line.SalesBank, conf_cast.sales_bank)):
        agent.anchor_packet(conf_cast.issuer_a.address, items)
    root = merkle.RecordTree(bank.records_for(conf_cast.issuer_a.address, items)).root
    assert anchor.anchorOf(conf_cast.sales_bank.address, root)[2] == 2

    fresh = build(line.SalesBank, conf_cast.sales_bank)
    resumed_once(fresh, line.ANCHOR_PACKET, key_of(root), {})
    assert fresh.anchor_packet(conf_cast.issuer_a.address, items) == root
    assert len(logs_since(web3, anchor, "PacketAnchored", start)) == 1
    with brownie.reverts(revert_pattern=r"Anchor.*"):  # ConfirmationAnchor's own refusal
        anchor.anchorPacket(
            conf_cast.issuer_a.address, 7, root, 2, {"from": conf_cast.sales_bank.account}
        )


def test_build__operator_key__kept_in_a_keystore_only_and_the_same_after_a_restart(
    build, conf_cast, tmp_path, registry
):
    """The in-process participant's operator key is never written in plaintext: it sits in a V3
    keystore beside the store, and the restarted participant unlocks the same key from it."""
    first = build(line.SalesBank, conf_cast.sales_bank)
    keystore = tmp_path / f"{conf_cast.sales_bank.address.lower()}.keystore.json"
    assert json.loads(keystore.read_text())["version"] == 3
    secret = first.key.key.hex().removeprefix("0x").encode()
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert secret not in path.read_bytes().lower(), f"the operator key in plaintext in {path}"
    again = build(line.SalesBank, conf_cast.sales_bank)
    assert again.key.address == first.key.address
    assert registry.memberOf(first.key.address) == conf_cast.sales_bank.address
