"""Per-regulator reports over every available event source, two jurisdictions (CN, HK)."""

import json
import re

import pytest

from consortium.reporting import ReportingError, build_reports, verify_report
from consortium.reporting.builder import open_report
from consortium.reporting.verify import record_hash

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")


@pytest.fixture
def build(suite, report_anchor, reporter, key_directory, enc_keys, business_day, tmp_path):
    """Factory: build(regulator=None, day=None, **kw) -> list of BuiltReport, anchored, written."""

    def _build(regulator=None, day=None, **kw):
        kw.setdefault("anchor", report_anchor)
        kw.setdefault("reporter", reporter.account)
        kw.setdefault("out", tmp_path / "reports")
        kw.setdefault("db_url", f"sqlite:///{tmp_path / 'index.sqlite'}")
        return build_reports(
            suite,
            business_day.day if day is None else day,
            regulator,
            keys=key_directory,
            private_keys={a: k.private_key for a, k in enc_keys.items()},
            disclosures=business_day.disclosures,
            progress=False,
            **kw,
        )

    return _build


def _counts(report):
    """Records per table, for the tables with records (the lines' tables stay empty here)."""
    return {
        name: t["count"]
        for name, t in report["tables"].items()
        if name != "membership" and t["count"]
    }


def test_build__each_regulator__exactly_its_institutions(
    build, business_day, regulator_cn, regulator_hk, cn, hk
):
    built = {b.regulator: b for b in build()}
    assert set(built) == {regulator_cn.address, regulator_hk.address}
    foreign = {
        regulator_cn.address: {i.address for i in hk.values()} | {regulator_hk.address},
        regulator_hk.address: {i.address for i in cn.values()} | {regulator_cn.address},
    }
    for reg, b in built.items():
        report = b.report
        assert _counts(report) == business_day.expected[reg]
        supervised = {
            p["id"] for r in report["records"] for p in r["parties"].values() if p["supervised"]
        }
        assert supervised == business_day.institutions[reg]
        amounts = sorted(
            r["fields"]["amount"] for r in report["records"] if r["table"] == "fund_flows"
        )
        assert amounts == business_day.amounts[reg]
        # no address of another regulator's institutions anywhere in any of the three forms
        texts = [b.paths["json"].read_text(), b.paths["html"].read_text()]
        texts += [p.read_text() for k, p in b.paths.items() if k.startswith("csv:")]
        for text in texts:
            seen = {a.lower() for a in ADDRESS.findall(text)}
            assert not seen & {f.lower() for f in foreign[reg]}
            for f in foreign[reg]:
                assert f[2:].lower() not in text.lower()


def test_build__cross_border_payment__foreign_party_pseudonymised(build, regulator_cn, hk):
    (b,) = build(regulator_cn.address)
    flows = [
        r
        for r in b.report["records"]
        if r["table"] == "fund_flows" and r["fields"]["amount"] == 500
    ]
    (rec,) = flows
    assert rec["parties"]["payer"]["supervised"] is True
    assert rec["parties"]["payee"] == {
        "id": rec["parties"]["payee"]["id"],
        "jurisdiction": "HK",
        "supervised": False,
    }
    assert rec["parties"]["payee"]["id"].startswith("ext:")
    assert rec["fields"]["currency"] == "CNY"


def test_build__records_verify_against_onchain_root(build, report_anchor, regulator_cn):
    (b,) = build(regulator_cn.address)
    a = b.report["anchor"]
    assert a["anchored"] and a["version"] == 1
    onchain = report_anchor.getAnchor(regulator_cn.address, b.day, 1)
    assert onchain[0] == a["root"] and onchain[2] == len(b.report["records"]) > 10
    result = verify_report(b.paths["json"], report_anchor)
    assert result.ok, result.summary()
    assert len(result.records) == len(b.report["records"])


def test_verify__views_in_batches__same_checks_one_read_per_record_and_a_refusal_named(
    build, report_anchor, regulator_cn, tmp_path
):
    """A large day's report holds over 150,000 records: their verifyRecord views read in JSON-RPC
    batches give the same checks as one call each, one read per record whose proof reached the
    root (an altered one is refused before the chain is asked), and a view that says no fails its
    record by name."""
    from consortium.chain import web3
    from consortium.reads import batched, one_by_one

    (b,) = build(regulator_cn.address)
    report = json.loads(b.paths["json"].read_text())
    report["records"][0]["fields"] = {**report["records"][0]["fields"], "x": 1}  # altered
    path = tmp_path / "altered.json"
    path.write_text(json.dumps(report))
    asked = []

    def counted(contract, fn, args):
        asked.append((fn, len(args)))
        return batched(web3(), chunk=4)(contract, fn, args)

    got = verify_report(path, report_anchor, views=counted)
    assert got.records == verify_report(path, report_anchor, views=one_by_one).records
    assert [r.id for r in got.failed] == [report["records"][0]["id"]]
    assert asked == [("verifyRecord", len(report["records"]) - 1)]

    def no_to_the_last(contract, fn, args):
        return [*one_by_one(contract, fn, args)[:-1], False]

    refused = verify_report(b.paths["json"], report_anchor, views=no_to_the_last)
    assert [(r.id, r.reason) for r in refused.failed] == [
        (report["records"][-1]["id"], "ReportAnchor.verifyRecord refused the record")
    ]


def test_verify__tampered_record__fails(build, report_anchor, regulator_cn, tmp_path):
    (b,) = build(regulator_cn.address)
    report = json.loads(b.paths["json"].read_text())
    rec = next(r for r in report["records"] if r["table"] == "fund_flows")
    rec["fields"]["amount"] += 1
    rec["recordHash"] = "0x" + record_hash(rec).hex()  # a careful forger recomputes the hash too
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(report))
    result = verify_report(path, report_anchor)
    assert not result.ok
    assert [r.id for r in result.failed] == [rec["id"]]
    assert "anchored root" in result.failed[0].reason


def test_verify__record_of_another_day__fails(
    build, chain, report_anchor, regulator_cn, cn, event_source, business_day
):
    (day1,) = build(regulator_cn.address)
    chain.sleep(86400)
    b = cn["broker"]
    event_source.settlePayment(
        b"\x55" * 32,
        b.address,
        cn["bank"].address,
        77,
        b"CNY".ljust(32, b"\0"),
        {"from": b.account},
    )
    (day2,) = build(regulator_cn.address, day=business_day.day + 1)
    assert [
        r["fields"]["amount"] for r in day2.report["records"] if r["table"] == "fund_flows"
    ] == [77]
    moved = dict(day2.report)
    moved["records"] = [day1.report["records"][0]]  # yesterday's record passed off as today's
    moved["anchor"] = dict(day2.report["anchor"], recordCount=1)
    result = verify_report(moved, report_anchor)
    assert not result.ok
    rec = day1.report["records"][0]
    proof = [bytes.fromhex(p[2:]) for p in rec["proof"]]
    assert report_anchor.verifyRecord(
        regulator_cn.address, business_day.day, 1, rec["recordHash"], proof
    )
    assert not report_anchor.verifyRecord(
        regulator_cn.address, business_day.day + 1, 1, rec["recordHash"], proof
    )


def test_verify__record_of_other_regulator__fails_onchain(
    build, report_anchor, regulator_cn, regulator_hk, business_day
):
    built = {b.regulator: b for b in build()}
    rec = built[regulator_hk.address].report["records"][0]
    proof = [bytes.fromhex(p[2:]) for p in rec["proof"]]
    assert report_anchor.verifyRecord(
        regulator_hk.address, business_day.day, 1, rec["recordHash"], proof
    )
    assert not report_anchor.verifyRecord(
        regulator_cn.address, business_day.day, 1, rec["recordHash"], proof
    )


def test_build__again__anchors_next_version_never_overwrites(build, report_anchor, regulator_cn):
    (v1,) = build(regulator_cn.address)
    (v2,) = build(regulator_cn.address)
    assert (v1.version, v2.version) == (1, 2)
    assert report_anchor.latestVersion(regulator_cn.address, v1.day) == 2
    assert (
        report_anchor.getAnchor(regulator_cn.address, v1.day, 1)[0] == v1.report["anchor"]["root"]
    )
    assert verify_report(v1.paths["json"], report_anchor).ok
    assert verify_report(v2.paths["json"], report_anchor).ok


def test_confidential__regulator_opens_only_entitled_fields(
    build, regulator_cn, regulator_hk, enc_keys
):
    built = {b.regulator: b for b in build()}
    cn_report = built[regulator_cn.address].report
    text = json.dumps(cn_report)
    assert "BEN-42" not in text and "BO-7731" not in text  # the JSON stays sealed
    opened = open_report(cn_report, enc_keys[regulator_cn.address].private_key)
    contrib = next(r for r in opened["records"] if r["table"] == "contributions")
    assert contrib["opened"] == {"amount": 1500, "beneficiary": "BEN-42"}
    brk = next(
        r
        for r in opened["records"]
        if r["table"] == "reconciliation_breaks" and r["fields"]["difference"] == -120
    )
    assert brk["opened"] == {"beneficialOwner": "BO-7731 (pseudonym)"}
    # the HK regulator's key opens in the CN report only what it is entitled to itself: fields of
    # records with an HK party (its own report carries them too), never a CN-only one
    wrong = open_report(cn_report, enc_keys[regulator_hk.address].private_key)
    cross_border = 0
    for theirs, mine in zip(wrong["records"], opened["records"]):
        hk_party = any(p["jurisdiction"] == "HK" for p in theirs["parties"].values())
        for name, value in theirs["opened"].items():
            reason = isinstance(value, str) and value.startswith("[")  # not opened, and why
            if not reason:
                assert hk_party and value == mine["opened"][name], (theirs["id"], name)
                cross_border += 1
            elif value != mine["opened"][name]:  # a status both see, or sealed for CN only
                assert value == "[sealed: not entitled]", (theirs["id"], name, value)
    assert cross_border and cross_border < sum(len(r["opened"]) for r in wrong["records"])
    assert next(r for r in wrong["records"] if r["table"] == "contributions")["opened"] == {
        "amount": "[sealed: not entitled]",
        "beneficiary": "[sealed: not entitled]",
    }
    # the decrypted view is in the regulator's HTML, not in its JSON
    assert "BEN-42" in built[regulator_cn.address].paths["html"].read_text()
    assert "BEN-43" not in built[regulator_cn.address].paths["html"].read_text()


def test_build__unknown_regulator__clear_error(build, cn):
    with pytest.raises(
        ReportingError, match=r"unknown regulator .*not an active member holding REGULATOR"
    ):
        build(cn["bank"].address)


def test_build__day_with_no_data__empty_valid_report(
    build, report_anchor, regulator_hk, business_day
):
    (b,) = build(regulator_hk.address, day=business_day.day - 3)
    r = b.report
    assert r["records"] == [] and r["anchor"]["recordCount"] == 0
    assert r["anchor"]["root"] == "0x" + "00" * 32 and r["anchor"]["anchored"]
    assert any("empty" in n for n in r["notes"])
    assert verify_report(b.paths["json"], report_anchor).ok
    assert "No records." in b.paths["html"].read_text()


def _rules_v2(tmp_path, rules):
    """The shipped rules with one change, as the next version."""
    text = (
        rules.raw.decode()
        .replace(f"version: {rules.version}\n", f"version: {rules.version + 1}\n", 1)
        .replace(
            "      settlementId: public\n      amount: {level: public, currency: param:currency}\n",
            "      settlementId: public\n"
            "      amount: {level: confidential, recipients: [payer], currency: param:currency}\n",
        )
    )
    path = tmp_path / "reporting-rules-v2.yaml"
    path.write_text(text)
    return path


def test_build__rules_not_registered__clear_error_nothing_written(build, rules, tmp_path):
    path = _rules_v2(tmp_path, rules)
    with pytest.raises(
        ReportingError,
        match=rf"not registered on chain.*setRules\(0x[0-9a-f]{{64}}, {rules.version + 1}\)",
    ):
        build(rules_path=path, out=tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_build__rules_change_mid_day__stated_and_applied(
    build, rules, tmp_path, report_anchor, reporter, regulator_cn, regulator_hk, enc_keys
):
    path = _rules_v2(tmp_path, rules)
    from consortium.reporting.rules import load_rules

    v1, v2 = rules.version, rules.version + 1  # the shipped rules, and the edited ones
    new = load_rules(path)
    report_anchor.setRules(new.rules_hash, v2, {"from": reporter.account})
    built = {b.regulator: b for b in build(rules_path=path)}
    hk_report = built[regulator_hk.address].report
    assert hk_report["rules"]["hash"] == new.rules_hash_hex and hk_report["rules"]["version"] == v2
    assert any(
        "rules changed during this day" in n and f"version {v1} -> {v2}" in n
        for n in hk_report["notes"]
    )
    assert (
        report_anchor.getAnchor(regulator_hk.address, hk_report["day"], 1)[1] == new.rules_hash_hex
    )
    opened = open_report(hk_report, enc_keys[regulator_hk.address].private_key)
    flows = {
        r["parties"]["payer"]["supervised"]: r["opened"]
        for r in opened["records"]
        if r["table"] == "fund_flows"
    }
    assert flows == {False: {"amount": "[sealed: not entitled]"}, True: {"amount": 300}}
    assert verify_report(built[regulator_hk.address].paths["json"], report_anchor).ok
    # the old rules still build (a past view), saying they are not the rules in force
    (old,) = build(regulator_cn.address)
    assert old.report["rules"]["version"] == v1
    assert any(f"not the rules in force now (version {v2})" in n for n in old.report["notes"])
    assert verify_report(old.paths["json"], report_anchor).ok


def _check(schema, value, defs, path="$"):
    """A small JSON-Schema subset check (type, required, properties, items, $ref, const, pattern)."""
    import re as _re

    if "$ref" in schema:
        return _check(defs[schema["$ref"].split("/")[-1]], value, defs, path)
    if "oneOf" in schema:
        errors = [e for s in schema["oneOf"] for e in [_check(s, value, defs, path)] if e]
        return None if len(errors) < len(schema["oneOf"]) else errors[0]
    if "const" in schema and value != schema["const"]:
        return f"{path}: {value!r} != {schema['const']!r}"
    types = schema.get("type")
    pytypes = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "boolean": bool,
        "null": type(None),
    }
    if types and not any(
        isinstance(value, pytypes[t]) for t in ([types] if isinstance(types, str) else types)
    ):
        return f"{path}: {value!r} is not {types}"
    if isinstance(value, str) and "pattern" in schema and not _re.match(schema["pattern"], value):
        return f"{path}: {value!r} does not match {schema['pattern']}"
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                return f"{path}: missing {k}"
        for k, v in value.items():
            sub = schema.get("properties", {}).get(k) or schema.get("additionalProperties")
            if isinstance(sub, dict):
                err = _check(sub, v, defs, f"{path}.{k}")
                if err:
                    return err
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            err = _check(schema["items"], v, defs, f"{path}[{i}]")
            if err:
                return err
    return None


def test_report_json__matches_documented_schema(build, regulator_cn):
    from pathlib import Path

    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text()
    )
    (b,) = build(regulator_cn.address)
    report = json.loads(b.paths["json"].read_text())
    assert _check(schema, report, schema["$defs"]) is None
