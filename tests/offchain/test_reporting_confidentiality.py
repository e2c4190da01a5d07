"""The confidentiality table in the rules file: itself consistent, and every rule checked against
it at load with a named error (a secret field in clear, a secret field read from chain, ...)."""

import pytest

from consortium.reporting.rules import (
    ConfidentialFieldInClear,
    ConfidentialityTableError,
    RulesError,
    SecretFieldFromChain,
    SecretFieldInClear,
    UnknownDataType,
    load_rules,
    parse_rules,
)

GOOD = """version: 3
confidentiality:
  amounts: {level: public, readers: [parties, regulators, consortium], on_chain: clear, params: [amount]}
  holdings: {level: confidential, readers: [parties, regulators], on_chain: clear, params: [units]}
  owner: {level: secret, readers: [regulators], on_chain: commitment, disclosed: [ownerHash]}
  positions: {level: secret, readers: [regulators], on_chain: sealed, params: [sealedRecord]}
tables:
  flows: {title: Flows}
rules:
  - id: paid
    line: settlement
    contract: Settlement
    event: Paid
    table: flows
    parties: [payer, payee]
    fields:
      amount: public
      units: confidential
      ownerHash: public
      owner: {from: ownerHash, level: confidential, disclosed: true}
"""


def test_shipped_rules__confidentiality_table__levels_and_on_chain_forms():
    rules = load_rules()
    table = rules.confidentiality
    assert table["investor_identity"].level == "secret"
    assert table["investor_identity"].on_chain == "commitment"
    assert table["investor_positions"].on_chain == "sealed"
    assert table["investor_positions"].readers == ("regulators",)
    # every secret type is off chain in clear; the shipped rules report none of them in clear
    assert all(t.on_chain != "clear" for t in table.values() if t.level == "secret")
    for rule in rules.rules:
        for f in rule.fields:
            dt = rules.data_type_of(f)
            if dt is not None and dt.level != "public":
                assert f.level == "confidential", (rule.id, f.name)


def test_parse__good__data_types_resolved_by_param_and_disclosure():
    r = parse_rules(GOOD, "x.yaml")
    amount, units, owner_hash, owner = r.rules[0].fields
    assert r.data_type_of(amount).name == "amounts"
    assert r.data_type_of(units).name == "holdings"
    assert r.data_type_of(owner_hash) is None  # the hash itself: not the secret value
    assert r.data_type_of(owner).name == "owner"


@pytest.mark.parametrize(
    "old,new,error,message",
    [
        (
            "      units: confidential\n",
            "      units: public\n",
            ConfidentialFieldInClear,
            r"x.yaml:18: rule 'paid' field 'units': data type 'holdings' is confidential",
        ),
        (
            "      owner: {from: ownerHash, level: confidential, disclosed: true}\n",
            "      owner: {from: ownerHash, level: public, type: owner}\n",
            SecretFieldInClear,
            r"field 'owner': data type 'owner' is secret .*cannot be reported in clear",
        ),
        (
            "      owner: {from: ownerHash, level: confidential, disclosed: true}\n",
            "      owner: {from: ownerHash, level: confidential, type: owner}\n",
            SecretFieldFromChain,
            r"field 'owner': data type 'owner' is secret: the chain holds only its commitment",
        ),
        (
            "      units: confidential\n",
            "      sealed: {from: sealedRecord, level: confidential}\n",
            SecretFieldFromChain,
            r"data type 'positions' is secret: the chain holds only its sealed form",
        ),
        (
            "      units: confidential\n",
            "      units: {level: confidential, type: holding}\n",
            UnknownDataType,
            r"data type 'holding' is not in the confidentiality table",
        ),
        (
            "on_chain: commitment, disclosed",
            "on_chain: clear, disclosed",
            ConfidentialityTableError,
            r"'owner': a secret data type is never in clear on chain",
        ),
        (
            "readers: [parties, regulators], on_chain: clear, params: [units]",
            "readers: [parties, consortium], on_chain: clear, params: [units]",
            ConfidentialityTableError,
            r"'holdings': a confidential data type is not read by the whole consortium",
        ),
        (
            "{level: public, readers: [parties, regulators, consortium]",
            "{level: open, readers: [parties, regulators, consortium]",
            ConfidentialityTableError,
            r"level 'open' unknown",
        ),
        (
            "on_chain: sealed, params: [sealedRecord]",
            "on_chain: sealed, params: [units]",
            ConfidentialityTableError,
            r"params 'units' is already data type 'holdings'",
        ),
        (
            "readers: [regulators], on_chain: sealed",
            "readers: [investors], on_chain: sealed",
            ConfidentialityTableError,
            r"readers \['investors'\] must be a non-empty subset",
        ),
    ],
)
def test_parse__breaks_confidentiality__named_error(old, new, error, message):
    assert old in GOOD
    with pytest.raises(error, match=message) as info:
        parse_rules(GOOD.replace(old, new, 1), "x.yaml")
    assert isinstance(info.value, RulesError)  # every command reports it in one sentence


def test_parse__no_table__rules_load_unchecked():
    doc = GOOD.split("confidentiality:")[0] + "tables:" + GOOD.split("tables:")[1]
    assert parse_rules(doc).confidentiality == {}
