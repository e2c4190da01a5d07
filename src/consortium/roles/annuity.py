"""Enterprise annuity: the four platforms driving AnnuityPlans and AnnuityLedger.

- AnnuityServicePlatform (ANNUITY_PLATFORM): registers the employer with the trustee it entrusted
  and the account manager keeping its accounts, enrols employees (salted hashes only go on chain),
  sends each employee's target plan, shows each employee their assets and returns.
- TrusteePlatform (TRUSTEE): defines plans and appoints each plan's investment manager, receives
  employers' contributions, invests new money, forwards the investment manager's feedback.
- AccountManagerPlatform (ACCOUNT_MANAGER): opens accounts, posts contributions to asset records,
  resets historical holdings when a plan change asks for it.
- InvestmentManagerPlatform (INVESTMENT_MANAGER): executes allocation instructions against a price
  series it is given and reports feedback (unit prices after execution).

Counterparties are bound on chain: only the employer's platform, trustee and account manager act on
its accounts, only a plan's appointed investment manager executes its instructions.

The classes receive deployed contracts and accounts; they never import brownie. The trustee and the
account manager send their batches through an outbox in their store (consortium.outbox): a
contribution batch is keyed by its payroll reference, a posting by its batch id, so an agent
restarted after a crash books what the chain recorded and resends only the rest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from consortium.domain.allocation import INITIAL_UNIT_PRICE, check_ratios
from consortium.domain.annuity_choice import ChoiceNotEvidenced, PlanChoice
from consortium.domain.encoding import b32
from consortium.domain.hashing import code32, commit, doc_hash, new_salt
from consortium.outbox import Outbox, OutboxConflict, Submission, key_of, recorded
from consortium.roles.membership import Institution
from consortium.store import Store

MAX_BATCH = 256  # AnnuityLedger.MAX_BATCH
MAX_ALLOCATION_BATCH = 50  # AnnuityLedger.MAX_ALLOCATION_BATCH
MAX_INSTRUCTION_BATCH = 50  # AnnuityLedger.MAX_INSTRUCTION_BATCH
# Items (legs) per batched instruction call. Executing 20 eight-item instructions (160 legs, new
# holdings each) took 12,265,203 gas (bench/results.json: 76,658 a leg); an item's first buy on the
# whole ledger adds about 25,000 once. So a call stays near 12.7M, under the pipe's 16M limit a
# transaction (txpipe.DEFAULT_GAS; EIP-7825 caps a transaction at 16.78M) and inside a 30M block.
MAX_BATCH_ITEMS = 160
RECEIVE = "AnnuityLedger.receiveContributions"
POST = "AnnuityLedger.postContributions"


def chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """`seq` in order, `size` entries a piece (the last may be shorter): one transaction each."""
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def instruction_groups(
    work: Sequence[Any], items_of: Any = lambda w: len(w.items)
) -> list[list[Any]]:
    """`work` (instructions, or anything `items_of` counts the items of) in order, in groups for
    one batched call each: at most MAX_INSTRUCTION_BATCH entries and MAX_BATCH_ITEMS items (an
    entry with more items than that alone)."""
    groups: list[list[Any]] = []
    items = 0
    for w in work:
        n = items_of(w)
        if not groups or len(groups[-1]) == MAX_INSTRUCTION_BATCH or items + n > MAX_BATCH_ITEMS:
            groups.append([])
            items = 0
        groups[-1].append(w)
        items += n
    return groups


@dataclass(frozen=True)
class EmployeeAccount:
    """What the platform keeps off chain: the employee id, its salt, and the on-chain account id."""

    employee_id: str
    salt: bytes
    account_id: bytes


@dataclass(frozen=True)
class ContributionBatch:
    """A received batch as the trustee hands it to the account manager (over their channel)."""

    batch_id: int
    batch_ref: bytes
    accounts: tuple[bytes, ...]
    amounts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.amounts)

    @classmethod
    def booked(cls, sub: Submission) -> ContributionBatch:
        """The batch a booked receiveContributions submission (args: ref, accounts, amounts)
        became."""
        ref, accounts, amounts = sub.args
        return cls(
            int(sub.value["batchId"]),
            b32(ref),
            tuple(b32(a) for a in accounts),
            tuple(int(x) for x in amounts),
        )


@dataclass(frozen=True)
class IssuedInstruction:
    """An allocation instruction as issued on chain (InstructionIssued event)."""

    instruction_id: int
    account_id: bytes
    kind: int  # 0 First, 1 Reset
    plan_code: bytes
    plan_version: int
    amount: int
    items: tuple[bytes, ...]
    legs: tuple[int, ...]
    sell_out: int = 0  # bit i: item i is sold out (all units) on execution

    @classmethod
    def from_event(cls, ev: Mapping[str, Any]) -> IssuedInstruction:
        return cls(
            instruction_id=int(ev["instructionId"]),
            account_id=b32(ev["account"]),
            kind=int(ev["kind"]),
            plan_code=b32(ev["planCode"]),
            plan_version=int(ev["planVersion"]),
            amount=int(ev["amount"]),
            items=tuple(b32(i) for i in ev["items"]),
            legs=tuple(int(x) for x in ev["legs"]),
            sell_out=int(ev["sellOutMask"]),
        )


def instructions_in(tx: Any) -> list[IssuedInstruction]:
    """Every instruction a transaction issued, in order."""
    if "InstructionIssued" not in tx.events:
        return []
    return [IssuedInstruction.from_event(ev) for ev in tx.events["InstructionIssued"]]


SKIP_REASONS = (
    "NotOpen",
    "NoPlan",
    "ResetPending",
    "InstructionOpen",
    "NothingToAllocate",
    "TooManyHoldings",
)  # IAnnuityLedger.AllocationSkipReason


def skipped_in(tx: Any) -> list[tuple[bytes, str]]:
    """(account, reason) of every account an allocateCash transaction passed over, in order."""
    if "AllocationSkipped" not in tx.events:
        return []
    return [
        (b32(ev["account"]), SKIP_REASONS[int(ev["reason"])])
        for ev in tx.events["AllocationSkipped"]
    ]


@dataclass(frozen=True)
class Feedback:
    """Investment feedback of one executed instruction, as the trustee forwards it."""

    instruction_id: int
    items: tuple[bytes, ...]
    unit_prices: tuple[int, ...]
    report_hash: bytes
    tx: Any = field(default=None, compare=False, repr=False)  # the reportFeedback receipt


@dataclass(frozen=True)
class Holding:
    item: bytes
    units: int
    value: int


@dataclass(frozen=True)
class Statement:
    """What the employee sees: assets by item, unallocated cash,
    contributions and return (minor units)."""

    employee_id: str
    invested: int
    cash: int
    contributed: int
    total_return: int
    holdings: tuple[Holding, ...]

    @property
    def total(self) -> int:
        return self.invested + self.cash


@dataclass(frozen=True)
class ChoiceLine:
    """One line of the choice statement: an instruction and the employee's choice behind it
    (None when this platform holds no evidence under the hash: another platform's choice)."""

    instruction_id: int
    kind: int  # 0 First, 1 Reset
    choice_hash: bytes
    choice: PlanChoice | None


CHOICE_EVIDENCE_KIND = "annuity.choice-evidence"


def _choice_from_json(doc: Mapping[str, Any]) -> PlanChoice:
    return PlanChoice(
        b32(doc["account"]),
        b32(doc["plan_code"]),
        int(doc["version"]),
        bool(doc["reset"]),
        int(doc["chosen_at"]),
        b32(doc["consent_ref"]),
        bytes.fromhex(doc["signature"][2:]),
    )


class _Sender:
    """A role's transaction parameters: sent from its institution's account."""

    institution: Institution

    def _tx(self) -> dict[str, Any]:
        return {"from": self.institution.account}


EMPLOYEE_KIND = (
    "annuity.employee"  # the platform's register in its store: employee id -> salt, account
)
EMPLOYER_KIND = "annuity.employer"  # employer reference -> employer id on chain


@dataclass
class AnnuityServicePlatform(_Sender):
    """The employee-facing platform: enrolment, plan choice, statements.

    With a `store`, the register (employee id, salt, account id) and the employer ids live there,
    written before anything is sent: a restarted platform still knows every employee's account (the
    salt cannot be recomputed, and the chain holds only the salted hash). Without one (the
    in-process day and the tests) it lives in memory."""

    institution: Institution
    ledger: Any
    plans: Any
    accounts: dict[str, EmployeeAccount] = field(default_factory=dict)
    employer: int | None = None  # the employer id new employees are enrolled under
    store: Store | None = None
    choices: dict[bytes, PlanChoice] = field(default_factory=dict)  # evidence by its hash
    # account id -> employee: an event names the account (10,000 of them on the large day)
    _by_account: dict[bytes, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.store is None:
            return
        for emp, row in self.store.all(EMPLOYEE_KIND).items():
            self.accounts[emp] = EmployeeAccount(
                emp, bytes.fromhex(row["salt"]), bytes.fromhex(row["account_id"])
            )

    @property
    def address(self) -> str:
        return self.institution.address

    def register_employer(self, employer_ref: str, trustee: str, account_manager: str) -> int:
        """Register the employer (with the trustee it entrusted and its account manager) on chain;
        later enrolments go under it. Returns the employer id."""
        tx = self.ledger.registerEmployer(
            doc_hash(employer_ref), trustee, account_manager, self._tx()
        )
        self.employer = int(tx.events["EmployerRegistered"]["employerId"])
        if self.store is not None:
            self.store.put(EMPLOYER_KIND, employer_ref, {"employer": self.employer})
        return self.employer

    def employer_of(self, employer_ref: str) -> int | None:
        """The id of an employer this platform registered (from its store), or None."""
        row = self.store.get(EMPLOYER_KIND, employer_ref) if self.store is not None else None
        return int(row["employer"]) if row else None

    def account_id(self, employee_id: str) -> bytes:
        try:
            return self.accounts[employee_id].account_id
        except KeyError:
            raise KeyError(
                f"employee {employee_id!r} is not enrolled here; call enrol() first"
            ) from None

    def employee_of(self, account_id: bytes) -> str | None:
        """The employee behind an account id, if enrolled here."""
        index = self._by_account
        if len(index) != len(self.accounts):  # rebuilt when an account was added since
            index.clear()
            index.update((a.account_id, e) for e, a in self.accounts.items())
        return index.get(bytes(account_id))

    def register(self, employee_id: str, source: str = "") -> bytes:
        """Draw the employee's salt and keep (employee id, salt, account id), in the store first
        when there is one; returns the account id. `source` says what enrolled it (an inbox
        file)."""
        return self.register_many([employee_id], source)[0]

    def register_many(self, employee_ids: Sequence[str], source: str = "") -> list[bytes]:
        """`register` for many employees, kept in one store transaction (all or none); their
        account ids in order."""
        for employee_id in employee_ids:
            if employee_id in self.accounts:
                raise ValueError(f"employee {employee_id!r} is already enrolled")
        if len(set(employee_ids)) != len(employee_ids):
            raise ValueError("an employee is listed twice; enrol each once")
        entries = []
        for employee_id in employee_ids:
            salt = new_salt()
            entries.append(EmployeeAccount(employee_id, salt, commit(employee_id, salt)))
        if self.store is not None:
            self.store.put_many(
                EMPLOYEE_KIND,
                {
                    e.employee_id: {
                        "salt": e.salt.hex(),
                        "account_id": e.account_id.hex(),
                        "employer": self.employer,
                        "source": source,
                    }
                    for e in entries
                },
            )
        self.accounts.update((e.employee_id, e) for e in entries)
        return [e.account_id for e in entries]

    def registered(self, employee_id: str) -> dict[str, Any] | None:
        """The stored register entry of an employee (employer, source), or None."""
        return self.store.get(EMPLOYEE_KIND, employee_id) if self.store is not None else None

    def enrol(self, employee_ids: Sequence[str]) -> list[Any]:
        """Ask for accounts for new employees of the registered employer; only salted hashes of
        their ids reach the chain."""
        if self.employer is None:
            raise ValueError(
                "no employer registered on this platform; call register_employer() first"
            )
        return self.request_accounts(self.register_many(employee_ids))

    def request_accounts(self, account_ids: Sequence[bytes]) -> list[Any]:
        """requestAccounts under the current employer, chunked at MAX_BATCH."""
        return [
            self.ledger.requestAccounts(self.employer, list(chunk), self._tx())
            for chunk in chunks(list(account_ids), MAX_BATCH)
        ]

    def choose_plan(
        self,
        employee_id: str,
        plan_code: str,
        version: int | None = None,
        reset: bool = False,
        evidence: PlanChoice | None = None,
        consent_ref: bytes | None = None,
    ) -> Any:
        """Send the employee's target plan (latest version unless one is named) with the hash of
        its evidence: `evidence` (the employee's signed choice), else the platform's attestation
        with the employee's consent reference (`consent_ref`; by default the reference of the
        consent the platform recorded for this choice). The evidence is kept first."""
        code = code32(plan_code)
        if version is None:
            version = int(self.plans.latestVersion(code))
            if version == 0:
                raise ValueError(f"plan {plan_code!r} is not defined; the trustee defines plans")
        account = self.account_id(employee_id)
        if evidence is None:
            consent = consent_ref or doc_hash(
                f"consent {employee_id} {plan_code} {version} {reset}"
            )
            evidence = PlanChoice(account, code, version, reset, int(time.time()), consent)
        elif (evidence.account, evidence.plan_code, evidence.version, evidence.reset) != (
            account,
            code,
            version,
            reset,
        ):
            raise ChoiceNotEvidenced(
                f"the evidence given is of another choice than {employee_id}'s {plan_code} "
                f"v{version} (reset {reset}): record the employee's choice as sent"
            )
        self.record_choice(evidence)
        return self.ledger.choosePlan(
            account, code, version, reset, evidence.evidence_hash(), self._tx()
        )

    def record_choice(self, choice: PlanChoice) -> bytes:
        """Keep a choice's evidence under its hash (in the store when there is one)."""
        h = choice.evidence_hash()
        self.choices[h] = choice
        if self.store is not None:
            self.store.put(CHOICE_EVIDENCE_KIND, "0x" + h.hex(), choice.to_json())
        return h

    def choice_of(self, instruction_id: int) -> ChoiceLine:
        """Which recorded choice produced an instruction (its choiceHash on chain)."""
        ins = self.ledger.getInstruction(instruction_id)
        h = b32(ins["choiceHash"])
        choice = self.choices.get(h)
        if choice is None and self.store is not None:
            doc = self.store.get(CHOICE_EVIDENCE_KIND, "0x" + h.hex())
            choice = _choice_from_json(doc) if doc else None
        return ChoiceLine(instruction_id, int(ins["kind"]), h, choice)

    def statement(self, employee_id: str) -> Statement:
        account = self.account_id(employee_id)
        return statement_of(
            employee_id, self.ledger.valuation(account), self.ledger.holdingsOf(account)
        )


def statement_of(employee_id: str, valuation: Sequence[Any], holdings: Sequence[Any]) -> Statement:
    """An employee's statement from AnnuityLedger's `valuation` and `holdingsOf` answers (read
    one at a time or many in a JSON-RPC batch)."""
    invested, cash, contributed, total_return = valuation
    items, units, values = holdings
    return Statement(
        employee_id=employee_id,
        invested=int(invested),
        cash=int(cash),
        contributed=int(contributed),
        total_return=int(total_return),
        holdings=tuple(Holding(b32(i), int(u), int(v)) for i, u, v in zip(items, units, values)),
    )


def contribution_hash(accounts: Sequence[Any], amounts: Sequence[int]) -> bytes:
    """keccak256(abi.encode(accounts, amounts)): a batch's contentHash as AnnuityLedger keeps it."""
    return keccak(encode(["bytes32[]", "uint256[]"], [[b32(a) for a in accounts], list(amounts)]))


def contribution_batches(
    payroll_ref: str, contributions: Mapping[bytes, int], size: int = MAX_BATCH
) -> list[tuple[str, list]]:
    """(outbox key, receiveContributions args) of each batch of a payroll run, `size` accounts per
    batch: the n-th batch's reference is doc_hash("<payroll_ref>#<n>"), its idempotency key. `size`
    must stay the same for a run across restarts (it decides which accounts a key holds)."""
    entries = list(contributions.items())
    return [
        (key_of(ref), [ref, [a for a, _ in chunk], [int(x) for _, x in chunk]])
        for n, chunk in enumerate(chunks(entries, size))
        for ref in [doc_hash(f"{payroll_ref}#{n}")]
    ]


@dataclass
class TrusteePlatform(_Sender):
    """The trustee: plans, contributions, monthly investment of new money, feedback forwarding."""

    institution: Institution
    ledger: Any
    plans: Any
    store: Store = field(default_factory=Store)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.store)
        self.outbox.register_call(
            RECEIVE,
            self.ledger.receiveContributions,
            self._received,
            lambda receipt, a: {
                "batchId": int(receipt.events["ContributionBatchReceived"]["batchId"])
            },
            tx=self._tx,
        )

    @property
    def address(self) -> str:
        return self.institution.address

    def _received(self, args: list) -> Any:
        """The batch booked under the payroll reference, if it holds exactly these contributions."""
        batch_id, block = self.ledger.batchOfRef(args[0])
        found = recorded(block, batchId=int(batch_id))
        if found is not None:
            content = b32(self.ledger.getContributionBatch(batch_id)["contentHash"])
            if content != contribution_hash(args[1], args[2]):
                raise OutboxConflict(
                    f"payroll reference {args[0]} is batch {batch_id} on chain, "
                    "with other contributions"
                )
        return found

    def define_plan(self, plan_code: str, ratios: Mapping[str, int]) -> int:
        """Define the next version of a plan from {item code: basis points}; returns the version."""
        check_ratios(list(ratios.values()))
        tx = self.plans.definePlan(
            code32(plan_code),
            [code32(i) for i in ratios],
            list(ratios.values()),
            self._tx(),
        )
        return int(tx.events["PlanDefined"]["version"])

    def appoint_investment_manager(self, plan_code: str, investment_manager: str) -> Any:
        """Appoint the investment manager of every version of a plan this trustee defined."""
        return self.plans.appointInvestmentManager(
            code32(plan_code), investment_manager, self._tx()
        )

    def latest_version(self, plan_code: str) -> int:
        return int(self.plans.latestVersion(code32(plan_code)))

    def receive_contributions(
        self, payroll_ref: str, contributions: Mapping[bytes, int]
    ) -> list[ContributionBatch]:
        """Record an employer's payroll contributions (chunked at MAX_BATCH accounts per batch),
        each batch once (keyed by its payroll reference); waits for batches sent through a pipe."""
        subs = self.submit_contributions(payroll_ref, contributions)
        self.outbox.collect()
        return [ContributionBatch.booked(s) for s in subs]

    def submit_contributions(
        self, payroll_ref: str, contributions: Mapping[bytes, int]
    ) -> list[Submission]:
        """The batches of `receive_contributions` submitted through the outbox without waiting (a
        pipelined phase): `ContributionBatch.booked(sub)` once the outbox is collected."""
        return [
            self.outbox.submit(RECEIVE, key, args)
            for key, args in contribution_batches(payroll_ref, contributions)
        ]

    def confirm_reset(self, instruction: IssuedInstruction | int) -> Any:
        """Confirm a Reset instruction (the trustee's part of the reset: the investment manager can
        execute it only then)."""
        iid = instruction if isinstance(instruction, int) else instruction.instruction_id
        return self.ledger.confirmReset(iid, self._tx())

    def allocate_cash(self, account_ids: Sequence[bytes]) -> list[IssuedInstruction]:
        """Invest the accounts' new money by their plans (chunked at MAX_ALLOCATION_BATCH); accounts
        the ledger passes over (AllocationSkipped, see `skipped_in`) issue nothing."""
        txs = [
            self.ledger.allocateCash(list(chunk), self._tx())
            for chunk in chunks(list(account_ids), MAX_ALLOCATION_BATCH)
        ]  # every chunk sent before any is read: one phase when the ledger sends through a pipe
        return [ins for tx in txs for ins in instructions_in(tx)]

    def forward_feedback(self, feedback: Feedback) -> Any:
        return self.ledger.forwardFeedback(
            feedback.instruction_id,
            list(feedback.items),
            list(feedback.unit_prices),
            self._tx(),
        )

    def forward_feedbacks(self, feedback: Sequence[Feedback]) -> list[Any]:
        """Forward the feedback in batched calls (`instruction_groups`), all or none per call:
        the transactions, one per group."""
        return [
            self.ledger.forwardFeedbacks(
                [(f.instruction_id, list(f.items), list(f.unit_prices)) for f in group],
                self._tx(),
            )
            for group in instruction_groups(feedback)
        ]


@dataclass
class AccountManagerPlatform(_Sender):
    """The account manager: accounts, asset records, resets of historical holdings."""

    institution: Institution
    ledger: Any
    store: Store = field(default_factory=Store)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.store)
        self.outbox.register_call(
            POST,
            self.ledger.postContributions,
            self._posted,
            lambda receipt, a: {"batchId": int(a[0])},
            tx=self._tx,
        )

    @property
    def address(self) -> str:
        return self.institution.address

    def _posted(self, args: list) -> Any:
        b = self.ledger.getContributionBatch(args[0])
        return recorded(b["postedBlock"], batchId=int(args[0])) if b["posted"] else None

    def open_accounts(self, account_ids: Sequence[bytes]) -> list[Any]:
        return [
            self.ledger.openAccounts(list(chunk), self._tx())
            for chunk in chunks(list(account_ids), MAX_BATCH)
        ]

    def post_contributions(self, batch: ContributionBatch) -> Any:
        """Post a received batch once (keyed by its batch id); the transaction (through a pipe in
        flight until the outbox is collected), or None when the chain had it posted already."""
        args = [batch.batch_id, list(batch.accounts), list(batch.amounts)]
        return self.outbox.submit(POST, key_of(batch.batch_id), args).tx

    def reset_holdings(self, account_id: bytes) -> IssuedInstruction:
        tx = self.ledger.resetHoldings(account_id, self._tx())
        return instructions_in(tx)[0]


@dataclass
class PriceSeries:
    """Unit prices per item per day (18-decimal minor units per unit); the last day repeats."""

    prices: dict[bytes, list[int]] = field(default_factory=dict)
    day: int = 0

    def price(self, item: bytes) -> int:
        series = self.prices.get(item)
        if not series:
            return INITIAL_UNIT_PRICE
        return series[min(self.day, len(series) - 1)]

    def advance(self) -> None:
        self.day += 1


@dataclass
class InvestmentManagerPlatform(_Sender):
    """The investment manager: executes instructions at the day's prices, reports feedback."""

    institution: Institution
    ledger: Any
    series: PriceSeries = field(default_factory=PriceSeries)

    @property
    def address(self) -> str:
        return self.institution.address

    def execute(self, instruction: IssuedInstruction, prices: Sequence[int] | None = None) -> Any:
        """Buy and sell every leg at the day's price of its item (or the given prices)."""
        return self.ledger.executeInstruction(
            instruction.instruction_id,
            list(instruction.items),
            list(instruction.legs),
            self._prices(instruction, prices),
            self._tx(),
        )

    def _prices(self, instruction: IssuedInstruction, prices: Sequence[int] | None) -> list[int]:
        """The given prices, else the day's price of each item."""
        if prices is not None:
            return list(prices)
        return [self.series.price(i) for i in instruction.items]

    def execute_many(
        self, work: Sequence[tuple[IssuedInstruction, Sequence[int] | None]]
    ) -> list[tuple[list[IssuedInstruction], Any]]:
        """`execute` for each (instruction, prices or None) in batched calls (`instruction_groups`),
        all or none per call: each group's instructions with its transaction."""
        out = []
        for group in instruction_groups(work, lambda w: len(w[0].items)):
            executions = [
                (i.instruction_id, list(i.items), list(i.legs), self._prices(i, p))
                for i, p in group
            ]
            tx = self.ledger.executeInstructions(executions, self._tx())
            out.append(([i for i, _ in group], tx))
        return out

    def _feedback(self, instruction: IssuedInstruction, prices: Sequence[int] | None) -> Feedback:
        """The feedback to report: the unit prices and the hash of the report kept off chain."""
        unit_prices = tuple(self._prices(instruction, prices))
        report = doc_hash(f"feedback {instruction.instruction_id}: {list(unit_prices)}")
        return Feedback(instruction.instruction_id, instruction.items, unit_prices, report)

    def report_feedback(
        self, instruction: IssuedInstruction, prices: Sequence[int] | None = None
    ) -> Feedback:
        """Report the items' unit prices after execution (the day's prices unless given)."""
        f = self._feedback(instruction, prices)
        tx = self.ledger.reportFeedback(
            f.instruction_id, list(f.items), list(f.unit_prices), f.report_hash, self._tx()
        )
        return replace(f, tx=tx)

    def report_feedbacks(
        self, work: Sequence[tuple[IssuedInstruction, Sequence[int] | None]]
    ) -> list[Feedback]:
        """`report_feedback` for each (instruction, prices or None) in batched calls
        (`instruction_groups`), all or none per call: each feedback with its group's transaction."""
        out: list[Feedback] = []
        for group in instruction_groups([self._feedback(i, p) for i, p in work]):
            reports = [
                (f.instruction_id, list(f.items), list(f.unit_prices), f.report_hash) for f in group
            ]
            tx = self.ledger.reportFeedbacks(reports, self._tx())
            out += [replace(f, tx=tx) for f in group]
        return out
