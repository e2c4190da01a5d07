"""`besu.push` against Besu's PERM API as documented: recorded request/response pairs
(tests/fixtures/besu/perm_api.json, sources in its README) replayed from a loopback HTTP server
that checks every request the push sends, in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium import besu
from tests.fixtures.jsonrpc import LoopbackJsonRpc

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures/besu/perm_api.json").read_text())
WANT = besu.Allowlists(
    accounts=tuple(FIXTURE["allowlists"]["accounts"]), nodes=tuple(FIXTURE["allowlists"]["nodes"])
)


class ReplayNode(LoopbackJsonRpc):
    """Answers the recorded exchanges in order; a request that differs from the recording is
    kept in `mismatches` and answered with a JSON-RPC error, so the push stops there."""

    def __init__(self, exchanges: list[dict]):
        self.pending, self.mismatches = list(exchanges), []
        super().__init__()

    def answer(self, got: dict) -> dict:
        if not self.pending:
            self.mismatches.append(("unexpected", got))
            return {"jsonrpc": "2.0", "id": got.get("id"), "error": {"code": -1, "message": "x"}}
        want = self.pending.pop(0)
        fields = ("jsonrpc", "method", "params")
        if {k: got.get(k) for k in fields} != {k: want["request"][k] for k in fields}:
            self.mismatches.append((want["request"], got))
            return {"jsonrpc": "2.0", "id": got.get("id"), "error": {"code": -1, "message": "x"}}
        return dict(want["response"], id=got.get("id"))


@pytest.fixture
def replay():
    nodes = []

    def _replay(name: str) -> ReplayNode:
        nodes.append(ReplayNode(FIXTURE["exchanges"][name]))
        return nodes[-1]

    yield _replay
    for n in nodes:
        n.close()


def test_push__stale_node__adds_and_removes_the_difference_as_recorded(replay):
    node = replay("push_to_a_stale_node")
    changes = besu.push(WANT, node.url)
    assert node.mismatches == [] and node.pending == []
    assert changes == {
        "accounts_added": [WANT.accounts[1]],
        "accounts_removed": ["0x0000000000000000000000000000000000000009"],
        "nodes_added": [WANT.nodes[1]],
        "nodes_removed": [FIXTURE["exchanges"]["push_to_a_stale_node"][1]["response"]["result"][0]],
    }


def test_push__node_in_line__only_reads(replay):
    node = replay("push_to_a_node_in_line")
    assert all(not v for v in besu.push(WANT, node.url).values())
    assert node.mismatches == [] and node.pending == []


def test_push__after_a_suspension__removes_the_member_account_and_node(replay):
    node = replay("push_after_a_suspension")
    suspended = besu.Allowlists(accounts=WANT.accounts[:1], nodes=WANT.nodes[:1])
    changes = besu.push(suspended, node.url)
    assert node.mismatches == [] and node.pending == []
    assert changes["accounts_removed"] == [WANT.accounts[1]]
    assert changes["nodes_removed"] == [WANT.nodes[1]]


@pytest.mark.parametrize(
    "exchange, message",
    [
        ("push_refused_existing_account", "Cannot add an existing account to allowlist"),
        ("push_refused_invalid_node", "Request contains an invalid node"),
    ],
)
def test_push__besu_refuses__perm_error_names_the_node_and_besus_message(replay, exchange, message):
    node = replay(exchange)
    with pytest.raises(besu.PermRpcError, match=message) as info:
        besu.push(WANT, node.url)
    assert node.url in str(info.value)
    assert node.mismatches == [] and node.pending == []  # nothing sent after the refusal


def test_node_allowlists__reads_both_lists_as_recorded(replay):
    node = replay("push_to_a_node_in_line")
    got = besu.node_allowlists(node.url)
    assert got.accounts == tuple(sorted(WANT.accounts)) and got.nodes == tuple(sorted(WANT.nodes))
    assert node.mismatches == [] and node.pending == []


def test_replay_node__request_differing_from_the_recording__caught(replay):
    node = replay("push_to_a_node_in_line")
    with pytest.raises(besu.PermRpcError):
        besu._rpc(node.url, "perm_getNodesAllowlist", [])  # the recording expects accounts first
    assert node.mismatches and node.mismatches[0][0]["method"] == "perm_getAccountsAllowlist"


def test_permissions_config__rendered__parses_back_with_tomllib():
    text = besu.render_permissions_config(WANT)
    assert besu.read_permissions_config(text) == WANT


@pytest.mark.parametrize(
    "text, message",
    [
        ("accounts-allowlist=[", "not TOML"),
        ('accounts-allowlist="0x01"\n', "must be a list of strings"),
        ("nodes-allowlist=[1]\n", "must be a list of strings"),
        ('accounts-whitelist=["0x01"]\n', "unknown key 'accounts-whitelist'"),
    ],
)
def test_permissions_config__malformed__refused(text, message):
    with pytest.raises(besu.PermissionsConfigInvalid, match=message):
        besu.read_permissions_config(text, "node1/permissions_config.toml")


def test_with_invited__applicant_allowed_beside_members_once_and_lower_case():
    applicant = "0xB9B81EE349C3807E46BC71AA2632203C5B462099"
    lists = besu.with_invited(WANT, [applicant, WANT.accounts[0]])
    assert lists.accounts == tuple(sorted({*WANT.accounts, applicant.lower()}))
    assert lists.nodes == WANT.nodes
    with pytest.raises(ValueError, match="invited account '0x12' is not an address"):
        besu.with_invited(WANT, ["0x12"])
