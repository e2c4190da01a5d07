"""Stateful: random interleavings of issue, split, financing, review, audit and rejection.

Invariants after every step, against the pure model in consortium.domain.bills.BillLedger:
- for every bill: Σ holders' balances + locked (escrow) + redeemed = face value (zero if cancelled);
- every balance on chain equals the model's; locked amounts and unaudited nodes cannot be moved;
- lineage is complete: every node's path on chain ends at its bill and equals the model's.
The teardown warps to maturity and redeems everything, which must settle every live bill.

Why plain `hypothesis.stateful` and not brownie's `state_machine`: brownie 1.22.2's compiled
stateful wrapper fails with "_BrownieStateMachine object expected" (see TOOLCHAIN-NOTES); here the
machine reverts the chain to the test's snapshot itself, which is all the wrapper did.
"""

import brownie
from hypothesis import HealthCheck, assume, settings
from hypothesis import stateful as sf
from hypothesis import strategies as st

from consortium.domain.bills import BillLedger, BillStatus, NodeKind, NodeState
from tests.fixtures.bills import warp


pick = st.integers(min_value=0, max_value=10_000)


def test_bills__random_lifecycles__conserved_locked_and_traceable(bills, bill_cast, chain, maturity):
    chain.snapshot()
    clients = [bill_cast.core, bill_cast.tier1, bill_cast.tier2a, bill_cast.tier2b]
    by_addr = {c.address: c for c in clients}
    holders = [c.address for c in clients] + [bill_cast.factor.address]

    class Machine(sf.RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            chain.revert()
            self.m = BillLedger(next_id=int(bills.nextId()))

        # ------------------------------------------------------------ helpers
        def _nodes(self, *states):
            return [n for n in self.m.nodes.values() if n.state in states]

        def _held(self):
            return [(nid, h) for (nid, h), v in self.m.balances.items() if v > 0 and h in by_addr]

        # ------------------------------------------------------------ rules
        @sf.rule(receiver=st.integers(1, 3), face=st.integers(1, 10**9))
        def request_issue(self, receiver, face):
            # each bill on its own trade documents (one set of documents backs one bill)
            doc = f"po {self.m.next_id}"
            bill_id, _ = bill_cast.core.request_issue(clients[receiver].address, face, maturity, doc)
            assert bill_id == self.m.issue(bill_cast.core.address, clients[receiver].address, face)

        @sf.rule(i=pick, to=st.integers(0, 3), share=st.floats(0.01, 1.0))
        def request_transfer(self, i, to, share):
            held = self._held()
            assume(held)
            nid, holder = held[i % len(held)]
            receiver = clients[to]
            assume(receiver.address != holder)
            amount = max(1, int(self.m.balance(nid, holder) * share))
            new_id, _ = by_addr[holder].request_transfer(nid, receiver.address, amount, "sub")
            assert new_id == self.m.request(
                nid, holder, receiver.address, amount, NodeKind.TRANSFER
            )

        @sf.rule(i=pick, share=st.floats(0.01, 1.0))
        def request_financing(self, i, share):
            held = self._held()
            assume(held)
            nid, holder = held[i % len(held)]
            amount = max(1, int(self.m.balance(nid, holder) * share))
            fin, _ = by_addr[holder].request_financing(nid, amount, "fin")
            assert fin == self.m.request(nid, holder, None, amount, NodeKind.FINANCING)

        @sf.rule(i=pick, ok=st.booleans())
        def review(self, i, ok):
            pending = [n for n in self._nodes(NodeState.REQUESTED) if n.kind != NodeKind.FINANCING]
            assume(pending)
            n = pending[i % len(pending)]
            by_addr[n.receiver].review(n.node_id, ok, "review")
            self.m.advance(n.node_id, NodeState.REVIEWED) if ok else self.m.reject(n.node_id)

        @sf.rule(i=pick)
        def quote(self, i):
            pending = [n for n in self._nodes(NodeState.REQUESTED) if n.kind == NodeKind.FINANCING]
            assume(pending)
            n = pending[i % len(pending)]
            bill_cast.factor.quote(n.node_id, 500, "agreement")
            self.m.advance(n.node_id, NodeState.QUOTED, receiver=bill_cast.factor.address)

        @sf.rule(i=pick, ok=st.booleans())
        def accept(self, i, ok):
            pending = self._nodes(NodeState.QUOTED)
            assume(pending)
            n = pending[i % len(pending)]
            by_addr[n.sender].accept_financing(
                n.node_id, "agreement", bill_cast.factor.address, 500, accept=ok
            )
            self.m.advance(n.node_id, NodeState.AGREED) if ok else self.m.reject(n.node_id)

        @sf.rule(i=pick, ok=st.booleans())
        def audit(self, i, ok):
            pending = self._nodes(NodeState.REVIEWED, NodeState.AGREED)
            assume(pending)
            n = pending[i % len(pending)]
            bill_cast.auditor.audit(n.node_id, ok, "audit")
            if not ok:
                self.m.reject(n.node_id)
            elif n.kind == NodeKind.FINANCING:
                self.m.advance(n.node_id, NodeState.AUDITED)
            else:
                self.m.deliver(n.node_id)

        @sf.rule(i=pick)
        def disburse(self, i):
            pending = self._nodes(NodeState.AUDITED)
            assume(pending)
            n = pending[i % len(pending)]
            bill_cast.factor.disburse(n.node_id, "wire")
            self.m.deliver(n.node_id)

        @sf.rule(i=pick, to=st.integers(1, 3))
        def cannot_move_locked_or_unaudited(self, i, to):
            """Asking for more than the free balance, or from a node not yet valid, always reverts."""
            nodes = list(self.m.nodes.values())
            assume(nodes)
            n = nodes[i % len(nodes)]
            holder = n.receiver if n.receiver in by_addr else n.sender
            assume(holder in by_addr and holder != clients[to].address)
            free = self.m.balance(n.node_id, holder)
            with brownie.reverts():
                by_addr[holder].request_transfer(
                    n.node_id, clients[to].address, free + 1, "too much"
                )

        # ------------------------------------------------------------ invariants
        @sf.invariant()
        def conserved_and_matching(self):
            ids = list(self.m.nodes)
            if not ids:
                return
            owners = [h for h in holders + [bills.address] for _ in ids]
            chain_bal = bills.balanceOfBatch(owners, ids * (len(holders) + 1))
            k = 0
            for h in holders + [bills.address]:
                for nid in ids:
                    want = self.m.locked(nid) if h == bills.address else self.m.balance(nid, h)
                    assert (
                        chain_bal[k] == want
                    ), f"node {nid} holder {h}: chain {chain_bal[k]} model {want}"
                    k += 1
            for bill_id in self.m.face:
                assert self.m.conserved(bill_id)
                assert bills.bill(bill_id)["redeemed"] == self.m.redeemed[bill_id]

        @sf.invariant()
        def lineage_complete(self):
            for nid in list(self.m.nodes)[-3:]:  # the newest nodes: the deepest paths
                path, hops = bills.lineage(nid)
                assert list(path) == self.m.lineage(nid)
                assert path[-1] == self.m.nodes[nid].bill_id and hops[-1]["parent"] == 0

        def teardown(self):
            if not self.m.face:
                return
            warp(chain, maturity)
            items = [(nid, h, v) for (nid, h), v in self.m.balances.items() if v > 0]
            for start in range(0, len(items), 50):
                bill_cast.core.redeem(items[start : start + 50], payment_ref="maturity wire")
            for nid, h, v in items:
                self.m.redeem(nid, h, v)
            for bill_id, status in self.m.status.items():
                live = status != BillStatus.CANCELLED and self.m.locked_total(bill_id) == 0
                if live:
                    assert bills.bill(bill_id)["status"] == BillStatus.SETTLED
                assert self.m.conserved(bill_id)

    sf.run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=4,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
