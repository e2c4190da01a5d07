"""Stateful: random settlement cycles over the SettlementEngine.

Rules: executions (a buy and a sell each) across the three clearing participants, the local brokers,
custodians and the exchange, four securities and two currencies, optionally with a break injected
(one non-participant uploads one trade with its price off by one); uploads per party in random
batches of ascending ids; second clearing by the CCP or the CSD (over the trades known so far);
reconciliation of any first party with the CCP, the CSD, a peer on its trades or an investor;
closing uploads; netting by the CCP (the oracle's legs, accepted or refused as the model
predicts: uploads open, a participant unreconciled, a count or trade-set hash not the uploaded
one) and corrupted netting (an asset off by one or with a leg's sign flipped, a wrong trade count)
that must be refused by name; DvP settlement, sometimes with one participant one unit short; a
participant suspended after netting (settlement refused), then the exit: unwind, defer its
executions, net again without it (its trades carried to the next cycle); premature and repeated
netting, settlement and unwinding; second clearing corrections under fresh references and
resends under the last one; each participant's settlement instruction (derived from its own
uploads less deferrals; refused before it reconciled with the CCP; voided by a deferral of one of
its trades and given again), or a wrong one (an amount off by one, its sign flipped, a line left
out) or none, which the netting must equal (SettlementNoInstruction / SettlementInstructionMismatch
naming the participant and the asset, as consortium.domain.instructions.check predicts): the CSD
settles only a netting every participant instructed. After each settlement the CSD opens the
cycle's tiers on HoldingChain.sol and the intermediaries' steps are rules (the next ones in
sequence; one whose clients get more or less than it received: HoldingNotConserved, nothing
changed), also while the next cycle runs (tests/stateful/machine.HoldingRun and its twin).

Invariants after every step, against consortium.domain.clearing / netting:
- every party's buckets and the cycle's status, legs hash and legs are the model's; the netted legs
  of every asset sum to exactly zero and equal the oracle's;
- every reconciliation recorded is the model's (a break at one level never changes another's);
- every holder's balances (securities per id, cash per currency) equal the model's: after settlement each participant moved by exactly its net legs and the CCP is flat;
  a failing settlement moved nothing and the cycle stays settleable once the participant is funded;
- a cycle settles once (SettlementAlreadySettled), never before netting (SettlementCycleNotNetted),
  and nets only once every participant on its legs reconciled with the CCP and still matches;
- every participant's deferred trades on chain are the model's, and the netted legs are the
  oracle's over the cycle's trades less the deferred ones (every asset still sums to zero);
- the standing instructions on chain are the model's; settlement moves exactly the legs and
  each instruction's fees and taxes to the fee collector and tax authority (ChargesPaid);
- no asset created or lost across all tiers: per security and per currency, the CSD, the CCP, the
  participants, custodians, local brokers, fee collector and tax authority hold together what the
  machine issued less what it redeemed (a refused step changes nothing); down the holding chain,
  after each step that touches it, every step on chain is the twin's and, per asset, what is
  pending at every tier plus every investor total is what the top tier settled.
The teardown brings the open cycle to settlement (everything uploaded, distributed, reconciled,
funded), checks the balances moved by exactly the legs, passes the last settled cycle down the
holding chain to its investors and checks each investor holds exactly its trades' net.

Why plain `hypothesis.stateful`: see tests/stateful/test_bills_invariants.py; why short runs are
rejected: tests/stateful/machine.py.
"""

import dataclasses
import random
from collections import defaultdict

import brownie
from hypothesis import event
from hypothesis import stateful as sf
from hypothesis import strategies as st

from consortium.domain.clearing import (
    ALL,
    BUY,
    SELL,
    Bucket,
    Trade,
    first_clearing,
    peer_key,
    second_clearing,
    set_bucket,
    totals_mismatches,
    trade_id,
)
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.instructions import (
    CashNetMismatch,
    InstructionMismatch,
    NoInstruction,
    apply_charges,
    check,
    check_due,
    derive,
    due_charges,
    dues,
)
from consortium.domain.netting import (
    CASH,
    SECURITY,
    apply_legs,
    deferrals,
    deferred_bucket,
    net,
    trade_set,
)
from consortium.scenarios import settlement as day
from tests.stateful.machine import (
    ChainMachine,
    HoldingRun,
    machine_settings,
    named_error,
    read_all,
)

OPEN, NETTED, SETTLED = 1, 2, 3
MATCHED, BROKEN = 1, 2
SHORT = r"(ERC1155InsufficientBalance|ERC20InsufficientBalance):.*"
pick = st.integers(min_value=0, max_value=10_000)


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def key(peer) -> bytes:
    return peer if isinstance(peer, bytes) else peer_key(peer)


def _events(tx, name: str) -> list:
    """The transaction's `name` events ([] when none: brownie's EventDict has no .get)."""
    return list(tx.events[name]) if name in tx.events else []


def _total(balances, asset) -> int:
    """Every holder's balance of one (kind, asset), summed."""
    return sum(v for k, v in balances.items() if (k[1], k[2]) == asset)


def test_settlement__random_cycles__nets_zero_dvp_exact_all_or_nothing(
    engine,
    security_token,
    settle_cast,
    manager,
    unique_txs,
    holding,
    holding_chain,
    holding_parties,
    holding_csd,
    chain,
):
    chain.snapshot()
    cast = settle_cast
    firsts = cast.first_parties()
    seconds = [cast.ccp, cast.csd]
    by_addr = {p.address: p for p in firsts}
    participants = {p.address for p in cast.participants}
    # every tier that can hold a token: the CSD, the CCP, the participants, the custodians and local
    # brokers, the fee collector and the tax authority
    holders = sorted(
        {
            p.address
            for p in [cast.csd, cast.ccp, *cast.participants, *cast.custodians, *cast.locals]
        }
        | {cast.fee_collector, cast.tax_authority}
    )
    tokens = {day.currency_asset(code32(c)): t for c, t in cast.cash.tokens.items()}
    sids = sorted(day.SECURITIES)
    moving = sorted(participants | {cast.ccp.address, cast.fee_collector, cast.tax_authority})
    balances0 = day.balances(cast, holders)
    supply0 = defaultdict(int)  # per asset, everything the holders hold
    for (_, kind, asset), v in balances0.items():
        supply0[(kind, asset)] += v

    class Machine(ChainMachine):
        def __init__(self):
            super().__init__(chain)
            unique_txs()
            self.cycles = 0
            self.moves = (
                0  # payment references of deposit issues and redemptions are keys: one each
            )
            self.balances = dict(balances0)
            self.supply = dict(supply0)  # moved only by the issues and redemptions of _move_balance
            self.down = None  # the last settled cycle's HoldingRun down the holding chain
            self.carried = []  # trades deferred out of a cycle, uploaded again in the next one
            self._new_cycle_model()

        def _new_cycle_model(self):
            self.cid = None
            self.status = 0
            self.trades = []  # the true trades of the cycle, ascending ids
            # party -> {trade id: the trade as that party uploads it (a tampered copy for a break)}
            self.own = {p.address: {} for p in firsts}
            self.uploaded = {p.address: [] for p in firsts}
            self.second = {}  # (second party, first party) -> Bucket distributed
            self.second_totals = {}  # (second party, first party) -> its totals per currency
            self.recon = {}  # (party, peer key) -> MATCHED / BROKEN
            self.legs = []
            self.closed = False  # closeUploads
            self.deferred = []  # trades deferred out of this cycle (ascending ids)
            self.sequence = {s.address: 0 for s in seconds}  # next second clearing reference
            self.sent = {}  # second party -> the entries it last distributed
            # participant -> its standing instruction ([] once voided), in first-instruction order
            self.instructed = {}
            self.uploaders = []  # participants with own trades, in order of their first own upload

        # ------------------------------------------------------------ model
        def _bucket(self, party: str, peer) -> Bucket:
            return first_clearing(party, self.uploaded[party]).bucket(key(peer))

        def _pending(self, party: str) -> list:
            done = len(self.uploaded[party])
            return sorted(self.own[party].values(), key=lambda t: t.trade_id)[done:]

        def _still_matches(self, participant: str) -> bool:
            theirs = self.second.get((cast.ccp.address, participant), Bucket())
            return self._bucket(participant, ALL).as_tuple() == theirs.as_tuple()

        def _unreconciled(self, legs, uploaders=()) -> str | None:
            """NotReconciled for the first leg whose participant has no standing match with the
            CCP, then for the first uploader (upload order) with trades left to net."""
            ccp = key(cast.ccp.address)
            left = [p for p in uploaders if self._own(p) > deferred_bucket(self.deferred, p).count]
            for p in [leg.participant for leg in legs] + left:
                if self.recon.get((p, ccp)) != MATCHED or not self._still_matches(p):
                    return named_error("SettlementNotReconciled", self.cid, p)
            return None

        def _own(self, p: str) -> int:
            return sum(t.participant == p for t in self.uploaded[p])

        def _netting_refusal(self, legs, count: int, set_hash: bytes) -> str | None:
            """The error submitNetting must raise for balanced `legs`, None when it accepts them."""
            if not self.closed:
                return named_error("SettlementUploadsNotClosed", self.cid)
            refusal = self._unreconciled(legs, self.uploaders)
            # the trades netted: those every participant uploaded as participant, less deferred
            own = [t for p in participants for t in self.uploaded[p] if t.participant == p]
            chain_set = trade_set(own, self.deferred)
            if refusal is None and chain_set.count != count:
                refusal = named_error(
                    "SettlementTradeCountMismatch", self.cid, chain_set.count, count
                )
            if refusal is None and chain_set.hash != set_hash:
                refusal = named_error(
                    "SettlementTradeSetMismatch", self.cid, chain_set.hash, set_hash
                )
            if refusal is None:
                refusal = self._instruction_refusal(legs)
            return refusal

        def _instruction_refusal(self, legs) -> str | None:
            due = {
                p: dues(p, self.uploaded[p], by_addr[p].charges, self.deferred)
                for p in self.uploaders
            }
            try:
                check(self.instructed, legs)
                check_due(self.instructed, due)  # the cast lists its currencies ascending
            except CashNetMismatch as e:
                currency = e.asset.to_bytes(32, "big")
                return named_error(
                    "SettlementCashNetMismatch",
                    self.cid,
                    e.participant,
                    currency,
                    e.cleared,
                    e.netted,
                )
            except NoInstruction as e:
                return named_error(
                    "SettlementNoInstruction", self.cid, e.participant, e.kind, e.asset
                )
            except InstructionMismatch as e:
                return named_error(
                    "SettlementInstructionMismatch",
                    self.cid,
                    e.participant,
                    e.kind,
                    e.asset,
                    e.instructed,
                    e.netted,
                )
            return None

        def _move_balance(self, holder: str, kind: int, asset: int, delta: int) -> None:
            """Issue (delta > 0) or redeem (delta < 0) so the model and the chain move together."""
            self.moves += 1
            if delta > 0:
                if kind == SECURITY:
                    cast.csd.issue(holder, asset, delta, f"securities in {self.moves}")
                else:
                    ref = doc_hash(f"cash in {self.moves}")
                    tokens[asset].issue(holder, delta, ref, cast.cash._tx())
            elif delta < 0:
                if kind == SECURITY:
                    security_token.redeem(
                        holder,
                        asset,
                        -delta,
                        doc_hash(f"securities out {self.moves}"),
                        cast.csd._tx(),
                    )
                else:
                    tokens[asset].redeem(
                        holder, -delta, doc_hash(f"cash out {self.moves}"), cast.cash._tx()
                    )
            self.balances[(holder, kind, asset)] += delta
            self.supply[(kind, asset)] += delta

        # ------------------------------------------------------------ rules
        @sf.initialize(seed=st.integers(0, 2**32), n=st.integers(2, 4))
        def cycle_with_executions(self, seed, n):
            self.open_cycle()
            self.add_executions(seed, n, False, 0)

        @sf.precondition(lambda self: self.status in (0, SETTLED))
        @sf.rule()
        def open_cycle(self):
            carried, self.carried = self.carried, []
            self._new_cycle_model()
            self.cycles += 1
            self.cid = code32(f"STATEFUL-{self.cycles}")
            tx = cast.ccp.open_cycle(self.cid, day.TRADE_DATE)
            assert tx.events["CycleOpened"]["ccp"] == cast.ccp.address
            self.status = OPEN
            self.trades += carried  # the executions deferred out of the last cycle come back
            for t in carried:
                for party in t.chain_parties():
                    self.own[party][t.trade_id] = t

        @sf.precondition(lambda self: self.status == OPEN and not self.closed)
        @sf.rule(seed=st.integers(0, 2**32), n=st.integers(1, 3), tamper=st.booleans(), i=pick)
        def add_executions(self, seed, n, tamper, i):
            """New executions known to all; with `tamper` one non-participant uploads a broken copy."""
            fresh, _ = day.generate_trades(random.Random(seed), n, cast)
            base = max((int.from_bytes(t.trade_id, "big") for t in self.trades), default=0)
            fresh = [
                dataclasses.replace(t, trade_id=trade_id(base + k + 1)) for k, t in enumerate(fresh)
            ]
            self.trades += fresh
            for t in fresh:
                for party in t.chain_parties():
                    self.own[party][t.trade_id] = t
            if tamper:
                t = fresh[i % len(fresh)]
                others = [a for a in t.chain_parties() if a not in participants]
                if others:
                    self.own[others[i % len(others)]][t.trade_id] = day.tamper(t)

        @sf.precondition(
            lambda self: self.status == OPEN
            and not self.closed
            and any(map(self._pending, by_addr))
        )
        @sf.rule(i=pick, size=st.integers(1, 4))
        def upload(self, i, size):
            waiting = [a for a in by_addr if self._pending(a)]
            self._upload(by_addr[waiting[i % len(waiting)]], size)

        def _upload(self, party, size: int) -> None:
            batch = self._pending(party.address)[:size]
            tx = engine.uploadTrades(self.cid, [t.as_tuple() for t in batch], party._tx())
            self.uploaded[party.address] += batch
            if party.address not in self.uploaders and any(
                t.participant == party.address for t in batch
            ):
                self.uploaders.append(party.address)
            want = first_clearing(party.address, self.uploaded[party.address], party.charges)
            ev = tx.events["TradesUploaded"]
            assert (ev["count"], ev["totalCount"]) == (len(batch), want.bucket(ALL).count)
            assert (ev["tradeSetHash"], ev["clearingHash"]) == (
                hx(want.bucket(ALL).hash),
                hx(want.clearing_hash),
            )
            ccys = sorted(want.totals)
            got = read_all([(engine.firstClearing, (self.cid, party.address, c)) for c in ccys])
            assert [tuple(g) for g in got] == [want.totals[c].as_tuple() for c in ccys]

        @sf.precondition(
            lambda self: self.status == OPEN
            and (self.closed or not any(self._pending(p.address) for p in cast.participants))
        )
        @sf.rule()
        def close_uploads(self):
            """The CCP closes uploads once every participant uploaded (again: refused by name)."""
            if self.closed:
                with brownie.reverts(
                    revert_pattern=named_error("SettlementUploadsClosed", self.cid)
                ):
                    cast.ccp.close_uploads(self.cid)
                return
            tx = cast.ccp.close_uploads(self.cid)
            assert tx.events["UploadsClosed"]["cycleId"] == hx(self.cid)
            self.closed = True

        @sf.precondition(lambda self: self.status == OPEN)
        @sf.rule(which=st.integers(0, 1), resend=st.booleans())
        def distribute(self, which, resend=False):
            """A distribution under the next reference (a correction, even back to an earlier
            content), or with `resend` the last one again: booked by the outbox, nothing sent."""
            second = seconds[which]
            seq = self.sequence[second.address]
            if resend and seq > 0:
                # the same content under the same reference: the trades may have grown since
                last = self.sent[second.address]
                assert second.distribute(self.cid, last, sequence=seq - 1) == [None]
                return
            # the model's second party: entries over the true trades (the contract is under test
            # here; the role's reading of the chain: tests/integration/test_settlement_isolation.py)
            entries = [second_clearing(p, self.trades, by_addr[p].charges) for p in by_addr]
            (tx,) = second.distribute(self.cid, entries, sequence=seq)
            self.sequence[second.address] = seq + 1
            self.sent[second.address] = entries
            assert len(tx.events["SecondClearingDistributed"]) == len(entries)
            for e in entries:
                self.second[(second.address, e.party)] = Bucket(e.trade_count, e.trade_set_hash)
                self.second_totals[(second.address, e.party)] = e.totals

        @sf.precondition(lambda self: self.status == OPEN)
        @sf.rule(i=pick, j=pick)
        def reconcile(self, i, j):
            """Any level, on its own: the result is the model's comparison of the two buckets and,
            against a second party, of the totals per currency (each mismatch an event)."""
            party = firsts[i % len(firsts)]
            peers = sorted({a for t in self.own[party.address].values() for a in t.chain_parties()})
            options = [s.address for s in seconds] + [a for a in peers if a != party.address]
            cp = options[j % len(options)]
            differ = []
            if cp in (cast.ccp.address, cast.csd.address):
                ours = self._bucket(party.address, ALL)
                theirs = self.second.get((cp, party.address), Bucket())
                mine = first_clearing(party.address, self.uploaded[party.address], party.charges)
                given = self.second_totals.get((cp, party.address), {})
                differ = totals_mismatches(mine.totals, given)
            else:
                ours = self._bucket(party.address, cp)
                theirs = self._bucket(cp, party.address)
            matched = ours.as_tuple() == theirs.as_tuple() and not differ
            tx = party.reconcile(self.cid, cp)
            ev = tx.events["Reconciled"]
            got = []
            if "ClearingTotalsMismatch" in tx.events:
                got = list(tx.events["ClearingTotalsMismatch"])
            assert {bytes(m["currency"]): (tuple(m["ours"]), tuple(m["theirs"])) for m in got} == {
                c: (a.as_tuple(), b.as_tuple()) for c, a, b in differ
            }
            assert (ev["matched"], ev["ourCount"], ev["theirCount"]) == (
                matched,
                ours.count,
                theirs.count,
            )
            self.recon[(party.address, key(cp))] = MATCHED if matched else BROKEN

        @sf.precondition(lambda self: self.status == OPEN and self.trades)
        @sf.rule(i=pick)
        def reconcile_investor(self, i):
            party = firsts[i % len(firsts)]
            owners = sorted({t.owner_commitment for t in self.trades})
            owner = owners[i % len(owners)]
            statement = [
                t for t in self.trades if t.owner_commitment == owner and t.involves(party.address)
            ]
            matched = (
                self._bucket(party.address, owner).as_tuple() == set_bucket(statement).as_tuple()
            )
            ev = party.reconcile_investor(self.cid, owner, statement).events["Reconciled"]
            assert ev["matched"] == matched and ev["level"] == 2
            self.recon[(party.address, owner)] = MATCHED if matched else BROKEN

        @sf.precondition(lambda self: self.status == OPEN and self.closed)
        @sf.rule(i=pick)
        def instruct(self, i):
            """A participant uploads its instruction: from its own uploads less the deferrals;
            refused by name before it reconciled (and still matches) with the CCP."""
            p = cast.participants[i % len(cast.participants)]
            lines = derive(p.address, self.uploaded[p.address], p.charges, self.deferred)
            if lines:
                self._send_instruction(p, lines)

        def _send_instruction(self, p, lines) -> None:
            rows = [x.as_tuple() for x in lines]
            if self.recon.get((p.address, key(cast.ccp.address))) != MATCHED or not (
                self._still_matches(p.address)
            ):
                with brownie.reverts(
                    revert_pattern=named_error("SettlementNotReconciled", self.cid, p.address)
                ):
                    engine.submitInstruction(self.cid, rows, p._tx())
                return
            tx = engine.submitInstruction(self.cid, rows, p._tx())
            assert tx.events["InstructionSubmitted"]["lines"] == len(lines)
            self.instructed[p.address] = lines

        def _nets_now(self) -> bool:
            """Whether the CCP's netting would be accepted now (uploads closed, everyone on the
            legs reconciled and instructed what it nets)."""
            if not (self.status == OPEN and self.closed and self.trades):
                return False
            result = net(self.trades, self.deferred)
            legs = result.legs
            return bool(legs) and self._netting_refusal(legs, *result.trade_set.as_tuple()) is None

        @sf.precondition(lambda self: self._nets_now())
        @sf.rule(i=pick, how=st.integers(0, 2))
        def instruct_wrong(self, i, how):
            """A participant instructs other than its trades' net: one amount off by one, its sign
            flipped, or the line left out. The engine stores it (only the netting can tell), and
            the netting is refused naming the participant and the asset
            (SettlementInstructionMismatch, as consortium.domain.instructions.check predicts) until
            the participant instructs again; nothing settles that it did not instruct."""
            p = cast.participants[i % len(cast.participants)]
            lines = derive(p.address, self.uploaded[p.address], p.charges, self.deferred)
            moving = [n for n, x in enumerate(lines) if x.amount]
            if not moving:
                return
            k = moving[i % len(moving)]
            x = lines[k]
            if how == 2 and len(lines) > 1:
                del lines[k]
            elif how == 1:
                lines[k] = dataclasses.replace(x, amount=-x.amount)
            else:
                lines[k] = dataclasses.replace(x, amount=x.amount + (1 if x.amount != -1 else 2))
            self._send_instruction(p, lines)
            self.submit_netting()  # refused, naming p and the asset

        @sf.precondition(lambda self: self.status == OPEN and self.trades)
        @sf.rule(i=pick)
        def catch_up(self, i):
            """The participants upload what they have left, the CCP distributes, and all but
            (sometimes) one reconcile with it: the usual run-up to netting, in one step."""
            if not self.closed:
                for p in cast.participants:
                    while self._pending(p.address):
                        self._upload(p, 4)
                self.close_uploads()
            self.distribute(0)
            skip = i % (2 * len(cast.participants))  # >= len: nobody is left out
            for n, p in enumerate(cast.participants):
                if n != skip:
                    self.reconcile(firsts.index(p), 0)
                    self.instruct(n)

        @sf.precondition(lambda self: self.status == OPEN and self.trades)
        @sf.rule()
        def submit_netting(self):
            result = net(self.trades, self.deferred)
            if not result.legs:
                return
            refusal = self._netting_refusal(result.legs, *result.trade_set.as_tuple())
            if refusal:
                event(f"netting refused: {refusal.split(':')[0]}")  # --hypothesis-show-statistics
                with brownie.reverts(revert_pattern=refusal):
                    cast.ccp.instruct(self.cid, result)
                return
            tx = cast.ccp.instruct(self.cid, result)
            ev = tx.events["CycleNetted"]
            assert (ev["legsHash"], ev["legCount"]) == (hx(result.legs_hash), len(result.legs))
            sent = [
                (e["participant"], e["kind"], e["asset"], e["amount"])
                for e in tx.events["SettlementInstructed"]
            ]
            assert sorted(sent) == sorted(leg.as_tuple() for leg in result.legs)
            self.legs, self.status = result.legs, NETTED

        @sf.precondition(lambda self: self.status == OPEN and self.trades)
        @sf.rule(i=pick, how=st.integers(0, 2))
        def submit_corrupted_netting(self, i, how):
            """Legs or counts the CCP must not get away with: refused by name, the cycle stays open."""
            result = net(self.trades, self.deferred)
            legs, count = list(result.legs), result.trade_set.count
            if not legs:
                return
            if how == 2:
                count += 1 + i % 3
                refusal = self._netting_refusal(legs, count, result.trade_set.hash)
            else:
                k = i % len(legs)
                delta = 1 if how == 0 else -legs[k].amount * 2  # off by one, or the sign flipped
                if legs[k].amount + delta == 0:
                    delta = 2
                legs[k] = dataclasses.replace(legs[k], amount=legs[k].amount + delta)
                asset = (legs[k].kind, legs[k].asset)
                last = max(n for n, x in enumerate(legs) if (x.kind, x.asset) == asset)
                residual = sum(x.amount for x in legs if (x.kind, x.asset) == asset)
                # the engine checks each leg's participant as it walks the legs, and an asset's
                # sum when the walk leaves that asset: a stale match before it comes first
                refusal = (
                    None if self.closed else named_error("SettlementUploadsNotClosed", self.cid)
                )
                refusal = (
                    refusal
                    or self._unreconciled(legs[: last + 1])
                    or named_error("SettlementAssetNotBalanced", *asset, residual)
                )
            with brownie.reverts(revert_pattern=refusal):
                engine.submitNetting(
                    self.cid,
                    count,
                    result.trade_set.hash,
                    [x.as_tuple() for x in legs],
                    cast.ccp._tx(),
                )

        @sf.precondition(lambda self: self.status == NETTED)
        @sf.rule(short=st.booleans(), i=pick)
        def settle(self, short, i):
            """Fund every delivery (one of them one unit short with `short`), then settle DvP."""
            deliveries = [x for x in self.legs if x.amount < 0]
            shorted = deliveries[i % len(deliveries)] if short and deliveries else None
            for x in deliveries:
                need = -x.amount - (1 if x is shorted else 0)
                have = self.balances[(x.participant, x.kind, x.asset)]
                if have < need or x is shorted:
                    self._move_balance(x.participant, x.kind, x.asset, need - have)
            for p, lines in self.instructed.items():  # and the charges each pays, fresh
                for x in (x for x in lines if x.kind == CASH and x.fees + x.taxes):
                    self._move_balance(p, CASH, x.asset, x.fees + x.taxes)
            if shorted is not None:  # all or nothing: the invariants find every balance unmoved
                with brownie.reverts(revert_pattern=SHORT):
                    cast.csd.settle(self.cid, self.legs)
                return
            before = self._chain_balances()
            tx = cast.csd.settle(self.cid, self.legs)
            ev = tx.events["CycleSettled"]
            assert (ev["settledBy"], ev["legCount"]) == (cast.csd.address, len(self.legs))
            after = self._chain_balances()
            moved = apply_legs(self.balances, self.legs, cast.ccp.address)
            moved = apply_charges(moved, self.instructed, cast.fee_collector, cast.tax_authority)
            assert after == {k: moved[k] for k in after}
            # the charges paid (ChargesPaid) are exactly what the fee collector and the tax
            # authority received; per asset the holders of all tiers hold what they held
            paid = defaultdict(int)
            for e in _events(tx, "ChargesPaid"):
                currency = int.from_bytes(bytes(e["currency"]), "big")
                paid[(e["feeCollector"], CASH, currency)] += e["fees"]
                paid[(e["taxAuthority"], CASH, currency)] += e["taxes"]
            for k, v in paid.items():
                assert after[k] - before[k] == v
            for asset in self.supply:
                assert _total(before, asset) == _total(after, asset) == self.supply[asset]
            self.balances = {k: moved[k] for k in self.balances}
            self.status = SETTLED
            self._down_the_chain()

        def _down_the_chain(self) -> None:
            """The CSD opens the settled cycle's tiers; the intermediaries' steps are rules. Steps
            of the previous cycle left undone stay pending, as the chain shows them."""
            if self.down is not None:
                assert holding.openSteps(self.down.cid) == self.down.twin.open_steps
            netted = [t for t in self.trades if t not in self.deferred]
            self.down = HoldingRun(
                holding, holding_chain, self.cid, self.legs, netted, holding_parties, holding_csd
            )
            self.down.open()
            self.down.check_chain()

        def _ready(self) -> list:
            """The last settled cycle's steps not done yet, of the highest tier still open."""
            left = self.down.next_steps() if self.down is not None else []
            return [s for s in left if s.tier == left[0].tier] if left else []

        @sf.precondition(lambda self: self._ready())
        @sf.rule(n=st.integers(1, 4))
        def holding_steps(self, n):
            """The next intermediaries pass what they received down to their clients and their
            investors, each step conserving it (sent straight through web3: the invariants compare
            every step's sequence number and amounts with the twin's)."""
            self.down.send_quickly(self.down.next_steps()[:n])
            self.down.check_chain()

        @sf.precondition(lambda self: any(s.clients for s in self._ready()))
        @sf.rule(i=pick, delta=st.integers(min_value=1, max_value=1000))
        def holding_step_not_conserving(self, i, delta):
            """A ready step whose clients get more or less than the party received: refused with
            HoldingNotConserved (expected, given) and nothing changes."""
            ready = [s for s in self._ready() if s.clients]
            s = ready[i % len(ready)]
            self.down.attempt(s, self.down.not_conserving(s, i, delta))
            self.down.check_chain()

        @sf.precondition(lambda self: self.status == NETTED)
        @sf.rule(i=pick)
        def default_after_netting(self, i):
            """A participant on the legs is suspended: settlement is refused and moves nothing;
            the CCP unwinds, defers the participant's executions (both sides) and nets again without
            it; the participant is reinstated and its trades are carried to the next cycle."""
            on_legs = sorted({x.participant for x in self.legs})
            defaulter = on_legs[i % len(on_legs)]
            remaining = [t for t in self.trades if t not in self.deferred]
            fresh = deferrals(remaining, [defaulter])
            deferred = [*self.deferred, *fresh]  # deferral order: the engine folds them so
            if not net(self.trades, deferred).legs:
                return  # nothing would be left to settle: the cycle just waits for the participant
            manager.suspend(defaulter, "stateful: suspended after netting")
            try:
                for x in self.legs:  # every delivery funded: only the suspension stops it
                    have = self.balances[(x.participant, x.kind, x.asset)]
                    if x.amount < 0 and have < -x.amount and x.participant != defaulter:
                        self._move_balance(x.participant, x.kind, x.asset, -x.amount - have)
                with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
                    cast.csd.settle(self.cid, self.legs)
                tx = cast.ccp.unwind(self.cid, "stateful: participant suspended")
                assert tx.events["CycleUnwound"]["legsHash"] == hx(
                    net(self.trades, self.deferred).legs_hash
                )
                self.status, self.legs = OPEN, []
                self.cycle_buckets_and_reconciliations_match_model()
                dtx = engine.deferTrades(  # the model's deferral: the true trades
                    self.cid,
                    [t.as_tuple() for t in sorted(fresh, key=lambda t: t.trade_id)],
                    doc_hash("stateful: participant suspended"),
                    cast.ccp._tx(),
                )
                assert len(dtx.events["TradeDeferred"]) == len(fresh)
                sides = {t.participant for t in fresh}
                voided = _events(dtx, "InstructionVoided")
                assert {e["participant"] for e in voided} == {
                    p for p in sides if self.instructed.get(p)
                }
                self.deferred = deferred
                for p in sides:  # a deferral voids the instructions of both sides
                    if p in self.instructed:
                        self.instructed[p] = []
                for n, p in enumerate(cast.participants):  # who still settles instructs again
                    if p.address in sides and p.address != defaulter:
                        self.instruct(n)
                self.submit_netting()
                assert self.status == NETTED and defaulter not in {x.participant for x in self.legs}
            finally:
                manager.reinstate(defaulter, "stateful: reinstated")
            self.carried = list(self.deferred)

        @sf.precondition(lambda self: self.status != 0)
        @sf.rule(i=pick)
        def premature_or_repeated(self, i):
            """Settle before netting, net again, or settle again: refused, nothing moves.

            One refused transaction per call (each costs a trace).
            """
            legs = self.legs or (net(self.trades, self.deferred).legs if self.trades else [])
            cid = self.cid
            if self.status == OPEN and i % 3 == 0:
                pattern = named_error("SettlementCycleNotNetted", cid, OPEN)
                send = lambda: cast.ccp.unwind(cid, "premature")
            elif self.status == SETTLED and i % 3 == 0:
                settled_block = engine.getCycle(cid)["settledBlock"]
                pattern = named_error("SettlementAlreadySettled", cid, settled_block)
                send = lambda: cast.ccp.unwind(cid, "after settlement")
            elif self.status == OPEN:
                pattern = named_error("SettlementCycleNotNetted", cid, OPEN)
                send = lambda: cast.csd.settle(cid, legs)
            elif self.status == SETTLED and i % 2:
                settled_block = engine.getCycle(cid)["settledBlock"]
                pattern = named_error("SettlementAlreadySettled", cid, settled_block)
                send = lambda: cast.csd.settle(cid, legs)
            else:
                pattern = named_error("SettlementCycleNotOpen", cid, self.status)
                send = lambda: cast.ccp.instruct(cid, net(self.trades, self.deferred))
            with brownie.reverts(revert_pattern=pattern):
                send()

        # ------------------------------------------------------------ invariants
        @sf.invariant()
        def nothing_created_or_lost(self, who=None):
            """The balances of the holders that tokens move between (participants, CCP, fee
            collector, tax authority; `who=holders`: every tier's, at settlement and at the end)
            are the model's, and per asset every tier together holds what the machine issued less
            what it redeemed. Down the holding chain (only its rules and the settlement touch it),
            every step is the twin's and nothing is created or lost: HoldingRun.check after each of
            those steps (reading every tier and step after every step cost 0.3 s on ganache)."""
            balances = self._chain_balances(who or moving)
            assert balances == {k: self.balances[k] for k in balances}
            whole = self.balances | balances
            for asset in self.supply:
                assert _total(whole, asset) == self.supply[asset]

        def _chain_balances(self, who=holders) -> dict[tuple[str, int, int], int]:
            """`who`'s securities per id and cash per currency, in one batch of calls."""
            owners = [h for h in who for _ in sids]
            calls = [(security_token.balanceOfBatch, (owners, sids * len(who)))]
            calls += [(t.balanceOf, (h,)) for t in tokens.values() for h in who]
            securities, *cash = read_all(calls)
            out = {(h, SECURITY, s): int(v) for h, s, v in zip(owners, sids * len(who), securities)}
            cash_keys = [(h, CASH, a) for a in tokens for h in who]
            return out | {k: int(v) for k, v in zip(cash_keys, cash, strict=True)}

        @sf.invariant()
        def cycle_buckets_and_reconciliations_match_model(self):
            if self.cid is None:
                return
            recon = sorted(self.recon)
            calls = [(engine.getCycle, (self.cid,))]
            calls += [(engine.bucket, (self.cid, a, ALL)) for a in by_addr]
            calls += [(engine.reconStatus, (self.cid, p, peer)) for p, peer in recon]
            calls += [(engine.participantTrades, (self.cid, p)) for p in sorted(participants)]
            cycle, *rest = read_all(calls)
            buckets, statuses = rest[: len(by_addr)], rest[len(by_addr) : len(by_addr) + len(recon)]
            for p, (_, deferred) in zip(sorted(participants), rest[len(by_addr) + len(recon) :]):
                want = deferred_bucket(self.deferred, p)
                assert (deferred["count"], deferred["hash"]) == (want.count, hx(want.hash))
            assert cycle["status"] == self.status and cycle["uploadsClosed"] == self.closed
            for a, got in zip(by_addr, buckets):
                want = self._bucket(a, ALL)
                assert (got["count"], got["hash"]) == (want.count, hx(want.hash))
            assert statuses == [self.recon[k] for k in recon]
            if self.status >= NETTED:
                assert cycle["legsHash"] == hx(net(self.trades, self.deferred).legs_hash)
                sums = defaultdict(int)
                for leg in self.legs:
                    sums[(leg.kind, leg.asset)] += leg.amount
                assert set(sums.values()) == {0}

        def teardown(self):
            if not self.run_completed():
                return
            if self.status == OPEN and self.trades:
                self.catch_up(len(cast.participants))
                self.submit_netting()
            if self.status == NETTED:
                self.settle(False, 0)
            assert self.status in (0, SETTLED) or not self.trades  # nothing left unsettled
            if self.down is not None:
                self.down.finish()
            self.nothing_created_or_lost(holders)

    # 5 runs of 14 steps (6 of 15 before the instruction and holding-chain steps): no slower than
    # before, measured side by side with the same seed (ganache 91.4 s before, 79.8 s after)
    sf.run_state_machine_as_test(Machine, settings=machine_settings(5, 14))


def test_settle__participant_nets_zero_without_instruction__still_pays_its_charges(
    prepare, settle_cast
):
    """A participant buys 100 of a security from one peer and sells 100 at the same price to
    another: it has no net leg but owes fees and taxes on both trades (its first clearing data).
    While it has not instructed, the netting is refused naming it and the currency it owes in
    (SettlementNoInstruction, kind cash); once it instructs its charges-only line the netting goes
    through and the settlement pays exactly the charges the clearing data computed.
    """
    c = settle_cast
    a, b, d = c.participants
    sid = min(day.SECURITIES)
    _, ccy, price = day.SECURITIES[sid]
    execs = ((1, BUY, a), (2, SELL, b), (3, SELL, a), (4, BUY, d))
    trades = [
        Trade(trade_id(n), sid, code32(ccy), side, 100, price, day.TRADE_DATE, doc_hash(f"o{n}"))
        for n, side, _ in execs
    ]
    trades = [dataclasses.replace(t, participant=p.address) for t, (_, _, p) in zip(trades, execs)]
    due = due_charges(a.address, trades, a.charges)
    assert any(f + x for f, x in due.values())  # it owes charges
    cid = code32("ZERO-NET-CHARGES")
    result = prepare(cid, trades, instruct=False)
    assert a.address not in {g.participant for g in result.legs}
    for p in (b, d):
        p.submit_instruction(cid, trades)
    (owed,) = [k for k, v in due.items() if v != (0, 0)]
    with brownie.reverts(
        revert_pattern=named_error("SettlementNoInstruction", cid, a.address, CASH, owed)
    ):
        c.ccp.instruct(cid, result)
    (line,) = a.instruction(cid, trades)
    assert (line.kind, line.asset, line.amount, (line.fees, line.taxes)) == (
        CASH,
        owed,
        0,
        due[owed],
    )
    a.submit_instruction(cid, trades)
    c.ccp.instruct(cid, result)
    tx = c.csd.settle(cid, result.legs)
    paid = {
        int.from_bytes(bytes(e["currency"]), "big"): (e["fees"], e["taxes"])
        for e in _events(tx, "ChargesPaid")
        if e["participant"] == a.address
    }
    assert paid == {k: v for k, v in due.items() if v != (0, 0)}
