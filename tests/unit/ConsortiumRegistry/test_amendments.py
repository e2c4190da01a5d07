"""Joint amendment: both parties approve the same hash, the permission manager enacts it."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash

TERMS = doc_hash("product WM-001 qualification rules")
V1 = doc_hash("min age 18; risk level >= product risk")
V2 = doc_hash("min age 21; risk level >= product risk")


def _both_approve(bank, issuer, h):
    bank.approve_amendment(TERMS, bank.address, issuer.address, h)
    issuer.approve_amendment(TERMS, bank.address, issuer.address, h)


def test_enact__after_both_approvals__sets_terms_and_version(registry, manager, bank, issuer):
    _both_approve(bank, issuer, V1)
    tx = manager.enact(TERMS, bank.address, issuer.address, V1)
    assert tx.events["AmendmentEnacted"]["version"] == 1
    t = registry.getTerms(TERMS)
    assert (t["partyA"], t["partyB"], t["termsHash"], t["version"]) == (
        bank.address,
        issuer.address,
        "0x" + V1.hex(),
        1,
    )
    _both_approve(bank, issuer, V2)
    manager.enact(TERMS, bank.address, issuer.address, V2)
    assert registry.getTerms(TERMS)["termsHash"] == "0x" + V2.hex()
    assert registry.getTerms(TERMS)["version"] == 2


@pytest.mark.parametrize("approver", ["bank", "issuer"])
def test_enact__one_approval_only__reverts(registry, manager, bank, issuer, approver):
    party = bank if approver == "bank" else issuer
    party.approve_amendment(TERMS, bank.address, issuer.address, V1)
    with brownie.reverts(revert_pattern=r"RegistryAmendmentNotApproved:.*"):
        manager.enact(TERMS, bank.address, issuer.address, V1)
    assert registry.getTerms(TERMS)["version"] == 0


def test_enact__approvals_of_different_hashes__reverts(manager, bank, issuer):
    bank.approve_amendment(TERMS, bank.address, issuer.address, V1)
    issuer.approve_amendment(TERMS, bank.address, issuer.address, V2)
    with brownie.reverts(revert_pattern=r"RegistryAmendmentNotApproved:.*"):
        manager.enact(TERMS, bank.address, issuer.address, V1)


def test_enact__approvals_do_not_carry_to_next_version(manager, bank, issuer):
    _both_approve(bank, issuer, V1)
    manager.enact(TERMS, bank.address, issuer.address, V1)
    with brownie.reverts(revert_pattern=r"RegistryAmendmentNotApproved:.*"):
        manager.enact(TERMS, bank.address, issuer.address, V1)


def test_enact__by_a_party__reverts(bank, issuer, registry):
    _both_approve(bank, issuer, V1)
    with brownie.reverts(revert_pattern=r"RegistryMissingRole:.*"):
        registry.enactAmendment(TERMS, bank.address, issuer.address, V1, {"from": bank.account})


def test_approve__non_party__reverts(registry, bank, issuer, regulator_cn):
    with brownie.reverts(revert_pattern=r"RegistryNotTermsParty:.*"):
        regulator_cn.approve_amendment(TERMS, bank.address, issuer.address, V1)


def test_approve__twice__reverts(bank, issuer):
    bank.approve_amendment(TERMS, bank.address, issuer.address, V1)
    with brownie.reverts(revert_pattern=r"RegistryAmendmentAlreadyApproved:.*"):
        bank.approve_amendment(TERMS, bank.address, issuer.address, V1)


def test_approve__other_parties_than_the_terms__reverts(manager, bank, issuer, regulator_cn):
    _both_approve(bank, issuer, V1)
    manager.enact(TERMS, bank.address, issuer.address, V1)
    with brownie.reverts(revert_pattern=r"RegistryTermsPartiesMismatch:.*"):
        bank.approve_amendment(TERMS, bank.address, regulator_cn.address, V2)


def test_approve__bad_input__reverts(registry, bank, issuer):
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        bank.approve_amendment(TERMS, bank.address, issuer.address, b"\x00" * 32)
    with brownie.reverts(revert_pattern=r"RegistryChannelSelf:.*"):
        bank.approve_amendment(TERMS, bank.address, bank.address, V1)
    with brownie.reverts(revert_pattern=r"RegistryZeroAddress.*"):
        bank.approve_amendment(TERMS, bank.address, "0x" + "00" * 20, V1)


def test_approve__counterparty_suspended__reverts(manager, bank, issuer):
    manager.suspend(issuer.address, "x")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        bank.approve_amendment(TERMS, bank.address, issuer.address, V1)
