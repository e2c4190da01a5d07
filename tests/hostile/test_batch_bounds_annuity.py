"""Oversized batches, annuity line: each bound accepted under the EIP-7825 gas cap, bound + 1 refused.

Data at the bound is the path that costs most per item where it matters: the first posting of a
contribution (creates every asset record), allocation over a 16-item plan (MAX_PLAN_ITEMS legs per
instruction). postContributions has no size check of its own: it must be the batch received, so a
longer one is refused by hash (AnnuityBatchMismatch).
"""

from types import SimpleNamespace

import pytest

from consortium.domain.hashing import code32, doc_hash
from tests.fixtures.hostile import Bound, bound_tests

CHOICE = b"\xc4" * 32  # a plan choice's evidence hash (the platform keeps the evidence)

PLAN16 = {f"ITEM{i:02}": 625 for i in range(16)}  # MAX_PLAN_ITEMS items, 16 × 625 bps


def _ids(tag, n):
    return [doc_hash(f"hostile {tag} {i}") for i in range(n)]


@pytest.fixture(scope="module")
def world(ledger, plans, platform, trustee, account_manager, investment_manager, annuity_world):
    """256 requested accounts, 256 open ones with a received batch, 50 funded on a 16-item plan."""
    w = SimpleNamespace(
        ledger=ledger,
        plans=plans,
        P=platform.institution.account,
        T=trustee.institution.account,
        M=account_manager.institution.account,
        requested=_ids("requested", 256),
        open=_ids("open", 256),
        alloc=_ids("alloc", 50),
    )
    for group in (w.requested, w.open, w.alloc):
        ledger.requestAccounts(1, group, {"from": w.P})
    for group in (w.open, w.alloc):
        ledger.openAccounts(group, {"from": w.M})
    tx = ledger.receiveContributions(b"\1" * 32, w.open, [1] * 256, {"from": w.T})
    w.batch = tx.events["ContributionBatchReceived"]["batchId"]
    version = trustee.define_plan("HOSTILE16", PLAN16)
    trustee.appoint_investment_manager("HOSTILE16", investment_manager.address)
    for a in w.alloc:
        ledger.choosePlan(a, code32("HOSTILE16"), version, False, CHOICE, {"from": w.P})
    tx = ledger.receiveContributions(b"\2" * 32, w.alloc, [10**6] * 50, {"from": w.T})
    bid = tx.events["ContributionBatchReceived"]["batchId"]
    ledger.postContributions(bid, w.alloc, [10**6] * 50, {"from": w.M})
    return w


def _pad(ids, n):
    """`ids` cut or padded to n (the padding is never looked at: the size is checked first)."""
    return (ids + _ids("pad", n))[:n]


def _accounts(*groups):
    return lambda w: [tuple(w.ledger.getAccount(g[0])) for g in (getattr(w, x) for x in groups)] + [
        w.ledger.batchCount(),
        w.ledger.instructionCount(),
    ]


def _count(event):
    def check(w, tx, n):
        assert len(tx.events[event]) == n

    return check


def _received(w, tx, n):
    ev = tx.events["ContributionBatchReceived"]
    assert len(tx.events["ContributionBatchReceived"]) == 1 and (ev["count"], ev["total"]) == (n, n)


def _defined(w, tx, n):
    assert len(tx.events["PlanDefined"]["items"]) == n
    assert w.plans.latestVersion(code32("HOSTILE-N")) == 1


def _allocated(w, tx, n):
    issued = tx.events["InstructionIssued"]
    assert len(issued) == n and all(
        len(e["legs"]) == 16 and sum(e["legs"]) == 10**6 for e in issued
    )


def _posted(w, tx, n):
    assert len(tx.events["AssetRecordCreated"]) == n and len(tx.events["ContributionPosted"]) == n
    assert w.ledger.getContributionBatch(w.batch)["posted"] is True


BOUNDS = {
    "requestAccounts": Bound(
        256,
        lambda w, n: (w.ledger.requestAccounts, (1, _ids("fresh", n)), w.P),
        r"AnnuityBatchTooLarge: 257, 256",
        lambda w: [tuple(w.ledger.getAccount(a)) for a in _ids("fresh", 257)[::64]],
        _count("AccountOpeningRequested"),
    ),
    "openAccounts": Bound(
        256,
        lambda w, n: (w.ledger.openAccounts, (_pad(w.requested, n),), w.M),
        r"AnnuityBatchTooLarge: 257, 256",
        _accounts("requested"),
        _count("AccountOpened"),
    ),
    "receiveContributions": Bound(
        256,
        lambda w, n: (w.ledger.receiveContributions, (b"\3" * 32, _pad(w.open, n), [1] * n), w.T),
        r"AnnuityBatchTooLarge: 257, 256",
        _accounts("open"),
        _received,
    ),
    "postContributions": Bound(
        256,
        lambda w, n: (w.ledger.postContributions, (w.batch, _pad(w.open, n), [1] * n), w.M),
        r"AnnuityBatchMismatch: .*",
        lambda w: [tuple(w.ledger.getContributionBatch(w.batch))] + _accounts("open")(w),
        _posted,
    ),
    "allocateCash": Bound(
        50,
        lambda w, n: (w.ledger.allocateCash, (_pad(w.alloc, n),), w.T),
        r"AnnuityBatchTooLarge: 51, 50",
        _accounts("alloc"),
        _allocated,
    ),
    "definePlan": Bound(
        16,
        lambda w, n: (
            w.plans.definePlan,
            (
                code32("HOSTILE-N"),
                [code32(f"I{i}") for i in range(n)],
                [10_000 // n] * (n - 1) + [10_000 - 10_000 // n * (n - 1)],
            ),
            w.T,
        ),
        r"AnnuityPlanTooLarge: .*, 17, 16",
        lambda w: w.plans.latestVersion(code32("HOSTILE-N")),
        _defined,
    ),
}


(
    test_batch__at_bound__accepted_under_gas_cap,
    test_batch__bound_plus_one__named_error_state_unchanged,
) = bound_tests(BOUNDS)
