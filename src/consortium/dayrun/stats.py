"""What each agent did, read from the chain and its home (not from the agent: it may be dead).

- transactions sent and gas: every transaction of the day's blocks, by sender address (and by
  line: `by_line` counts each once);
- files processed and rejected: its done/ and rejected/ folders;
- messages sent and received: its store's transport tables (`transport_out`, `transport_in`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class AgentStats:
    ident: str
    transactions: int = 0
    gas: int = 0
    processed: int = 0
    rejected: int = 0
    sent: int = 0
    received: int = 0
    starts: int = 0
    kills: int = 0
    exit_code: int | None = None

    def line(self) -> str:
        restarts = f", {self.kills} kill(s)" if self.kills else ""
        return (
            f"  {self.ident:20} {self.transactions:>6,} txs, files {self.processed} processed / "
            f"{self.rejected} rejected, messages {self.sent} sent / {self.received} received"
            f"{restarts}, exit {self.exit_code}"
        )


Activity = dict[tuple[str, str], tuple[int, int]]  # (sender, to) -> (transactions, gas)


def chain_activity(w3: Any, first: int, last: int, chunk: int = 100) -> Activity:
    """{(sender, to) addresses (lower case): (transactions, gas)} of blocks first..last: `chunk`
    blocks and their receipts per JSON-RPC batch (a large day has tens of thousands of blocks: one
    request each took minutes). A block of one transaction gives its gas without the receipt; a
    deployment's `to` is ""."""
    from consortium.txpipe import TxPipe

    pipe = TxPipe(w3)
    out: dict[tuple[str, str], list[int]] = {}
    for start in range(first, last + 1, chunk):
        numbers = range(start, min(last, start + chunk - 1) + 1)
        blocks = [
            r["result"]
            for r in pipe.batch("eth_getBlockByNumber", [[hex(n), True] for n in numbers])
        ]
        shared = [
            t["hash"] for b in blocks if len(b["transactions"]) > 1 for t in b["transactions"]
        ]
        receipts = [
            r["result"] for r in pipe.batch("eth_getTransactionReceipt", [[h] for h in shared])
        ]
        gas_of = {r["transactionHash"]: int(r["gasUsed"], 16) for r in receipts}
        for b in blocks:
            txs = b["transactions"]
            for tx in txs:
                gas = int(b["gasUsed"], 16) if len(txs) == 1 else gas_of[tx["hash"]]
                key = (str(tx["from"]).lower(), str(tx.get("to") or "").lower())
                entry = out.setdefault(key, [0, 0])
                entry[0] += 1
                entry[1] += gas
    return {k: (v[0], v[1]) for k, v in out.items()}


def by_sender(activity: Activity) -> dict[str, tuple[int, int]]:
    """{sender: (transactions, gas)}, whatever contract each went to."""
    out: dict[str, tuple[int, int]] = {}
    for (sender, _), (txs, gas) in activity.items():
        n, g = out.get(sender, (0, 0))
        out[sender] = (n + txs, g + gas)
    return out


def by_line(
    activity: Activity, sender_lines: dict[str, set[str]], contract_line: dict[str, str]
) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """Each business transaction counted once: ({line: (transactions, gas)}, shared).

    A sender that plays one line counts there, whatever it calls (the registry, a cash token); one
    that plays several (the sales bank is also the CNY cash issuer of settlement and bills) counts
    in the line of the contract it calls, and in `shared` when that contract serves several lines.
    Senders not in `sender_lines` (the operations office, the dev accounts) are not counted: they
    are no institution's business. Counting each institution in every line it plays counted the
    sales bank's 414 transactions three times in the medium day (2,205 for 1,377 sent)."""
    lines: dict[str, tuple[int, int]] = {}
    shared = (0, 0)
    for (sender, to), (txs, gas) in activity.items():
        plays = sender_lines.get(sender)
        if not plays:
            continue
        line = next(iter(plays)) if len(plays) == 1 else contract_line.get(to)
        if line is None:
            shared = (shared[0] + txs, shared[1] + gas)
        else:
            n, g = lines.get(line, (0, 0))
            lines[line] = (n + txs, g + gas)
    return lines, shared


def _files(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(1 for p in folder.iterdir() if p.is_file() and not p.name.endswith(".result.json"))


def _messages(home: Path) -> tuple[int, int]:
    """(messages sent, received) from the home's store;
    (0, 0) before the transport made its tables."""
    from sqlalchemy import create_engine, inspect, text

    path = home / "store.sqlite"
    if not path.exists():
        return 0, 0
    engine = create_engine(f"sqlite:///{path}")
    try:
        tables = set(inspect(engine).get_table_names())
        counts = []
        with engine.connect() as c:
            for table in ("transport_out", "transport_in"):
                n = (
                    c.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
                    if table in tables
                    else 0
                )
                counts.append(int(n or 0))
        return counts[0], counts[1]
    finally:
        engine.dispose()


def agent_stats(
    ident: str, home: Path, address: str, senders: dict[str, tuple[int, int]]
) -> AgentStats:
    """`senders`: by_sender of the day's chain activity."""
    txs, gas = senders.get(address.lower(), (0, 0))
    sent, received = _messages(home)
    return AgentStats(
        ident,
        transactions=txs,
        gas=gas,
        processed=_files(home / "done"),
        rejected=_files(home / "rejected"),
        sent=sent,
        received=received,
    )
