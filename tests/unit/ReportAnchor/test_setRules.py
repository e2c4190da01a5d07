"""ReportAnchor.setRules: history of the reporting rules' hashes."""

import brownie

from consortium.domain.hashing import doc_hash


def test_setRules__deployment__registered_rules_file(report_anchor, rules, registry_admin):
    cur = report_anchor.currentRules()
    assert (cur[0], cur[1]) == (rules.rules_hash_hex, rules.version)
    assert report_anchor.rulesCount() == 1
    assert report_anchor.rulesVersionOf(rules.rules_hash) == rules.version


def test_setRules__reporter_new_version__appended_and_event(report_anchor, reporter, rules, chain):
    h, version = doc_hash("next rules"), rules.version + 1
    tx = report_anchor.setRules(h, version, {"from": reporter.account})
    ev = tx.events["RulesSet"]
    assert (ev["rulesHash"], ev["version"], ev["setter"]) == (
        "0x" + h.hex(),
        version,
        reporter.address,
    )
    assert report_anchor.rulesCount() == 2
    assert report_anchor.rulesAt(0)[0] == rules.rules_hash_hex  # history kept
    r = report_anchor.rulesAt(1)
    assert (r[0], r[1], r[2], r[3]) == ("0x" + h.hex(), version, tx.timestamp, tx.block_number)
    assert report_anchor.currentRules()[1] == version


def test_setRules__version_not_increasing__reverts_state_unchanged(report_anchor, reporter, rules):
    for version in (rules.version, 0):
        with brownie.reverts(f"AnchorRulesVersionNotIncreasing: {version}, {rules.version}"):
            report_anchor.setRules(doc_hash("x"), version, {"from": reporter.account})
    assert report_anchor.rulesCount() == 1


def test_setRules__hash_already_registered__reverts(report_anchor, reporter, rules):
    with brownie.reverts(revert_pattern=r"AnchorRulesAlreadySet:.*"):
        report_anchor.setRules(rules.rules_hash, 5, {"from": reporter.account})
    assert report_anchor.rulesCount() == 1


def test_setRules__zero_hash__reverts(report_anchor, reporter):
    with brownie.reverts("AnchorZeroHash: "):
        report_anchor.setRules(b"\0" * 32, 5, {"from": reporter.account})
    assert report_anchor.rulesCount() == 1


def test_rulesAt__out_of_range__reverts(report_anchor):
    with brownie.reverts("AnchorUnknownRulesIndex: 1, 1"):
        report_anchor.rulesAt(1)
