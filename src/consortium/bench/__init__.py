"""`make bench`: gas and throughput figures -> bench/RESULTS.md and bench/results.json.

Gas figures are deterministic (same compiler, same inputs); seconds depend on the machine and are
measured in the same run as their baseline, so ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import time
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from rich.console import Console

from consortium import chain
from consortium.bench import (
    annuity,
    bills,
    confirmations,
    holding,
    lookthrough,
    reporting,
    settlement,
)
from consortium.bootstrap import institution_key
from consortium.domain.hashing import code32, deterministic_salts, doc_hash

# one module per line; each module's `bench_<line>(proj, accounts, ...)` returns its figures
LINE_BENCHES = {
    "annuity": annuity.bench_annuity,
    "bills": bills.bench_bills,
    "confirmations": confirmations.bench_confirmations,
    "settlement": settlement.bench_settlement,
    "holding": holding.bench_holding,
    "reporting": reporting.bench_reporting,
    "lookthrough": lookthrough.bench_lookthrough,
}


def _rpc_batch(url: str, calls: list[tuple[str, list]]) -> list:
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    reply = requests.post(url, json=body, timeout=120).json()
    return [r.get("result") for r in sorted(reply, key=lambda r: r["id"])]


def _send_presigned(url: str, raws: list[str], one_batch: bool) -> tuple[list[dict], float]:
    """Post presigned transactions (one HTTP request each, or one JSON-RPC batch) without waiting,
    then collect every receipt in batches; returns the receipts and the seconds it took."""
    session = requests.Session()
    t0 = time.perf_counter()
    if one_batch:
        hashes = _rpc_batch(url, [("eth_sendRawTransaction", [r]) for r in raws])
    else:
        hashes = [
            session.post(
                url,
                json={"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [r]},
            ).json()["result"]
            for i, r in enumerate(raws)
        ]
    receipts: dict[str, dict] = {}
    pending = list(hashes)
    while pending:
        for h, r in zip(
            pending, _rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in pending])
        ):
            if r is not None:
                receipts[h] = r
        pending = [h for h in pending if h not in receipts]
    return [receipts[h] for h in hashes], time.perf_counter() - t0


def _funded_sender(accounts, seed: str) -> Any:
    sender = Account.from_key(institution_key(0, seed))
    accounts[0].transfer(sender.address, 10**20, silent=True)
    return sender


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
    figures: dict[str, float] = {"raw_tx_count": n}
    for label, seed in (
        ("raw_tx_per_second", "bench-raw-1"),
        ("raw_tx_per_second_batch_rpc", "bench-raw-2"),
    ):
        sender = _funded_sender(accounts, seed)
        nonce = w3.eth.get_transaction_count(sender.address)
        raws = [
            "0x"
            + sender.sign_transaction(
                {
                    "to": accounts[1].address,
                    "value": 1,
                    "gas": 21000,
                    "gasPrice": gas_price,
                    "nonce": nonce + i,
                    "chainId": chain_id,
                }
            ).raw_transaction.hex()
            for i in range(n)
        ]
        _, elapsed = _send_presigned(url, raws, one_batch=label != "raw_tx_per_second")
        figures[label] = round(n / elapsed, 1)
    return figures


def business_tx_per_second(accounts, n: int = 2000) -> dict[str, float]:
    """The chain's ceiling for a business transaction, so a reader sees whether the day's gap to
    `raw_tx_per_second` is the driver or the chain's execution. n identical registry calls
    (`addOperator`, storage-writing like most of the day) from one member, measured twice:

    - `business_tx_per_second`: presigned, posted one by one without waiting (as the raw figure);
    - `business_tx_per_second_pipe`: through consortium.txpipe.TxPipe, encoding and signing
      inside the clock, as the day's driver sends.
    """
    from consortium.roles.membership import Institution, PermissionManager
    from consortium.txpipe import TxPipe

    w3 = chain.web3()
    admin = accounts[0]
    registry = chain.project().ConsortiumRegistry.deploy(
        doc_hash("bench: business ceiling"), code32("CN"), {"from": admin, "silent": True}
    )
    manager = PermissionManager("bench manager", admin, registry, "CN")
    regulator = Institution(
        "bench regulator", accounts.add(institution_key(0, "bench-biz-reg")), registry
    )
    admin.transfer(regulator.account, 10**20, silent=True)
    manager.admit(regulator, ["REGULATOR"], None)
    figures: dict[str, float] = {"business_tx_count": n}
    for label in ("business_tx_per_second", "business_tx_per_second_pipe"):
        member = Institution(label, accounts.add(institution_key(0, f"bench-{label}")), registry)
        admin.transfer(member.account, 10**20, silent=True)
        manager.admit(member, ["BROKER"], regulator.address)
        operators = [Account.from_key(institution_key(i, label)).address for i in range(n)]
        if label == "business_tx_per_second":
            pipe = TxPipe(w3)
            nonce = w3.eth.get_transaction_count(member.address)
            raws = [
                "0x"
                + Account.sign_transaction(
                    {
                        "to": registry.address,
                        "data": registry.addOperator.encode_input(op),
                        "value": 0,
                        "gas": pipe.gas,
                        "gasPrice": pipe.gas_price,
                        "nonce": nonce + i,
                        "chainId": w3.eth.chain_id,
                    },
                    member.account.private_key,
                ).raw_transaction.hex()
                for i, op in enumerate(operators)
            ]
            receipts, elapsed = _send_presigned(w3.provider.endpoint_uri, raws, one_batch=False)
            assert all(
                int(r["status"], 16) == 1 for r in receipts
            ), "business ceiling: a call failed"
            figures["business_tx_gas"] = int(receipts[-1]["gasUsed"], 16)
        else:
            pipe = TxPipe(w3)
            piped = pipe.piped(member)
            t0 = time.perf_counter()
            for op in operators:
                piped.add_operator(op)
            pipe.wait()
            elapsed = time.perf_counter() - t0
        figures[label] = round(n / elapsed, 1)
    return figures


def run_bench(accounts, args: argparse.Namespace) -> int:
    console = Console()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, float | int | str] = {}
    proj = chain.project()
    figures.update(raw_tx_per_second(accounts, 500 if args.quick else 2000))
    console.print(f"raw ceiling: {figures['raw_tx_per_second']} tx/s")
    # the business ceiling and the day on the node the raw ceiling was just measured on (a
    # long-lived anvil slows down), then back to this state: the line benches run on the node as
    # they did
    chain.brownie.chain.snapshot()
    # 500 calls in both modes: a longer burst outruns anvil's automine (one 16M-gas call per block)
    # and the backlog it leaves slows every later transaction of the run
    figures.update(business_tx_per_second(accounts, 500))
    console.print(
        f"business ceiling: {figures['business_tx_per_second']} tx/s presigned, "
        f"{figures['business_tx_per_second_pipe']} tx/s through TxPipe"
    )
    figures.update(demo_throughput(accounts, args, float(figures["raw_tx_per_second"])))
    console.print(
        f"business day ({figures['demo_size']}): {figures['demo_tx_per_second']} tx/s, "
        f"{figures['demo_tx_ratio_to_raw']:.1%} of the raw ceiling"
    )
    figures.update(day_processes_figures(accounts, out, float(figures["business_tx_per_second"])))
    console.print(
        f"multi-process day ({figures['day_processes_lines']}): "
        f"{figures['day_processes_tx_per_second']} tx/s, "
        f"{figures['day_processes_tx_ratio_to_business']:.1%} of the business ceiling, "
        f"agents' peak memory {figures['day_processes_peak_rss_mb']} MB (proportional set sizes)"
    )
    figures.update(ceiling_after_days(accounts))
    console.print(
        f"business ceiling after the days: {figures['business_tx_per_second_after_days']} tx/s "
        "presigned"
    )
    chain.brownie.chain.revert()
    for line, fn in LINE_BENCHES.items():
        t0 = time.perf_counter()
        kwargs = {}
        if args.quick and "sizes" in inspect.signature(fn).parameters:
            kwargs["sizes"] = (100, 1000)  # smoke run; the full run measures 100 and 10,000 trades
        with deterministic_salts(f"bench-{line}"):  # gas figures repeat exactly, run after run
            figures.update(fn(proj, accounts, **kwargs))
        console.print(f"{line}: done in {time.perf_counter() - t0:.1f} s")
    figures["machine"] = (
        f"{platform.machine()} {platform.python_version()} network={chain.network_name()}"
    )
    (out / "results.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    results_md = out / "RESULTS.md"
    notes = kept_notes(results_md.read_text()) if results_md.exists() else ""
    results_md.write_text(render_markdown(figures, notes))
    console.print(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    return 0


def demo_throughput(accounts, args: argparse.Namespace, raw: float) -> dict[str, float]:
    """The business day's driver (`medium` profile, also with --quick: the `quick` day is too
    small for pipelining to show, each phase's latency not amortised) measured honestly.

    Business seconds run from the day's first business transaction sent to its last receipt
    collected (deploy, bootstrap and the regulators' reports are reported as their own seconds);
    `demo_tx_ratio_to_raw` compares with `raw_tx_per_second` of the same run."""
    from consortium.demo import run_day

    size = "medium"
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    results, _ = run_day(
        accounts,
        "config/consortium.yaml",
        size,
        20261122,
        Path(args.out) / "day",
        Console(quiet=True),
        seconds=seconds,
    )
    elapsed = time.perf_counter() - t0
    windows = [r.window for r in results if r.window]
    business = max(w[1] for w in windows) - min(w[0] for w in windows)
    txs = sum(r.transactions for r in results)
    ops = sum(sum(v for v in r.counts.values() if isinstance(v, int)) for r in results)
    tps = txs / business
    figures: dict[str, float | str] = {
        "demo_size": size,
        "demo_transactions": txs,
        "demo_operations": ops,
        "demo_business_seconds": round(business, 2),
        "demo_tx_per_second": round(tps, 1),
        "demo_ops_per_second": round(ops / business, 1),
        "demo_tx_ratio_to_raw": round(tps / raw, 3),
        "demo_gas_per_tx": round(sum(r.gas for r in results) / max(txs, 1)),
        "demo_seconds": round(elapsed, 2),
    }
    for stage in ("deploy", "bootstrap", "reports"):
        figures[f"demo_{stage}_seconds"] = round(seconds[stage], 2)
    for r in results:
        if r.window:
            span = r.window[1] - r.window[0]
            figures[f"demo_{r.line}_transactions"] = r.transactions
            figures[f"demo_{r.line}_business_seconds"] = round(span, 2)
            figures[f"demo_{r.line}_tx_per_second"] = round(r.transactions / span, 1)
    return figures


def ceiling_after_days(accounts) -> dict[str, float]:
    """The business ceiling again, on the node that now holds the two days' state: an automining
    anvil recomputes its whole state root for every block (two thirds of its CPU on the large day,
    `perf`), so each transaction costs more as the state grows, and a day runs on a chain slower
    at its end than the empty one `business_tx_per_second` measures."""
    after = business_tx_per_second(accounts, 500)
    return {
        "business_tx_per_second_after_days": after["business_tx_per_second"],
        "business_tx_per_second_pipe_after_days": after["business_tx_per_second_pipe"],
    }


def day_processes_figures(accounts, out: Path, business: float) -> dict[str, Any]:
    """The medium day played by one agent process per institution (consortium.dayrun.bench), on
    the node the business ceiling was just measured on; `day_processes_tx_ratio_to_business`
    compares the two (the goal: at least 50%)."""
    from consortium.dayrun.bench import day_processes_throughput

    figures = day_processes_throughput(accounts, out / "day-processes", "medium")
    figures["day_processes_tx_ratio_to_business"] = round(
        figures["day_processes_tx_per_second"] / business, 3
    )
    return figures


# RESULTS.md below this line is kept by `make bench`: runs measured by hand (the large day takes
# most of an hour), which the next benchmark run must not erase
NOTES_MARK = "<!-- measured by hand: kept by make bench -->"


def kept_notes(text: str) -> str:
    """The hand-measured part of an earlier RESULTS.md (from NOTES_MARK on), or ""."""
    at = text.find(NOTES_MARK)
    return text[at:] if at >= 0 else ""


def render_markdown(figures: dict, notes: str = "") -> str:
    lines = [
        "# Benchmark results",
        "",
        (
            "Produced by `make bench` (`python -m consortium.cli bench`). "
            "Gas is exact and deterministic; seconds are from this machine, measured in the same "
            "run as their baseline."
        ),
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for k in sorted(figures):
        v = figures[k]
        lines.append(f"| `{k}` | {v:,} |" if isinstance(v, (int, float)) else f"| `{k}` | {v} |")
    text = "\n".join(lines) + "\n"
    return f"{text}\n{notes.rstrip()}\n" if notes else text
