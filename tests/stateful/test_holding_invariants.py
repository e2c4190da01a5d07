"""Stateful: a settled cycle passed down the holding chain in random order, with refused attempts.

Rules: the CSD opens the tiers (again, once a run: refused); any intermediary's planned step sent at any time
(out of sequence, re-done, before the tiers opened: refused by name as consortium.domain.holding's
twin predicts, else accepted with the twin's sequence number); a step with one client's amount off
by some units (HoldingNotConserved with expected and given); a step to a non-client.

Invariants after every step, against the twin (consortium.domain.holding.Tiers), in one batch of
calls (tests/stateful/machine.HoldingRun, shared with the settlement machine):
- every planned (party, asset) step on chain — pending, open, sequence, investor set — is the
  twin's, and so are the open steps (in all and per tier) and the next sequence number; a refused
  attempt leaves the twin, hence the chain, unchanged;
- nothing created or lost across tiers: per asset, what is pending at every tier plus every
  investor total recorded on chain equals the legs the CSD settled.
The teardown passes everything left down, in order, checks nothing is pending and that every
investor holds, per asset, exactly the net of its trades.

Why plain `hypothesis.stateful` and why short runs are rejected: tests/stateful/machine.py.
"""

from hypothesis import stateful as sf
from hypothesis import strategies as st

from consortium.domain.clearing import BUY, SELL, Trade, trade_id
from consortium.domain.hashing import code32, doc_hash
from consortium.scenarios import settlement as day
from tests.stateful.machine import ChainMachine, HoldingRun, machine_settings

CID = code32("HOLD-STATEFUL")
pick = st.integers(min_value=0, max_value=10_000)


def test_holding__random_steps__every_tier_conserves_nothing_created_or_lost(
    holding,
    holding_chain,
    holding_csd,
    holding_parties,
    settled,
    trades,
    settle_cast,
    unique_txs,
    chain,
):
    legs = settled(CID, trades).legs
    outsider = settle_cast.exchanges[0].address
    chain.snapshot()

    class Machine(ChainMachine):
        def __init__(self):
            super().__init__(chain)
            unique_txs()
            self.reopened = False
            self.run = HoldingRun(
                holding, holding_chain, CID, legs, trades, holding_parties, holding_csd
            )

        @sf.precondition(lambda self: not self.reopened)
        @sf.rule()
        def open_tiers(self):
            """Once open, opening again is refused (tried once a run: each refusal costs a trace)."""
            self.reopened = self.run.twin.opened
            self.run.open()

        @sf.rule(i=pick)
        def step(self, i):
            s = self.run.steps[i % len(self.run.steps)]
            self.run.attempt(s, s.clients)

        @sf.rule(i=pick, delta=st.integers(min_value=1, max_value=1000))
        def step_not_conserving(self, i, delta):
            s = self.run.with_clients[i % len(self.run.with_clients)]
            self.run.attempt(s, self.run.not_conserving(s, 0, delta))

        @sf.rule(i=pick)
        def step_to_a_non_client(self, i):
            s = self.run.with_clients[i % len(self.run.with_clients)]
            (_, a), *rest = s.clients
            self.run.attempt(s, ((outsider, a), *rest))

        @sf.invariant()
        def steps_are_the_twins_nothing_created_or_lost(self):
            self.run.check_chain()

        def teardown(self):
            if not self.run_completed():
                return
            self.run.finish()

    sf.run_state_machine_as_test(Machine, settings=machine_settings(6, 20))


def test_plan__custodian_receipts_cancel__its_clients_investors_still_recorded(
    holding, holding_chain, holding_csd, holding_parties, settled, settle_cast
):
    """One execution between two participants whose sides both go through the same custodian and
    local broker: the custodian gets +400 and -400 and passes nothing down; the local broker's
    investors (+400 for the buyer's owner, -400 for the seller's) must still be recorded."""
    c = settle_cast
    sid = min(day.SECURITIES)
    _, ccy, price = day.SECURITIES[sid]
    trades = [
        Trade(
            trade_id(n),
            sid,
            code32(ccy),
            side,
            400,
            price,
            day.TRADE_DATE,
            doc_hash(f"owner {n}"),
            c.locals[0].address,
            p.address,
            c.custodians[0].address,
            c.exchanges[0].address,
        )
        for n, side, p in ((1, BUY, c.participants[0]), (2, SELL, c.participants[1]))
    ]
    cid = code32("HOLD-ZERO-RECEIPT")
    run = HoldingRun(
        holding, holding_chain, cid, settled(cid, trades).legs, trades, holding_parties, holding_csd
    )
    broker = c.locals[0].address
    assert [s.party for s in run.steps if s.party == broker]  # an investors-only step is planned
    run.finish()  # every step passes, every tier conserves, each investor holds its trades' net
