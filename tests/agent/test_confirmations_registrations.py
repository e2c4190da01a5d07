"""The sales bank's registrations pipelined (issue 14): a `customers` file read from the chain in
one batch, the missing commitments posted through the agent's TxPipe without waiting for each, one
"registrations" message per issuer and chunk; the issuer decides a message's pending registrations
in one phase and answers once ("registration-results").

The agents are the real runtime (consortium.agent.base.Agent over a home, its inbox, store, roles
and key) stepped in this process; their endpoints share one DirectoryMailbox, so the messages
between them can be counted and replayed. A crash is an exception at a chosen point and a restart
a new Agent over the same home (the SIGKILL of a real process is in test_confirmations_agents).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium.agent.base import Agent
from consortium.agent.lines import confirmations as lines
from consortium.channels import DirectoryMailbox, Endpoint
from consortium.domain.hashing import doc_hash
from tests.agent import test_confirmations_rules_payment as rules_payment
from tests.agent.harness import (
    World,
    csv_text,
    drop,
    result_of,
)
from tests.agent.test_confirmations_rules_payment import _agent, _process

world = rules_payment.world  # that module's deployed consortium, a fixture of this module too

IDS = ("sales-bank", "wm-issuer-1", "wm-issuer-2")
HEADER = ["customer_id", "issuer", "birth_date", "risk_level", "kyc_ok"]


class Day:
    """The three agents over `folder`, their endpoints on one shared mailbox."""

    def __init__(self, world: World, folder: Path):
        self.world, self.folder = world, folder
        self.mailbox = DirectoryMailbox(folder / "mailbox")
        self.directory: dict[str, bytes] = {}
        self.agents: dict[str, Agent] = {}
        for ident in IDS:
            self.restart(ident)

    def restart(self, ident: str) -> Agent:
        """A new Agent over the institution's home (a restarted process)."""
        agent = _agent(self.world, ident, self.folder)
        me = str(agent.account.address)
        registry = self.world.suite.registry
        agent._endpoint = Endpoint(
            me, bytes(agent.local.key), self.mailbox, self.directory, registry
        )
        self.agents[ident] = agent
        return agent

    def tick(self, *idents: str) -> None:
        for ident in idents:
            for role in self.agents[ident].roles:
                role.tick()

    def waiting(self, ident: str) -> list[str]:
        """Kinds of the messages waiting for `ident` (sealed: the kind is the envelope's aad)."""
        from consortium.envelope import Envelope

        box = self.mailbox.pending(self.world.addresses[ident])
        return [Envelope.from_bytes(data).aad.decode() for _, data in box]

    def home(self, ident: str) -> Path:
        return self.folder / ident

    def outbox(self, ident: str = "sales-bank") -> dict[str, dict]:
        folder = self.folder / ident / "outbox" / "registrations"
        return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _rows(n: int) -> list[list]:
    """`n` customers, each with both issuers; the last one's KYC failed."""
    rows = []
    for k in range(n):
        kyc = "no" if k == n - 1 else "yes"
        for issuer in ("wm-issuer-1", "wm-issuer-2"):
            rows.append([f"C-{k}", issuer, "1980-04-02", 4, kyc])
    return rows


def _customers(day: Day, rows: list[list] | None, name: str = "customers-1.csv") -> dict | None:
    """Drop the file at the sales bank (`rows` None: the one in its inbox) and process it; its
    done/ result (None if not done)."""
    bank = day.agents["sales-bank"]
    if rows is not None:
        drop(bank.home, name, csv_text(HEADER, rows))
    _process(bank)
    done = result_of(bank.home, "done", name)
    return done and done["result"]


def _events(world: World, name: str, start: int) -> list:
    anchor = world.suite["ConfirmationAnchor"]
    return [e.args for e in anchor.events.get_sequence(start, event_type=name)]


def _block(web3) -> int:
    return web3.eth.block_number + 1


def test_register__customers_file__one_message_per_issuer__each_decided_once(world, tmp_path, web3):
    day, start = Day(world, tmp_path), _block(web3)
    rows = _rows(5)
    result = _customers(day, rows)
    assert result == {"customers": 10, "registrations_sent": 10, "refused": []}
    assert len(_events(world, "RegistrationSubmitted", start)) == 10
    assert day.waiting("wm-issuer-1") == day.waiting("wm-issuer-2") == ["registrations"]

    day.tick("wm-issuer-1", "wm-issuer-2")
    decided = _events(world, "RegistrationDecided", start)
    assert sorted(bool(e["accepted"]) for e in decided) == [False] * 2 + [True] * 8
    assert day.waiting("sales-bank") == ["registration-results"] * 2
    day.tick("sales-bank")
    out = day.outbox()
    assert len(out) == 10 and day.waiting("sales-bank") == []
    assert out["C-4-wm-issuer-2"] == {
        "customer_id": "C-4",
        "issuer": "wm-issuer-2",
        "status": "rejected",
    }
    assert all(out[f"C-{k}-wm-issuer-1"]["status"] == "accepted" for k in range(4))
    held = day.agents["wm-issuer-1"].store.all("conf.customer")
    assert sum(1 for c in held.values() if c["accepted"]) == 4


def test_register__more_than_a_chunk__one_message_per_issuer_and_chunk(
    world, tmp_path, web3, monkeypatch
):
    monkeypatch.setattr(lines, "REG_CHUNK", 4)
    day, start = Day(world, tmp_path), _block(web3)
    result = _customers(day, _rows(5))  # 10 registrations: chunks of 4, 4, 2
    assert result["registrations_sent"] == 10
    assert len(_events(world, "RegistrationSubmitted", start)) == 10
    assert len(day.waiting("wm-issuer-1")) + len(day.waiting("wm-issuer-2")) == 6
    day.tick("wm-issuer-1", "wm-issuer-2")
    day.tick("sales-bank")
    assert len(_events(world, "RegistrationDecided", start)) == 10 and len(day.outbox()) == 10


def test_issuer__one_bad_profile_in_a_batch__that_one_rejected_with_reason_others_accepted(
    world, tmp_path, web3, monkeypatch
):
    day, start = Day(world, tmp_path), _block(web3)
    send = lines.SalesBankRole.send_once

    def tampered(self, step, to, kind, body):
        if kind == "registrations" and to == world.addresses["wm-issuer-1"]:
            body["registrations"][1]["profile"]["risk_level"] = 5  # not what was committed
        return send(self, step, to, kind, body)

    monkeypatch.setattr(lines.SalesBankRole, "send_once", tampered)
    _customers(day, _rows(3))
    day.tick("wm-issuer-1", "wm-issuer-2")
    day.tick("sales-bank")
    decided = _events(world, "RegistrationDecided", start)
    assert len(decided) == 6
    assert sorted(bool(e["accepted"]) for e in decided) == [False] * 3 + [True] * 3
    bad = day.outbox()["C-1-wm-issuer-1"]
    assert bad["status"] == "rejected"
    assert bad["reason"] == "the profile is not the one committed on chain"
    assert day.outbox()["C-0-wm-issuer-1"]["status"] == "accepted"
    assert day.agents["wm-issuer-1"].store.all("conf.refused") == {}


def test_issuer__the_same_batch_again__no_second_decision_no_second_answer(
    world, tmp_path, web3, monkeypatch
):
    day, start = Day(world, tmp_path), _block(web3)
    sent: list[tuple[str, dict]] = []
    send = lines.SalesBankRole.send_once

    def keep(self, step, to, kind, body):
        sent.append((to, body))
        return send(self, step, to, kind, body)

    monkeypatch.setattr(lines.SalesBankRole, "send_once", keep)
    _customers(day, _rows(2))
    day.tick("wm-issuer-1", "wm-issuer-2", "sales-bank")
    assert len(_events(world, "RegistrationDecided", start)) == 4
    out = day.outbox()

    bank = day.agents["sales-bank"].endpoint("confirmations")
    for to, body in sent:  # a kill between the send and its mark: the same batch sent again
        bank.send(to, "registrations", body)
    day.tick("wm-issuer-1", "wm-issuer-2")
    assert len(_events(world, "RegistrationDecided", start)) == 4
    assert day.waiting("sales-bank") == []  # answered once: the results went already
    assert day.waiting("wm-issuer-1") == day.waiting("wm-issuer-2") == []
    assert day.outbox() == out


def test_issuer__entries_not_the_senders__answered_rejected_not_decided__none_set_aside(
    world, tmp_path, web3
):
    day, start = Day(world, tmp_path), _block(web3)
    _customers(day, _rows(2))
    day.tick("wm-issuer-1", "wm-issuer-2", "sales-bank")
    c0 = day.agents["sales-bank"].store.get("conf.customer", "C-0")
    theirs = c0["registrations"]["wm-issuer-1"]["id"]  # issuer 1's, not issuer 2's
    salt = "0x" + "00" * 32
    entry = {"registration_id": theirs, "profile": {}, "salt": salt, "investor": "0x00"}
    bank = day.agents["sales-bank"].endpoint("confirmations")
    wm2 = world.addresses["wm-issuer-2"]
    m = bank.send(wm2, "registrations", {"registrations": [entry, {"registration_id": 7}]})
    day.tick("wm-issuer-2")
    refused = day.agents["wm-issuer-2"].store.get("conf.refused", m.msg_id)
    assert "none of the 2 registrations" in refused["reason"]
    assert len(_events(world, "RegistrationDecided", start)) == 4
    assert day.waiting("sales-bank") == []

    c1 = day.agents["sales-bank"].store.get("conf.customer", "C-1")
    own = {
        "registration_id": c1["registrations"]["wm-issuer-2"]["id"],
        "profile": {},
        "salt": salt,
        "investor": "0x00",
    }
    bank.send(wm2, "registrations", {"registrations": [own, entry, own | {"salt": "0x00"}]})
    day.tick("wm-issuer-2")
    assert len(_events(world, "RegistrationDecided", start)) == 4  # decided before: left as is
    (answer,) = day.agents["sales-bank"].endpoint("confirmations").receive(["registration-results"])
    results = {r["registration_id"]: r for r in answer.body["results"]}
    assert results[theirs]["accepted"] is False and "not on chain as" in results[theirs]["reason"]
    mine = results[own["registration_id"]]  # decided rejected before (KYC): answered as it stands
    assert mine == {
        "registration_id": own["registration_id"],
        "accepted": False,
        "reason": "the profile is not the one committed on chain",
    }
    issuer = day.agents["wm-issuer-2"].store.get("conf.customer", c1["investor"])
    assert issuer["profile"]["customer_id"] == "C-1"  # its books keep the profile it decided on


def test_register__one_issuer_s_channel_closed__its_rows_refused_with_reason_others_sent(
    world, tmp_path, web3
):
    day, start = Day(world, tmp_path), _block(web3)
    bank, wm2 = world.addresses["sales-bank"], world.addresses["wm-issuer-2"]
    world.suite.registry.closeChannel(bank, wm2, doc_hash("test"), {"from": world.manager.account})
    result = _customers(day, _rows(2))
    assert result["registrations_sent"] == 2
    assert [(r["customer_id"], r["issuer"]) for r in result["refused"]] == [
        ("C-0", "wm-issuer-2"),
        ("C-1", "wm-issuer-2"),
    ]
    assert all("Channel" in r["reason"] or "channel" in r["reason"] for r in result["refused"])
    submitted = _events(world, "RegistrationSubmitted", start)
    assert {str(e["issuer"]) for e in submitted} == {world.addresses["wm-issuer-1"]}
    assert day.waiting("wm-issuer-1") == ["registrations"] and day.waiting("wm-issuer-2") == []
    assert day.outbox()["C-0-wm-issuer-2"]["status"] == "refused"
    day.tick("wm-issuer-1", "sales-bank")
    assert day.outbox()["C-0-wm-issuer-1"]["status"] == "accepted"
    assert day.outbox()["C-0-wm-issuer-2"]["status"] == "refused"


@pytest.mark.parametrize("crash_at", ["sent", "mined"])
def test_register__crash_mid_file__restarted_nothing_sent_twice_nothing_lost(
    world, tmp_path, web3, monkeypatch, crash_at
):
    """`sent`: the first issuer's message went, its mark did not; `mined`: the commitments are on
    chain, no message went. The file is retried by the restarted agent."""
    day, start = Day(world, tmp_path), _block(web3)
    bank = day.agents["sales-bank"]
    if crash_at == "sent":
        mark = type(bank.store).mark

        def crash(self, step, value):
            if step.startswith("conf.regs-sent:"):
                raise RuntimeError("killed between the send and its mark")
            return mark(self, step, value)

        monkeypatch.setattr(type(bank.store), "mark", crash)
    else:

        def crash(self, *args):
            raise RuntimeError("killed before any message")

        monkeypatch.setattr(lines.SalesBankRole, "send_once", crash)
    assert _customers(day, _rows(3)) is None  # failed: the file stays in the inbox
    assert len(_events(world, "RegistrationSubmitted", start)) == 6
    monkeypatch.undo()

    day.restart("sales-bank")
    assert _customers(day, None) == {"customers": 6, "registrations_sent": 6, "refused": []}
    assert len(_events(world, "RegistrationSubmitted", start)) == 6
    sent_twice = 1 if crash_at == "sent" else 0
    assert len(day.waiting("wm-issuer-1")) + len(day.waiting("wm-issuer-2")) == 2 + sent_twice
    day.tick("wm-issuer-1", "wm-issuer-2")
    assert len(_events(world, "RegistrationDecided", start)) == 6
    assert day.waiting("sales-bank") == ["registration-results"] * 2
    day.tick("sales-bank")
    assert len(day.outbox()) == 6
