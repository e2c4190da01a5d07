"""The multi-process day measured: transactions and business operations per second, and the peak
memory of all agents together, as proportional set sizes (sampled each time the driver looks at
the day).

Business seconds run from the first file dropped to the day's end seen on chain and in the outboxes
(the agents' start, deploy, bootstrap and reports are not in them), as `demo_tx_per_second` counts
the in-process day from its first transaction sent to its last receipt. Keystores use the low scrypt
cost: unlocking is not what is measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consortium.bootstrap import DEFAULT_SEED
from consortium.dayrun.day import DayOptions, DayTimeout, run_processes_day


def day_processes_throughput(
    accounts: Any,
    out: Path,
    size: str = "medium",
    seed: int = DEFAULT_SEED,
    console: Any = None,
    timeout: float = 900.0,
) -> dict[str, Any]:
    """Run the multi-process day of `size` (no reports) and return its figures:
    day_processes_tx_per_second, day_processes_ops_per_second, day_processes_peak_rss_mb (the
    agents' and their fork server's proportional set sizes: shared pages counted once, what the
    day takes from the machine; see dayrun/launcher.py), and the counts they come from."""
    from rich.console import Console

    opts = DayOptions(
        size=size, seed=seed, out=Path(out), fast_keys=True, reports=False, timeout=timeout
    )
    outcome = run_processes_day(accounts, opts, console or Console(quiet=True))
    windows = [r.window for r in outcome.results if r.window]
    business = max(w[1] for w in windows) - min(w[0] for w in windows)
    txs = sum(r.transactions for r in outcome.results)
    ops = sum(
        sum(v for v in r.counts.values() if isinstance(v, int) and not isinstance(v, bool))
        for r in outcome.results
    )
    return {
        "day_processes_size": size,
        "day_processes_lines": ", ".join(r.line for r in outcome.results),
        "day_processes_agents": len(outcome.agents),
        "day_processes_transactions": txs,
        "day_processes_operations": ops,
        "day_processes_business_seconds": round(business, 2),
        "day_processes_tx_per_second": round(txs / business, 1),
        "day_processes_ops_per_second": round(ops / business, 1),
        "day_processes_peak_rss_mb": round(outcome.peak_rss / 2**20, 1),
        "day_processes_seconds": round(outcome.seconds.get("total", 0.0), 2),
        "day_processes_ok": outcome.ok,
    }


def _prefix(size: str) -> str:
    """The keys of a day of `size`: the medium day's are `day_processes_*` (the issue's figures),
    another size's `day_processes_<size>_*`."""
    return "day_processes_" if size == "medium" else f"day_processes_{size}_"


_DAY_KEYS = (
    "size", "lines", "agents", "transactions", "operations", "business_seconds",
    "tx_per_second", "ops_per_second", "peak_rss_mb", "seconds", "ok", "timed_out",
    "tx_ratio_to_business", "business_tx_per_second",
)  # fmt: skip


def _size_of(key: str) -> str | None:
    """The day size a `day_processes_*` key belongs to (None: not a day key)."""
    if not key.startswith("day_processes_"):
        return None
    rest = key.removeprefix("day_processes_")
    if rest in _DAY_KEYS:
        return "medium"
    size, _, name = rest.partition("_")
    return size if name in _DAY_KEYS else None


def run_day_bench(
    accounts: Any, args: Any, ceiling: Callable[..., dict[str, Any]], console: Any
) -> int:
    """`consortium bench --only day`: the chain's business ceiling, then each day size of
    `--day-size` on the same node (a fresh snapshot each), every figure compared with that
    ceiling; only these keys are merged into OUT/results.json. A day stopped by `--day-timeout`
    reports how far it got (its transactions on chain and seconds) instead of its rate."""
    from consortium import chain
    from consortium.dayrun.stats import chain_activity

    out = Path(args.out)
    figures: dict[str, Any] = {}
    business = float(ceiling(accounts, 500)["business_tx_per_second"])
    console.print(f"business ceiling: {business} tx/s")
    measured = [s.strip() for s in str(args.day_size).split(",") if s.strip()]
    for size in measured:
        key = _prefix(size)
        chain.brownie.chain.snapshot()
        try:
            day = day_processes_throughput(
                accounts, out / f"day-processes-{size}", size, timeout=args.day_timeout
            )
        except DayTimeout as exc:
            w3 = chain.web3()
            done = chain_activity(w3, exc.first_block, int(w3.eth.block_number))
            txs = sum(n for n, _ in done.values())
            day = {
                "day_processes_size": size,
                "day_processes_timed_out": str(exc),
                "day_processes_transactions": txs,
                "day_processes_business_seconds": round(exc.seconds, 2),
                "day_processes_tx_per_second": round(txs / max(exc.seconds, 1e-9), 1),
            }
        chain.brownie.chain.revert()
        day["day_processes_tx_ratio_to_business"] = round(
            day["day_processes_tx_per_second"] / business, 3
        )
        day["day_processes_business_tx_per_second"] = business
        renamed = {key + k.removeprefix("day_processes_"): v for k, v in day.items()}
        figures.update(renamed)
        console.print(
            f"{size} day: {day['day_processes_tx_per_second']} tx/s, "
            f"{day['day_processes_tx_ratio_to_business']:.1%} of the business ceiling "
            f"({business} tx/s), peak {day.get('day_processes_peak_rss_mb', '?')} MB"
            + (
                f"; timed out: {day['day_processes_timed_out']}"
                if "day_processes_timed_out" in day
                else ""
            )
        )
    path = out / "results.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    for size in measured:  # an earlier run's keys of a size measured now: replaced, not mixed
        merged = {k: v for k, v in merged.items() if _size_of(k) != size}
    merged.update(figures)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    console.print(f"merged {len(figures)} day figures into {path}")
    return 0
