"""Rules file parsing: the shipped file is valid; malformed files name the line and the problem."""

import pytest

from consortium.reporting.rules import RulesError, event_value, load_rules, parse_rules

GOOD = """version: 3
tables:
  flows: {title: Flows, chart: {type: flow, from: payer, to: payee, value: amount}}
rules:
  - id: paid
    line: settlement
    contract: Settlement
    event: Paid
    table: flows
    parties: [payer, payee]
    fields:
      amount: public
      ref: {level: confidential, recipients: [payer]}
"""


def test_load_rules__shipped_file__valid_and_hashed():
    rules = load_rules()
    assert rules.version >= 1 and len(rules.rules) >= 10
    assert len(rules.rules_hash) == 32
    assert {"fund_flows", "netting", "bills", "reconciliation_breaks"} <= set(rules.tables)


def test_parse_rules__good__model():
    r = parse_rules(GOOD, "x.yaml")
    (rule,) = r.rules
    assert (rule.contract, rule.event, rule.table, rule.source_line) == (
        "Settlement",
        "Paid",
        "flows",
        5,
    )
    assert [p.field for p in rule.parties] == ["payer", "payee"]
    assert rule.fields[1].level == "confidential" and rule.fields[1].recipients == ("payer",)
    assert rule.matches("Settlement:CNY", "Paid") and not rule.matches("Settlements", "Paid")


def test_parse_rules__hash__changes_with_any_byte():
    assert parse_rules(GOOD).rules_hash != parse_rules(GOOD + "\n").rules_hash


@pytest.mark.parametrize(
    "old,new,line,message",
    [
        ("    table: flows\n", "    table: flow\n", 9, "table 'flow' is not declared"),
        ("      amount: public\n", "      amount: secret\n", 12, "level 'secret' unknown"),
        (
            "    parties: [payer, payee]\n",
            "    parties: [payer, payee]\n    roles: [BROKR]\n",
            11,
            "unknown roles ['BROKR']",
        ),
        ("version: 3\n", "version: three\n", 1, "'version' must be a int"),
        ("    event: Paid\n", "", 5, "missing key 'event'"),
        (
            "    line: settlement\n",
            "    line: settlement\n    colour: red\n",
            7,
            "unknown key 'colour'",
        ),
        ("recipients: [payer]", "recipients: [payee2]", 13, "unknown recipients ['payee2']"),
        ("{type: flow,", "{type: pie,", 3, "chart type 'pie' unknown"),
        ("  - id: paid\n", "  - id: paid\n    id: again\n", 6, "duplicate key 'id'"),
        ("    table: flows\n", "    table: [flows\n", 10, "not valid YAML"),
    ],
)
def test_parse_rules__malformed__names_line_and_problem(old, new, line, message):
    assert old in GOOD
    with pytest.raises(RulesError) as exc:
        parse_rules(GOOD.replace(old, new, 1), "config/reporting-rules.yaml")
    text = str(exc.value)
    assert text.startswith(f"config/reporting-rules.yaml:{line}: "), text
    assert message in text


def test_parse_rules__not_a_mapping__clear_error():
    with pytest.raises(RulesError, match=r"x.yaml:1: the rules file must be a mapping"):
        parse_rules("- a\n- b\n", "x.yaml")


def test_load_rules__missing_file__clear_error(tmp_path):
    with pytest.raises(RulesError, match="rules file not found"):
        load_rules(tmp_path / "nope.yaml")


ABI = [
    {
        "type": "event",
        "name": "Paid",
        "inputs": [
            {"name": "payer", "type": "address"},
            {"name": "payee", "type": "address"},
            {"name": "amount", "type": "uint256"},
            {"name": "ref", "type": "bytes32"},
        ],
    }
]


def test_check_against_abis__matches__ok():
    parse_rules(GOOD).check_against_abis({"Settlement": ABI})


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("event: Paid", "event: Payd", "has no event Payd"),
        (
            "      amount: public\n",
            "      amont: public\n",
            "reads 'amont', which is not a parameter",
        ),
        ("[payer, payee]", "[payer]", "address parameter(s) ['payee']"),
        (
            "      amount: public\n",
            "      amount: public\n      payee: public\n",
            "field 'payee' is an address",
        ),
    ],
)
def test_check_against_abis__mismatch__names_rule_line(old, new, message):
    with pytest.raises(RulesError) as exc:
        parse_rules(GOOD.replace(old, new), "r.yaml").check_against_abis({"Settlement": ABI})
    assert str(exc.value).startswith("r.yaml:5: rule 'paid'") and message in str(exc.value)


JOINED = """version: 1
tables:
  flows: {title: Flows, chart: {type: flow, from: payer, to: payee, value: amount}}
rules:
  - id: part
    line: x
    contract: Book
    event: Part
    table: flows
    join: {event: Opened, key: dayKey}
    parties:
      payer: {from: bank}
      payee: {from: company}
    fields:
      amount: public
      gross: {from: amount, scale: 2}
      peer: {level: public, format: party}
"""

BOOK_ABI = [
    {
        "type": "event",
        "name": "Opened",
        "inputs": [
            {"name": "dayKey", "type": "bytes32"},
            {"name": "bank", "type": "address"},
            {"name": "company", "type": "address"},
        ],
    },
    {
        "type": "event",
        "name": "Part",
        "inputs": [
            {"name": "dayKey", "type": "bytes32"},
            {"name": "amount", "type": "uint256"},
            {"name": "peer", "type": "bytes32"},
        ],
    },
]


def test_parse_rules__join_alias_scale_party_format__model_and_abi_check():
    rules = parse_rules(JOINED, "j.yaml")
    (rule,) = rules.rules
    assert (rule.join.event, rule.join.key) == ("Opened", "dayKey")
    assert [(p.field, p.param) for p in rule.parties] == [("payer", "bank"), ("payee", "company")]
    assert [(f.name, f.source, f.scale, f.fmt) for f in rule.fields] == [
        ("amount", "amount", 1, "auto"),
        ("gross", "amount", 2, "auto"),
        ("peer", "peer", 1, "party"),
    ]
    assert rules.events_of("Book") == {"Part", "Opened"}  # the joined event is indexed too
    rules.check_against_abis({"Book": BOOK_ABI})


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("{event: Opened, key: dayKey}", "{event: Closed, key: dayKey}", "join event Closed"),
        ("{event: Opened, key: dayKey}", "{event: Opened, key: amount}", "join key 'amount'"),
        ("{from: company}", "{from: companyX}", "party 'payee' reads 'companyX'"),
    ],
)
def test_check_against_abis__bad_join_or_alias__names_rule(old, new, message):
    with pytest.raises(RulesError) as exc:
        parse_rules(JOINED.replace(old, new), "j.yaml").check_against_abis({"Book": BOOK_ABI})
    assert str(exc.value).startswith("j.yaml:5: rule 'part'") and message in str(exc.value)


@pytest.mark.parametrize(
    "old,new,line,message",
    [
        ("key: dayKey}", "on: dayKey}", 10, "unknown key True"),  # YAML 1.1 reads `on` as true
        ("scale: 2}", "scale: 0}", 16, "scale must be a positive integer"),
        ("scale: 2}", "scale: 2, format: code}", 16, "scale applies to integer parameters only"),
        (
            "{level: public, format: party}",
            "{level: confidential, format: party}",
            17,
            "public fields only",
        ),
        ("{from: bank}", "{from: [bank]}", 12, "'from' must be an event parameter name"),
    ],
)
def test_parse_rules__bad_join_scale_party__names_line(old, new, line, message):
    with pytest.raises(RulesError) as exc:
        parse_rules(JOINED.replace(old, new), "j.yaml")
    assert str(exc.value).startswith(f"j.yaml:{line}: ") and message in str(exc.value), exc.value


STRUCT_ABI = [
    {
        "type": "event",
        "name": "Differed",
        "inputs": [
            {"name": "payer", "type": "address"},
            {
                "name": "ours",
                "type": "tuple",
                "components": [
                    {"name": "fees", "type": "uint256"},
                    {"name": "by", "type": "address"},
                ],
            },
        ],
    }
]
STRUCT = """version: 1
tables:
  diffs: {title: Diffs, chart: {type: bar, label: payer, value: ourFees}}
rules:
  - id: differed
    line: settlement
    contract: Settlement
    event: Differed
    table: diffs
    parties: [payer]
    fields:
      ourFees: {from: ours.fees}
"""


def test_check_against_abis__struct_component__ok_and_read():
    """`from: param.component` reads one component of a struct parameter (a mismatch's totals)."""
    rules = parse_rules(STRUCT)
    rules.check_against_abis({"Settlement": STRUCT_ABI})
    [f] = rules.rules[0].fields
    assert event_value({"payer": "0x1", "ours": {"fees": 7, "by": "0x2"}}, f.source) == 7
    assert event_value({"payer": "0x1"}, "payer") == "0x1"


@pytest.mark.parametrize(
    "new,message",
    [
        ("ours.fee", "reads 'ours.fee', which is not a parameter"),
        ("payer.fees", "reads 'payer.fees', which is not a parameter"),
        ("ours.by", "field 'ourFees' is an address"),
    ],
)
def test_check_against_abis__bad_struct_component__names_rule(new, message):
    with pytest.raises(RulesError) as exc:
        parse_rules(STRUCT.replace("ours.fees", new), "s.yaml").check_against_abis(
            {"Settlement": STRUCT_ABI}
        )
    assert str(exc.value).startswith("s.yaml:5: rule 'differed'") and message in str(exc.value)
