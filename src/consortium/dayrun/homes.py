"""The agents' homes of one day, under the day's folder: settings, keystores, the passphrase file.

Keys: each institution's key is the demo's deterministic key (consortium.bootstrap.institution_key,
the one the bootstrap admitted), encrypted at once into its keystore; the driver never writes it in
plaintext. The keystores' passphrase is drawn afresh for each day and kept in `<day>/passphrase`
(owner-only, 0600), named by every agent.yaml as `passphrase_file`.

The trade-off: with the passphrase next to the keystores, anyone who can read the day's folder as
its owner can unlock them; the keystores protect the keys from other users and from a copied home,
not from the owner. That is what a demo on one machine needs (agents restarted by the chaos monkey
must unlock without a person). A real institution keeps its passphrase out of the home (a secret
manager feeding $CONSORTIUM_PASSPHRASE, or an HSM) and runs `consortium agent init` itself.

scrypt cost: eth-account's default (n = 2**18: ~0.7 s and 256 MB per unlock) unless `fast_keys`
(n = 2**14, ~50 ms); every (re)start of an agent unlocks its keystore once, so the chaos day and the
tests use fast keys, the demo the default.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortium.agent.home import AgentHome, init_home
from consortium.bootstrap import institution_key
from consortium.keys import FAST_SCRYPT_N


@dataclass(frozen=True)
class DayHomes:
    """Where the day's agents live and how they reach each other."""

    root: Path  # <day>/agents
    homes: dict[str, Path]  # institution id -> its home
    ports: dict[str, int]
    passphrase_file: Path


def write_passphrase(day: Path) -> Path:
    """A fresh passphrase for the day's keystores, in a file only its owner can read."""
    path = day / "passphrase"
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return path


def make_homes(
    day: Path,
    idents: list[str],
    consortium: Path,
    seed: int,
    chain_fields: dict[str, Any],
    line_settings: dict[str, dict],
    fast_keys: bool = False,
) -> DayHomes:
    """One home per agent: folders, keystore and agent.yaml (endpoint, peers, addresses, the
    chain and deployment record in `chain_fields`, each line's section in `line_settings`)."""
    from consortium.chain import free_port

    root = day / "agents"
    passphrase_file = write_passphrase(day)
    passphrase = passphrase_file.read_text().splitlines()[0]
    ports = {i: free_port() for i in idents}
    homes = {i: root / i for i in idents}
    addresses = _addresses(consortium, seed)
    for ident in idents:
        key = institution_key(seed, ident)
        fields = chain_fields | {
            "passphrase_file": str(passphrase_file),
            "listen": f"127.0.0.1:{ports[ident]}",
            "peers": {j: f"http://127.0.0.1:{p}" for j, p in ports.items() if j != ident},
            "addresses": addresses,
        }
        fields |= line_settings.get(ident, {})  # {"annuity": {...}, ...}: the lines' sections
        init_home(
            AgentHome(homes[ident]),
            ident,
            str(consortium),
            passphrase,
            key,
            FAST_SCRYPT_N if fast_keys else None,
            **fields,
        )
    return DayHomes(root, homes, ports, passphrase_file)


def _addresses(consortium: Path, seed: int) -> dict[str, str]:
    """Every member's address (the keys bootstrap admitted), for agent.yaml `addresses`."""
    from eth_account import Account

    from consortium.config import load_consortium

    cfg = load_consortium(consortium)
    return {i.id: Account.from_key(institution_key(seed, i.id)).address for i in cfg.institutions}
