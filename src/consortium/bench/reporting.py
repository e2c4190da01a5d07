"""Gas figures of the reporting line (ReportAnchor), on a fresh registry.

`bench_reporting(proj, accounts)` deploys its own registry, admits a regulator and a reporting node,
and returns a flat dict of named gas figures for `make bench`.
"""

from __future__ import annotations

from typing import Any

from consortium.config import DEFAULT_BUSINESS_TIME_ZONE
from consortium.domain.days import fixed_utc_offset
from consortium.domain.hashing import code32, doc_hash
from consortium.reporting.rules import load_rules
from consortium.reporting.verify import build_tree, leaf_value
from consortium.roles.membership import Institution, PermissionManager


def bench_reporting(proj: Any, accounts: Any, leaves: int = 1024) -> dict[str, int]:
    """Deploy, setRules, anchor (first and next version),
    verifyRecord of a `leaves`-record report."""
    admin, reg_acc, rep_acc = accounts[0], accounts[1], accounts[3]
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash("bench manager"), code32("CN"), {"from": admin}
    )
    manager = PermissionManager("bench manager", admin, registry, "CN")
    regulator = Institution("bench regulator", reg_acc, registry, "CN")
    manager.admit(regulator, ["REGULATOR"], None)
    reporter = Institution("bench reporter", rep_acc, registry, "CN")
    manager.admit(reporter, ["REPORTER"], reg_acc.address)
    manager.connect(reporter, regulator, "bench reporting agreement")  # anchors only over a channel
    # the default business time zone's offset, as deploy_all sets it (Asia/Shanghai: +28800)
    offset = fixed_utc_offset(DEFAULT_BUSINESS_TIME_ZONE)
    anchor = proj.ReportAnchor.deploy(registry, offset, {"from": admin})
    rules = load_rules()
    set_rules = anchor.setRules(rules.rules_hash, rules.version, {"from": admin})
    day = int(anchor.today())
    values = [
        leaf_value(reg_acc.address, day, rules.rules_hash, doc_hash(f"record {i}"))
        for i in range(leaves)
    ]
    tree = build_tree(values)
    first = anchor.anchor(
        reg_acc.address, day, 1, tree.root, rules.rules_hash, leaves, {"from": rep_acc}
    )
    second = anchor.anchor(
        reg_acc.address, day, 2, tree.root, rules.rules_hash, leaves, {"from": rep_acc}
    )
    proof = tree.get_proofs(values[0])
    verify_gas = anchor.verifyRecord.estimate_gas(reg_acc.address, day, 1, values[0][3], proof)
    return {
        "reporting.ReportAnchor.deploy": int(anchor.tx.gas_used),
        "reporting.setRules": int(set_rules.gas_used),
        "reporting.anchor.first_version": int(first.gas_used),
        "reporting.anchor.next_version": int(second.gas_used),
        f"reporting.verifyRecord.{leaves}_leaves(estimate)": int(verify_gas),
    }
