"""Besu node allowlist entries: the permission manager adds and removes a member's enode URLs."""

import brownie
import pytest
from eth_utils import keccak

from consortium.domain.hashing import doc_hash

ENODE = "enode://" + "ab" * 64 + "@10.0.0.5:30303"


def _node_id(enode: str) -> str:
    return "0x" + keccak(text=enode).hex()


def test_addNode__new_enode__listed_with_owner(registry, manager, broker):
    tx = manager.add_node(broker.address, ENODE)
    ev = tx.events["NodeAdded"]
    assert (ev["member"], ev["nodeId"], ev["enode"]) == (broker.address, _node_id(ENODE), ENODE)
    assert registry.nodes() == ([_node_id(ENODE)], [broker.address], [ENODE])


@pytest.mark.parametrize("length", [20, 512])
def test_addNode__length_at_bounds__accepted(registry, manager, broker, length):
    enode = "e" * length
    manager.add_node(broker.address, enode)
    assert registry.nodes()[2] == [enode]


@pytest.mark.parametrize("length", [0, 19, 513])
def test_addNode__length_out_of_bounds__reverts_and_lists_nothing(
    registry, manager, broker, length
):
    with brownie.reverts(revert_pattern=rf"RegistryEnodeInvalid: {length}$"):
        manager.add_node(broker.address, "e" * length)
    assert registry.nodes() == ([], [], [])


def test_addNode__same_enode_twice__reverts_and_keeps_first_owner(
    registry, manager, broker, regulator_cn
):
    manager.add_node(broker.address, ENODE)
    with brownie.reverts(revert_pattern=r"RegistryNodeExists: .*"):
        manager.add_node(regulator_cn.address, ENODE)
    assert registry.nodes() == ([_node_id(ENODE)], [broker.address], [ENODE])


def test_addNode__suspended_member__reverts(registry, manager, broker):
    manager.suspend(broker.address, "sanctions screening")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        manager.add_node(broker.address, ENODE)
    assert registry.nodes() == ([], [], [])


def test_removeNode__listed__removed_and_event_names_owner(registry, manager, broker):
    manager.add_node(broker.address, ENODE)
    tx = registry.removeNode(_node_id(ENODE), {"from": manager.account})
    assert tx.events["NodeRemoved"]["member"] == broker.address
    assert tx.events["NodeRemoved"]["nodeId"] == _node_id(ENODE)
    assert registry.nodes() == ([], [], [])
    manager.add_node(broker.address, ENODE)  # a removed enode may be listed again
    assert registry.nodes()[0] == [_node_id(ENODE)]


def test_removeNode__unknown_id__reverts_and_keeps_the_list(registry, manager, broker):
    manager.add_node(broker.address, ENODE)
    unknown = doc_hash("no such enode")
    with brownie.reverts(revert_pattern=r"RegistryUnknownNode: .*"):
        registry.removeNode(unknown, {"from": manager.account})
    assert registry.nodes() == ([_node_id(ENODE)], [broker.address], [ENODE])
