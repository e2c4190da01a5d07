"""The permissions_config.toml exported for Besu, parsed with a TOML library, against the registry's
membership read over raw JSON-RPC (`eth_call` with hand-encoded selectors, no brownie contract
object): what an operator checks a node's allowlists with. After admission and after a suspension.
"""

import pytest
from brownie import web3

from consortium import besu

ENODE = "enode://" + "cd" * 64 + "@10.1.0.{}:30303"


@pytest.fixture(scope="module")
def consortium(admit, manager, regulator_cn, accounts):
    bank = admit(accounts[9], ["BROKER"], regulator=regulator_cn)
    insurer = admit(accounts[10], ["CUSTODIAN"], regulator=regulator_cn)
    bank.add_operator(accounts[11].address)
    manager.add_node(bank.address, ENODE.format(9))
    manager.add_node(insurer.address, ENODE.format(10))
    return bank, insurer


def _exported(registry, tmp_path) -> besu.Allowlists:
    path = besu.write_permissions_config(besu.allowlists(registry), tmp_path / "perm.toml")
    return besu.read_permissions_config(path.read_text(), str(path))


def test_permissions_config__equals_membership_read_over_json_rpc(
    registry, consortium, manager, regulator_cn, accounts, tmp_path
):
    bank, insurer = consortium
    over_rpc = besu.allowlists_over_rpc(web3.provider.endpoint_uri, registry.address)
    expected = {a.lower() for a in (manager.address, regulator_cn.address, bank.address)}
    expected |= {insurer.address.lower(), accounts[11].address.lower()}  # the bank's operator
    assert set(over_rpc.accounts) == expected
    assert over_rpc.nodes == (ENODE.format(10), ENODE.format(9))
    assert _exported(registry, tmp_path) == over_rpc


def test_permissions_config__after_suspension__still_equals_json_rpc_membership(
    registry, consortium, manager, accounts, tmp_path
):
    bank, _ = consortium
    manager.suspend(bank.address, "sanctions screening")
    over_rpc = besu.allowlists_over_rpc(web3.provider.endpoint_uri, registry.address)
    assert bank.address.lower() not in over_rpc.accounts
    assert accounts[11].address.lower() not in over_rpc.accounts
    assert over_rpc.nodes == (ENODE.format(10),)
    assert _exported(registry, tmp_path) == over_rpc


def test_allowlists_over_rpc__not_a_registry__named_rpc_error(accounts):
    with pytest.raises(besu.RegistryReadError, match="members\\(\\) at 0x.*no registry there"):
        besu.allowlists_over_rpc(web3.provider.endpoint_uri, accounts[18].address)
