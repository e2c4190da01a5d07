"""`make bench`: gas and throughput figures -> bench/RESULTS.md and bench/results.json.

Gas figures are deterministic (same compiler, same inputs); seconds depend on the machine and are
measured in the same run as their baseline, so ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import platform
import time
from pathlib import Path

import requests
from eth_account import Account
from rich.console import Console

from consortium import chain
from consortium.bootstrap import institution_key

LINE_BENCHES = ("annuity", "bills", "confirmations", "settlement", "reporting")


def _rpc_batch(url: str, calls: list[tuple[str, list]]) -> list:
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    reply = requests.post(url, json=body, timeout=120).json()
    return [r.get("result") for r in sorted(reply, key=lambda r: r["id"])]


def raw_tx_per_second(accounts, n: int = 2000) -> dict[str, float]:
    """The chain's own ceiling for simple transactions, measured two ways on the same node:

    - `raw_tx_per_second`: n presigned 0-value transfers posted one after another without waiting
      (one HTTP request each, as a client pipelining its own transactions does), then all receipts;
    - `raw_tx_per_second_batch_rpc`: the same in one JSON-RPC batch for sends and batches for
      receipts (the transport's ceiling).
    Signing happens before the clock starts (it is client-side work)."""
    w3 = chain.web3()
    url = w3.provider.endpoint_uri
    chain_id = w3.eth.chain_id
    gas_price = max(int(w3.eth.gas_price), 10**9)
    session = requests.Session()
    figures: dict[str, float] = {"raw_tx_count": n}
    for label, seed in (("raw_tx_per_second", "bench-raw-1"), ("raw_tx_per_second_batch_rpc", "bench-raw-2")):
        sender = Account.from_key(institution_key(0, seed))
        accounts[0].transfer(sender.address, 10**20, silent=True)
        nonce = w3.eth.get_transaction_count(sender.address)
        raws = ["0x" + sender.sign_transaction({
            "to": accounts[1].address, "value": 1, "gas": 21000, "gasPrice": gas_price,
            "nonce": nonce + i, "chainId": chain_id}).raw_transaction.hex() for i in range(n)]
        t0 = time.perf_counter()
        if label == "raw_tx_per_second":
            hashes = [session.post(url, json={"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction",
                                              "params": [r]}).json()["result"] for i, r in enumerate(raws)]
        else:
            hashes = _rpc_batch(url, [("eth_sendRawTransaction", [r]) for r in raws])
        pending = list(hashes)
        while pending:
            receipts = _rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in pending])
            pending = [h for h, r in zip(pending, receipts) if r is None]
        figures[label] = round(n / (time.perf_counter() - t0), 1)
    return figures


def run_bench(accounts, args: argparse.Namespace) -> int:
    console = Console()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, float | int | str] = {}
    proj = chain.project()
    figures.update(raw_tx_per_second(accounts, 500 if args.quick else 2000))
    console.print(f"raw ceiling: {figures['raw_tx_per_second']} tx/s")
    for line in LINE_BENCHES:
        try:
            module = importlib.import_module(f"consortium.bench_{line}")
        except ModuleNotFoundError:
            console.print(f"[yellow]{line}: no benchmark module yet[/yellow]")
            continue
        fn = getattr(module, f"bench_{line}")
        t0 = time.perf_counter()
        kwargs = {}
        if args.quick and "sizes" in inspect.signature(fn).parameters:
            kwargs["sizes"] = (100, 1000)  # smoke run; the full run measures 100 and 10,000 trades
        figures.update(fn(proj, accounts, **kwargs))
        console.print(f"{line}: done in {time.perf_counter() - t0:.1f} s")
    figures.update(demo_throughput(accounts, args))
    figures["machine"] = f"{platform.machine()} {platform.python_version()} network={chain.network_name()}"
    (out / "results.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    (out / "RESULTS.md").write_text(render_markdown(figures))
    console.print(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    return 0


def demo_throughput(accounts, args: argparse.Namespace) -> dict[str, float]:
    """Business day of the `quick` (or `medium`) profile: business transactions per second."""
    from consortium.demo import run_day

    console = Console(quiet=True)
    t0 = time.perf_counter()
    results, _ = run_day(accounts, "config/consortium.yaml", "quick" if args.quick else "medium",
                         20261122, Path(args.out) / "day", console)
    elapsed = time.perf_counter() - t0
    txs = sum(r.transactions for r in results)
    ops = sum(sum(r.counts.values()) for r in results)
    return {"demo_tx_per_second": round(txs / elapsed, 1), "demo_ops_per_second": round(ops / elapsed, 1),
            "demo_transactions": txs, "demo_seconds": round(elapsed, 2)}


def render_markdown(figures: dict) -> str:
    lines = ["# Benchmark results", "", "Produced by `make bench` (`python -m consortium.cli bench`). "
             "Gas is exact and deterministic; seconds are from this machine, measured in the same run "
             "as their baseline.", "", "| figure | value |", "|---|---|"]
    for k in sorted(figures):
        v = figures[k]
        lines.append(f"| `{k}` | {v:,} |" if isinstance(v, (int, float)) else f"| `{k}` | {v} |")
    return "\n".join(lines) + "\n"
