"""The agents' sending settings (estimated gas, a short estimate timeout) are process-wide: a test
that acts as an agent in the test process must be able to hand the worker back its defaults."""

from __future__ import annotations

from brownie import network
from brownie._config import CONFIG
from brownie.network.web3 import web3 as w3

from consortium import chain


def test_default_sending__after_estimate_gas__network_settings_and_timeout_restored():
    settings = CONFIG.active_network["settings"]
    before = {
        key: settings.get(key) for key in ("gas_limit", "gas_buffer", "reverting_tx_gas_limit")
    }
    chain.estimate_gas(buffer=1.5, reverting=6_000_000)
    try:
        assert network.gas_limit() is False  # "auto": each send is estimated
        assert settings["gas_buffer"] == 1.5 and settings["reverting_tx_gas_limit"] == 6_000_000
        assert hasattr(w3.eth.estimate_gas, "_untimed")  # estimates time out early
        chain.estimate_gas()  # twice: the first call's originals are the ones restored
    finally:
        chain.default_sending()
    assert {key: settings.get(key) for key in before} == before
    assert not hasattr(w3.eth.estimate_gas, "_untimed")


def test_default_sending__never_switched__changes_nothing():
    settings = dict(CONFIG.active_network["settings"])
    chain.default_sending()
    assert dict(CONFIG.active_network["settings"]) == settings
