"""The Agent: one institution's process, driving every role it holds from chain events and files.

Why one base: each institution, whatever its roles, needs the same things — its key (unlocked once
from its keystore, in memory only), its own store and outbox, the chain followed from a persisted
cursor, its inbox of business files, the decisions its people answer, its transport endpoint — and
the same loop: follow chain -> poll inbox -> act on decisions -> periodic work. A role (agent/lines)
only says which files, events and decisions it handles.

Stopping: SIGTERM/SIGINT set a flag the loop checks between steps; the step in flight (a file, an
event, a batch) finishes and is booked, then the agent exits 0. A SIGKILL loses nothing either:
every keyed batch goes through the outbox (intent before, booking after, the chain asked on resume),
every handler asks the chain's state before it sends, and the inbox journals each file's sha256.
"""

from __future__ import annotations

import hashlib
import logging
import re
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from consortium.agent.decisions import Decision, Decisions
from consortium.agent.follower import Follower, topics_of
from consortium.agent.home import AgentHome
from consortium.agent.settings import AgentSettings, SettingsError
from consortium.channels import Endpoint
from consortium.inputs import CommandError
from consortium.store import Store

if TYPE_CHECKING:
    from consortium.config import Consortium, InstitutionSpec

log = logging.getLogger("consortium.agent")
MAX_FILE_ATTEMPTS = 5  # a file failing for an unexpected reason, retried in this process
IDLE_SECONDS = 1.0  # the longest wait between two loops while nothing moves (see Agent.next_wait)


class NoRoleHere(CommandError):
    """The institution holds no role any agent line drives."""


class UnknownInstitution(CommandError):
    """agent.yaml names an institution the consortium file does not have."""


class FileRefused(Exception):
    """A role refuses an inbox file found valid by its format (e.g. the chain's state says no): the
    file goes to rejected/ with this line and reason, nothing of it is sent."""

    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line, self.reason = line, reason


class Role:
    """One business role of an agent. Subclasses declare what they handle:

    role       the registry role name (TRUSTEE …) an institution must hold to run this
    formats    inbox formats this role processes (`handle_file`)
    events     {event name: method name} reacted to (each handler must be idempotent)
    decisions  decision kinds this role queues (`on_decision` acts on their answers)
    first      its files go before the agent's other ready files (see `Agent.step`)
    """

    role: ClassVar[str] = ""
    formats: ClassVar[tuple[str, ...]] = ()
    events: ClassVar[dict[str, str]] = {}
    decisions: ClassVar[tuple[str, ...]] = ()
    # files others wait for (issuing money or securities): taken before the agent's other ready
    # files, which keep their arrival order
    first: ClassVar[bool] = False

    def __init__(self, agent: Agent):
        self.agent = agent

    def start(self) -> None:
        """Resume what an earlier process left unfinished (outboxes).
        Called once before the loop."""

    def handle_file(self, file: Any) -> dict[str, Any]:
        """Process one inbox file; the result dict goes to done/<file>.result.json."""
        raise NotImplementedError

    def on_decision(self, decision: Decision) -> None:
        """Act on an answered decision (once: the agent books it as acted afterwards)."""

    def tick(self) -> None:
        """Periodic work each loop (e.g. a retry)."""


@dataclass
class Connected:
    """What connecting gave: the suite, the brownie account, web3 and the log decoder."""

    suite: Any
    account: Any
    w3: Any
    decode: Any


class Agent:
    """One institution's agent over its home; `run()` is the process's life."""

    def __init__(self, settings: AgentSettings, role_classes: Iterable[type[Role]]):
        """`role_classes`: every role the runtime knows (consortium.agent.lines.ROLE_CLASSES); the
        agent drives those its institution holds."""
        from consortium.config import load_consortium

        self.settings = settings
        self.home = AgentHome(settings.home)
        self.consortium: Consortium = load_consortium(settings.consortium)
        self.spec: InstitutionSpec = self._spec()
        self.home.make_folders()
        self.store = Store(settings.store_url)
        self.decisions = Decisions(self.store, self.home.outbox)
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by a stop or an arriving message: loop at once
        self._file_failures: dict[str, int] = {}
        self._files: list[Any] = []  # polled, not processed yet (Agent.step)
        self.role_classes = [c for c in role_classes if c.role in self.spec.roles]
        if not self.role_classes:
            raise NoRoleHere(
                f"{self.spec.id} holds {', '.join(self.spec.roles)}: "
                "no agent line drives these roles"
            )
        self.roles: list[Role] = []
        self.inbox: Any = None
        self.follower: Follower | None = None
        self.transport: Any = None
        self.server: Any = None
        self.account: Any = None
        self.local: Any = None
        self.suite: Any = None
        self.institution: Any = None
        self.w3: Any = None
        self._endpoint: Endpoint | None = None
        self._pipe: Any = None

    def _spec(self) -> InstitutionSpec:
        ident = self.settings.institution
        for spec in self.consortium.institutions:
            if spec.id == ident:
                return spec
        raise UnknownInstitution(
            f"{self.settings.home / 'agent.yaml'}: institution {ident!r} is not in "
            f"{self.consortium.path}; use one of its ids"
        )

    def endpoint(self, line: str) -> Endpoint:
        """The agent's one channel endpoint (sealed, signed messages over its transport), made on
        first use and shared by its roles; SettingsError when the agent serves no transport."""
        if self._endpoint is None:
            if self.transport is None:
                raise SettingsError(
                    f"{self.settings.home / 'agent.yaml'}: the {line} line talks to its "
                    f"counterparties over the transport; set 'listen: host:port'"
                )
            me = str(self.account.address)
            key = bytes(self.local.key)
            registry = self.suite.registry
            self._endpoint = Endpoint(me, key, self.transport, self.transport.directory, registry)
        return self._endpoint

    @property
    def pipe(self) -> Any:
        """The agent's TxPipe (consortium.txpipe), made on first use: a role posts a batch of
        independent transactions signed with the agent's key without waiting for each receipt, then
        closes the phase (`pipe.wait()`, or `outbox.close_phase` for keyed batches) before its
        handler returns. Closing within the handler matters: the pipe keeps the account's nonces
        only between two waits, so a plain brownie send never meets a nonce still queued."""
        if self._pipe is None:
            from consortium.chain import sending_gas
            from consortium.txpipe import SerialPipe, TxPipe, serial_needed

            if serial_needed(str(self.w3.client_version)):
                self._pipe = SerialPipe(self.w3)  # brownie's sends estimate for themselves
            else:
                # each transaction with the node's estimate, as the agent's plain sends (see
                # chain.estimate_gas): a fixed limit would fit one per block beside the others'
                buffer, reverting = sending_gas()
                self._pipe = TxPipe(self.w3, estimate=buffer, reverting_gas=reverting)
            self._pipe.keep_collected = False  # a day-long process: receipts are its roles' to keep
        return self._pipe

    # ------------------------------------------------------------------ life
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, *_: Any) -> None:
        """Ask the loop to stop after the step in flight (the signal handler)."""
        if not self._stop.is_set():
            log.info("stop asked: finishing the step in flight")
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """End the current wait between two loops (a peer's message was stored)."""
        self._wake.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self, passphrase: str, connect: Any) -> int:
        """Unlock, connect (`connect(settings) -> Connected`), start the roles,
        loop until stopped."""
        from consortium.keys import Keystore

        self.install_signals()
        self.local = Keystore(self.settings.keystore).unlock(passphrase)
        log.info("%s: key unlocked (%s)", self.spec.id, self.local.address)
        self.attach(connect(self.settings, self.local))
        self.install_signals()  # again: connecting may have installed its own handlers
        for role in self.roles:
            role.start()
        log.info("%s: running roles %s", self.spec.id, [r.role for r in self.roles])
        self.loop()
        self.close()
        log.info("%s: stopped cleanly", self.spec.id)
        return 0

    def loop(self) -> None:
        """Step until stopped, waiting `next_wait` between two steps unless woken."""
        wait = self.settings.poll_seconds
        while not self.stopping:
            wait = self.next_wait(wait, active=self.step())
            self._wake.wait(wait)
            self._wake.clear()  # before the next step, which handles what woke it

    def attach(self, conn: Connected) -> None:
        """Build everything that needs the chain: the institution, roles, follower, inbox,
        transport."""
        from consortium.roles.membership import Institution

        self.suite, self.account = conn.suite, conn.account
        self.institution = Institution(
            self.spec.name, conn.account, self.suite.registry, self.spec.jurisdiction
        )
        self.w3 = conn.w3
        self.follower = Follower(
            self.store,
            conn.w3,
            list(self.suite.addresses().values()),
            conn.decode,
            topics_of([self.suite.registry, *self.suite.contracts.values()]),
            start_block=int(self.suite.block),
        )
        self.roles = [cls(self) for cls in self.role_classes]
        for role in self.roles:
            for event, method in role.events.items():
                self.follower.on(event, getattr(role, method))
        self.inbox = _make_inbox(self)
        self.transport = _make_transport(self)

    def next_wait(self, wait: float, active: bool) -> float:
        """Seconds to wait before the next loop: `poll_seconds` after a loop that found the chain
        moving or had a file or decision; doubling while all stays still, up to IDLE_SECONDS (or
        `poll_seconds` if longer). A still consortium then costs a loop a second per agent, and the
        first file or block after a pause waits at most that long."""
        if active:
            return self.settings.poll_seconds
        return min(wait * 2, max(self.settings.poll_seconds, IDLE_SECONDS))

    def step(self) -> bool:
        """One loop: chain events, one inbox file, answered decisions, periodic work; stops
        between any two of them when asked. True when there was something: an event it follows,
        a file, a decision. New blocks of others' business are not: an institution the day's
        traffic does not concern backs off to IDLE_SECONDS (a peer's message wakes it) instead of
        looping every `poll_seconds` as long as the chain moves."""
        active = self.follower.poll(stop=lambda: self.stopping) > 0
        if self.inbox is not None and not self.stopping:
            # one file a loop: the first that others wait for, else the oldest; polled again
            # before the next, so a file that became ready meanwhile is not held behind those
            # polled before it (they stay in the inbox until done: a restart finds them again)
            self._files += self.inbox.poll()
            if self._files:
                first = next((i for i, f in enumerate(self._files) if self._first(f)), 0)
                active = True
                self.process(self._files.pop(first))
        for decision in self.decisions.answered():
            if self.stopping:
                return active
            active = True
            self._act(decision)
        for role in self.roles:
            if not self.stopping:
                role.tick()
        if self.transport is not None and not self.stopping:
            self.transport.deliver_pending()
        return active

    def _first(self, file: Any) -> bool:
        """Whether a role taking its files first handles this file. The day's business files
        arrive together, and an agent works one file at a time: the sales bank's customers file
        held the cash issues the settlement and bills lines wait for (13 s of the medium day,
        minutes of the large one)."""
        return any(r.first and file.format in r.formats for r in self.roles)

    def process(self, file: Any) -> None:
        """One inbox file through the role that handles its format: done with the role's result,
        or rejected with the line and reason of a refusal."""
        role = next((r for r in self.roles if file.format in r.formats), None)
        if role is None:
            self.inbox.reject(file, 0, f"no role of {self.spec.id} processes {file.format} files")
            return
        log.info("%s: processing %s (%s)", self.spec.id, file.path.name, file.format)
        try:
            result = role.handle_file(file)
        except FileRefused as exc:
            log.warning("%s: refused %s line %s: %s", self.spec.id, file.path.name, exc.line, exc)
            self.inbox.reject(file, exc.line, exc.reason)
            return
        except Exception:
            failures = self._file_failures[file.sha256] = (
                self._file_failures.get(file.sha256, 0) + 1
            )
            log.exception(
                "%s: %s failed (attempt %d); it stays in the inbox",
                self.spec.id,
                file.path.name,
                failures,
            )
            if failures < MAX_FILE_ATTEMPTS:  # a passing failure (the node): retried next loop
                self.inbox.release(file)  # keys make the retry safe; else retried at restart
            return
        self.inbox.done(file, result)
        log.info("%s: done %s", self.spec.id, file.path.name)

    def _act(self, decision: Decision) -> None:
        role = next((r for r in self.roles if decision.kind in r.decisions), None)
        if role is None:
            log.warning("decision %s of kind %s: no role acts on it", decision.item, decision.kind)
            return
        role.on_decision(decision)
        self.decisions.acted(decision)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    # ------------------------------------------------------------------ helpers for roles
    def tx(self) -> dict[str, Any]:
        return {"from": self.account}

    def events_of(self, contract: Any, name: str) -> list[Any]:
        """Every `name` event of `contract` since the deployment (a look back, not followed)."""
        return self.follower.history(str(contract.address), contract.topics[name])

    def write_output(self, folder: str, name: str, text: str) -> Path:
        """Write a file to outbox/<folder>/ atomically (a reader never sees half a file). `name`
        may carry business ids (an employee's): see `safe_name`."""
        out = self.home.outbox / folder
        out.mkdir(parents=True, exist_ok=True)
        name = safe_name(name)
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out / name)
        return out / name


def safe_name(name: str) -> str:
    """A file name from a business id: kept as it is when made of letters, digits, `_ . -` only
    (and not starting with a dot); otherwise those characters kept, the rest `_`, plus 8 hex digits
    of its sha256 so two ids never share a file (an id like `../x` never leaves the folder)."""
    clean = re.sub(r"[^0-9A-Za-z_.-]", "_", name).lstrip(".")
    if clean == name and clean:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    stem, dot, suffix = clean.rpartition(".")
    return f"{stem or suffix}-{digest}.{suffix}" if dot and stem else f"{clean or '_'}-{digest}"


def _make_inbox(agent: Agent) -> Any:
    """The inbox over the home (consortium.agent.inbox)."""
    from consortium.agent.inbox import Inbox, InboxContext

    return Inbox(agent.home.path, agent.store, InboxContext.of(agent.consortium, agent.spec.id))


def _make_transport(agent: Agent) -> Any:
    """Serve the agent's endpoint on `listen` and make its sending side; None without `listen`.

    Peers: each institution with an endpoint (consortium file, or agent.yaml `peers`) and a member
    address (agent.yaml `addresses`)."""
    if not agent.settings.listen:
        return None
    from consortium.agent.transport import (
        HttpTransport,
        RegistryMembership,
        TransportServer,
        make_app,
    )

    host, _, port = agent.settings.listen.rpartition(":")
    membership = RegistryMembership(agent.suite.registry)
    app = make_app(agent.store, agent.local, membership, on_message=agent.wake)
    agent.server = TransportServer(app, host or "127.0.0.1", int(port)).start()
    log.info("%s: serving %s", agent.spec.id, agent.server.url)
    peers = {}
    for spec in agent.consortium.institutions:
        url = agent.settings.peers.get(spec.id) or getattr(spec, "endpoint", None)
        address = agent.settings.addresses.get(spec.id)
        if url and address:
            peers[address] = url
    return HttpTransport(agent.store, agent.local, peers)
