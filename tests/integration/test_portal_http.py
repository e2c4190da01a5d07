"""`consortium serve` over HTTP, without a browser: the sign-in and access matrix.

Sign-in is EIP-4361 (siwe) with a single-use, expiring nonce for this portal's domain and chain;
the session is a signed cookie. A regulator sees its own reports and feed only (403 for another's),
nobody unsigned sees anything (401), an altered cookie is no session.
"""

import json
import re

import pytest
import requests

from consortium.portal.auth import COOKIE, SignIn
from tests.fixtures import portal as portal_fixtures

portal_server = portal_fixtures.portal_server  # the module-scoped portal of the fixture day


def _challenge(p, address, s=None):
    r = (s or requests).get(f"{p.url}/auth/challenge", params={"address": address})
    assert r.status_code == 200, r.text
    return r.json()["message"]


def _signin(p, message, signature, s=None):
    return (s or requests).post(
        f"{p.url}/auth/signin", json={"message": message, "signature": signature}
    )


def _report_url(p, reg_address):
    b = p.reports[reg_address]
    return f"{p.url}/regulators/{reg_address}/reports/{b.report['date']}/v{b.version}"


def test_signin__each_regulator__sees_its_reports_and_exactly_its_records(portal_server):
    p = portal_server
    for reg in p.regulators.values():
        s = p.session(reg)
        home = s.get(f"{p.url}/me")
        assert home.status_code == 200 and home.url.endswith(f"/regulators/{reg.address}")
        page = s.get(_report_url(p, reg.address))
        assert page.status_code == 200
        rows = re.findall(r'<tr class="record" data-id="([^"]+)"', page.text)
        want = [r["id"] for r in p.reports[reg.address].report["records"]]
        assert sorted(rows) == sorted(want)
        others = {r["id"] for b in p.reports.values() for r in b.report["records"]} - set(want)
        assert others and not others & set(rows)  # nothing only another regulator may see
        for table, count in p.expected[reg.address].items():
            section = page.text.split(f'<table id="tbl-{table}">')[1].split("</table>")[0]
            assert section.count('<tr class="record"') == count, table
        assert "[sealed]" not in page.text  # opened with the regulator's key
        html = s.get(_report_url(p, reg.address) + "/report.html")
        assert html.status_code == 200 and "Regulator report" in html.text


def test_verify__a_record__checks_against_the_anchored_root(portal_server):
    p = portal_server
    cn = p.regulators["cn"]
    s = p.session(cn)
    rid = p.reports[cn.address].report["records"][0]["id"]
    r = s.post(f"{_report_url(p, cn.address)}/records/{rid}/verify")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    missing = s.post(f"{_report_url(p, cn.address)}/records/no-such-record/verify").json()
    assert missing["ok"] is False and "no such record" in missing["reason"]


def test_other_regulators_report_and_feed__403(portal_server):
    p = portal_server
    cn, hk = p.regulators["cn"], p.regulators["hk"]
    s = p.session(cn)
    for url in (
        _report_url(p, hk.address),
        _report_url(p, hk.address) + "/report.html",
        f"{p.url}/regulators/{hk.address}",
        f"{p.url}/regulators/{hk.address}/feed",
        f"{p.url}/regulators/{hk.address}/feed/events",
        f"{p.url}/institutions/{hk.address}",
    ):
        assert s.get(url).status_code == 403, url
    rid = p.reports[hk.address].report["records"][0]["id"]
    assert s.post(f"{_report_url(p, hk.address)}/records/{rid}/verify").status_code == 403


def test_regulator_by_id__the_urls_the_demo_prints__own_served_others_403(portal_server):
    """`make demo` prints each report's URL by the regulator's id (reg-cn), not its address."""
    p = portal_server
    cn, hk = p.regulators["cn"], p.regulators["hk"]
    s = p.session(cn)
    date, version = p.reports[cn.address].report["date"], p.reports[cn.address].version
    own = s.get(f"{p.url}/regulators/reg-cn/reports/{date}/v{version}")
    assert own.status_code == 200 and "<table" in own.text
    assert s.get(f"{p.url}/regulators/reg-cn/feed").status_code == 200
    for url in (
        "/regulators/reg-hk",
        f"/regulators/reg-hk/reports/{date}/v{version}",
        "/regulators/x",
    ):
        assert s.get(p.url + url).status_code == 403, url
    assert p.session(hk).get(f"{p.url}/regulators/reg-cn").status_code == 403


def test_unsigned_and_tampered_session__401(portal_server):
    p = portal_server
    cn = p.regulators["cn"]
    urls = [
        _report_url(p, cn.address),
        f"{p.url}/regulators/{cn.address}/feed",
        f"{p.url}/overview",
    ]
    for url in urls:
        assert requests.get(url).status_code == 401, url
    good = p.session(cn).cookies[COOKIE]
    payload, _, sig = good.rpartition(".")
    forged = p.session(p.regulators["hk"]).cookies[COOKIE]  # another valid session
    for cookie in (
        payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:],  # signature altered
        forged.split(".")[0] + good[len(good.split(".")[0]) :],  # another's payload, this sig
        "not-a-session",
    ):
        r = requests.get(urls[0], cookies={COOKIE: cookie})
        assert r.status_code == 401, cookie


def test_signin__replayed_nonce__refused(portal_server):
    p = portal_server
    cn = p.regulators["cn"]
    text = _challenge(p, cn.address)
    sig = p.sign(cn.address, text)
    assert _signin(p, text, sig).status_code == 200
    again = _signin(p, text, sig)
    assert again.status_code == 401 and again.json()["reason"] == "UnknownNonce"


def test_signin__expired_nonce__refused(portal_server):
    p = portal_server
    cn = p.regulators["cn"]
    sign_in = p.portal.sign_in
    text = _challenge(p, cn.address)
    sig = p.sign(cn.address, text)
    nonce = re.search(r"Nonce: (\w+)", text).group(1)
    sign_in._nonces[nonce] -= sign_in.nonce_seconds + 1  # issued long ago
    r = _signin(p, text, sig)
    assert r.status_code == 401 and r.json()["reason"] == "ExpiredNonce"


@pytest.mark.parametrize(
    "field,value,reason",
    [
        ("chain", 999_999, "WrongChain"),
        ("domain", "evil.example:8600", "WrongDomain"),
    ],
)
def test_signin__message_for_another_chain_or_site__refused(portal_server, field, value, reason):
    p = portal_server
    cn = p.regulators["cn"]
    real = p.portal.sign_in
    other = SignIn(
        value if field == "domain" else real.domain,
        f"http://{value}" if field == "domain" else real.uri,
        value if field == "chain" else real.chain_id,
    )
    text = other.challenge(cn.address)
    real._nonces.update(other._nonces)  # the nonce is good here: only the chain or site differs
    r = _signin(p, text, p.sign(cn.address, text))
    assert r.status_code == 401 and r.json()["reason"] == reason


def test_signin__someone_elses_signature__refused(portal_server):
    p = portal_server
    cn, hk = p.regulators["cn"], p.regulators["hk"]
    text = _challenge(p, cn.address)
    r = _signin(p, text, p.sign(hk.address, text))
    assert r.status_code == 401 and r.json()["reason"] == "BadSignatureRefused"
    assert requests.Session().get(_report_url(p, cn.address)).status_code == 401


def test_signin__not_a_member__403(portal_server, stranger):
    p = portal_server
    text = _challenge(p, stranger.address)
    r = _signin(p, text, p.sign(stranger.address, text))
    assert r.status_code == 403 and r.json()["reason"] == "NotAMember"
    assert COOKIE not in r.cookies


def test_overview__members_and_channels(portal_server):
    p = portal_server
    s = p.session(p.regulators["hk"])
    page = s.get(f"{p.url}/overview")
    assert page.status_code == 200
    for reg in p.regulators.values():
        assert reg.address in page.text
    assert "↔" in page.text  # the reporter's channels to the regulators


def test_consortium_serve__one_command__serves_the_reports_with_keystore_opened(
    portal_server, enc_keys, tmp_path
):
    """`consortium serve` as its own process: the deployment record, the node, the reports
    folder and a regulator's keystore (its sealed fields opened) from the command line."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from consortium.keys import Keystore
    from tests.fixtures.portal import free_port

    p = portal_server
    cn = p.regulators["cn"]
    view = p.portal.view
    record = tmp_path / "deployment.json"
    record.write_text(json.dumps({"chain_id": view.chain_id, "contracts": view.addresses}))
    Keystore(tmp_path / "reg-cn.json").import_key(
        enc_keys[cn.address].private_key, "pass phrase", iterations=2**4
    )
    (tmp_path / "pass.txt").write_text("pass phrase\n")
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "consortium.cli", "serve", "--port", str(port)]
    cmd += ["--rpc", view.w3.provider.endpoint_uri, "--deployments", str(record)]
    cmd += [
        "--reports",
        str(p.portal.reports),
        "--keystore",
        f"{cn.address}={tmp_path / 'reg-cn.json'}",
    ]
    cmd += ["--passphrase-file", str(tmp_path / "pass.txt")]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    out = open(tmp_path / "serve.out", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/signin", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.out").read_text()
            assert time.monotonic() < deadline, "consortium serve did not answer"
            time.sleep(0.2)
        printed = (tmp_path / "serve.out").read_text()
        assert f"{url}/regulators/{cn.address}" in printed
        s = requests.Session()
        text = s.get(f"{url}/auth/challenge", params={"address": cn.address}).json()["message"]
        assert f"{url}\n" in text.replace("URI: ", "") and f"127.0.0.1:{port} wants" in text
        r = s.post(
            f"{url}/auth/signin", json={"message": text, "signature": p.sign(cn.address, text)}
        )
        assert r.status_code == 200, r.text
        b = p.reports[cn.address]
        page = s.get(f"{url}/regulators/{cn.address}/reports/{b.report['date']}/v{b.version}")
        assert page.status_code == 200 and "opened with your key" in page.text
        assert "BEN-42" in page.text and "[sealed]" not in page.text
    finally:
        proc.terminate()
        proc.wait(30)
        out.close()


def test_institution__sees_its_own_page_and_agent_folders_only(portal_server, cn, tmp_path):
    p = portal_server
    bank, broker = cn["bank"], cn["broker"]
    home = tmp_path / "cn-bank"
    for folder, name in (("inbox", "payments-0002.csv"), ("done", "payments-0001.csv")):
        (home / folder).mkdir(parents=True)
        (home / folder / name).write_text("x")
    (home / "outbox" / "decisions").mkdir(parents=True)
    for item, status in (("limit-7", "queued"), ("limit-6", "acted")):
        decision = {"item": item, "kind": "payment_limit", "status": status}
        (home / "outbox" / "decisions" / f"{item}.json").write_text(json.dumps(decision))
    p.portal.homes[bank.address.lower()] = home
    try:
        s = p.session(bank)
        page = s.get(f"{p.url}/me")
        assert page.url.endswith(f"/institutions/{bank.address}") and page.status_code == 200
        assert "payments-0002.csv" in page.text and "payments-0001.csv" in page.text
        assert "BANK" in page.text and "CASH_ISSUER" in page.text
        assert "limit-7 (payment_limit)" in page.text and "limit-6" not in page.text
        assert s.get(f"{p.url}/institutions/{broker.address}").status_code == 403
        reg = p.regulators["cn"]
        assert s.get(f"{p.url}/regulators/{reg.address}").status_code == 403
        assert s.get(f"{p.url}/regulators/{reg.address}/feed/events").status_code == 403
        bare = p.session(broker).get(f"{p.url}/institutions/{broker.address}")
        assert bare.status_code == 200 and "No agent home given" in bare.text
    finally:
        p.portal.homes.clear()
