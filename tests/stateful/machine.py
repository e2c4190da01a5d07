"""What the chain state machines share: a fresh chain per run, full-length runs, one settings profile.

Why reject short runs: hypothesis 6.27 (pinned by brownie) starts every search with "small examples"
(a novel prefix extended with zeros, which ends a state machine after a step or two) and keeps doing
so until ten of them are valid. With the few examples a chain can afford, every run would then be
one or two steps long. Runs shorter than `min_steps` are rejected instead: after five rejected
zero-extensions in a row hypothesis abandons that phase and every later run has its full length.
A failure still shrinks, to a run of at least `min_steps` steps.
"""

import copy
import re
import sys
from collections import defaultdict

from hypothesis import HealthCheck, event, reject, settings
from hypothesis import stateful as sf
from web3.exceptions import Web3RPCError

from consortium.devtools.examples import budget
from consortium.domain.clearing import BUY
from consortium.domain.holding import HoldingError, Tiers, plan
from consortium.domain.netting import CASH, SECURITY, currency_asset


def machine_settings(max_examples: int, steps: int) -> settings:
    """Modest budgets: each step is a few transactions and a few dozen calls on a local chain
    (a third of the runs on ganache: consortium.devtools.examples)."""
    return settings(
        max_examples=budget(max_examples),
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


class ChainMachine(sf.RuleBasedStateMachine):
    """A state machine over the module's deployment: each run starts from the test's snapshot."""

    min_steps = 6

    def __init__(self, chain):
        super().__init__()
        chain.revert()  # cheap: tests/conftest.py applies consortium.devtools.revert_cost
        self.steps = -1  # the invariants run once before the first step

    @sf.invariant()
    def count_steps(self):
        self.steps += 1

    def run_completed(self) -> bool:
        """Call first in `teardown`, which does its closing work only when this returns True.

        False while an exception is on its way out (a failing step, or hypothesis stopping a run
        whose data ran out): the teardown must not mask it. A short run that ended normally is
        rejected (see the module docstring).
        """
        if sys.exc_info()[0] is not None:
            return False
        if self.steps < self.min_steps:
            reject()
        return True


def read_all(calls):
    """Results of view calls [(contract.method, args), ...] fetched in one JSON-RPC batch.

    Why: the invariants read every account or participant after every step; one HTTP round trip
    instead of dozens keeps a step's cost near that of its transactions.
    """
    from brownie import web3

    requests = [
        ("eth_call", [{"to": fn._address, "data": fn.encode_input(*args)}, "latest"])
        for fn, args in calls
    ]
    if not requests:
        return []
    replies = sorted(web3.provider.make_batch_request(requests), key=lambda r: r["id"])
    out = []
    for (fn, args), reply in zip(calls, replies, strict=True):
        if "error" in reply:
            raise AssertionError(f"{fn._name}{tuple(args)} reverted: {reply['error']}")
        out.append(fn.decode_output(reply["result"]))
    return out


def named_error(name: str, *values) -> str:
    """The exact revert message brownie decodes for a custom error, as a `revert_pattern`.

    brownie prints each value with str(): bytes32 as a bytes literal, addresses in lower case.
    """
    shown = [v.lower() if isinstance(v, str) and v.startswith("0x") else v for v in values]
    return rf"{name}: " + ", ".join(re.escape(str(v)) for v in shown)


class HoldingRun:
    """One settled cycle passed down the holding chain (HoldingChain.sol), step by step, each
    attempt sent to the chain and to its twin (consortium.domain.holding.Tiers), which predicts
    the step's sequence number or its named refusal.

    Shared by the holding machine (random step order) and the settlement machine (the steps after
    each settlement): `calls()` are the views the invariants read in one batch, `check()` compares
    them with the twin and checks that nothing is created or lost across the tiers, `finish()`
    passes everything left down and checks each investor ended with exactly its trades' net.
    """

    def __init__(self, holding, chain_cfg, cycle_id, legs, trades, parties, csd):
        self.holding, self.cid, self.legs, self.trades = holding, cycle_id, list(legs), list(trades)
        self.parties, self.csd = parties, csd
        self.steps = plan(self.legs, self.trades, chain_cfg)
        self.with_clients = [s for s in self.steps if s.clients]
        self.twin = Tiers(chain_cfg, cycle_id=cycle_id)
        self.keys = sorted(
            {(s.party, s.kind, s.asset) for s in self.steps}
            | {(g.participant, g.kind, g.asset) for g in self.legs}
        )
        self.settled = defaultdict(int)  # per asset, what the top tier's legs moved
        for g in self.legs:
            self.settled[(g.kind, g.asset)] += g.amount

    # ------------------------------------------------------------ attempts
    def open(self) -> None:
        """The CSD opens the tiers from the settled legs (again: HoldingTiersAlreadyOpen)."""
        try:
            self.twin.open(self.legs)
        except HoldingError as err:
            args = (self.cid, [g.as_tuple() for g in self.legs])
            self._refused(err, self.holding.openTiers, args, self.csd.institution.address)
            return
        assert self.csd.open_tiers(self.cid, self.legs).events["TiersOpened"]["legCount"] == len(
            self.legs
        )

    def attempt(self, s, clients) -> None:
        """Send `s` with `clients`: accepted with the twin's sequence number, or refused by name."""

        args = (self.cid, s.kind, s.asset, [list(c) for c in clients], s.investors.as_tuple())
        before = copy.deepcopy(self.twin)
        try:
            seq = self.twin.allocate(s.party, s.kind, s.asset, clients, s.investors)
        except HoldingError as err:
            assert self.twin == before  # the twin refuses before it changes anything
            event(f"holding step refused: {err.name}")  # --hypothesis-show-statistics
            self._refused(err, self.holding.allocate, args, s.party)
            return
        sender = self.parties[s.party].institution.account
        ev = self.holding.allocate(*args, {"from": sender}).events["HoldingStepped"]
        assert (ev["seq"], ev["received"]) == (seq, s.received)

    @staticmethod
    def _send(fn, args, sender: str) -> str:
        """`fn(*args)` from `sender` straight through web3 (a transaction hash; see send_quickly)."""
        from brownie import Wei, network, web3

        tx = {"from": sender, "to": fn._address, "data": fn.encode_input(*args), "gas": 2_000_000}
        return web3.eth.send_transaction(tx | {"gasPrice": int(Wei(network.gas_price()))})

    def send_quickly(self, steps) -> None:
        """Steps the twin accepts, sent straight through web3 (each mined on arrival, in order),
        receipts awaited at the end: brownie's per-transaction bookkeeping (an EVM snapshot, the
        transaction read back, events decoded) tripled the teardown's time. The twin records each
        step; `check` then compares every step's sequence number and amounts on chain with it."""
        from brownie import web3

        sent = []
        for s in steps:
            self.twin.allocate(s.party, s.kind, s.asset, s.clients, s.investors)
            args = (self.cid, s.kind, s.asset, [list(c) for c in s.clients], s.investors.as_tuple())
            sent.append(self._send(self.holding.allocate, args, s.party))
        for h in sent:
            assert web3.eth.wait_for_transaction_receipt(h)["status"] == 1

    @classmethod
    def _refused(cls, err: HoldingError, fn, args, sender: str) -> None:
        """Refused by name (the error decoded from the same call, eth_call), then sent and mined
        refused: the invariants that follow find nothing changed.

        Why not brownie.reverts around the transaction: brownie decodes a mined refusal from
        debug_traceTransaction with memory, the costliest request of a run (0.4 s on anvil, more
        on ganache); the call gives the same error data.
        """
        import brownie
        from brownie import web3

        with brownie.reverts(revert_pattern=named_error(err.name, *err.values)):
            fn.call(*args, {"from": sender})
        try:
            txid = cls._send(fn, args, sender)
        except Web3RPCError as e:  # ganache answers a mined refusal with an error naming it
            error = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
            error = error or (e.rpc_response or {}).get("error") or {}
            (txid,) = [k for k in error.get("data") or {} if str(k).startswith("0x")]
        assert web3.eth.wait_for_transaction_receipt(txid)["status"] == 0

    def next_steps(self) -> list:
        """The planned steps not yet done, in an order the contract accepts."""
        return [s for s in self.steps if (s.party, s.kind, s.asset) not in self.twin.done]

    def not_conserving(self, s, i: int, delta: int) -> tuple:
        """`s`'s clients with one amount `delta` units off (its investors unchanged)."""
        clients = list(s.clients)
        c, a = clients[i % len(clients)]
        clients[i % len(clients)] = (c, a + delta if a + delta else a + 2 * delta)
        return tuple(clients)

    # ------------------------------------------------------------ invariants
    def calls(self) -> list:
        """The views `check` compares, for one batch (machine.read_all)."""
        h, cid = self.holding, self.cid
        out = [(h.stepOf, (cid, *k)) for k in self.keys]
        out += [(h.investorsOf, (cid, *k)) for k in self.keys]
        out += [(h.openSteps, (cid,)), (h.cycleOf, (cid,))]
        return out + [(h.openStepsAt, (cid, t)) for t in (1, 2, 3)]

    def check(self, got) -> None:
        """Every step on chain is the twin's (pending, open, sequence, investors; open steps in all
        and per tier; next sequence number), and nothing is created or lost across the tiers: per
        asset, what is pending at every tier plus every investor total is what the top tier settled
        (and before the tiers open, nothing is pending anywhere)."""
        n, twin = len(self.keys), self.twin
        held = defaultdict(int)
        for k, (pending, is_open, seq1), inv in zip(self.keys, got[:n], got[n : 2 * n]):
            done = twin.done.get(k)
            assert (pending, is_open) == (twin.pending.get(k, 0), k in twin.due)
            assert seq1 == (0 if done is None else done + 1)
            root, count, total = (
                twin.investors[k].as_tuple() if k in twin.investors else (bytes(32), 0, 0)
            )
            assert (inv[0], inv[1], inv[2]) == ("0x" + root.hex(), count, total)
            held[k[1:]] += pending + inv[2]
        assert got[2 * n] == twin.open_steps
        assert tuple(got[2 * n + 1]) == (twin.opened, twin.next_seq)
        assert list(got[2 * n + 2 :]) == [twin.open_at(t) for t in (1, 2, 3)]
        for asset in self.settled:
            assert held[asset] == (self.settled[asset] if twin.opened else 0)

    def check_chain(self) -> None:
        self.check(read_all(self.calls()))

    def finish(self) -> None:
        """Open the tiers if needed, pass everything left down in order; then nothing is pending
        and every investor holds, per asset, exactly the net of its trades of the cycle."""
        if not self.twin.opened:
            self.open()
        self.send_quickly(self.next_steps())
        assert self.twin.open_steps == 0
        self.check_chain()  # every step's sequence number and pending amount are the twin's
        held = defaultdict(int)
        for (_, kind, _), inv in self.twin.investors.items():
            for commitment, asset, amount in inv.leaves:
                held[(commitment, kind, asset)] += amount
        want = defaultdict(int)
        for t in self.trades:
            sign = 1 if t.side == BUY else -1
            want[(t.owner_commitment, SECURITY, t.security_id)] += sign * t.quantity
            want[(t.owner_commitment, CASH, currency_asset(t.currency))] -= sign * t.gross
        assert {k: v for k, v in held.items() if v} == {k: v for k, v in want.items() if v}
