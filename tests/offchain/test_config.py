"""A malformed or inconsistent consortium file stops with `file:line: problem`."""

import textwrap

import pytest

from consortium.chain import ROOT
from consortium.config import ConfigError, load_consortium

HEAD = """\
version: 1
consortium: {name: t}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: R, jurisdiction: CN, roles: [REGULATOR]}
"""


def _load(tmp_path, body):
    p = tmp_path / "c.yaml"
    p.write_text(HEAD + body)
    return load_consortium(p)


def test_shipped_consortium_file_is_valid():
    c = load_consortium(ROOT / "config/consortium.yaml")
    assert {"reg-cn", "reg-hk"} <= {i.id for i in c.with_role("REGULATOR")}
    assert all(i.regulator for i in c.institutions if "REGULATOR" not in i.roles)
    assert c.by_id("broker-hk").regulator == "reg-hk"


@pytest.mark.parametrize(
    "body,message",
    [
        (
            "  - {id: b, name: B, jurisdiction: CN, roles: [ASTRONAUT]}\n",
            r"c.yaml:7: institution 'b': unknown role 'ASTRONAUT'",
        ),
        (
            "  - {id: b, name: B, jurisdiction: XX, roles: [BROKER]}\n",
            r"c.yaml:7: institution 'b': jurisdiction 'XX' is not declared",
        ),
        (
            "  - {id: b, name: B, jurisdiction: CN, roles: [BROKER], regulator: nobody}\n",
            r"c.yaml:7: institution 'b': regulator 'nobody' is not an institution here",
        ),
        (
            (
                "  - {id: b, name: B, jurisdiction: CN, roles: [BROKER], regulator: c}\n"
                "  - {id: c, name: C, jurisdiction: CN, roles: [BROKER]}\n"
            ),
            r"c.yaml:7: institution 'b': regulator 'c' does not hold role REGULATOR",
        ),
        (
            "  - {id: reg-cn, name: B, jurisdiction: CN, roles: [BROKER]}\n",
            r"c.yaml:7: institution 'reg-cn' defined twice \(first on line 6\)",
        ),
        (
            "  - {id: b, name: B, jurisdiction: CN, roles: []}\n",
            r"c.yaml:7: institution 'b': no roles",
        ),
        (
            "  - {id: b, name: B, roles: [BROKER]}\n",
            r"c.yaml:7: institution 'b': missing 'jurisdiction'",
        ),
        (
            "channels:\n  - [reg-cn, ghost]\n",
            r"c.yaml:8: channel reg-cn <-> ghost: 'ghost' is nobody",
        ),
        ("channels:\n  - [reg-cn, reg-cn]\n", r"c.yaml:8: .*two different institutions"),
        ("channels:\n  - [reg-cn]\n", r"c.yaml:8: a channel is a pair"),
        ("  - {id: b, name: B, jurisdiction: CN, roles: [BROKER]\n", r"c.yaml:\d+: not valid YAML"),
    ],
)
def test_bad_file__names_line_and_problem(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, body)


def test_institution_without_any_regulator(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent("""\
        consortium: {name: t}
        jurisdictions:
          CN: {}
        institutions:
          - {id: b, name: B, jurisdiction: CN, roles: [BROKER]}
        """))
    with pytest.raises(ConfigError, match=r"c.yaml:5: institution 'b' has no regulator"):
        load_consortium(p)


def test_missing_file_says_what_it_is(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_consortium(tmp_path / "nope.yaml")


def test_endpoint__optional_normalised_and_exposed(tmp_path):
    c = _load(
        tmp_path,
        "  - {id: b, name: B, jurisdiction: CN, roles: [BROKER], endpoint: 'http://10.0.0.5:9107/'}\n"
        "  - {id: h, name: H, jurisdiction: CN, roles: [BROKER], endpoint: 'https://h.example'}\n",
    )
    assert c.by_id("b").endpoint == "http://10.0.0.5:9107"
    assert c.by_id("h").endpoint == "https://h.example"
    assert c.by_id("reg-cn").endpoint is None


@pytest.mark.parametrize(
    "value,problem",
    [
        ("ftp://h:1", "must start with http:// or https://"),
        ("10.0.0.5:9107", "must start with http:// or https://"),
        ("http://:9107", "has no host"),
        ("http://h:99999", "has an invalid port"),
        ("http://h:1/v1/messages", "must be only scheme://host:port"),
        ("http://u:p@h:1", "must not carry credentials"),
        ("''", "endpoint must be a URL"),
        ("[http://h:1]", "endpoint must be a URL"),
    ],
)
def test_endpoint__not_a_base_url__names_line_and_problem(tmp_path, value, problem):
    body = f"  - {{id: b, name: B, jurisdiction: CN, roles: [BROKER], endpoint: {value}}}\n"
    with pytest.raises(ConfigError, match=rf"c.yaml:7: institution 'b': .*{problem}"):
        _load(tmp_path, body)


def test_business_time_zone__defaults_to_shanghai_and_reads_the_file(tmp_path):
    assert _load(tmp_path, "").business_time_zone == "Asia/Shanghai"
    p = tmp_path / "hk.yaml"
    p.write_text(HEAD.replace("{name: t}", "{name: t, business_time_zone: Asia/Hong_Kong}"))
    assert load_consortium(p).business_time_zone == "Asia/Hong_Kong"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "UTC+8", "../etc"])
def test_business_time_zone__unknown_zone_names_line(tmp_path, zone):
    p = tmp_path / "c.yaml"
    p.write_text(HEAD.replace("{name: t}", f"{{name: t, business_time_zone: '{zone}'}}"))
    with pytest.raises(
        ConfigError, match=r"c.yaml:\d+: business_time_zone .* not an IANA time zone"
    ):
        load_consortium(p)
