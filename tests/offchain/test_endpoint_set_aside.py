"""Endpoint.receive(refuse=...): a message that cannot be opened or verified is set aside (recorded,
acknowledged) so the messages behind it are still delivered; without `refuse` it raises as before.
"""

from __future__ import annotations

import os

import pytest

from consortium import channels as C


def _pair(tmp_path):
    t, d = C.DirectoryMailbox(tmp_path), {}
    a = C.Endpoint("0xaa", os.urandom(32), t, d)
    b = C.Endpoint("0xbb", os.urandom(32), t, d)
    return t, a, b


def test_receive__garbage_between_good_messages__set_aside_and_the_rest_delivered(tmp_path):
    t, a, b = _pair(tmp_path)
    a.send("0xbb", "packet", {"n": 1})
    t.put("0xbb", "garbage", b"this is not an envelope")
    a.send("0xbb", "packet", {"n": 2})
    refused = []
    got = b.receive(["packet"], refuse=lambda msg_id, exc: refused.append((msg_id, exc)))
    assert [m.body for m in got] == [{"n": 1}, {"n": 2}]
    assert [r[0] for r in refused] == ["garbage"] and isinstance(refused[0][1], ValueError)
    assert t.pending("0xbb") == []  # the bad one acknowledged too: it never blocks again


def test_receive__without_refuse__a_bad_message_raises_and_stays_pending(tmp_path):
    t, a, b = _pair(tmp_path)
    t.put("0xbb", "garbage", b"this is not an envelope")
    a.send("0xbb", "packet", {"n": 1})
    with pytest.raises(ValueError):
        b.receive()
    pending = [msg_id for msg_id, _ in t.pending("0xbb")]
    assert len(pending) == 2 and pending[:1] == ["garbage"]


def test_receive__forged_sender_with_refuse__set_aside_as_tampered_ack_false_keeps_good(tmp_path):
    t, a, b = _pair(tmp_path)
    mallory = C.Endpoint("0xcc", os.urandom(32), t, dict(b.directory))
    mallory.member = "0xaa"  # claims to be 0xaa, signs with its own key
    mallory.send("0xbb", "packet", {"n": 666})
    good = a.send("0xbb", "packet", {"n": 1})
    refused = []
    got = b.receive(ack=False, refuse=lambda msg_id, exc: refused.append(exc))
    assert [m.body for m in got] == [{"n": 1}]
    assert len(refused) == 1 and isinstance(refused[0], C.EnvelopeTampered)
    assert [msg_id for msg_id, _ in t.pending("0xbb")] == [good.msg_id]  # only the good one left
