"""Event indexer: the suite's events, incrementally, into an embedded SQL database.

Reads logs from a block cursor in chunks; each chunk's events and the advanced cursor are written in
one database transaction, so a stop at any moment (crash, Ctrl-C) loses nothing and duplicates
nothing: the next run resumes at the cursor. Events are unique on (chain id, block hash, tx hash,
log index), and a chunk is re-written idempotently (its block range is cleared first).

Chain restarts and reorganisations are detected before every run: a different genesis hash, a head
below the cursor, or a different block hash at the cursor means the indexed history is no longer the
chain's, so the chain's rows are dropped and indexing starts again from the deployment block. A
changed set of watched sources (a line's events added to the rules) or a changed business time zone
also re-indexes from the deployment block, so new rules and days apply to the whole history.

Business day: `domain.days.business_day_of(timestamp, utc_offset)`, the local day of the block
timestamp in the business time zone of the ReportAnchor (`utc_offset` seconds from UTC; 0: the UTC
day).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import event_abi_to_log_topic, keccak
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    select,
)
from sqlalchemy.engine import Engine
from web3._utils.events import get_event_data

from consortium.domain.days import business_day_of
from consortium.domain.encoding import hexstr

DEFAULT_CHUNK = 500

metadata = MetaData()

index_state = Table(
    "index_state",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("genesis_hash", String(66), nullable=False),
    Column("sources_hash", String(66), nullable=False),
    Column("deployment_block", BigInteger, nullable=False),
    Column("cursor_block", BigInteger, nullable=False),  # last block fully indexed
    Column("cursor_hash", String(66), nullable=False),
    Column("restarts", Integer, nullable=False, default=0),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False, index=True),
    Column("block_hash", String(66), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("day", Integer, nullable=False, index=True),
    Column("contract", String(64), nullable=False),
    Column("address", String(42), nullable=False),
    Column("event", String(64), nullable=False),
    Column("args", Text, nullable=False),
    UniqueConstraint("chain_id", "block_hash", "tx_hash", "log_index", name="uq_event"),
)


@dataclass(frozen=True)
class Source:
    """A deployed contract whose events are indexed: suite key, address and the events to keep."""

    key: str
    address: str
    abi: list[dict]
    events: frozenset[str]

    def event_abis(self) -> list[dict]:
        return [e for e in self.abi if e.get("type") == "event" and e["name"] in self.events]


@dataclass
class IndexRun:
    """What one indexing run did."""

    from_block: int
    to_block: int
    events: int
    restarted: str | None = None  # why the index was rebuilt, if it was


class ChainRestarted(RuntimeError):
    pass


def _to_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)  # keep big integers exact in JSON
    return value


class Indexer:
    """Indexes `sources` from `deployment_block` into the database at `db_url`.

    `w3` is a web3.py instance (consortium.chain.web3() under brownie). Several indexers (one per
    regulator) may share a chain; each keeps its own database. `utc_offset`: the business time
    zone's offset from UTC in seconds, in which each event's day is counted (the ReportAnchor's
    businessUtcOffset; pipeline.open_index passes it): part of what the index is, so every run over
    one database must give the same one.
    """

    def __init__(
        self,
        w3: Any,
        sources: Iterable[Source],
        db_url: str,
        deployment_block: int = 0,
        chunk: int = DEFAULT_CHUNK,
        utc_offset: int = 0,
    ):
        self.w3 = w3
        self.utc_offset = int(utc_offset)
        self.sources = [s for s in sources if s.events]
        self.deployment_block = int(deployment_block)
        self.chunk = max(1, int(chunk))
        self.engine: Engine = create_engine(db_url, future=True)
        metadata.create_all(self.engine)
        self._by_address = {s.address.lower(): s for s in self.sources}
        self._topics: dict[bytes, dict] = {}
        for s in self.sources:
            for e in s.event_abis():
                self._topics[bytes(event_abi_to_log_topic(e))] = e
        self.chain_id = int(w3.eth.chain_id)

    # ---------------------------------------------------------------- identity of what we index
    @property
    def sources_hash(self) -> str:
        spec = sorted((s.key, s.address.lower(), sorted(s.events)) for s in self.sources)
        identity: list = [spec, self.deployment_block]
        if self.utc_offset:  # an index of UTC days keeps the identity it had before zones
            identity.append(self.utc_offset)
        return "0x" + keccak(text=json.dumps(identity)).hex()

    def state(self) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(
                select(index_state).where(index_state.c.chain_id == self.chain_id)
            ).first()
            return dict(row._mapping) if row else None

    def _block_hash(self, number: int) -> str:
        return hexstr(self.w3.eth.get_block(number)["hash"])

    def check_chain(self) -> str | None:
        """Why the indexed history is no longer this chain's (None when it still is)."""
        st = self.state()
        if st is None:
            return None
        if st["genesis_hash"] != self._block_hash(0):
            return f"genesis block changed ({st['genesis_hash'][:12]}… → new chain)"
        head = int(self.w3.eth.block_number)
        if head < st["cursor_block"]:
            return (
                f"chain head {head} is below the indexed cursor {st['cursor_block']} "
                "(chain restarted)"
            )
        if st["cursor_block"] >= self.deployment_block and st["cursor_hash"] != self._block_hash(
            st["cursor_block"]
        ):
            return (
                f"block {st['cursor_block']} has a different hash than when indexed "
                "(chain restarted or reorganised)"
            )
        if st["sources_hash"] != self.sources_hash:
            return (
                "the watched contracts, events or business time zone changed (reporting rules or "
                "deployment changed)"
            )
        if st["deployment_block"] != self.deployment_block:
            return "the deployment block changed"
        return None

    def reset(self, conn: Any) -> None:
        conn.execute(delete(events).where(events.c.chain_id == self.chain_id))
        conn.execute(delete(index_state).where(index_state.c.chain_id == self.chain_id))

    # ---------------------------------------------------------------- indexing
    def run(
        self,
        to_block: int | None = None,
        progress: bool = False,
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> IndexRun:
        """Index up to `to_block` (default: head). `on_chunk(from, to)` is called after each chunk
        commits (tests use it to stop mid-range)."""
        restarted = self.check_chain()
        st = self.state()
        restarts = 0
        if restarted or st is None:
            restarts = (st or {}).get("restarts", 0) + (1 if restarted else 0)
            with self.engine.begin() as conn:
                self.reset(conn)
                conn.execute(
                    index_state.insert().values(
                        chain_id=self.chain_id,
                        genesis_hash=self._block_hash(0),
                        sources_hash=self.sources_hash,
                        deployment_block=self.deployment_block,
                        cursor_block=self.deployment_block - 1,
                        cursor_hash="",
                        restarts=restarts,
                    )
                )
            st = self.state()
        head = int(self.w3.eth.block_number) if to_block is None else int(to_block)
        start = st["cursor_block"] + 1
        total = 0
        bar = None
        if progress and head >= start:
            from tqdm import tqdm

            bar = tqdm(total=head - start + 1, unit="block", desc="indexing", leave=False)
        try:
            lo = start
            while lo <= head:
                hi = min(head, lo + self.chunk - 1)
                total += self._index_chunk(lo, hi)
                if bar is not None:
                    bar.update(hi - lo + 1)
                if on_chunk is not None:
                    on_chunk(lo, hi)
                lo = hi + 1
        finally:
            if bar is not None:
                bar.close()
        return IndexRun(start, head, total, restarted)

    def _index_chunk(self, lo: int, hi: int) -> int:
        rows = []
        if self.sources:
            logs = self.w3.eth.get_logs(
                {
                    "fromBlock": lo,
                    "toBlock": hi,
                    "address": [self.w3.to_checksum_address(s.address) for s in self.sources],
                    "topics": [["0x" + t.hex() for t in self._topics]],
                }
            )
            blocks: dict[int, Any] = {}
            for log in logs:
                src = self._by_address.get(str(log["address"]).lower())
                abi = self._topics.get(bytes(log["topics"][0])) if log["topics"] else None
                if src is None or abi is None:
                    continue
                data = get_event_data(self.w3.codec, abi, log)
                n = int(log["blockNumber"])
                if n not in blocks:
                    blocks[n] = self.w3.eth.get_block(n)
                ts = int(blocks[n]["timestamp"])
                rows.append(
                    {
                        "chain_id": self.chain_id,
                        "block_number": n,
                        "block_hash": hexstr(log["blockHash"]),
                        "tx_hash": hexstr(log["transactionHash"]),
                        "log_index": int(log["logIndex"]),
                        "timestamp": ts,
                        "day": business_day_of(ts, self.utc_offset),
                        "contract": src.key,
                        "address": self.w3.to_checksum_address(log["address"]),
                        "event": abi["name"],
                        "args": json.dumps(_to_json(dict(data["args"])), sort_keys=True),
                    }
                )
        cursor_hash = self._block_hash(hi)
        with self.engine.begin() as conn:  # events and cursor: one transaction
            conn.execute(
                delete(events).where(
                    events.c.chain_id == self.chain_id, events.c.block_number.between(lo, hi)
                )
            )
            if rows:
                conn.execute(events.insert(), rows)
            conn.execute(
                index_state.update()
                .where(index_state.c.chain_id == self.chain_id)
                .values(cursor_block=hi, cursor_hash=cursor_hash)
            )
        return len(rows)

    # ---------------------------------------------------------------- reading
    def events_of_day(self, day: int) -> list[dict]:
        """Indexed events of business day `day` (local days at the indexer's utc_offset), in chain
        order, args decoded from JSON."""
        with self.engine.connect() as c:
            rows = c.execute(
                select(events)
                .where(events.c.chain_id == self.chain_id, events.c.day == day)
                .order_by(events.c.block_number, events.c.log_index)
            ).all()
        return [dict(r._mapping) | {"args": json.loads(r.args)} for r in rows]

    def events_named(self, names: Iterable[str]) -> list[dict]:
        """Indexed events of any day with one of these names, in chain order (for rules' joins)."""
        names = sorted(set(names))
        if not names:
            return []
        with self.engine.connect() as c:
            rows = c.execute(
                select(events)
                .where(events.c.chain_id == self.chain_id, events.c.event.in_(names))
                .order_by(events.c.block_number, events.c.log_index)
            ).all()
        return [dict(r._mapping) | {"args": json.loads(r.args)} for r in rows]

    def count(self) -> int:
        with self.engine.connect() as c:
            return len(
                c.execute(select(events.c.id).where(events.c.chain_id == self.chain_id)).all()
            )

    def keys(self) -> list[tuple]:
        """Unique keys of every indexed event
        (chain id, block number, block hash, tx hash, log index)."""
        with self.engine.connect() as c:
            rows = c.execute(
                select(
                    events.c.chain_id,
                    events.c.block_number,
                    events.c.block_hash,
                    events.c.tx_hash,
                    events.c.log_index,
                )
                .where(events.c.chain_id == self.chain_id)
                .order_by(events.c.block_number, events.c.log_index)
            ).all()
        return [tuple(r) for r in rows]

    def dispose(self) -> None:
        self.engine.dispose()


def sources_from_contracts(contracts: Mapping[str, Any], rules: Any) -> list[Source]:
    """Sources for every deployed contract (key -> object with .address and .abi) the rules name."""
    out = []
    for key, contract in contracts.items():
        wanted = rules.events_of(key.split(":")[0])
        if wanted:
            out.append(Source(key, str(contract.address), list(contract.abi), frozenset(wanted)))
    return out
