"""definePlan: versions appended, never edited; every malformed plan refused with state unchanged."""

import brownie
import pytest

from consortium.domain.hashing import code32
from tests.fixtures.annuity import PLANS, c32

B = code32("BALANCED")


def test_definePlan__new_code__version_one_with_event(plans, trustee):
    tx = plans.definePlan(
        B, [code32("A"), code32("B")], [2500, 7500], {"from": trustee.institution.account}
    )
    ev = tx.events["PlanDefined"]
    assert ev["planCode"] == c32("BALANCED")
    assert ev["version"] == 1
    assert ev["trustee"] == trustee.address
    assert ev["items"] == [c32("A"), c32("B")]
    assert ev["ratiosBps"] == [2500, 7500]
    assert plans.latestVersion(B) == 1
    assert plans.getPlan(B, 1) == ([c32("A"), c32("B")], [2500, 7500])


def test_definePlan__again__appends_version_and_keeps_old(plans, trustee):
    trustee.define_plan("BALANCED", PLANS["BALANCED"])
    assert trustee.define_plan("BALANCED", {"CN_BOND": 10_000}) == 2
    items, _ratios = plans.getPlan(B, 1)
    assert [bytes(i).rstrip(b"\0").decode() for i in items] == list(PLANS["BALANCED"])
    assert plans.getPlan(B, 2) == ([c32("CN_BOND")], [10_000])
    assert plans.latestVersion(B) == 2


def test_definePlan__sixteen_items__accepted(plans, trustee):
    items = {f"ITEM{i}": 625 for i in range(16)}
    assert trustee.define_plan("WIDE", items) == 1
    assert len(plans.getPlan(code32("WIDE"), 1)[0]) == 16


@pytest.mark.parametrize(
    "code,items,ratios,error",
    [
        (B, [], [], r"AnnuityPlanEmpty:.*"),
        (
            B,
            [code32(f"I{i}") for i in range(17)],
            [588] * 16 + [592],
            r"AnnuityPlanTooLarge:.*, 17, 16",
        ),
        (B, [code32("A"), code32("B")], [5000, 4999], r"AnnuityRatiosSum:.*, 9999"),
        (B, [code32("A"), code32("B")], [5000, 5001], r"AnnuityRatiosSum:.*, 10001"),
        (B, [code32("A"), code32("B")], [10_000, 0], r"AnnuityZeroRatio:.*, 1"),
        (B, [code32("A"), b"\0" * 32], [5000, 5000], r"AnnuityZeroItem:.*, 1"),
        (B, [code32("A"), code32("A")], [5000, 5000], r"AnnuityDuplicateItem:.*"),
        (B, [code32("A")], [5000, 5000], r"AnnuityRatiosLengthMismatch: 1, 2"),
        (b"\0" * 32, [code32("A")], [10_000], r"AnnuityZeroPlanCode.*"),
    ],
)
def test_definePlan__bad_input__reverts_and_changes_nothing(
    plans, trustee, code, items, ratios, error
):
    with brownie.reverts(revert_pattern=error):
        plans.definePlan(code, items, ratios, {"from": trustee.institution.account})
    assert plans.latestVersion(code) == 0


@pytest.mark.parametrize("version", [0, 1, 2])
def test_getPlan__unknown_version__reverts(plans, trustee, version):
    if version == 2:
        trustee.define_plan("BALANCED", PLANS["BALANCED"])
    with brownie.reverts(revert_pattern=r"AnnuityUnknownPlan:.*"):
        plans.getPlan(code32("NOPE") if version == 1 else B, version)
