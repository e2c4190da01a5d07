"""The multi-process day measured: transactions and business operations per second, and the peak
memory of all agents together, as proportional set sizes (sampled each time the driver looks at
the day).

Business seconds run from the first file dropped to the day's end seen on chain and in the outboxes
(the agents' start, deploy, bootstrap and reports are not in them), as `demo_tx_per_second` counts
the in-process day from its first transaction sent to its last receipt. Keystores use the low scrypt
cost: unlocking is not what is measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consortium.bootstrap import DEFAULT_SEED
from consortium.dayrun.day import DayOptions, run_processes_day


def day_processes_throughput(
    accounts: Any,
    out: Path,
    size: str = "medium",
    seed: int = DEFAULT_SEED,
    console: Any = None,
) -> dict[str, Any]:
    """Run the multi-process day of `size` (no reports) and return its figures:
    day_processes_tx_per_second, day_processes_ops_per_second, day_processes_peak_rss_mb (the
    agents' and their fork server's proportional set sizes: shared pages counted once, what the
    day takes from the machine; see dayrun/launcher.py), and the counts they come from."""
    from rich.console import Console

    opts = DayOptions(size=size, seed=seed, out=Path(out), fast_keys=True, reports=False)
    outcome = run_processes_day(accounts, opts, console or Console(quiet=True))
    windows = [r.window for r in outcome.results if r.window]
    business = max(w[1] for w in windows) - min(w[0] for w in windows)
    txs = outcome.transactions
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
