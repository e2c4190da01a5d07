"""Benchmark of the confirmations line: gas per anchored record against the floor, and the 1M-record
reconciliation time against a plain pandas merge of the same data (a ratio, since the machine is
shared).

Floor of one anchoring transaction = 21,000 intrinsic + calldata gas of the actual input bytes
(4 per zero byte, 16 per non-zero byte) + one fresh storage slot (20,000 SSTORE + 2,100 cold
access); divided by the records under the root.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import pandas as pd

from consortium.domain import merkle
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.reconciliation import plain_merge, reconcile
from consortium.roles import confirmations as line
from consortium.roles.membership import Institution, PermissionManager

INTRINSIC = 21_000
FRESH_SLOT = 22_100
SIZES = (1, 100, 1_000)
PERIOD = 20_454  # a business day (days since 1970-01-01): 2026-01-01


def calldata_gas(data: bytes) -> int:
    """Calldata cost of a transaction input (EIP-2028: 16 per non-zero byte, 4 per zero byte)."""
    return sum(16 if b else 4 for b in data)


def _input_bytes(tx: Any) -> bytes:
    raw = tx.input
    return bytes.fromhex(raw[2:]) if isinstance(raw, str) else bytes(raw)


def anchor_gas(proj: Any, accounts: Any) -> dict[str, float]:
    """Deploy a fresh registry and the line; anchor roots of 1, 100 and 1,000 records both ways."""
    admin = accounts[0]
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash("bench manager"), code32("CN"), {"from": admin}
    )
    suite = line.deploy(proj, registry, admin)
    anchor = suite["ConfirmationAnchor"]
    mgr = PermissionManager("bench manager", admin, registry)
    reg = Institution("bench regulator", accounts[1], registry)
    mgr.admit(reg, ["REGULATOR"], None)
    bank = Institution("bench sales bank", accounts[3], registry)
    issuer = Institution("bench issuer", accounts[4], registry)
    mgr.admit(bank, ["SALES_BANK"], reg.address)
    mgr.admit(issuer, ["PRODUCT_ISSUER"], reg.address)
    mgr.connect(bank, issuer, "bench agreement")
    out: dict[str, float] = {}
    for n in SIZES:
        for how in ("packet", "period"):
            rng = random.Random(f"anchor-{how}-{n}")  # seeded: calldata, so gas, repeats exactly
            recs = [
                (PERIOD, rng.randbytes(32), issuer.address, rng.randbytes(32)) for _ in range(n)
            ]
            tree = merkle.RecordTree(recs)
            if how == "packet":
                tx = anchor.anchorPacket(
                    issuer.address, PERIOD, tree.root, n, {"from": bank.account}
                )
            else:
                tx = anchor.anchorPeriod(
                    PERIOD, tree.root, n, [issuer.address], {"from": bank.account}
                )
            floor = INTRINSIC + calldata_gas(_input_bytes(tx)) + FRESH_SLOT
            prefix = "anchor" if how == "packet" else "anchor_period"
            out[f"{prefix}_gas_per_record_{n}"] = round(tx.gas_used / n, 2)
            out[f"{prefix}_floor_per_record_{n}"] = round(floor / n, 2)
            if n == SIZES[-1]:
                out[f"{prefix}_ratio_to_floor_{n}"] = round(tx.gas_used / floor, 3)
    return out


def synthetic_day(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """n committed bilateral records and both sides, with ~0.1 % breaks of every class."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(1, n + 1, dtype=np.int64) * 7919)
    amounts = rng.integers(1, 10_000_000, n, dtype=np.int64)
    committed = np.ones(n, bool)
    k = max(1, n // 1000)
    committed[:k] = False
    resolved = np.where(committed, np.nan, amounts.astype(float))
    bil = pd.DataFrame(
        {"id": ids, "amount": amounts, "committed": committed, "resolved_amount": resolved}
    )
    debit = pd.DataFrame({"id": ids, "amount": amounts})
    credit = debit.copy()
    debit = debit.drop(index=np.arange(k, 2 * k))
    credit.loc[2 * k : 3 * k - 1, "amount"] += 1
    debit = pd.concat(
        [
            debit,
            debit.iloc[3 * k : 4 * k],
            pd.DataFrame({"id": -np.arange(1, k + 1, dtype=np.int64), "amount": 5}),
        ],
        ignore_index=True,
    )
    return bil, debit.sample(frac=1, random_state=1), credit.sample(frac=1, random_state=2)


def reconcile_1m(n: int = 1_000_000) -> dict[str, float]:
    """Seconds to reconcile n records with the engine, and to merge the same frames plainly
    (same run)."""
    bil, debit, credit = synthetic_day(n)
    t0 = time.perf_counter()
    plain_merge(bil, debit, credit)
    t1 = time.perf_counter()
    res = reconcile(bil, debit, credit)
    t2 = time.perf_counter()
    return {
        "reconcile_1m_seconds": round(t2 - t1, 3),
        "pandas_merge_1m_seconds": round(t1 - t0, 3),
        "reconcile_1m_ratio_to_merge": round((t2 - t1) / (t1 - t0), 2),
        "reconcile_1m_breaks": len(res.breaks),
    }


def bench_confirmations(proj: Any, accounts: Any, records: int = 1_000_000) -> dict[str, float]:
    """Flat dict of the line's figures for `make bench`."""
    return anchor_gas(proj, accounts) | reconcile_1m(records)


if __name__ == "__main__":  # pragma: no cover - manual run without a chain
    print(reconcile_1m())
