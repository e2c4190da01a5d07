"""Cross-border securities settlement: the institutions and what each does in a settlement cycle.

First parties (BROKER, CUSTODIAN, EXCHANGE) configure their charges, upload the trades they appear
on (the contract computes their first clearing data) and reconcile on their own, level by level.
Second parties (CCP, CSD) compute their clearing data from the trades the chain holds and distribute
it; the CCP novates, nets and instructs (after closing the cycle's uploads); the CSD settles
delivery-versus-payment. When a participant defaults after netting (suspended, or short of what it
delivers), the CCP unwinds the cycle, defers the defaulter's executions to a later cycle and nets
again (`exclude`). Each token names its one issuing member at deployment (the CSD, each currency's
cash issuer); governance (the permission manager, at deployment) lists each currency's deposit token
once (`list_currencies`) and appoints the engine as every token's settlement agent.

Second parties receive no trades from anyone: they read the cycle from the chain
(consortium.roles.executions: the first parties' uploads, the exchange's as the executions of
record, and the deferrals; the CSD its legs from the CCP's netting), so a CCP or CSD process needs
only its account, the engine and its store. Their second clearing data of a first party is its
trades' bucket and, per currency, their clearing totals under the party's charges as the chain
holds them: what the party's first clearing data must be (reconcile compares them on chain).

Confidential fields (the beneficial owner's pseudonym, client ids) never reach the chain: trades
carry a salted commitment; `seal` hands the plaintext to the `encrypt` hook (consortium.channels'
envelopes) for the parties and regulators entitled to it.

Batches go through each institution's outbox (consortium.outbox, over its `store`): an upload is
keyed by (cycle, party, first trade id), a second clearing batch by its reference, a deposit issue
by its payment reference, a securities issue by its custody reference; an agent restarted after a
crash books what the chain holds and resends the rest. A second clearing batch's reference is
`second_clearing_ref(sequence, index)`: a correction is the next sequence, so it is sent even when
it restores an earlier content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from consortium.domain.clearing import (
    SIDES,
    ZERO_ADDRESS,
    Charge,
    ChargeKind,
    FirstClearing,
    Payer,
    SecondClearing,
    Trade,
    first_clearing,
    second_clearing,
    second_clearing_ref,
    set_bucket,
    sorted_for,
)
from consortium.domain.hashing import code32, commit, doc_hash, new_salt
from consortium.domain.instructions import Due, InstructionLine, derive, dues
from consortium.domain.netting import Leg, NettingResult, deferrals, net
from consortium.outbox import Outbox, OutboxConflict, Recorded, key_of, recorded
from consortium.roles.executions import (
    CycleExecutions,
    UnknownExecution,
    read_cycle,
    read_deferred,
    read_instructions,
    read_legs,
)
from consortium.roles.membership import Institution
from consortium.store import Store

MAX_BATCH = 200  # SettlementEngine.MAX_BATCH: deferred trades
MAX_UPLOAD_BATCH = 320  # SettlementEngine.MAX_UPLOAD_BATCH: trades per upload (about 123 KB)
# SettlementEngine.MAX_SECOND_CLEARING_ENTRIES and MAX_SECOND_CLEARING_LINES: a second clearing
# batch's entries and their currency lines
MAX_SECOND_ENTRIES = 50
MAX_SECOND_LINES = 50
# Gas limit of every transaction the roles send: under the EIP-7825 cap of 2**24 that networks adopt
# (and an explicit limit: anvil drops some data-heavy transactions sent with the block gas limit).
TX_GAS_LIMIT = 16_000_000
CURRENCIES = ("CNY", "HKD")
UPLOAD = "SettlementEngine.uploadTrades"
COMPLETE = "SettlementEngine.completeUploads"
SECOND = "SettlementEngine.submitSecondClearing"
SECURITY_ISSUE = "SecurityToken.issue"

# encrypt(plaintext, recipient addresses) -> envelope bytes; supplied by consortium.channels
EncryptHook = Callable[[bytes, Sequence[str]], bytes]


# ---------------------------------------------------------------------------- a trades file's rows
# as the chain holds them: every party of a trade derives the same record from its own row


def security_number(code: str) -> int:
    """The chain's id of a consortium file's security: its code as bytes32, read as an integer."""
    return int.from_bytes(code32(code), "big")


def date_number(day: date) -> int:
    """A trade date as the engine holds it (yyyymmdd)."""
    return day.year * 10_000 + day.month * 100 + day.day


def owner_commitment(owner_ref: str, trade_date: int) -> bytes:
    """The beneficial owner's commitment on a trade, alike for every party uploading it."""
    return owner_ticket(owner_ref, trade_date).commitment


def owner_ticket(owner_ref: str, trade_date: int) -> ConfidentialTicket:
    """The owner's ticket behind `owner_commitment` (pseudonym and the salt every party of the
    trade derives alike): what an intermediary seals to the owner's regulator in its look-through
    records, so the regulator checks the commitment against the trades'."""
    return ConfidentialTicket(
        owner_ref, owner_ref, doc_hash(f"owner salt {trade_date} {owner_ref}")
    )


def trade_of(row: dict[str, Any], addresses: dict[str, str]) -> Trade:
    """The on-chain trade of a `trades` row; `addresses`: institution id -> member address."""
    day = date_number(row["trade_date"])
    party = lambda col: addresses[row[col]] if row.get(col) else ZERO_ADDRESS
    return Trade(
        doc_hash(row["trade_id"]),
        security_number(row["security"]),
        code32(row["currency"]),
        int(SIDES[row["side"]]),
        int(row["quantity"]),
        int(row["price"]),
        day,
        owner_commitment(row["owner_ref"], day),
        party("local_broker"),
        party("participant"),
        party("custodian"),
        party("exchange"),
    )


class CycleNotNetted(RuntimeError):
    """The CSD was asked to settle a cycle the chain shows no standing netting for."""


@dataclass(frozen=True)
class ConfidentialTicket:
    """Confidential fields of one trade, kept off chain; only `commitment` goes on chain."""

    owner_pseudonym: str
    client_id: str
    salt: bytes = field(default_factory=new_salt)

    @property
    def commitment(self) -> bytes:
        return commit(self.owner_pseudonym, self.salt)

    def payload(self) -> bytes:
        return json.dumps(
            {"owner": self.owner_pseudonym, "client": self.client_id, "salt": self.salt.hex()},
            sort_keys=True,
        ).encode()


@dataclass
class SettlementParty:
    """Common to every institution of the line: its identity, the engine, the encryption hook."""

    institution: Institution
    engine: Any
    encrypt: EncryptHook | None = None
    store: Store = field(default_factory=Store, kw_only=True)
    # how this party reads logs and transactions (default: the connected network's web3), and from
    # which block it looks for a cycle's logs (a long-lived chain: the engine's deployment block)
    web3: Any = field(default=None, kw_only=True)
    from_block: int = field(default=0, kw_only=True)
    # each transaction's gas limit: fixed for the in-process day (its pipeline cannot estimate
    # against state still pending); None lets brownie estimate (agents sending side by side)
    gas_limit: int | None = field(default=TX_GAS_LIMIT, kw_only=True)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.store)

    @property
    def address(self) -> str:
        return self.institution.address

    @property
    def account(self) -> Any:
        return self.institution.account

    def _tx(self) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": self.institution.account}
        if self.gas_limit is not None:
            tx["gas_limit"] = self.gas_limit
        return tx

    def _web3(self) -> Any:
        if self.web3 is None:
            from consortium import chain

            return chain.web3()
        return self.web3

    def seal(self, ticket: ConfidentialTicket, recipients: Sequence[str]) -> bytes:
        """Encrypt a trade's confidential fields to the parties and regulators entitled to them."""
        if self.encrypt is None:
            raise RuntimeError(
                f"{self.institution.name}: no encrypt hook; pass consortium.channels' envelope "
                "function as `encrypt=` when building the role"
            )
        return self.encrypt(ticket.payload(), list(recipients))


@dataclass
class FirstParty(SettlementParty):
    """A broker, custodian or exchange: configures, uploads, computes and reconciles."""

    charges: dict[int, list[Charge]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.outbox.register_counted(
            UPLOAD,
            self.engine.uploadTrades,
            lambda a: self.engine.uploadOf(a[0], self.address, a[1][0][0]),
            tx=self._tx,
        )
        self.outbox.register_call(
            COMPLETE,
            self.engine.completeUploads,
            # the engine keeps no block for it: the flag alone says it is on chain
            lambda a: (
                Recorded(None, {}) if self.engine.uploadsCompleted(a[0], self.address) else None
            ),
            tx=self._tx,
        )

    def configure(self, security_id: int, charges: Sequence[Charge]) -> Any:
        """Set this party's fees and taxes for one product, on chain and in its own book."""
        self.charges[security_id] = list(charges)
        return self.engine.setClearingConfig(
            security_id, [c.as_tuple() for c in charges], self._tx()
        )

    def mine(self, trades: Iterable[Trade]) -> list[Trade]:
        """The trades this party appears on, in upload order."""
        return sorted_for(self.address, trades)

    def compute(self, trades: Iterable[Trade]) -> FirstClearing:
        """This party's first clearing data, as the contract computes it at upload."""
        return first_clearing(self.address, trades, self.charges)

    def upload(
        self, cycle_id: bytes, trades: Iterable[Trade], batch: int = MAX_UPLOAD_BATCH
    ) -> list[Any]:
        """Upload the trades this party appears on, in bounded batches of ascending ids, each once.

        Returns the transactions (through a pipe in flight until the outbox is collected; None for a
        batch the chain already held)."""
        mine = self.mine(trades)
        out = []
        for i in range(0, len(mine), batch):
            part = mine[i : i + batch]
            key = key_of(cycle_id, part[0].trade_id)
            out.append(self.outbox.submit(UPLOAD, key, [cycle_id, [t.as_tuple() for t in part]]).tx)
        return out

    def complete_uploads(self, cycle_id: bytes) -> Any:
        """Declare this party's uploads to the cycle complete (its end of file, once its batches
        are mined): the CCP closes the cycle's uploads once every party it expects completed, not at
        a first batch. Keyed by the cycle in the outbox: None when the chain holds it already."""
        return self.outbox.submit(COMPLETE, key_of(cycle_id), [cycle_id]).tx

    def reconcile(self, cycle_id: bytes, counterparty: str) -> Any:
        """Reconcile with a CCP/CSD or another first party; does not wait for any other level."""
        return self.engine.reconcile(cycle_id, counterparty, self._tx())

    def name_charge_accounts(self, fee_collector: str, tax_authority: str) -> Any:
        """Name where this party's fees and taxes are paid at settlement (its configuration)."""
        return self.engine.setChargeAccounts(fee_collector, tax_authority, self._tx())

    def instruction(self, cycle_id: bytes, trades: Iterable[Trade]) -> list[InstructionLine]:
        """This participant's settlement instruction from its own trades, less the deferrals the
        chain shows: what it agrees to deliver, receive and pay in fees and taxes."""
        deferred = read_deferred(self._web3(), self.engine.address, cycle_id, self.from_block)
        return derive(self.address, self.mine(trades), self.charges, deferred)

    def submit_instruction(self, cycle_id: bytes, trades: Iterable[Trade]) -> Any:
        """Upload this participant's instruction (after reconciling with the CCP); None when it has
        nothing to settle. A resend replaces it with the same lines."""
        return self.send_instruction(cycle_id, self.instruction(cycle_id, trades))

    def send_instruction(self, cycle_id: bytes, lines: Sequence[InstructionLine]) -> Any:
        """Upload these lines as the instruction (None for none)."""
        if not lines:
            return None
        return self.engine.submitInstruction(cycle_id, [x.as_tuple() for x in lines], self._tx())

    def charges_from_chain(self, security_ids: Iterable[int]) -> None:
        """Take this party's charges of each security as the chain holds them (what its uploads
        were cleared with), e.g. after a restart."""
        self.charges.update(charges_on_chain(self.engine, self.address, security_ids))

    def reconcile_investor(
        self, cycle_id: bytes, owner_commitment: bytes, statement: Iterable[Trade]
    ) -> Any:
        """Record the reconciliation with an investor's confirmed statement (its trades)."""
        b = set_bucket(statement)
        return self.engine.reconcileInvestor(
            cycle_id, owner_commitment, b.count, b.hash, self._tx()
        )


def charges_on_chain(
    engine: Any, party: str, security_ids: Iterable[int]
) -> dict[int, list[Charge]]:
    """`party`'s charges of each security as the engine holds them (what its uploads are cleared
    with)."""
    out = {}
    for sid in security_ids:
        held = engine.clearingConfig(party, sid)
        out[sid] = [
            Charge(ChargeKind(int(k)), Payer(int(p)), int(b), int(m)) for k, p, b, m in held
        ]
    return out


class Broker(FirstParty):
    """Local or overseas broker (an overseas broker is the clearing participant with the CCP)."""


class Custodian(FirstParty):
    """Global or overseas custodian."""


class Exchange(FirstParty):
    """Exchange of execution: appears on every trade executed there."""


@dataclass
class SecondParty(SettlementParty):
    """CCP or CSD: computes second clearing data from the cycle's executions of record on chain and
    distributes it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.outbox.register_counted(  # args [cycle, rows, batch reference]
            SECOND,
            self.engine.submitSecondClearing,
            lambda a: self.engine.secondClearingOf(a[0], self.address, a[2]),
            tx=self._tx,
        )

    def read_cycle(self, cycle_id: bytes) -> CycleExecutions:
        """The cycle as the chain holds it: executions of record, deferrals, differing uploads."""
        return read_cycle(self._web3(), self.engine.address, cycle_id, self.from_block)

    def cycle_trades(self, cycle_id: bytes) -> list[Trade]:
        """The cycle's executions of record, read from the chain (ascending trade ids)."""
        return self.read_cycle(cycle_id).trades

    def compute(
        self, cycle_id: bytes, parties: Iterable[str] | None = None
    ) -> list[SecondClearing]:
        """This party's second clearing data for each first party (default: every first party the
        chain shows on the cycle, by address), from the executions of record on chain: per
        currency their clearing data under the first party's charges as the chain holds them (what
        its first clearing data is computed with), by the same function as the first clearing."""
        cycle = self.read_cycle(cycle_id)
        if parties is None:
            named = {a for t in cycle.trades for a in t.chain_parties()} | set(cycle.uploaders())
            parties = sorted(named, key=lambda a: int(a, 16))
        out = []
        for p in parties:
            securities = {t.security_id for t in cycle.trades if t.involves(p)}
            charges = charges_on_chain(self.engine, p, sorted(securities))
            out.append(second_clearing(p, cycle.trades, charges))
        return out

    def distribute(
        self, cycle_id: bytes, entries: Sequence[SecondClearing], sequence: int = 0
    ) -> list[Any]:
        """Submit the entries in bounded batches (second_clearing_batches), each once, keyed by
        `second_clearing_ref(sequence, batch index)`: a correction passes the next `sequence`.

        Returns the transactions (through a pipe in flight until the outbox is collected; None for a
        batch the chain already held)."""
        out = []
        for index, part in enumerate(second_clearing_batches(entries)):
            ref = second_clearing_ref(sequence, index)
            args = [cycle_id, [e.as_tuple() for e in part], ref]
            out.append(self.outbox.submit(SECOND, key_of(cycle_id, ref), args).tx)
        return out


def second_clearing_batches(
    entries: Sequence[SecondClearing],
    max_entries: int = MAX_SECOND_ENTRIES,
    max_lines: int = MAX_SECOND_LINES,
) -> list[list[SecondClearing]]:
    """The entries in order, cut into batches the engine takes: at most `max_entries` entries and
    `max_lines` currency lines each (an entry has at most one line per listed currency)."""
    out: list[list[SecondClearing]] = []
    lines = 0
    for e in entries:
        if not out or len(out[-1]) == max_entries or lines + e.lines > max_lines:
            out.append([])
            lines = 0
        out[-1].append(e)
        lines += e.lines
    return out


@dataclass
class CentralCounterparty(SecondParty):
    """The CCP: opens the cycle, novates and nets, and sends the settlement instructions."""

    def open_cycle(self, cycle_id: bytes, trade_date: int) -> Any:
        return self.engine.openCycle(cycle_id, trade_date, self._tx())

    def close_uploads(self, cycle_id: bytes) -> Any:
        """Fix the cycle's trade set before netting: later uploads are refused."""
        return self.engine.closeUploads(cycle_id, self._tx())

    def net(self, cycle_id: bytes, cycle: CycleExecutions | None = None) -> NettingResult:
        """Multilateral net legs of the cycle's executions of record less its deferrals, both read
        from the chain, the trade set over every participant's own uploads: exactly what
        submitNetting accepts (an uploader left with trades outside the legs, e.g. off venue, must
        reconcile or have them deferred first). `cycle`: the cycle as just read, if at hand."""
        cycle = cycle or self.read_cycle(cycle_id)
        return net(cycle.trades, cycle.deferred, cycle.own_uploads())

    def dues(
        self, cycle_id: bytes, cycle: CycleExecutions | None = None
    ) -> dict[str, dict[int, Due]]:
        """What every uploader (a participant that uploaded trades naming itself) answers for at
        netting, in order of its first own upload (consortium.domain.instructions.check_due): from
        its uploads, its charges and the deferrals as the chain holds them (`cycle`: as just read).
        """
        cycle = cycle or self.read_cycle(cycle_id)
        uploaded: dict[str, list[Trade]] = {}
        order: dict[str, None] = {}
        for u in cycle.uploads:
            uploaded.setdefault(u.party, []).extend(u.trades)
            if any(t.participant == u.party for t in u.trades):
                order.setdefault(u.party)
        out = {}
        for p in order:
            charges = charges_on_chain(self.engine, p, {t.security_id for t in uploaded[p]})
            out[p] = dues(p, uploaded[p], charges, cycle.deferred)
        return out

    def instructions(self, cycle_id: bytes) -> dict[str, list[InstructionLine]]:
        """The participants' standing settlement instructions of the cycle, read from the chain."""
        return read_instructions(self._web3(), self.engine.address, cycle_id, self.from_block)

    def unwind(self, cycle_id: bytes, reason: str) -> Any:
        """Take a netted cycle that cannot settle back to Open (its legs cleared)."""
        return self.engine.unwindCycle(cycle_id, doc_hash(reason), self._tx())

    def defer(self, cycle_id: bytes, trade_ids: Iterable[bytes], reason: str) -> list[Any]:
        """Defer executions of record (by trade id) out of the cycle, carried to a later one, in
        bounded batches of ascending ids. Raises UnknownExecution for an id the chain does not
        hold as an execution of the cycle (nothing is sent)."""
        return self._defer(cycle_id, self._of_record(self.read_cycle(cycle_id), trade_ids), reason)

    @staticmethod
    def _of_record(cycle: CycleExecutions, trade_ids: Iterable[bytes]) -> list[Trade]:
        by_id, trade_ids = cycle.by_id(), [bytes(i) for i in trade_ids]
        missing = [i.hex() for i in trade_ids if i not in by_id]
        if missing:
            raise UnknownExecution(
                f"trade ids {missing} are none of the cycle's executions of record on chain; "
                "defer only trades some first party uploaded"
            )
        return [by_id[i] for i in trade_ids]

    def _defer(self, cycle_id: bytes, trades: Sequence[Trade], reason: str) -> list[Any]:
        ordered = sorted(trades, key=lambda t: t.trade_id)
        return [
            self.engine.deferTrades(
                cycle_id,
                [t.as_tuple() for t in ordered[i : i + MAX_BATCH]],
                doc_hash(reason),
                self._tx(),
            )
            for i in range(0, len(ordered), MAX_BATCH)
        ]

    def defer_off_venue(
        self, cycle_id: bytes, reason: str, cycle: CycleExecutions | None = None
    ) -> int:
        """Defer every participant's own upload outside the venue (consortium.roles.executions:
        no execution of record, never netted), not deferred yet: the netting covers every own upload
        (submitNetting), so these leave the cycle by deferral. Returns how many were deferred
        (`cycle`: as just read)."""
        cycle = cycle or self.read_cycle(cycle_id)
        gone = {t.record_hash() for t in cycle.deferred}
        own = {t.record_hash() for t in cycle.own_uploads()}
        fresh = [
            t for t in cycle.off_venue if t.record_hash() in own and t.record_hash() not in gone
        ]
        if fresh:
            self._defer(cycle_id, fresh, reason)
        return len(fresh)

    def exclude(
        self, cycle_id: bytes, defaulters: Sequence[str], reason: str
    ) -> tuple[NettingResult, list[Trade]]:
        """The exit of a cycle a defaulter holds hostage after netting: unwind it, defer the
        defaulters' executions (both sides; those deferred earlier are read from the chain) and net
        again without them. Returns the new netting, to submit with `instruct` once the
        participants whose instructions the deferral voided instructed again, and every trade
        deferred so far, in deferral order (to carry to a later cycle of the same trade date)."""
        if int(self.engine.getCycle(cycle_id)["status"]) == 2:  # Netted
            self.unwind(cycle_id, reason)
        cycle = self.read_cycle(cycle_id)
        earlier = {t.record_hash() for t in cycle.deferred}
        remaining = [t for t in cycle.trades if t.record_hash() not in earlier]
        fresh = deferrals(remaining, defaulters)
        if fresh:
            self._defer(cycle_id, fresh, reason)
        every = [*cycle.deferred, *sorted(fresh, key=lambda t: t.trade_id)]  # deferral order
        return net(cycle.trades, every), every

    def instruct(self, cycle_id: bytes, result: NettingResult) -> Any:
        return self.engine.submitNetting(
            cycle_id,
            result.trade_set.count,
            result.trade_set.hash,
            [leg.as_tuple() for leg in result.legs],
            self._tx(),
        )


@dataclass
class CentralDepository(SecondParty):
    """The CSD: lists and holds securities, settles DvP (the engine is its token's settlement agent,
    appointed by the permission manager at deployment: see `deploy`)."""

    security_token: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.security_token is not None:
            register_security_issue(self.outbox, self.security_token, self._tx)

    def list_security(self, security_id: int, code: str) -> Any:
        return self.security_token.listSecurity(security_id, code32(code), self._tx())

    def issue(self, to: str, security_id: int, amount: int, ref: str) -> Any:
        """Credit securities against the custody deposit received under `ref` (its reference: unique
        and deterministic per deposit), once.

        Returns the transaction (through a pipe in flight until the outbox is collected; None when
        the chain had the reference booked already)."""
        h = doc_hash(ref)
        return self.outbox.submit(SECURITY_ISSUE, key_of(h), [to, security_id, amount, h]).tx

    def instructed_legs(self, cycle_id: bytes) -> list[Leg]:
        """The legs the CCP instructed for the cycle's standing netting, read from the chain."""
        return read_legs(self._web3(), self.engine.address, cycle_id, self.from_block)

    def settle(self, cycle_id: bytes, legs: Sequence[Leg] | None = None) -> Any:
        """Settle DvP the legs the CCP instructed (read from the chain; `legs` given: those, which
        the engine refuses unless they are the instructed ones)."""
        if legs is None:
            legs = self.instructed_legs(cycle_id)
            if not legs:
                raise CycleNotNetted(
                    f"cycle {cycle_id.hex()} has no standing netting on chain; wait for the CCP's "
                    "instructions (CycleNetted) before settling"
                )
        return self.engine.settle(cycle_id, [leg.as_tuple() for leg in legs], self._tx())


def register_security_issue(outbox: Outbox, token: Any, tx: Callable[[], dict[str, Any]]) -> None:
    """Register SECURITY_ISSUE: SecurityToken.issue keyed by its custody reference (args [to,
    securityId, amount, ref]); the token refuses a reused reference (SecurityRefUsed) and `refUse`
    says for whom it was booked, which the outbox asks before sending."""

    def probe(a: list) -> Recorded | None:
        holder, block = token.refUse(a[3])
        found = recorded(block, holder=str(holder))
        if found is not None and str(holder).lower() != str(a[0]).lower():
            raise OutboxConflict(f"custody reference {a[3]} was booked for {holder}, not {a[0]}")
        return found

    outbox.register_call(
        SECURITY_ISSUE, token.issue, probe, lambda receipt, a: {"holder": str(a[0])}, tx=tx
    )
