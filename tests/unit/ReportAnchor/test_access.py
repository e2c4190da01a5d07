"""ReportAnchor access, the allowed side: each function from each caller that may call it. Refusals
by caller (the reporter without a channel to the regulator among them) live in tests/access/matrix.py.
"""

import pytest

from consortium.domain.hashing import doc_hash

H = doc_hash("rules v9")
ROOT = doc_hash("root")

# function -> args builder
TABLE = {
    "setRules": lambda c: (H, 9),
    "anchor": lambda c: (c["regulator"], c["day"], 1, ROOT, c["rules_hash"], 3),
}
ALLOWED = {"setRules": ["manager", "reporter"], "anchor": ["reporter"]}


@pytest.fixture(scope="module")
def cast(report_anchor, rules, manager, regulator_cn, reporter):
    return {
        "regulator": regulator_cn.address,
        "day": report_anchor.today(),
        "rules_hash": rules.rules_hash,
        "accounts": {"manager": manager.account, "reporter": reporter.account},
    }


@pytest.mark.parametrize("fn,caller", [(f, c) for f in sorted(ALLOWED) for c in ALLOWED[f]])
def test_allowed__right_caller__succeeds(report_anchor, cast, fn, caller):
    tx = getattr(report_anchor, fn)(*TABLE[fn](cast), {"from": cast["accounts"][caller]})
    assert tx.status == 1
