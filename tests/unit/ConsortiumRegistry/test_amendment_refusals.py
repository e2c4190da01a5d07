"""Amendment refusals not covered by test_amendments.py: none records an approval or moves the terms."""

import brownie

from consortium.domain.hashing import doc_hash

TERMS = doc_hash("product WM-001 qualification rules")
V1 = doc_hash("min age 18; risk level >= product risk")
V2 = doc_hash("min age 21; risk level >= product risk")
ZERO = "0x" + "00" * 20


def test_approveAmendment__zero_terms_id__reverts(registry, bank, issuer):
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        bank.approve_amendment(b"\x00" * 32, bank.address, issuer.address, V1)
    assert registry.getTerms(b"\x00" * 32)["version"] == 0


def test_approveAmendment__party_a_zero__reverts(bank):
    with brownie.reverts(revert_pattern=r"RegistryZeroAddress.*"):
        bank.approve_amendment(TERMS, ZERO, bank.address, V1)


def test_approveAmendment__parties_swapped_after_enactment__reverts(
    registry, manager, bank, issuer
):
    bank.approve_amendment(TERMS, bank.address, issuer.address, V1)
    issuer.approve_amendment(TERMS, bank.address, issuer.address, V1)
    manager.enact(TERMS, bank.address, issuer.address, V1)
    with brownie.reverts(revert_pattern=r"RegistryTermsPartiesMismatch:.*"):
        issuer.approve_amendment(TERMS, issuer.address, bank.address, V2)
    with brownie.reverts(revert_pattern=r"RegistryTermsPartiesMismatch:.*"):
        manager.enact(TERMS, issuer.address, bank.address, V1)
    t = registry.getTerms(TERMS)
    assert (t["partyA"], t["partyB"], t["termsHash"], t["version"]) == (
        bank.address,
        issuer.address,
        "0x" + V1.hex(),
        1,
    )
