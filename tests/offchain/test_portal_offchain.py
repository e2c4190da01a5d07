"""The portal's chain-free parts: the reports folder's two layouts, SIWE sign-in checks, the session
cookie, the closing hint. No chain, no server."""

import json

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from consortium.portal.auth import (
    BadSignatureRefused,
    ExpiredNonce,
    Sessions,
    SignIn,
    UnknownNonce,
    WrongChain,
    WrongDomain,
)
from consortium.portal.reports import find_report, list_reports

REG_A = "0x" + "aa" * 20
REG_B = "0x" + "Bb" * 20


def _write(root, folder, date, version, regulator):
    d = root / folder / date / f"v{version}"
    d.mkdir(parents=True)
    (d / "report.json").write_text(json.dumps({"regulator": regulator, "records": []}))
    return d


def test_list_reports__both_layouts__read_by_the_reports_regulator(tmp_path):
    _write(tmp_path, REG_A, "2026-12-02", 1, REG_A)  # the address layout
    _write(tmp_path, "reg-hk", "2026-12-02", 1, REG_B)  # the regulator-id layout
    _write(tmp_path, "reg-hk", "2026-12-02", 2, REG_B)
    _write(tmp_path, "reg-cn", "2026-12-03", 1, REG_A)  # the folder's name does not decide
    refs = list_reports(tmp_path)
    assert [(r.regulator, r.date, r.version) for r in refs] == [
        (REG_A, "2026-12-02", 1),
        (REG_A, "2026-12-03", 1),
        (REG_B.lower(), "2026-12-02", 1),
        (REG_B.lower(), "2026-12-02", 2),
    ]
    assert find_report(tmp_path, REG_B.upper().replace("0X", "0x"), "2026-12-02", 2).folder == (
        tmp_path / "reg-hk" / "2026-12-02" / "v2"
    )
    assert find_report(tmp_path, REG_A, "2026-12-02", 2) is None


def test_list_reports__unreadable_or_misplaced__skipped(tmp_path):
    _write(tmp_path, "reg-cn", "not-a-date", 1, REG_A)
    _write(tmp_path, "reg-cn", "2026-12-02", 1, REG_A)
    bad = tmp_path / "reg-cn" / "2026-12-02" / "v2"
    bad.mkdir()
    (bad / "report.json").write_text('{"regulator": ')  # a build in progress
    odd = tmp_path / "reg-cn" / "2026-12-02" / "vx"
    odd.mkdir()
    (odd / "report.json").write_text(json.dumps({"regulator": REG_A}))
    nobody = _write(tmp_path, "reg-cn", "2026-12-04", 1, REG_A)
    (nobody / "report.json").write_text(json.dumps({"records": []}))
    assert [(r.date, r.version) for r in list_reports(tmp_path)] == [("2026-12-02", 1)]
    assert list_reports(tmp_path / "absent") == []


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def signer():
    return Account.create()


def _sign(account, text):
    return account.sign_message(encode_defunct(text=text)).signature.hex()


def _sign_in(clock=None):
    return SignIn(
        "portal.example:8600", "http://portal.example:8600", 31337, clock=clock or Clock()
    )


def test_signin__good_signature__the_signer(signer):
    s = _sign_in()
    text = s.challenge(signer.address)
    assert "portal.example:8600 wants you to sign in" in text and "Chain ID: 31337" in text
    assert s.check(text, _sign(signer, text)) == signer.address


def test_signin__replay_expiry_and_other_signer__refused(signer):
    clock = Clock()
    s = _sign_in(clock)
    text = s.challenge(signer.address)
    sig = _sign(signer, text)
    s.check(text, sig)
    with pytest.raises(UnknownNonce):
        s.check(text, sig)
    late = s.challenge(signer.address)
    clock.now += s.nonce_seconds
    with pytest.raises(ExpiredNonce):
        s.check(late, _sign(signer, late))
    text = s.challenge(signer.address)
    with pytest.raises(BadSignatureRefused):
        s.check(text, _sign(Account.create(), text))
    with pytest.raises(UnknownNonce):  # the failed attempt used the nonce up
        s.check(text, _sign(signer, text))
    with pytest.raises(BadSignatureRefused):
        s.check("hello", "0x00")


def test_signin__many_challenges__the_oldest_dropped(signer, monkeypatch):
    from consortium.portal import auth

    monkeypatch.setattr(auth, "MAX_NONCES", 3)
    s = _sign_in()
    texts = [s.challenge(signer.address) for _ in range(4)]
    assert len(s._nonces) == 3
    with pytest.raises(UnknownNonce):
        s.check(texts[0], _sign(signer, texts[0]))
    assert s.check(texts[3], _sign(signer, texts[3])) == signer.address


def test_signin__another_site_or_chain__refused(signer):
    s = _sign_in()
    for other, error in (
        (SignIn("evil.example", "http://evil.example", 31337, clock=s.clock), WrongDomain),
        (SignIn("portal.example:8600", "http://portal.example:8600", 1, clock=s.clock), WrongChain),
    ):
        text = other.challenge(signer.address)
        s._nonces.update(other._nonces)
        with pytest.raises(error):
            s.check(text, _sign(signer, text))


def test_sessions__altered_foreign_or_expired__no_session():
    sessions = Sessions("secret")
    cookie = sessions.issue(REG_A)
    assert sessions.read(cookie) == REG_A
    # the signature's first character: all six of its bits are signature bits (the last
    # character's low bits are padding, so altering it alone may leave the signature valid)
    body, signature = cookie.rsplit(".", 1)
    altered = body + "." + ("A" if signature[0] != "A" else "Q") + signature[1:]
    assert sessions.read(altered) is None
    assert Sessions("another secret").read(cookie) is None
    assert sessions.read(None) is None and sessions.read("junk") is None
    assert Sessions("secret", max_age=-1).read(cookie) is None


def test_homes_and_names__agent_homes_named_by_the_consortium_file(tmp_path):
    from pathlib import Path

    from consortium.keys import Keystore
    from consortium.portal.serve import ServeOptions, homes_and_names, opening_keys

    root = Path(__file__).resolve().parents[2]
    key = Account.create()
    Keystore(tmp_path / "reg-cn" / "keystore.json").import_key(key.key, "pw", iterations=2**4)
    (tmp_path / "stray").mkdir()  # no keystore: not a home
    opts = ServeOptions(homes=tmp_path, consortium=root / "config" / "consortium.yaml")
    homes, names = homes_and_names(opts)
    assert homes == {key.address.lower(): tmp_path / "reg-cn"}
    assert names == {key.address.lower(): "Mainland securities and pensions regulator"}
    (tmp_path / "pw.txt").write_text("pw\n")
    keystore = str(tmp_path / "reg-cn" / "keystore.json")
    opened = opening_keys(ServeOptions(keystores=[keystore], passphrase_file=tmp_path / "pw.txt"))
    assert opened == {key.address.lower(): bytes(key.key)}
    named = opening_keys(
        ServeOptions(keystores=[f"{REG_B}={keystore}"], passphrase_file=tmp_path / "pw.txt")
    )
    assert named == {REG_B.lower(): bytes(key.key)}


def test_describe__totals_mismatch__names_currency_and_differing_fields():
    from consortium.portal.feed import describe

    ours = {"trades": 2, "gross": 200, "fees": 3, "taxes": 0, "buyNet": 203, "sellNet": 0}
    item = {
        "block": 9,
        "line": "settlement",
        "event": "ClearingTotalsMismatch",
        "args": {
            "party": "0xaa",
            "counterparty": "0xbb",
            "level": 0,
            "currency": "0x" + b"HKD".hex() + "00" * 29,
            "ours": ours,
            "theirs": ours | {"fees": 4, "buyNet": 204},
        },
    }
    text = describe(item)
    assert "totals mismatch in HKD between 0xaa and 0xbb (level 0)" in text
    assert text.endswith("fees ours 3 theirs 4, buyNet ours 203 theirs 204")


def test_describe__second_clearing__per_currency_totals():
    from consortium.portal.feed import describe

    totals = {"trades": 1, "gross": 5, "fees": 1, "taxes": 0, "buyNet": 6, "sellNet": 0}
    item = {"block": 1, "line": "settlement", "event": "SecondClearingDistributed", "args": {}}
    text = describe(item | {"second_clearing": {"CNY": totals}})
    assert "second clearing CNY: 1 trades, gross 5, fees 1, taxes 0, buy net 6" in text
