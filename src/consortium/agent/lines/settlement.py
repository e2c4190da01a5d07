"""The cross-border settlement line as agents: each first party, the CCP, the CSD and the cash
issuers in their own process, driven by their own files and the chain's events.

Who starts what (no Python object is shared; each agent reads the chain or its own store):
- CSD and CASH_ISSUER: `issues` files -> SecurityToken.issue / DepositToken.issue, once per
  reference (the funding a participant holds before settling; a real depository or bank books the
  deposit it received). The CSD lists the consortium file's securities at start.
- CCP: `cycles` files -> openCycle. UploadsCompleted: once every expected first party completed
  its uploads (agent.yaml `settlement: {first_parties: [ids]}`, default every BROKER, CUSTODIAN and
  EXCHANGE of the consortium file) -> closeUploads; so does the cycle's `cut_off` when it passes.
  UploadsClosed -> its second clearing, computed from the chain's executions of record, distributed.
  Reconciled: once every reconciliation the cycle expects is on chain (each first party that
  uploaded, with the CCP, the CSD, its counterparties and, brokers, its investors; the ones late
  named in its outbox: `awaiting_reconciliations`) -> nets and instructs; a
  party whose reconciliation broke has its executions deferred first (decision
  `reconciliation_break`: auto, or queue for `consortium decide`: accept = defer them, reject = net
  the executions of record as they stand). At the cycle's `reconcile_by` it waits no longer: who
  is still awaited goes to its outbox (`reconciliation_cut_off`), and each party not reconciled
  with it has its executions deferred, as a break's are. The netting waits for every leg
  participant's own instruction (InstructionSubmitted retries it) and is sent only when the legs
  equal them all (consortium.domain.instructions.check; a difference is logged and reported,
  naming the party and asset, and waits for a corrected instruction).
- CSD: UploadsClosed -> its second clearing distributed; CycleNetted -> settle (DvP).
- BROKER, CUSTODIAN, EXCHANGE: `charges` files -> setClearingConfig; `trades` files kept in the
  store until the CCP opens the cycle of their trade date (CycleOpened) -> uploadTrades, then
  completeUploads (its end of file, also with nothing to upload);
  SecondClearingDistributed for it -> reconcile with that second party; UploadsClosed -> reconcile
  with its counterparties along the chain and (brokers) each investor's statement; its own
  Reconciled matched with the cycle's CCP (or an InstructionVoided of it: a deferral) -> a clearing
  participant names its charge accounts (agent.yaml `settlement: {fee_collector, tax_authority}`,
  institution ids; default the first CASH_ISSUER and the CCP's jurisdiction's regulator) and
  uploads its settlement instruction, derived from its own trades less the chain's deferrals; a
  reconciliation the cycle no longer takes (netted) is refused, logged and reported by name;
  SettlementInstructed / CycleSettled -> outbox/settlement/<cycle>.json (instructions, results).

On chain a security is `security_number(id)` (its id as a bytes32 code read as an integer: the
same for every member without a table to agree on), a trade id is the keccak of the trade's id
text, a beneficial owner `owner_commitment(owner_ref, trade date)`: salted with a salt every party
of the trade derives alike, so they upload one record (a salt agreed over a channel per owner
would hide the pseudonym better; the pseudonym is already not a name).

What one handler sends side by side goes out as one phase of the agent's pipe (`Agent.pipe`,
consortium.txpipe: posted without waiting, one wait for the receipts, closed inside the
handler), each transaction with the node's gas estimate (see `Agent.pipe`): a first party's upload
batches, then its end of file once they are mined; its reconciliations of one event (every status
read in one JSON-RPC batch first); a second party's clearing batches. The rest is one plain send at
a time.

Every handler asks the chain first (a cycle's status, a reconciliation's status, the outbox's
keyed batches), so an event replayed after a kill sends nothing twice.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, ClassVar

from consortium.agent.base import FileRefused, Role
from consortium.agent.formats import CHARGE_KINDS, PAYERS
from consortium.domain.clearing import Charge, Trade
from consortium.domain.encoding import b32
from consortium.domain.hashing import code32
from consortium.domain.instructions import (
    CashNetMismatch,
    InstructionMismatch,
    NoInstruction,
    check,
    check_due,
)
from consortium.domain.netting import NettingImbalance, deferrals
from consortium.domain.roles import ROLES
from consortium.outbox import close_phase, is_refusal
from consortium.roles.deposits import CashIssuer
from consortium.roles.settlement import (
    CURRENCIES,
    Broker,
    CentralCounterparty,
    CentralDepository,
    Custodian,
    Exchange,
    date_number,
    security_number,
    trade_of,
)
from consortium.txpipe import TxPipeError

log = logging.getLogger("consortium.agent")

NONE, OPEN, NETTED, SETTLED = 0, 1, 2, 3  # ISettlementEngine.CycleStatus
RECON_NONE, MATCHED, BROKEN = 0, 1, 2  # ISettlementEngine.ReconStatus
BREAK = "reconciliation_break"  # the CCP's decision kind: defer a breaking party?
TRADES = "settlement.trade"  # a first party's trades: trade id text -> row
CYCLES = "settlement.cycle"  # a first party's open cycles: trade date -> cycle id
FIRST_ROLES = ("BROKER", "CUSTODIAN", "EXCHANGE")
CUT_OFF = "settlement.cut_off"  # the CCP's cut-offs: cycle id -> unix seconds
RECONCILE_BY = "settlement.reconcile_by"  # the CCP's reconciliation cut-offs, the same way


def peer_key(address: str) -> bytes:
    """The engine's bucket key of a counterparty (bytes32 of its address)."""
    return bytes(12) + bytes.fromhex(address[2:])


def chain_peers(me: str, trades: Any) -> set[str]:
    """The counterparties `me` reconciles with along its trades' chains (level Intermediary)."""
    return {a for t in trades if t.involves(me) for a in t.chain_parties()} - {me}


def _same(a: str, b: str) -> bool:
    return str(a).lower() == str(b).lower()


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}


def _row_back(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"trade_date": date.fromisoformat(row["trade_date"])}


class _SettlementRole(Role):
    """What every role of the line shares: the engine, the party's own settings, its reports.

    An institution holding a role of this line on a deployment without the settlement engine
    (another line's suite) runs its other roles: this one stays idle and refuses its files."""

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.live = "SettlementEngine" in agent.suite.contracts

    def check_live(self) -> None:
        if not self.live:
            raise FileRefused(
                0, "the deployment has no settlement engine; point agent.yaml at one that has"
            )

    @property
    def engine(self) -> Any:
        return self.agent.suite["SettlementEngine"]

    @property
    def me(self) -> str:
        return self.agent.account.address

    def party_kw(self) -> dict[str, Any]:
        return {
            "store": self.agent.store,
            "web3": self.agent.w3,
            "from_block": int(self.agent.suite.block),
            "gas_limit": None,  # estimated: the institutions send side by side
        }

    def address_of(self, ident: str, line: int = 0) -> str:
        address = self.agent.settings.addresses.get(ident)
        if address is None:
            raise FileRefused(
                line, f"no member address for {ident!r}: add it under 'addresses:' in agent.yaml"
            )
        return address

    def status(self, cycle_id: bytes) -> int:
        return int(self.engine.getCycle(cycle_id)["status"])

    def recon_status(self, cycle_id: bytes, pairs: list[tuple[str, bytes]]) -> list[int]:
        """The reconciliation status of each (party, peer key), read in one JSON-RPC batch (a
        cycle's reconciliations are many: one request each was most of a handler's time)."""
        args = [(cycle_id, party, key) for party, key in pairs]
        return [int(x) for x in self.agent.pipe.call_many(self.engine, "reconStatus", args)]

    def piped(self, party: Any) -> Any:
        """A copy of role object `party` whose engine sends through the agent's pipe (each
        transaction with its own estimated gas: `Agent.pipe`); its outbox is the copy's own, over
        the same store: close the phase with `close_phase(self.agent.pipe, copy.outbox)`."""
        return dataclasses.replace(party, engine=self.agent.pipe.bind(self.engine))

    def charge_accounts(self) -> tuple[str, str]:
        """(fee collector, tax authority): agent.yaml's ids, else the consortium file's first
        CASH_ISSUER and the first regulator of the first CCP's jurisdiction (else the collector)."""
        section = self.agent.settings.line("settlement")
        cfg = self.agent.consortium
        fee = section.get("fee_collector") or cfg.with_role("CASH_ISSUER")[0].id
        tax = section.get("tax_authority")
        if tax is None:
            where = cfg.with_role("CCP")[0].jurisdiction
            tax = next((r.id for r in cfg.with_role("REGULATOR") if r.jurisdiction == where), fee)
        return self.address_of(fee), self.address_of(tax)

    def report(self, cycle_id: bytes, part: str, body: Any) -> None:
        """outbox/settlement/<cycle>.json: this party's view of the cycle, one part at a time."""
        name = f"{cycle_id.rstrip(bytes(1)).decode(errors='replace')}.json"
        path = self.agent.home.outbox / "settlement" / name
        known = json.loads(path.read_text()) if path.exists() else {"cycle": "0x" + cycle_id.hex()}
        self.agent.write_output("settlement", name, json.dumps(known | {part: body}, indent=2))


# ---------------------------------------------------------------------------- first parties


class _FirstPartyRole(_SettlementRole):
    formats = ("trades", "charges")
    events: ClassVar[dict[str, str]] = {
        "CycleOpened": "on_opened",
        "SecondClearingDistributed": "on_distributed",
        "UploadsClosed": "on_closed",
        "Reconciled": "on_reconciled",
        "InstructionVoided": "on_voided",
        "SettlementInstructed": "on_instructed",
        "CycleSettled": "on_settled",
    }
    party_class: ClassVar[type] = Broker

    def __init__(self, agent: Any):
        super().__init__(agent)
        self._sender: Any = None
        if not self.live:
            return
        self.party = self.party_class(agent.institution, self.engine, None, **self.party_kw())

    @property
    def sender(self) -> Any:
        """My party sending through the agent's pipe (`piped`), made on first use."""
        if self._sender is None:
            self._sender = self.piped(self.party)
        return self._sender

    def start(self) -> None:
        if not self.live:
            return
        self.party.outbox.resume()

    def handle_file(self, file: Any) -> dict[str, Any]:
        self.check_live()
        if file.format == "charges":
            return self.configure(file)
        return self.take_trades(file)

    # ------------------------------------------------------------ charges
    def configure(self, file: Any) -> dict[str, Any]:
        """The whole configuration of each security named, set once (skipped when the chain holds
        it already)."""
        token = self.agent.suite["SecurityToken"]
        by_security: dict[str, list[Charge]] = {}
        for n, row in enumerate(file.rows):
            if not token.isListed(security_number(row["security"])):
                raise FileRefused(
                    file.line_of(n),
                    f"security {row['security']} is not listed by the CSD yet; drop the file "
                    "again once it is",
                )
            charge = Charge(
                CHARGE_KINDS[row["kind"]], PAYERS[row["payer"]], row["bps"], row["minimum"] or 0
            )
            by_security.setdefault(row["security"], []).append(charge)
        set_now = []
        for code, charges in by_security.items():
            sid, wanted = security_number(code), [c.as_tuple() for c in charges]
            held = [tuple(int(x) for x in c) for c in self.engine.clearingConfig(self.me, sid)]
            if held != wanted:
                self.party.configure(sid, charges)
                set_now.append(code)
        return {"securities": sorted(by_security), "set": set_now}

    # ------------------------------------------------------------ trades
    def take_trades(self, file: Any) -> dict[str, Any]:
        """Every row checked before anything is kept or sent; kept, then uploaded at once when the
        cycle of its trade date is open (else when the CCP opens it)."""
        store = self.agent.store
        dates = set()
        for n, row in enumerate(file.rows):
            line = file.line_of(n)
            for col in ("participant", "local_broker", "custodian", "exchange"):
                if row.get(col):
                    self.address_of(row[col], line)
            earlier = store.get(TRADES, row["trade_id"])
            if earlier is not None and earlier["file"] != file.sha256:
                raise FileRefused(
                    line,
                    f"trade {row['trade_id']} came in an earlier file already; send a "
                    "correction as a new trade id",
                )
            day = date_number(row["trade_date"])
            cycle = store.get(CYCLES, str(day))
            if cycle is not None and self._uploaded_or_closed(b32(cycle["cycle"])):
                raise FileRefused(
                    line,
                    f"cycle {cycle['name']} of trade date {row['trade_date']} has taken its "
                    "uploads; late trades go to a later cycle",
                )
            dates.add(day)
        for row in file.rows:
            store.put(TRADES, row["trade_id"], _jsonable(row) | {"file": file.sha256})
        uploaded = []
        for day in sorted(dates):
            cycle = store.get(CYCLES, str(day))
            if cycle is not None:
                self.upload(b32(cycle["cycle"]), day)
                uploaded.append(cycle["name"])
        return {"trades": len(file.rows), "uploaded_to": uploaded}

    def _uploaded_or_closed(self, cycle_id: bytes) -> bool:
        cycle = self.engine.getCycle(cycle_id)
        if int(cycle["status"]) != OPEN or cycle["uploadsClosed"]:
            return True
        return self.agent.store.done(f"settlement.uploaded:{cycle_id.hex()}")

    def my_trades(self, day: int) -> list[Trade]:
        addresses = self.agent.settings.addresses
        rows = self.agent.store.all(TRADES).values()
        out = [trade_of(_row_back(r), addresses) for r in rows]
        return [t for t in out if t.trade_date == day]

    def upload(self, cycle_id: bytes, day: int) -> None:
        """Upload the day's trades once (the outbox keys each batch; a mark keeps later files
        out): the batches in one phase of the agent's pipe, then, once they are mined (the CCP
        closes uploads on it), my end of file in a second."""
        step = f"settlement.uploaded:{cycle_id.hex()}"
        if self.agent.store.done(step):
            return
        trades = self.my_trades(day)
        sender = self.sender
        if trades:
            log.info("uploading %d trades to cycle %s", len(trades), _name(cycle_id))
            try:
                sender.upload(cycle_id, trades)
            finally:
                close_phase(self.agent.pipe, sender.outbox)
        try:  # my end of file: the CCP closes uploads once every party it expects completed
            try:
                sender.complete_uploads(cycle_id)
            finally:
                close_phase(self.agent.pipe, sender.outbox)
        except Exception as exc:
            cycle = self.engine.getCycle(cycle_id)
            if not is_refusal(exc) or (int(cycle["status"]) == OPEN and not cycle["uploadsClosed"]):
                raise  # fate unknown, or refused while open: the follower retries the event
            log.warning("cycle %s: uploads closed before I completed them", _name(cycle_id))
        self.agent.store.mark(step, str(len(trades)))

    def on_opened(self, ev: Any) -> None:
        cycle_id, day = b32(ev["cycleId"]), int(ev["tradeDate"])
        self.agent.store.put(
            CYCLES, str(day), {"cycle": "0x" + cycle_id.hex(), "name": _name(cycle_id)}
        )
        if self.status(cycle_id) == OPEN and not self.engine.getCycle(cycle_id)["uploadsClosed"]:
            self.upload(cycle_id, day)

    # ------------------------------------------------------------ reconciliation
    def reconcile(
        self,
        cycle_id: bytes,
        peers: Iterable[str],
        statements: Mapping[bytes, list[Trade]] | None = None,
    ) -> None:
        """Reconcile with each of `peers` and (a broker) each investor of `statements` (owner
        commitment -> its trades) not reconciled yet, in one phase of the agent's pipe: every
        status read in one batch, every reconciliation still needed posted without waiting, one
        wait. A refusal because the cycle no longer takes reconciliations (netted under us) is
        reported by name (`refused`); any other failure, or a fate unknown, raises: the follower
        retries the event, and the retry asks the chain first, so nothing is sent twice."""
        statements = statements or {}
        wanted: dict[bytes, str | None] = {peer_key(p): p for p in peers}
        wanted |= dict.fromkeys(statements)
        statuses = self.recon_status(cycle_id, [(self.me, k) for k in wanted])
        todo = [k for k, s in zip(wanted, statuses, strict=True) if s == RECON_NONE]
        if not todo:
            return
        status = self.status(cycle_id)
        if status != OPEN:
            return self.refused(cycle_id, status, todo)
        log.info("reconciling cycle %s: %d reconciliations", _name(cycle_id), len(todo))
        sent, failed = {}, {}
        try:
            for key in todo:
                peer = wanted[key]
                try:
                    if peer is None:
                        tx = self.sender.reconcile_investor(cycle_id, key, statements[key])
                    else:
                        tx = self.sender.reconcile(cycle_id, peer)
                except Exception as exc:
                    if not is_refusal(exc):
                        raise  # fate unknown: the follower retries once the phase is closed
                    failed[key] = str(exc)
                else:
                    sent[key] = tx
        finally:
            self.agent.pipe.wait(raise_on_failure=False)
        failed |= {k: tx.error for k, tx in sent.items() if tx.status != 1}
        if not failed:
            return None
        status = self.status(cycle_id)
        if status == OPEN:  # not the cycle closing under us: the follower retries the event
            raise TxPipeError([(f"reconcile 0x{k.hex()}", str(e)) for k, e in failed.items()])
        return self.refused(cycle_id, status, list(failed))

    def refused(self, cycle_id: bytes, status: int, keys: list[bytes]) -> None:
        """The cycle no longer takes reconciliations (netted before this party reconciled with
        `keys`): logged and reported by name in the outbox (`reconciliation_refused`), so the
        day's check counts each reconciliation missing."""
        named = ["0x" + k.hex() for k in keys]
        log.warning(
            "cycle %s: no longer open (status %d); reconciliations with %s refused",
            _name(cycle_id),
            status,
            named,
        )
        earlier = dict(self._part(cycle_id, "reconciliation_refused"))
        self.report(cycle_id, "reconciliation_refused", earlier | dict.fromkeys(named, status))

    def on_distributed(self, ev: Any) -> None:
        if _same(ev["party"], self.me):
            self.reconcile(b32(ev["cycleId"]), [str(ev["secondParty"])])

    def on_closed(self, ev: Any) -> None:
        """Reconcile with each counterparty along my trades' chains, and each investor, at once."""
        cycle_id = b32(ev["cycleId"])
        day = int(self.engine.getCycle(cycle_id)["tradeDate"])
        mine = [t for t in self.my_trades(day) if t.involves(self.me)]
        statements: dict[bytes, list[Trade]] = {}
        if isinstance(self.party, Broker):
            for t in sorted(mine, key=lambda t: bytes(t.owner_commitment)):
                statements.setdefault(bytes(t.owner_commitment), []).append(t)
        self.reconcile(cycle_id, sorted(chain_peers(self.me, mine)), statements)

    def on_reconciled(self, ev: Any) -> None:
        if not _same(ev["party"], self.me):
            return
        cycle_id = b32(ev["cycleId"])
        key = "0x" + b32(ev["peer"]).hex()
        entry = {"level": int(ev["level"]), "matched": bool(ev["matched"]), "block": ev.block}
        recon = dict(self._part(cycle_id, "reconciliations")) | {key: entry}
        self.report(cycle_id, "reconciliations", recon)
        ccp = self.engine.getCycle(cycle_id)["ccp"]
        if int(ev["level"]) == 0 and bool(ev["matched"]) and b32(ev["peer"]) == peer_key(ccp):
            self.instruct(cycle_id)

    def on_voided(self, ev: Any) -> None:
        """A deferral of one of my trades voided my instruction: instruct again without it."""
        if _same(ev["participant"], self.me):
            self.instruct(b32(ev["cycleId"]))

    def instruct(self, cycle_id: bytes) -> None:
        """Upload my settlement instruction (a clearing participant, reconciled with the CCP, the
        cycle open): charge accounts named first when they differ."""
        if self.status(cycle_id) != OPEN:
            return
        day = int(self.engine.getCycle(cycle_id)["tradeDate"])
        trades = self.my_trades(day)
        if not any(_same(t.participant, self.me) for t in trades):
            return
        wanted = self.charge_accounts()
        held = tuple(str(a) for a in self.engine.chargeAccounts(self.me))
        if tuple(a.lower() for a in held) != tuple(a.lower() for a in wanted):
            self.party.name_charge_accounts(*wanted)
        self.party.charges_from_chain({t.security_id for t in trades})
        lines = self.party.instruction(cycle_id, trades)
        if not lines:
            return
        try:  # a dry run first: a deferral mined since we read the chain voids these lines
            self.engine.submitInstruction.call(
                cycle_id, [x.as_tuple() for x in lines], {"from": self.agent.account}
            )
        except Exception as exc:  # noqa: BLE001  the refusal, named by the engine
            log.warning(
                "cycle %s: instruction refused at a dry run (%s); its event retries",
                _name(cycle_id),
                exc,
            )
            return
        log.info("cycle %s: instructing %d lines", _name(cycle_id), len(lines))
        try:
            self.party.send_instruction(cycle_id, lines)
        except Exception as exc:
            if "revert" not in str(exc):
                raise  # a node that hiccuped: the follower retries the event
            # a deferral mined between the dry run and the send: it voided these lines, and its
            # InstructionVoided event instructs again with the charges left
            log.warning("cycle %s: instruction refused when sent (%s)", _name(cycle_id), exc)
            return
        self.report(cycle_id, "instruction", [_line_row(x) for x in lines])

    def _part(self, cycle_id: bytes, part: str) -> Any:
        name = f"{_name(cycle_id)}.json"
        path = self.agent.home.outbox / "settlement" / name
        return json.loads(path.read_text()).get(part, {}) if path.exists() else {}

    # ------------------------------------------------------------ instructions and results
    def on_instructed(self, ev: Any) -> None:
        if not _same(ev["participant"], self.me):
            return
        cycle_id = b32(ev["cycleId"])
        leg = {
            "kind": "cash" if int(ev["kind"]) else "security",
            "asset": str(ev["asset"]),
            "amount": int(ev["amount"]),
        }
        legs = dict(self._part(cycle_id, "instructions")) | {str(int(ev["sequence"])): leg}
        self.report(cycle_id, "instructions", legs)

    def on_settled(self, ev: Any) -> None:
        cycle_id = b32(ev["cycleId"])
        legs = self._part(cycle_id, "instructions")
        if not legs:
            return
        holdings = {}
        for leg in legs.values():
            holdings[leg["asset"]] = self._balance(leg["kind"], int(leg["asset"]))
        self.report(cycle_id, "settled", {"block": ev.block, "balances_after": holdings})

    def _balance(self, kind: str, asset: int) -> int:
        if kind == "security":
            return int(self.agent.suite["SecurityToken"].balanceOf(self.me, asset))
        code = asset.to_bytes(32, "big").rstrip(bytes(1)).decode()
        return int(self.agent.suite[f"DepositToken:{code}"].balanceOf(self.me))


def distribute(role: _SettlementRole, party: Any, cycle_id: bytes) -> None:
    """A second party's clearing data of every first party, its batches in one phase of the
    agent's pipe (independent: each keyed by its own reference)."""
    sender = role.piped(party)
    try:
        sender.distribute(cycle_id, sender.compute(cycle_id))
    finally:
        close_phase(role.agent.pipe, sender.outbox)


def _line_row(line: Any) -> dict[str, Any]:
    """An instruction line as the participant's outbox reports it (asset as text: JSON-safe)."""
    kind, asset, amount, fees, taxes = line.as_tuple()
    kind_name = "cash" if kind else "security"
    return {"kind": kind_name, "asset": str(asset), "amount": amount, "fees": fees, "taxes": taxes}


def _name(cycle_id: bytes) -> str:
    return cycle_id.rstrip(bytes(1)).decode(errors="replace")


class BrokerRole(_FirstPartyRole):
    role = "BROKER"
    party_class = Broker


class CustodianRole(_FirstPartyRole):
    role = "CUSTODIAN"
    party_class = Custodian


class ExchangeRole(_FirstPartyRole):
    role = "EXCHANGE"
    party_class = Exchange


# ---------------------------------------------------------------------------- CCP


class CcpRole(_SettlementRole):
    role = "CCP"
    formats = ("cycles",)
    decisions = (BREAK,)
    events: ClassVar[dict[str, str]] = {
        "UploadsCompleted": "on_completed",
        "UploadsClosed": "on_closed",
        "Reconciled": "on_reconciled",
        "InstructionSubmitted": "on_instruction",
    }

    def __init__(self, agent: Any):
        super().__init__(agent)
        self._expected: dict[bytes, dict[str, set[bytes]]] = {}  # cycle -> party -> peers awaited
        if not self.live:
            return
        self.ccp = CentralCounterparty(agent.institution, self.engine, None, **self.party_kw())

    def start(self) -> None:
        if not self.live:
            return
        self.ccp.outbox.resume()

    def expected(self) -> list[str]:
        """The first parties whose upload closes a cycle (settings, else the consortium file's)."""
        ids = self.agent.settings.line("settlement").get("first_parties")
        if ids is None:
            ids = [
                i.id for i in self.agent.consortium.institutions if set(i.roles) & set(FIRST_ROLES)
            ]
        return [self.agent.settings.addresses[i] for i in ids]

    def handle_file(self, file: Any) -> dict[str, Any]:
        """Open each cycle not open yet; one cycle per trade date (the first parties upload a trade
        date's executions to the cycle opened for it)."""
        self.check_live()
        dates: dict[Any, str] = {}
        for n, row in enumerate(file.rows):
            if len(row["cycle_id"].encode()) > 32:
                raise FileRefused(
                    file.line_of(n), f"cycle id {row['cycle_id']!r} is over 32 bytes; shorten it"
                )
            other = dates.setdefault(row["trade_date"], row["cycle_id"])
            if other != row["cycle_id"]:
                raise FileRefused(
                    file.line_of(n),
                    f"trade date {row['trade_date']} has cycle {other} on an earlier row; one "
                    "cycle per trade date",
                )
        opened, already = [], []
        for row in file.rows:
            cycle_id = code32(row["cycle_id"])
            for column, kind in (("cut_off", CUT_OFF), ("reconcile_by", RECONCILE_BY)):
                if row.get(column) is not None:
                    self.agent.store.put(kind, "0x" + cycle_id.hex(), {"at": int(row[column])})
            if self.status(cycle_id) != NONE:
                already.append(row["cycle_id"])
                continue
            log.info("opening cycle %s for %s", row["cycle_id"], row["trade_date"])
            self.ccp.open_cycle(cycle_id, date_number(row["trade_date"]))
            opened.append(row["cycle_id"])
        return {"opened": opened, "open_already": already}

    def tick(self) -> None:
        """Close the uploads of a cycle whose cut-off passed (waiting for nobody any longer); at a
        cycle's reconciliation cut-off, net without the parties not reconciled with the CCP."""
        now = time.time()
        for key, row in self.agent.store.all(RECONCILE_BY).items():
            if not row.get("done") and now >= row["at"] and self.reconcile_cut_off(b32(key)):
                self.agent.store.put(RECONCILE_BY, key, row | {"done": True})
        for key, row in self.agent.store.all(CUT_OFF).items():
            if row.get("closed") or now < row["at"]:
                continue
            cycle_id = b32(key)
            cycle = self.engine.getCycle(cycle_id)
            if int(cycle["status"]) == OPEN and not cycle["uploadsClosed"]:
                log.info("cycle %s: cut-off passed; closing uploads", _name(cycle_id))
                self.ccp.close_uploads(cycle_id)
            self.agent.store.put(CUT_OFF, key, row | {"closed": True})

    def _mine(self, cycle_id: bytes) -> bool:
        return _same(self.engine.getCycle(cycle_id)["ccp"], self.me)

    def on_completed(self, ev: Any) -> None:
        """Close the cycle's uploads once every expected first party completed its own (its end of
        file, UploadsCompleted): a party uploading several batches is never cut off after its
        first one; one that never completes is waited for until the cycle's cut-off."""
        cycle_id = b32(ev["cycleId"])
        cycle = self.engine.getCycle(cycle_id)
        if not _same(cycle["ccp"], self.me) or int(cycle["status"]) != OPEN:
            return
        if cycle["uploadsClosed"]:
            return
        waiting = [a for a in self.expected() if not self.engine.uploadsCompleted(cycle_id, a)]
        if waiting:
            log.info("cycle %s: waiting for the uploads of %s", _name(cycle_id), waiting)
            return
        log.info("cycle %s: every first party completed its uploads; closing", _name(cycle_id))
        self.ccp.close_uploads(cycle_id)

    def on_closed(self, ev: Any) -> None:
        cycle_id = b32(ev["cycleId"])
        if self._mine(cycle_id) and self.status(cycle_id) == OPEN:
            log.info("cycle %s: distributing second clearing", _name(cycle_id))
            distribute(self, self.ccp, cycle_id)

    def reconcile_cut_off(self, cycle_id: bytes) -> bool:
        """The reconciliation cut-off of `cycle_id` passed: the parties still awaited are named in
        the outbox (`reconciliation_cut_off`: their missing peers); each one not reconciled with
        the CCP (the engine nets no uploader's trades otherwise) has its executions deferred, as a
        break is (decision `reconciliation_break`), and the rest is netted; one late only at
        another level is netted as it stands. False while the cut-off cannot act yet: uploads not
        closed, or the CCP's own second clearing not on chain for every uploader."""
        cycle = self.engine.getCycle(cycle_id)
        if not _same(cycle["ccp"], self.me) or int(cycle["status"]) != OPEN:
            return True
        if not cycle["uploadsClosed"]:
            return False
        expected = self.awaited(cycle_id, None)
        me = peer_key(self.me)
        if any(int(self.engine.bucket(cycle_id, self.me, peer_key(p))[0]) == 0 for p in expected):
            return False  # our second clearing is still on its way: nobody could reconcile yet
        late = {p: k for p, k in expected.items() if k}
        if not late:
            return True  # every reconciliation is in: the Reconciled events net
        ids = {a.lower(): i for i, a in self.agent.settings.addresses.items()}
        named = {
            ids.get(p.lower(), p): sorted("0x" + k.hex() for k in keys) for p, keys in late.items()
        }
        log.warning(
            "cycle %s: reconciliation cut-off passed; still awaited: %s", _name(cycle_id), named
        )
        self.report(cycle_id, "reconciliation_cut_off", named)
        status = dict(
            zip(expected, self.recon_status(cycle_id, [(p, me) for p in expected]), strict=True)
        )
        self.net_or_ask(cycle_id, sorted(p for p, s in status.items() if s != MATCHED))
        return True

    def awaited(self, cycle_id: bytes, ev: Any | None) -> dict[str, set[bytes]]:
        """The reconciliations the cycle still awaits, by first party (peer keys): each party that
        uploaded, with the CCP and the CSD, with each counterparty along its uploaded trades' chains
        and (a BROKER of the consortium file) with each investor on them, as each party derives its
        own (a counterparty the registry holds no active first party is left out: the engine
        refuses it). Read from the chain's uploads (fixed once uploads closed), the registry and
        reconciliation status once per process; then each Reconciled `ev` crosses its pair off."""
        expected = self._expected.get(cycle_id)
        if expected is not None:
            for party, keys in expected.items() if ev is not None else ():
                if _same(party, ev["party"]):
                    keys.discard(b32(ev["peer"]))
            return expected
        cycle = self.ccp.read_cycle(cycle_id)
        csd = str(self.agent.suite["SecurityToken"].csd())
        addresses = self.agent.settings.addresses
        brokers = {
            str(addresses.get(i.id, "")).lower() for i in self.agent.consortium.with_role("BROKER")
        }
        registry = self.agent.suite.registry
        # the engine refuses a counterparty no active first party (SettlementUnknownCounterparty)
        first = {
            a
            for a in {a for u in cycle.uploads for t in u.trades for a in t.chain_parties()}
            if registry.isActive(a) and any(registry.hasRole(a, ROLES[r]) for r in FIRST_ROLES)
        }
        pairs = []
        for party in cycle.uploaders():
            mine = [t for u in cycle.uploads if u.party == party for t in u.trades]
            keys = {peer_key(a) for a in {self.me, csd} | (chain_peers(party, mine) & first)}
            if party.lower() in brokers:
                keys |= {bytes(t.owner_commitment) for t in mine if t.involves(party)}
            pairs += [(party, k) for k in sorted(keys)]
        expected = {party: set() for party in cycle.uploaders()}
        for (party, key), status in zip(pairs, self.recon_status(cycle_id, pairs), strict=True):
            if status == RECON_NONE:
                expected[party].add(key)
        self._expected[cycle_id] = expected
        return expected

    def on_reconciled(self, ev: Any) -> None:
        """Net once every reconciliation the cycle expects is on chain (`awaited`): the source
        document has each first party reconcile at every level before settlement follows. Until
        then the parties late are logged and named in the outbox (`awaiting_reconciliations`).

        The cycle is read at its first event here and once nothing is late, not at every event: a
        large day's 3,000 events, one read each on a busy chain, held the CCP 13 minutes behind."""
        cycle_id = b32(ev["cycleId"])
        if cycle_id not in self._expected and not self._ours_to_net(cycle_id):
            return
        expected = self.awaited(cycle_id, ev)
        ids = {a.lower(): i for i, a in self.agent.settings.addresses.items()}
        late = {ids.get(p.lower(), p): len(k) for p, k in expected.items() if k}
        self.report(cycle_id, "awaiting_reconciliations", late)
        if late:
            log.info("cycle %s: waiting for reconciliations of %s", _name(cycle_id), late)
            return
        if not self._ours_to_net(cycle_id):  # netted since the cycle was first read
            return
        me = peer_key(self.me)
        status = dict(
            zip(expected, self.recon_status(cycle_id, [(p, me) for p in expected]), strict=True)
        )
        self.net_or_ask(cycle_id, sorted(p for p, s in status.items() if s == BROKEN))

    def _ours_to_net(self, cycle_id: bytes) -> bool:
        """The cycle is this CCP's, open, and its uploads are closed (one read)."""
        cycle = self.engine.getCycle(cycle_id)
        return (
            _same(cycle["ccp"], self.me)
            and int(cycle["status"]) == OPEN
            and bool(cycle["uploadsClosed"])
        )

    def net_or_ask(self, cycle_id: bytes, broken: list[str]) -> None:
        """Net; with parties `broken` (or not reconciled by the cut-off) defer their executions
        first, or ask first when decision `reconciliation_break` is queued."""
        if not broken:
            return self.net(cycle_id, [])
        if self.agent.settings.decision_mode(BREAK) == "queue":
            item = f"break-{_name(cycle_id)}"
            log.info(
                "cycle %s: reconciliation broke for %s; asking (%s)", _name(cycle_id), broken, item
            )
            self.agent.decisions.queue(
                BREAK, item, {"cycle": "0x" + cycle_id.hex(), "parties": broken}
            )
            return None
        return self.net(cycle_id, broken)

    def on_decision(self, decision: Any) -> None:
        """accept: defer the breaking parties' executions and net;
        reject: net them as they stand."""
        cycle_id = b32(decision.subject["cycle"])
        if self.status(cycle_id) == OPEN:
            self.net(cycle_id, decision.subject["parties"] if decision.accepted else [])

    def net(self, cycle_id: bytes, defaulters: list[str]) -> None:
        """Defer the defaulters' executions (both sides; once: the chain's deferrals are read
        first) and every own upload outside the venue (the netting covers every uploader), net the
        rest and instruct; the netting goes to outbox/settlement."""
        if self.status(cycle_id) != OPEN:
            return
        name = _name(cycle_id)
        cycle = self.ccp.read_cycle(cycle_id)
        if defaulters:
            earlier = {t.record_hash() for t in cycle.deferred}
            try:
                fresh = deferrals(
                    [t for t in cycle.trades if t.record_hash() not in earlier], defaulters
                )
            except NettingImbalance as exc:
                log.error("cycle %s: cannot defer the executions of %s: %s", name, defaulters, exc)
                return
            if fresh:
                log.info("cycle %s: deferring %d trades of %s", name, len(fresh), defaulters)
                self.ccp.defer(
                    cycle_id, [t.trade_id for t in fresh], f"reconciliation broke: {defaulters}"
                )
        off = self.ccp.defer_off_venue(cycle_id, "no venue execution", cycle)
        if off:
            log.info("cycle %s: deferred %d own uploads outside the venue", name, off)
        self.agent.store.mark(f"settlement.ready:{cycle_id.hex()}", "defer:" + ",".join(defaulters))
        self.submit_netting(cycle_id, defaulters)

    def on_instruction(self, ev: Any) -> None:
        """A participant instructed: net if the cycle was waiting only for instructions."""
        cycle_id = b32(ev["cycleId"])
        ready = self.agent.store.done(f"settlement.ready:{cycle_id.hex()}")
        if ready is not None and self._mine(cycle_id) and self.status(cycle_id) == OPEN:
            self.submit_netting(cycle_id, [p for p in ready.removeprefix("defer:").split(",") if p])

    def submit_netting(self, cycle_id: bytes, defaulters: list[str]) -> None:
        """Net and instruct once every leg participant's instruction equals its legs."""
        name = _name(cycle_id)
        cycle = self.ccp.read_cycle(cycle_id)
        result = self.ccp.net(cycle_id, cycle)
        deferred = cycle.deferred
        body = {
            "legs": [
                {
                    "participant": g.participant,
                    "kind": g.kind,
                    "asset": str(g.asset),
                    "amount": g.amount,
                }
                for g in result.legs
            ],
            "trades": result.trade_set.count,
            "deferred": ["0x" + t.trade_id.hex() for t in deferred],
            "deferred_parties": defaulters,
        }
        if not result.legs:
            log.warning("cycle %s: nothing left to net after the deferrals; not instructed", name)
            self.report(cycle_id, "netting", body | {"instructed": False})
            return
        try:
            standing = self.ccp.instructions(cycle_id)
            check(standing, result.legs)
            check_due(standing, self.ccp.dues(cycle_id, cycle))
        except NoInstruction as exc:
            log.info("cycle %s: waiting for instructions: %s", name, exc)
            return
        except (InstructionMismatch, CashNetMismatch) as exc:
            log.error("cycle %s: an instruction differs from the netting: %s", name, exc)
            self.report(cycle_id, "instruction_break", str(exc))
            return
        log.info(
            "cycle %s: netting %d trades into %d legs",
            name,
            result.trade_set.count,
            len(result.legs),
        )
        self.ccp.instruct(cycle_id, result)
        self.report(
            cycle_id, "netting", body | {"instructed": True, "efficiency": result.efficiency()}
        )


# ---------------------------------------------------------------------------- CSD and cash


class _IssuerRole(_SettlementRole):
    formats = ("issues",)
    first = True  # the settlement and bills lines wait for this money and these securities

    def issue_row(self, row: dict[str, Any], holder: str) -> None:
        raise NotImplementedError

    def check_asset(self, asset: str) -> str | None:
        """Why this issuer cannot issue `asset` (None when it can)."""
        raise NotImplementedError

    def handle_file(self, file: Any) -> dict[str, Any]:
        self.check_live()
        holders = []
        for n, row in enumerate(file.rows):
            why = self.check_asset(row["asset"])
            if why:
                raise FileRefused(file.line_of(n), why)
            holders.append(self.address_of(row["holder"], file.line_of(n)))
        for row, holder in zip(file.rows, holders, strict=True):
            self.issue_row(row, holder)
        self.outbox.collect()
        return {"issued": len(file.rows)}


class CsdRole(_IssuerRole):
    role = "CSD"
    events: ClassVar[dict[str, str]] = {
        "UploadsClosed": "on_closed",
        "CycleNetted": "on_netted",
    }

    def __init__(self, agent: Any):
        super().__init__(agent)
        if not self.live:
            return
        self.csd = CentralDepository(
            agent.institution,
            self.engine,
            None,
            security_token=agent.suite["SecurityToken"],
            **self.party_kw(),
        )
        self.outbox = self.csd.outbox

    def start(self) -> None:
        """Book what an earlier process sent; list the consortium file's securities not listed."""
        if not self.live:
            return
        self.csd.outbox.resume()
        token = self.csd.security_token
        if not _same(token.csd(), self.me):
            return
        for sec in self.agent.consortium.securities:
            if not token.isListed(security_number(str(sec["id"]))):
                log.info("listing security %s", sec["id"])
                self.csd.list_security(security_number(str(sec["id"])), str(sec["id"]))

    def check_asset(self, asset: str) -> str | None:
        known = {str(s["id"]) for s in self.agent.consortium.securities}
        if asset not in known:
            return (
                f"{asset!r} is no security of the consortium file; the CSD issues securities only"
            )
        return None

    def issue_row(self, row: dict[str, Any], holder: str) -> None:
        self.csd.issue(holder, security_number(row["asset"]), row["amount"], row["ref"])

    def on_closed(self, ev: Any) -> None:
        cycle_id = b32(ev["cycleId"])
        if self.status(cycle_id) == OPEN:
            log.info("cycle %s: distributing the CSD's second clearing", _name(cycle_id))
            distribute(self, self.csd, cycle_id)

    def on_netted(self, ev: Any) -> None:
        cycle_id = b32(ev["cycleId"])
        if self.status(cycle_id) != NETTED:
            return
        log.info("cycle %s: settling", _name(cycle_id))
        tx = self.csd.settle(cycle_id)
        self.report(
            cycle_id,
            "settled",
            {
                "block": int(tx.block_number),
                "legs": int(self.engine.getCycle(cycle_id)["legCount"]),
            },
        )


class CashIssuerRole(_IssuerRole):
    role = "CASH_ISSUER"

    def __init__(self, agent: Any):
        super().__init__(agent)
        if not self.live:
            return
        tokens = {}
        for code in CURRENCIES:
            token = agent.suite.contracts.get(f"DepositToken:{code}")
            if token is not None and _same(token.issuer(), self.me):
                tokens[code] = token
        self.cash = CashIssuer(agent.institution, tokens, store=agent.store)
        self.outbox = self.cash.outbox

    def start(self) -> None:
        if not self.live:
            return
        self.cash.outbox.resume()

    def check_asset(self, asset: str) -> str | None:
        if asset not in self.cash.tokens:
            have = ", ".join(sorted(self.cash.tokens)) or "none"
            return f"this cash issuer issues no deposit token of {asset!r} (it issues: {have})"
        return None

    def issue_row(self, row: dict[str, Any], holder: str) -> None:
        self.cash.issue(holder, row["asset"], row["amount"], row["ref"])


SETTLEMENT_ROLES = [BrokerRole, CustodianRole, ExchangeRole, CcpRole, CsdRole, CashIssuerRole]
