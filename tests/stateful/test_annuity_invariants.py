"""Stateful: random interleavings over the annuity line (AnnuityPlans + AnnuityLedger).

Rules: open accounts; contributions, single and in small batches; new plan versions; plan choices
with and without reset; resetHoldings (each reset confirmed by the trustee); allocateCash; executeInstruction at the prices an instruction
was valued at or at moved ones; reportFeedback / forwardFeedback with moving unit prices; replays
of executed, reported and settled instructions, and refused calls, each expecting its named error.

Invariants after every step, against consortium.domain.allocation (Book, split, rebalance):
- every issued instruction's legs sum exactly to its amount and equal the oracle's legs (checked on
  the InstructionIssued event, and on chain after every step through its stored amount, legs hash
  and status);
- holdings: each account's units per item equal its Book (never negative, zero units not held),
  each value is floor(units x price / 1e18), totalUnits(item) is the sum over the accounts;
- valuation: each account's invested value (sum of floored item values) and cash equal the Book's
  to the minor unit, and totalReturn = invested + cash - contributed;
- an instruction executes, reports and settles once: replays revert AnnuityInstructionNotInState
  and change nothing (the invariants above then still hold against the unchanged model);
- a Reset executed at the prices it was valued at leaves every item's value within one minor unit
  of its target (the largest-remainder split of value + new money); every item whose target is zero
  is sold out (its sellOutMask bit, checked against the oracle's `sold_out`), whatever the execution
  price: no zero-value dust, and an account never holds more than MAX_HELD_ITEMS items;
- allocateCash passes over (AllocationSkipped, with the oracle's reason) every account it cannot
  allocate and allocates the others.
The teardown settles every open instruction and checks the ledger's accounting identity per
account: contributed = cash + the amounts of all its instructions (money is either unallocated or
was handed to exactly one instruction; the ledger keeps no cost basis beyond that).

Why plain `hypothesis.stateful`: see tests/stateful/test_bills_invariants.py; why short runs are
rejected: tests/stateful/machine.py.
"""

import copy
import dataclasses
import itertools
from dataclasses import dataclass, field

import brownie
from eth_abi import encode
from eth_utils import keccak
from hypothesis import stateful as sf
from hypothesis import strategies as st

from consortium.domain.allocation import (
    INITIAL_UNIT_PRICE,
    MAX_UNIT_PRICE,
    Book,
    rebalance,
    sold_out,
    split,
    value_of,
)
from consortium.domain.hashing import code32
from consortium.roles.annuity import Feedback, IssuedInstruction, instructions_in, skipped_in
from tests.fixtures.annuity import PLANS, ratio_vectors
from tests.stateful.machine import ChainMachine, machine_settings, named_error, read_all

AWAITING_TRUSTEE = 5  # IAnnuityLedger.InstructionStatus.AwaitingTrustee

ISSUED, EXECUTED, REPORTED, SETTLED = 1, 2, 3, 4
FIRST, RESET = 0, 1
MAX_ACCOUNTS = 4
MAX_VERSIONS = 4  # new plan versions per run, on top of version 1 of every plan
ITEM_NAMES = sorted({i for ratios in PLANS.values() for i in ratios} | {"EM_EQUITY", "INFRA"})
ITEMS = {name: code32(name) for name in ITEM_NAMES}
# price moves as (numerator, denominator) of the current price, plus the two ends of the range
MOVES = [(1, 3), (1, 2), (9, 10), (1, 1), (101, 100), (11, 10), (2, 1), (7, 1), (0, 1), (-1, 1)]

pick = st.integers(min_value=0, max_value=10_000)
amounts = st.one_of(st.integers(1, 60), st.integers(61, 10**11))
moves = st.lists(st.integers(0, len(MOVES) - 1), min_size=8, max_size=8)
_employees = itertools.count(1)


def moved(price: int, move: int) -> int:
    """A new unit price from a move in MOVES, kept inside the ledger's range 1..MAX_UNIT_PRICE."""
    num, den = MOVES[move]
    if num == 0:
        return 1
    if num < 0:
        return MAX_UNIT_PRICE
    return min(MAX_UNIT_PRICE, max(1, price * num // den))


def b32(value) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def hx(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass
class Ins:
    """An instruction as the model knows it; `priced` are the unit prices it was valued at."""

    issued: IssuedInstruction
    priced: tuple[int, ...]
    target: tuple[int, ...] = ()
    status: int = ISSUED
    feedback: Feedback | None = None

    @property
    def iid(self) -> int:
        return self.issued.instruction_id


@dataclass
class Acct:
    employee: str
    book: Book = field(default_factory=Book)
    plan: tuple[str, int] | None = None
    reset_pending: bool = False
    open: Ins | None = None
    instructions: list[int] = field(default_factory=list)


def test_annuity__random_interleavings__legs_holdings_and_values_exact(
    ledger,
    platform,
    trustee,
    account_manager,
    investment_manager,
    annuity_world,
    unique_txs,
    chain,
):
    chain.snapshot()
    for code in PLANS:
        assert trustee.latest_version(code) == 1
    base: dict = {}  # the model of the base state every run starts from (built below)

    class Machine(ChainMachine):
        def __init__(self):
            super().__init__(chain)
            unique_txs()
            if base:
                platform.accounts.clear()
                platform.accounts.update(base["book"])
                self.__dict__.update(copy.deepcopy(base["model"]))
                return
            self.accts: dict[bytes, Acct] = {}
            self.ins: dict[int, Ins] = {}
            self.prices: dict[bytes, int] = {}
            self.payrolls = 0  # payroll references are idempotency keys: one per contribution
            self.plans = {
                code: [([ITEMS[i] for i in ratios], list(ratios.values()))]
                for code, ratios in PLANS.items()
            }

        def build_base(self) -> None:
            """Three accounts holding their first plan's items (one bought at moved prices), the
            base state of every run: built and snapshotted once, so a run pays for none of it."""
            self.open_accounts(3)
            self._contribute(dict(zip(self.accts, [1, 7_777, 12_345_678_901])))
            for k, code in enumerate(["THIRDS", "BALANCED", "DIVERSIFIED8"]):
                self.choose_plan(k, code, 0, False)
                self.settle_through(0, k != 1, [k, 5, 2, 6, 1, 4, 3, 7])
            for x in self.ins.values():  # a receipt is no model state: drop it before copying
                x.feedback = dataclasses.replace(x.feedback, tx=None)
            model = ("accts", "ins", "prices", "plans", "payrolls")
            base.update(book=dict(platform.accounts), model={k: self.__dict__[k] for k in model})

        # ------------------------------------------------------------ helpers
        def _price(self, item: bytes) -> int:
            return self.prices.get(item, INITIAL_UNIT_PRICE)

        def _acct(self, i: int) -> tuple[bytes, Acct]:
            ids = list(self.accts)
            acc = ids[i % len(ids)]
            return acc, self.accts[acc]

        def _in_state(self, i: int, *states: int) -> Ins:
            found = [x for x in self.ins.values() if x.status in states]
            return found[i % len(found)]

        def _any(self, *states: int) -> bool:
            return any(x.status in states for x in self.ins.values())

        def _record(self, tx, expected: list[tuple]) -> None:
            """Check the instructions `tx` issued against the oracle's (account, kind, items, legs)
            and hand each account's cash to its instruction."""
            issued = instructions_in(tx)
            assert len(issued) == len(expected)
            for ins, (acc, kind, items, legs, *mask) in zip(issued, expected):
                a = self.accts[acc]
                assert (ins.account_id, ins.kind) == (acc, kind)
                assert ins.sell_out == (mask[0] if mask else 0)
                assert ins.amount == a.book.cash and sum(ins.legs) == ins.amount
                assert list(ins.items) == items and list(ins.legs) == legs
                assert (ins.plan_code, ins.plan_version) == (code32(a.plan[0]), a.plan[1])
                assert ins.instruction_id == len(self.ins) + 1
                model = Ins(ins, tuple(self._price(i) for i in ins.items))
                self.ins[ins.instruction_id] = model
                a.open = model
                a.instructions.append(ins.instruction_id)
                a.book.cash = 0

        def _first(self, acc: bytes) -> tuple[bytes, int, list[bytes], list[int]]:
            a = self.accts[acc]
            items, ratios = self.plans[a.plan[0]][a.plan[1] - 1]
            return (acc, FIRST, items, split(a.book.cash, ratios))

        def _contribute(self, entries: dict[bytes, int]) -> None:
            self.payrolls += 1
            batches = trustee.receive_contributions(f"payroll {self.payrolls}", entries)
            tx = account_manager.post_contributions(batches[0])
            for acc, amount in entries.items():
                self.accts[acc].book.contribute(amount)
            posted = [
                (b32(e["account"]), e["cash"], e["contributed"])
                for e in tx.events["ContributionPosted"]
            ]
            assert posted == [
                (acc, self.accts[acc].book.cash, self.accts[acc].book.contributed)
                for acc in entries
            ]

        def _execute(self, x: Ins, prices: list[int]):
            tx = investment_manager.execute(x.issued, prices)
            book = self.accts[x.issued.account_id].book
            deltas = book.execute(x.issued.items, x.issued.legs, prices, x.issued.sell_out)
            ev = tx.events["InstructionExecuted"]
            assert list(ev["unitDeltas"]) == deltas and list(ev["prices"]) == prices
            assert list(ev["unitsAfter"]) == [book.units.get(i, 0) for i in x.issued.items]
            x.status = EXECUTED
            return ev

        def _report(self, x: Ins, prices: list[int]) -> None:
            x.feedback = investment_manager.report_feedback(x.issued, prices)
            assert list(x.feedback.tx.events["FeedbackReported"]["unitPrices"]) == prices
            x.status = REPORTED

        def _forward(self, x: Ins) -> None:
            tx = trustee.forward_feedback(x.feedback)
            for item, price in zip(x.issued.items, x.feedback.unit_prices):
                self.prices[item] = price
            x.status = SETTLED
            a = self.accts[x.issued.account_id]
            a.open = None
            updated = [(b32(e["item"]), e["price"]) for e in tx.events["UnitPriceUpdated"]]
            assert updated == list(zip(x.issued.items, x.feedback.unit_prices))
            ev = tx.events["InstructionSettled"]
            invested = a.book.invested(self.prices)
            want = (invested, a.book.cash, a.book.contributed)
            assert (ev["invested"], ev["cash"], ev["contributed"]) == want
            assert ev["totalReturn"] == invested + a.book.cash - a.book.contributed

        # ------------------------------------------------------------ rules
        @sf.precondition(lambda self: len(self.accts) < MAX_ACCOUNTS)
        @sf.rule(n=st.just(1))
        def open_accounts(self, n):
            emps = [f"employee-{next(_employees)}" for _ in range(n)]
            platform.enrol(emps)
            ids = [platform.account_id(e) for e in emps]
            (tx,) = account_manager.open_accounts(ids)
            assert [b32(e["account"]) for e in tx.events["AccountOpened"]] == ids
            for e, acc in zip(emps, ids):
                self.accts[acc] = Acct(e)

        @sf.precondition(lambda self: self.accts)
        @sf.rule(i=pick, amount=amounts)
        def contribute(self, i, amount):
            acc, _ = self._acct(i)
            self._contribute({acc: amount})

        @sf.precondition(lambda self: len(self.accts) >= 2)
        @sf.rule(i=pick, size=st.integers(2, 3), amount=st.lists(amounts, min_size=3, max_size=3))
        def contribute_batch(self, i, size, amount):
            ids = list(self.accts)
            chosen = [ids[(i + k) % len(ids)] for k in range(min(size, len(ids)))]
            self._contribute(dict(zip(chosen, amount)))

        @sf.precondition(
            lambda self: sum(map(len, self.plans.values())) < len(PLANS) + MAX_VERSIONS
        )
        @sf.rule(
            code=st.sampled_from(sorted(PLANS)),
            ratios=ratio_vectors(max_items=5),
            order=st.permutations(ITEM_NAMES),
        )
        def define_plan(self, code, ratios, order):
            names = order[: len(ratios)]
            version = trustee.define_plan(code, dict(zip(names, ratios)))
            self.plans[code].append(([ITEMS[n] for n in names], list(ratios)))
            assert version == len(self.plans[code])

        @sf.precondition(lambda self: self.accts)
        @sf.rule(i=pick, code=st.sampled_from(sorted(PLANS)), v=pick, reset=st.booleans())
        def choose_plan(self, i, code, v, reset):
            acc, a = self._acct(i)
            version = 1 + v % len(self.plans[code])
            if a.open is not None:
                with brownie.reverts(
                    revert_pattern=named_error("AnnuityInstructionOpen", acc, a.open.iid)
                ):
                    platform.choose_plan(a.employee, code, version, reset)
                return
            tx = platform.choose_plan(a.employee, code, version, reset)
            ev = tx.events["PlanChosen"]
            assert (ev["planCode"], ev["version"], ev["reset"]) == (
                hx(code32(code)),
                version,
                reset,
            )
            a.plan, a.reset_pending = (code, version), reset
            self._record(tx, [self._first(acc)] if not reset and a.book.cash > 0 else [])

        @sf.precondition(lambda self: any(a.reset_pending for a in self.accts.values()))
        @sf.rule(i=pick)
        def reset_holdings(self, i):
            """Any account: those without a reset asked for are refused."""
            acc, a = self._acct(i)
            send = lambda: ledger.resetHoldings(acc, {"from": account_manager.institution.account})
            if not a.reset_pending:
                with brownie.reverts(revert_pattern=named_error("AnnuityNoResetRequested", acc)):
                    send()
                return
            items, ratios = self.plans[a.plan[0]][a.plan[1] - 1]
            outside = {i for i in a.book.units if i not in items}
            invested = a.book.invested(self.prices)
            if invested + a.book.cash == 0:  # only dust units (worth 0) or nothing held
                with brownie.reverts(revert_pattern=named_error("AnnuityNothingToAllocate", acc)):
                    send()
                return
            tx = send()
            issued = instructions_in(tx)[0]
            assert list(issued.items[: len(items)]) == items
            assert set(issued.items[len(items) :]) == outside
            # the held items outside the plan come in the ledger's set order; with ratio 0 their
            # legs are their whole value whatever the order, so the oracle takes the chain's order
            full = list(issued.items)
            ratios_full = ratios + [0] * len(outside)
            current = a.book.values(full, self.prices)
            legs = rebalance(current, a.book.cash, ratios_full)
            mask = sold_out(current, a.book.cash, ratios_full)
            assert sum(current) == invested == tx.events["HoldingsReset"]["investedValue"]
            target = split(invested + a.book.cash, ratios_full)
            self._record(tx, [(acc, RESET, full, legs, mask)])
            a.open.target = tuple(target)
            a.reset_pending = False
            # the trustee's part of the reset: only a confirmed reset can be executed
            assert int(ledger.getInstruction(issued.instruction_id)["status"]) == AWAITING_TRUSTEE
            trustee.confirm_reset(issued)

        @sf.precondition(lambda self: any(a.plan and a.book.cash for a in self.accts.values()))
        @sf.rule(i=pick, n=st.integers(1, 3), eligible_only=st.booleans())
        def allocate_cash(self, i, n, eligible_only):
            def refusal(acc, a):
                if a.plan is None:
                    return "NoPlan"
                if a.reset_pending:
                    return "ResetPending"
                if a.open is not None:
                    return "InstructionOpen"
                if a.book.cash == 0:
                    return "NothingToAllocate"
                items = self.plans[a.plan[0]][a.plan[1] - 1][0]
                if len(set(a.book.units) | set(items)) > 32:
                    return "TooManyHoldings"
                return None

            eligible = [acc for acc, a in self.accts.items() if not refusal(acc, a)]
            pool = eligible if eligible_only and eligible else list(self.accts)
            chosen = list(dict.fromkeys(pool[(i + k) % len(pool)] for k in range(n)))
            # the ledger passes over (and reports) each account it cannot allocate, allocates the rest
            tx = ledger.allocateCash(chosen, {"from": trustee.institution.account})
            reasons = [(acc, refusal(acc, self.accts[acc])) for acc in chosen]
            assert skipped_in(tx) == [(acc, r) for acc, r in reasons if r]
            self._record(tx, [self._first(acc) for acc, r in reasons if not r])

        @sf.precondition(lambda self: self._any(ISSUED))
        @sf.rule(i=pick, at_valuation=st.booleans(), how=moves)
        def execute(self, i, at_valuation, how):
            self._execute_checked(self._in_state(i, ISSUED), at_valuation, how)

        def _execute_checked(self, x: Ins, at_valuation: bool, how: list[int]) -> None:
            """Execute at the prices `x` was valued at, or moved ones; a Reset at its valuation
            prices must leave every item within one minor unit of its target."""
            prices = (
                list(x.priced)
                if at_valuation
                else [moved(p, m) for p, m in zip(x.priced, itertools.cycle(how))]
            )
            ev = self._execute(x, prices)
            for k, units in enumerate(ev["unitsAfter"]):  # sold out at any price: no dust
                assert not (x.issued.sell_out >> k & 1) or units == 0
            if x.issued.kind == RESET and at_valuation:
                for units, price, target in zip(ev["unitsAfter"], prices, x.target):
                    assert abs(value_of(units, price) - target) <= 1, (units, price, target)

        @sf.precondition(lambda self: self._any(EXECUTED))
        @sf.rule(i=pick, how=moves)
        def report_feedback(self, i, how):
            self._report_moved(self._in_state(i, EXECUTED), how)

        def _report_moved(self, x: Ins, how: list[int]) -> None:
            current = [self._price(item) for item in x.issued.items]
            self._report(x, [moved(p, m) for p, m in zip(current, itertools.cycle(how))])

        @sf.precondition(lambda self: self._any(REPORTED))
        @sf.rule(i=pick)
        def forward_feedback(self, i):
            self._forward(self._in_state(i, REPORTED))

        @sf.precondition(lambda self: self._any(ISSUED))
        @sf.rule(i=pick, at_valuation=st.booleans(), how=moves)
        def settle_through(self, i, at_valuation, how):
            """Execute, report and forward in one step, so that accounts come free for new plans."""
            x = self._in_state(i, ISSUED)
            self._execute_checked(x, at_valuation, how)
            self._report_moved(x, how)
            self._forward(x)

        @sf.precondition(lambda self: self._any(EXECUTED, REPORTED, SETTLED))
        @sf.rule(i=pick)
        def replay_refused(self, i):
            """An instruction past a step never takes that step again: named error, nothing moves.

            One replay per call (a refused transaction costs a trace): the step just taken, or
            for a settled instruction its execution or its settlement.
            """
            x = self._in_state(i, EXECUTED, REPORTED, SETTLED)
            step = ISSUED if x.status == SETTLED and i % 2 else x.status - 1
            replay = {
                ISSUED: lambda: investment_manager.execute(x.issued, list(x.priced)),
                EXECUTED: lambda: investment_manager.report_feedback(x.issued, list(x.priced)),
                REPORTED: lambda: trustee.forward_feedback(x.feedback),
            }[step]
            pattern = named_error("AnnuityInstructionNotInState", x.iid, x.status, step)
            with brownie.reverts(revert_pattern=pattern):
                replay()

        # ------------------------------------------------------------ invariants
        @sf.invariant()
        def holdings_and_valuation_match_model(self):
            reads = iter(
                read_all(
                    [
                        (fn, (acc,))
                        for acc in self.accts
                        for fn in (ledger.holdingsOf, ledger.valuation, ledger.getAccount)
                    ]
                )
            )
            for acc, a in self.accts.items():
                (items, units, values), valuation, rec = next(reads), next(reads), next(reads)
                assert all(u > 0 for u in a.book.units.values())
                held = {b32(i): int(u) for i, u in zip(items, units)}
                assert held == a.book.units, f"account {hx(acc)}"
                for item, u, v in zip(items, units, values):
                    assert v == value_of(u, self._price(b32(item)))
                invested, cash, contributed, ret = valuation
                assert invested == a.book.invested(self.prices)
                assert (cash, contributed) == (a.book.cash, a.book.contributed)
                assert ret == invested + cash - contributed
                assert rec["openInstruction"] == (a.open.iid if a.open else 0)
                assert len(held) <= 32  # MAX_HELD_ITEMS
                assert rec["resetPending"] == a.reset_pending

        @sf.invariant()
        def total_units_are_the_sum_of_accounts(self):
            touched = sorted({i for x in self.ins.values() for i in x.issued.items})
            reads = iter(read_all([(ledger.totalUnits, (i,)) for i in touched]))
            for item, total in zip(touched, reads):
                assert total == sum(a.book.units.get(item, 0) for a in self.accts.values())

        @sf.invariant()
        def instructions_sum_to_their_amount_and_advance_once(self):
            stored = read_all([(ledger.getInstruction, (iid,)) for iid in self.ins])
            for x, got in zip(self.ins.values(), stored, strict=True):
                assert sum(x.issued.legs) == x.issued.amount == got["amount"]
                assert got["legsHash"] == hx(keccak(encode(["int256[]"], [list(x.issued.legs)])))
                assert got["status"] == x.status

        def teardown(self):
            if not self.run_completed():
                return
            for x in list(self.ins.values()):
                if x.status == ISSUED:
                    self._execute(x, [self._price(i) for i in x.issued.items])
                if x.status == EXECUTED:
                    self._report(x, [self._price(i) for i in x.issued.items])
                if x.status == REPORTED:
                    self._forward(x)
            self.holdings_and_valuation_match_model()
            for acc, a in self.accts.items():
                _, cash, contributed, _ = ledger.valuation(acc)
                handed = sum(int(ledger.getInstruction(iid)["amount"]) for iid in a.instructions)
                assert contributed == cash + handed, f"account {hx(acc)}"
                assert ledger.getAccount(acc)["openInstruction"] == 0

    Machine().build_base()
    base["model"] = copy.deepcopy(base["model"])
    chain.snapshot()  # runs revert to the base state (module_isolation resets after this module)
    sf.run_state_machine_as_test(Machine, settings=machine_settings(6, 20))
