"""Malformed files to everything that reads one: a sentence naming the file and where, no traceback,
nothing written.

Readers: consortium.yaml (load_consortium), day-sizes.yaml (load_sizes), reporting-rules.yaml
(load_rules), report.json (load_report: `consortium verify`, scripts/report.py), deployment records
(DeploymentRecord.load) and the Besu genesis command's inputs. Cases already in test_config.py and
test_reporting_rules.py (unknown role, bad references, a YAML syntax error, a missing file, field
errors of a rule) are not repeated here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import types
from pathlib import Path

import pytest

from consortium import chain, cli
from consortium.config import ConfigError, load_consortium, load_sizes
from consortium.inputs import CommandError, InputFileError
from consortium.reporting.rules import RulesError, load_rules
from consortium.reporting.verify import ReportFileError, load_report, verify_report

ROOT = Path(__file__).resolve().parents[2]
CONSORTIUM = (ROOT / "config/consortium.yaml").read_text()

SIZES = (ROOT / "config/day-sizes.yaml").read_text()
RULES = (ROOT / "config/reporting-rules.yaml").read_text()
BINARY = b"\xff\xfe\x00\x01 not text"


def _write(tmp_path: Path, name: str, body: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(body if isinstance(body, bytes) else body.encode())
    return p


def _half(text: str) -> str:
    return text[: len(text) // 2]


def _cut_in_a_key(text: str) -> str:
    """The rules file cut inside the first rule key past its middle: a half that cannot parse
    wherever the middle falls (a cut between two whole rules is a valid, shorter file)."""
    return text[: text.index("\n    table:", len(text) // 2) + len("\n    tab")]


def _line_of(text: str, needle: str) -> int:
    """The line of the shipped file a case breaks: the cases follow the file as it changes."""
    return text[: text.index(needle)].count("\n") + 1


AUDITOR = _line_of(CONSORTIUM, "roles: [AUDITOR]")
CHANNEL = _line_of(CONSORTIUM, "[broker-cn, broker-hk]")


HEAD = "consortium: {name: x}\njurisdictions: {CN: {regulator: r}}\n"

CONSORTIUM_CASES = {
    "empty": ("", r"c.yaml:1: expected a mapping"),
    "not utf-8": (BINARY, r"c.yaml: not UTF-8 text"),
    "truncated": (
        CONSORTIUM[: CONSORTIUM.index("{id:", len(CONSORTIUM) // 2) + 6],
        r"c.yaml:\d+: not valid YAML",
    ),
    "a list": ("- consortium\n- institutions\n", r"c.yaml:1: expected a mapping"),
    "institutions a number": (
        HEAD + "institutions: 99999999999999999999999999\n",
        r"c.yaml:1: 'institutions' must be a list, got 99999999999999999999999999",
    ),
    "head not a mapping": (
        "consortium: hello\njurisdictions: {CN: {}}\ninstitutions: []\n",
        r"c.yaml:1: 'consortium' must be a mapping",
    ),
    "jurisdiction a list": (
        "consortium: {name: x}\njurisdictions: {CN: [reg]}\ninstitutions: []\n",
        r"c.yaml:1: jurisdiction 'CN' must be \{regulator: <institution id>\}",
    ),
    "roles a string": (
        CONSORTIUM.replace("roles: [AUDITOR]", "roles: AUDITOR", 1),
        rf"c.yaml:{AUDITOR}: institution 'auditor': 'roles' must be a list",
    ),
    "regulator a list": (
        CONSORTIUM.replace("roles: [AUDITOR]}", "roles: [AUDITOR], regulator: [reg-cn]}", 1),
        rf"c.yaml:{AUDITOR}: institution field 'regulator' must be a single value",
    ),
    "channel end a list": (
        CONSORTIUM.replace("[broker-cn, broker-hk]", "[[broker-cn], broker-hk]", 1),
        rf"c.yaml:{CHANNEL}: channel \['broker-cn'\] <-> broker-hk: .* is nobody",
    ),
    "currencies a string": (
        CONSORTIUM.replace("currencies: {CNY: 2, HKD: 2, USD: 2, JPY: 0}", "currencies: CNY", 1),
        r"c.yaml:\d+: 'currencies' must map codes to decimals",
    ),
    "decimals not a number": (
        CONSORTIUM.replace("{CNY: 2, HKD: 2,", "{CNY: two, HKD: 2,", 1),
        r"c.yaml:\d+: currency CNY: decimals must be a whole number 0 .. 18, got 'two'",
    ),
    "decimals negative": (
        CONSORTIUM.replace("JPY: 0}", "JPY: -1}", 1),
        r"c.yaml:\d+: currency JPY: decimals must be a whole number 0 .. 18, got -1",
    ),
    "currency code not three letters": (
        CONSORTIUM.replace("JPY: 0}", "yen: 0}", 1),
        r"c.yaml:\d+: currency 'yen' must be a three-letter code",
    ),
    "unknown currency without decimals": (
        CONSORTIUM.replace(
            "currencies: {CNY: 2, HKD: 2, USD: 2, JPY: 0}", "currencies: [CNY, XAU]"
        ),
        r"c.yaml:\d+: currency XAU: give its decimals",
    ),
    # a key written twice is a mistake to report (YAML would let the second silently win)
    "duplicate key": (
        CONSORTIUM.replace("roles: [AUDITOR]}", "roles: [AUDITOR], roles: [BROKER]}", 1),
        rf"c.yaml:{AUDITOR}: duplicate key 'roles'",
    ),
}


SIZES_CASES = {
    "empty": ("", r"s.yaml:1: expected a mapping of size profiles"),
    "not utf-8": (BINARY, r"s.yaml: not UTF-8 text"),
    "invalid YAML": ("quick: {annuity: [1\n", r"s.yaml:\d+: not valid YAML"),
    # cut right after the profile's name (a cut inside a flow mapping is invalid YAML, above)
    "truncated": (
        SIZES[: SIZES.index("\n", SIZES.index("medium:")) + 1],
        r"s.yaml:\d+: profile 'medium' must map each line",
    ),
    "a list": ("- quick\n", r"s.yaml:1: expected a mapping"),
    "unknown profile": (
        SIZES.replace("medium:", "medium-old:"),
        r"s.yaml: no size profile 'medium'",
    ),
    "profile a number": ("medium: 5\n", r"s.yaml:1: profile 'medium' must map each line"),
    "line a list": ("medium:\n  bills: [3]\n", r"s.yaml:2: medium.bills must be a mapping"),
    "size a word": ("medium:\n  bills: {bills: many}\n", r"s.yaml:2: medium.bills.bills .* 'many'"),
    "size negative": ("medium:\n  bills: {bills: -3}\n", r"medium.bills.bills .* got -3"),
    "size huge": ("medium:\n  bills: {bills: 10000000000000000000000}\n", r"0 .. 1,000,000"),
    "duplicate size": (
        "medium:\n  bills: {bills: 3}\n  bills: {bills: 4}\n",
        r"s.yaml:3: duplicate key 'bills'",
    ),
    "size a boolean": ("medium:\n  bills: {bills: yes}\n", r"got True"),
}


def test_load_sizes__missing_file__says_what_it_is(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: no such file \(the day size profiles"):
        load_sizes(tmp_path / "nope.yaml", "quick")


def test_load_sizes__shipped_file__plain_numbers():
    sizes = load_sizes(ROOT / "config/day-sizes.yaml", "quick")
    assert sizes["settlement"] == {"executions": 20, "owners": 6}


RULES_CASES = {
    "empty": ("", r"r.yaml:1: the rules file must be a mapping"),
    "not utf-8": (BINARY, r"r.yaml: not UTF-8 text"),
    "truncated": (_cut_in_a_key(RULES), r"r.yaml:\d+: not valid YAML"),
    "version huge": (
        re.sub(r"(?m)^version: \d+", "version: 1" + "0" * 30, RULES, count=1),
        r"r.yaml:\d+: version must be in 1 .. 2\*\*64 - 1",
    ),
}


# file name, loader, error class and cases of each YAML configuration file
YAML_FILES = {
    "consortium": ("c.yaml", load_consortium, ConfigError, CONSORTIUM_CASES),
    "day sizes": ("s.yaml", lambda p: load_sizes(p, "medium"), ConfigError, SIZES_CASES),
    "reporting rules": ("r.yaml", load_rules, RulesError, RULES_CASES),
}


@pytest.mark.parametrize(
    "kind,case", [(k, c) for k, (_, _, _, cases) in YAML_FILES.items() for c in cases]
)
def test_load_yaml__malformed__names_file_and_line(tmp_path, kind, case):
    name, load, error, cases = YAML_FILES[kind]
    body, message = cases[case]
    with pytest.raises(error, match=message) as exc:
        load(_write(tmp_path, name, body))
    assert isinstance(exc.value, InputFileError)  # what every command reports without a traceback


# ------------------------------------------------------------------ report.json
def _report() -> dict:
    z = "0x" + "00" * 32
    return {
        "regulator": "0x" + "11" * 20,
        "day": 20_000,
        "anchor": {"version": 1, "root": z, "recordCount": 1},
        "rules": {"hash": "0x" + "22" * 32},
        "records": [{"id": "r1", "recordHash": z, "proof": [z]}],
    }


def _with(path: str, value) -> dict:
    r = _report()
    *parents, last = path.split(".")
    node = r
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return r


REPORT_CASES = {
    "empty": ("", r"rep.json:1: not a JSON report"),
    "not utf-8": (BINARY, r"rep.json: not UTF-8 text"),
    "truncated": (_half(json.dumps(_report(), indent=2)), r"rep.json:\d+: not a JSON report"),
    "a list": ("[1, 2]", r"rep.json: field '\(top level\)' must be a JSON object"),
    "no anchor": (_with("anchor", KeyError), r"field 'anchor' is missing"),
    "records an object": (_with("records", {}), r"field 'records' must be a JSON array"),
    "day a word": (_with("day", "monday"), r"field 'day' must be a whole number 0 .. 2\*\*32 - 1"),
    "day huge": (_with("day", 10**40), r"field 'day' must be .*, got 1000000000000000000000"),
    "version negative": (_with("anchor.version", -1), r"field 'anchor.version' must be"),
    "root short": (
        _with("anchor.root", "0x12"),
        r"field 'anchor.root' must be a 0x-prefixed 32-byte",
    ),
    "regulator bad": (
        _with("regulator", "CSRC"),
        r"field 'regulator' must be a 0x-prefixed 20-byte",
    ),
    "rules hash missing": (_with("rules.hash", KeyError), r"field 'rules.hash' must be"),
    "record a string": (_with("records.0", "r1"), r"field 'records\[0\]' must be a JSON object"),
    "proof an object": (_with("records.0.proof", {}), r"field 'records\[0\].proof' must be"),
    "proof entry bad": (_with("records.0.proof.0", 7), r"field 'records\[0\].proof\[0\]' must be"),
}


@pytest.mark.parametrize("case", REPORT_CASES)
def test_load_report__malformed__names_file_and_field(tmp_path, case):
    body, message = REPORT_CASES[case]
    path = _write(tmp_path, "rep.json", json.dumps(body) if isinstance(body, dict) else body)
    with pytest.raises(ReportFileError, match=message):
        load_report(path)
    # verification refuses the file before it asks the chain anything (no anchor contract needed)
    with pytest.raises(ReportFileError, match=message):
        verify_report(path, anchor_contract=None)


def test_load_report__missing_or_directory__says_so(tmp_path):
    with pytest.raises(ReportFileError, match=r"nope.json: no such report"):
        load_report(tmp_path / "nope.json")
    with pytest.raises(ReportFileError, match=r"a directory; pass the report.json inside it"):
        load_report(tmp_path)


def test_load_report__well_formed__loaded(tmp_path):
    assert load_report(_write(tmp_path, "rep.json", json.dumps(_report()))) == _report()


# ------------------------------------------------------------------ commands
def test_cli_verify__malformed_report__exit_2_message_no_chain(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_connect", lambda network: pytest.fail("a chain was launched"))
    path = _write(tmp_path, "rep.json", '{"regulator": ')
    assert cli.main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:1: not a JSON report") and "Traceback" not in err


def test_cli_demo__bad_size_profile__exit_2_before_any_chain(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_connect", lambda network: pytest.fail("a chain was launched"))
    monkeypatch.chdir(tmp_path)
    config = str(ROOT / "config/consortium.yaml")
    assert cli.main(["demo", "--config", config, "--size", "huge", "--out", "out"]) == 2
    assert "no size profile 'huge' (have: tiny, quick, medium, large)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_demo__timeout_in_process__exit_2_before_any_chain(tmp_path, capsys, monkeypatch):
    """--timeout is the multi-process day's deadline; the in-process day has none to set."""
    monkeypatch.setattr(cli, "_connect", lambda *a, **k: pytest.fail("a chain was launched"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--in-process", "--timeout", "60", "--out", "out"]) == 2
    assert "--timeout: only with --processes" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


GENESIS_CASES = {
    "validator not an address": (
        ["--validators", "0xnothex"],
        r"validator '0xnothex' is not an address",
    ),
    "funded not an address": (
        ["--validators", "0x" + "11" * 20, "--fund", "alice"],
        r"funded account 'alice' is not an address",
    ),
    "chain id huge": (
        ["--validators", "0x" + "11" * 20, "--chain-id", str(2**70)],
        r"chain id must be 1 .. 9223372036854775771",
    ),
    "chain id zero": (["--validators", "0x" + "11" * 20, "--chain-id", "0"], r"chain id must be"),
}


@pytest.mark.parametrize("case", GENESIS_CASES)
def test_cli_besu_genesis__bad_input__exit_2_nothing_written(tmp_path, capsys, case):
    args, message = GENESIS_CASES[case]
    out = tmp_path / "genesis.json"
    assert cli.main(["besu-genesis", *args, "--out", str(out)]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_cli_besu_genesis__missing_directory__exit_2(tmp_path, capsys):
    out = tmp_path / "no" / "genesis.json"
    assert cli.main(["besu-genesis", "--validators", "0x" + "11" * 20, "--out", str(out)]) == 2
    assert "no such directory" in capsys.readouterr().err and not out.parent.exists()


def test_script_report__malformed_verify_file__exits_with_message(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("report_script", ROOT / "scripts/report.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "load_suite", lambda network: pytest.fail("deployment looked up"))
    path = _write(tmp_path, "rep.json", "[]")
    monkeypatch.setenv("REPORT_VERIFY", str(path))
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert str(exc.value).startswith(f"error: {path}: field '(top level)' must be a JSON object")


# ------------------------------------------------------------------ deployment records
def _record() -> dict:
    return {
        "network": "net",
        "chain_id": 1337,
        "block": 1,
        "deployer": "0x" + "11" * 20,
        "contracts": {"ConsortiumRegistry": "0x" + "22" * 20},
        "compiler": {"solc": "0.8.30"},
        "timestamp": 1,
    }


RECORD_CASES = {
    "empty": ("", r"net.json:1: not a JSON deployment record"),
    "not utf-8": (BINARY, r"net.json: not UTF-8 text"),
    "truncated": (_half(json.dumps(_record(), indent=2)), r"net.json:\d+: not a JSON deployment"),
    "a list": ("[]", r"net.json: expected a JSON object"),
    "field missing": (
        {k: v for k, v in _record().items() if k != "block"},
        r"field 'block' is missing",
    ),
    "block a word": (_record() | {"block": "one"}, r"field 'block' must be a JSON int, got 'one'"),
    "block huge": (_record() | {"block": 10**30}, r"field 'block' out of range"),
    "unknown field": (_record() | {"owner": "me"}, r"unknown field\(s\) \['owner'\]"),
    "address bad": (
        _record() | {"contracts": {"ConsortiumRegistry": "here"}},
        r"contracts.ConsortiumRegistry must be an address",
    ),
    "no registry": (_record() | {"contracts": {}}, r"contracts.ConsortiumRegistry is missing"),
}


@pytest.mark.parametrize("case", RECORD_CASES)
def test_deployment_record_load__malformed__names_file_and_field(tmp_path, monkeypatch, case):
    monkeypatch.setattr(chain, "DEPLOYMENTS", tmp_path)
    body, message = RECORD_CASES[case]
    _write(tmp_path, "net.json", json.dumps(body) if isinstance(body, dict) else body)
    with pytest.raises(chain.DeploymentRecordError, match=message) as exc:
        chain.DeploymentRecord.load("net")
    assert isinstance(exc.value, InputFileError)  # so every command reports it without a traceback


def test_deployment_record__saved_then_loaded__round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(chain, "DEPLOYMENTS", tmp_path)
    rec = chain.DeploymentRecord(**_record())
    rec.save()
    assert chain.DeploymentRecord.load("net") == rec
    with pytest.raises(
        chain.DeploymentRecordError, match=r"no deployment recorded for network 'x'"
    ):
        chain.DeploymentRecord.load("x")


# ------------------------------------------------------------------ a record of another chain
class _FakeEth:
    """What DeploymentRecord.check_chain and anchor_address ask a node: id, height, block, code."""

    def __init__(self, chain_id=1337, height=5, block_hash=b"\xab" * 32, code=b"\x60\x80"):
        self.chain_id, self.block_number = chain_id, height
        self._hash, self._code = block_hash, code

    def get_block(self, number):
        return {"hash": self._hash}

    def get_code(self, address):
        return self._code


def _w3(**kw):
    return types.SimpleNamespace(eth=_FakeEth(**kw))


STALE_CASES = {
    "other chain id": ({"chain_id": 31337}, r"that chain's id is 31337"),
    "restarted empty": ({"height": 0}, r"that chain has only 1 block\(s\) \(restarted empty"),
    "other block hash": (
        {"block_hash": b"\xcd" * 32},
        r"its block 1 is 0xcdcd.*the record's is 0xabab",
    ),
    "no registry code": ({"code": b""}, r"no contract at the registry's address 0x2222"),
}


@pytest.mark.parametrize("case", STALE_CASES)
def test_deployment_record_check_chain__other_chain__one_sentence_what_differs(case):
    rec = chain.DeploymentRecord(**_record(), block_hash="0x" + "ab" * 32)
    node, message = STALE_CASES[case]
    with pytest.raises(CommandError, match=message) as exc:
        rec.check_chain(_w3(**node), "http://node:8545")
    text = str(exc.value)
    assert "net.json: the deployment recorded for network 'net' (chain 1337, block 1)" in text
    assert "is not on the chain at http://node:8545" in text and "Deploy again" in text
    assert "\n" not in text


def test_deployment_record_check_chain__its_chain__passes():
    chain.DeploymentRecord(**_record(), block_hash="0x" + "ab" * 32).check_chain(_w3(), "u")
    # a record written before block hashes were kept is checked on id, height and code only
    chain.DeploymentRecord(**_record()).check_chain(_w3(block_hash=b"\x01" * 32), "u")


ANCHOR = "0x" + "33" * 20


@pytest.mark.parametrize(
    "anchor, node, message",
    [
        (
            {"contract": ANCHOR, "chainId": 1337},
            {"chain_id": 2026},
            r"the chain at u is chain 2026",
        ),
        ({"contract": ANCHOR, "chainId": 1337}, {"code": b""}, r"has no contract at 0x3333"),
        ({}, {}, r"names no anchor contract"),
    ],
)
def test_anchor_address__report_of_another_chain__names_its_chain_and_anchor(anchor, node, message):
    from consortium.reporting.verify import anchor_address

    report = {"anchor": {"version": 1, **anchor}}
    with pytest.raises(CommandError, match=message) as exc:
        anchor_address(report, "r.json", _w3(**node), "u", None)
    if anchor:
        assert f"anchored on chain 1337, ReportAnchor {ANCHOR}" in str(exc.value)


def test_anchor_address__report_names_none__falls_back_to_the_recorded_anchor():
    from consortium.reporting.verify import anchor_address

    report = {"anchor": {"version": 1}}
    assert anchor_address(report, "r.json", _w3(), "u", ANCHOR) == ANCHOR
    assert (
        anchor_address({"anchor": {"contract": ANCHOR, "chainId": 1337}}, "r", _w3(), "u", None)
        == ANCHOR
    )
