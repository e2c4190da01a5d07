"""The factor agent's quoting policy without a chain: agent.yaml `bills: {rate_bps, outbid_only}`.

A factor with `outbid_only: true` (the multi-process day's second factor) never takes a request's
first quote; it quotes only in a publicised request's open quote window, to beat another factor's
standing quote (the chain's rule, domain.bills.QuoteWindow). The contract and the clock are fakes.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from consortium.agent.lines.bills import BillFactorRole
from consortium.agent.settings import SettingsError
from consortium.domain.bills import NodeState

ME, OTHER = "0x" + "aa" * 20, "0x" + "bb" * 20
NOW = 1_800_000_000


class _Bills:
    """BillToken's node state and financing terms of one node."""

    def __init__(self, state: int, factor: str = OTHER, rate: int = 0, deadline: int = 0):
        self.state, self.terms = state, {"factor": factor, "rateBps": rate, "deadline": deadline}

    def node(self, _node: int) -> dict:
        return {"state": self.state}

    def financing(self, _node: int) -> dict:
        return dict(self.terms)


class _Suite:
    def __init__(self, bills: _Bills):
        self.bills = bills
        self.contracts: dict = {}  # no BillToken: the role stays idle (no follower needed)

    def __getitem__(self, _name: str) -> _Bills:
        return self.bills


def _factor(bills: _Bills, **section) -> BillFactorRole:
    settings = SimpleNamespace(line=lambda _name: section, home=Path("/homes/factor-2"))
    agent = SimpleNamespace(
        suite=_Suite(bills),
        settings=settings,
        account=SimpleNamespace(address=ME),
        w3=SimpleNamespace(eth=SimpleNamespace(get_block=lambda _b: {"timestamp": NOW})),
    )
    return BillFactorRole(agent)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_factor_settings__outbid_only_not_true_or_false__refused_naming_agent_yaml(value):
    with pytest.raises(SettingsError, match=r"factor-2/agent.yaml: bills.outbid_only"):
        _factor(_Bills(NodeState.REQUESTED), rate_bps=500, outbid_only=value)


def test_factor__request_waiting_for_its_first_quote__quoted_unless_outbid_only():
    assert _factor(_Bills(NodeState.REQUESTED), rate_bps=500)._open_to_us(7)
    assert not _factor(_Bills(NodeState.REQUESTED), rate_bps=500, outbid_only=True)._open_to_us(7)


@pytest.mark.parametrize(
    "standing, deadline, quotes",
    [
        ((OTHER, 600), NOW + 60, True),  # another factor's worse quote, window open: outbid it
        ((OTHER, 500), NOW + 60, False),  # not better: the chain refuses BillQuoteNotBetter
        ((OTHER, 400), NOW + 60, False),
        ((OTHER, 600), NOW, False),  # the window closed
        ((OTHER, 600), 0, False),  # no window: the first quote stands
        ((ME, 600), NOW + 60, False),  # our own quote stands
    ],
)
def test_factor__outbid_only__quotes_only_to_beat_a_standing_quote_in_an_open_window(
    standing, deadline, quotes
):
    bills = _Bills(NodeState.QUOTED, *standing, deadline)
    assert _factor(bills, rate_bps=500, outbid_only=True)._open_to_us(7) is quotes


def test_financing_row__with_a_quote_window__sent_as_requestFinancingQuotes():
    """A `bill-financing` row's args end with the window's seconds when it gives
    quote_window_minutes: sent (and found again after a restart) as requestFinancingQuotes."""
    from consortium.agent.lines.bills import _sent_as
    from consortium.roles.bills import FINANCE, FINANCE_QUOTES, TRANSFER

    args = [5, 60_000_000, b"\x01" * 32, b"\x02" * 32]
    assert _sent_as(FINANCE, args) == FINANCE
    assert _sent_as(FINANCE, [*args, 600]) == FINANCE_QUOTES
    assert _sent_as(TRANSFER, [5, ME, 1, b"\x01" * 32, b"\x02" * 32]) == TRANSFER


class _Nodes(_Bills):
    """Node states and financing deadlines per node."""

    def __init__(self, nodes: dict[int, tuple[int, int]]):
        super().__init__(NodeState.NONE)
        self.nodes = nodes

    def node(self, node: int) -> dict:
        return {"state": self.nodes[node][0]}

    def financing(self, node: int) -> dict:
        return {"deadline": self.nodes[node][1]}


def test_client_restarted__its_quoted_financings_considered_again__windows_from_the_chain():
    """A holder restarted inside a quote window (its end was in memory only) finds its quoted
    requests again: each is signed when its window ends (deadline 0: a first quote, at once);
    others' requests, requests not quoted and transfers are left alone."""
    from consortium.agent.lines.bills import BillClientRole

    fin = "BillFinancingRequested"
    stored = {
        "7": {"kind": fin, "from": ME},  # quoted in a window ending at NOW + 600
        "8": {"kind": fin, "from": ME},  # a first quote standing
        "9": {"kind": fin, "from": ME},  # still waiting for a quote
        "10": {"kind": fin, "from": OTHER},  # another holder's
        "11": {"kind": "BillTransferRequested", "from": ME},
    }
    quoted = NodeState.QUOTED
    bills = _Nodes(
        {7: (quoted, NOW + 600), 8: (quoted, 0), 9: (NodeState.REQUESTED, 0), 10: (quoted, 5)}
    )
    agent = SimpleNamespace(
        suite=_Suite(bills),
        account=SimpleNamespace(address=ME),
        store=SimpleNamespace(all=lambda _kind: stored),
    )
    role = BillClientRole(agent)
    role._resume_windows()
    assert role.windows == {7: NOW + 600, 8: 0}
