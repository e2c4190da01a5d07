"""Stateful: a regulator's report record proves only in its own (regulator, day) report.

ReportAnchor's leaf binds (regulator, day, rules, record). Random interleavings anchor reports for two
regulators over three days, put an already reported record into another regulator's or another day's
report, and retry anchored versions; after every step each record proves under its own report and
under no report of another regulator or day, and a retried version changes nothing. Runs on
tests/stateful/machine.py's ChainMachine (fresh snapshot per run, full-length runs).
"""

import os

import brownie
from hypothesis import stateful as sf
from hypothesis import strategies as st

from consortium.reporting.verify import build_tree, leaf_value
from tests.stateful.machine import ChainMachine, machine_settings

pick = st.integers(min_value=0, max_value=10_000)


def test_report_anchor__random_reports_and_replays__record_provable_only_in_its_report(
    report_anchor, reporter, regulator_cn, regulator_hk, rules, chain
):
    chain.snapshot()
    regulators = [regulator_cn.address, regulator_hk.address]
    today = int(report_anchor.today())

    class Machine(ChainMachine):
        def __init__(self):
            super().__init__(chain)
            self.reports = {}  # (regulator, day, version) -> (record hashes, tree)

        def _latest(self, reg, day):
            return max((v for (r, d, v) in self.reports if (r, d) == (reg, day)), default=0)

        def _anchor(self, reg, day, hashes):
            version = self._latest(reg, day) + 1
            leaves = [leaf_value(reg, day, rules.rules_hash, h) for h in hashes]
            tree = build_tree(leaves)
            report_anchor.anchor(
                reg,
                day,
                version,
                tree.root,
                rules.rules_hash,
                len(hashes),
                {"from": reporter.account},
            )
            self.reports[(reg, day, version)] = (hashes, tree, leaves)

        @sf.rule(n=st.integers(1, 5), back=st.integers(0, 2), who=st.integers(0, 1))
        def anchor_report(self, n, back, who):
            self._anchor(regulators[who], today - back, [os.urandom(32) for _ in range(n)])

        @sf.precondition(lambda self: self.reports)
        @sf.rule(i=pick, back=st.integers(0, 2), who=st.integers(0, 1))
        def same_record_in_another_report(self, i, back, who):
            hashes, _, _ = list(self.reports.values())[i % len(self.reports)]
            self._anchor(regulators[who], today - back, [hashes[i % len(hashes)], os.urandom(32)])

        @sf.precondition(lambda self: self.reports)
        @sf.rule(i=pick)
        def retry_anchored_version(self, i):
            reg, day, version = list(self.reports)[i % len(self.reports)]
            with brownie.reverts(revert_pattern=r"Anchor.*"):
                report_anchor.anchor(
                    reg, day, version, b"\x01" * 32, rules.rules_hash, 1, {"from": reporter.account}
                )
            assert report_anchor.latestVersion(reg, day) == self._latest(reg, day)

        @sf.invariant()
        def record_proves_only_in_its_own_report(self):
            keys = list(self.reports)
            for key in keys[-3:]:
                hashes, tree, leaves = self.reports[key]
                proof = tree.get_proofs(leaves[-1])
                assert report_anchor.verifyRecord(*key, hashes[-1], proof)
                for other in keys[-6:]:
                    if other[:2] != key[:2]:  # another regulator or another day
                        assert not report_anchor.verifyRecord(*other, hashes[-1], proof)

        def teardown(self):
            self.run_completed()  # rejects runs too short to mean anything

    sf.run_state_machine_as_test(Machine, settings=machine_settings(3, 7))
