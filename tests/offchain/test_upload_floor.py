"""The EIP-7623 floor the settlement bench sets upload gas against, and the 192-bit bucket fold."""

from eth_utils import keccak

from consortium.bench.settlement import calldata_floor, calldata_gas
from consortium.domain.clearing import Bucket, fold


def test_calldata_floor__zero_and_nonzero_bytes__eip7623_tokens():
    # 21,000 + 10 per token; a zero byte is one token, a non-zero byte four
    assert calldata_floor(b"") == 21_000
    assert calldata_floor(b"\x00" * 3) == 21_030
    assert calldata_floor(b"\x01\x00\xff") == 21_000 + 10 * (4 + 1 + 4)


def test_calldata_gas__standard_price__a_fraction_of_the_floor():
    # EIP-2028: 4 gas a zero byte, 16 a non-zero one; what the call pays before executing
    assert calldata_gas(b"") == 21_000
    assert calldata_gas(b"\x01\x00\xff") == 21_000 + 16 + 4 + 16
    data = bytes(range(256)) * 2
    assert calldata_gas(data) - 21_000 == (calldata_floor(data) - 21_000) * 4 // 10


def test_fold__keeps_low_192_bits_of_keccak():
    record = b"\x11" * 32
    h = fold(b"\x00" * 32, record)
    assert h == b"\x00" * 8 + keccak(b"\x00" * 32 + record)[8:]
    b = Bucket()
    b.add(record)
    b.add(record)
    assert b.as_tuple() == (2, fold(h, record))
    assert b.hash[:8] == b"\x00" * 8


def test_full_upload__signed__fits_the_128_kib_pools_accept_with_margin():
    """MAX_UPLOAD_BATCH is bound by size: geth's pool (and reth's) refuse a transaction over
    4 x 32 KiB. A Trade is static, so every full batch has this size whatever its values."""
    from eth_abi import encode
    from eth_account import Account
    from eth_utils import to_checksum_address

    from consortium.domain.clearing import TRADE_TYPES
    from consortium.roles.executions import TRADE_TUPLE, UPLOAD_SELECTOR
    from consortium.roles.settlement import MAX_UPLOAD_BATCH, TX_GAS_LIMIT

    filled = {"address": "0x" + "ff" * 20, "bytes32": b"\xff" * 32}
    top = tuple(filled.get(t, 1) for t in TRADE_TYPES)
    data = UPLOAD_SELECTOR + encode(
        ["bytes32", f"{TRADE_TUPLE}[]"], [b"\xff" * 32, [top] * MAX_UPLOAD_BATCH]
    )
    assert len(data) == 4 + 32 * 3 + 384 * MAX_UPLOAD_BATCH == 122_980
    tx = {
        "to": to_checksum_address("0x" + "ff" * 20),
        "data": data,
        "gas": TX_GAS_LIMIT,
        "gasPrice": 10**12,
        "nonce": 2**32,
        "value": 0,
        "chainId": 2**31,
    }
    raw = Account.sign_transaction(tx, b"\x01" * 32).raw_transaction
    assert 131_072 - len(raw) > 7 * 1024  # 123,098 bytes with the widest nonce, price and chain id
