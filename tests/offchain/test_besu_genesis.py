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


# ---------------------------------------------------------------- the genesis against Besu's rules


def _genesis(**changes):
    g = besu.qbft_genesis(VALIDATORS, 2026, {VALIDATORS[0]: 5})
    for path, value in changes.items():
        node, *keys = path.split("__")
        target = g if node == "top" else g[node]
        for k in keys[:-1]:
            target = target[k]
        if value is None:
            target.pop(keys[-1])
        else:
            target[keys[-1]] = value
    return g


def test_check_genesis__generated__validators_decoded_back_and_limits():
    facts = besu.check_genesis(_genesis())
    assert facts.validators == tuple(VALIDATORS)  # RLP-decoded from extraData
    assert facts.chain_id == 2026
    assert facts.gas_limit == besu.GENESIS_GAS_LIMIT >= besu.MIN_BLOCK_GAS
    assert facts.block_period_seconds == 2


def test_check_genesis__written_by_the_cli__passes(tmp_path):
    import json

    from consortium import cli

    out = tmp_path / "genesis.json"
    assert cli.main(["besu-genesis", "--validators", *VALIDATORS, "--out", str(out)]) == 0
    assert besu.check_genesis(json.loads(out.read_text())).validators == tuple(VALIDATORS)


def _extra(body) -> str:
    return "0x" + rlp.encode(body).hex()


ADDR = [bytes.fromhex(v[2:]) for v in VALIDATORS]


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"config__qbft": None}, besu.GenesisConsensusInvalid, "QBFT alone, names none"),
        ({"config__ibft2": {}}, besu.GenesisConsensusInvalid, r"names \['qbft', 'ibft2'\]"),
        ({"config__qbft__blockperiodseconds": 0}, besu.GenesisConsensusInvalid, "positive"),
        ({"config__qbft__epochlength": "30000"}, besu.GenesisConsensusInvalid, "epochlength"),
        ({"config__qbft__requesttimeoutseconds": 2}, besu.GenesisConsensusInvalid, "exceed"),
        ({"config__chainId": None}, besu.GenesisChainIdInvalid, "got None"),
        ({"config__chainId": 0}, besu.GenesisChainIdInvalid, "got 0"),
        ({"config__chainId": True}, besu.GenesisChainIdInvalid, "got True"),
        ({"top__gasLimit": hex(30_000_000 // 2)}, besu.GenesisGasLimitInvalid, "EIP-7825"),
        ({"top__gasLimit": hex(2**63)}, besu.GenesisGasLimitInvalid, "Java long"),
        ({"top__gasLimit": "1000000000"}, besu.GenesisGasLimitInvalid, "hex quantity"),
        ({"top__mixHash": "0x" + "00" * 32}, besu.GenesisHeaderInvalid, "mixHash"),
        ({"top__difficulty": "0x2"}, besu.GenesisHeaderInvalid, "difficulty"),
        ({"top__extraData": "0xzz"}, besu.GenesisExtraDataInvalid, "not RLP"),
        ({"top__extraData": _extra([b"\0" * 32, ADDR])}, besu.GenesisExtraDataInvalid, "five"),
        (
            {"top__extraData": _extra([b"\0" * 31, ADDR, [], 0, []])},
            besu.GenesisExtraDataInvalid,
            "vanity",
        ),
        (
            {"top__extraData": _extra([b"\0" * 32, [], [], 0, []])},
            besu.GenesisExtraDataInvalid,
            "no validator",
        ),
        (
            {"top__extraData": _extra([b"\0" * 32, [ADDR[0][:19]], [], 0, []])},
            besu.GenesisExtraDataInvalid,
            "20-byte",
        ),
        (
            {"top__extraData": _extra([b"\0" * 32, [ADDR[0], ADDR[0]], [], 0, []])},
            besu.GenesisExtraDataInvalid,
            "twice",
        ),
        (
            {"top__extraData": _extra([b"\0" * 32, ADDR, [], 1, []])},
            besu.GenesisExtraDataInvalid,
            "round 0",
        ),
        (
            {"top__extraData": _extra([b"\0" * 32, ADDR, [], 0, [b"\1" * 65]])},
            besu.GenesisExtraDataInvalid,
            "no seals",
        ),
    ],
)
def test_check_genesis__breaks_a_rule__named(changes, error, message):
    with pytest.raises(error, match=message):
        besu.check_genesis(_genesis(**changes))
