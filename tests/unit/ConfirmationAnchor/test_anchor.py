"""Anchoring roots: packets per issuer and whole periods; idempotent; every record provable on and off
chain, and only under a root of its own business day."""

import os

import brownie
import pytest
from brownie.test import given, strategy

from consortium.domain import merkle

ZERO = "0x" + "00" * 20
DAY = 20_454  # 2026-01-01 as days since 1970-01-01


def PERIOD_ISSUERS(c):
    """The issuers a period root names (each with a channel to the sales bank)."""
    return [c.issuer_a.address, c.issuer_b.address]


def _records(issuer, n, period=DAY):
    return [(period, os.urandom(32), issuer, os.urandom(32)) for _ in range(n)]


def test_anchor_packet__root_stored_and_event(anchor, conf_cast, chain):
    tree = merkle.RecordTree(_records(conf_cast.issuer_a.address, 5))
    tx = anchor.anchorPacket(
        conf_cast.issuer_a.address, DAY, tree.root, 5, {"from": conf_cast.sales_bank.account}
    )
    ev = tx.events["PacketAnchored"]
    assert (ev["root"], ev["salesBank"], ev["issuer"], ev["period"], ev["count"]) == (
        "0x" + tree.root.hex(),
        conf_cast.sales_bank.address,
        conf_cast.issuer_a.address,
        DAY,
        5,
    )
    assert tuple(anchor.anchorOf(conf_cast.sales_bank.address, tree.root)) == (
        conf_cast.sales_bank.address,
        tx.timestamp,
        5,
        DAY,
    )


def test_anchor__same_root_twice__reverts_and_keeps_first(anchor, conf_cast):
    tree = merkle.RecordTree(_records(conf_cast.issuer_a.address, 3))
    anchor.anchorPacket(
        conf_cast.issuer_a.address, DAY, tree.root, 3, {"from": conf_cast.sales_bank.account}
    )
    before = anchor.anchorOf(conf_cast.sales_bank.address, tree.root)
    with brownie.reverts(
        revert_pattern=f"AnchorRootAlreadyAnchored: .*, {conf_cast.sales_bank.address.lower()}, {DAY}"
    ):
        anchor.anchorPacket(
            conf_cast.issuer_a.address, DAY, tree.root, 3, {"from": conf_cast.sales_bank.account}
        )
    with brownie.reverts(revert_pattern=r"AnchorRootAlreadyAnchored:.*"):
        anchor.anchorPeriod(
            DAY + 1, tree.root, 3, PERIOD_ISSUERS(conf_cast), {"from": conf_cast.sales_bank.account}
        )
    assert anchor.anchorOf(conf_cast.sales_bank.address, tree.root) == before


def test_anchor_packet__closed_channel__reverts_nothing_recorded(anchor, conf_cast, registry):
    registry.closeChannel(
        conf_cast.sales_bank.address,
        conf_cast.issuer_b.address,
        b"\x01" * 32,
        {"from": conf_cast.issuer_b.account},
    )
    root = b"\x33" * 32
    with brownie.reverts(
        f"RegistryChannelNotOpen: {conf_cast.sales_bank.address.lower()}, {conf_cast.issuer_b.address.lower()}"
    ):
        anchor.anchorPacket(
            conf_cast.issuer_b.address, DAY, root, 1, {"from": conf_cast.sales_bank.account}
        )
    assert anchor.anchorOf(conf_cast.sales_bank.address, root)[0] == ZERO


def test_anchor_packet__issuer_named_by_operator_address__no_channel_reverts(
    anchor, conf_cast, registry, accounts
):
    """The counterparty is named by its member address; an operator address has no channel of its own."""
    operator = accounts[19]
    registry.addOperator(operator, {"from": conf_cast.issuer_a.account})
    root = b"\x34" * 32
    with brownie.reverts(revert_pattern=r"RegistryChannelNotOpen:.*"):
        anchor.anchorPacket(operator, DAY, root, 1, {"from": conf_cast.sales_bank.account})
    assert anchor.anchorOf(conf_cast.sales_bank.address, root)[0] == ZERO


@pytest.mark.parametrize(
    "root,count,err",
    [
        (b"\0" * 32, 1, "AnchorZeroRoot: "),
        (b"\x01" * 32, 0, "AnchorCountOutOfRange: 0, 1000000"),
        (b"\x01" * 32, 1_000_001, "AnchorCountOutOfRange: 1000001, 1000000"),
    ],
)
@pytest.mark.parametrize("how", ["packet", "period"])
def test_anchor__bad_input__reverts(anchor, conf_cast, root, count, err, how):
    with brownie.reverts(err):
        if how == "packet":
            anchor.anchorPacket(
                conf_cast.issuer_a.address, DAY, root, count, {"from": conf_cast.sales_bank.account}
            )
        else:
            anchor.anchorPeriod(
                DAY, root, count, PERIOD_ISSUERS(conf_cast), {"from": conf_cast.sales_bank.account}
            )
    assert anchor.anchorOf(conf_cast.sales_bank.address, root)[0] == ZERO


def test_anchor__max_records__count_stored_exactly(anchor, conf_cast):
    root = b"\x35" * 32
    anchor.anchorPeriod(
        DAY, root, 1_000_000, PERIOD_ISSUERS(conf_cast), {"from": conf_cast.sales_bank.account}
    )
    assert (
        anchor.anchorOf(conf_cast.sales_bank.address, root)[2] == 1_000_000
    )  # the packed uint24 holds the bound


def test_anchor_period__event(anchor, conf_cast):
    tree = merkle.RecordTree(
        _records(conf_cast.issuer_a.address, 4) + _records(conf_cast.issuer_b.address, 4)
    )
    tx = anchor.anchorPeriod(
        DAY, tree.root, 8, PERIOD_ISSUERS(conf_cast), {"from": conf_cast.sales_bank.account}
    )
    ev = tx.events["PeriodAnchored"]
    assert (ev["root"], ev["salesBank"], ev["period"], ev["count"]) == (
        "0x" + tree.root.hex(),
        conf_cast.sales_bank.address,
        DAY,
        8,
    )


def test_verify__unknown_root__reverts(anchor, conf_cast):
    with brownie.reverts(revert_pattern=r"AnchorRootUnknown: .*"):
        anchor.verifyRecord(
            conf_cast.sales_bank.address,
            b"\x09" * 32,
            DAY,
            b"\x01" * 32,
            conf_cast.issuer_a.address,
            b"\x02" * 32,
            [],
        )


def test_verify__proof_longer_than_bound__reverts_at_65_answers_at_64(anchor, conf_cast):
    """The bound is checked before any hashing, on a root that is anchored: 64 siblings are still
    verified (a wrong proof: false), 65 are refused with the bound named."""
    recs = _records(conf_cast.issuer_a.address, 3)
    tree = merkle.RecordTree(recs)
    anchor.anchorPacket(
        conf_cast.issuer_a.address, DAY, tree.root, 3, {"from": conf_cast.sales_bank.account}
    )
    bank = conf_cast.sales_bank.address
    assert anchor.MAX_PROOF_LENGTH() == 64
    assert not anchor.verifyRecord(bank, tree.root, *recs[0], [b"\x07" * 32] * 64)
    proof = tree.proof(recs[0])
    with brownie.reverts("ConfirmationAnchorProofTooLong: 65, 64"):
        anchor.verifyRecord(bank, tree.root, *recs[0], proof + [b"\x07" * 32] * (65 - len(proof)))
    assert anchor.verifyRecord(bank, tree.root, *recs[0], proof)


def test_verify__tampered_record_or_wrong_proof__false_on_and_off_chain(anchor, conf_cast):
    recs = _records(conf_cast.issuer_a.address, 9)
    tree = merkle.RecordTree(recs)
    anchor.anchorPacket(
        conf_cast.issuer_a.address, DAY, tree.root, 9, {"from": conf_cast.sales_bank.account}
    )
    day, rid, who, data = recs[4]
    proof = tree.proof(recs[4])
    assert anchor.verifyRecord(conf_cast.sales_bank.address, tree.root, day, rid, who, data, proof)
    tampered = bytes([data[0] ^ 1]) + data[1:]
    assert not anchor.verifyRecord(
        conf_cast.sales_bank.address, tree.root, day, rid, who, tampered, proof
    )
    assert not merkle.verify(tree.root, (day, rid, who, tampered), proof)
    wrong = tree.proof(recs[5])
    assert not anchor.verifyRecord(
        conf_cast.sales_bank.address, tree.root, day, rid, who, data, wrong
    )
    with pytest.raises(merkle.ProofInvalid, match="does not prove"):
        merkle.require_proven(tree.root, (day, rid, who, data), wrong)
    assert not anchor.verifyRecord(
        conf_cast.sales_bank.address, tree.root, day, rid, conf_cast.issuer_b.address, data, proof
    )


def test_verify__record_claimed_for_another_day__false_on_and_off_chain(anchor, conf_cast):
    recs = _records(conf_cast.issuer_a.address, 6)
    tree = merkle.RecordTree(recs)
    anchor.anchorPeriod(
        DAY, tree.root, 6, PERIOD_ISSUERS(conf_cast), {"from": conf_cast.sales_bank.account}
    )
    day, rid, who, data = recs[2]
    proof = tree.proof(recs[2])
    assert anchor.verifyRecord(conf_cast.sales_bank.address, tree.root, day, rid, who, data, proof)
    for other in (day - 1, day + 1):
        assert not anchor.verifyRecord(
            conf_cast.sales_bank.address, tree.root, other, rid, who, data, proof
        )
        assert not merkle.verify(tree.root, (other, rid, who, data), proof)


def test_verify__same_record_anchored_under_another_day__provable_only_for_its_own_day(
    anchor, conf_cast
):
    """A bank re-anchoring yesterday's record in today's root makes it provable for today's leaf only:
    the leaf binds the day, so the old record (day D) never proves under the day D+1 root."""
    mine = _records(conf_cast.issuer_a.address, 4)
    anchor.anchorPeriod(
        DAY,
        merkle.RecordTree(mine).root,
        4,
        PERIOD_ISSUERS(conf_cast),
        {"from": conf_cast.sales_bank.account},
    )
    _, rid, who, data = mine[0]
    replay = [(DAY + 1, rid, who, data)] + _records(conf_cast.issuer_a.address, 3, DAY + 1)
    later = merkle.RecordTree(replay)
    anchor.anchorPeriod(
        DAY + 1, later.root, 4, PERIOD_ISSUERS(conf_cast), {"from": conf_cast.sales_bank.account}
    )
    proof = later.proof(replay[0])
    assert not anchor.verifyRecord(
        conf_cast.sales_bank.address, later.root, DAY, rid, who, data, proof
    )
    assert anchor.verifyRecord(
        conf_cast.sales_bank.address, later.root, DAY + 1, rid, who, data, proof
    )


@given(n=strategy("uint16", min_value=1, max_value=300), pick=strategy("uint16"))
def test_verify__every_record_provable__chain_matches_python(anchor, conf_cast, n, pick):
    recs = _records(conf_cast.issuer_a.address, n, period=DAY + n)
    tree = merkle.RecordTree(recs)
    anchor.anchorPeriod(
        DAY + n, tree.root, n, PERIOD_ISSUERS(conf_cast), {"from": conf_cast.sales_bank.account}
    )
    for rec in {recs[0], recs[-1], recs[pick % n]}:
        proof = tree.proof(rec)
        assert merkle.verify(tree.root, rec, proof)
        assert anchor.verifyRecord(conf_cast.sales_bank.address, tree.root, *rec, proof)
        assert anchor.leafOf(*rec) == "0x" + merkle.leaf_hash(rec).hex()
