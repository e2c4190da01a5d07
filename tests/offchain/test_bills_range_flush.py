"""The bills line's auditor and clients act on a range's events together (`after_range`): the
nodes, bills and locked amounts read in JSON-RPC batches, the audits and acceptances posted in one
phase of the agent's pipe, a node the chain moved on skipped, a failed one retried on the next
ranges. One by one, the medium day's 30 audits held its bills line half a minute."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium.agent.lines.bills import BillAuditorRole, BillClientRole, BillFactorRole
from consortium.agent.ranged import Retries
from consortium.domain.bills import NodeKind, NodeState
from consortium.store import Store

ME, CORE, T1, T2 = "0xA0", "0xC0", "0x10", "0x20"
CNY, USD = b"CNY".ljust(32, b"\0"), b"USD".ljust(32, b"\0")


class Tx:
    def __init__(self, ok: bool):
        self.status, self.error = int(ok), None if ok else "BillNodeNotWaiting: 7"


class FakePipe:
    """Views answered from `nodes`, `bills` and `locked`; sends recorded, one list a phase."""

    def __init__(self, nodes, bills, locked, failing=()):
        self.nodes, self.bills, self.locked, self.failing = nodes, bills, locked, set(failing)
        self.reads, self.phases, self._phase = [], [], []

    def call_many(self, contract, fn, args):
        self.reads.append((fn, [a for (a,) in args]))
        table = {"node": self.nodes, "bill": self.bills, "locked": self.locked}[fn]
        return [table[a] for (a,) in args]

    def piped(self, role):
        def send(kind):
            def call(node, *_):
                self._phase.append((kind, node))
                return Tx(node not in self.failing)

            return call

        return SimpleNamespace(audit=send("audit"), review=send("review"))

    def wait(self, raise_on_failure=True):
        assert raise_on_failure is False
        self.phases.append(self._phase)
        self._phase = []


def _node(state, frm=T1, to=T2, bill=1):
    return {"state": int(state), "from": frm, "to": to, "billId": bill}


def _agent(pipe, limits=None, mode="auto"):
    queued = {}
    decisions = SimpleNamespace(
        get=queued.get, queue=lambda kind, item, subject: queued.setdefault(item, subject)
    )
    settings = SimpleNamespace(limits=limits or {}, decision_mode=lambda kind: mode)
    return SimpleNamespace(
        store=Store(),
        pipe=pipe,
        suite={"BillToken": "bills"},
        w3=SimpleNamespace(client_version="anvil/v1.7.1"),
        account=SimpleNamespace(address=ME),
        settings=settings,
        decisions=decisions,
        queued=queued,
    )


def _auditor(pipe, **kw):
    role = object.__new__(BillAuditorRole)
    role.agent = _agent(pipe, **kw)
    role.auditor, role._to_audit, role._piped = "auditor", {}, None
    role._retries = Retries(role.agent.store, "bills.audit-failed")
    return role


def test_audits__a_range_of_nodes__read_in_batches_audited_in_one_phase():
    nodes = {
        5: _node(NodeState.REVIEWED),
        6: _node(NodeState.AGREED, bill=2),
        7: _node(NodeState.AUDITED),  # audited already: a replayed range
        8: _node(NodeState.REVIEWED, frm=ME),  # we are a party: another auditor's
    }
    pipe = FakePipe(nodes, {1: {"debtor": CORE}, 2: {"debtor": CORE}}, {5: 10, 6: 20})
    role = _auditor(pipe)
    role._to_audit = {5: NodeState.REVIEWED, 6: NodeState.AGREED, 7: NodeState.REVIEWED}
    role._to_audit[8] = NodeState.REVIEWED
    role.flush_audits()
    assert pipe.reads == [("node", [5, 6, 7, 8]), ("bill", [1, 2]), ("locked", [5, 6])]
    assert pipe.phases == [[("audit", 5), ("audit", 6)]]
    role.flush_audits()  # an empty range: nothing read, nothing sent
    assert len(pipe.reads) == 3 and len(pipe.phases) == 1


def test_audits__above_the_limit__queued_for_a_person_not_sent():
    nodes = {5: _node(NodeState.REVIEWED), 6: _node(NodeState.REVIEWED)}
    pipe = FakePipe(nodes, {1: {"debtor": CORE}}, {5: 10, 6: 5_000})
    role = _auditor(pipe, limits={"bill_audit_max_amount": 1_000})
    role._to_audit = {5: NodeState.REVIEWED, 6: NodeState.REVIEWED}
    role.flush_audits()
    assert pipe.phases == [[("audit", 5)]]
    assert role.agent.queued == {"bill-audit-6": {"node": 6, "amount": 5_000, "limit": 1_000}}


def test_audits__one_fails__the_others_go_on__it_is_retried_on_the_next_range():
    nodes = {5: _node(NodeState.REVIEWED), 6: _node(NodeState.REVIEWED)}
    pipe = FakePipe(nodes, {1: {"debtor": CORE}}, {5: 10, 6: 20}, failing={6})
    role = _auditor(pipe)
    role._to_audit = {5: NodeState.REVIEWED, 6: NodeState.REVIEWED}
    role.flush_audits()
    assert pipe.phases == [[("audit", 5), ("audit", 6)]]
    assert role.agent.store.get("bills.audit-failed", "6")["status"] == "retry"
    pipe.failing.clear()
    role.flush_audits()  # nothing new in this range: the failed one again
    assert pipe.phases[-1] == [("audit", 6)]
    assert role.agent.store.get("bills.audit-failed", "6")["status"] == "done"


@pytest.mark.parametrize("mode", ["auto", "queue"])
def test_reviews__a_range_of_nodes_for_us__requested_ones_accepted_in_one_phase(mode):
    nodes = {2: _node(NodeState.REQUESTED), 3: _node(NodeState.REVIEWED)}
    pipe = FakePipe(nodes, {}, {})
    role = object.__new__(BillClientRole)
    role.agent = _agent(pipe, mode=mode)
    role.client, role._piped = "client", None
    role._review_retries = Retries(role.agent.store, "bills.review-failed")
    role._to_review = {2: (100, "core-enterprise"), 3: (50, "tier1-supplier")}
    role.flush_reviews()
    assert pipe.reads == [("node", [2, 3])]  # node 3 was reviewed already: left alone
    if mode == "auto":
        assert pipe.phases == [[("review", 2)]]
    else:  # a person decides: nothing sent, the node queued once
        assert pipe.phases in ([], [[]])
        assert list(role.agent.queued) == ["bill-review-2"]


class FactorPipe(FakePipe):
    """FakePipe with the payments of declarations and a factor's disbursements."""

    def __init__(self, nodes, bills, payments=None, failing=()):
        super().__init__(nodes, bills, {}, failing)
        self.payments = payments or {}

    def call_many(self, contract, fn, args):
        if fn == "payment":
            self.reads.append((fn, [a for (a,) in args]))
            return [self.payments[a] for (a,) in args]
        return super().call_many(contract, fn, args)

    def piped(self, role):
        def disburse(node, ref):
            self._phase.append(("disburse", node, ref))
            return Tx(node not in self.failing)

        return SimpleNamespace(disburse=disburse)


def _factor(pipe, declared=(), cash_pays=True, monkeypatch=None):
    from consortium.agent.lines import bills as lines

    role = object.__new__(BillFactorRole)
    role.agent = _agent(pipe)
    role.agent.suite = {
        "BillToken": SimpleNamespace(topics={"BillPaymentDeclared": "0xD"}, address="0xB")
    }
    history = [{"nodeId": n, "payer": ME, "declarationId": 100 + n} for n in declared]
    role.agent.follower = SimpleNamespace(history=lambda address, topic: history)
    role.active, role.factor, role.dirty = True, "factor", False
    role._to_disburse, role._piped_factor = [], None
    role._disburse_retries = Retries(role.agent.store, "bills.disburse-failed")
    monkeypatch.setattr(lines, "_cash_pays", lambda agent, bills, currency: cash_pays)
    return role


def _audited(node, kind=NodeKind.FINANCING, approved=True):
    return {"nodeId": node, "kind": int(kind), "approved": approved}


def test_disbursements__a_range_s_audited_financings__read_in_batches_paid_in_one_phase(
    monkeypatch,
):
    nodes = {
        5: _node(NodeState.AUDITED, to=ME),
        6: _node(NodeState.AUDITED, to=ME, bill=2),
        7: _node(NodeState.VALID, to=ME),  # disbursed already: a replayed range
        8: _node(NodeState.AUDITED, to=T2),  # another factor's
    }
    pipe = FactorPipe(nodes, {1: {"currency": CNY}, 2: {"currency": CNY}})
    role = _factor(pipe, monkeypatch=monkeypatch)
    for ev in (_audited(5), _audited(6), _audited(7), _audited(8), _audited(9, NodeKind.TRANSFER)):
        role.on_audited(ev)
    role.on_audited(_audited(10, approved=False))
    assert role._to_disburse == [5, 6, 7, 8]  # only approved financings
    role.flush_disbursements()
    assert pipe.reads == [("node", [5, 6, 7, 8]), ("bill", [1, 2])]
    assert pipe.phases == [[("disburse", 5, None), ("disburse", 6, None)]]
    role.flush_disbursements()  # an empty range: nothing read, nothing sent
    assert len(pipe.reads) == 2 and len(pipe.phases) == 1


def test_disbursements__declared_before_a_restart__not_paid_twice__off_chain_ref_named(
    monkeypatch,
):
    nodes = {5: _node(NodeState.AUDITED, to=ME), 6: _node(NodeState.AUDITED, to=ME)}
    pipe = FactorPipe(nodes, {1: {"currency": USD}}, payments={105: {"kind": 1}})
    role = _factor(pipe, declared=[5], cash_pays=False, monkeypatch=monkeypatch)
    role._to_disburse = [5, 6]
    role.flush_disbursements()
    assert ("payment", [105]) in pipe.reads  # the declarations' payments in one batch
    assert pipe.phases == [[("disburse", 6, "disbursement 6")]]


def test_disbursements__one_fails__the_others_paid__it_is_retried_on_the_next_range(monkeypatch):
    nodes = {5: _node(NodeState.AUDITED, to=ME), 6: _node(NodeState.AUDITED, to=ME)}
    pipe = FactorPipe(nodes, {1: {"currency": CNY}}, failing={6})
    role = _factor(pipe, monkeypatch=monkeypatch)
    role._to_disburse = [5, 6]
    role.flush_disbursements()
    assert role.agent.store.get("bills.disburse-failed", "6")["status"] == "retry"
    pipe.failing.clear()
    role.flush_disbursements()
    assert pipe.phases[-1] == [("disburse", 6, None)]
    assert role.agent.store.get("bills.disburse-failed", "6")["status"] == "done"
