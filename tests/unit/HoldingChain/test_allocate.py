"""openTiers and allocate: the settled legs go down the chain tier by tier, each step conserving;
every refusal named and changing nothing."""

import brownie
import pytest

from consortium import chain as project_chain
from consortium.domain.hashing import code32
from consortium.domain.holding import Tiers, plan, verify_investor
from consortium.domain.netting import Leg
from consortium.roles.holding import run_down
from tests.stateful.machine import named_error

CID = code32("HOLD-1")


@pytest.fixture(scope="module")
def cycle(settled, trades, holding_chain):
    """A settled cycle, its legs and the plan of its steps, settled once for the module.

    brownie may take the first test's isolation snapshot before this fixture runs; the snapshot
    taken here replaces it, so every test (the first too) reverts to the settled cycle."""
    result = settled(CID, trades)
    brownie.chain.snapshot()
    return result.legs, plan(result.legs, trades, holding_chain)


def _send(parties, s, **kw):
    fields = {"clients": s.clients, "investors": s.investors} | kw
    return parties[s.party].holding.allocate(
        CID,
        s.kind,
        s.asset,
        [list(c) for c in fields["clients"]],
        fields["investors"].as_tuple(),
        {"from": parties[s.party].institution.account},
    )


def _state(holding, steps):
    return [tuple(holding.stepOf(CID, s.party, s.kind, s.asset)) for s in steps] + [
        holding.openSteps(CID),
        tuple(holding.cycleOf(CID)),
    ]


def test_run_down__every_step_conserves_and_nothing_pending_at_the_end(
    holding, holding_chain, holding_csd, holding_parties, cycle, trades
):
    legs, _ = cycle
    steps, txs = run_down(CID, legs, trades, holding_chain, holding_csd, holding_parties)
    opened = txs[0].events["TiersOpened"]
    assert opened["legCount"] == len(legs) and opened["openedBy"] == holding_csd.institution.address
    assert {1, 2, 3} <= {s.tier for s in steps}
    seqs = [tx.events["HoldingStepped"]["seq"] for tx in txs[1:]]
    assert seqs == list(range(len(legs), len(legs) + len(steps)))
    for s, tx in zip(steps, txs[1:]):
        ev = tx.events["HoldingStepped"]
        assert (ev["party"], ev["tier"], ev["received"]) == (s.party, s.tier, s.received)
        allocated = list(tx.events["HoldingAllocated"]) if "HoldingAllocated" in tx.events else []
        assert [(e["client"], e["amount"]) for e in allocated] == list(s.clients)
    assert "TiersCompleted" in txs[-1].events
    assert txs[-1].events["TiersCompleted"]["steps"] == len(steps)
    assert holding.openSteps(CID) == 0
    for s in steps:
        assert holding.pending(CID, s.party, s.kind, s.asset) == 0
    # every leg equals what its investors end with, asset by asset
    for g in legs:  # each leg equals what its participant's subtree's investors end with
        below = [s for s in steps if (s.kind, s.asset) == (g.kind, g.asset)]
        assert sum(s.investors.total for s in below) == sum(
            x.amount for x in legs if (x.kind, x.asset) == (g.kind, g.asset)
        )
    for s in steps:
        if s.investors.count:
            root, count, total = holding.investorsOf(CID, s.party, s.kind, s.asset)
            assert (bytes(root), count, total) == s.investors.as_tuple()


def test_verify_investor__leaf_proves_and_a_changed_amount_does_not(
    holding, holding_chain, holding_csd, holding_parties, cycle, trades
):
    legs, _ = cycle
    steps, _ = run_down(CID, legs, trades, holding_chain, holding_csd, holding_parties)
    s = next(x for x in steps if x.investors.count >= 2)
    commitment, asset, amount = s.investors.leaves[0]
    proof = s.investors.proof(commitment, amount)
    assert verify_investor(s.investors.root, commitment, asset, amount, proof)
    assert holding.verifyInvestor(CID, s.party, s.kind, s.asset, commitment, amount, proof)
    assert not holding.verifyInvestor(CID, s.party, s.kind, s.asset, commitment, amount + 1, proof)
    assert not holding.verifyInvestor(CID, s.party, 1 - s.kind, s.asset, commitment, amount, proof)


def test_open_tiers__before_settlement__reverts(holding, holding_csd, prepare, trades):
    unsettled = code32("HOLD-UNSETTLED")  # not the module's settled cycle
    result = prepare(unsettled, trades)
    with brownie.reverts(revert_pattern=named_error("HoldingCycleNotSettled", unsettled, 1)):
        holding_csd.open_tiers(unsettled, result.legs)
    assert tuple(holding.cycleOf(unsettled)) == (False, 0)


def test_open_tiers__other_legs_or_twice__reverts(holding, holding_csd, cycle):
    legs, _ = cycle
    other = [Leg(g.participant, g.kind, g.asset, g.amount) for g in legs[::-1]]
    with brownie.reverts(revert_pattern=r"HoldingLegsMismatch:.*"):
        holding_csd.open_tiers(CID, other)
    holding_csd.open_tiers(CID, legs)
    with brownie.reverts(revert_pattern=named_error("HoldingTiersAlreadyOpen", CID)):
        holding_csd.open_tiers(CID, legs)
    assert holding.openSteps(CID) == len(legs)


def test_open_tiers__participant_not_top_tier__reverts(
    settlement_suite, registry, registry_admin, holding_csd, settle_cast, cycle
):
    legs, _ = cycle
    fresh = project_chain.project().HoldingChain.deploy(
        registry, settlement_suite["SettlementEngine"], {"from": registry_admin}
    )
    first = sorted({g.participant for g in legs})
    for p in first[1:]:
        fresh.setHolder(p, 1, True, {"from": registry_admin})
    fresh.setHolder(first[0], 2, True, {"from": registry_admin})
    with brownie.reverts(revert_pattern=r"HoldingNotTopTier:.*"):
        fresh.openTiers(
            CID, [g.as_tuple() for g in legs], {"from": holding_csd.institution.account}
        )
    assert fresh.openSteps(CID) == 0


def test_allocate__not_conserved__reverts_with_expected_and_given(
    holding, holding_csd, holding_parties, cycle
):
    legs, steps = cycle
    holding_csd.open_tiers(CID, legs)
    s = next(x for x in steps if x.tier == 1 and x.clients)
    short = ((s.clients[0][0], s.clients[0][1] + 1),) + s.clients[1:]
    before = _state(holding, steps)
    given = s.received + 1
    with brownie.reverts(
        revert_pattern=named_error(
            "HoldingNotConserved", CID, s.party, s.kind, s.asset, s.received, given
        )
    ):
        _send(holding_parties, s, clients=short)
    assert _state(holding, steps) == before


def test_allocate__to_a_non_client__reverts(
    holding, holding_csd, holding_parties, cycle, settle_cast
):
    legs, steps = cycle
    holding_csd.open_tiers(CID, legs)
    s = next(x for x in steps if x.tier == 1 and x.clients)
    stranger = settle_cast.exchanges[0].address
    bad = ((stranger, s.clients[0][1]),) + s.clients[1:]
    before = _state(holding, steps)
    with brownie.reverts(revert_pattern=named_error("HoldingNotClient", CID, s.party, stranger)):
        _send(holding_parties, s, clients=bad)
    # a participant is not its peer's client either
    peer = next(p for p in holding_parties if holding.holderOf(p)[0] == 1 and p != s.party)
    with brownie.reverts(revert_pattern=named_error("HoldingNotClient", CID, s.party, peer)):
        _send(holding_parties, s, clients=((peer, s.clients[0][1]),) + s.clients[1:])
    assert _state(holding, steps) == before


def test_allocate__out_of_sequence__reverts(holding, holding_csd, holding_parties, cycle):
    legs, steps = cycle
    holding_csd.open_tiers(CID, legs)
    for s in [x for x in steps if x.tier == 1][:-1]:
        _send(holding_parties, s)
    lower = next(x for x in steps if x.tier == 2)
    open_top = holding.openStepsAt(CID, 1)
    before = _state(holding, steps)
    with brownie.reverts(
        revert_pattern=named_error("HoldingOutOfSequence", CID, lower.party, 2, 1, open_top)
    ):
        _send(holding_parties, lower)
    assert _state(holding, steps) == before


def test_allocate__redone__reverts(holding, holding_csd, holding_parties, cycle):
    legs, steps = cycle
    holding_csd.open_tiers(CID, legs)
    s = steps[0]
    seq = _send(holding_parties, s).events["HoldingStepped"]["seq"]
    before = _state(holding, steps)
    with brownie.reverts(
        revert_pattern=named_error("HoldingStepAlreadyDone", CID, s.party, s.kind, s.asset, seq)
    ):
        _send(holding_parties, s)
    assert _state(holding, steps) == before


def test_allocate__bad_shapes__revert(holding, holding_csd, holding_parties, cycle):
    legs, steps = cycle
    holding_csd.open_tiers(CID, legs)
    s = next(x for x in steps if x.tier == 1 and len(x.clients) >= 1)
    c, a = s.clients[0]
    before = _state(holding, steps)
    with brownie.reverts(revert_pattern=named_error("HoldingZeroAllocation", 1)):
        _send(holding_parties, s, clients=s.clients[:1] + ((c, 0),))
    with brownie.reverts(revert_pattern=named_error("HoldingDuplicateClient", 1, c)):
        _send(holding_parties, s, clients=((c, 1), (c, a - 1)) + s.clients[1:])
    assert _state(holding, steps) == before


def test_allocate__malformed_investor_set__reverts(holding, holding_csd, holding_parties, cycle):
    legs, steps = cycle
    holding_csd.open_tiers(CID, legs)
    s = next(x for x in steps if x.tier == 1)
    p = holding_parties[s.party]
    before = _state(holding, steps)
    for inv in ((b"\0" * 32, 1, s.received), (b"\1" * 32, 0, 0), (b"\0" * 32, 0, 5)):
        with brownie.reverts(revert_pattern=r"HoldingBadInvestorSet:.*"):
            holding.allocate(CID, s.kind, s.asset, [], inv, {"from": p.institution.account})
    assert _state(holding, steps) == before


def test_allocate__nothing_received_nothing_passed__reverts(
    holding, holding_csd, holding_parties, cycle
):
    legs, steps = cycle
    holding_csd.open_tiers(CID, legs)
    s = next(x for x in steps if x.tier == 1)
    p = holding_parties[s.party]
    with brownie.reverts(
        revert_pattern=named_error("HoldingNothingPending", CID, s.party, s.kind, 12345)
    ):
        holding.allocate(
            CID, s.kind, 12345, [], (b"\0" * 32, 0, 0), {"from": p.institution.account}
        )


def test_allocate__tiers_not_open_or_caller_not_intermediary__reverts(
    holding, holding_parties, settle_cast, cycle
):
    _, steps = cycle
    s = steps[0]
    with brownie.reverts(revert_pattern=named_error("HoldingTiersNotOpen", CID)):
        _send(holding_parties, s)
    ccp = settle_cast.ccp
    with brownie.reverts(revert_pattern=named_error("HoldingNotIntermediary", ccp.address)):
        holding.allocate(CID, 0, 1, [], (b"\0" * 32, 0, 0), {"from": ccp.account})


def test_twin__agrees_with_the_chain_step_by_step(
    holding, holding_chain, holding_csd, holding_parties, cycle
):
    legs, steps = cycle
    twin = Tiers(holding_chain, cycle_id=CID)
    twin.open(legs)
    holding_csd.open_tiers(CID, legs)
    for s in steps:
        seq = twin.allocate(s.party, s.kind, s.asset, s.clients, s.investors)
        assert _send(holding_parties, s).events["HoldingStepped"]["seq"] == seq
        assert holding.openSteps(CID) == twin.open_steps
    assert twin.open_steps == 0 and all(v == 0 for v in twin.held().values())
