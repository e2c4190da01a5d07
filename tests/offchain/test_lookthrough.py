"""Sealed look-through records off chain: leaves, trees, sealing, opening, proving."""

import pytest
from merkle_zeppelin import MerkleTree

from consortium.domain.hashing import code32, commit
from consortium.envelope import EnvelopeMalformed, EnvelopeTampered, KeyPair, seal
from consortium.lookthrough import (
    POSITION_TYPES,
    Position,
    RecordUnproven,
    RegulatorKey,
    asset_bytes,
    merge,
    open_records,
    pack,
    position_leaf,
    prove,
    proves,
    seal_positions,
    unpack,
)

BROKER = "0x" + "ab" * 20
CYCLE = code32("SETTLE-1")


@pytest.fixture(scope="module")
def regs():
    pairs = {j: KeyPair.generate() for j in ("CN", "HK", "US")}
    keys = {
        j: RegulatorKey("0x" + f"{i + 1:040x}", p.public_key)
        for i, (j, p) in enumerate(pairs.items())
    }
    return pairs, keys


def _positions():
    return [
        Position("alice", 700, 300, "CN"),
        Position("bob", "HKD", -4_200_00, "HK"),
        Position("carol", 5, 10, "HK"),
        Position("dave", 9, 1, "SG"),  # no regulator here: in the tree, unsealed
    ]


def test_position_leaf__matches_standard_tree_leaf():
    c = commit("alice", b"\x01" * 32)
    tree = MerkleTree([(c, asset_bytes(700), 300)], list(POSITION_TYPES))
    assert position_leaf(c, 700, 300) == tree.leaves[0]
    assert asset_bytes("HKD") == code32("HKD") and asset_bytes(1) == (1).to_bytes(32, "big")


def test_seal__each_regulator_opens_exactly_its_jurisdiction(regs):
    pairs, keys = regs
    ps = _positions()
    sealed = seal_positions(BROKER, CYCLE, ps, {j: k for j, k in keys.items() if j != "US"})
    assert sealed.leaf_count == 4 and [p.investor_id for p in sealed.unsealed] == ["dave"]
    cn = open_records(BROKER, CYCLE, sealed.records, pairs["CN"].private_key)
    hk = open_records(BROKER, CYCLE, sealed.records, pairs["HK"].private_key)
    assert [r.investor_id for r in cn] == ["alice"]
    assert sorted(r.investor_id for r in hk) == ["bob", "carol"]
    assert open_records(BROKER, CYCLE, sealed.records, pairs["US"].private_key) == []
    for r, p in ((cn[0], ps[0]),):
        assert (r.commitment, r.amount, r.asset) == (p.commitment, 300, asset_bytes(700))
    assert all(proves(r, sealed.root) for r in cn + hk)


def test_prove__altered_record_or_other_root__named_error(regs):
    pairs, keys = regs
    sealed = seal_positions(BROKER, CYCLE, _positions(), keys)
    (rec,) = open_records(BROKER, CYCLE, sealed.records, pairs["CN"].private_key)
    prove(rec, sealed.root)
    forged = type(rec)(rec.asset, rec.amount + 1, rec.investor_id, rec.salt, rec.proof)
    with pytest.raises(RecordUnproven, match="amount 301"):
        prove(forged, sealed.root)
    with pytest.raises(RecordUnproven):
        prove(rec, b"\x07" * 32)


def test_open__record_moved_to_other_cycle_or_broker__does_not_open(regs):
    pairs, keys = regs
    sealed = seal_positions(BROKER, CYCLE, _positions(), keys)
    key = pairs["CN"].private_key
    for broker, cycle in ((BROKER, code32("SETTLE-2")), ("0x" + "cd" * 20, CYCLE)):
        with pytest.raises(EnvelopeTampered):
            open_records(broker, cycle, sealed.records, key)


def test_pack__roundtrip_and_garbage_refused():
    env = seal(b"x" * 50, [KeyPair.generate().public_key, KeyPair.generate().public_key], b"a")
    again = unpack(pack(env), b"a")
    assert again == env
    for bad in (b"", b"\x09" + pack(env)[1:], pack(env)[:40]):
        with pytest.raises(EnvelopeMalformed):
            unpack(bad, b"a")


def test_merge__one_position_per_investor_and_asset_zeros_dropped():
    salt = b"\x02" * 32
    ps = merge(
        [
            Position("a", 1, 5, "CN", salt),
            Position("a", 1, -2, "CN", salt),
            Position("a", 2, 3, "CN", salt),
            Position("a", 2, -3, "CN", salt),
        ]
    )
    assert [(p.asset, p.amount) for p in ps] == [(1, 3)]


def test_seal__repeated_position_or_nothing__refused(regs):
    _, keys = regs
    p = Position("a", 1, 5, "CN", b"\x03" * 32)
    with pytest.raises(ValueError, match="duplicate"):
        seal_positions(BROKER, CYCLE, [p, p], keys)
    with pytest.raises(ValueError, match="no positions"):
        seal_positions(BROKER, CYCLE, [], keys)
