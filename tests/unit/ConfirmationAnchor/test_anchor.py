"""Anchoring roots: packets per issuer and whole periods; idempotent; every record provable on and off chain."""

import os

import brownie
import pytest
from brownie.test import given, strategy

from consortium.domain import merkle


ZERO = "0x" + "00" * 20


def _records(issuer, n):
    return [(os.urandom(32), issuer, os.urandom(32)) for _ in range(n)]


def test_anchor_packet__root_stored_and_event(anchor, conf_cast, chain):
    tree = merkle.RecordTree(_records(conf_cast.issuer_a.address, 5))
    tx = anchor.anchorPacket(conf_cast.issuer_a.address, tree.root, 5, {"from": conf_cast.sales_bank.account})
    ev = tx.events["PacketAnchored"]
    assert (ev["root"], ev["salesBank"], ev["issuer"], ev["count"]) == (
        "0x" + tree.root.hex(), conf_cast.sales_bank.address, conf_cast.issuer_a.address, 5)
    a = anchor.anchorOf(tree.root)
    assert (a[0], a[1], a[2]) == (conf_cast.sales_bank.address, tx.timestamp, 5)


def test_anchor__same_root_twice__reverts_and_keeps_first(anchor, conf_cast):
    tree = merkle.RecordTree(_records(conf_cast.issuer_a.address, 3))
    anchor.anchorPacket(conf_cast.issuer_a.address, tree.root, 3, {"from": conf_cast.sales_bank.account})
    before = anchor.anchorOf(tree.root)
    with brownie.reverts(revert_pattern=r"AnchorRootAlreadyAnchored:.*"):
        anchor.anchorPacket(conf_cast.issuer_a.address, tree.root, 3, {"from": conf_cast.sales_bank.account})
    with brownie.reverts(revert_pattern=r"AnchorRootAlreadyAnchored:.*"):
        anchor.anchorPeriod(1, tree.root, 3, {"from": conf_cast.sales_bank.account})
    assert anchor.anchorOf(tree.root) == before


def test_anchor_packet__closed_channel__reverts_nothing_recorded(anchor, conf_cast, registry):
    registry.closeChannel(conf_cast.sales_bank.address, conf_cast.issuer_b.address, b"\x01" * 32, {"from": conf_cast.issuer_b.account})
    root = b"\x33" * 32
    with brownie.reverts(revert_pattern=r"ManagedChannelClosed:.*"):
        anchor.anchorPacket(conf_cast.issuer_b.address, root, 1, {"from": conf_cast.sales_bank.account})
    assert anchor.anchorOf(root)[0] == ZERO


@pytest.mark.parametrize("root,count,err", [
    (b"\0" * 32, 1, r"AnchorZeroRoot.*"),
    (b"\x01" * 32, 0, r"AnchorCountOutOfRange:.*"),
    (b"\x01" * 32, 1_000_001, r"AnchorCountOutOfRange:.*"),
])
def test_anchor__bad_input__reverts(anchor, conf_cast, root, count, err):
    with brownie.reverts(revert_pattern=err):
        anchor.anchorPeriod(1, root, count, {"from": conf_cast.sales_bank.account})
    assert anchor.anchorOf(root)[0] == ZERO


def test_anchor_period__event(anchor, conf_cast):
    tree = merkle.RecordTree(_records(conf_cast.issuer_a.address, 4) + _records(conf_cast.issuer_b.address, 4))
    tx = anchor.anchorPeriod(20260101, tree.root, 8, {"from": conf_cast.sales_bank.account})
    assert tx.events["PeriodAnchored"]["period"] == 20260101
    assert tx.events["PeriodAnchored"]["count"] == 8


def test_verify__unknown_root__reverts(anchor, conf_cast):
    with brownie.reverts(revert_pattern=r"AnchorRootUnknown:.*"):
        anchor.verifyRecord(b"\x09" * 32, b"\x01" * 32, conf_cast.issuer_a.address, b"\x02" * 32, [])


def test_verify__tampered_record_or_wrong_proof__false_on_and_off_chain(anchor, conf_cast):
    recs = _records(conf_cast.issuer_a.address, 9)
    tree = merkle.RecordTree(recs)
    anchor.anchorPacket(conf_cast.issuer_a.address, tree.root, 9, {"from": conf_cast.sales_bank.account})
    rid, who, data = recs[4]
    proof = tree.proof(recs[4])
    assert anchor.verifyRecord(tree.root, rid, who, data, proof)
    tampered = bytes([data[0] ^ 1]) + data[1:]
    assert not anchor.verifyRecord(tree.root, rid, who, tampered, proof)
    assert not merkle.verify(tree.root, (rid, who, tampered), proof)
    wrong = tree.proof(recs[5])
    assert not anchor.verifyRecord(tree.root, rid, who, data, wrong)
    with pytest.raises(merkle.ProofInvalid, match="does not prove"):
        merkle.require_proven(tree.root, (rid, who, data), wrong)
    assert not anchor.verifyRecord(tree.root, rid, conf_cast.issuer_b.address, data, proof)


@given(n=strategy("uint16", min_value=1, max_value=300), pick=strategy("uint16"))
def test_verify__every_record_provable__chain_matches_python(anchor, conf_cast, n, pick):
    recs = _records(conf_cast.issuer_a.address, n)
    tree = merkle.RecordTree(recs)
    anchor.anchorPeriod(n, tree.root, n, {"from": conf_cast.sales_bank.account})
    for rec in {recs[0], recs[-1], recs[pick % n]}:
        proof = tree.proof(rec)
        assert merkle.verify(tree.root, rec, proof)
        assert anchor.verifyRecord(tree.root, *rec, proof)
        assert anchor.leafOf(*rec) == "0x" + merkle.leaf_hash(rec).hex()
