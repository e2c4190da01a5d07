"""QBFT genesis extraData matches Besu's encoding."""

import pytest
import rlp

from consortium import besu

VALIDATORS = ["0x" + f"{i:02x}" * 20 for i in (1, 2, 3, 4)]


def test_extra_data__four_validators__has_besu_layout():
    extra = besu.qbft_extra_data(VALIDATORS)
    # the shape of Besu's documented QBFT example: list of 122 bytes, 32-byte vanity first,
    # then a list of four 20-byte addresses, empty vote list, round 0, empty seals
    assert extra.startswith("0xf87aa0" + "00" * 32 + "f854")
    assert extra.endswith("c080c0")
    _vanity, validators, vote, rnd, seals = rlp.decode(bytes.fromhex(extra[2:]))
    assert [("0x" + v.hex()) for v in validators] == VALIDATORS
    assert (vote, rnd, seals) == ([], b"", [])


def test_extra_data__no_validator__refused():
    with pytest.raises(ValueError, match="at least one validator"):
        besu.qbft_extra_data([])


def test_genesis__chain_id_and_shanghai_and_funding():
    g = besu.qbft_genesis(VALIDATORS, 2026, {VALIDATORS[0]: 5})
    assert g["config"]["chainId"] == 2026
    assert g["config"]["shanghaiTime"] == 0 and "cancunTime" not in g["config"]
    assert g["alloc"] == {"01" * 20: {"balance": "0x5"}}


def test_genesis__block_gas__holds_many_pipelined_calls():
    from consortium.txpipe import DEFAULT_GAS

    g = besu.qbft_genesis(VALIDATORS, 2026, {})
    # blocks pack by declared gas: at 30M a block would hold one of the day's pipelined calls
    assert int(g["gasLimit"], 16) // DEFAULT_GAS >= 50
