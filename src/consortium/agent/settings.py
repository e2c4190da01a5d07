"""An agent's settings (`<home>/agent.yaml`): who it is, which chain, where its key and store are.

Why a file and not flags: an institution's operations team keeps one reviewed file per agent next to
its keystore and folders; a flag on the command line (`--network`, `--rpc`) only overrides it for
one run. Every problem names the file, the line and what to write instead (exit 2 from the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consortium.inputs import InputFileError
from consortium.yamlfile import LineDict, load_yaml, plain

SETTINGS_FILE = "agent.yaml"
DECISION_MODES = ("auto", "queue")


class SettingsError(InputFileError):
    """agent.yaml is missing or malformed; `str()` reads `file:line: problem`."""


@dataclass
class AgentSettings:
    """The settings of one agent; paths are resolved against the home (or the project root)."""

    home: Path
    institution: str
    consortium: Path
    network: str = "development"
    rpc: str | None = None
    deployments: Path | None = None
    store: str | None = None
    keystore: Path = Path("keystore.json")
    passphrase_file: Path | None = None
    listen: str | None = None
    poll_seconds: float = 1.0
    decisions: dict[str, str] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    peers: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)  # counterparties' member addresses
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # per line: `annuity: {...}`

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.home / 'store.sqlite'}"

    def decision_mode(self, kind: str, default: str = "auto") -> str:
        return self.decisions.get(kind, default)

    def line(self, name: str) -> dict[str, Any]:
        """The section of one business line (`annuity:` …), {} when the file has none."""
        return self.lines.get(name, {})


LINE_SECTIONS = ("annuity", "bills", "confirmations", "settlement")

# key -> (types accepted, what to write); None accepted where the default is None
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "institution": ((str,), "the institution's id in the consortium file"),
    "consortium": ((str,), "the path of the consortium file"),
    "network": ((str,), "a brownie network id such as development"),
    "rpc": ((str, type(None)), "an http(s) URL of the institution's node"),
    "deployments": ((str, type(None)), "the path of a deployment record (JSON)"),
    "store": ((str, type(None)), "null or an SQLAlchemy URL"),
    "keystore": ((str,), "the keystore file, relative to the home"),
    "passphrase_file": ((str, type(None)), "null or a file whose first line is the passphrase"),
    "listen": ((str, type(None)), "host:port of the agent's HTTP endpoint"),
    "poll_seconds": ((int, float), "seconds between two loops, e.g. 1.0"),
    "decisions": ((dict,), "a mapping of decision kind to auto or queue"),
    "limits": ((dict,), "a mapping of limit name to a whole number"),
    "peers": ((dict,), "a mapping of institution id to its endpoint URL"),
    "addresses": ((dict,), "a mapping of institution id to its member address (0x…)"),
} | {line: ((dict,), f"the {line} line's settings (a mapping)") for line in LINE_SECTIONS}


def _path(value: str | None, home: Path, root: Path) -> Path | None:
    """A path from the file: absolute as written; relative to the home if it exists there, else to
    the project root (the consortium file is usually the project's config/consortium.yaml)."""
    if value is None:
        return None
    p = Path(value)
    if p.is_absolute():
        return p
    return home / p if (home / p).exists() else root / p


def load_settings(home: str | Path, root: str | Path | None = None) -> AgentSettings:
    """The settings of the agent whose home is `home`;
    SettingsError naming the line of a problem."""
    home = Path(home).resolve()
    path = home / SETTINGS_FILE
    if not path.exists():
        raise SettingsError(
            f"{path}: no agent settings here; `consortium agent init --institution ID --home "
            f"{home}` writes them"
        )
    raw = load_yaml(path.read_bytes(), str(path), SettingsError)
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}:1: expected a mapping (institution, consortium, network …)")
    _check(raw, path)
    base = Path(root) if root is not None else Path(__file__).resolve().parents[3]
    data = plain(raw)
    return AgentSettings(
        home=home,
        institution=data["institution"],
        consortium=_path(data["consortium"], home, base),  # type: ignore[arg-type]
        network=data.get("network", "development"),
        rpc=data.get("rpc"),
        deployments=_path(data.get("deployments"), home, base),
        store=data.get("store"),
        keystore=home / data.get("keystore", "keystore.json"),
        passphrase_file=_path(data.get("passphrase_file"), home, base),
        listen=data.get("listen"),
        poll_seconds=float(data.get("poll_seconds", 1.0)),
        decisions=data.get("decisions") or {},
        limits=data.get("limits") or {},
        peers=data.get("peers") or {},
        addresses={k: _address(v) for k, v in (data.get("addresses") or {}).items()},
        lines={k: data[k] for k in LINE_SECTIONS if k in data},
    )


def _address(value: Any) -> Any:
    """An address as text: YAML reads an unquoted 0x… as a hexadecimal integer, which is what an
    operator writes; anything else is returned as is for the check to name."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**160:
        return f"0x{value:040x}"
    return value


def _check(raw: LineDict, path: Path) -> None:
    for key in ("institution", "consortium"):
        if key not in raw:
            raise SettingsError(f"{path}:{raw.line}: '{key}' is missing ({_FIELDS[key][1]})")
    for key, value in raw.items():
        if key not in _FIELDS:
            raise SettingsError(
                f"{path}:{raw.line_of(key)}: unknown setting '{key}' (known: {', '.join(_FIELDS)})"
            )
        kinds, what = _FIELDS[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise SettingsError(
                f"{path}:{raw.line_of(key)}: '{key}' must be {what}, got {plain(value)!r:.60}"
            )
    if float(raw.get("poll_seconds", 1.0)) <= 0:
        raise SettingsError(f"{path}:{raw.line_of('poll_seconds')}: 'poll_seconds' must be > 0")
    for kind, mode in (raw.get("decisions") or {}).items():
        if mode not in DECISION_MODES:
            raise SettingsError(
                f"{path}:{raw['decisions'].line_of(kind)}: decision '{kind}' must be auto or "
                f"queue, got {mode!r}"
            )
    for ident, address in (raw.get("addresses") or {}).items():
        address = _address(address)
        if not (isinstance(address, str) and len(address) == 42 and address.startswith("0x")):
            raise SettingsError(
                f"{path}:{raw['addresses'].line_of(ident)}: address of '{ident}' must be 0x and "
                f"40 hex digits, got {address!r:.60}"
            )
    for name, value in (raw.get("limits") or {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingsError(
                f"{path}:{raw['limits'].line_of(name)}: limit '{name}' must be a whole number "
                f">= 0, got {value!r}"
            )
