"""The enterprise annuity line as four agents, each driven by its own files and the chain's events.

Who starts what (no Python object is shared; each agent reads the chain or its own store):
- ANNUITY_PLATFORM: `enrolments` files -> registers the employer once (its trustee and account
  manager by member address, agent.yaml `addresses:`), keeps the salted register in its store,
  requests the accounts; a plan given at enrolment or in a `plan-choices` file is sent once the
  account is open (AccountOpened, gathered per range of blocks); each settled instruction
  (InstructionSettled, gathered per range) refreshes the employee's statement in
  outbox/statements/. At 10,000 employees nothing goes one by one: the register is one store
  transaction, accounts are read in JSON-RPC batches (`pipe.call_many`) and requests and choices
  are posted through the agent's pipe, each phase closed inside the handler (`in_phases`).
- TRUSTEE: defines the consortium file's annuity plans at start (those not defined yet) and appoints
  the investment manager named in agent.yaml (`annuity: {investment_manager: <id>}`);
  `contributions` files -> receiveContributions, one keyed batch at a time (a run above agent.yaml
  `limits.contribution_max_total` is refused, or with `decisions: {contribution_review: queue}`
  waits for `consortium decide`); a posted batch (ContributionBatchPosted)
  -> allocateCash for its accounts; a reported feedback (FeedbackReported) -> forwardFeedback.
- ACCOUNT_MANAGER: AccountOpeningRequested -> openAccounts (gathered per range of blocks);
  ContributionBatchReceived -> postContributions with the batch read from the trustee's transaction
  on chain (its content hash checked); PlanChosen with a reset -> resetHoldings.
- TRUSTEE: InstructionIssued of a Reset for one of its accounts -> confirmReset (a reset is
  executable only once its trustee confirmed it).
- INVESTMENT_MANAGER: InstructionIssued for a plan it manages (a Reset: once ResetConfirmed) ->
  executeInstruction at its prices
  (agent.yaml `annuity: {prices: {<item id>: <18-decimal price>}}`) -> reportFeedback.

Every handler asks the chain's state first (an account's status, an instruction's status, a batch's
posted flag), so an event replayed after a kill sends nothing twice.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, ClassVar

from consortium.agent.base import FileRefused, Role
from consortium.agent.ranged import Retries, phase_size, send_each
from consortium.agent.settings import SettingsError
from consortium.domain.encoding import b32
from consortium.domain.hashing import code32, doc_hash
from consortium.outbox import OutboxConflict, OutboxRefused
from consortium.roles.annuity import (
    EMPLOYEE_KIND,
    MAX_BATCH,
    RECEIVE,
    AccountManagerPlatform,
    AnnuityServicePlatform,
    ContributionBatch,
    Feedback,
    IssuedInstruction,
    PriceSeries,
    TrusteePlatform,
    chunks,
    contribution_batches,
    contribution_hash,
    instruction_groups,
    statement_of,
)
from consortium.roles.annuity import InvestmentManagerPlatform as _IM
from consortium.txpipe import PHASE_TXS as PHASE
from consortium.txpipe import in_phases

log = logging.getLogger("consortium.agent")

MAX_PRICE = 10**18  # AnnuityLedger.MAX_UNIT_PRICE
NONE, REQUESTED, OPEN = 0, 1, 2  # IAnnuityLedger.AccountStatus
ISSUED, EXECUTED, REPORTED = 1, 2, 3  # IAnnuityLedger.InstructionStatus
AWAITING_TRUSTEE = 5  # IAnnuityLedger.InstructionStatus.AwaitingTrustee (a Reset not confirmed)
RESET = 1  # IAnnuityLedger.InstructionKind.Reset
REVIEW = "contribution_review"  # a payroll run above limits.contribution_max_total
CHOICE_KIND = "annuity.choice"  # plan choices waiting for their account to open
# employee -> the keys of their choices: an account opened finds its choices without reading every
# choice of the day (10,000 accounts x 10,000 choices on the large day)
CHOICES_OF = "annuity.choices-of"
ZERO = "0x" + "00" * 20


def row_line(file: Any, index: int) -> int:
    """The line in the file of row `index`, as the inbox's own refusals name it."""
    return int(file.line_of(index))


def _same(a: str, b: str) -> bool:
    return str(a).lower() == str(b).lower()


class _AnnuityRole(Role):
    @property
    def ledger(self) -> Any:
        return self.agent.suite["AnnuityLedger"]

    @property
    def plans(self) -> Any:
        return self.agent.suite["AnnuityPlans"]

    @property
    def me(self) -> str:
        return self.agent.account.address

    def employers_of(self, accounts: list[bytes]) -> list[tuple[Any, Any]]:
        """(employer, account) as on chain for each account, read in JSON-RPC batches, each
        employer once: a range's items are checked in a few round trips, not three reads each."""
        pipe = self.agent.pipe
        found = pipe.call_many(self.ledger, "getAccount", [(a,) for a in accounts])
        ids = list(dict.fromkeys(int(a["employer"]) for a in found))
        employers = dict(zip(ids, pipe.call_many(self.ledger, "getEmployer", [(e,) for e in ids])))
        return [(employers[int(a["employer"])], a) for a in found]


class AnnuityPlatformRole(_AnnuityRole):
    role = "ANNUITY_PLATFORM"
    formats = ("enrolments", "plan-choices")
    events: ClassVar[dict[str, str]] = {
        "AccountOpened": "on_opened",
        "InstructionSettled": "on_settled",
    }

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.platform = AnnuityServicePlatform(
            agent.institution, self.ledger, self.plans, store=agent.store
        )
        self._piped: AnnuityServicePlatform | None = None
        self._opened: list[str] = []  # employees whose AccountOpened this range dispatched
        self._settled: dict[str, int] = {}  # employee -> last block of its InstructionSettled
        agent.follower.after_range(self.flush_choices)
        agent.follower.after_range(self.flush_statements)

    def handle_file(self, file: Any) -> dict[str, Any]:
        if file.format == "enrolments":
            return self.enrol(file)
        return self.choose(file)

    # ---------------------------------------------------------------- enrolments
    def enrol(self, file: Any) -> dict[str, Any]:
        """Every row checked before anything is stored or sent (a refused file leaves nothing),
        then per employer: registered once, the register kept (one store transaction), the
        accounts' states read in JSON-RPC batches, the missing accounts requested through the
        agent's pipe (MAX_BATCH accounts a transaction, PHASE transactions a phase)."""
        self._check_enrolments(file)
        requested = 0
        by_employer: dict[str, list[tuple[int, dict]]] = {}
        for n, row in enumerate(file.rows):
            by_employer.setdefault(row["employer_ref"], []).append((n, row))
        pipe = self.agent.pipe
        for ref, rows in by_employer.items():
            self.platform.employer = self._employer(ref, rows[0][1], file)
            fresh = self._registered(file, [row["employee_id"] for _, row in rows])
            states = pipe.call_many(self.ledger, "getAccount", [(a,) for a in fresh])
            missing = [a for a, x in zip(fresh, states) if int(x["status"]) == NONE]
            log.info("enrolment of %s: %d accounts to request", ref, len(missing))
            self._request(missing)
            requested += len(missing)
            choices = [(row["employee_id"], row["plan_code"]) for _, row in rows]
            self._queue_choices(file, [(e, p, None, False) for e, p in choices if p])
        self._write_accounts(file)
        return {"employees": len(file.rows), "accounts_requested": requested}

    def _request(self, accounts: list[bytes]) -> None:
        """requestAccounts under the current employer through the agent's pipe, in phases."""
        pipe, employer = self.agent.pipe, self.platform.employer
        ledger = pipe.piped(self.ledger)
        in_phases(
            pipe,
            list(chunks(accounts, MAX_BATCH)),
            lambda c: ledger.requestAccounts(employer, c, self.agent.tx()),
        )

    def _write_accounts(self, file: Any) -> None:
        """outbox/accounts/<file>.csv: each enrolled employee's account id, for the employer's
        payroll (the trustee's contributions name accounts, never employees' salts)."""
        lines = ["employee_id,account_id"] + [
            f"{r['employee_id']},0x{self.platform.account_id(r['employee_id']).hex()}"
            for r in file.rows
        ]
        self.agent.write_output("accounts", f"{file.path.stem}.csv", "\n".join(lines) + "\n")

    def _employer(self, ref: str, row: dict, file: Any) -> int:
        """The employer id of `ref`: from the store, else from the chain (registered by an earlier
        process that died before storing it), else registered now."""
        known = self.platform.employer_of(ref)
        if known is not None:
            return known
        trustee = self._address(row["trustee"])
        manager = self._address(row["account_manager"])
        found = self._employer_on_chain(ref)
        if found is not None:
            self.agent.store.put("annuity.employer", ref, {"employer": found})
            return found
        log.info("registering employer %s", ref)
        return self.platform.register_employer(ref, trustee, manager)

    def _employer_on_chain(self, ref: str) -> int | None:
        for n in range(1, int(self.ledger.employerCount()) + 1):
            e = self.ledger.getEmployer(n)
            if _same(e["platform"], self.me) and self._registered_ref(n) == doc_hash(ref):
                return n
        return None

    def _registered_ref(self, employer: int) -> bytes | None:
        for ev in self.agent.events_of(self.ledger, "EmployerRegistered"):
            if int(ev["employerId"]) == employer:
                return b32(ev["employerRef"])
        return None

    def _address(self, ident: str, line: int = 0) -> str:
        address = self.agent.settings.addresses.get(ident)
        if address is None:
            raise FileRefused(
                line,
                f"no member address for {ident!r}: add it under 'addresses:' in agent.yaml",
            )
        return address

    def _check_enrolments(self, file: Any) -> None:
        register = self.agent.store.all(EMPLOYEE_KIND)  # one read, not one per row
        for n, row in enumerate(file.rows):
            for ident in (row["trustee"], row["account_manager"]):
                self._address(ident, row_line(file, n))
            entry = register.get(row["employee_id"])
            if entry is not None and entry.get("source") != file.sha256:
                raise FileRefused(
                    row_line(file, n),
                    f"employee {row['employee_id']!r} is enrolled already (by an earlier file); "
                    f"nothing of this file was sent",
                )

    def _registered(self, file: Any, employees: list[str]) -> list[bytes]:
        """The employees' account ids: registered now (one store transaction), or by this same
        file before a restart."""
        new = [e for e in employees if e not in self.platform.accounts]
        self.platform.register_many(new, source=file.sha256)
        return [self.platform.account_id(e) for e in employees]

    # ---------------------------------------------------------------- plan choices
    def choose(self, file: Any) -> dict[str, Any]:
        for n, row in enumerate(file.rows):
            if row["employee_id"] not in self.platform.accounts:
                raise FileRefused(
                    row_line(file, n),
                    f"employee {row['employee_id']!r} is not enrolled here; enrol them first",
                )
        rows = [
            (r["employee_id"], r["plan_code"], r.get("version"), bool(r.get("reset")))
            for r in file.rows
        ]
        sent = self._queue_choices(file, rows)
        return {
            "choices": len(file.rows),
            "sent": sent,
            "waiting_for_account": len(file.rows) - sent,
        }

    def _queue_choices(self, file: Any, rows: list[tuple[str, str, Any, bool]]) -> int:
        """Keep each (employee, plan, version, reset) of the file as a waiting choice (once: a
        retried file finds its keys) and send those whose account is open; how many are sent."""
        store = self.agent.store
        keys = [f"{file.sha256}:{emp}" for emp, *_ in rows]
        known = store.all(CHOICE_KIND)
        new = [(k, r) for k, r in zip(keys, rows) if k not in known]
        if new:
            # the index first: a kill between the two leaves a key without its choice (skipped)
            index = store.all(CHOICES_OF)
            of: dict[str, set[str]] = {}
            for key, (emp, *_) in new:
                of.setdefault(emp, set(index.get(emp, {"keys": []})["keys"])).add(key)
            store.put_many(CHOICES_OF, {e: {"keys": sorted(ks)} for e, ks in of.items()})
            store.put_many(
                CHOICE_KIND,
                {
                    key: {
                        "employee": emp,
                        "plan": plan,
                        "version": version,
                        "reset": reset,
                        "status": "waiting",
                    }
                    for key, (emp, plan, version, reset) in new
                },
            )
        return self._apply_choices(keys)

    def _apply_choices(self, keys: list[str]) -> int:
        """Send the stored choices whose account is open (the accounts read in JSON-RPC batches,
        the choices sent through the agent's pipe, PHASE a phase); how many are sent (now or
        before). Each is marked "sending" before its phase and "sent" after: a kill in between
        finds on chain the choices that landed and sends only the others."""
        store = self.agent.store
        choices = store.get_many(CHOICE_KIND, list(dict.fromkeys(keys)))
        sent = sum(c["status"] == "sent" for c in choices.values())
        todo = [(k, c) for k, c in choices.items() if c["status"] != "sent"]
        pipe = self.agent.pipe
        accounts = [self.platform.account_id(c["employee"]) for _, c in todo]
        states = pipe.call_many(self.ledger, "getAccount", [(a,) for a in accounts])
        latest: dict[bytes, int] = {}
        to_send, landed = [], {}
        for (key, c), a in zip(todo, states):
            if int(a["status"]) != OPEN:
                continue
            code = code32(c["plan"])
            if not c["version"] and code not in latest:
                latest[code] = int(self.plans.latestVersion(code))
            version = c["version"] or latest[code]
            done = b32(a["planCode"]) == code and int(a["planVersion"]) == version
            chosen = c | {"status": "sent", "version": version}
            if done and c["status"] == "sending":  # a kill after the send: it landed
                landed[key] = chosen
            else:
                to_send.append((key, c, version))
        store.put_many(CHOICE_KIND, landed)
        platform = self._piped_platform()
        for start in range(0, len(to_send), PHASE):
            part = to_send[start : start + PHASE]
            store.put_many(CHOICE_KIND, {k: c | {"status": "sending"} for k, c, _ in part})
            for key, c, version in part:
                log.info("plan %s v%s for %s", c["plan"], version, key.split(":")[1])
                # the platform attests the choice; the employee's consent is the row of the
                # plan-choices file it sent (file hash and employee)
                consent = doc_hash(f"plan-choices {key}")
                platform.choose_plan(
                    c["employee"], c["plan"], version, c["reset"], consent_ref=consent
                )
            pipe.wait()
            store.put_many(
                CHOICE_KIND, {k: c | {"status": "sent", "version": v} for k, c, v in part}
            )
        return sent + len(landed) + len(to_send)

    def _piped_platform(self) -> AnnuityServicePlatform:
        """The platform sending through the agent's pipe (made once: a copy shares its register
        and its evidence with `self.platform`)."""
        if self._piped is None:
            self._piped = self.agent.pipe.piped(self.platform)
        return self._piped

    def on_opened(self, ev: Any) -> None:
        """An opened account's waiting choices are sent after the range (`flush_choices`): the
        range's thousands of openings become a few phases of choices, not one wait each."""
        emp = self.platform.employee_of(b32(ev["account"]))
        if emp is not None:
            self._opened.append(emp)

    def flush_choices(self) -> None:
        """Send the waiting choices of the range's opened accounts; before the cursor moves, so a
        kill replays the range and sends what is still unsent."""
        opened, self._opened = list(dict.fromkeys(self._opened)), []
        if not opened:
            return
        index = self.agent.store.all(CHOICES_OF)
        keys = [k for emp in opened for k in index.get(emp, {"keys": []})["keys"]]
        self._apply_choices(keys)

    # ---------------------------------------------------------------- statements
    def on_settled(self, ev: Any) -> None:
        """The employee's statement is refreshed after the range (`flush_statements`)."""
        emp = self.platform.employee_of(b32(ev["account"]))
        if emp is not None:
            self._settled[emp] = max(self._settled.get(emp, 0), ev.block)

    def flush_statements(self) -> None:
        """outbox/statements/<employee>.json of every employee settled in the range, their
        valuations and holdings read in JSON-RPC batches (two reads each, one round trip per
        CALL_BATCH employees instead of two per settlement)."""
        settled, self._settled = self._settled, {}
        if not settled:
            return
        pipe, employees = self.agent.pipe, list(settled)
        args = [(self.platform.account_id(e),) for e in employees]
        valuations = pipe.call_many(self.ledger, "valuation", args)
        holdings = pipe.call_many(self.ledger, "holdingsOf", args)
        for emp, value, held in zip(employees, valuations, holdings):
            s = statement_of(emp, value, held)
            body = {
                "employee_id": emp,
                "invested": s.invested,
                "cash": s.cash,
                "contributed": s.contributed,
                "total_return": s.total_return,
                "total": s.total,
                "holdings": [
                    {"item": "0x" + h.item.hex(), "units": str(h.units), "value": h.value}
                    for h in s.holdings
                ],
                "as_of_block": settled[emp],
            }
            self.agent.write_output("statements", f"{emp}.json", json.dumps(body, indent=2))


class TrusteeRole(_AnnuityRole):
    role = "TRUSTEE"
    formats = ("contributions",)
    decisions = (REVIEW,)
    events: ClassVar[dict[str, str]] = {
        "ContributionBatchPosted": "on_posted",
        "InstructionIssued": "on_issued",
        "FeedbackReported": "on_feedback",
    }

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.trustee = TrusteePlatform(agent.institution, self.ledger, self.plans, agent.store)
        self.batch_size = int(agent.settings.line("annuity").get("batch_size", MAX_BATCH))
        self._feedback: list[dict[str, Any]] = []  # the range's reported feedback to forward
        self._resets: list[IssuedInstruction] = []  # the range's resets to confirm
        self._retries = Retries(agent.store, "annuity.forward-failed")
        self._reset_retries = Retries(agent.store, "annuity.confirm-failed")
        agent.follower.after_range(self.flush_resets)
        agent.follower.after_range(self.flush_feedback)

    def start(self) -> None:
        """Book what an earlier process sent, then define the consortium's plans not defined yet."""
        self.trustee.outbox.resume()
        manager = self.agent.settings.line("annuity").get("investment_manager")
        im = self.agent.settings.addresses.get(manager) if manager else None
        for plan in self.agent.consortium.products.get("annuity_plans") or []:
            code = code32(str(plan["id"]))
            if int(self.plans.latestVersion(code)) == 0:
                log.info("defining plan %s", plan["id"])
                self.trustee.define_plan(str(plan["id"]), dict(plan["items"]))
            owner = self.plans.trusteeOf(code)
            if im and _same(owner, self.me) and _same(self.plans.investmentManagerOf(code), ZERO):
                self.trustee.appoint_investment_manager(str(plan["id"]), im)

    def handle_file(self, file: Any) -> dict[str, Any]:
        """Book each payroll run of the file; a run above `limits.contribution_max_total` is queued
        for a person (decisions.contribution_review: queue) or refused (auto, the default)."""
        runs, first_line = self._runs(file)
        limit = self.agent.settings.limits.get("contribution_max_total")
        batches, queued = [], []
        for ref, contributions in runs.items():
            total = sum(contributions.values())
            if limit is not None and total > limit:
                if self.agent.settings.decision_mode(REVIEW) != "queue":
                    raise FileRefused(
                        first_line[ref],
                        f"payroll {ref} totals {total:,}, above the limit {limit:,} "
                        f"(limits.contribution_max_total); nothing was sent",
                    )
                queued.append(self._queue_review(file, ref, contributions, total, limit))
                continue
            batches += self._send_run(ref, contributions)
        return {"payroll_runs": len(runs), "batches": batches, "queued_for_review": queued}

    def _runs(self, file: Any) -> tuple[dict[str, dict[bytes, int]], dict[str, int]]:
        """{payroll ref: {account: amount}} and each run's first line."""
        runs: dict[str, dict[bytes, int]] = {}
        first_line: dict[str, int] = {}
        for n, row in enumerate(file.rows):
            if not row.get("account_id"):
                raise FileRefused(
                    row_line(file, n),
                    "account_id is empty: give the employee's account id (the platform's "
                    "outbox/accounts list shows it)",
                )
            run = runs.setdefault(row["payroll_ref"], {})
            first_line.setdefault(row["payroll_ref"], row_line(file, n))
            run[b32(row["account_id"])] = run.get(b32(row["account_id"]), 0) + row["amount"]
        return runs, first_line

    def _queue_review(
        self, file: Any, ref: str, contributions: dict[bytes, int], total: int, limit: int
    ) -> str:
        item = "payroll-" + re.sub(r"[^0-9A-Za-z_.-]", "_", ref)
        log.info("payroll %s (%s) queued for review: %s above %s", ref, item, total, limit)
        self.agent.decisions.queue(
            REVIEW,
            item,
            {
                "payroll_ref": ref,
                "file": file.name,
                "total": total,
                "limit": limit,
                "contributions": [["0x" + a.hex(), v] for a, v in contributions.items()],
            },
        )
        return item

    def _send_run(self, ref: str, contributions: dict[bytes, int]) -> list[int]:
        """One payroll run on chain, one keyed batch at a time; the batch ids."""
        batches = []
        work = contribution_batches(ref, contributions, self.batch_size)
        for k, (key, args) in enumerate(work):
            log.info("contribution batch %d/%d of %s start", k + 1, len(work), ref)
            try:
                booking = self.trustee.outbox.send(RECEIVE, key, args)
            except (OutboxRefused, OutboxConflict) as exc:
                raise FileRefused(0, f"payroll {ref} batch {k + 1}: {exc}") from None
            except Exception as exc:
                if getattr(exc, "revert_msg", None) is None:
                    raise
                raise FileRefused(0, f"payroll {ref} batch {k + 1}: {exc.revert_msg}") from None
            log.info("contribution batch %d/%d of %s booked", k + 1, len(work), ref)
            batches.append(int(booking.value["batchId"]))
        return batches

    def on_decision(self, decision: Any) -> None:
        """A person's answer to a payroll review: accepted runs go on chain, rejected ones never."""
        ref = decision.subject["payroll_ref"]
        outcome: dict[str, Any] = {"item": decision.item, "answer": decision.answer}
        if decision.accepted:
            contributions = {b32(a): int(v) for a, v in decision.subject["contributions"]}
            try:
                outcome["batches"] = self._send_run(ref, contributions)
            except FileRefused as exc:
                log.error("payroll %s accepted but refused on chain: %s", ref, exc.reason)
                outcome["refused"] = exc.reason
        log.info("payroll %s: %s (%s)", ref, decision.answer, decision.reason)
        self.agent.write_output(
            "decisions", f"{decision.item}.outcome.json", json.dumps(outcome, indent=2)
        )

    def on_posted(self, ev: Any) -> None:
        batch_id = int(ev["batchId"])
        step = f"annuity.allocate:{batch_id}"
        if self.agent.store.done(step):
            return
        mine = [
            r
            for r in self.agent.store.intents("booked", [RECEIVE])
            if int(r["booking"]["value"]["batchId"]) == batch_id
        ]
        if not mine:
            return  # another trustee's batch
        accounts = [b32(a) for a in mine[0]["args"][1]]
        log.info("allocating cash of batch %d (%d accounts)", batch_id, len(accounts))
        # every chunk posted through the agent's pipe, the phase closed when the first result is
        # read (allocate_cash reads the instructions only after sending them all)
        issued = self.agent.pipe.piped(self.trustee).allocate_cash(accounts)
        self.agent.store.mark(step, json.dumps([i.instruction_id for i in issued]))

    def on_issued(self, ev: Any) -> None:
        """Keep the instruction's items (for its feedback); a Reset is confirmed after the range
        (`flush_resets`)."""
        ins = IssuedInstruction.from_event(ev.args)
        self.agent.store.put(
            "annuity.instruction", str(ins.instruction_id), {"items": [i.hex() for i in ins.items]}
        )
        if ins.kind == RESET:
            self._resets.append(ins)

    def flush_resets(self) -> None:
        """Confirm the range's Resets of this trustee's accounts still awaiting it on chain (the
        trustee's part of a reset: the investment manager executes it only then), read in JSON-RPC
        batches and posted through the agent's pipe; one that fails is retried on the next ranges.
        One by one, the switches' resets held the next payroll back a second each."""
        todo = self._resets + [IssuedInstruction.from_event(d) for d in self._reset_retries.due()]
        self._resets = []
        todo = list({i.instruction_id: i for i in todo}.values())
        if not todo:
            return
        pipe = self.agent.pipe
        states = pipe.call_many(self.ledger, "getInstruction", [(i.instruction_id,) for i in todo])
        todo = [i for i, st in zip(todo, states) if int(st["status"]) == AWAITING_TRUSTEE]
        owners = self.employers_of([i.account_id for i in todo])
        ours = [i for i, (e, _) in zip(todo, owners) if _same(e["trustee"], self.me)]
        ledger = pipe.piped(self.ledger)

        def confirm(ins: IssuedInstruction) -> list[Any]:
            log.info("confirming reset instruction %d", ins.instruction_id)
            return [ledger.confirmReset(ins.instruction_id, self.agent.tx())]

        for ins, error in send_each(pipe, ours, confirm, phase_size(self.agent)):
            self._reset_retries.settle(str(ins.instruction_id), _instruction_doc(ins), error)

    def on_feedback(self, ev: Any) -> None:
        """A reported feedback is forwarded after the range (`flush_feedback`)."""
        self._feedback.append(
            {
                "instructionId": int(ev["instructionId"]),
                "account": "0x" + b32(ev["account"]).hex(),
                "unitPrices": [int(p) for p in ev["unitPrices"]],
            }
        )

    def flush_feedback(self) -> None:
        """Forward the range's feedback of our employers' instructions still REPORTED on chain:
        instructions, accounts and employers read in JSON-RPC batches, the forwards sent in batched
        calls (`instruction_groups`, all or none per call) through the agent's pipe. A feedback
        whose call failed is retried on the next ranges in a call of its own: a refused one then
        fails alone (the others of its first call wait a range)."""
        fresh, retried = self._feedback, self._retries.due()
        self._feedback = []
        todo = list({int(f["instructionId"]): f for f in fresh + retried}.values())
        if not todo:
            return
        alone = {int(f["instructionId"]) for f in retried}
        pipe = self.agent.pipe
        states = pipe.call_many(
            self.ledger, "getInstruction", [(f["instructionId"],) for f in todo]
        )
        todo = [f for f, st in zip(todo, states) if int(st["status"]) == REPORTED]
        owners = self.employers_of([b32(f["account"]) for f in todo])
        ours = [f for f, (e, _) in zip(todo, owners) if _same(e["trustee"], self.me)]
        trustee = pipe.piped(self.trustee)
        kept = {}  # instruction id -> its feedback as forwarded (the items kept at its issue)
        for f in ours:
            iid = int(f["instructionId"])
            row = self.agent.store.get("annuity.instruction", str(iid))
            if row is None:  # built here, not while sending: one missing row fails no call
                self._retries.settle(str(iid), f, f"no items kept for instruction {iid}")
                continue
            items = tuple(bytes.fromhex(i) for i in row["items"])
            kept[iid] = Feedback(iid, items, tuple(f["unitPrices"]), b"")

        def forward(group: list[Feedback]) -> list[Any]:
            log.info("forwarding feedback of instruction(s) %s", _ids(group))
            return trustee.forward_feedbacks(group)

        groups = instruction_groups([f for i, f in kept.items() if i not in alone])
        groups += [[f] for i, f in kept.items() if i in alone]
        by_id = {int(f["instructionId"]): f for f in ours}
        for group, error in send_each(pipe, groups, forward, phase_size(self.agent)):
            for f in group:
                self._retries.settle(str(f.instruction_id), by_id[f.instruction_id], error)


class AccountManagerRole(_AnnuityRole):
    role = "ACCOUNT_MANAGER"
    events: ClassVar[dict[str, str]] = {
        "AccountOpeningRequested": "on_requested",
        "ContributionBatchReceived": "on_received",
        "PlanChosen": "on_plan_chosen",
    }

    def __init__(self, agent: Any):
        super().__init__(agent)
        self.manager = AccountManagerPlatform(agent.institution, self.ledger, agent.store)
        self._to_open: list[bytes] = []
        self._to_reset: list[bytes] = []  # accounts whose plan switch asked for a reset
        self._employers: dict[int, bool] = {}
        self._retries = Retries(agent.store, "annuity.reset-failed")
        agent.follower.after_range(self.flush)
        agent.follower.after_range(self.flush_resets)

    def start(self) -> None:
        self.manager.outbox.resume()

    def _mine(self, employer: int) -> bool:
        if employer not in self._employers:
            e = self.ledger.getEmployer(employer)
            self._employers[employer] = _same(e["accountManager"], self.me)
        return self._employers[employer]

    def on_requested(self, ev: Any) -> None:
        if self._mine(int(ev["employerId"])):
            self._to_open.append(b32(ev["account"]))

    def flush(self) -> None:
        """Open the range's requested accounts still requested on chain (their states read in
        JSON-RPC batches), MAX_BATCH accounts a transaction, sent through the agent's pipe."""
        todo, self._to_open = self._to_open, []
        pipe = self.agent.pipe
        states = pipe.call_many(self.ledger, "getAccount", [(a,) for a in todo])
        todo = [a for a, x in zip(todo, states) if int(x["status"]) == REQUESTED]
        if todo:
            log.info("opening %d accounts", len(todo))
            ledger = pipe.piped(self.ledger)
            in_phases(
                pipe,
                list(chunks(todo, MAX_BATCH)),
                lambda c: ledger.openAccounts(c, self.agent.tx()),
            )

    def on_received(self, ev: Any) -> None:
        batch_id = int(ev["batchId"])
        ref, accounts, amounts = self._batch_calldata(ev.tx_hash)
        if not accounts or not self._mine(int(self.ledger.getAccount(accounts[0])["employer"])):
            return
        onchain = self.ledger.getContributionBatch(batch_id)
        if b32(onchain["contentHash"]) != contribution_hash(accounts, amounts):
            log.error(
                "batch %d: the transaction's content is not the batch's; not posted", batch_id
            )
            return
        log.info("posting batch %d (%d accounts)", batch_id, len(accounts))
        batch = ContributionBatch(batch_id, ref, tuple(accounts), tuple(amounts))
        tx = self.manager.post_contributions(batch)
        if tx is not None and not getattr(tx, "collected", True):
            self.manager.outbox.collect()

    def _batch_calldata(self, tx_hash: str) -> tuple[bytes, list[bytes], list[int]]:
        """The receiveContributions arguments of the trustee's transaction, read from the chain."""
        tx = self.agent.w3.eth.get_transaction(tx_hash)
        data = tx["input"]
        data = data if isinstance(data, str) else "0x" + bytes(data).hex()
        name, args = self.ledger.decode_input(data)
        if not name.startswith("receiveContributions"):
            return b"", [], []
        return b32(args[0]), [b32(a) for a in args[1]], [int(x) for x in args[2]]

    def on_plan_chosen(self, ev: Any) -> None:
        """A switch with a reset: the holdings are reset after the range (`flush_resets`)."""
        if ev["reset"]:
            self._to_reset.append(b32(ev["account"]))

    def flush_resets(self) -> None:
        """Reset the holdings of the range's accounts of our employers still pending a reset on
        chain (read in JSON-RPC batches), posted through the agent's pipe; one that fails is
        retried on the next ranges."""
        todo = self._to_reset + [b32(d["account"]) for d in self._retries.due()]
        self._to_reset = []
        todo = list(dict.fromkeys(todo))
        if not todo:
            return
        pipe = self.agent.pipe
        owners = self.employers_of(todo)
        todo = [
            a
            for a, (e, x) in zip(todo, owners)
            if x["resetPending"] and _same(e["accountManager"], self.me)
        ]
        ledger = pipe.piped(self.ledger)

        def reset(account: bytes) -> list[Any]:
            log.info("resetting holdings of %s", "0x" + account.hex())
            return [ledger.resetHoldings(account, self.agent.tx())]

        for account, error in send_each(pipe, todo, reset, phase_size(self.agent)):
            key = "0x" + account.hex()
            self._retries.settle(key, {"account": key}, error)


class InvestmentManagerRole(_AnnuityRole):
    role = "INVESTMENT_MANAGER"
    events: ClassVar[dict[str, str]] = {
        "InstructionIssued": "on_issued",
        "ResetConfirmed": "on_confirmed",
    }

    def __init__(self, agent: Any):
        super().__init__(agent)
        prices = agent.settings.line("annuity").get("prices") or {}
        for item, price in prices.items():
            if isinstance(price, bool) or not isinstance(price, int) or not 0 < price <= MAX_PRICE:
                raise SettingsError(
                    f"{agent.settings.home / 'agent.yaml'}: annuity.prices.{item} must be a whole "
                    f"number 1 .. {MAX_PRICE} (minor units per 1e18 units), got {price!r}"
                )
        series = PriceSeries({code32(str(i)): [int(p)] for i, p in prices.items()})
        self.im = _IM(agent.institution, self.ledger, series)
        self._piped: _IM | None = None
        self._todo: list[IssuedInstruction] = []  # the range's instructions to execute
        self._managers: dict[bytes, bool] = {}  # plan code -> managed by us (this range)
        self._retries = Retries(agent.store, "annuity.execute-failed")
        agent.follower.after_range(self.flush)

    def on_issued(self, ev: Any) -> None:
        """Keep an instruction of a plan we manage; it is executed after the range (`flush`)."""
        ins = IssuedInstruction.from_event(ev.args)
        code = ins.plan_code
        if code not in self._managers:  # one read per plan, not one per instruction
            self._managers[code] = _same(self.plans.investmentManagerOf(code), self.me)
        if not self._managers[code]:
            return
        self.agent.store.put("annuity.issued", str(ins.instruction_id), _instruction_doc(ins))
        self._todo.append(ins)

    def on_confirmed(self, ev: Any) -> None:
        """A reset the trustee confirmed: executed after the range (its InstructionIssued was
        kept)."""
        args = self.agent.store.get("annuity.issued", str(int(ev["instructionId"])))
        if args is not None:
            self._todo.append(IssuedInstruction.from_event(args))

    def flush(self) -> None:
        """Execute the range's instructions and report their feedback (a reset still awaiting the
        trustee waits for its ResetConfirmed): statuses read in JSON-RPC batches, each step sent
        in batched calls (`instruction_groups`, all or none per call) through the agent's pipe.
        An instruction whose call failed is retried on the next ranges (`Retries`) in a call of
        its own: one the chain refuses then fails alone (the others of its first call wait a
        range)."""
        fresh = list(self._todo)
        retried = [IssuedInstruction.from_event(d) for d in self._retries.due()]
        self._todo, self._managers = [], {}
        todo = list({i.instruction_id: i for i in fresh + retried}.values())
        if not todo:
            return
        states = self.agent.pipe.call_many(
            self.ledger, "getInstruction", [(i.instruction_id,) for i in todo]
        )
        status = {i.instruction_id: int(st["status"]) for i, st in zip(todo, states)}
        alone = {i.instruction_id for i in retried}
        im, pipe = self._piped_im(), self.agent.pipe
        errors: dict[int, str | None] = {i.instruction_id: None for i in todo}

        def send(step: Any, due: list[IssuedInstruction]) -> None:
            """`step` for `due` in groups (each retried instruction alone), a failed call's
            error on each of its instructions."""
            groups = instruction_groups([i for i in due if i.instruction_id not in alone])
            groups += [[i] for i in due if i.instruction_id in alone]
            for group, error in send_each(pipe, groups, step, phase_size(self.agent)):
                for ins in group:
                    errors[ins.instruction_id] = error

        def execute(group: list[IssuedInstruction]) -> list[Any]:
            log.info("executing instruction(s) %s", _ids(group))
            return [tx for _, tx in im.execute_many([(i, None) for i in group])]

        def report(group: list[IssuedInstruction]) -> list[Any]:
            log.info("reporting feedback of instruction(s) %s", _ids(group))
            feedback = im.report_feedbacks([(i, None) for i in group])
            return list({id(f.tx): f.tx for f in feedback}.values())  # one call per group

        # two steps, not one: a report depends on its execution
        send(execute, [i for i in todo if status[i.instruction_id] == ISSUED])
        send(
            report,
            [
                i
                for i in todo
                if status[i.instruction_id] == EXECUTED
                or (status[i.instruction_id] == ISSUED and errors[i.instruction_id] is None)
            ],
        )
        for ins in todo:
            self._retries.settle(
                str(ins.instruction_id), _instruction_doc(ins), errors[ins.instruction_id]
            )

    def _piped_im(self) -> _IM:
        if self._piped is None:
            self._piped = self.agent.pipe.piped(self.im)
        return self._piped


def _ids(group: list) -> str:
    """The instruction ids of a batched call (instructions or feedback), for the log."""
    return ", ".join(str(i.instruction_id) for i in group)


def _instruction_doc(ins: IssuedInstruction) -> dict[str, Any]:
    """An instruction as its InstructionIssued event's arguments, in JSON form (kept by the
    investment manager until the trustee confirms a reset)."""
    return {
        "instructionId": ins.instruction_id,
        "account": "0x" + ins.account_id.hex(),
        "kind": ins.kind,
        "planCode": "0x" + ins.plan_code.hex(),
        "planVersion": ins.plan_version,
        "amount": ins.amount,
        "items": ["0x" + i.hex() for i in ins.items],
        "legs": list(ins.legs),
        "sellOutMask": ins.sell_out,
    }


ANNUITY_ROLES = [AnnuityPlatformRole, TrusteeRole, AccountManagerRole, InvestmentManagerRole]
