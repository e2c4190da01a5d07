"""Annuity agents killed between sending a batch and booking its receipt resume without resending.

Keys: a contribution batch's payroll reference (receiveContributions), a posting's batch id
(postContributions). For each: the chain holds the batch once, the restarted agent's store books it
once (from the chain), asking again sends nothing, and a blind resend is refused on chain.
"""

import brownie

from consortium.domain.hashing import doc_hash
from consortium.outbox import key_of
from consortium.roles.annuity import POST, RECEIVE, AccountManagerPlatform, TrusteePlatform
from consortium.store import Store
from tests.faults.helpers import dies_after_send, logs_since, resumed_once


def _trustee(trustee, path):
    return TrusteePlatform(trustee.institution, trustee.ledger, trustee.plans, Store.at(path))


def test_receive_contributions__killed_after_send__booked_once_and_resend_refused(
    ledger, enrol, trustee, annuity_world, tmp_path, web3
):
    (a,) = enrol(["E1"])
    path, start = tmp_path / "trustee.sqlite", web3.eth.block_number + 1
    with dies_after_send(agent := _trustee(trustee, path)):
        agent.receive_contributions("payroll 2026-11", {a: 500})
    ref = doc_hash("payroll 2026-11#0")
    batch_id, block = ledger.batchOfRef(ref)
    assert (batch_id, ledger.batchCount()) == (1, 1) and block >= start

    fresh = _trustee(trustee, path)  # the restarted agent
    booking = resumed_once(fresh, RECEIVE, key_of(ref), {"batchId": 1})
    assert booking.block == block
    (again,) = fresh.receive_contributions("payroll 2026-11", {a: 500})  # asked again: booked
    assert again.batch_id == 1 and ledger.batchCount() == 1
    assert len(logs_since(web3, ledger, "ContributionBatchReceived", start)) == 1
    with brownie.reverts(f"AnnuityBatchRefUsed: {ref!r}, 1, {block}"):
        ledger.receiveContributions(ref, [a], [500], {"from": trustee.institution.account})
    assert ledger.batchCount() == 1


def test_post_contributions__killed_after_send__booked_once_and_resend_refused(
    ledger, enrol, trustee, account_manager, annuity_world, tmp_path, web3
):
    (a,) = enrol(["E1"])
    (batch,) = trustee.receive_contributions("payroll 2027-01", {a: 900})
    path, start = tmp_path / "account-manager.sqlite", web3.eth.block_number + 1
    inst = account_manager.institution
    with dies_after_send(agent := AccountManagerPlatform(inst, ledger, Store.at(path))):
        agent.post_contributions(batch)
    posted = ledger.getContributionBatch(batch.batch_id)
    assert posted["posted"] and ledger.getAccount(a)["cash"] == 900

    fresh = AccountManagerPlatform(inst, ledger, Store.at(path))
    booking = resumed_once(fresh, POST, key_of(batch.batch_id), {"batchId": batch.batch_id})
    assert booking.block == posted["postedBlock"]
    assert fresh.post_contributions(batch) is None  # booked: nothing sent
    assert ledger.getAccount(a)["cash"] == 900
    assert len(logs_since(web3, ledger, "ContributionBatchPosted", start)) == 1
    with brownie.reverts(f"AnnuityBatchAlreadyPosted: {batch.batch_id}, {posted['postedBlock']}"):
        ledger.postContributions(batch.batch_id, [a], [900], {"from": inst.account})
    assert ledger.getAccount(a)["contributed"] == 900
