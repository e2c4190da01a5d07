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


def _estimates_answered_after(lost: int) -> tuple[list, object]:
    """Switch to estimated gas over a node that loses the first `lost` estimates (a requests
    timeout each): the timeouts each attempt was given, and the estimate's answer or error."""
    import requests

    seen: list = []

    def node(*args, **kwargs):
        seen.append(w3.provider._request_kwargs.get("timeout"))
        if len(seen) <= lost:
            raise requests.Timeout("the node never answered")
        return 21_000

    w3.eth.estimate_gas = node  # the estimate chain.estimate_gas wraps
    retrying = w3.provider.exception_retry_configuration
    timeout = w3.provider._request_kwargs.get("timeout")
    chain.estimate_gas()
    try:
        try:
            answer: object = w3.eth.estimate_gas({"to": "0x" + "00" * 20})
        except requests.Timeout as exc:
            answer = exc
        assert w3.provider.exception_retry_configuration is retrying  # web3's retries back
        assert w3.provider._request_kwargs.get("timeout") == timeout  # and the network's timeout
        return seen, answer
    finally:
        chain.default_sending()


def test_estimate__lost_twice__asked_again_each_time_waiting_longer():
    seen, answer = _estimates_answered_after(lost=2)
    assert answer == 21_000
    assert seen == list(chain.ESTIMATE_TIMEOUTS[:3])


def test_estimate__never_answered__times_out_after_the_longest_wait():
    import requests

    seen, answer = _estimates_answered_after(lost=len(chain.ESTIMATE_TIMEOUTS))
    assert isinstance(answer, requests.Timeout)
    assert seen == list(chain.ESTIMATE_TIMEOUTS)
