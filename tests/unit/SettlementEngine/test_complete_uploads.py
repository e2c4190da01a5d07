"""completeUploads: a first party's end of file for a cycle. Its later batches are refused by name
(a batch replayed after it is still told it is on chain); completing twice, after the close or on a
cycle not open is refused and changes nothing. Callers without a first party's role: tests/access.
"""

import brownie

from consortium.domain.clearing import ALL
from consortium.domain.hashing import code32


def _state(engine, cycle, party):
    return (
        engine.bucket(cycle, party, ALL),
        engine.clearingHash(cycle, party),
        engine.uploadsCompleted(cycle, party),
    )


def test_complete__after_two_batches__event_counts_the_partys_trades_and_the_view_says_so(
    engine, settle_cast, trades, cycle
):
    p = settle_cast.participants[0]
    p.upload(cycle, trades, batch=4)
    assert not engine.uploadsCompleted(cycle, p.address)
    tx = p.complete_uploads(cycle)
    ev = tx.events["UploadsCompleted"]
    assert (ev["cycleId"], ev["party"]) == ("0x" + cycle.hex(), p.address)
    assert ev["trades"] == len(p.mine(trades)) == engine.bucket(cycle, p.address, ALL)[0]
    assert engine.uploadsCompleted(cycle, p.address)
    assert not engine.uploadsCompleted(cycle, settle_cast.participants[1].address)  # per party
    assert p.complete_uploads(cycle) is None  # the role asks the chain first: nothing sent again


def test_complete__nothing_uploaded__completes_with_zero_trades(engine, settle_cast, cycle):
    custodian = settle_cast.custodians[0]
    assert custodian.complete_uploads(cycle).events["UploadsCompleted"]["trades"] == 0


def test_upload__after_completing__refused_by_name_a_replay_still_told_it_is_on_chain(
    engine, settle_cast, trades, cycle
):
    p = settle_cast.participants[1]
    mine = p.mine(trades)
    (tx,) = p.upload(cycle, mine[:2], batch=2)
    p.complete_uploads(cycle)
    before = _state(engine, cycle, p.address)
    with brownie.reverts(f"SettlementUploadsCompleted: {cycle!r}, {p.address.lower()}"):
        engine.uploadTrades(cycle, [t.as_tuple() for t in mine[2:4]], {"from": p.account})
    first = mine[0].trade_id
    with brownie.reverts(
        f"SettlementBatchAlreadyUploaded: {cycle!r}, {p.address.lower()}, {first!r}, 2, "
        f"{tx.block_number}"
    ):
        engine.uploadTrades(cycle, [t.as_tuple() for t in mine[:2]], {"from": p.account})
    assert _state(engine, cycle, p.address) == before


def test_complete__twice__refused_by_name(engine, settle_cast, cycle):
    p = settle_cast.participants[2]
    engine.completeUploads(cycle, {"from": p.account})
    with brownie.reverts(f"SettlementUploadsCompleted: {cycle!r}, {p.address.lower()}"):
        engine.completeUploads(cycle, {"from": p.account})
    assert engine.uploadsCompleted(cycle, p.address)


def test_complete__after_the_close_or_on_a_cycle_not_open__refused_nothing_recorded(
    engine, settle_cast, cycle
):
    p = settle_cast.participants[0]
    settle_cast.ccp.close_uploads(cycle)
    with brownie.reverts(f"SettlementUploadsClosed: {cycle!r}"):
        engine.completeUploads(cycle, {"from": p.account})
    never = code32("NEVER-OPENED")
    with brownie.reverts(revert_pattern=r"SettlementCycleNotOpen:.*"):
        engine.completeUploads(never, {"from": p.account})
    assert not engine.uploadsCompleted(cycle, p.address)
    assert not engine.uploadsCompleted(never, p.address)
