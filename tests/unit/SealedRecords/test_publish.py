"""SealedRecords.publish and the regulators' look-through: each opens exactly its own records."""

import brownie
import pytest

from consortium.domain.hashing import code32
from consortium.domain.holding import investor_leaf
from consortium.envelope import EnvelopeTampered, NotARecipient
from consortium.lookthrough import (
    open_record,
    open_records,
    proves,
    seal_positions,
)
from consortium.outbox import Outbox, OutboxConflict, jsonable, key_of
from consortium.roles.lookthrough import (
    PUBLISH,
    Intermediary,
    Publisher,
    publication,
    publish_positions,
    read_sealed,
)
from consortium.store import Store
from tests.unit.SealedRecords.conftest import CYCLE, positions


def _events(tx, name):
    return list(tx.events[name]) if name in tx.events else []


def test_publish__member_for_itself__root_stored_and_only_ciphertext_emitted(
    sealed_records, broker, keys
):
    ps = positions()
    (tx,) = publish_positions(Intermediary(broker, sealed_records), CYCLE, ps, keys)
    ev = tx.events["PositionsPublished"]
    sealed = seal_positions(broker.address, CYCLE, ps, keys)
    assert ev["intermediary"] == broker.address
    assert ev["root"] == "0x" + sealed.root.hex()
    assert (ev["leafCount"], ev["recordCount"]) == (4, 4)
    pub = sealed_records.publication(broker.address, CYCLE)
    assert tuple(pub) == ("0x" + sealed.root.hex(), 4, 4, 4, tx.block_number)
    records = _events(tx, "RecordSealed")
    assert [r["regulator"] for r in records] == [keys[p.jurisdiction].address for p in ps]
    for r, p in zip(records, ps):  # no investor id, no amount in clear
        data = bytes(r["sealedRecord"])
        assert p.investor_id.encode() not in data and p.commitment not in data


def test_regulators__each_opens_exactly_its_own_jurisdiction_on_chain(
    enc, sealed_records, broker, keys, regulator_cn, regulator_hk, web3
):
    ps = positions()
    publish_positions(Intermediary(broker, sealed_records), CYCLE, ps, keys)
    cn = read_sealed(sealed_records, regulator_cn.address, enc["CN"], web3)
    hk = read_sealed(sealed_records, regulator_hk.address, enc["HK"], web3)
    assert sorted(o.record.investor_id for o in cn) == ["cn-investor-0", "cn-investor-1"]
    assert sorted(o.record.investor_id for o in hk) == ["hk-investor-0", "hk-investor-1"]
    assert all(o.proven for o in cn + hk)
    # the other way round: a regulator's key reads nothing of the other's events
    assert read_sealed(sealed_records, regulator_hk.address, enc["CN"], web3) == []
    assert read_sealed(sealed_records, regulator_cn.address, enc["HK"], web3) == []


def test_regulators__other_key_opens_nothing_off_chain(
    enc, broker, keys, regulator_cn, regulator_hk
):
    sealed = seal_positions(broker.address, CYCLE, positions(), keys)
    cn_records = [r for r, a in zip(sealed.records, sealed.regulators) if a == regulator_cn.address]
    hk_records = [r for r, a in zip(sealed.records, sealed.regulators) if a == regulator_hk.address]
    cn_key, hk_key = enc["CN"], enc["HK"]
    assert len(open_records(broker.address, CYCLE, cn_records, cn_key)) == 2
    assert open_records(broker.address, CYCLE, cn_records, hk_key) == []
    assert open_records(broker.address, CYCLE, hk_records, cn_key) == []
    with pytest.raises(NotARecipient):
        open_record(broker.address, CYCLE, hk_records[0], cn_key)
    # moved to another cycle or intermediary: it does not open, even for its own regulator
    with pytest.raises(EnvelopeTampered):
        open_record(broker.address, code32("other"), hk_records[0], hk_key)


def test_verify_position__opened_record_proves_and_altered_does_not(
    enc, sealed_records, broker, keys, regulator_hk
):
    ps = positions()
    publish_positions(Intermediary(broker, sealed_records), CYCLE, ps, keys)
    sealed = seal_positions(broker.address, CYCLE, ps, keys)  # same tree, fresh envelopes
    rec = open_record(broker.address, CYCLE, sealed.records[-1], enc["HK"])
    args = (broker.address, CYCLE, rec.commitment, rec.asset)
    assert sealed_records.verifyPosition(*args, rec.amount, rec.proof)
    assert not sealed_records.verifyPosition(*args, rec.amount + 1, rec.proof)
    assert not sealed_records.verifyPosition(
        broker.address, code32("x"), *args[2:], rec.amount, rec.proof
    )
    assert sealed_records.positionLeaf(rec.commitment, rec.asset, rec.amount) == "0x" + (
        investor_leaf(rec.commitment, rec.asset, rec.amount).hex()
    )
    assert proves(rec, sealed.root)


def test_publish__twice_same_cycle__reverts_and_keeps_first(sealed_records, broker, keys):
    inter = Intermediary(broker, sealed_records)
    (first,) = publish_positions(inter, CYCLE, positions(), keys)
    root = sealed_records.publication(broker.address, CYCLE)[0]
    with brownie.reverts(revert_pattern=r"SealedAlreadyPublished:.*"):
        publish_positions(inter, CYCLE, positions(1, 1), keys)
    assert sealed_records.publication(broker.address, CYCLE)[0] == root
    assert first.block_number == sealed_records.publication(broker.address, CYCLE)[4]


@pytest.mark.parametrize(
    "change,error",
    [
        (lambda a: (code32(""),) + a[1:], r"SealedZeroCycle:.*"),
        (lambda a: (a[0], b"\0" * 32) + a[2:], r"SealedZeroRoot:.*"),
        (lambda a: a[:2] + (0,) + a[3:], r"SealedZeroLeaves:.*"),
        (lambda a: a[:4] + (a[4][:-1], a[5]), r"SealedLengthMismatch: 3, 4"),
        (lambda a: a[:2] + (3,) + a[3:], r"SealedTooManyRecords: 4, 3"),
        (lambda a: a[:3] + (3,) + a[4:], r"SealedOverDeclared: 4, 3"),
        (lambda a: a[:5] + ([*a[5][:-1], b""],), r"SealedEmptyRecord: 3"),
    ],
)
def test_publish__bad_input__named_error_and_nothing_stored(
    sealed_records, broker, keys, change, error
):
    args = change(seal_positions(broker.address, CYCLE, positions(), keys).args())
    with brownie.reverts(revert_pattern=error):
        sealed_records.publish(*args, {"from": broker.account})
    with brownie.reverts(revert_pattern=r"SealedNotPublished:.*"):
        sealed_records.publication(broker.address, CYCLE)


def test_publish__record_to_a_non_regulator__reverts(sealed_records, broker, keys):
    args = seal_positions(broker.address, CYCLE, positions(), keys).args()
    regs = [*args[4][:-1], broker.address]
    with brownie.reverts(revert_pattern=rf"(?i)SealedNotRegulator: 3, {broker.address}"):
        sealed_records.publish(*args[:4], regs, args[5], {"from": broker.account})


def test_publish__batch_over_max__reverts(sealed_records, broker, regulator_hk):
    n = sealed_records.MAX_RECORDS() + 1
    with brownie.reverts(revert_pattern=rf"SealedBatchTooLarge: {n}, {n - 1}"):
        sealed_records.publish(
            CYCLE,
            b"\1" * 32,
            n,
            n,
            [regulator_hk.address] * n,
            [b"\1"] * n,
            {"from": broker.account},
        )


def test_verify_position__proof_too_long__reverts(sealed_records, broker):
    with brownie.reverts(revert_pattern=r"SealedProofTooLong: 65, 64"):
        sealed_records.verifyPosition(broker.address, CYCLE, b"\1" * 32, 1, 1, [b"\1" * 32] * 65)


def test_publish__stranger__reverts(sealed_records, stranger, keys, broker):
    args = seal_positions(broker.address, CYCLE, positions(), keys).args()
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        sealed_records.publish(*args, {"from": stranger})


# ---------------------------------------------------------------- Publisher: once per cycle (agents)
def _publisher(broker, sealed_records, store):
    return Publisher(
        Intermediary(broker, sealed_records), Outbox(store), lambda: {"from": broker.account}
    )


def test_publisher__publishes_once__again_or_from_a_store_that_lost_it__sends_nothing(
    sealed_records, broker, keys, web3
):
    ps, store = positions(), Store()
    assert publication(sealed_records, broker.address, CYCLE) is None
    (booking,) = _publisher(broker, sealed_records, store).publish(CYCLE, ps, keys)
    sealed = seal_positions(broker.address, CYCLE, ps, keys)
    assert booking.source == "receipt" and booking.value == {
        "root": "0x" + sealed.root.hex(),
        "records": 4,
    }
    found = publication(sealed_records, broker.address, CYCLE)
    assert found.value == {**booking.value, "sealed": 4}
    assert found.block == booking.tx.block_number
    head = web3.eth.block_number
    assert _publisher(broker, sealed_records, store).publish(CYCLE, ps, keys) == []
    assert _publisher(broker, sealed_records, Store()).publish(CYCLE, ps, keys) == []
    assert web3.eth.block_number == head


def test_publisher__killed_after_mining_before_booking__resume_books_it_from_the_chain(
    sealed_records, broker, keys, web3
):
    ps, store = positions(), Store()
    _publisher(broker, sealed_records, store).publish(CYCLE, ps, keys)
    key = key_of(CYCLE, broker.address)
    store.intend(PUBLISH, key, store.intent(PUBLISH, key)["args"])  # the booking never written
    head = web3.eth.block_number
    (booking,) = _publisher(broker, sealed_records, store).outbox.resume()
    assert booking.source == "chain" and store.intent(PUBLISH, key)["status"] == "booked"
    assert web3.eth.block_number == head


def test_publisher__chain_holds_another_root__conflict_named_nothing_sent(
    sealed_records, broker, keys, web3
):
    store = Store()
    publish_positions(Intermediary(broker, sealed_records), CYCLE, positions(), keys)
    other = seal_positions(broker.address, CYCLE, positions(), keys)  # fresh salts: another root
    key = key_of(CYCLE, broker.address)
    store.intend(PUBLISH, key, jsonable([*other.args(), broker.address]))
    head = web3.eth.block_number
    with pytest.raises(OutboxConflict, match="published another root"):
        _publisher(broker, sealed_records, store).outbox.resume()
    assert web3.eth.block_number == head
