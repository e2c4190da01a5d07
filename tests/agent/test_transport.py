"""The agents' HTTP transport against a real registry: delivery, dedupe, retries, restarts.

Every server here is a real aiohttp server on a free port; members are admitted and channels
opened on the test chain, so the receiver's checks read the registry as an agent's would.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from eth_account import Account
from sqlalchemy import select

from consortium import channels as C
from consortium.agent import transport as T
from consortium.chain import free_port
from consortium.store import Store


# ------------------------------------------------------------------ cast
def _member(accounts, admit, regulator, name):
    key = Account.create()
    acct = accounts.add(key.key.hex())
    accounts[0].transfer(acct, "1 ether")
    return key, admit(acct, ["BROKER"], regulator=regulator, name=name)


@pytest.fixture(scope="module")
def cast(accounts, admit, connect, regulator_cn, manager):
    """alice <-> bob over an open channel; carol a member without one; mallory never applied."""
    alice, alice_inst = _member(accounts, admit, regulator_cn, "alice")
    bob, bob_inst = _member(accounts, admit, regulator_cn, "bob")
    carol, _ = _member(accounts, admit, regulator_cn, "carol")
    connect(alice_inst, bob_inst)
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "mallory": Account.create(),
        "alice_inst": alice_inst,
    }


@pytest.fixture(scope="module")
def membership(registry):
    return T.RegistryMembership(registry)


class Node:
    """One agent's transport side: file store, HttpTransport, and (once started) its server."""

    def __init__(self, path, account, membership, peers=None, clock=None):
        self.path, self.account, self.membership = path, account, membership
        self.store = Store.at(path / "store.sqlite")
        extra = {"clock": clock} if clock is not None else {}
        self.transport = T.HttpTransport(self.store, account, peers or {}, **extra)
        self.server = None

    def serve(self, port=0, on_message=None):
        app = T.make_app(self.store, self.account, self.membership, on_message=on_message)
        self.server = T.TransportServer(app, "127.0.0.1", port).start()
        return self.server.url

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server = None

    def endpoint(self, registry=None):
        return C.Endpoint(
            self.account.address,
            self.account.key,
            self.transport,
            self.transport.directory,
            registry,
        )

    def stored(self):
        with self.store.engine.connect() as c:
            return c.execute(select(T.transport_in)).all()


@pytest.fixture
def nodes(tmp_path, membership):
    made = []

    def make(name, account, peers=None, clock=None):
        node = Node(tmp_path / name, account, membership, peers, clock)
        made.append(node)
        return node

    yield make
    for node in made:
        node.stop()


@pytest.fixture
def bob_node(nodes, cast):
    node = nodes("bob", cast["bob"])
    node.serve()
    return node


def _post(url, payload, content_type="application/json"):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(
        url + T.MESSAGES_PATH, data=data, headers={"Content-Type": content_type}, timeout=10
    )


# ------------------------------------------------------------------ happy path
def test_send__open_channel__received_once_sender_verified_resend_acked(
    nodes, bob_node, cast, registry
):
    alice = nodes("alice", cast["alice"], {cast["bob"].address: bob_node.server.url})
    sent = alice.endpoint(registry).send(cast["bob"].address, "packet", {"n": 1})
    # alice learned bob's key from his signed identity answer, and kept it
    assert alice.transport.directory[cast["bob"].address] == T.address_key(cast["bob"])
    [out] = alice.transport.outgoing()
    assert (out["msg_id"], out["status"], out["attempts"]) == (sent.msg_id, "delivered", 0)

    bob = bob_node.endpoint(registry)
    [got] = bob.receive(["packet"])
    assert (got.msg_id, got.sender, got.body) == (sent.msg_id, cast["alice"].address, {"n": 1})
    assert bob_node.transport.sender_of(cast["bob"].address, sent.msg_id) == (
        cast["alice"].address.lower()
    )

    alice.transport.requeue(cast["bob"].address, sent.msg_id)  # as if the 200 had been lost
    report = alice.transport.deliver_pending()
    assert report.delivered == [sent.msg_id] and not report.refused
    assert bob.receive() == []
    assert len(bob_node.stored()) == 1


def test_receive__new_message_wakes_the_agent__a_resend_or_a_refusal_does_not(
    nodes, cast, registry
):
    """The server calls `on_message` (Agent.wake) once a new message is stored, so an idle agent
    handles it at once; a duplicate or a refused message stores nothing new and wakes nobody."""
    woken = []
    bob_node = nodes("bob", cast["bob"])
    bob_node.serve(on_message=lambda: woken.append(1))
    alice = nodes("alice", cast["alice"], {cast["bob"].address: bob_node.server.url})
    sent = alice.endpoint(registry).send(cast["bob"].address, "packet", {"n": 1})
    assert woken == [1]
    alice.transport.requeue(cast["bob"].address, sent.msg_id)  # as if the 200 had been lost
    assert alice.transport.deliver_pending().delivered == [sent.msg_id]
    r = _post(bob_node.server.url, {"not": "a message"})
    assert r.status_code == 400 and r.json()["refused"]
    assert woken == [1] and len(bob_node.stored()) == 1


def test_identity__checked_against_the_member_expected(bob_node, nodes, cast):
    alice = nodes("alice", cast["alice"])
    ident = alice.transport.fetch_identity(bob_node.server.url, cast["bob"].address)
    assert ident == T.Identity(cast["bob"].address, T.address_key(cast["bob"]))
    with pytest.raises(T.IdentityMismatch, match="not " + cast["carol"].address):
        alice.transport.fetch_identity(bob_node.server.url, cast["carol"].address)
    with pytest.raises(ValueError, match="must be the member's Ethereum key"):
        alice.transport.directory[cast["carol"].address] = T.address_key(cast["bob"])
    health = requests.get(bob_node.server.url + T.HEALTH_PATH, timeout=5).json()
    assert health == {"status": "ok", "address": cast["bob"].address}


# ------------------------------------------------------------------ hostile
def _wire(cast, signer="alice", to="bob", msg_id="m-1", body=b"sealed bytes"):
    return T.sign_wire(cast[signer], msg_id, cast[to].address, body)


def _tampered_body(cast, ctx):
    w = _wire(cast)
    w["body"] = base64.b64encode(b"sealed bytez").decode()
    return w


def _replayed(cast, ctx):
    assert _post(ctx["url"], _wire(cast, body=b"first")).status_code == 200
    return _wire(cast, body=b"second")


def _not_a_member(cast, ctx):
    return _wire(cast, signer="mallory")


def _suspended(cast, ctx):
    ctx["manager"].suspend(cast["alice"].address, "investigation")
    return _wire(cast)


def _no_channel(cast, ctx):
    return _wire(cast, signer="carol")


def _channel_closed(cast, ctx):
    ctx["registry"].closeChannel(
        cast["alice"].address,
        cast["bob"].address,
        b"\x01" * 32,
        {"from": cast["alice_inst"].account},
    )
    return _wire(cast)


def _wrong_recipient(cast, ctx):
    return _wire(cast, to="carol")


def _signed_by_another(cast, ctx):
    w = _wire(cast)
    w["signature"] = _wire(cast, signer="mallory")["signature"]
    return w


def _unrecoverable_signature(cast, ctx):
    w = _wire(cast)
    w["signature"] = "0x" + "00" * 64 + "1b"
    return w


def _missing_signature(cast, ctx):
    w = _wire(cast)
    del w["signature"]
    return w


def _sender_swapped(cast, ctx):
    w = _wire(cast)
    w["sender"] = cast["carol"].address
    return w


HOSTILE = {
    "body tampered in transit": (_tampered_body, "BadSignature", 401),
    "replayed id, other content": (_replayed, "Replayed", 409),
    "sender not a member": (_not_a_member, "NotAMember", 403),
    "suspended member": (_suspended, "SuspendedMember", 403),
    "no channel": (_no_channel, "ChannelClosed", 403),
    "channel closed": (_channel_closed, "ChannelClosed", 403),
    "wrong recipient": (_wrong_recipient, "WrongRecipient", 421),
    "signed by another key": (_signed_by_another, "BadSignature", 401),
    "sender field swapped": (_sender_swapped, "BadSignature", 401),
    "unrecoverable signature": (_unrecoverable_signature, "BadSignature", 401),
    "missing signature": (_missing_signature, "Malformed", 400),
    "not JSON": (lambda cast, ctx: b"{not json", "Malformed", 400),
    "a JSON list": (lambda cast, ctx: [1, 2], "Malformed", 400),
    "extra field": (lambda cast, ctx: {**_wire(cast), "x": 1}, "Malformed", 400),
    "version 2": (lambda cast, ctx: {**_wire(cast), "version": 2}, "Malformed", 400),
    "bad address": (lambda cast, ctx: {**_wire(cast), "sender": "0x12"}, "Malformed", 400),
    "body not base64": (lambda cast, ctx: {**_wire(cast), "body": "%%%"}, "Malformed", 400),
    "msg id with a slash": (lambda cast, ctx: {**_wire(cast), "msg_id": "a/b"}, "Malformed", 400),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_receive__hostile__refused_by_name_and_nothing_stored(
    case, bob_node, cast, registry, manager
):
    make, name, status = HOSTILE[case]
    ctx = {"url": bob_node.server.url, "registry": registry, "manager": manager}
    before = [tuple(r) for r in bob_node.stored()]
    payload = make(cast, ctx)
    if case == "replayed id, other content":
        before = [tuple(r) for r in bob_node.stored()]
    r = _post(bob_node.server.url, payload)
    assert (r.status_code, r.json()["refused"]) == (status, name), r.text
    assert r.json()["detail"]
    assert T.REFUSALS[name].reason.value == name
    assert [tuple(r) for r in bob_node.stored()] == before
    assert bob_node.transport.pending(cast["bob"].address) == [
        (m, b"first") for m in ["m-1"] if case == "replayed id, other content"
    ]


def test_receive__wrong_content_type_or_too_large__refused(nodes, cast, membership):
    bob = nodes("bob", cast["bob"])
    app = T.make_app(bob.store, cast["bob"], membership, max_body=2048)
    with T.TransportServer(app) as server:
        body = json.dumps(_wire(cast)).encode()
        r = _post(server.url, body, content_type="text/plain")
        assert (r.status_code, r.json()["refused"]) == (400, "Malformed")
        big = json.dumps(_wire(cast, body=b"x" * 4096)).encode()
        r = _post(server.url, big)
        assert (r.status_code, r.json()["refused"]) == (413, "TooLarge")
        assert _post(server.url, body).status_code == 200
    assert len(bob.stored()) == 1


def test_receiver__refusals_are_exception_classes(tmp_path, cast, membership):
    receiver = T.Receiver(Store.at(tmp_path / "s.sqlite"), cast["bob"].address, membership)
    with pytest.raises(T.NotAMember, match="not an active member"):
        receiver.accept(json.dumps(_wire(cast, signer="mallory")).encode())
    with pytest.raises(T.Malformed, match="not JSON"):
        receiver.accept(b"")
    assert receiver.accept(json.dumps(_wire(cast)).encode()).duplicate is False
    assert receiver.accept(json.dumps(_wire(cast)).encode()).duplicate is True


def test_put__peer_refuses__recorded_refused_not_retried(nodes, bob_node, cast, registry):
    alice = nodes("alice", cast["alice"], {cast["bob"].address: bob_node.server.url})
    registry.closeChannel(
        cast["alice"].address,
        cast["bob"].address,
        b"\x01" * 32,
        {"from": cast["alice_inst"].account},
    )
    with pytest.raises(T.ChannelClosed, match="refused message m-9"):
        alice.transport.put(cast["bob"].address, "m-9", b"sealed")
    [out] = alice.transport.outgoing()
    assert (out["status"], out["refused"]) == ("refused", "ChannelClosed")
    report = alice.transport.deliver_pending(force=True)
    assert report == T.DeliveryReport()
    assert bob_node.stored() == []
    with pytest.raises(T.UnknownPeer, match="nothing was sent"):
        alice.transport.put(cast["carol"].address, "m-10", b"sealed")


# ------------------------------------------------------------------ unreachable, restarts
def test_unreachable_peer__persisted_retried_with_backoff_delivered_once_when_back(
    nodes, cast, registry
):
    now = [1000.0]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    alice = nodes("alice", cast["alice"], {cast["bob"].address: url}, clock=lambda: now[0])
    alice.transport.directory[cast["bob"].address] = T.address_key(cast["bob"])  # known earlier
    sent = alice.endpoint(registry).send(cast["bob"].address, "packet", {"n": 7})
    [out] = alice.transport.outgoing()
    assert (out["status"], out["attempts"], out["next_attempt_at"]) == ("pending", 1, 1001.0)
    assert "ConnectionError" in out["last_error"]

    assert alice.transport.deliver_pending() == T.DeliveryReport()  # backoff not elapsed
    now[0] = 1001.0
    assert alice.transport.deliver_pending().retrying == [sent.msg_id]
    [out] = alice.transport.outgoing()
    assert (out["attempts"], out["next_attempt_at"]) == (2, 1003.0)  # 1 s, then 2 s

    bob = nodes("bob", cast["bob"])
    bob.serve(port)
    now[0] = 1003.0
    assert alice.transport.deliver_pending().delivered == [sent.msg_id]
    assert alice.transport.deliver_pending(force=True) == T.DeliveryReport()
    [got] = bob.endpoint().receive()
    assert (got.msg_id, got.body) == (sent.msg_id, {"n": 7})
    assert len(bob.stored()) == 1


def test_receiver_restart__persisted_message_survives_and_resend_is_not_new(
    nodes, cast, registry, membership
):
    bob = nodes("bob", cast["bob"])
    alice = nodes("alice", cast["alice"], {cast["bob"].address: bob.serve()})
    sent = alice.endpoint(registry).send(cast["bob"].address, "packet", {"n": 3})
    bob.stop()
    bob.store.engine.dispose()

    again = nodes("bob", cast["bob"])  # a new process would open the same file
    alice.transport.peers[cast["bob"].address.lower()] = again.serve()
    [got] = again.endpoint(registry).receive()
    assert (got.msg_id, got.sender, got.body) == (sent.msg_id, cast["alice"].address, {"n": 3})
    alice.transport.requeue(cast["bob"].address, sent.msg_id)
    assert alice.transport.deliver_pending().delivered == [sent.msg_id]
    assert again.endpoint().receive() == []
    assert len(again.stored()) == 1


# ------------------------------------------------------------------ small parts
def test_backoff__doubles_then_caps():
    b = T.Backoff(base=1.0, factor=2.0, cap=10.0)
    assert [b.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_recover__same_signer_as_eth_account():
    from eth_account.messages import encode_defunct

    acct = Account.create()
    text = T.wire_text("id", acct.address, acct.address, "00" * 32)
    sig = T.sign_text(acct, text)
    assert T.recover(text, sig) == (acct.address, T.address_key(acct))
    assert Account.recover_message(encode_defunct(text=text), signature=sig) == acct.address
    assert T.address_of_key(T.address_key(acct)) == acct.address


def test_transport__in_memory_sqlite__refused_with_a_reason(cast):
    with pytest.raises(ValueError, match="file store"):
        T.HttpTransport(Store(), cast["alice"])


class _FlakyChain:
    """A registry that is unreachable for the first `down` questions, then answers from `real`."""

    def __init__(self, real, down):
        self.real, self.down = real, down

    def _ask(self, name, *args):
        if self.down > 0:
            self.down -= 1
            raise ConnectionError("chain node unreachable")
        return getattr(self.real, name)(*args)

    def is_active(self, member):
        return self._ask("is_active", member)

    def is_suspended(self, member):
        return self._ask("is_suspended", member)

    def channel_open(self, a, b):
        return self._ask("channel_open", a, b)


def test_receiver_cannot_read_the_chain__503_nothing_stored_and_sender_retries(
    nodes, cast, membership
):
    now = [0.0]
    bob = nodes("bob", cast["bob"])
    bob.membership = _FlakyChain(membership, down=1)
    alice = nodes("alice", cast["alice"], {cast["bob"].address: bob.serve()}, lambda: now[0])
    alice.transport.put(cast["bob"].address, "m-1", b"sealed")
    [out] = alice.transport.outgoing()
    assert (out["status"], out["attempts"]) == ("pending", 1)
    assert out["last_error"].startswith("HTTP 503") and bob.stored() == []
    now[0] = 1.0
    assert alice.transport.deliver_pending().delivered == ["m-1"]
    assert bob.transport.pending(cast["bob"].address) == [("m-1", b"sealed")]


def test_endpoint__member_relays_another_members_message__refused_on_receive(nodes, bob_node, cast):
    """carol seals and signs for bob; alice (who has the channel) delivers it as her own."""
    captured = []

    class Capture:
        def put(self, to, msg_id, data):
            captured.append((msg_id, data))

    carol = C.Endpoint(cast["carol"].address, cast["carol"].key, Capture(), {})
    carol.directory[cast["bob"].address.lower()] = T.address_key(cast["bob"])
    carol.send(cast["bob"].address, "packet", {"forged": True})
    alice = nodes("alice", cast["alice"], {cast["bob"].address: bob_node.server.url})
    alice.transport.put(cast["bob"].address, *captured[0])
    bob = bob_node.endpoint()
    bob.directory[cast["carol"].address] = T.address_key(cast["carol"])
    with pytest.raises(C.EnvelopeTampered, match="delivered by " + cast["alice"].address.lower()):
        bob.receive()
