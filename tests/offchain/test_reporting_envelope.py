"""Envelope encryption: a data key per value, wrapped per recipient (ECIES secp256k1 + AES-GCM)."""

import pytest

from consortium.reporting.envelope import Envelope, EnvelopeError, KeyPair, open_envelope, seal


@pytest.fixture(scope="module")
def keys():
    return {n: KeyPair.generate() for n in ("0xaa", "0xbb", "0xcc")}


def test_seal__each_recipient__opens(keys):
    env = seal(
        b"beneficial owner 42", {a: keys[a].public_key for a in ("0xaa", "0xbb")}, aad=b"rec1|f"
    )
    env = Envelope.from_json(env.to_json())
    for a in ("0xaa", "0xbb"):
        assert open_envelope(env, a, keys[a].private_key, aad=b"rec1|f") == b"beneficial owner 42"


def test_open__not_recipient__refused(keys):
    env = seal(b"x", {"0xaa": keys["0xaa"].public_key})
    with pytest.raises(EnvelopeError, match="0xcc is not a recipient"):
        open_envelope(env, "0xcc", keys["0xcc"].private_key)
    with pytest.raises(EnvelopeError, match="does not open"):
        open_envelope(env, "0xaa", keys["0xcc"].private_key)


@pytest.mark.parametrize("part", ["ciphertext", "tag", "nonce"])
def test_open__altered__refused(keys, part):
    data = seal(b"amount 1500", {"0xaa": keys["0xaa"].public_key}).to_json()
    b = bytearray.fromhex(data[part])
    b[0] ^= 1
    data[part] = b.hex()
    with pytest.raises(EnvelopeError):
        open_envelope(Envelope.from_json(data), "0xaa", keys["0xaa"].private_key)


def test_open__moved_to_other_record__refused(keys):
    env = seal(b"v", {"0xaa": keys["0xaa"].public_key}, aad=b"rec1|f")
    with pytest.raises(EnvelopeError):
        open_envelope(env, "0xaa", keys["0xaa"].private_key, aad=b"rec2|f")


def test_seal__fresh_data_key_per_value(keys):
    a = seal(b"same", {"0xaa": keys["0xaa"].public_key})
    b = seal(b"same", {"0xaa": keys["0xaa"].public_key})
    assert a.ciphertext != b.ciphertext and a.keys != b.keys


def test_seal__no_recipient__error():
    with pytest.raises(EnvelopeError, match="at least one key"):
        seal(b"x", {})
