"""A transfer or financing row names the holding it draws on by node_id or by from_documents (the
documents of the bill or transfer that gave it, what a bank's systems know), never both, never
neither. Pure Python: config/consortium.yaml, no chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from consortium.agent.inbox import InboxContext, InconsistentRows, read_rows
from consortium.config import load_consortium

ROOT = Path(__file__).resolve().parents[2]
CTX = InboxContext.of(load_consortium(ROOT / "config/consortium.yaml"), "tier1-supplier")
DOCS = "ab" * 32
HEADER = "request_ref,node_id,from_documents,to,amount,documents_sha256\n"


def rows(*lines: str) -> list[dict]:
    return read_rows("bill-transfers-x.csv", (HEADER + "".join(lines)).encode(), CTX)[1]


def test_transfer__by_documents__typed_bytes_and_no_node():
    (row,) = rows(f"TR-1,,{'cd' * 32},tier2-supplier-a,5,{DOCS}\n")
    assert row["node_id"] is None and row["from_documents"] == bytes.fromhex("cd" * 32)


def test_transfer__by_node__no_documents():
    (row,) = rows(f"TR-1,7,,tier2-supplier-a,5,{DOCS}\n")
    assert row["node_id"] == 7 and row["from_documents"] is None


@pytest.mark.parametrize("node,docs", [("7", "cd" * 32), ("", "")])
def test_transfer__both_or_neither__refused_at_its_line(node, docs):
    good = f"TR-1,7,,tier2-supplier-a,5,{DOCS}\n"
    with pytest.raises(InconsistentRows) as exc:
        rows(good, f"TR-2,{node},{docs},tier2-supplier-a,5,{DOCS}\n")
    assert exc.value.line == 3 and "node_id or from_documents" in exc.value.reason


def test_financing__same_rule():
    header = "request_ref,node_id,from_documents,amount,documents_sha256\n"
    data = (header + f"FIN-1,,,5,{DOCS}\n").encode()
    ctx = InboxContext.of(CTX.consortium, "tier2-supplier-a")
    with pytest.raises(InconsistentRows):
        read_rows("bill-financing.csv", data, ctx)
