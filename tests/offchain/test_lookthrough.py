"""Sealed look-through records off chain: leaves, trees, sealing, opening, proving."""

from types import SimpleNamespace

import pytest
from merkle_zeppelin import MerkleTree

from consortium.domain.hashing import code32, commit
from consortium.domain.holding import (
    INVESTOR_TYPES,
    InvestorSet,
    Step,
    investor_leaf,
    verify_investor,
)
from consortium.domain.netting import CASH, SECURITY, currency_asset
from consortium.envelope import EnvelopeMalformed, EnvelopeTampered, KeyPair, seal
from consortium.lookthrough import (
    Position,
    Record,
    RecordNotOnHoldingChain,
    RecordUnproven,
    RegulatorKey,
    holding_sets,
    open_records,
    pack,
    prove,
    prove_held,
    proves,
    proves_held,
    seal_positions,
    unpack,
)
from consortium.roles.lookthrough import positions_from_steps

BROKER = "0x" + "ab" * 20
CYCLE = code32("SETTLE-1")
HKD = currency_asset(code32("HKD"))


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
        Position("alice", SECURITY, 700, 300, "CN"),
        Position("bob", CASH, HKD, -4_200_00, "HK"),
        Position("carol", SECURITY, 5, 10, "HK"),
        Position("erin", SECURITY, 700, -30, "HK"),
        Position("dave", SECURITY, 9, 1, "SG"),  # no regulator here: in the tree, unsealed
    ]


def test_position_leaf__is_the_holding_chains_investor_leaf():
    c = commit("alice", b"\x01" * 32)
    p = Position("alice", SECURITY, 700, 300, "CN", b"\x01" * 32)
    tree = MerkleTree([(c, 700, 300)], list(INVESTOR_TYPES))
    assert investor_leaf(*p.values()) == tree.leaves[0] == investor_leaf(c, 700, 300)
    # a currency is the engine's Leg.asset, uint256(bytes32 code): the same 32 bytes
    assert HKD.to_bytes(32, "big") == code32("HKD")


def test_seal__each_regulator_opens_exactly_its_jurisdiction(regs):
    pairs, keys = regs
    ps = _positions()
    sealed = seal_positions(BROKER, CYCLE, ps, {j: k for j, k in keys.items() if j != "US"})
    assert sealed.leaf_count == 5 and [p.investor_id for p in sealed.unsealed] == ["dave"]
    cn = open_records(BROKER, CYCLE, sealed.records, pairs["CN"].private_key)
    hk = open_records(BROKER, CYCLE, sealed.records, pairs["HK"].private_key)
    assert [r.investor_id for r in cn] == ["alice"]
    assert sorted(r.investor_id for r in hk) == ["bob", "carol", "erin"]
    assert open_records(BROKER, CYCLE, sealed.records, pairs["US"].private_key) == []
    r, p = cn[0], ps[0]
    assert (r.commitment, r.kind, r.asset, r.amount) == (p.commitment, SECURITY, 700, 300)
    assert all(proves(r, sealed.root) for r in cn + hk)


def test_seal__each_record_proves_against_its_assets_investor_root(regs):
    pairs, keys = regs
    ps = _positions()
    sealed = seal_positions(BROKER, CYCLE, ps, keys)
    sets = holding_sets(ps)
    # one investor set per (kind, asset), as HoldingChain records one per step
    assert sorted(sets) == [(SECURITY, 5), (SECURITY, 9), (SECURITY, 700), (CASH, HKD)]
    assert sets[(SECURITY, 700)].count == 2 and sets[(SECURITY, 700)].total == 270
    opened = [
        r
        for j in ("CN", "HK")
        for r in open_records(BROKER, CYCLE, sealed.records, pairs[j].private_key)
    ]
    assert len(opened) == 4
    for r in opened:
        root = sets[(r.kind, r.asset)].root
        prove_held(r, root)
        assert verify_investor(root, r.commitment, r.asset, r.amount, r.holding_proof)
        assert not proves_held(r, sets[(SECURITY, 9)].root)  # another step's root


def test_prove_held__amount_not_the_holding_chains__named_error(regs):
    pairs, keys = regs
    ps = _positions()
    held = holding_sets(ps)[(SECURITY, 700)]  # what the holding chain settled
    lying = [Position("alice", SECURITY, 700, 301, "CN", ps[0].salt), *ps[1:]]
    sealed = seal_positions(BROKER, CYCLE, lying, keys)
    (rec,) = open_records(BROKER, CYCLE, sealed.records, pairs["CN"].private_key)
    prove(rec, sealed.root)  # under the root its intermediary published: yes
    with pytest.raises(RecordNotOnHoldingChain, match="amount 301.*not what the holding chain"):
        prove_held(rec, held.root)
    with pytest.raises(RecordNotOnHoldingChain, match="allocated no investors"):
        prove_held(rec, bytes(32))
    assert issubclass(RecordNotOnHoldingChain, RecordUnproven)


def test_prove__altered_record_or_other_root__named_error(regs):
    pairs, keys = regs
    sealed = seal_positions(BROKER, CYCLE, _positions(), keys)
    (rec,) = open_records(BROKER, CYCLE, sealed.records, pairs["CN"].private_key)
    prove(rec, sealed.root)
    forged = type(rec)(rec.kind, rec.asset, rec.amount + 1, rec.investor_id, rec.salt, rec.proof)
    with pytest.raises(RecordUnproven, match="amount 301"):
        prove(forged, sealed.root)
    with pytest.raises(RecordUnproven):
        prove(rec, b"\x07" * 32)


def test_positions_from_steps__the_steps_investor_leaves_with_tickets_and_jurisdiction():
    salts = {n: bytes([i + 1]) * 32 for i, n in enumerate(("a", "b"))}
    tickets = {commit(n, s): SimpleNamespace(owner_pseudonym=n, salt=s) for n, s in salts.items()}
    ca, cb = commit("a", salts["a"]), commit("b", salts["b"])
    party = "0x" + "CD" * 20
    steps = [
        Step(party, 2, SECURITY, 7, 5, (), InvestorSet(((ca, 7, 8), (cb, 7, -3)))),
        Step(party, 2, CASH, HKD, -50, (), InvestorSet(((ca, HKD, -80), (cb, HKD, 30)))),
        Step("0x" + "ef" * 20, 1, SECURITY, 7, 0, ((party, 5),)),  # no investors: nothing
    ]
    out = positions_from_steps(steps, tickets, {party.lower(): "HK"})
    assert list(out) == [party]
    got = [(p.investor_id, p.kind, p.asset, p.amount, p.jurisdiction) for p in out[party]]
    assert got == [
        ("a", SECURITY, 7, 8, "HK"),
        ("b", SECURITY, 7, -3, "HK"),
        ("a", CASH, HKD, -80, "HK"),
        ("b", CASH, HKD, 30, "HK"),
    ]
    # grouped back per asset, they are the steps' investor sets: the roots HoldingChain keeps
    sets = holding_sets(out[party])
    assert [sets[(s.kind, s.asset)].root for s in steps[:2]] == [
        s.investors.root for s in steps[:2]
    ]
    with pytest.raises(ValueError, match="no ticket"):
        positions_from_steps(steps, {}, {party.lower(): "HK"})
    with pytest.raises(ValueError, match="no jurisdiction"):
        positions_from_steps(steps, tickets, {})


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


def test_record__packed_roundtrip_and_garbage_refused():
    rec = Record(
        CASH,
        HKD,
        -(2**200),
        "投资者-7",
        b"\x05" * 32,
        (b"\x01" * 32, b"\x02" * 32),
        (b"\x03" * 32,),
    )
    data = rec.to_bytes()
    assert Record.from_bytes(data) == rec
    # tight: head (99 bytes), three hashes and the id, nothing else
    assert len(data) == 99 + 3 * 32 + len("投资者-7".encode())
    bare = Record(SECURITY, 700, 5, "a", b"\x06" * 32, ())
    assert Record.from_bytes(bare.to_bytes()) == bare
    for bad in (b"", data[:98], data[: 99 + 64], data[:-1] + b"\xff"):
        with pytest.raises(EnvelopeMalformed, match="not a sealed look-through record"):
            Record.from_bytes(bad)


def test_seal__repeated_position_or_nothing__refused(regs):
    _, keys = regs
    p = Position("a", SECURITY, 1, 5, "CN", b"\x03" * 32)
    with pytest.raises(ValueError, match="duplicate"):
        seal_positions(BROKER, CYCLE, [p, p], keys)
    with pytest.raises(ValueError, match="no positions"):
        seal_positions(BROKER, CYCLE, [], keys)


# ------------------------------------------------------------------ parts
def _sealed(n, regs, **limits):
    ps = [Position(f"investor-{i:04d}", SECURITY, 700, i + 1, "HK") for i in range(n)]
    sealed = seal_positions(BROKER, CYCLE, ps, regs[1])
    for k, v in limits.items():
        setattr(sealed, k, v)
    return sealed


def _parts(sealed, at=None):
    first = sealed.args()
    return [(0, first[4], first[5])] + [(o, r, s) for _, o, r, s in sealed.appends(at)]


@pytest.mark.parametrize("limits", [{"part": 4}, {"part_bytes": 3_000}, {}])
def test_parts__every_record_once_in_order_within_both_limits(regs, limits):
    sealed = _sealed(23, regs, **limits)
    parts = _parts(sealed)
    assert sealed.args()[3] == 23  # the declared count: every record, not the first part's
    assert [o for o, _, _ in parts] == [
        sum(len(p[2]) for p in parts[:i]) for i in range(len(parts))
    ]
    assert [r for _, _, recs in parts for r in recs] == sealed.records
    assert [a for _, regs_, _ in parts for a in regs_] == sealed.regulators
    for _, regs_, recs in parts:
        assert 1 <= len(recs) == len(regs_) <= sealed.part
        assert sum(map(len, recs)) <= sealed.part_bytes
    if not limits:  # 23 records of ~600 bytes fit one part
        assert len(parts) == 1 and sealed.appends() == []
    else:
        assert len(parts) > 1


def test_parts__from_what_the_chain_holds__and_a_record_over_the_byte_limit_goes_alone(regs):
    sealed = _sealed(10, regs, part=4)
    assert [a[1] for a in sealed.appends()] == [4, 8]
    assert [a[1] for a in sealed.appends(6)] == [6]  # a part sealed by another run's split
    assert sealed.appends(10) == []
    alone = _sealed(3, regs, part_bytes=1)
    assert [len(r) for _, _, r in _parts(alone)] == [1, 1, 1]
