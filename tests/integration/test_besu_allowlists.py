"""The Besu allowlists exported from the registry follow membership: joins, operators, suspensions,
reinstatements and nodes; and a push brings a node (a PERM JSON-RPC stand-in on loopback) in line.
"""

import pytest

from consortium import besu
from tests.fixtures.jsonrpc import LoopbackJsonRpc

ENODE = "enode://" + "ab" * 64 + "@10.0.0.{}:30303"


class FakePermNode(LoopbackJsonRpc):
    """Besu's PERM API semantics for the six methods `besu.push` uses, on 127.0.0.1."""

    def __init__(self, accounts=(), nodes=()):
        self.accounts, self.nodes, self.calls = set(accounts), set(nodes), []
        super().__init__()

    def answer(self, req: dict) -> dict:
        self.calls.append(req["method"])
        p = req["params"][0] if req["params"] else None
        m = req["method"]
        if m == "perm_getAccountsAllowlist":
            res = sorted(self.accounts)
        elif m == "perm_getNodesAllowlist":
            res = sorted(self.nodes)
        elif m == "perm_addAccountsToAllowlist":
            self.accounts |= set(p)
            res = "Success"
        elif m == "perm_removeAccountsFromAllowlist":
            self.accounts -= set(p)
            res = "Success"
        elif m == "perm_addNodesToAllowlist":
            self.nodes |= set(p)
            res = "Success"
        elif m == "perm_removeNodesFromAllowlist":
            self.nodes -= set(p)
            res = "Success"
        else:
            res = None
        return {"jsonrpc": "2.0", "id": req["id"], "result": res}


@pytest.fixture
def perm_node():
    node = FakePermNode(accounts=["0x" + "99" * 20])  # a stale account the registry never knew
    yield node
    node.close()


@pytest.fixture(scope="module")
def members(admit, manager, regulator_cn, regulator_hk, accounts):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    custodian = admit(accounts[6], ["CUSTODIAN"], "HK", regulator=regulator_hk)
    broker.add_operator(accounts[7].address)
    manager.add_node(broker.address, ENODE.format(5))
    manager.add_node(custodian.address, ENODE.format(6))
    return broker, custodian


def _lower(*accts):
    return tuple(sorted(a.address.lower() if hasattr(a, "address") else a.lower() for a in accts))


def test_export__matches_active_membership(
    registry, members, manager, regulator_cn, regulator_hk, accounts
):
    broker, custodian = members
    lists = besu.allowlists(registry)
    assert lists.accounts == _lower(
        manager, regulator_cn, regulator_hk, broker, custodian, accounts[7]
    )
    assert lists.nodes == tuple(sorted([ENODE.format(5), ENODE.format(6)]))


def test_export__pending_application_not_allowed(registry, members, regulator_cn, accounts):
    from consortium.roles.membership import Institution

    Institution("applicant", accounts[8], registry).apply(["BROKER"], regulator_cn.address)
    assert accounts[8].address.lower() not in besu.allowlists(registry).accounts


def test_export__suspension_removes_member_operators_and_nodes_reinstatement_restores(
    registry, members, manager, accounts
):
    broker, _ = members
    before = besu.allowlists(registry)
    manager.suspend(broker.address, "sanctions screening")
    during = besu.allowlists(registry)
    assert broker.address.lower() not in during.accounts
    assert accounts[7].address.lower() not in during.accounts  # its operator
    assert ENODE.format(5) not in during.nodes
    manager.reinstate(broker.address, "cleared")
    assert besu.allowlists(registry) == before


def test_export__removed_node_and_operator_leave_the_lists(registry, members, manager, accounts):
    broker, _ = members
    node_id = registry.nodes()[0][0]
    registry.removeNode(node_id, {"from": manager.account})
    registry.removeOperator(accounts[7], {"from": broker.account})
    lists = besu.allowlists(registry)
    assert ENODE.format(5) not in lists.nodes
    assert accounts[7].address.lower() not in lists.accounts


def test_write_permissions_config__toml_lists_everything(registry, members, tmp_path):
    import tomllib

    lists = besu.allowlists(registry)
    path = besu.write_permissions_config(lists, tmp_path / "permissions_config.toml")
    parsed = tomllib.loads(path.read_text())
    assert tuple(parsed["accounts-allowlist"]) == lists.accounts
    assert tuple(parsed["nodes-allowlist"]) == lists.nodes


def test_push__applies_only_the_difference_and_is_idempotent(registry, members, manager, perm_node):
    broker, _ = members
    lists = besu.allowlists(registry)
    changes = besu.push(lists, perm_node.url)
    assert changes["accounts_removed"] == ["0x" + "99" * 20]
    assert set(changes["accounts_added"]) == set(lists.accounts)
    assert perm_node.accounts == set(lists.accounts) and perm_node.nodes == set(lists.nodes)

    manager.suspend(broker.address, "x")
    changes = besu.push(besu.allowlists(registry), perm_node.url)
    assert broker.address.lower() in changes["accounts_removed"]
    assert changes["accounts_added"] == [] and changes["nodes_added"] == []

    perm_node.calls.clear()
    again = besu.push(besu.allowlists(registry), perm_node.url)
    assert all(not v for v in again.values())
    assert perm_node.calls == ["perm_getAccountsAllowlist", "perm_getNodesAllowlist"]


def test_add_node__bad_input__reverts(registry, members, manager):
    import brownie

    broker, _ = members
    with brownie.reverts(revert_pattern=r"RegistryNodeExists:.*"):
        manager.add_node(broker.address, ENODE.format(5))
    with brownie.reverts(revert_pattern=r"RegistryEnodeInvalid: 5"):
        manager.add_node(broker.address, "enode")
    with brownie.reverts(revert_pattern=r"RegistryUnknownNode:.*"):
        registry.removeNode(b"\x01" * 32, {"from": manager.account})
    assert len(registry.nodes()[0]) == 2
