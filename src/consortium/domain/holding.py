"""Settlement down the nominee holding chain, exactly as HoldingChain.sol accepts it.

After the CSD settles the top tier (participant <-> CCP legs), each intermediary passes what it
received down to its clients (custodians, local brokers) and its investors, tier after tier: a
party of tier k steps only once no step of a lower tier is open. Every step conserves exactly what
it received (signed integers: > 0 receipts, < 0 deliveries; securities in units, cash in minor
units), so each top-tier leg equals what its subtree's investors end with. Investors are leaves
(commitment, asset, amount) of an OpenZeppelin standard Merkle tree; only the root, the count and
the total go on chain.

A trade's route down the chain is its participant, then its custodian, then its local broker (each
when present and a linked client of the hop before), ending at the investor (`owner_commitment`).
Book entries only: no token moves below the top tier (legal title stays with the nominee).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from consortium.domain.clearing import BUY, ZERO_ADDRESS, ClearingError, Trade
from consortium.domain.merkle import RecordTree, leaf_hash, process_proof
from consortium.domain.netting import CASH, SECURITY, Leg, currency_asset

# leaf of an investor's holding in one step (commitment, asset, amount), as verifyInvestor hashes
INVESTOR_TYPES: tuple[str, ...] = ("bytes32", "uint256", "int256")
MAX_TIER = 8
MAX_CLIENTS = 50
MAX_AMOUNT = 1 << 200

Asset = tuple[int, int]  # (kind, asset): SECURITY with a security id, CASH with uint256(currency)


class HoldingError(ClearingError):
    """A step the contract refuses: `name` is its custom error, `values` its values in order."""


@dataclass(frozen=True)
class Holder:
    """An intermediary: its tier (1 = clearing participant), whether it keeps investor accounts."""

    tier: int
    investors: bool = True


@dataclass
class ChainConfig:
    """The holding chain as configured on chain (setHolder, linkClient), addresses as keys."""

    holders: dict[str, Holder] = field(default_factory=dict)
    clients: set[tuple[str, str]] = field(default_factory=set)

    def tier(self, party: str) -> int:
        h = self.holders.get(party)
        return h.tier if h else 0

    def route(self, trade: Trade) -> list[str]:
        """The intermediaries a trade's holding passes through, top first (see module doc)."""
        path = [trade.participant]
        for hop in (trade.custodian, trade.local_broker):
            if hop != ZERO_ADDRESS and hop != path[-1] and (path[-1], hop) in self.clients:
                path.append(hop)
        return path


@dataclass(frozen=True)
class InvestorSet:
    """A step's investors: their leaves, and the root, count and total the contract records."""

    leaves: tuple[tuple[bytes, int, int], ...] = ()

    @property
    def count(self) -> int:
        return len(self.leaves)

    @property
    def total(self) -> int:
        return sum(a for _, _, a in self.leaves)

    @cached_property
    def _tree(self) -> RecordTree:
        """Built once: a broker seals a proof for each of its thousands of investors."""
        return RecordTree(list(self.leaves), INVESTOR_TYPES)

    @property
    def root(self) -> bytes:
        return self._tree.root if self.leaves else b"\0" * 32

    def as_tuple(self) -> tuple[bytes, int, int]:
        """The InvestorSet struct (root, count, total)."""
        return (self.root, self.count, self.total)

    def proof(self, commitment: bytes, amount: int) -> list[bytes]:
        """The proof verifyInvestor takes for one investor's leaf."""
        return self._tree.proof((commitment, self.leaves[0][1], amount))


def investor_leaf(commitment: bytes, asset: int, amount: int) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(commitment, asset, amount))))."""
    return leaf_hash((commitment, asset, amount), INVESTOR_TYPES)


def investor_root(leaves: Sequence[tuple[bytes, int, int]]) -> bytes:
    """Root of the standard tree over the leaves (merkle-zeppelin, as @openzeppelin/merkle-tree)."""
    return RecordTree(list(leaves), INVESTOR_TYPES).root


def verify_investor(root: bytes, commitment: bytes, asset: int, amount: int, proof) -> bool:
    """HoldingChain.verifyInvestor off chain."""
    return process_proof(investor_leaf(commitment, asset, amount), proof) == bytes(root)


@dataclass(frozen=True)
class Step:
    """One intermediary's step in one asset, as allocate() takes it."""

    party: str
    tier: int
    kind: int
    asset: int
    received: int
    clients: tuple[tuple[str, int], ...] = ()
    investors: InvestorSet = InvestorSet()


def _signed(t: Trade) -> dict[Asset, int]:
    sign = 1 if t.side == BUY else -1
    return {
        (SECURITY, t.security_id): sign * t.quantity,
        (CASH, currency_asset(t.currency)): -sign * t.gross,
    }


@dataclass
class Flows:
    """Where the trades' holdings go: through each holder, along each link, to each investor."""

    through: dict[tuple[str, int, int], int] = field(default_factory=lambda: defaultdict(int))
    edges: dict[tuple[str, str, int, int], int] = field(default_factory=lambda: defaultdict(int))
    leaves: dict[tuple[str, int, int], dict[bytes, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )


def flows(trades: Iterable[Trade], chain: ChainConfig) -> Flows:
    """Each trade's signed amounts along its route (see ChainConfig.route)."""
    out = Flows()
    for t in trades:
        route = chain.route(t)
        for (kind, asset), amount in _signed(t).items():
            for i, party in enumerate(route):
                out.through[(party, kind, asset)] += amount
                if i + 1 < len(route):
                    out.edges[(party, route[i + 1], kind, asset)] += amount
            out.leaves[(route[-1], kind, asset)][t.owner_commitment] += amount
    return out


def investor_leaves(
    trades: Iterable[Trade], chain: ChainConfig
) -> dict[str, list[tuple[bytes, int, int]]]:
    """Each intermediary's investor leaves (commitment, asset, amount), amount non-zero: the
    look-through positions it records on chain as a root (the hook for sealed look-through)."""
    out: dict[str, list[tuple[bytes, int, int]]] = defaultdict(list)
    for (party, _kind, asset), owners in sorted(flows(trades, chain).leaves.items()):
        out[party] += [(c, asset, a) for c, a in sorted(owners.items()) if a]
    return dict(out)


def plan(legs: Sequence[Leg], trades: Iterable[Trade], chain: ChainConfig) -> list[Step]:
    """Every step down the chain, in an order the contract accepts (tier, party, kind, asset).

    `trades` are the cycle's netted trades; each participant's leg must equal what its trades pass
    down (the netting is their sum), else ValueError naming the participant and asset."""
    f = flows(trades, chain)
    top = {(g.participant, g.kind, g.asset): g.amount for g in legs}
    for key in set(top) | {k for k in f.through if chain.tier(k[0]) == 1}:
        if top.get(key, 0) != f.through.get(key, 0):
            raise ValueError(
                f"participant {key[0]} asset {key[1:]}: leg {top.get(key, 0)} but its trades "
                f"pass down {f.through.get(key, 0)}; plan from the cycle's netted trades"
            )
    return _steps(f, chain)


def steps_of(party: str, trades: Iterable[Trade], chain: ChainConfig) -> list[Step]:
    """One intermediary's steps from its own book: the netted trades it is on (a trade's route
    passes only through parties on it, so these give its receipts and allocations exactly)."""
    mine = [t for t in trades if t.involves(party)]
    return [s for s in _steps(flows(mine, chain), chain) if s.party == party]


def _steps(f: Flows, chain: ChainConfig) -> list[Step]:
    # due: what a leg (a participant's non-zero position) or a parent's non-zero allocation opened,
    # even when receipts from several parents cancel to zero
    due = {k for k, v in f.through.items() if v and chain.tier(k[0]) == 1}
    due |= {(c, k, a) for (_, c, k, a), v in f.edges.items() if v}
    keys = due | {k for k, v in f.through.items() if v} | {(p, k, a) for (p, _, k, a) in f.edges}
    # a party whose receipts cancel to zero gets no allocation from above, but the investors it
    # holds for still moved (+q for one, -q for another): their investors-only step is due too
    keys |= {k for k, owners in f.leaves.items() if any(owners.values())}
    steps = []
    for party, kind, asset in sorted(keys, key=lambda k: (chain.tier(k[0]), k)):
        clients = tuple(
            (c, v)
            for (p, c, k, a), v in sorted(f.edges.items())
            if (p, k, a) == (party, kind, asset) and v
        )
        owners = f.leaves.get((party, kind, asset), {})
        inv = InvestorSet(tuple((c, asset, v) for c, v in sorted(owners.items()) if v))
        received = f.through.get((party, kind, asset), 0)
        if received or clients or inv.count or (party, kind, asset) in due:
            steps.append(Step(party, chain.tier(party), kind, asset, received, clients, inv))
    return steps


@dataclass
class Tiers:
    """The contract's state of one cycle, step by step (the oracle of the property and stateful
    tests): the same refusals, in the same order, with the same values."""

    chain: ChainConfig
    cycle_id: bytes = b"\0" * 32
    opened: bool = False
    next_seq: int = 0
    first_seq: int = 0
    pending: dict[tuple[str, int, int], int] = field(default_factory=dict)
    due: set[tuple[str, int, int]] = field(default_factory=set)
    done: dict[tuple[str, int, int], int] = field(default_factory=dict)
    investors: dict[tuple[str, int, int], InvestorSet] = field(default_factory=dict)

    def open(self, legs: Sequence[Leg]) -> None:
        """openTiers with the engine's settled legs (the engine's checks are the contract's)."""
        if self.opened:
            raise HoldingError("HoldingTiersAlreadyOpen", self.cycle_id)
        for g in legs:
            if self.chain.tier(g.participant) != 1:
                raise HoldingError(
                    "HoldingNotTopTier",
                    self.cycle_id,
                    g.participant,
                    self.chain.tier(g.participant),
                )
        self.opened = True
        self.first_seq = self.next_seq = len(legs)
        for g in legs:
            self.pending[(g.participant, g.kind, g.asset)] = g.amount
            self.due.add((g.participant, g.kind, g.asset))

    def open_at(self, tier: int) -> int:
        return sum(1 for k in self.due if self.chain.tier(k[0]) == tier)

    @property
    def open_steps(self) -> int:
        return len(self.due)

    def allocate(
        self,
        party: str,
        kind: int,
        asset: int,
        clients: Sequence[tuple[str, int]] = (),
        investors: InvestorSet = InvestorSet(),
    ) -> int:
        """One step; returns its sequence number or raises the contract's error."""
        c = self.cycle_id
        tier = self.chain.tier(party)
        if tier == 0:
            raise HoldingError("HoldingNotIntermediary", party)
        if not self.opened:
            raise HoldingError("HoldingTiersNotOpen", c)
        key = (party, kind, asset)
        if key in self.done:
            raise HoldingError("HoldingStepAlreadyDone", c, party, kind, asset, self.done[key])
        for t in range(1, tier):
            if self.open_at(t):
                raise HoldingError("HoldingOutOfSequence", c, party, tier, t, self.open_at(t))
        received = self.pending.get(key, 0)
        due = key in self.due
        if not due and not clients and not investors.count:
            raise HoldingError("HoldingNothingPending", c, party, kind, asset)
        given = self._check_investors(party, investors) + self._check_clients(party, clients)
        if given != received:
            raise HoldingError("HoldingNotConserved", c, party, kind, asset, received, given)
        for client, _ in clients:
            if (client, kind, asset) in self.done:
                raise HoldingError(
                    "HoldingStepAlreadyDone",
                    c,
                    client,
                    kind,
                    asset,
                    self.done[(client, kind, asset)],
                )
        seq = self.next_seq
        self.next_seq += 1
        self.pending[key] = 0
        self.due.discard(key)
        self.done[key] = seq
        for client, amount in clients:
            down = (client, kind, asset)
            self.pending[down] = self.pending.get(down, 0) + amount
            self.due.add(down)
        if investors.count:
            self.investors[key] = investors
        return seq

    def _check_investors(self, party: str, inv: InvestorSet) -> int:
        if not inv.count:
            return 0
        if not self.chain.holders[party].investors:
            raise HoldingError("HoldingNotClient", self.cycle_id, party, ZERO_ADDRESS)
        if abs(inv.total) > MAX_AMOUNT:
            raise HoldingError("HoldingBadInvestorSet", inv.root, inv.count, inv.total)
        return inv.total

    def _check_clients(self, party: str, clients: Sequence[tuple[str, int]]) -> int:
        if len(clients) > MAX_CLIENTS:
            raise HoldingError("HoldingTooManyClients", len(clients), MAX_CLIENTS)
        given, seen = 0, set()
        for i, (client, amount) in enumerate(clients):
            if (party, client) not in self.chain.clients:
                raise HoldingError("HoldingNotClient", self.cycle_id, party, client)
            if amount == 0:
                raise HoldingError("HoldingZeroAllocation", i)
            if abs(amount) > MAX_AMOUNT:
                raise HoldingError("HoldingAmountOutOfRange", i, amount)
            if client in seen:
                raise HoldingError("HoldingDuplicateClient", i, client)
            seen.add(client)
            given += amount
        return given

    def held(self) -> dict[Asset, int]:
        """Per asset: everything pending at any tier plus every investor total (conserved)."""
        out: dict[Asset, int] = defaultdict(int)
        for (_, kind, asset), v in self.pending.items():
            out[(kind, asset)] += v
        for (_, kind, asset), inv in self.investors.items():
            out[(kind, asset)] += inv.total
        return dict(out)


def legs_per_tier(steps: Iterable[Step], legs: Sequence[Leg]) -> dict[int, int]:
    """The day's summary: the top tier's legs (tier 0: participant <-> CCP) and the allocations
    each tier made (to clients and investors)."""
    out: dict[int, int] = {0: len(legs)}
    for s in steps:
        out[s.tier] = out.get(s.tier, 0) + len(s.clients) + s.investors.count
    return out


def chain_from_config(
    sections: Sequence[Mapping[str, object]], address_of: Mapping[str, str]
) -> ChainConfig:
    """The ChainConfig of the consortium file's `holding_chain:` entries ({party, tier, clients,
    investors}, institution ids) with each id's address."""
    out = ChainConfig()
    for e in sections:
        out.holders[address_of[str(e["party"])]] = Holder(
            int(e["tier"]), bool(e.get("investors", True))  # type: ignore[call-overload]
        )
    for e in sections:
        for c in e.get("clients") or ():  # type: ignore[attr-defined]
            out.clients.add((address_of[str(e["party"])], address_of[str(c)]))
    return out
