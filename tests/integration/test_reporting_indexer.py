"""The indexer: resume after a stop without loss or duplication; chain-restart detection."""

import pytest
from sqlalchemy import update

from consortium.reporting.indexer import Indexer, index_state, sources_from_contracts


class Stop(Exception):
    pass


@pytest.fixture
def make_indexer(web3, suite, rules, registry, tmp_path):
    def _make(name="index", chunk=4):
        return Indexer(
            web3,
            sources_from_contracts(suite, rules),
            f"sqlite:///{tmp_path / name}.sqlite",
            registry.tx.block_number,
            chunk=chunk,
        )

    return _make


def test_run__stopped_mid_range__resumes_without_loss_or_duplicates(
    make_indexer, business_day, web3
):
    full = make_indexer("full")
    full.run()
    expected = full.keys()
    assert len(expected) > 40

    idx = make_indexer("stopped", chunk=3)
    calls = []

    def stop_after_three(lo, hi):
        calls.append((lo, hi))
        if len(calls) == 3:
            raise Stop

    with pytest.raises(Stop):
        idx.run(on_chunk=stop_after_three)
    partial = idx.keys()
    assert 0 < len(partial) < len(expected)
    assert partial == expected[: len(partial)]  # what was committed is a clean prefix
    assert idx.state()["cursor_block"] == calls[-1][1]
    again = make_indexer("stopped", chunk=3)  # a new process picks up the cursor
    run = again.run()
    assert run.from_block == calls[-1][1] + 1 and run.restarted is None
    keys = again.keys()
    assert keys == expected and len(set(keys)) == len(keys)
    assert again.run().events == 0  # nothing new: nothing added
    assert again.keys() == expected


def test_run__same_range_twice__idempotent(make_indexer, business_day):
    idx = make_indexer()
    idx.run()
    first = idx.keys()
    with idx.engine.begin() as c:  # pretend the cursor was not saved after the last chunk
        c.execute(update(index_state).values(cursor_block=idx.state()["cursor_block"] - 5))
    st = idx.state()
    idx.run()
    assert idx.keys() == first
    assert idx.state()["cursor_block"] > st["cursor_block"]


def test_run__blocks_replaced_after_cursor_block__reindexes(
    make_indexer, business_day, chain, event_source, cn
):
    idx = make_indexer()
    b = cn["broker"]
    for amount in (1, 2):
        event_source.recordBill(100 + amount, 0, b.address, amount, {"from": b.account})
    idx.run()
    before = idx.count()
    chain.undo(2)  # the chain restarts below the cursor, then grows again differently
    event_source.recordBill(200, 0, b.address, 3, {"from": b.account})
    event_source.recordBill(201, 0, b.address, 4, {"from": b.account})
    run = idx.run()
    assert run.restarted and "different hash" in run.restarted
    keys = idx.keys()
    assert len(keys) == len(set(keys)) == before
    fresh = make_indexer("fresh")
    fresh.run()
    assert fresh.keys() == keys
    assert idx.state()["restarts"] == 1


def test_run__head_below_cursor__reindexes(make_indexer, business_day, chain, event_source, cn):
    idx = make_indexer()
    b = cn["broker"]
    event_source.recordBill(300, 0, b.address, 1, {"from": b.account})
    idx.run()
    chain.undo(1)
    run = idx.run()
    assert run.restarted and "below the indexed cursor" in run.restarted
    fresh = make_indexer("fresh")
    fresh.run()
    assert idx.keys() == fresh.keys()


def test_run__different_genesis__reindexes(make_indexer, business_day):
    idx = make_indexer()
    idx.run()
    n = idx.count()
    with idx.engine.begin() as c:
        c.execute(update(index_state).values(genesis_hash="0x" + "ab" * 32))
    run = idx.run()
    assert run.restarted and "genesis" in run.restarted
    assert idx.count() == n and len(set(idx.keys())) == n


def test_run__rules_add_a_source__reindexes_history(
    web3, suite, rules, registry, business_day, tmp_path
):
    url = f"sqlite:///{tmp_path / 'i.sqlite'}"
    only_registry = {"ConsortiumRegistry": suite["ConsortiumRegistry"]}
    small = Indexer(
        web3, sources_from_contracts(only_registry, rules), url, registry.tx.block_number
    )
    small.run()
    n_small = small.count()
    big = Indexer(web3, sources_from_contracts(suite, rules), url, registry.tx.block_number)
    run = big.run()
    assert run.restarted and "watched contracts" in run.restarted
    assert big.count() > n_small
