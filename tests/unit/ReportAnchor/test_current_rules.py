"""currentRules before the first setRules: all zero, and the first version must be above zero."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash
from tests.fixtures.reporting import BUSINESS_UTC_OFFSET


@pytest.fixture(scope="module")
def fresh_anchor(ReportAnchor, registry, registry_admin):
    """A ReportAnchor no rules were registered on yet (the shared fixture registers the rules file)."""
    return ReportAnchor.deploy(registry, BUSINESS_UTC_OFFSET, {"from": registry_admin})


def test_currentRules__no_rules_yet__all_zero(fresh_anchor):
    assert tuple(fresh_anchor.currentRules()) == ("0x" + "00" * 32, 0, 0, 0)
    assert fresh_anchor.rulesCount() == 0
    with brownie.reverts("AnchorUnknownRulesIndex: 0, 0"):
        fresh_anchor.rulesAt(0)


def test_setRules__first_version_zero__reverts_and_registers_nothing(fresh_anchor, registry_admin):
    with brownie.reverts("AnchorRulesVersionNotIncreasing: 0, 0"):
        fresh_anchor.setRules(doc_hash("rules v0"), 0, {"from": registry_admin})
    assert fresh_anchor.rulesCount() == 0
    assert fresh_anchor.rulesVersionOf(doc_hash("rules v0")) == 0


def test_setRules__first_version_one__becomes_current(fresh_anchor, registry_admin):
    h = doc_hash("rules v1")
    tx = fresh_anchor.setRules(h, 1, {"from": registry_admin})
    assert tx.events["RulesSet"]["version"] == 1
    cur = fresh_anchor.currentRules()
    assert (cur[0], cur[1], cur[2], cur[3]) == ("0x" + h.hex(), 1, tx.timestamp, tx.block_number)
