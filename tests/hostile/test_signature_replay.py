"""EIP-712 confirmations replayed across chains, contracts and domains, tampered or malleated.

ConfirmationAnchor is the only EIP-712 user (grep EIP712/ECDSA in contracts/). Its domain binds the
name, the version, the chain id and the anchor's address, so a signature made under any other domain
recovers some other address and is refused (AnchorConfirmationWrongSigner naming the expected issuer
and the recovered signer); OpenZeppelin's ECDSA refuses malleable and malformed signatures outright.
The Python verifier (domain/eip712.py) must refuse exactly the same signatures.
"""

import dataclasses

import brownie
import pytest

from consortium.domain import eip712
from consortium.roles.confirmations import anchor_domain
from tests.fixtures.hostile import SECP256K1_N, decode_error, revert_data

ZERO = "0x" + "00" * 20


@pytest.fixture(scope="module")
def second_anchor(ConfirmationAnchor, registry, registry_admin):
    """Another deployment on the same chain and registry: same name and version, other address."""
    return ConfirmationAnchor.deploy(registry, {"from": registry_admin})


@pytest.fixture(scope="module")
def confirmation(conf_cast, make_request):
    q = make_request(conf_cast.issuer_a)
    return eip712.Confirmation(
        q.requestId,
        q.struct_hash(),
        conf_cast.issuer_a.address,
        eip712.CONFIRMED,
        q.amount,
        q.shares,
        7,
    )


def _wrong_signer(anchor, registry, c, sig):
    """(requestId, expectedIssuer, signer, signerMember) of the AnchorConfirmationWrongSigner refusal."""
    data = revert_data(anchor, "checkConfirmation", c.as_tuple(), sig)
    name, args = decode_error(data, anchor, registry)
    assert name == "AnchorConfirmationWrongSigner"
    return args


DOMAINS = {
    "other chain id": lambda d, other: dataclasses.replace(d, chain_id=d.chain_id + 1),
    "other verifying contract": lambda d, other: dataclasses.replace(d, verifying_contract=other),
    "other name": lambda d, other: dataclasses.replace(d, name="ConsortiumConfirmation"),
    "other version": lambda d, other: dataclasses.replace(d, version="2"),
}


@pytest.mark.parametrize("case", DOMAINS)
def test_checkConfirmation__signed_for_another_domain__refused_on_and_off_chain(
    anchor, second_anchor, registry, people, conf_cast, confirmation, case
):
    dom = anchor_domain(anchor)
    foreign = DOMAINS[case](dom, second_anchor.address)
    sig = eip712.sign_confirmation(foreign, confirmation, people.issuer_a.key.key)
    request_id, expected, signer, signer_member = _wrong_signer(anchor, registry, confirmation, sig)
    assert (request_id, expected) == (confirmation.requestId, conf_cast.issuer_a.address)
    assert signer == eip712.recover_signer(dom, confirmation, sig) != people.issuer_a.key.address
    assert signer_member == ZERO  # the address it recovers is nobody's key
    with pytest.raises(eip712.ConfirmationSignerMismatch, match="not one of that issuer's keys"):
        eip712.check_confirmation(
            dom, confirmation, sig, people.sales_bank.issuer_signers(expected)
        )


def test_checkConfirmation__valid_on_second_anchor__replay_on_first_refused(
    anchor, second_anchor, registry, people, conf_cast, confirmation
):
    """The same signature is good exactly where it was made for."""
    sig = eip712.sign_confirmation(
        anchor_domain(second_anchor), confirmation, people.issuer_a.key.key
    )
    assert (
        second_anchor.checkConfirmation(confirmation.as_tuple(), sig) == conf_cast.issuer_a.address
    )
    assert _wrong_signer(anchor, registry, confirmation, sig)[1] == conf_cast.issuer_a.address


TAMPER = {
    "requestId": lambda c: {"requestId": bytes(32)},
    "requestHash": lambda c: {"requestHash": bytes(31) + b"\x01"},
    "status": lambda c: {"status": eip712.REFUSED},
    "confirmedAmount": lambda c: {"confirmedAmount": c.confirmedAmount - 1},
    "confirmedShares": lambda c: {"confirmedShares": c.confirmedShares + 1},
    "confirmedAt": lambda c: {"confirmedAt": c.confirmedAt + 1},
}


@pytest.mark.parametrize("field", TAMPER)
def test_checkConfirmation__one_field_tampered__refused_on_and_off_chain(
    anchor, registry, people, conf_cast, confirmation, field
):
    dom = anchor_domain(anchor)
    sig = eip712.sign_confirmation(dom, confirmation, people.issuer_a.key.key)
    tampered = dataclasses.replace(confirmation, **TAMPER[field](confirmation))
    assert _wrong_signer(anchor, registry, tampered, sig)[1] == conf_cast.issuer_a.address
    with pytest.raises(eip712.ConfirmationSignerMismatch):
        eip712.check_confirmation(
            dom, tampered, sig, people.sales_bank.issuer_signers(conf_cast.issuer_a.address)
        )


def test_checkConfirmation__signed_by_member_not_the_issuer__refused_naming_both(
    anchor, registry, people, conf_cast, confirmation
):
    """The sales bank's own key is a member's key, but not the named issuer's."""
    dom = anchor_domain(anchor)
    sig = eip712.sign_confirmation(dom, confirmation, people.sales_bank.key.key)
    _, expected, signer, signer_member = _wrong_signer(anchor, registry, confirmation, sig)
    assert (expected, signer, signer_member) == (
        conf_cast.issuer_a.address,
        people.sales_bank.key.address,
        conf_cast.sales_bank.address,
    )
    with pytest.raises(eip712.ConfirmationSignerMismatch):
        eip712.check_confirmation(
            dom, confirmation, sig, people.sales_bank.issuer_signers(expected)
        )


def _high_s(sig: bytes) -> bytes:
    """The malleable twin (r, N - s, flipped v): recovers the same key under plain ecrecover."""
    s = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])


MALFORMED = {
    "high s": (_high_s, r"ECDSAInvalidSignatureS:.*"),
    "64 bytes": (lambda sig: sig[:64], r"ECDSAInvalidSignatureLength: 64"),
    "v = 0": (lambda sig: sig[:64] + bytes([sig[64] - 27]), r"ECDSAInvalidSignature:?\s*"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_checkConfirmation__malleable_or_malformed_signature__refused_on_and_off_chain(
    anchor, people, conf_cast, confirmation, case
):
    dom = anchor_domain(anchor)
    good = eip712.sign_confirmation(dom, confirmation, people.issuer_a.key.key)
    assert anchor.checkConfirmation(confirmation.as_tuple(), good) == conf_cast.issuer_a.address
    make, error = MALFORMED[case]
    bad = make(good)
    with brownie.reverts(revert_pattern=error):
        anchor.checkConfirmation(confirmation.as_tuple(), bad)
    with pytest.raises(eip712.ConfirmationSignatureInvalid, match="on chain"):
        eip712.check_confirmation(
            dom, confirmation, bad, people.sales_bank.issuer_signers(conf_cast.issuer_a.address)
        )
