"""Off-chain building blocks: Merkle trees (OZ format), EIP-712 signatures, channel endpoints,
stores (the envelope itself: test_envelope.py)."""

import os

import pandas as pd
import pytest
from eth_account import Account

from consortium import channels as C
from consortium.domain import eip712, merkle
from consortium.store import Store


def test_merkle__each_record_provable_and_tamper_detected():
    recs = [
        (20_454, os.urandom(32), "0x" + os.urandom(20).hex(), os.urandom(32)) for _ in range(33)
    ]
    tree = merkle.RecordTree(recs)
    assert merkle.root_of_leaves(tree.leaves) == tree.root
    for r in recs:
        assert merkle.verify(tree.root, r, tree.proof(r))
    bad = (*recs[0][:3], os.urandom(32))
    assert not merkle.verify(tree.root, bad, tree.proof(recs[0]))
    other_day = (recs[0][0] + 1, *recs[0][1:])
    assert not merkle.verify(tree.root, other_day, tree.proof(recs[0]))
    with pytest.raises(merkle.RecordNotInTree):
        tree.proof(bad)
    with pytest.raises(ValueError, match="duplicate"):
        merkle.RecordTree(recs + recs[:1])


def test_eip712__sign_recover_and_wrong_issuer():
    a, b = Account.create(), Account.create()
    dom = eip712.Domain(1337, "0x" + "11" * 20)
    q = eip712.Request(
        os.urandom(32), "0x" + "22" * 20, a.address, os.urandom(32), 1, 100, 10, os.urandom(32), 1
    )
    c = eip712.Confirmation(q.requestId, q.struct_hash(), a.address, 1, 100, 10, 5)
    assert (
        eip712.check_confirmation(dom, c, eip712.sign_confirmation(dom, c, a.key), {a.address})
        == a.address
    )
    with pytest.raises(eip712.ConfirmationSignerMismatch):
        eip712.check_confirmation(dom, c, eip712.sign_confirmation(dom, c, b.key), {a.address})
    other = eip712.Request(*q.values()[:5], 101, *q.values()[6:])
    with pytest.raises(ValueError, match="another version"):
        eip712.second_transaction_hash(other, c, b"\0" * 65)
    assert eip712.Confirmation.from_json(c.to_json()) == c


def test_endpoint__closed_channel_and_forged_sender(tmp_path):
    class Reg:
        open_ = True

        def channelOpen(self, a, b):
            return self.open_

    reg, d = Reg(), {}
    t = C.DirectoryMailbox(tmp_path)
    a = C.Endpoint("0xaa", os.urandom(32), t, d, reg)
    b = C.Endpoint("0xbb", os.urandom(32), t, d, reg)
    a.send("0xbb", "packet", {"n": 1})
    assert [m.body for m in b.receive(["packet"])] == [{"n": 1}] and b.receive() == []
    reg.open_ = False
    with pytest.raises(C.ChannelClosed):
        a.send("0xbb", "packet", {"n": 2})
    assert b.receive() == []
    reg.open_ = True
    mallory = C.Endpoint("0xcc", os.urandom(32), t, {**d, "0xaa": d["0xaa"]}, None)
    mallory.directory["0xbb"] = d["0xbb"]
    mallory.member = "0xaa"  # claims to be 0xaa but signs with its own key
    mallory.send("0xbb", "packet", {"n": 3})
    with pytest.raises(C.EnvelopeTampered, match="signed by another key"):
        b.receive()


def test_store__documents_details_journal_survive_reopen(tmp_path):
    s = Store.at(tmp_path / "x.sqlite")
    s.put("k", "a", {"v": 1})
    s.add_details("debit", 7, pd.DataFrame({"id": [1, 1], "amount": [2, 3]}))
    s.mark("step", "0xabc")
    s.mark("step", "0xdef")
    s2 = Store(s.url)
    assert s2.get("k", "a") == {"v": 1} and s2.get("k", "b") is None
    assert s2.details("debit", 7).amount.tolist() == [2, 3] and s2.details("credit", 7).empty
    assert s2.done("step") == "0xabc" and s2.done("other") is None
