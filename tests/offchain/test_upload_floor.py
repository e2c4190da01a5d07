"""The EIP-7623 floor the settlement bench sets upload gas against, and the 192-bit bucket fold."""

from eth_utils import keccak

from consortium.bench.settlement import calldata_floor
from consortium.domain.clearing import Bucket, fold


def test_calldata_floor__zero_and_nonzero_bytes__eip7623_tokens():
    # 21,000 + 10 per token; a zero byte is one token, a non-zero byte four
    assert calldata_floor(b"") == 21_000
    assert calldata_floor(b"\x00" * 3) == 21_030
    assert calldata_floor(b"\x01\x00\xff") == 21_000 + 10 * (4 + 1 + 4)


def test_fold__keeps_low_192_bits_of_keccak():
    record = b"\x11" * 32
    h = fold(b"\x00" * 32, record)
    assert h == b"\x00" * 8 + keccak(b"\x00" * 32 + record)[8:]
    b = Bucket()
    b.add(record)
    b.add(record)
    assert b.as_tuple() == (2, fold(h, record))
    assert b.hash[:8] == b"\x00" * 8
