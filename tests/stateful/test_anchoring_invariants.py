"""Stateful: ConfirmationAnchor never lets a record be proven for a day it was not anchored for.

Packet and period roots hold confirmed requests; the leaf binds the business day (the report side is
test_report_anchoring_invariants.py). Random interleavings anchor fresh roots on several days,
re-anchor an already anchored record inside another day's root (what a careless or dishonest bank
would do), and retry roots already on chain. After every step, against a Python model:
- every anchored record proves under its root for its own day, on chain and off chain;
- no record proves under any root for any other day, even with a proof valid for its own day;
- a retried root changes nothing;
- a rival sales bank anchoring the bank's roots first (or later) under other days changes nothing
  for the bank: its anchors, its proofs (anchors are keyed by (bank, root), issue 17 item 4).
Runs on tests/stateful/machine.py's ChainMachine (fresh snapshot per run, full-length runs).
"""

import os

import brownie
from hypothesis import stateful as sf
from hypothesis import strategies as st

from consortium.domain import merkle
from tests.stateful.machine import ChainMachine, machine_settings

DAY = 20_454  # 2026-01-01
pick = st.integers(min_value=0, max_value=10_000)


def test_confirmation_anchor__random_roots_and_replays__record_provable_only_for_its_day(
    anchor, conf_cast, chain, admit, connect, accounts
):
    bank = conf_cast.sales_bank
    issuers = [conf_cast.issuer_a.address, conf_cast.issuer_b.address]
    rival = admit(
        accounts[11], ["SALES_BANK"], regulator=conf_cast.regulator, name="rival sales bank"
    )
    connect(rival, conf_cast.issuer_a)
    chain.snapshot()

    class Machine(ChainMachine):
        def __init__(self):
            super().__init__(chain)
            self.roots = {}  # root -> (period, RecordTree)
            self.squatted = {}  # root -> the period the rival anchored it for

        def _anchor(self, how, period, recs):
            tree = merkle.RecordTree(recs)
            if how == "packet":
                anchor.anchorPacket(
                    recs[0][2], period, tree.root, len(recs), {"from": bank.account}
                )
            else:
                anchor.anchorPeriod(period, tree.root, len(recs), issuers, {"from": bank.account})
            self.roots[tree.root] = (period, tree)

        @sf.rule(
            n=st.integers(1, 6),
            day=st.integers(0, 3),
            who=st.integers(0, 1),
            how=st.sampled_from(["packet", "period"]),
        )
        def anchor_fresh(self, n, day, who, how):
            recs = [(DAY + day, os.urandom(32), issuers[who], os.urandom(32)) for _ in range(n)]
            self._anchor(how, DAY + day, recs)

        def _squat(self, root, period, count):
            anchor.anchorPeriod(period, root, count, [issuers[0]], {"from": rival.account})
            self.squatted[root] = period

        @sf.rule(n=st.integers(1, 6), day=st.integers(0, 3), shift=st.integers(1, 3))
        def rival_squats_root_first(self, n, day, shift):
            """The rival anchors the bank's root before the bank, for another day; the bank anchors."""
            recs = [(DAY + day, os.urandom(32), issuers[0], os.urandom(32)) for _ in range(n)]
            self._squat(merkle.RecordTree(recs).root, DAY + day + shift, n)
            self._anchor("packet", DAY + day, recs)

        @sf.precondition(lambda self: set(self.roots) - set(self.squatted))
        @sf.rule(i=pick, shift=st.integers(1, 3))
        def rival_squats_anchored_root(self, i, shift):
            root = sorted(set(self.roots) - set(self.squatted))[
                i % len(set(self.roots) - set(self.squatted))
            ]
            period, tree = self.roots[root]
            self._squat(root, period + shift, len(tree))

        @sf.precondition(lambda self: self.roots)
        @sf.rule(i=pick, shift=st.integers(1, 3), how=st.sampled_from(["packet", "period"]))
        def reanchor_record_under_another_day(self, i, shift, how):
            period, tree = list(self.roots.values())[i % len(self.roots)]
            _, rid, who, data = tree.records[i % len(tree)]
            other = period + shift
            self._anchor(
                how, other, [(other, rid, who, data), (other, os.urandom(32), who, os.urandom(32))]
            )

        @sf.precondition(lambda self: self.roots)
        @sf.rule(i=pick, shift=st.integers(0, 2), how=st.sampled_from(["packet", "period"]))
        def retry_anchored_root(self, i, shift, how):
            root = list(self.roots)[i % len(self.roots)]
            period, tree = self.roots[root]
            before = anchor.anchorOf(bank.address, root)
            with brownie.reverts(revert_pattern=r"AnchorRootAlreadyAnchored:.*"):
                if how == "packet":
                    anchor.anchorPacket(
                        tree.records[0][2], period + shift, root, len(tree), {"from": bank.account}
                    )
                else:
                    anchor.anchorPeriod(
                        period + shift, root, len(tree), issuers, {"from": bank.account}
                    )
            assert anchor.anchorOf(bank.address, root) == before

        @sf.invariant()
        def anchors_match_model(self):
            for root, (period, tree) in self.roots.items():
                by, _, count, day = anchor.anchorOf(bank.address, root)
                assert (by, count, day) == (bank.address, len(tree), period)

        @sf.invariant()
        def rival_anchors_prove_nothing_for_the_bank(self):
            for root, period in list(self.squatted.items())[-3:]:
                assert anchor.anchorOf(rival.address, root)[3] == period
                if root in self.roots:
                    _own, tree = self.roots[root]
                    rec = tree.records[0]
                    proof = tree.proof(rec)
                    assert anchor.verifyRecord(bank.address, root, *rec, proof)
                    assert not anchor.verifyRecord(
                        rival.address, root, *rec, proof
                    )  # own != period

        @sf.invariant()
        def provable_only_for_own_day(self):
            days = {p for p, _ in self.roots.values()} | {DAY - 1}
            for root, (period, tree) in list(self.roots.items())[-3:]:
                rec = tree.records[-1]
                proof = tree.proof(rec)
                assert anchor.verifyRecord(bank.address, root, *rec, proof) and merkle.verify(
                    root, rec, proof
                )
                for d in days - {period}:
                    claimed = (d, *rec[1:])
                    assert not anchor.verifyRecord(bank.address, root, *claimed, proof)
                    assert not merkle.verify(root, claimed, proof)
                    for other, (
                        p,
                        _,
                    ) in self.roots.items():  # the same proof against that day's roots
                        if p == d:
                            assert not anchor.verifyRecord(bank.address, other, *claimed, proof)

        def teardown(self):
            self.run_completed()  # rejects runs too short to mean anything

    sf.run_state_machine_as_test(Machine, settings=machine_settings(3, 7))
