"""An agent's home: one folder per institution holding its settings, keystore, store and folders.

```
agents/<id>/
  agent.yaml  keystore.json  store.sqlite  agent.log
  inbox/  done/  rejected/  outbox/
```
`init_home` makes it once (never overwriting a keystore or settings); `AgentHome` names its parts so
no other module spells a folder name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from consortium.inputs import CommandError
from consortium.keys import Keystore

FOLDERS = ("inbox", "done", "rejected", "outbox")
DEFAULT_ROOT = Path("agents")


class HomeLocked(CommandError):
    """Another agent process runs on this home: two would send the same batches and race."""


class HomeExists(CommandError):
    """`agent init` found settings in the home already: they are never overwritten."""


@dataclass(frozen=True)
class AgentHome:
    """The folders and files of one agent's home."""

    path: Path

    @classmethod
    def of(cls, institution: str, home: str | Path | None = None) -> AgentHome:
        return cls(Path(home) if home is not None else DEFAULT_ROOT / institution)

    @property
    def settings(self) -> Path:
        return self.path / "agent.yaml"

    @property
    def keystore(self) -> Path:
        return self.path / "keystore.json"

    @property
    def log(self) -> Path:
        return self.path / "agent.log"

    def folder(self, name: str) -> Path:
        return self.path / name

    @property
    def inbox(self) -> Path:
        return self.path / "inbox"

    @property
    def outbox(self) -> Path:
        return self.path / "outbox"

    def lock(self) -> Any:
        """Hold the home's lock for this process's life (an OS lock: released when the process
        ends, even by SIGKILL); HomeLocked when another process holds it."""
        import fcntl
        import os

        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / "agent.lock", "a+")  # noqa: SIM115 - held until exit
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip() or "?"
            handle.close()
            raise HomeLocked(
                f"{self.path}: an agent runs on this home already (pid {other}); stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def make_folders(self) -> None:
        for name in FOLDERS:
            (self.path / name).mkdir(parents=True, exist_ok=True)


def settings_text(institution: str, consortium: str, **fields: Any) -> str:
    """agent.yaml for a new home: the given fields, None values left out (their defaults apply)."""
    body = {"institution": institution, "consortium": consortium}
    body |= {k: v for k, v in fields.items() if v is not None}
    head = f"# settings of the agent of {institution} (see docs: Running an institution)\n"
    return head + yaml.safe_dump(body, sort_keys=False)


def init_home(
    home: AgentHome,
    institution: str,
    consortium: str,
    passphrase: str,
    key: str | None = None,
    scrypt_n: int | None = None,
    **fields: Any,
) -> str:
    """Create the home: folders, agent.yaml, and the keystore (imported from `key`, a hex private
    key held in memory only, or a new random key). Returns the institution's address; HomeExists
    when settings are there already (an existing keystore is kept and used as it is)."""
    if home.settings.exists():
        raise HomeExists(f"{home.settings}: an agent is set up here already; edit that file")
    home.make_folders()
    ks = Keystore(home.keystore)
    if ks.path.exists():
        address = ks.address()
    elif key is not None:
        address = ks.import_key(key, passphrase, scrypt_n)
    else:
        address = ks.create(passphrase, scrypt_n)
    tmp = home.settings.with_name("agent.yaml.tmp")
    tmp.write_text(settings_text(institution, consortium, **fields))
    tmp.replace(home.settings)
    return address
