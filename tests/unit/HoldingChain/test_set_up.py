"""setHolder and linkClient: the chain as the consortium file describes it, refusals by name."""

import brownie
import pytest

from consortium import chain as project_chain
from tests.stateful.machine import named_error

ZERO = "0x" + "0" * 40


@pytest.fixture(scope="module")
def fresh(settlement_suite, registry, registry_admin):
    return project_chain.project().HoldingChain.deploy(
        registry, settlement_suite["SettlementEngine"], {"from": registry_admin}
    )


def test_set_holder__tier_and_investors_recorded(fresh, registry_admin, accounts):
    tx = fresh.setHolder(accounts[9], 1, True, {"from": registry_admin})
    assert tx.events["HolderSet"]["party"] == accounts[9] and tx.events["HolderSet"]["tier"] == 1
    assert tuple(fresh.holderOf(accounts[9])) == (1, True)
    fresh.setHolder(accounts[9], 1, False, {"from": registry_admin})  # investors may change
    assert tuple(fresh.holderOf(accounts[9])) == (1, False)


def test_set_holder__bad_tier_zero_party_or_tier_changed__reverts(fresh, registry_admin, accounts):
    for tier in (0, 9):
        with brownie.reverts(
            revert_pattern=named_error("HoldingBadTier", accounts[9].address, tier, 8)
        ):
            fresh.setHolder(accounts[9], tier, True, {"from": registry_admin})
    with brownie.reverts(revert_pattern=named_error("HoldingZeroParty")):
        fresh.setHolder(ZERO, 1, True, {"from": registry_admin})
    fresh.setHolder(accounts[9], 1, True, {"from": registry_admin})
    with brownie.reverts(revert_pattern=named_error("HoldingTierInUse", accounts[9].address, 1)):
        fresh.setHolder(accounts[9], 2, True, {"from": registry_admin})
    assert tuple(fresh.holderOf(accounts[9])) == (1, True)


def test_link_client__higher_tier_once__linked(fresh, registry_admin, accounts):
    fresh.setHolder(accounts[9], 1, True, {"from": registry_admin})
    fresh.setHolder(accounts[12], 2, True, {"from": registry_admin})
    tx = fresh.linkClient(accounts[9], accounts[12], {"from": registry_admin})
    assert tx.events["ClientLinked"]["client"] == accounts[12]
    assert fresh.isClient(accounts[9], accounts[12]) and not fresh.isClient(
        accounts[12], accounts[9]
    )
    with brownie.reverts(
        revert_pattern=named_error(
            "HoldingAlreadyLinked", accounts[9].address, accounts[12].address
        )
    ):
        fresh.linkClient(accounts[9], accounts[12], {"from": registry_admin})


def test_link_client__not_configured_or_tier_not_higher__reverts(fresh, registry_admin, accounts):
    fresh.setHolder(accounts[9], 1, True, {"from": registry_admin})
    fresh.setHolder(accounts[10], 1, True, {"from": registry_admin})
    with brownie.reverts(
        revert_pattern=named_error("HoldingNotIntermediary", accounts[12].address)
    ):
        fresh.linkClient(accounts[9], accounts[12], {"from": registry_admin})
    with brownie.reverts(
        revert_pattern=named_error("HoldingNotIntermediary", accounts[12].address)
    ):
        fresh.linkClient(accounts[12], accounts[9], {"from": registry_admin})
    with brownie.reverts(
        revert_pattern=named_error(
            "HoldingTierOrder", accounts[9].address, 1, accounts[10].address, 1
        )
    ):
        fresh.linkClient(accounts[9], accounts[10], {"from": registry_admin})
    assert not fresh.isClient(accounts[9], accounts[10])
