"""An institution's key in an Ethereum V3 keystore (scrypt), never in plaintext on disk.

`consortium keys new|import|address` manage one keystore file per institution; an agent unlocks its
keystore once at start with the passphrase from an environment variable or a file its settings name,
and holds the key in memory only. The format is eth-account's (`Account.encrypt`/`decrypt`), which
geth, Besu's tooling and brownie's `accounts.load` read too. scrypt's default cost (n = 2**18, about
0.7 s and 256 MB here) is kept for real keys; tests pass a lower `iterations` without changing the
format. The channel (ECIES) key is the same secp256k1 key: one secret per institution to keep.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from consortium.inputs import CommandError, InputFileError

PASSPHRASE_ENV = "CONSORTIUM_PASSPHRASE"
# scrypt cost for the keys of a simulated day on a local chain (tests, the in-process demo, the
# multi-process day's --fast-keys): the same format at 1/16 of the default cost
FAST_SCRYPT_N = 2**14
# what locks the in-process day's operator keystores when $CONSORTIUM_PASSPHRASE is unset
LOCAL_DAY_PASSPHRASE = "consortium-ledger local day"


class KeystoreError(InputFileError):
    """A keystore that is missing, malformed or cannot be opened with the passphrase given."""


def passphrase_from(env: str | None = PASSPHRASE_ENV, file: str | Path | None = None) -> str:
    """The passphrase from `file` (its first line) if given, else from the environment variable
    `env`; CommandError saying where it was looked for when neither holds one."""
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: cannot read the passphrase file ({exc})") from None
        if not text or not text[0]:
            raise CommandError(f"{file}: the passphrase file is empty")
        return text[0]
    value = os.environ.get(env or PASSPHRASE_ENV)
    if not value:
        raise CommandError(
            f"no passphrase: set ${env or PASSPHRASE_ENV} or name a passphrase file "
            f"(--passphrase-file)"
        )
    return value


@dataclass(frozen=True)
class Keystore:
    """One V3 keystore file."""

    path: Path

    def __init__(self, path: str | Path):
        object.__setattr__(self, "path", Path(path))

    def create(self, passphrase: str, iterations: int | None = None) -> str:
        """A new random key, encrypted to this file; returns its address. Refuses to overwrite."""
        return self._write(Account.create(), passphrase, iterations)

    def import_key(
        self, private_key: str | bytes, passphrase: str, iterations: int | None = None
    ) -> str:
        """Encrypt an existing key (hex or bytes) to this file; returns its address."""
        try:
            account = Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            raise KeystoreError(f"not a secp256k1 private key ({exc})") from None
        return self._write(account, passphrase, iterations)

    def address(self) -> str:
        """The address the keystore holds (read without the passphrase)."""
        return "0x" + self._load()["address"].lower().removeprefix("0x")

    def unlock(self, passphrase: str) -> LocalAccount:
        """The account, decrypted in memory; KeystoreError if the passphrase is wrong."""
        data = self._load()
        try:
            key = Account.decrypt(data, passphrase)
        except ValueError:
            raise KeystoreError(f"{self.path}: wrong passphrase for this keystore") from None
        return Account.from_key(key)

    def _write(self, account: LocalAccount, passphrase: str, iterations: int | None) -> str:
        if self.path.exists():
            raise KeystoreError(
                f"{self.path}: a keystore is already there; it is never overwritten"
            )
        if not passphrase:
            raise CommandError("an empty passphrase would leave the key as good as plaintext")
        kw: dict[str, Any] = {"kdf": "scrypt"}
        if iterations is not None:
            kw["iterations"] = iterations
        data = Account.encrypt(account.key, passphrase, **kw)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner-only from the start
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        tmp.replace(self.path)
        return account.address

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise KeystoreError(
                f"{self.path}: no keystore here; `consortium keys new {self.path}` makes one"
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KeystoreError(f"{self.path}: not a JSON keystore ({exc})") from None
        if not isinstance(data, dict) or data.get("version") != 3 or "crypto" not in data:
            raise KeystoreError(
                f"{self.path}: not a V3 keystore (version 3 with a 'crypto' section)"
            )
        if not isinstance(data.get("address"), str):
            raise KeystoreError(f"{self.path}: the keystore names no address")
        return data
