"""Stateful: a settled cycle passed down the holding chain in random order, with refused attempts.

Rules: the CSD opens the tiers (again: refused); any intermediary's planned step sent at any time
(out of sequence, re-done, before the tiers opened: refused by name as consortium.domain.holding's
twin predicts, else accepted with the twin's sequence number); a step with one client's amount off
by some units (HoldingNotConserved with expected and given); a step to a non-client.

Invariants after every step, against the twin (consortium.domain.holding.Tiers):
- every planned (party, asset) step on chain — pending, open, sequence — is the twin's, and so are
  the open steps (in all and per tier) and the next sequence number;
- nothing created or lost across tiers: per asset, what is pending at every tier plus every
  investor total recorded on chain equals the legs the CSD settled.
The teardown passes everything left down, in order, and checks nothing is pending.

Why plain `hypothesis.stateful` and why short runs are rejected: tests/stateful/machine.py.
"""

from collections import defaultdict

import brownie
from hypothesis import stateful as sf
from hypothesis import strategies as st

from consortium.domain.hashing import code32
from consortium.domain.holding import HoldingError, Tiers, plan
from tests.stateful._before_machine import ChainMachine, machine_settings, named_error, read_all

CID = code32("HOLD-STATEFUL")
pick = st.integers(min_value=0, max_value=10_000)


def _pattern(err: HoldingError) -> str:
    return named_error(err.name, *err.values)


def test_holding__random_steps__every_tier_conserves_nothing_created_or_lost(
    holding, holding_chain, holding_csd, holding_parties, settled, trades, settle_cast, chain
):
    result = settled(CID, trades)
    legs = result.legs
    steps = plan(legs, trades, holding_chain)
    keys = sorted(
        {(s.party, s.kind, s.asset) for s in steps}
        | {(g.participant, g.kind, g.asset) for g in legs}
    )
    assets = sorted({(k, a) for _, k, a in keys})
    settled_per_asset = defaultdict(int)
    for g in legs:
        settled_per_asset[(g.kind, g.asset)] += g.amount
    outsider = settle_cast.exchanges[0].address
    chain.snapshot()

    class Machine(ChainMachine):
        def __init__(self):
            super().__init__(chain)
            self.twin = Tiers(holding_chain, cycle_id=CID)

        def _send(self, s, clients):
            p = holding_parties[s.party]
            return holding.allocate(
                CID,
                s.kind,
                s.asset,
                [list(c) for c in clients],
                s.investors.as_tuple(),
                {"from": p.institution.account},
            )

        def _attempt(self, s, clients):
            try:
                seq = self.twin.allocate(s.party, s.kind, s.asset, clients, s.investors)
            except HoldingError as err:
                with brownie.reverts(revert_pattern=_pattern(err)):
                    self._send(s, clients)
                return
            assert self._send(s, clients).events["HoldingStepped"]["seq"] == seq

        @sf.rule()
        def open_tiers(self):
            try:
                self.twin.open(legs)
            except HoldingError as err:
                with brownie.reverts(revert_pattern=_pattern(err)):
                    holding_csd.open_tiers(CID, legs)
                return
            holding_csd.open_tiers(CID, legs)

        @sf.rule(i=pick)
        def step(self, i):
            s = steps[i % len(steps)]
            self._attempt(s, s.clients)

        @sf.rule(i=pick, delta=st.integers(min_value=1, max_value=1000))
        def step_not_conserving(self, i, delta):
            with_clients = [s for s in steps if s.clients]
            s = with_clients[i % len(with_clients)]
            (c, a), *rest = s.clients
            self._attempt(s, ((c, a + delta), *rest))

        @sf.rule(i=pick)
        def step_to_a_non_client(self, i):
            with_clients = [s for s in steps if s.clients]
            s = with_clients[i % len(with_clients)]
            (_, a), *rest = s.clients
            self._attempt(s, ((outsider, a), *rest))

        @sf.invariant()
        def steps_are_the_twins(self):
            calls = [(holding.stepOf, (CID, *k)) for k in keys]
            calls += [(holding.openSteps, (CID,)), (holding.cycleOf, (CID,))]
            calls += [(holding.openStepsAt, (CID, t)) for t in (1, 2, 3)]
            got = read_all(calls)
            for k, (pending, is_open, seq1) in zip(keys, got):
                want_seq = self.twin.done.get(k)
                assert pending == self.twin.pending.get(k, 0)
                assert is_open == (k in self.twin.due)
                assert seq1 == (0 if want_seq is None else want_seq + 1)
            n = len(keys)
            assert got[n] == self.twin.open_steps
            assert tuple(got[n + 1]) == (self.twin.opened, self.twin.next_seq)
            assert list(got[n + 2 :]) == [self.twin.open_at(t) for t in (1, 2, 3)]

        @sf.invariant()
        def nothing_created_or_lost(self):
            if not self.twin.opened:
                return
            calls = [(holding.pending, (CID, *k)) for k in keys]
            calls += [(holding.investorsOf, (CID, *k)) for k in keys]
            got = read_all(calls)
            held = defaultdict(int)
            for (_, kind, asset), v in zip(keys, got[: len(keys)]):
                held[(kind, asset)] += v
            for (_, kind, asset), inv in zip(keys, got[len(keys) :]):
                held[(kind, asset)] += inv[2]
            for a in assets:
                assert held[a] == settled_per_asset[a]

        def teardown(self):
            if not self.run_completed():
                return
            if not self.twin.opened:
                self.open_tiers()
            for s in steps:
                if (s.party, s.kind, s.asset) not in self.twin.done:
                    self._attempt(s, s.clients)
            assert self.twin.open_steps == 0 and holding.openSteps(CID) == 0
            self.nothing_created_or_lost()

    sf.run_state_machine_as_test(Machine, settings=machine_settings(6, 20))
