"""A publication in parts: publish carries the root and the first records, appendRecords the rest
at the next offset up to the declared count; a part resent or skipped is refused by its offset,
and a publisher killed between parts continues from the chain's sealed count."""

import brownie
import pytest

from consortium.lookthrough import seal_positions
from consortium.outbox import Outbox, key_of
from consortium.roles.lookthrough import (
    APPEND,
    PUBLISH,
    Intermediary,
    Publisher,
    complete,
    publication,
    publish_positions,
    read_sealed,
)
from consortium.store import Store
from tests.unit.SealedRecords.conftest import CYCLE, positions

PART = 2


def _sealed(broker, keys, n_cn=3, n_hk=2):
    sealed = seal_positions(broker.address, CYCLE, positions(n_cn, n_hk), keys)
    sealed.part = PART
    return sealed


def _count(tx, name):
    return len(tx.events[name]) if name in tx.events else 0


def test_parts__five_records_in_three_transactions__each_regulator_reads_all_of_its_own(
    sealed_records, broker, keys, enc, regulator_cn, regulator_hk, web3
):
    ps = positions(3, 2)
    txs = publish_positions(Intermediary(broker, sealed_records), CYCLE, ps, keys, part=PART)
    assert [_count(tx, "RecordSealed") for tx in txs] == [2, 2, 1]
    assert [_count(tx, "PositionsPublished") for tx in txs] == [1, 0, 0]
    assert txs[0].events["PositionsPublished"]["recordCount"] == 5
    root, leaves, declared, sealed, block = sealed_records.publication(broker.address, CYCLE)
    assert (leaves, declared, sealed, block) == (5, 5, 5, txs[0].block_number)
    cn = read_sealed(sealed_records, regulator_cn.address, enc["CN"], web3)
    hk = read_sealed(sealed_records, regulator_hk.address, enc["HK"], web3)
    assert sorted(o.record.investor_id for o in cn) == [f"cn-investor-{i}" for i in range(3)]
    assert sorted(o.record.investor_id for o in hk) == ["hk-investor-0", "hk-investor-1"]
    assert all(o.proven and o.root == bytes(root) for o in cn + hk)


def test_parts__first_part_only__incomplete_until_the_last_append(sealed_records, broker, keys):
    sealed = _sealed(broker, keys)
    sealed_records.publish(*sealed.args(), {"from": broker.account})
    found = publication(sealed_records, broker.address, CYCLE)
    assert found.value["records"] == 5 and found.value["sealed"] == 2 and not complete(found)
    first, last = sealed.appends()
    sealed_records.appendRecords(*first, {"from": broker.account})
    assert not complete(publication(sealed_records, broker.address, CYCLE))
    sealed_records.appendRecords(*last, {"from": broker.account})
    assert complete(publication(sealed_records, broker.address, CYCLE))


@pytest.mark.parametrize(
    "change,error",
    [
        (lambda a, b: (a[0], 4) + a[2:], r"SealedOutOfOrder: .*, 2, 4"),  # a part skipped
        (lambda a, b: (a[0], 0) + a[2:], r"SealedOutOfOrder: .*, 2, 0"),  # the first part resent
        (lambda a, b: a[:2] + (a[2] * 2, a[3] * 2), r"SealedOverDeclared: 6, 5"),
        (lambda a, b: a[:2] + ([], []), r"SealedNoRecords:.*"),
        (lambda a, b: a[:2] + (a[2][:-1], a[3]), r"SealedLengthMismatch: 1, 2"),
        (lambda a, b: a[:3] + ([a[3][0], b""],), r"SealedEmptyRecord: 1"),
    ],
)
def test_append__bad_part__named_error_and_nothing_sealed(
    sealed_records, broker, keys, change, error
):
    sealed = _sealed(broker, keys)
    sealed_records.publish(*sealed.args(), {"from": broker.account})
    first, last = sealed.appends()
    with brownie.reverts(revert_pattern=error):
        sealed_records.appendRecords(*change(first, last), {"from": broker.account})
    assert publication(sealed_records, broker.address, CYCLE).value["sealed"] == 2


def test_append__to_a_regulator_that_is_not_one__reverts(sealed_records, broker, keys):
    sealed = _sealed(broker, keys)
    sealed_records.publish(*sealed.args(), {"from": broker.account})
    cycle, offset, regs, records = sealed.appends()[0]
    with brownie.reverts(revert_pattern=rf"(?i)SealedNotRegulator: 0, {broker.address}"):
        sealed_records.appendRecords(
            cycle, offset, [broker.address, regs[1]], records, {"from": broker.account}
        )


def test_append__part_over_max__reverts(sealed_records, broker, regulator_hk):
    n = sealed_records.MAX_RECORDS() + 1
    sealed_records.publish(
        CYCLE, b"\1" * 32, 2 * n, 2 * n, [regulator_hk.address], [b"\1"], {"from": broker.account}
    )
    with brownie.reverts(revert_pattern=rf"SealedBatchTooLarge: {n}, {n - 1}"):
        sealed_records.appendRecords(
            CYCLE, 1, [regulator_hk.address] * n, [b"\1"] * n, {"from": broker.account}
        )


def test_append__nothing_published__reverts(sealed_records, broker, keys):
    cycle, offset, regs, records = _sealed(broker, keys).appends()[0]
    with brownie.reverts(revert_pattern=r"SealedNotPublished:.*"):
        sealed_records.appendRecords(cycle, offset, regs, records, {"from": broker.account})


def test_append__another_members_publication__not_reachable(
    sealed_records, broker, keys, admit, accounts, regulator_hk
):
    """A member appends to its own publication only: another's cycle is not published for it."""
    sealed = _sealed(broker, keys)
    sealed_records.publish(*sealed.args(), {"from": broker.account})
    other = admit(accounts[8], ["CUSTODIAN"], "HK", regulator=regulator_hk, name="HK custodian")
    with brownie.reverts(revert_pattern=r"SealedNotPublished:.*"):
        sealed_records.appendRecords(*sealed.appends()[0], {"from": other.account})
    assert publication(sealed_records, broker.address, CYCLE).value["sealed"] == 2


# ---------------------------------------------------------------- Publisher in parts (agents)
def _publisher(broker, sealed_records, store):
    return Publisher(
        Intermediary(broker, sealed_records),
        Outbox(store),
        lambda: {"from": broker.account},
        part=PART,
    )


def test_publisher__in_parts__publish_then_each_append_booked(sealed_records, broker, keys):
    store = Store()
    bookings = _publisher(broker, sealed_records, store).publish(CYCLE, positions(3, 2), keys)
    assert [(b.kind, b.key) for b in bookings] == [
        (PUBLISH, key_of(CYCLE, broker.address)),
        (APPEND, key_of(CYCLE, broker.address, 2)),
        (APPEND, key_of(CYCLE, broker.address, 4)),
    ]
    assert [b.value for b in bookings[1:]] == [{"sealed": 4}, {"sealed": 5}]
    assert complete(publication(sealed_records, broker.address, CYCLE))


def test_publisher__killed_between_parts__continues_from_the_chain(
    sealed_records, broker, keys, enc, regulator_cn, web3
):
    ps = positions(3, 2)
    sealed = seal_positions(broker.address, CYCLE, ps, keys)
    sealed.part = PART
    sealed_records.publish(*sealed.args(), {"from": broker.account})  # then the agent died
    bookings = _publisher(broker, sealed_records, Store()).publish(CYCLE, ps, keys)
    assert [(b.kind, b.source) for b in bookings] == [(APPEND, "receipt"), (APPEND, "receipt")]
    assert complete(publication(sealed_records, broker.address, CYCLE))
    # the records sealed afresh after the restart open and prove like the first process's
    cn = read_sealed(sealed_records, regulator_cn.address, enc["CN"], web3)
    assert sorted(o.record.investor_id for o in cn) == [f"cn-investor-{i}" for i in range(3)]
    assert all(o.proven for o in cn)
    head = web3.eth.block_number
    assert _publisher(broker, sealed_records, Store()).publish(CYCLE, ps, keys) == []
    assert web3.eth.block_number == head


def test_publisher__part_mined_before_its_booking__resume_books_it_from_the_chain(
    sealed_records, broker, keys, web3
):
    store = Store()
    _publisher(broker, sealed_records, store).publish(CYCLE, positions(3, 2), keys)
    key = key_of(CYCLE, broker.address, 2)
    store.intend(APPEND, key, store.intent(APPEND, key)["args"])  # the booking never written
    head = web3.eth.block_number
    (booking,) = _publisher(broker, sealed_records, store).outbox.resume()
    assert (booking.kind, booking.source, booking.value) == (APPEND, "chain", {"sealed": 4})
    assert web3.eth.block_number == head
