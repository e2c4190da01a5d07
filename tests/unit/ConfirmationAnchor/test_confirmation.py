"""EIP-712 confirmations: Python and contract agree on hashes; the signer must be the named issuer."""

import os

import brownie
import pytest
from brownie.test import given, strategy
from eth_account import Account
from hypothesis import HealthCheck, settings

from consortium.domain import eip712
from consortium.roles.confirmations import anchor_domain


# seven full-width values an example: hypothesis sometimes draws past its size limit while
# generating the first few (ganache's clean-clone CI, 2026-12-07: "20 examples overran while
# generating 9 valid ones"), which says nothing about the hashes
@settings(suppress_health_check=[HealthCheck.data_too_large])
@given(
    amount=strategy("uint256"),
    shares=strategy("uint256"),
    kind=strategy("uint8"),
    period=strategy("uint64"),
    at=strategy("uint64"),
    status=strategy("uint8"),
    reason=strategy("bytes32"),
)
def test_hashes__random_structs__chain_matches_python(
    anchor, conf_cast, amount, shares, kind, period, at, status, reason
):
    dom = anchor_domain(anchor)
    q = eip712.Request(
        os.urandom(32),
        conf_cast.sales_bank.address,
        conf_cast.issuer_a.address,
        os.urandom(32),
        kind,
        amount,
        shares,
        os.urandom(32),
        period,
    )
    c = eip712.Confirmation(
        q.requestId, q.struct_hash(), conf_cast.issuer_a.address, status, amount, shares, at, reason
    )
    assert anchor.requestStructHash(q.as_tuple()) == "0x" + q.struct_hash().hex()
    assert anchor.requestDigest(q.as_tuple()) == "0x" + eip712.digest(dom, q.struct_hash()).hex()
    assert (
        anchor.confirmationDigest(c.as_tuple()) == "0x" + eip712.digest(dom, c.struct_hash()).hex()
    )


def test_check__signed_by_issuer_operator_key__returns_issuer(
    anchor, people, conf_cast, make_request
):
    dom = anchor_domain(anchor)
    q = make_request(conf_cast.issuer_a)
    c = eip712.Confirmation(
        q.requestId, q.struct_hash(), conf_cast.issuer_a.address, 1, q.amount, q.shares, 7
    )
    sig = eip712.sign_confirmation(dom, c, people.issuer_a.key.key)
    assert anchor.checkConfirmation(c.as_tuple(), sig) == conf_cast.issuer_a.address
    assert eip712.check_confirmation(
        dom, c, sig, people.sales_bank.issuer_signers(conf_cast.issuer_a.address)
    )


def test_check__signed_by_another_issuer__reverts_and_raises(
    anchor, people, conf_cast, make_request
):
    dom = anchor_domain(anchor)
    q = make_request(conf_cast.issuer_a)
    c = eip712.Confirmation(
        q.requestId, q.struct_hash(), conf_cast.issuer_a.address, 1, q.amount, q.shares, 7
    )
    sig = eip712.sign_confirmation(dom, c, people.issuer_b.key.key)
    with brownie.reverts(revert_pattern=r"AnchorConfirmationWrongSigner:.*"):
        anchor.checkConfirmation(c.as_tuple(), sig)
    with pytest.raises(eip712.ConfirmationSignerMismatch, match="not one of that issuer's keys"):
        eip712.check_confirmation(
            dom, c, sig, people.sales_bank.issuer_signers(conf_cast.issuer_a.address)
        )


def test_check__stranger_key_or_altered_amount__reverts(anchor, people, conf_cast, make_request):
    dom = anchor_domain(anchor)
    q = make_request(conf_cast.issuer_a)
    c = eip712.Confirmation(
        q.requestId, q.struct_hash(), conf_cast.issuer_a.address, 1, q.amount, q.shares, 7
    )
    sig = eip712.sign_confirmation(dom, c, Account.create().key)
    with brownie.reverts(revert_pattern=r"AnchorConfirmationWrongSigner:.*"):
        anchor.checkConfirmation(c.as_tuple(), sig)
    good = eip712.sign_confirmation(dom, c, people.issuer_a.key.key)
    altered = eip712.Confirmation(*c.as_tuple()[:4], q.amount + 1, q.shares, 7)
    with brownie.reverts(revert_pattern=r"AnchorConfirmationWrongSigner:.*"):
        anchor.checkConfirmation(altered.as_tuple(), good)
