"""The bills line's input files for the multi-process day, without a chain: seeded, sized as the
in-process day, valid for the agents' inbox formats, refused for a consortium that lacks a party."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from consortium.agent.inbox import InboxContext, read_file
from consortium.config import load_consortium, load_sizes
from consortium.dayrun.lines import agent_institutions, agent_roles, playable
from consortium.domain.bills import RIGHTS
from consortium.domain.hashing import doc_hash
from consortium.scenarios import bills
from consortium.scenarios.bills_files import (
    OUTBID_BY,
    QUOTE_WINDOW_MINUTES,
    RATES,
    NotEnoughParties,
    file_day,
)
from consortium.scenarios.files import DayView

ROOT = Path(__file__).resolve().parents[2]


def _cfg():
    return load_consortium(ROOT / "config/consortium.yaml")


def _sizes(profile: str = "quick") -> dict:
    return load_sizes(ROOT / "config/day-sizes.yaml", profile)["bills"]


def _rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _static(files: dict) -> dict:
    return {
        (i, f.name, f.phase): f.content
        for i, fs in files.items()
        for f in fs
        if not callable(f.content)
    }


def test_playable__every_agent_role__bills_played_by_its_institutions():
    roles = agent_roles()
    played, skipped = playable(("bills",), roles)
    assert [line.name for line in played] == ["bills"] and skipped == []
    assert agent_institutions(_cfg(), played, roles) == [
        "auditor",
        "core-enterprise",
        "tier1-supplier",
        "tier2-supplier-a",
        "tier2-supplier-b",
        "factor",
        "factor-2",  # an asset manager: its agent runs, without bills.rate_bps it never quotes
        "sales-bank",  # the CNY deposit token's issuer: the factor's and the cores' cash
        "settlement-bank-hk",
    ]


def test_bills_input_files__quick_size__seeded_sized_and_valid_for_the_inbox_formats():
    cfg, sizes = _cfg(), _sizes()
    files = bills.input_files(cfg, sizes, 7)
    assert _static(files) == _static(bills.input_files(cfg, sizes, 7))
    assert _static(files) != _static(bills.input_files(cfg, sizes, 8))
    d = file_day(cfg, sizes, 7)
    assert len(d.bills) == sizes["bills"] == 3 and d.redeem
    phases = {f.phase for fs in files.values() for f in fs}
    assert phases == set(bills.PHASES)
    for ident, fs in files.items():
        ctx = InboxContext.of(cfg, ident)
        for f in fs:
            if not callable(f.content):
                read_file(f.name, f.content, ctx)  # refused: an InboxRefusal
    (credit,) = files["sales-bank"]
    rows = {r["holder"]: int(r["amount"]) for r in _rows(credit.content)}
    # each factor what it finances: the second factor the first bill (it outbids in its window)
    assert d.rival == "factor-2" and d.windowed(d.bills[0]) and not d.windowed(d.bills[1])
    assert rows[d.factor] == sum(b.part_a for b in d.bills[1:])
    assert rows[d.rival] == d.bills[0].part_a
    for core in {b.core for b in d.bills}:
        assert rows[core] == sum(b.face for b in d.bills if b.core == core)
    for b in d.bills:
        assert len({b.core, b.tier1, b.t2a, b.t2b}) == 4
        assert 0 < b.rest and b.face == b.rest + b.part_a + b.part_b


def test_bills_input_files__split_and_finance__drawn_on_the_documents_both_sides_know():
    cfg, sizes = _cfg(), {"bills": 1, "bill_maturity_days": 7, "bill_redeem": 1}
    files, (b,) = bills.input_files(cfg, sizes, 3), file_day(cfg, sizes, 3).bills
    (transfers,) = [f for f in files[b.tier1] if f.phase == "split"]
    rows = _rows(transfers.content)
    assert [(r["from_documents"], r["to"], int(r["amount"])) for r in rows] == [
        (b.docs, b.t2a, b.part_a),
        (b.docs, b.t2b, b.part_b),
    ]
    (financing,) = [f for f in files[b.t2a] if f.phase == "finance"]
    (row,) = _rows(financing.content)
    assert row["from_documents"] == rows[0]["documents_sha256"]  # the transfer's documents
    assert int(row["amount"]) == b.part_a
    # publicised: both factors quote in its window (the first bill, with a second factor)
    assert int(row["quote_window_minutes"]) == QUOTE_WINDOW_MINUTES
    assert [f.phase for f in files[b.core]] == ["issue", "redeem"]
    assert all(callable(f.content) for f in files[b.core])  # read when dropped


def test_bills_input_files__no_redemption__no_redeem_files_no_cash_for_the_cores():
    sizes = {"bills": 2, "bill_maturity_days": 7, "bill_redeem": 0}
    files, d = bills.input_files(_cfg(), sizes, 5), file_day(_cfg(), sizes, 5)
    assert not [f for fs in files.values() for f in fs if f.phase == "redeem"]
    (credit,) = files["sales-bank"]
    assert [r["holder"] for r in _rows(credit.content)] == sorted([d.factor, d.rival])


def test_bills_agent_settings__the_factors__a_rate_from_the_seed__the_second_outbids_only():
    settings = bills.agent_settings(_cfg(), _sizes(), 7)
    assert list(settings) == ["factor", "factor-2"]
    rate = settings["factor"]["bills"]["rate_bps"]
    assert rate in RATES and "outbid_only" not in settings["factor"]["bills"]
    assert settings["factor-2"]["bills"] == {"rate_bps": rate - OUTBID_BY, "outbid_only": True}


def test_bills_file_day__one_factor__no_window_every_financing_the_factor_s():
    import dataclasses

    cfg = _cfg()
    one = [i for i in cfg.institutions if i.id != "factor-2"]
    d = file_day(dataclasses.replace(cfg, institutions=one), _sizes(), 7)
    assert d.rival == "" and not any(d.windowed(b) for b in d.bills)
    assert {d.financier(b) for b in d.bills} == {(d.factor, d.rate)}
    files = bills.input_files(dataclasses.replace(cfg, institutions=one), _sizes(), 7)
    for b in d.bills:
        (fin,) = [f for f in files[b.t2a] if f.phase == "finance"]
        assert {r["quote_window_minutes"] for r in _rows(fin.content)} == {""}


class _FakeBills:
    """BillToken's lookups by documents and request reference: bill 11 for one set of documents,
    each request a node of its own."""

    def __init__(self, d):
        self.refs = {}
        for b in d.bills:
            for n, what in enumerate(("TR-A", "TR-B", "FIN")):
                self.refs[doc_hash(b.ref(what))] = 20 + 10 * b.k + n
        self.docs = {"0x" + b.docs: 11 + b.k for b in d.bills}

    def billOfDocuments(self, _debtor, docs):
        return (self.docs.get(docs, 0), 7 if docs in self.docs else 0)

    def requestOf(self, _holder, ref):
        return (self.refs.get(ref, 0), 7 if ref in self.refs else 0)


class _Reader:
    """The driver's batched reads (DayView.read_many) answered by the fake, each batch counted."""

    def __init__(self):
        self.batches = []

    def call_many(self, contract, fn, args, block="latest"):
        self.batches.append((fn, len(args)))
        return [getattr(contract, fn)(*a) for a in args]


def test_bills_redemption_file__rows_of_the_cores_owed_positions__its_bills_only(tmp_path):
    cfg, sizes = _cfg(), {"bills": 1, "bill_maturity_days": 7, "bill_redeem": 1}
    (b,) = file_day(cfg, sizes, 3).bills
    files = bills.input_files(cfg, sizes, 3)
    homes = {b.core: tmp_path / b.core}  # the core's home only: it is all the file reads
    (homes[b.core] / "outbox" / "positions").mkdir(parents=True)
    addresses = {i.id: f"0x{n + 1:040x}" for n, i in enumerate(cfg.institutions)}
    (homes[b.core] / "agent.yaml").write_text(json.dumps({"addresses": addresses}))
    owed = [
        {"bill_id": 11, "node_id": 11, "holder": b.tier1, "amount": b.rest},
        {"bill_id": 11, "node_id": 21, "holder": b.t2b, "amount": b.part_b},
        {"bill_id": 99, "node_id": 99, "holder": b.t2b, "amount": 5},  # another day's bill
    ]
    body = {"institution": b.core, "owed": owed}
    (homes[b.core] / "outbox" / "positions" / "owed.json").write_text(json.dumps(body))
    view = DayView({"BillToken": _FakeBills(file_day(cfg, sizes, 3))}, homes, cfg, {}, 3)
    view.sizes["bills"] = sizes
    reader = view.memo("reader", _Reader)
    (redeem,) = [f for f in files[b.core] if f.phase == "redeem"]
    data = redeem.resolve(view)
    # each kind of id looked up in one batch for every bill, not one request per bill
    kinds = ["billOfDocuments", "requestOf", "requestOf", "requestOf"]  # bill, TR-A, TR-B, FIN
    assert reader.batches == [(fn, 1) for fn in kinds]
    rows = _rows(data)
    assert [(r["batch_ref"], int(r["node_id"]), r["holder"]) for r in rows] == [
        (b.ref("PAY"), 11, b.tier1),
        (b.ref("PAY"), 21, b.t2b),
    ]
    assert all(r["payment_ref"] == "" for r in rows)  # paid in cash tokens on chain
    read_file(redeem.name, data, InboxContext.of(cfg, b.core))


CONSORTIUM = """\
version: 1
consortium: {{name: C, founder: Ops, jurisdiction: CN}}
jurisdictions:
  CN: {{regulator: reg-cn}}
institutions:
  - {{id: reg-cn, name: Regulator, jurisdiction: CN, roles: [REGULATOR]}}
  - {{id: auditor, name: Auditor, jurisdiction: CN, roles: [AUDITOR]}}
  - {{id: factor, name: Factor, jurisdiction: CN, roles: [ASSET_MANAGER]}}
{more}
channels: []
currencies: [CNY]
"""


def _client(ident: str, rights: str = ", ".join(RIGHTS)) -> str:
    roles = f"SUPPLY_CHAIN_CLIENT, {rights}" if rights else "SUPPLY_CHAIN_CLIENT"
    return f"  - {{id: {ident}, name: {ident}, jurisdiction: CN, roles: [{roles}]}}"


@pytest.mark.parametrize(
    ("clients", "rights", "cash", "missing"),
    [
        (3, ", ".join(RIGHTS), True, "4 SUPPLY_CHAIN_CLIENT members"),
        (4, ", ".join(RIGHTS), False, "a CASH_ISSUER member"),
        # four clients, but none may issue: no core for a bill (issue 18: the rights apart)
        (4, "BILL_TRANSFEROR, BILL_FINANCING_APPLICANT", True, "one holding BILL_ISSUER"),
    ],
)
def test_bills_input_files__a_party_missing__refused_naming_it(
    tmp_path, clients, rights, cash, missing
):
    more = [_client(f"c{k}", rights) for k in range(clients)]
    if cash:
        more.append("  - {id: bank, name: Bank, jurisdiction: CN, roles: [CASH_ISSUER]}")
    path = tmp_path / "consortium.yaml"
    path.write_text(CONSORTIUM.format(more="\n".join(more)))
    with pytest.raises(NotEnoughParties, match=missing):
        bills.input_files(load_consortium(path), {"bills": 1}, 1)


def test_before_redemption__block_dropped_while_read__read_again_at_the_new_head(monkeypatch):
    from consortium.scenarios import bills_files

    heads, read = iter([100, 109]), []

    def reading(view, d, ids, block):
        read.append(block)
        if block == 100:  # the node kept fewer past states than the blocks mined meanwhile
            raise ValueError("balanceOf(...): BlockOutOfRangeError: block height is 109 but ...")
        return f"state at {block}"

    monkeypatch.setattr(bills_files, "_head", lambda: next(heads))
    monkeypatch.setattr(bills_files, "_read_before", reading)
    assert bills_files._read_pinned(None, None, None) == "state at 109" and read == [100, 109]
    monkeypatch.setattr(bills_files, "_head", lambda: 200)
    monkeypatch.setattr(
        bills_files, "_read_before", lambda *a: (_ for _ in ()).throw(ValueError("x"))
    )
    with pytest.raises(ValueError, match="x"):  # any other refusal stands
        bills_files._read_pinned(None, None, None)
