"""The chain stopped mid-day and restarted from its saved state: the day finishes, nothing lost or twice.

A tiny business day runs as the demo in a subprocess against a chain of the test's own (same kind as
the test network): the annuity line, then the demo indexes and stops; the chain is stopped (SIGTERM:
it saves its state) and restarted from that state; a new demo process resumes the day (agents over
their stores, the indexer at its cursor), runs the settlement line and writes every regulator's
report. Then, from the chain itself: every keyed record exists exactly once, the resumed index equals
a fresh full index (no duplicate, no missing event) and every report verified. Two lines keep it
short; every other line's batches are covered agent by agent in the test_killed_* modules.
"""

import json
import os
import subprocess
import sys
from collections import Counter
from types import SimpleNamespace

from web3 import HTTPProvider, Web3

from consortium import chain
from consortium.chain import ROOT
from consortium.reporting.indexer import Indexer, sources_from_contracts
from consortium.reporting.rules import load_rules

# keyed records of the day: event -> the arguments that identify one record (each must appear once)
UNIQUE = {
    "ContributionBatchReceived": ("batchRef",),
    "ContributionBatchPosted": ("batchId",),
    "TradesUploaded": ("cycleId", "party", "totalCount"),
    "SecondClearingDistributed": ("cycleId", "party", "secondParty"),
    "CycleSettled": ("cycleId",),
    "DepositIssued": ("paymentRef",),
}
LINES = ("annuity", "settlement")


def _demo(node, out, *args):
    """The demo as a separate process attached to `node` (an agent restart is a new process)."""
    cmd = [
        sys.executable,
        "-m",
        "consortium.cli",
        "demo",
        "--in-process",
        "--network",
        node.network,
        "--rpc-port",
        str(node.port),
        "--out",
        str(out),
        *args,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(
        cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _index(w3, day, db):
    """An indexer of the recorded suite (the reporting rules' sources) into `db`."""
    proj = chain.project()
    contracts = {
        k: SimpleNamespace(address=a, abi=getattr(proj, k.split(":")[0]).abi)
        for k, a in day["suite"].items()
    }
    return Indexer(
        w3, sources_from_contracts(contracts, load_rules()), f"sqlite:///{db}", day["block"]
    )


def test_day__chain_restarted_mid_day__agents_and_index_resume_nothing_lost_or_twice(
    restartable_chain, tmp_path
):
    node, out = restartable_chain, tmp_path / "day"
    config = ROOT / "tests/faults/consortium-restart.yaml"
    first = _demo(
        node,
        out,
        "--config",
        str(config),
        "--size",
        "tiny",
        "--lines",
        *LINES,
        "--stop-after",
        "annuity",
    )
    assert "stopped after annuity" in first
    day = json.loads((out / "day.json").read_text())
    assert [r["line"] for r in day["results"]] == ["annuity"]
    w3 = Web3(HTTPProvider(node.url))
    index = _index(w3, day, out / f"index-{w3.eth.chain_id}.sqlite")
    cursor = index.state()
    assert cursor["cursor_block"] == w3.eth.block_number  # indexed up to the stop

    node.stop()
    node.start()  # from its saved state
    assert w3.eth.block_number == cursor["cursor_block"]
    assert (
        "0x" + bytes(w3.eth.get_block(cursor["cursor_block"])["hash"]).hex()
        == cursor["cursor_hash"]
    )

    second = _demo(node, out, "--resume")
    assert "resumed: 0 batch(es) booked from the chain, 0 resent" in second
    assert "all checks passed" in second and "VERIFICATION FAILED" not in second
    day = json.loads((out / "day.json").read_text())
    assert [r["line"] for r in day["results"]] == list(LINES)
    assert all(all(r["checks"].values()) for r in day["results"])
    assert second.count("verified on chain") == 2  # one report per regulator

    # the index resumed at its cursor (no restart detected) and equals a fresh full index
    assert index.state()["restarts"] == 0 and index.state()["cursor_block"] > cursor["cursor_block"]
    fresh = _index(w3, day, tmp_path / "fresh-index.sqlite")
    fresh.run()
    keys = index.keys()
    assert keys == fresh.keys() and len(set(keys)) == len(keys)

    # every keyed record on chain exactly once, as many as the day's results say
    events = fresh.events_named(UNIQUE)
    for name, fields in UNIQUE.items():
        ids = Counter(tuple(e["args"][f] for f in fields) for e in events if e["event"] == name)
        assert ids and max(ids.values()) == 1, (name, ids.most_common(1))
    got = Counter(e["event"] for e in events)
    assert got["ContributionBatchReceived"] == got["ContributionBatchPosted"] == 2  # two months
    first_parties = 2  # the two brokers of consortium-restart.yaml
    assert got["SecondClearingDistributed"] == 2 * first_parties  # from the CCP and the CSD
    assert got["CycleSettled"] == 1
    versions = Counter((a["regulator"], a["day"]) for a in _anchors(w3, day))
    assert len(versions) == 2 and set(versions.values()) == {1}  # one version per report
    index.dispose()
    fresh.dispose()


def _anchors(w3, day):
    """ReportAnchored events (not indexed by the reporting rules) straight from the chain."""
    anchor = w3.eth.contract(
        address=day["suite"]["ReportAnchor"], abi=chain.project().ReportAnchor.abi
    )
    return [
        dict(e["args"]) for e in anchor.events.ReportAnchored().get_logs(from_block=day["block"])
    ]
