"""The core enterprise's redemption file: every row of a batch the chain does not hold yet checked
before anything is sent (its node, its bill ours and matured, the holding, the currency's way of
payment), the reads in JSON-RPC batches, the batches sent together through the agent's pipe. Row by
row and one transaction waited for each, the large day's 295 rows were still being paid after ten
minutes. The refusals name the row's line; a refused file sends nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium.agent.base import FileRefused
from consortium.agent.lines.bills import BillClientRole
from consortium.domain.bills import NodeState
from consortium.domain.hashing import doc_hash
from consortium.roles.bills import REDEEM

ME, OTHER, T1, T2 = "0xC0", "0xD0", "0x10", "0x20"
CNY, USD = b"CNY".ljust(32, b"\0"), b"USD".ljust(32, b"\0")
NOW, MATURITY = 1_000_000, 999_000


class FakePipe:
    """The chain's views: redemptions already held, nodes, bills, holdings."""

    def __init__(self, held=(), nodes=None, bills=None, balances=None):
        self.held, self.nodes, self.bills = set(held), nodes or {}, bills or {}
        self.balances = balances or {}
        self.reads: list[tuple[str, list]] = []

    def call_many(self, contract, fn, args):
        self.reads.append((fn, list(args)))
        if fn == "redemptionOf":
            return [(4, 77) if ref in self.held else (0, 0) for _, ref in args]
        if fn == "balanceOf":
            return [self.balances.get(a, 0) for a in args]
        table = {"node": self.nodes, "bill": self.bills}[fn]
        return [table.get(a, {"state": NodeState.NONE, "billId": 0}) for (a,) in args]


def _role(pipe, cash_currencies=(CNY,)):
    role = object.__new__(BillClientRole)
    role.agent = SimpleNamespace(
        pipe=pipe,
        suite={"BillToken": "bills"},
        account=SimpleNamespace(address=ME),
        settings=SimpleNamespace(addresses={"tier1": T1, "tier2": T2}),
    )
    role.client = SimpleNamespace(_redemption=lambda items, ref, batch: (batch, [items, ref]))
    role.sent, role.cash_reads = [], []

    def send(work, field):
        assert field == "count"
        role.sent.append(work)
        return [len(args[0]) for _, _, args in work]

    def cash_pays(currency):
        role.cash_reads.append(currency)
        return currency in cash_currencies

    role._send, role._cash_pays, role.now = send, cash_pays, lambda: NOW
    return role


def _file(*rows):
    keys = ("batch_ref", "node_id", "holder", "amount", "payment_ref")
    return SimpleNamespace(rows=[dict(zip(keys, r)) for r in rows], line_of=lambda i: i + 2)


def _chain(**kw):
    nodes = {5: {"state": NodeState.VALID, "billId": 1}, 6: {"state": NodeState.VALID, "billId": 1}}
    nodes[7] = {"state": NodeState.VALID, "billId": 2}
    bills = {
        1: {"debtor": ME, "maturity": MATURITY, "currency": CNY},
        2: {"debtor": ME, "maturity": MATURITY, "currency": USD},
    }
    balances = {(T1, 5): 100, (T2, 6): 50, (T1, 7): 30}
    return FakePipe(nodes=nodes, bills=bills, balances=balances, **kw)


def test_redeem__two_batches__rows_read_in_batches_both_sent_together():
    pipe = _chain()
    role = _role(pipe)
    rows = [["PAY-1", 5, "tier1", 100, None], ["PAY-1", 6, "tier2", 50, None]]
    done = role.redeem(_file(*rows, ["PAY-2", 7, "tier1", 30, "WIRE-7"]))
    assert done == {"batches": ["PAY-1", "PAY-2"], "holdings": 3}
    assert [fn for fn, _ in pipe.reads] == ["redemptionOf", "node", "bill", "balanceOf"]
    assert pipe.reads[1] == ("node", [(5,), (6,), (7,)])
    assert pipe.reads[2] == ("bill", [(1,), (2,)])  # each bill once
    assert role.cash_reads == [CNY, USD]  # each currency's way of payment once
    assert role.sent == [
        [
            (REDEEM, "PAY-1", [[(5, T1, 100), (6, T2, 50)], None]),
            (REDEEM, "PAY-2", [[(7, T1, 30)], "WIRE-7"]),
        ]
    ]


def test_redeem__a_batch_the_chain_holds__not_checked_again_still_booked():
    pipe = _chain(held={doc_hash("PAY-1")})
    pipe.balances[(T1, 5)] = 0  # paid: its holding is gone
    role = _role(pipe)
    done = role.redeem(_file(["PAY-1", 5, "tier1", 100, None], ["PAY-2", 7, "tier1", 30, "W"]))
    assert pipe.reads[1] == ("node", [(7,)])  # only the new batch's rows read and checked
    assert [key for _, key, _ in role.sent[0]] == ["PAY-1", "PAY-2"]  # the outbox books PAY-1
    assert done["batches"] == ["PAY-1", "PAY-2"]


@pytest.mark.parametrize(
    "row, change, line, reason",
    [
        (["P", 9, "tier1", 1, None], None, 3, "node 9 does not exist"),
        (["P", 7, "tier1", 30, "W"], ("bill", 2, "debtor", OTHER), 3, "not ours to pay"),
        (["P", 7, "tier1", 30, "W"], ("bill", 2, "maturity", NOW + 86_400), 3, "matures on"),
        (["P", 6, "tier2", 51, None], None, 3, "tier2 holds 50 of node 6, not 51"),
        (["P", 6, "tier2", 50, "WIRE"], None, 3, "leave payment_ref empty"),
        (["P", 7, "tier1", 30, None], None, 3, "give the wire's payment_ref"),
        (["P", 6, "tier3", 50, None], None, 3, "no member address for 'tier3'"),
    ],
)
def test_redeem__a_bad_row__file_refused_at_its_line_nothing_sent(row, change, line, reason):
    pipe = _chain()
    if change is not None:
        _, bill, key, value = change
        pipe.bills[bill] = pipe.bills[bill] | {key: value}
    role = _role(pipe)
    with pytest.raises(FileRefused) as refused:
        role.redeem(_file(["P", 5, "tier1", 100, None], row))
    assert refused.value.line == line and reason in str(refused.value)
    assert role.sent == []


def test_redeem__two_bad_rows__the_first_named():
    role = _role(_chain())
    with pytest.raises(FileRefused) as refused:
        role.redeem(_file(["P", 9, "tier1", 1, None], ["P", 5, "tier1", 101, None]))
    assert refused.value.line == 2 and "node 9" in str(refused.value)
