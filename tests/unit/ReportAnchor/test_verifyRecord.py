"""ReportAnchor.verifyRecord and leafOf against the Python Merkle tree (merkle-zeppelin)."""

import brownie
from brownie.test import given, strategy
from hypothesis import settings

from consortium.reporting.verify import build_tree, leaf_hash, leaf_value, process_proof


@given(
    hashes=strategy("bytes32[]", min_length=1, max_length=12, unique=True), pick=strategy("uint8")
)
@settings(max_examples=30)
def test_verifyRecord__python_tree__matches_chain(
    report_anchor, reporter, regulator_cn, rules, hashes, pick
):
    day = report_anchor.today()
    version = report_anchor.latestVersion(regulator_cn.address, day) + 1
    leaves = [leaf_value(regulator_cn.address, day, rules.rules_hash, h) for h in hashes]
    tree = build_tree(leaves)
    report_anchor.anchor(
        regulator_cn.address,
        day,
        version,
        tree.root,
        rules.rules_hash,
        len(hashes),
        {"from": reporter.account},
    )
    i = pick % len(hashes)
    proof = tree.get_proofs(leaves[i])
    h = hashes[i]
    assert (
        report_anchor.leafOf(regulator_cn.address, day, rules.rules_hash, h)
        == "0x" + leaf_hash(regulator_cn.address, day, rules.rules_hash, h).hex()
    )
    assert (
        process_proof(leaf_hash(regulator_cn.address, day, rules.rules_hash, h), proof) == tree.root
    )
    assert report_anchor.verifyRecord(regulator_cn.address, day, version, h, proof)
    tampered = bytes([h[0] ^ 1]) + h[1:]
    assert not report_anchor.verifyRecord(regulator_cn.address, day, version, tampered, proof)
    assert not report_anchor.verifyRecord(regulator_cn.address, day - 1, version, h, proof)


def test_verifyRecord__unknown_anchor__false(report_anchor, regulator_cn):
    assert not report_anchor.verifyRecord(regulator_cn.address, 1, 1, b"\1" * 32, [])


def test_verifyRecord__proof_too_long__reverts(report_anchor, regulator_cn):
    with brownie.reverts("ReportAnchorProofTooLong: 65, 64"):
        report_anchor.verifyRecord(regulator_cn.address, 1, 1, b"\1" * 32, [b"\2" * 32] * 65)
