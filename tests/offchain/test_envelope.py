"""The one sealed envelope (consortium.envelope): a data key per value, AES-256-GCM, the key
wrapped per recipient with ECIES on secp256k1; used by channel messages and report fields alike."""

import json
import os

import pytest
from eth_keys import keys as eth_keys

from consortium.envelope import (
    ENVELOPE_VERSION,
    Envelope,
    EnvelopeMalformed,
    EnvelopeMisplaced,
    EnvelopeTampered,
    KeyPair,
    NotARecipient,
    open,
    public_key_of,
    seal,
)
from consortium.reporting.builder import open_record
from consortium.reporting.directory import key_of


@pytest.fixture(scope="module")
def keys():
    return {n: KeyPair.generate() for n in ("0xaa", "0xbb", "0xcc")}


def _sealed(keys, plaintext=b"amount 1500", to=("0xaa",), aad=b"rec1|f"):
    return seal(plaintext, [keys[a].public_key for a in to], aad=aad)


# ------------------------------------------------------------------ seal and open
def test_seal__each_recipient__opens_from_both_wire_forms(keys):
    env = _sealed(keys, b"beneficial owner 42", to=("0xaa", "0xbb"))
    for copy in (Envelope.from_json(env.to_json()), Envelope.from_bytes(env.to_bytes())):
        assert copy == env
        for a in ("0xaa", "0xbb"):
            assert open(copy, keys[a].private_key, aad=b"rec1|f") == b"beneficial owner 42"
    assert open(env.to_bytes(), keys["0xbb"].private_key.hex()) == b"beneficial owner 42"


def test_seal__ethereum_and_uncompressed_public_keys__are_accepted():
    sk = os.urandom(32)
    eth_pub = eth_keys.PrivateKey(sk).public_key.to_bytes()  # 64 bytes, no prefix
    assert len(eth_pub) == 64
    assert open(seal(b"x", [eth_pub]), sk) == b"x"
    assert open(seal(b"y", ["0x" + eth_pub.hex()]), sk) == b"y"
    assert public_key_of(sk) == KeyPair(sk).public_key and len(public_key_of(sk)) == 33


def test_open__not_a_recipient__refused_naming_no_one(keys):
    env = _sealed(keys, to=("0xaa", "0xbb"))
    with pytest.raises(NotARecipient, match="opens none of this envelope's 2 wrapped keys"):
        open(env, keys["0xcc"].private_key)


@pytest.mark.parametrize("part", ["ciphertext", "tag", "nonce", "aad"])
def test_open__altered_part__tampered(keys, part):
    data = _sealed(keys).to_json()
    b = bytearray.fromhex(data[part])
    b[0] ^= 1
    data[part] = b.hex()
    with pytest.raises(EnvelopeTampered, match="failed authentication"):
        open(Envelope.from_json(data), keys["0xaa"].private_key)


def test_open__altered_wrapped_key__opens_for_no_one(keys):
    data = _sealed(keys).to_json()
    w = bytearray.fromhex(data["wrapped"][0])
    w[-1] ^= 1
    data["wrapped"] = [w.hex()]
    with pytest.raises(NotARecipient):
        open(Envelope.from_json(data), keys["0xaa"].private_key)


def test_open__moved_to_other_record__misplaced(keys):
    env = _sealed(keys, b"v", aad=b"rec1|f")
    with pytest.raises(EnvelopeMisplaced, match="bound to b'rec1\\|f', not b'rec2\\|f'"):
        open(env, keys["0xaa"].private_key, aad=b"rec2|f")
    assert issubclass(EnvelopeMisplaced, EnvelopeTampered)
    # relabelled to the other record on the wire: the AAD is authenticated, so it fails too
    moved = Envelope(env.nonce, env.ciphertext, env.tag, env.wrapped, b"rec2|f")
    with pytest.raises(EnvelopeTampered, match="failed authentication"):
        open(moved, keys["0xaa"].private_key, aad=b"rec2|f")


def test_seal__fresh_data_key_per_value(keys):
    a, b = _sealed(keys, b"same"), _sealed(keys, b"same")
    assert a.ciphertext != b.ciphertext and a.nonce != b.nonce and a.wrapped != b.wrapped


def test_seal__no_recipient__error():
    with pytest.raises(ValueError, match="at least one recipient"):
        seal(b"x", [])


# ------------------------------------------------------------------ the wire form
def test_wire__canonical_json_of_the_dict_hides_plaintext_and_recipients(keys):
    env = _sealed(keys, b"confidential", to=("0xaa", "0xbb", "0xcc"), aad=b"kind")
    data = env.to_json()
    assert set(data) == {"v", "nonce", "ciphertext", "tag", "aad", "wrapped"}
    assert data["v"] == ENVELOPE_VERSION == 2 and len(data["wrapped"]) == 3
    assert env.to_bytes() == json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    assert env.digest() == Envelope.from_bytes(env.to_bytes()).digest() != _sealed(keys).digest()
    wire = env.to_bytes()
    assert b"confidential" not in wire
    for kp in keys.values():  # no recipient is named, by key or otherwise
        assert kp.public_key.hex().encode() not in wire


@pytest.mark.parametrize(
    "data",
    [
        b"this is not an envelope",
        b"[]",
        b'{"v": 1, "nonce": "", "ct": "", "tag": "", "aad": "", "to": []}',  # the old channel form
        b'{"v": 2, "nonce": "00", "ciphertext": "00", "tag": "00", "aad": ""}',
        b'{"v": 2, "nonce": "zz", "ciphertext": "", "tag": "", "aad": "", "wrapped": []}',
        b'{"v": 2, "nonce": 1, "ciphertext": "", "tag": "", "aad": "", "wrapped": []}',
        b'{"v": 2, "nonce": "", "ciphertext": "", "tag": "", "aad": "", "wrapped": "00"}',
    ],
)
def test_from_bytes__not_an_envelope_of_this_version__malformed(data):
    with pytest.raises(EnvelopeMalformed):
        Envelope.from_bytes(data)


def test_open__garbled_nonce_with_own_key__tampered_not_a_crash(keys):
    data = _sealed(keys).to_json()
    data["nonce"] = ""
    with pytest.raises(EnvelopeTampered):
        open(Envelope.from_json(data), keys["0xaa"].private_key)


# ------------------------------------------------------------------ in a report
def _record(keys, to=("0xaa",), rid="1:2:0xab:0:rule"):
    env = _sealed(keys, json.dumps("BEN-42").encode(), to=to, aad=f"{rid}|beneficiary".encode())
    return {
        "id": rid,
        "sealed": {
            "beneficiary": {"status": "sealed", "envelope": env.to_json()},
            "amount": {"status": "undisclosed"},
        },
    }


def test_open_record__entitled_not_entitled_moved_and_altered(keys):
    record = _record(keys)
    assert open_record(record, keys["0xaa"].private_key) == {
        "beneficiary": "BEN-42",
        "amount": "[undisclosed]",
    }
    assert open_record(record, keys["0xbb"].private_key)["beneficiary"] == "[sealed: not entitled]"
    moved = {**record, "id": "1:2:0xab:1:rule"}  # the same envelope under another record
    assert open_record(moved, keys["0xaa"].private_key)["beneficiary"].startswith(
        "[sealed: altered or moved"
    )
    record["sealed"]["beneficiary"]["envelope"]["tag"] = "00" * 16
    assert open_record(record, keys["0xaa"].private_key)["beneficiary"].startswith(
        "[sealed: altered or moved"
    )


def test_key_of__any_address_case_and_any_mapping():
    addr = "0x52908400098527886E0F7030069857D2E4169EE7"
    pub = KeyPair.generate().public_key
    assert key_of({addr: pub}, addr.lower()) == pub  # a dict of checksummed addresses
    assert key_of({addr.lower(): pub}, addr) == pub  # a directory keyed by lower case
    assert key_of({}, addr) is None and key_of(None, addr) is None
