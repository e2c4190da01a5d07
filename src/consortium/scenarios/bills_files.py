"""The supply-chain bill line as business files, for the multi-process day (consortium.dayrun).

The same day as the in-process one (consortium.scenarios.bills): each core enterprise issues bills
to a tier-1 supplier, the tier-1 splits two parts to its tier-2 suppliers, the first tier-2 sells
its part to the factor, and at maturity the core pays the holders of record. Here each step is a
file dropped in one institution's inbox, or an agent reacting to the chain by itself:

    phase    files (institution: format)                      the agents then, by themselves
    issue    cash issuer: issues (the factor's cash for the    receiver reviews, auditor audits
             financings, each core's cash for its bills)
             each core: bill-issues (maturity: the chain's
             date + bill_maturity_days, read when dropped)
    split    each tier-1: bill-transfers (from_documents:   receivers review, auditor audits
             the bill's documents, what both sides know)
    finance  each first tier-2: bill-financing (its whole   factor quotes at agent.yaml's rate,
             part, from the transfer's documents; the        holder accepts, auditor audits,
             first bill's publicised: quote_window_minutes)  factor disburses in cash tokens
    redeem   each core: bill-redemptions (the rows of its   (the debtor's batch pays every holder
             own outbox/positions/owed.json, as its          on chain)
             payables system reads them)

The redemption needs the chain's clock past maturity: on a local chain the driver moves it (as the
in-process day does; no member acts), on a live network the phase waits for the date, so a live
day runs with `bill_redeem: 0` (no redeem phase files). The factor quotes one rate (agent.yaml
`bills.rate_bps`, drawn from the seed) where the in-process day draws one per bill.

Two competing quotes, certain rather than a race: when the consortium names a second factor (a
second ASSET_MANAGER), the first bill's financing request is publicised with a quote window. The
day's factor quotes it as it quotes every request; the second factor (agent.yaml
`bills: {rate_bps: rate - 100, outbid_only: true}`) quotes only to beat a standing quote in a
window, so it outbids the first and its quote releases the first one; after the window the holder
signs the best (the second factor's). Once both quotes stand, a local chain's clock is moved past
the window (`govern`: time passing, as for the maturity; no member acts).

Sizes (config/day-sizes.yaml `bills:`): `bills`, `bill_maturity_days`, `bill_redeem`, as the
in-process day. Checks read the chain and the agents' homes only.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consortium.domain.bills import (
    CLIENT_ROLE,
    BillStatus,
    NoBillParties,
    NodeState,
    draw_parties,
    proceeds,
)
from consortium.domain.hashing import doc_hash
from consortium.scenarios import LineResult

ROLES = ("SUPPLY_CHAIN_CLIENT", "AUDITOR", "ASSET_MANAGER", "CASH_ISSUER")
PHASES = ("issue", "split", "finance", "redeem")
CURRENCY = "CNY"  # the bills' currency: BillToken pays in the CNY deposit token
RATES = (400, 600, 800)  # the factor's annual discount rate, basis points (as in-process)
LOCAL_CHAINS = ("development", "ganache-local")  # where the driver may move the clock
QUOTE_WINDOW_MINUTES = 10  # the publicised financing's window (a local chain's clock is moved)
OUTBID_BY = 100  # the second factor's rate is this many bps below the day's factor's
# the phase whose readiness moves a local chain's clock (to the bills' maturity): a driver playing
# lines side by side may hold it until the other lines are done (they may read the clock too)
CLOCK_PHASE = "redeem"


class NotEnoughParties(LookupError):
    """The consortium file lacks an institution the bills day needs."""


@dataclass(frozen=True)
class FileBill:
    """One bill of the day: who takes part, the amounts drawn, its documents and references."""

    k: int
    core: str
    tier1: str
    t2a: str  # sells its part to the factor
    t2b: str
    face: int
    part_a: int
    part_b: int
    docs: str  # sha256 (hex) of the purchase order: the bill's documents
    seed: int

    @property
    def rest(self) -> int:
        return self.face - self.part_a - self.part_b

    def ref(self, what: str) -> str:
        """A request reference of this bill's day: PO, TR-A, TR-B, FIN, PAY."""
        return f"BILLS-{self.seed}-{self.k}-{what}"

    def documents(self, what: str) -> str:
        """sha256 (hex) of one of the bill's later documents (sub-contracts, financing)."""
        return hashlib.sha256(f"{self.docs} {what}".encode()).hexdigest()


@dataclass(frozen=True)
class FileDay:
    """The seeded content of the bills day's files; `checks` recomputes its expectations."""

    bills: tuple[FileBill, ...]
    auditor: str
    factor: str
    cash_issuer: str
    rate: int
    maturity_days: int
    redeem: bool
    seed: int
    rival: str = ""  # a second factor: it outbids the first in the first bill's quote window

    @property
    def rival_rate(self) -> int:
        return self.rate - OUTBID_BY

    def windowed(self, b: FileBill) -> bool:
        """The bill whose financing is publicised with a quote window (the first, with a rival)."""
        return bool(self.rival) and b.k == 0

    def financier(self, b: FileBill) -> tuple[str, int]:
        """(factor, rate bps) that finances `b`: the rival where it outbid the day's factor."""
        return (self.rival, self.rival_rate) if self.windowed(b) else (self.factor, self.rate)

    @property
    def funding(self) -> dict[str, int]:
        """Cash the issuer credits at the start: each factor what it finances, each core (when the
        day redeems) the face of its bills."""
        out: dict[str, int] = {}
        for b in self.bills:
            who = self.financier(b)[0]
            out[who] = out.get(who, 0) + b.part_a
        if self.redeem:
            for b in self.bills:
                out[b.core] = out.get(b.core, 0) + b.face
        return out

    def participants(self) -> list[str]:
        found = {self.factor} | ({self.rival} if self.rival else set())
        for b in self.bills:
            found |= {b.core, b.tier1, b.t2a, b.t2b}
        return sorted(found)


def file_day(cfg: Any, sizes: dict, seed: int) -> FileDay:
    """The day's seeded content: sizes as the in-process day (bills, bill_maturity_days,
    bill_redeem); each bill's four clients drawn from the consortium file's."""
    rng = random.Random(f"{seed}:bills-files")
    clients = [i.id for i in cfg.with_role("SUPPLY_CHAIN_CLIENT")]
    if len(clients) < 4:
        raise NotEnoughParties(
            f"the bills day needs 4 SUPPLY_CHAIN_CLIENT members (core, tier-1, two tier-2), "
            f"found {len(clients)}: add them to the consortium file"
        )
    bills = []
    for k in range(max(1, int(sizes.get("bills", 2)))):
        core, tier1, t2a, t2b = _draw(rng, cfg)
        face = rng.randrange(100_000_00, 5_000_000_00)
        part_a = face * rng.randrange(20, 50) // 100
        part_b = face * rng.randrange(20, 50) // 100
        docs = hashlib.sha256(f"purchase order {seed} {k} {rng.random()}".encode()).hexdigest()
        bills.append(FileBill(k, core, tier1, t2a, t2b, face, part_a, part_b, docs, seed))
    factors = [i.id for i in cfg.with_role("ASSET_MANAGER")]
    return FileDay(
        tuple(bills),
        _one(cfg, "AUDITOR"),
        _one(cfg, "ASSET_MANAGER"),
        _one(cfg, "CASH_ISSUER"),
        rng.choice(RATES),
        int(sizes.get("bill_maturity_days", 7)),
        bool(sizes.get("bill_redeem", 1)),
        seed,
        factors[1] if len(factors) > 1 else "",
    )


def _draw(rng: random.Random, cfg: Any) -> tuple[str, str, str, str]:
    """A bill's four clients, each holding the right its step needs (domain.bills.draw_parties)."""
    try:
        return draw_parties(rng, {i.id: i.roles for i in cfg.with_role(CLIENT_ROLE)})
    except NoBillParties as e:
        raise NotEnoughParties(str(e)) from e


def _one(cfg: Any, role: str) -> str:
    """The first member of `role` (the cash issuer: the one deploy made the CNY token's issuer)."""
    found = cfg.with_role(role)
    if not found:
        raise NotEnoughParties(
            f"the bills day needs a {role} member: add one to the consortium file"
        )
    return found[0].id


def agent_settings(cfg: Any, sizes: dict, seed: int) -> dict[str, dict]:
    """agent.yaml's `bills:` section of the factors: the day's factor's discount rate (an asset
    manager without one is no factor and never quotes); the second factor's, lower, and its policy
    to quote only to beat a standing quote in a quote window."""
    d = file_day(cfg, sizes, seed)
    out = {d.factor: {"bills": {"rate_bps": d.rate}}}
    if d.rival:
        out[d.rival] = {"bills": {"rate_bps": d.rival_rate, "outbid_only": True}}
    return out


def input_files(cfg: Any, sizes: dict, seed: int) -> dict[str, list]:
    """The cash issuer's credits, the cores' issues and redemptions, the tier-1s' transfers, the
    first tier-2s' financing requests (see the module's table)."""
    from consortium.scenarios.files import InputFile, csv_bytes

    d = file_day(cfg, sizes, seed)
    out: dict[str, list] = {}

    def add(ident: str, f: InputFile) -> None:
        out.setdefault(ident, []).append(f)

    rows = [[f"BILLS-{seed}-CASH-{i}", i, CURRENCY, v] for i, v in sorted(d.funding.items())]
    add(d.cash_issuer, InputFile(f"issues-bills-{seed}.csv", _credits(rows), "issue"))
    by_role: dict[tuple[str, str], list[FileBill]] = {}
    for b in d.bills:
        for role, ident in (("core", b.core), ("tier1", b.tier1), ("t2a", b.t2a)):
            by_role.setdefault((role, ident), []).append(b)
    for (role, ident), bills in by_role.items():
        if role == "core":
            add(ident, InputFile(f"bill-issues-{seed}.csv", _issues(d, bills), "issue"))
            if d.redeem:
                content = _redemptions(d, ident)
                add(ident, InputFile(f"bill-redemptions-{seed}.csv", content, "redeem"))
        elif role == "tier1":
            header = ["request_ref", "from_documents", "to", "amount", "documents_sha256"]
            rows = [
                [b.ref(f"TR-{x}"), b.docs, to, part, b.documents(f"sub-{x}")]
                for b in bills
                for x, to, part in (("A", b.t2a, b.part_a), ("B", b.t2b, b.part_b))
            ]
            add(ident, InputFile(f"bill-transfers-{seed}.csv", csv_bytes(header, rows), "split"))
        else:
            header = ["request_ref", "from_documents", "amount", "documents_sha256"]
            header += ["quote_window_minutes"]  # the first bill's, with a second factor
            rows = [
                [
                    b.ref("FIN"),
                    b.documents("sub-A"),
                    b.part_a,
                    b.documents("fin"),
                    QUOTE_WINDOW_MINUTES if d.windowed(b) else "",
                ]
                for b in bills
            ]
            add(ident, InputFile(f"bill-financing-{seed}.csv", csv_bytes(header, rows), "finance"))
    return out


def _credits(rows: list[list]) -> bytes:
    from consortium.scenarios.files import csv_bytes

    return csv_bytes(["ref", "holder", "asset", "amount"], rows)


def _issues(d: FileDay, bills: list[FileBill]) -> Any:
    """A core's bill-issues file: maturity the chain's date when it is dropped + the days."""

    def content(view: Any) -> bytes:
        from consortium import chain
        from consortium.scenarios.files import csv_bytes

        now = int(chain.web3().eth.get_block("latest")["timestamp"])
        due = (datetime.fromtimestamp(now, UTC) + timedelta(days=d.maturity_days)).date()
        header = ["request_ref", "receiver", "amount", "currency", "maturity", "documents_sha256"]
        rows = [[b.ref("PO"), b.tier1, b.face, CURRENCY, due.isoformat(), b.docs] for b in bills]
        return csv_bytes(header, rows)

    return content


def _redemptions(d: FileDay, core: str) -> Any:
    """A core's bill-redemptions file: one batch per bill, each holding its positions list."""

    def content(view: Any) -> bytes:
        from consortium.scenarios.files import csv_bytes

        ids = _ids(view, d)
        batch = {ids.bill[b.k]: b.ref("PAY") for b in d.bills if b.core == core}
        rows = [
            [batch[o["bill_id"]], o["node_id"], o["holder"], o["amount"], ""]
            for o in _owed(view, core)
            if o["bill_id"] in batch
        ]
        return csv_bytes(["batch_ref", "node_id", "holder", "amount", "payment_ref"], rows)

    return content


# ---------------------------------------------------------------- following the day


@dataclass
class _Ids:
    """What the chain gave each bill (index k -> id), found by the references of the files."""

    bill: dict[int, int]
    tr_a: dict[int, int]
    tr_b: dict[int, int]
    fin: dict[int, int]


def _day(view: Any) -> FileDay:
    return view.memo("bills", lambda: file_day(view.cfg, view.sizes_of("bills"), view.seed))


def _addresses(view: Any) -> dict[str, str]:
    """Member addresses as the agents know them (any home's agent.yaml `addresses`)."""
    import yaml

    def read() -> dict[str, str]:
        home = next(iter(view.homes.values()))
        return dict(yaml.safe_load((home / "agent.yaml").read_text())["addresses"])

    return view.memo("bills:addresses", read)


def _ids(view: Any, d: FileDay) -> _Ids:
    """Each bill's ids on chain, looked up by the debtor's documents and the holders' request
    references (once found, kept: an id never changes), the bills still unknown in one batch of
    reads per kind."""
    ids = view.memo("bills:ids", lambda: _Ids({}, {}, {}, {}))
    bills, addr = view.suite["BillToken"], _addresses(view)

    def look(found: dict[int, int], fn: str, key: Any) -> None:
        todo = [b for b in d.bills if b.k not in found]
        for b, (value, block) in zip(todo, view.read_many(bills, fn, [key(b) for b in todo])):
            if int(block):
                found[b.k] = int(value)

    look(ids.bill, "billOfDocuments", lambda b: (addr[b.core], "0x" + b.docs))
    look(ids.tr_a, "requestOf", lambda b: (addr[b.tier1], doc_hash(b.ref("TR-A"))))
    look(ids.tr_b, "requestOf", lambda b: (addr[b.tier1], doc_hash(b.ref("TR-B"))))
    look(ids.fin, "requestOf", lambda b: (addr[b.t2a], doc_hash(b.ref("FIN"))))
    return ids


def _valid(view: Any, nodes: dict[int, int], d: FileDay) -> bool:
    """Every bill's node of this kind on chain and through its reviews and audit (one batch)."""
    if len(nodes) != len(d.bills):
        return False
    read = view.read_many(view.suite["BillToken"], "node", [(n,) for n in nodes.values()])
    return all(int(node["state"]) == NodeState.VALID for node in read)


def _positions(view: Any, ident: str, name: str = "holdings.json") -> dict | None:
    path = view.outbox(ident) / "positions" / name
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except ValueError:  # written by rename, but be safe
        return None


def _owed(view: Any, core: str) -> list[dict]:
    return (_positions(view, core, "owed.json") or {}).get("owed", [])


def _expected(d: FileDay, ids: _Ids) -> list[tuple[int, int, str, int]]:
    """(bill id, node id, holder, amount) of every holding once the financings are done."""
    return [e for b in d.bills for e in _expected_of(d, ids, b)]


def _expected_of(d: FileDay, ids: _Ids, b: Any) -> list[tuple[int, int, str, int]]:
    """`_expected` of one bill."""
    bill = ids.bill[b.k]
    return [
        (bill, bill, b.tier1, b.rest),
        (bill, ids.tr_b[b.k], b.t2b, b.part_b),
        (bill, ids.fin[b.k], d.financier(b)[0], b.part_a),
    ]


def ready(phase: str, view: Any) -> bool:
    """Whether `phase` may begin: each waits for what a bank would wait for before sending on;
    the redemption also for the bills' maturity (on a local chain the driver moves the clock)."""
    d = _day(view)
    if phase == "issue":
        return True
    ids = _ids(view, d)
    if phase == "split":  # each bill reviewed by its tier-1 and audited
        return _valid(view, ids.bill, d)
    if phase == "finance":  # the parts passed on, and the factor's cash credited
        credited = view.result(d.cash_issuer, f"issues-bills-{d.seed}.csv") or {}
        return (
            _valid(view, ids.tr_a, d)
            and _valid(view, ids.tr_b, d)
            and credited.get("status") == "done"
        )
    if phase == "redeem":
        if not _valid(view, ids.fin, d):  # every financing disbursed
            return False
        if d.redeem and not (_owed_listed(view, d, ids) and _matured(view, d, ids)):
            return False
        before_redemption(view, d, ids)
        return True
    raise ValueError(f"unknown bills phase {phase!r}")


@dataclass(frozen=True)
class _Before:
    """The bills' holdings, locks, redeemed amounts and the participants' cash at one block before
    the redemptions: what the checks compare the redemption against."""

    block: int | str
    held: dict[tuple[str, int], int]  # (holder id, node id) -> units
    locked: dict[int, int]  # node id -> units locked
    redeemed: dict[int, int]  # bill id -> redeemed
    cash: dict[str, int]  # participant id -> cash units (empty without on-chain cash)


BEFORE = "bills:before redemption"


def before_redemption(view: Any, d: FileDay, ids: _Ids) -> _Before:
    """The state before the redemptions, read once as they become ready (the driver drops their
    files right after): the checks then read no past block, so the node need keep no history
    (a large day's redemptions come thousands of blocks after the financings)."""
    return view.memo(BEFORE, lambda: _read_pinned(view, d, ids))


def _read_pinned(view: Any, d: FileDay, ids: _Ids, attempts: int = 3) -> _Before:
    """`_read_before` at the head; again at the new head if the node dropped the block's state
    while the batches were read (a node keeping few past states, mining for the other lines):
    any block before the redemptions' files are dropped is a block before the redemptions."""
    for attempt in range(attempts):
        try:
            return _read_before(view, d, ids, _head())
        except ValueError as exc:
            if "BlockOutOfRange" not in str(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _head() -> int:
    from consortium import chain

    return int(chain.web3().eth.block_number)


def _holdings(d: FileDay, ids: _Ids, b: Any) -> list[tuple[str, int, int]]:
    """(holder, node, units) a bill's holders hold once financed: the expected holdings and the
    first tier-2's emptied transfer."""
    out = [(h, n, amt) for _, n, h, amt in _expected_of(d, ids, b)]
    return out + [(b.t2a, ids.tr_a[b.k], 0)]


def _nodes(ids: _Ids, b: Any) -> tuple[int, int, int, int]:
    return (ids.bill[b.k], ids.tr_a[b.k], ids.tr_b[b.k], ids.fin[b.k])


def _read_before(view: Any, d: FileDay, ids: _Ids, block: int | str) -> _Before:
    """Every value the checks need of `block`, in batched reads at that block."""
    bills, addr = view.suite["BillToken"], _addresses(view)
    pairs = sorted({(h, n) for b in d.bills for h, n, _ in _holdings(d, ids, b)})
    nodes = sorted({n for b in d.bills for n in _nodes(ids, b)})
    firsts = sorted({ids.bill[b.k] for b in d.bills})
    held = view.read_many(bills, "balanceOf", [(addr[h], n) for h, n in pairs], block)
    locked = view.read_many(bills, "locked", [(n,) for n in nodes], block)
    on_chain = view.read_many(bills, "bill", [(n,) for n in firsts], block)
    cash, parts = _cash_of(view), d.participants()
    amounts = (
        []
        if cash is None
        else view.read_many(cash, "balanceOf", [(addr[i],) for i in parts], block)
    )
    return _Before(
        block,
        {p: int(v) for p, v in zip(pairs, held)},
        {n: int(v) for n, v in zip(nodes, locked)},
        {n: int(b["redeemed"]) for n, b in zip(firsts, on_chain)},
        {i: int(v) for i, v in zip(parts, amounts)},
    )


def _cash_of(view: Any) -> Any:
    """The cash token the bills are paid in, among the suite's contracts (None if off chain)."""
    address = str(view.suite["BillToken"].cash()).lower()
    return next(
        (c for c in view.suite.contracts.values() if str(c.address).lower() == address), None
    )


def _owed_listed(view: Any, d: FileDay, ids: _Ids) -> bool:
    """Each core's owed.json lists exactly the holdings of its bills the day expects."""
    expected = _expected(d, ids)
    for core in {b.core for b in d.bills}:
        mine = {ids.bill[b.k] for b in d.bills if b.core == core}
        listed = {
            (o["bill_id"], o["node_id"], o["holder"], o["amount"])
            for o in _owed(view, core)
            if o["bill_id"] in mine
        }
        if listed != {e for e in expected if e[0] in mine}:
            return False
    return True


def govern(view: Any, manager: Any) -> None:
    """Once both factors' quotes stand in the first bill's quote window, a local chain's clock is
    moved past its end (time passing, as for the maturity: no member acts, and the holder's agent
    then signs the best quote); on a live network the window ends by itself."""
    from consortium import chain

    d = _day(view)
    state = view.memo("bills:window", dict)
    if not d.rival or state.get("closed"):
        return
    if chain.network_name() not in LOCAL_CHAINS:
        return
    fin = _ids(view, d).fin.get(0)
    if fin is None:
        return
    bills, addr = view.suite["BillToken"], _addresses(view)
    f = bills.financing(fin)
    if int(bills.node(fin)["state"]) != NodeState.QUOTED or not _same(f["factor"], addr[d.rival]):
        return
    now = int(chain.web3().eth.get_block("latest")["timestamp"])
    if int(f["deadline"]) >= now:
        clock = chain.brownie.chain
        clock.sleep(int(f["deadline"]) - now + 1)
        clock.mine()
    state["closed"] = True


def _same(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower()


def _matured(view: Any, d: FileDay, ids: _Ids) -> bool:
    """The chain's clock past every bill's maturity; a local chain's is moved there (the day's
    week passes at once, as in the in-process day)."""
    from consortium import chain

    bills, w3 = view.suite["BillToken"], chain.web3()
    due = max(int(b["maturity"]) for b in view.read_many(bills, "bill", _each(ids.bill)))
    now = int(w3.eth.get_block("latest")["timestamp"])
    if now > due:
        return True
    if chain.network_name() in LOCAL_CHAINS:
        clock = chain.brownie.chain
        clock.sleep(due - now + 60)
        clock.mine()
        view.memo("bills:clock moved", lambda: True)
    return False


def done(view: Any) -> bool:
    """Every bill settled (or, without redemption, every financing disbursed), and every
    participant's positions in its outbox as the chain holds them."""
    d = _day(view)
    ids = _ids(view, d)
    bills = view.suite["BillToken"]
    if not _valid(view, ids.fin, d):
        return False
    if d.redeem and not all(
        int(b["status"]) == BillStatus.SETTLED
        for b in view.read_many(bills, "bill", _each(ids.bill))
    ):
        return False
    return _positions_agree(view, d, ids)


def _each(ids: dict[int, int]) -> list[tuple[int]]:
    """The arguments of one read per id (DayView.read_many)."""
    return [(i,) for i in ids.values()]


def _held(d: FileDay, ids: _Ids) -> dict[str, dict[int, int]]:
    """institution -> {node: amount} it should list at the day's end."""
    out: dict[str, dict[int, int]] = {i: {} for i in d.participants()}
    if not d.redeem:
        for _, node, holder, amount in _expected(d, ids):
            out[holder][node] = amount
    return out


def _positions_agree(view: Any, d: FileDay, ids: _Ids) -> bool:
    for ident, want in _held(d, ids).items():
        p = _positions(view, ident)
        if p is None or {h["node_id"]: h["amount"] for h in p["holdings"]} != want:
            return False
    return True


# ---------------------------------------------------------------- the day's outcome


@dataclass
class _Outcome:
    """What `checks` reads once: the contracts, the addresses, the ids, the events it needs."""

    d: FileDay
    ids: _Ids
    bills: Any
    cash: Any
    addr: dict[str, str]
    events: dict[str, list]
    before: _Before  # the state before the first redemption

    def complete(self) -> bool:
        return all(len(x) == len(self.d.bills) for x in vars(self.ids).values())


def _outcome(view: Any) -> _Outcome:
    d = _day(view)
    bills = view.suite["BillToken"]
    names = ("BillReviewed", "BillAudited", "BillFinancingQuoted", "BillFinancingDisbursed")
    names += ("BillRedeemed", "BillRequestCancelled", "BillRequestExpired")
    names += ("BillFinancingQuoteReleased",)
    events = {
        n: list(bills.events.get_sequence(view.suite.block, event_type=n) or []) for n in names
    }
    redeemed = [int(e["blockNumber"]) for e in events["BillRedeemed"]]
    ids = _ids(view, d)
    # read as the redemptions became ready; a view that did not see them (a check of a finished
    # day) reads the last block before the first one, which the node must still hold
    block = min(redeemed) - 1 if redeemed else "latest"
    o = _Outcome(
        d, ids, bills, _cash_of(view), _addresses(view), events, _Before(block, {}, {}, {}, {})
    )
    if o.complete():  # otherwise the checks that read it fail on the missing bills first
        o.before = view.memo(BEFORE, lambda: _read_before(view, d, ids, block))
    return o


def checks(view: Any) -> LineResult:
    """The day's outcome recomputed from its files' seed, read from the chain and the outboxes."""
    o = _outcome(view)
    d, ids, bills = o.d, o.ids, o.bills
    on_chain = view.read_many(bills, "bill", _each(ids.bill))
    fins = view.read_many(bills, "financing", _each(ids.fin))
    result = LineResult(line="bills")
    result.counts = {
        "bills": len(ids.bill),
        "transfers": len(ids.tr_a) + len(ids.tr_b),
        "financings": len(o.events["BillFinancingDisbursed"]),
        "redemptions": sum(int(b["status"]) == BillStatus.SETTLED for b in on_chain),
        "competing_quotes": _competing(o),
    }
    result.metrics = {
        "face_total": sum(int(b["faceValue"]) for b in on_chain),
        "financed": sum(int(f["amount"]) for f in fins),
        "proceeds": sum(int(f["proceeds"]) for f in fins),
        "redeemed": sum(int(b["redeemed"]) for b in on_chain),
        "on_chain_cash": o.cash is not None,
        "redeemed_on_chain_clock": bool(view.memo("bills:clock moved", lambda: False)),
    }
    complete = o.complete()
    result.checks = {
        "bills issued as drawn": complete and _issued_as_drawn(o),
        "every review accepted, every audit approved": _all_approved(o),
        "balances exact": complete and _balances_exact(o),
        "lineage complete": complete and _lineage_complete(o),
        "financing paid": complete and o.cash is not None and _financing_paid(o),
    }
    if d.rival:
        result.checks["competing quotes: best signed, other released"] = complete and _best_signed(
            o
        )
    if d.redeem:
        result.checks["maturity paid right holders"] = (
            complete and o.cash is not None and _maturity_paid(o)
        )
    result.checks["positions in the outboxes agree"] = complete and _positions_agree(view, d, ids)
    return result


def _competing(o: _Outcome) -> int:
    """Financings of the day that more than one factor quoted."""
    fins = set(o.ids.fin.values())
    factors: dict[int, set[str]] = {}
    for e in o.events["BillFinancingQuoted"]:
        factors.setdefault(int(e["args"]["nodeId"]), set()).add(str(e["args"]["factor"]).lower())
    return sum(1 for n, f in factors.items() if n in fins and len(f) > 1)


def _best_signed(o: _Outcome) -> bool:
    """The publicised financing: both factors quoted, the day's factor's quote released by the
    second's better one, and the holder signed the best (the chain's financing is the second's)."""
    b = next(b for b in o.d.bills if o.d.windowed(b))
    fin = o.ids.fin[b.k]
    quoted = [
        (str(e["args"]["factor"]).lower(), int(e["args"]["rateBps"]))
        for e in o.events["BillFinancingQuoted"]
        if int(e["args"]["nodeId"]) == fin
    ]
    released = [
        (str(e["args"]["factor"]).lower(), int(e["args"]["rateBps"]))
        for e in o.events["BillFinancingQuoteReleased"]
        if int(e["args"]["nodeId"]) == fin
    ]
    first = (o.addr[o.d.factor].lower(), o.d.rate)
    best = (o.addr[o.d.rival].lower(), o.d.rival_rate)
    f = o.bills.financing(fin)
    return (
        quoted == [first, best]
        and released == [first]
        and (str(f["factor"]).lower(), int(f["rateBps"])) == best
        and int(f["deadline"]) > 0
    )


def _issued_as_drawn(o: _Outcome) -> bool:
    """Each bill owed by its core to its tier-1, of the face drawn for it."""
    for b in o.d.bills:
        bill, node = o.bills.bill(o.ids.bill[b.k]), o.bills.node(o.ids.bill[b.k])
        if (
            str(bill["debtor"]).lower() != o.addr[b.core].lower()
            or str(node["to"]).lower() != o.addr[b.tier1].lower()
            or int(bill["faceValue"]) != b.face
        ):
            return False
    return True


def _all_approved(o: _Outcome) -> bool:
    """Four reviews and five audits per bill, every one positive; nothing cancelled or expired."""
    n = len(o.d.bills)
    reviews, audits = o.events["BillReviewed"], o.events["BillAudited"]
    return (
        len(reviews) == 3 * n
        and len(audits) == 4 * n
        and all(e["args"]["accepted"] for e in reviews)
        and all(e["args"]["approved"] for e in audits)
        and not o.events["BillRequestCancelled"]
        and not o.events["BillRequestExpired"]
    )


def _balances_exact(o: _Outcome) -> bool:
    """Before the redemption: each holder holds its part, the first tier-2 nothing left, and
    holdings + locked + redeemed = face for every bill."""
    before = o.before
    for b in o.d.bills:
        holdings, nodes = _holdings(o.d, o.ids, b), _nodes(o.ids, b)
        held = [before.held[(h, n)] for h, n, _ in holdings]
        if held != [amt for _, _, amt in holdings]:
            return False
        locked = sum(before.locked[n] for n in nodes)
        if sum(held) + locked + before.redeemed[nodes[0]] != b.face:
            return False
    return True


def _lineage_complete(o: _Outcome) -> bool:
    """The factor's holding traces back through the first tier-2's to the bill; the second
    tier-2's straight to the bill."""
    for b in o.d.bills:
        bill, tr_a, tr_b, fin = (x[b.k] for x in (o.ids.bill, o.ids.tr_a, o.ids.tr_b, o.ids.fin))
        if [int(i) for i in o.bills.lineage(fin)[0]] != [fin, tr_a, bill]:
            return False
        if [int(i) for i in o.bills.lineage(tr_b)[0]] != [tr_b, bill]:
            return False
    return True


def _financing_paid(o: _Outcome) -> bool:
    """Each financing at its factor's rate (the second factor's where it outbid) for the whole
    first part, its proceeds as the domain computes them at the signed quote's time, disbursed
    to the seller; every party's cash before the redemption as the credits and proceeds say."""
    from consortium import chain

    w3 = chain.web3()
    quoted = {
        int(e["args"]["nodeId"]): int(e["blockNumber"]) for e in o.events["BillFinancingQuoted"]
    }
    paid = {
        int(e["args"]["nodeId"]): (str(e["args"]["holder"]).lower(), int(e["args"]["proceeds"]))
        for e in o.events["BillFinancingDisbursed"]
    }
    cash = dict.fromkeys(o.d.participants(), 0) | o.d.funding
    for b in o.d.bills:
        fin = o.ids.fin[b.k]
        f = o.bills.financing(fin)
        if fin not in quoted:
            return False
        at = int(w3.eth.get_block(quoted[fin])["timestamp"])
        factor, rate = o.d.financier(b)
        due = proceeds(b.part_a, rate, int(o.bills.bill(o.ids.bill[b.k])["maturity"]), at)
        if (
            str(f["factor"]).lower() != o.addr[factor].lower()
            or (int(f["rateBps"]), int(f["amount"]), int(f["proceeds"])) != (rate, b.part_a, due)
            or paid.get(fin) != (o.addr[b.t2a].lower(), due)
        ):
            return False
        cash[b.t2a] += due
        cash[factor] -= due
    return all(o.before.cash.get(i) == v for i, v in cash.items())


def _cash_now(o: _Outcome, expected: dict[str, int]) -> bool:
    return all(int(o.cash.balanceOf(o.addr[i])) == v for i, v in expected.items())


def _maturity_paid(o: _Outcome) -> bool:
    """Each bill settled, its face paid by its core to exactly the holders of record, in cash."""
    expected = _expected(o.d, o.ids)
    redeemed = {
        (
            int(e["args"]["billId"]),
            int(e["args"]["nodeId"]),
            str(e["args"]["holder"]).lower(),
            int(e["args"]["amount"]),
        )
        for e in o.events["BillRedeemed"]
    }
    if redeemed != {(b, n, o.addr[h].lower(), a) for b, n, h, a in expected}:
        return False
    moves = dict(o.before.cash)
    for b in o.d.bills:
        bill = o.bills.bill(o.ids.bill[b.k])
        if int(bill["status"]) != BillStatus.SETTLED or int(bill["redeemed"]) != b.face:
            return False
        if int(o.bills.outstanding(o.ids.bill[b.k])) != 0:
            return False
        moves[b.core] -= b.face
    for _, _, holder, amount in expected:
        moves[holder] += amount
    return _cash_now(o, moves)
