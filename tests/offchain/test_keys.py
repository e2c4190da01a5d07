"""Keystores: an institution's key encrypted (V3, scrypt) on disk, the passphrase from env or file."""

import json
import stat

import pytest
from eth_account import Account

from consortium import cli
from consortium.inputs import CommandError
from consortium.keys import Keystore, KeystoreError, passphrase_from

N = 2**4  # scrypt cost for tests only (the format is the same; real keys keep 2**18)
KEY = "0x" + "4c" * 32


def test_create__then_unlock__same_address_no_plaintext_owner_only(tmp_path):
    store = Keystore(tmp_path / "bank.json")
    address = store.create("s3cret", iterations=N)
    assert store.address() == address.lower()
    account = store.unlock("s3cret")
    assert account.address == address
    text = store.path.read_text()
    assert account.key.hex().removeprefix("0x") not in text
    assert json.loads(text)["version"] == 3 and json.loads(text)["crypto"]["kdf"] == "scrypt"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_import__known_key__same_address_and_key(tmp_path):
    store = Keystore(tmp_path / "k.json")
    assert store.import_key(KEY, "pw", iterations=N) == Account.from_key(KEY).address
    assert store.unlock("pw").key.hex().removeprefix("0x") == KEY[2:]
    assert "4c4c4c4c" not in store.path.read_text()


@pytest.mark.parametrize(
    "body, message",
    [
        (None, r"no keystore here"),
        ("{", r"not a JSON keystore"),
        ('{"version": 1}', r"not a V3 keystore"),
        ('{"version": 3, "crypto": {}}', r"names no address"),
    ],
)
def test_address__missing_or_malformed__named_error(tmp_path, body, message):
    path = tmp_path / "k.json"
    if body is not None:
        path.write_text(body)
    with pytest.raises(KeystoreError, match=message):
        Keystore(path).address()


def test_unlock__wrong_passphrase__refused(tmp_path):
    store = Keystore(tmp_path / "k.json")
    store.create("right", iterations=N)
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        store.unlock("wrong")


def test_create__existing_file_or_empty_passphrase__refused_and_file_unchanged(tmp_path):
    store = Keystore(tmp_path / "k.json")
    store.create("pw", iterations=N)
    before = store.path.read_bytes()
    with pytest.raises(KeystoreError, match="never overwritten"):
        store.create("pw", iterations=N)
    assert store.path.read_bytes() == before
    with pytest.raises(CommandError, match="empty passphrase"):
        Keystore(tmp_path / "other.json").create("", iterations=N)
    assert not (tmp_path / "other.json").exists()


def test_import__not_a_key__refused(tmp_path):
    with pytest.raises(KeystoreError, match="not a secp256k1 private key"):
        Keystore(tmp_path / "k.json").import_key("0x1234", "pw", iterations=N)
    assert not (tmp_path / "k.json").exists()


def test_passphrase_from__file_env_and_neither(tmp_path, monkeypatch):
    f = tmp_path / "pass"
    f.write_text("from-file\nignored\n")
    monkeypatch.setenv("BANK_PASS", "from-env")
    assert passphrase_from("BANK_PASS", f) == "from-file"
    assert passphrase_from("BANK_PASS") == "from-env"
    monkeypatch.delenv("BANK_PASS")
    with pytest.raises(CommandError, match=r"set \$BANK_PASS"):
        passphrase_from("BANK_PASS")
    (tmp_path / "empty").write_text("")
    with pytest.raises(CommandError, match="passphrase file is empty"):
        passphrase_from(file=tmp_path / "empty")


def test_cli_keys__new_address_import__and_errors_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONSORTIUM_PASSPHRASE", "pw")
    path = tmp_path / "bank.json"
    assert cli.main(["keys", "new", str(path), "--scrypt-n", str(N)]) == 0
    address = capsys.readouterr().out.split()[0]
    assert cli.main(["keys", "address", str(path)]) == 0
    assert capsys.readouterr().out.strip() == address.lower()
    keyfile = tmp_path / "key.hex"
    keyfile.write_text(KEY + "\n")
    imported = tmp_path / "imported.json"
    assert (
        cli.main(
            [
                "keys",
                "import",
                str(imported),
                "--private-key-file",
                str(keyfile),
                "--scrypt-n",
                str(N),
            ]
        )
        == 0
    )
    assert Keystore(imported).unlock("pw").address == Account.from_key(KEY).address
    capsys.readouterr()
    assert cli.main(["keys", "new", str(path), "--scrypt-n", str(N)]) == 2  # never overwritten
    assert "never overwritten" in capsys.readouterr().err
    monkeypatch.delenv("CONSORTIUM_PASSPHRASE")
    assert cli.main(["keys", "new", str(tmp_path / "x.json")]) == 2
    assert "no passphrase" in capsys.readouterr().err
