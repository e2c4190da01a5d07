"""requestAccounts / openAccounts: salted ids only, batch bounds, lifecycle refusals."""

import brownie
import pytest

from consortium.domain.hashing import commit, doc_hash

A, B = doc_hash("a"), doc_hash("b")


def test_enrol__platform_then_account_manager__accounts_open(
    ledger, platform, account_manager, annuity_world
):
    tx = platform.enrol(["E-001", "E-002"])[0]
    ids = [platform.account_id("E-001"), platform.account_id("E-002")]
    acct = platform.accounts["E-001"]
    assert acct.account_id == commit("E-001", acct.salt)  # the id on chain is a salted hash
    assert [e["account"] for e in tx.events["AccountOpeningRequested"]] == [
        "0x" + i.hex() for i in ids
    ]
    assert tx.events["AccountOpeningRequested"]["platform"] == platform.address
    assert ledger.getAccount(ids[0])["status"] == 1
    tx = account_manager.open_accounts(ids)[0]
    assert len(tx.events["AccountOpened"]) == 2
    assert tx.events["AccountOpened"]["accountManager"] == account_manager.address
    account = ledger.getAccount(ids[1])
    assert account["status"] == 2
    assert account["assetRecord"] is False
    assert account["cash"] == 0


def test_requestAccounts__twice__reverts(ledger, platform, annuity_world):
    ledger.requestAccounts(1, [A], {"from": platform.institution.account})
    with brownie.reverts(revert_pattern=r"AnnuityAccountExists:.*, 1"):
        ledger.requestAccounts(1, [B, A], {"from": platform.institution.account})
    assert ledger.getAccount(B)["status"] == 0


@pytest.mark.parametrize(
    "batch,error",
    [
        ([], r"AnnuityEmptyBatch.*"),
        ([b"\0" * 32], r"AnnuityZeroAccount: 0"),
        ([doc_hash(str(i)) for i in range(257)], r"AnnuityBatchTooLarge: 257, 256"),
    ],
)
def test_requestAccounts__bad_batch__reverts(ledger, platform, annuity_world, batch, error):
    with brownie.reverts(revert_pattern=error):
        ledger.requestAccounts(1, batch, {"from": platform.institution.account})
    assert all(ledger.getAccount(a)["status"] == 0 for a in batch[:3])


def test_openAccounts__not_requested__reverts(ledger, platform, account_manager, annuity_world):
    ledger.requestAccounts(1, [A], {"from": platform.institution.account})
    with brownie.reverts(revert_pattern=r"AnnuityAccountNotRequested:.*, 0"):
        account_manager.open_accounts([A, B])
    assert ledger.getAccount(A)["status"] == 1
    account_manager.open_accounts([A])
    with brownie.reverts(revert_pattern=r"AnnuityAccountNotRequested:.*, 2"):
        account_manager.open_accounts([A])


@pytest.mark.parametrize(
    "batch,error", [([], r"AnnuityEmptyBatch.*"), ([A] * 257, r"AnnuityBatchTooLarge: 257, 256")]
)
def test_openAccounts__bad_batch__reverts(ledger, account_manager, annuity_world, batch, error):
    with brownie.reverts(revert_pattern=error):
        account_manager.ledger.openAccounts(batch, {"from": account_manager.institution.account})
