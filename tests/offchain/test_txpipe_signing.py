"""The pipe's fast signer must produce exactly what eth_account signs (the node checks the bytes)."""

from coincurve import PrivateKey
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.txpipe import sign_legacy

KEYS = st.binary(min_size=32, max_size=32).filter(
    lambda k: 0 < int.from_bytes(k, "big") < 2**256 - 2**32 - 977
)  # a valid secp256k1 scalar (below the curve order)


@settings(max_examples=40, deadline=None)
@given(
    key=KEYS,
    nonce=st.integers(0, 2**40),
    gas_price=st.integers(0, 10**12),
    gas=st.integers(21_000, 30_000_000),
    to=st.binary(min_size=20, max_size=20),
    value=st.integers(0, 10**24),
    data=st.binary(max_size=300),
    chain_id=st.sampled_from([1, 1337, 2026, 31337]),
)
def test_sign_legacy__any_transaction__same_raw_bytes_and_hash_as_eth_account(
    key, nonce, gas_price, gas, to, value, data, chain_id
):
    tx = {
        "nonce": nonce,
        "gasPrice": gas_price,
        "gas": gas,
        "to": "0x" + to.hex(),
        "value": value,
        "data": "0x" + data.hex(),
        "chainId": chain_id,
    }
    expected = Account.sign_transaction(dict(tx, to=to_checksum_address(to)), key)
    raw, txid = sign_legacy(tx, PrivateKey(key))
    assert raw == "0x" + expected.raw_transaction.hex()
    assert txid == "0x" + expected.hash.hex()


def test_sign_legacy__recovered_sender__is_the_key_holder():
    key = bytes(range(1, 33))
    tx = {
        "nonce": 3,
        "gasPrice": 10**9,
        "gas": 50_000,
        "to": "0x" + "ab" * 20,
        "value": 0,
        "data": "0x1234",
        "chainId": 31337,
    }
    raw, _ = sign_legacy(tx, PrivateKey(key))
    assert Account.recover_transaction(raw) == Account.from_key(key).address


def test_blocks_for__a_stalled_backlog__as_many_blocks_as_its_gas_needs_not_one_each():
    from types import SimpleNamespace

    from consortium.txpipe import DEFAULT_GAS, TxPipe

    pipe = object.__new__(TxPipe)
    pipe._block_gas, pipe.gas = 30_000_000, DEFAULT_GAS

    def phase(*gases):
        return [SimpleNamespace(txid=f"0x{i}", tx={"gas": g}) for i, g in enumerate(gases)]

    estimated = phase(*[150_000] * 300)
    assert pipe._blocks_for([p.txid for p in estimated], estimated) == 2  # 200 a block
    fixed = phase(*[DEFAULT_GAS] * 3)  # the fixed limit: one a block
    assert pipe._blocks_for([p.txid for p in fixed], fixed) == 3
    mixed = phase(150_000, 7_000_000, 150_000)  # a refusal's limit sets the pace
    assert pipe._blocks_for(["0x0", "0x1"], mixed) == 1  # only what is still waiting counts
    assert pipe._blocks_for([p.txid for p in mixed], mixed) == 1


def test_estimate_parts__bounded_by_count_and_calldata_size_in_order():
    from consortium.txpipe import _by_size

    txs = [{"data": "0x" + "00" * n, "i": i} for i, n in enumerate([10, 10, 400, 10, 600, 10])]
    parts = _by_size(txs, most=2, most_bytes=1_000)
    assert [[t["i"] for t in p] for p in parts] == [[0, 1], [2, 3], [4], [5]]
    big = [{"data": "0x" + "00" * 5_000}]  # larger than a part: sent alone
    assert _by_size(big, most=500, most_bytes=1_000) == [big]
    assert _by_size([], most=500, most_bytes=1_000) == []


def test_batch__refused_as_a_whole_by_the_node__named_not_misread():
    import pytest

    from consortium.txpipe import TxPipe, TxPipeError

    pipe = object.__new__(TxPipe)
    pipe._post = lambda body, timeout=120: {  # anvil's answer to a 4.5 MB batch
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "Invalid request"},
    }
    with pytest.raises(TxPipeError, match=r"eth_estimateGas batch of 2: .*Invalid request"):
        pipe.batch("eth_estimateGas", [[{}], [{}]])
    assert pipe.batch("eth_estimateGas", []) == []


def _reads_through(answers):
    """A pipe whose node answers each eth_call batch from `answers` (one reply list per batch),
    keeping the batches asked."""
    from consortium.txpipe import TxPipe

    pipe, asked = object.__new__(TxPipe), []

    def post(body, timeout=120):
        asked.append([(r["params"][0]["to"], r["params"][1]) for r in body])
        return [dict(reply, id=r["id"]) for r, reply in zip(body, answers.pop(0))]

    pipe._post = post
    return pipe, asked


GONE = {
    "error": {
        "code": -32000,
        "message": "BlockOutOfRangeError: block height is 280 but requested was 277",
    }
}


def test_call_batch__latest_block_dropped_mid_batch__those_reads_asked_again():
    pipe, asked = _reads_through(
        [[{"result": "0x01"}, GONE, GONE], [{"result": "0x02"}, GONE], [{"result": "0x03"}]]
    )
    calls = [{"to": f"0x{n}"} for n in range(3)]
    assert pipe.call_batch(calls) == [("0x01", None), ("0x02", None), ("0x03", None)]
    assert asked == [
        [("0x0", "latest"), ("0x1", "latest"), ("0x2", "latest")],
        [("0x1", "latest"), ("0x2", "latest")],
        [("0x2", "latest")],
    ]


def test_call_batch__at_a_given_block_or_dropped_every_time__the_error_stands():
    pipe, asked = _reads_through([[GONE]])
    ((data, error),) = pipe.call_batch([{"to": "0x0"}], block=277)
    assert data is None and "BlockOutOfRange" in error and asked == [[("0x0", "0x115")]]
    pipe, asked = _reads_through([[GONE]] * 4)
    ((data, error),) = pipe.call_batch([{"to": "0x0"}])
    assert data is None and "BlockOutOfRange" in error and len(asked) == 4  # 1 + LATEST_RETRIES
