"""receiveContributions (trustee) and postContributions (account manager): exact totals, asset records."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash

REF = doc_hash("employer 42 payroll 2026-11")


def test_first_contribution__creates_asset_record_later_ones_add(
    ledger, enrol, trustee, account_manager, annuity_world
):
    a, b = enrol(["E1", "E2"])
    batch = trustee.receive_contributions("payroll-11", {a: 1_000_00, b: 2_500_37})[0]
    rx = ledger.getContributionBatch(batch.batch_id)
    assert (rx["total"], rx["count"], rx["posted"]) == (350_037, 2, False)
    assert ledger.getAccount(a)["cash"] == 0  # not posted yet
    tx = account_manager.post_contributions(batch)
    assert [e["account"] for e in tx.events["AssetRecordCreated"]] == [
        "0x" + a.hex(),
        "0x" + b.hex(),
    ]
    posted = tx.events["ContributionPosted"]
    assert [(e["amount"], e["cash"], e["contributed"]) for e in posted] == [
        (1_000_00, 1_000_00, 1_000_00),
        (2_500_37, 2_500_37, 2_500_37),
    ]
    assert tx.events["ContributionBatchPosted"]["total"] == 350_037
    assert ledger.getContributionBatch(batch.batch_id)["posted"] is True
    batch2 = trustee.receive_contributions("payroll-12", {a: 1})[0]
    tx = account_manager.post_contributions(batch2)
    assert "AssetRecordCreated" not in tx.events
    account = ledger.getAccount(a)
    assert (account["cash"], account["contributed"], account["assetRecord"]) == (
        100_001,
        100_001,
        True,
    )


def test_receive__event_carries_batch_totals(ledger, enrol, trustee, annuity_world):
    (a,) = enrol(["E1"])
    tx = ledger.receiveContributions(REF, [a], [777], {"from": trustee.institution.account})
    ev = tx.events["ContributionBatchReceived"]
    assert (ev["batchId"], ev["trustee"], ev["batchRef"], ev["count"], ev["total"]) == (
        1,
        trustee.address,
        "0x" + REF.hex(),
        1,
        777,
    )
    assert ledger.batchCount() == 1


def test_batch_of_100__posted_exactly(ledger, enrol, fund, annuity_world):
    ids = enrol([f"E{i:03}" for i in range(100)])
    amounts = {a: 50_000 + 37 * i for i, a in enumerate(ids)}
    fund(amounts)
    assert all(ledger.getAccount(a)["cash"] == amounts[a] for a in ids)
    assert ledger.getContributionBatch(1)["total"] == sum(amounts.values())


@pytest.mark.parametrize(
    "kind,error",
    [
        ("zero", r"AnnuityZeroContribution:.*, 1"),
        ("unknown", r"AnnuityAccountNotOpen:.*, 0"),
        ("requested", r"AnnuityAccountNotOpen:.*, 1"),
        ("mismatch", r"AnnuityLengthMismatch: 2, 1"),
        ("empty", r"AnnuityEmptyBatch.*"),
        ("too_many", r"AnnuityBatchTooLarge: 257, 256"),
        ("too_large", r"AnnuityContributionTooLarge:.*"),
    ],
)
def test_receive__bad_input__reverts_and_changes_nothing(
    ledger, enrol, platform, trustee, annuity_world, kind, error
):
    a, b = enrol(["E1", "E2"])
    platform.enrol(["E3"])
    requested = platform.account_id("E3")
    accounts, amounts = {
        "zero": ([a, b], [10, 0]),
        "unknown": ([a, doc_hash("nobody")], [10, 10]),
        "requested": ([requested], [10]),
        "mismatch": ([a, b], [10]),
        "empty": ([], []),
        "too_many": ([a] * 257, [1] * 257),
        "too_large": ([a], [2**96]),
    }[kind]
    with brownie.reverts(revert_pattern=error):
        ledger.receiveContributions(REF, accounts, amounts, {"from": trustee.institution.account})
    assert ledger.batchCount() == 0


@pytest.mark.parametrize(
    "kind,error",
    [
        ("unknown", r"AnnuityUnknownBatch: 9"),
        ("twice", r"AnnuityBatchAlreadyPosted: 1, \d+"),
        ("altered", r"AnnuityBatchMismatch: 1"),
    ],
)
def test_post__bad_batch__reverts_and_changes_nothing(
    ledger, enrol, trustee, account_manager, annuity_world, kind, error
):
    (a,) = enrol(["E1"])
    batch = trustee.receive_contributions("p", {a: 500})[0]
    batch_id, amounts = batch.batch_id, [500]
    if kind == "unknown":
        batch_id = 9
    elif kind == "twice":
        account_manager.post_contributions(batch)
    else:
        amounts = [501]
    cash_before = ledger.getAccount(a)["cash"]
    with brownie.reverts(revert_pattern=error):
        ledger.postContributions(
            batch_id, [a], amounts, {"from": account_manager.institution.account}
        )
    assert ledger.getAccount(a)["cash"] == cash_before


def test_receive__batch_ref_used__reverts_with_first_batch_and_changes_nothing(
    ledger, enrol, trustee, annuity_world
):
    a, b = enrol(["E1", "E2"])
    first = ledger.receiveContributions(REF, [a], [500], {"from": trustee.institution.account})
    assert ledger.batchOfRef(REF) == (1, first.block_number)
    before = tuple(ledger.getContributionBatch(1))
    with brownie.reverts(f"AnnuityBatchRefUsed: {REF!r}, 1, {first.block_number}"):
        # same reference, even with other contributions: one payroll reference is one batch
        ledger.receiveContributions(REF, [a, b], [500, 7], {"from": trustee.institution.account})
    assert ledger.batchCount() == 1
    assert tuple(ledger.getContributionBatch(1)) == before
    assert ledger.batchOfRef(REF) == (1, first.block_number)


def test_receive__zero_batch_ref__reverts(ledger, enrol, trustee, annuity_world):
    (a,) = enrol(["E1"])
    with brownie.reverts(revert_pattern=r"AnnuityZeroBatchRef.*"):
        ledger.receiveContributions(b"\0" * 32, [a], [500], {"from": trustee.institution.account})
    assert ledger.batchCount() == 0 and ledger.batchOfRef(b"\0" * 32) == (0, 0)


def test_batch_of_ref__unknown__zero(ledger, annuity_world):
    assert ledger.batchOfRef(doc_hash("never used")) == (0, 0)


def test_post__records_posted_block__resend_names_it(
    ledger, enrol, trustee, account_manager, annuity_world
):
    (a,) = enrol(["E1"])
    batch = trustee.receive_contributions("payroll-posted-block", {a: 900})[0]
    assert ledger.getContributionBatch(batch.batch_id)["postedBlock"] == 0
    tx = account_manager.post_contributions(batch)
    assert ledger.getContributionBatch(batch.batch_id)["postedBlock"] == tx.block_number
    with brownie.reverts(f"AnnuityBatchAlreadyPosted: {batch.batch_id}, {tx.block_number}"):
        ledger.postContributions(
            batch.batch_id, [a], [900], {"from": account_manager.institution.account}
        )
    assert ledger.getAccount(a)["cash"] == 900
