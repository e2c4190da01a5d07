"""Loading and validating the consortium description (config/consortium.yaml).

A bad file stops the demo before any transaction, with a message naming the file, the line and the
problem: unknown role, institution without a regulator, channel to nobody, duplicate ids …
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from consortium.domain.roles import ROLES
from consortium.inputs import InputFileError


class ConfigError(InputFileError):
    """A problem in a configuration file; `str()` reads `file:line: problem`."""


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line each mapping starts on (as key `__line__`)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


class _Seq(list):
    """A YAML sequence that remembers its line (channels are written as `[a, b]`)."""

    line = 0


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    seq = _Seq(loader.construct_sequence(node, deep=True))
    seq.line = node.start_mark.line + 1
    return seq


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


@dataclass
class InstitutionSpec:
    id: str
    name: str
    jurisdiction: str
    roles: list[str]
    regulator: str | None  # institution id of its regulator; None for a regulator itself
    line: int = 0


@dataclass
class Consortium:
    name: str
    founder: str
    founder_jurisdiction: str
    institutions: list[InstitutionSpec]
    channels: list[tuple[str, str]]
    currencies: list[str]
    securities: list[dict[str, Any]] = field(default_factory=list)
    products: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def by_id(self, ident: str) -> InstitutionSpec:
        return next(i for i in self.institutions if i.id == ident)

    def with_role(self, role: str) -> list[InstitutionSpec]:
        return [i for i in self.institutions if role in i.roles]


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "__line__"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]  # also turns _Seq back into a plain list
    return obj


def load_consortium(path: str | Path) -> Consortium:
    """Parse and validate; raises ConfigError naming `path:line` and the problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file (the consortium description; see config/consortium.yaml)")
    raw = _read_yaml(path, _LineLoader)

    def fail(line: int, msg: str) -> None:
        raise ConfigError(f"{path}:{line}: {msg}")

    if not isinstance(raw, dict):
        fail(1, "expected a mapping with 'consortium', 'jurisdictions', 'institutions', 'channels'")
    for key in ("consortium", "jurisdictions", "institutions"):
        if key not in raw:
            fail(raw.get("__line__", 1), f"missing top-level key '{key}'")
    head = raw["consortium"]
    if not isinstance(head, dict):
        fail(raw["__line__"], "'consortium' must be a mapping (name, founder, jurisdiction)")
    jurisdictions = raw["jurisdictions"]
    if not isinstance(jurisdictions, dict) or len([k for k in jurisdictions if k != "__line__"]) == 0:
        fail(raw["__line__"], "'jurisdictions' must map codes (CN, HK …) to {regulator: <institution id>}")
    for code, j in jurisdictions.items():
        if code != "__line__" and not (isinstance(j, dict) and isinstance(j.get("regulator", ""), str)):
            line = j.get("__line__", raw["__line__"]) if isinstance(j, dict) else raw["__line__"]
            fail(line, f"jurisdiction '{code}' must be {{regulator: <institution id>}}, got {_strip(j)!r}")
    if not isinstance(raw["institutions"] or [], list):
        fail(raw["__line__"], f"'institutions' must be a list, got {_strip(raw['institutions'])!r}")
    for key in ("channels", "currencies", "securities"):
        if not isinstance(raw.get(key) or [], list):
            fail(raw["__line__"], f"'{key}' must be a list, got {_strip(raw[key])!r}")

    institutions: list[InstitutionSpec] = []
    seen: dict[str, int] = {}
    for item in raw["institutions"] or []:
        line = item.get("__line__", 0) if isinstance(item, dict) else getattr(item, "line", 0)
        if not isinstance(item, dict) or "id" not in item:
            fail(line, "an institution needs at least 'id', 'name', 'jurisdiction' and 'roles'")
        for key in ("id", "name", "jurisdiction", "regulator"):
            if isinstance(item.get(key), (dict, list)):
                fail(line, f"institution field '{key}' must be a single value, got {_strip(item[key])!r}")
        ident = str(item["id"])
        if ident in seen:
            fail(line, f"institution '{ident}' defined twice (first on line {seen[ident]})")
        seen[ident] = line
        for key in ("name", "jurisdiction", "roles"):
            if key not in item:
                fail(line, f"institution '{ident}': missing '{key}'")
        if not isinstance(item["roles"] or [], list):
            fail(line, f"institution '{ident}': 'roles' must be a list, got {item['roles']!r}")
        roles = list(item["roles"] or [])
        if not roles:
            fail(line, f"institution '{ident}': no roles")
        for role in roles:
            if not isinstance(role, str) or role not in ROLES:
                fail(line, f"institution '{ident}': unknown role {_strip(role)!r} (known: {', '.join(sorted(ROLES))})")
        juris = str(item["jurisdiction"])
        if juris not in jurisdictions:
            fail(line, f"institution '{ident}': jurisdiction '{juris}' is not declared under 'jurisdictions'")
        regulator = item.get("regulator")
        if regulator is not None:
            regulator = str(regulator)
        if regulator is None and "REGULATOR" not in roles:
            j = jurisdictions[juris]
            regulator = j.get("regulator") if isinstance(j, dict) else None
            if regulator is None:
                fail(line, f"institution '{ident}' has no regulator: set 'regulator' or one for jurisdiction '{juris}'")
        institutions.append(InstitutionSpec(ident, str(item["name"]), juris, roles, regulator, line))

    by_id = {i.id: i for i in institutions}
    for inst in institutions:
        if inst.regulator is not None:
            reg = by_id.get(inst.regulator)
            if reg is None:
                fail(inst.line, f"institution '{inst.id}': regulator '{inst.regulator}' is not an institution here")
            if "REGULATOR" not in reg.roles:
                fail(inst.line, f"institution '{inst.id}': regulator '{inst.regulator}' does not hold role REGULATOR")
    for code, j in jurisdictions.items():
        if code == "__line__":
            continue
        reg = j.get("regulator") if isinstance(j, dict) else None
        if reg is not None and reg not in by_id:
            fail(j.get("__line__", 0), f"jurisdiction '{code}': regulator '{reg}' is not an institution here")

    channels: list[tuple[str, str]] = []
    for item in raw.get("channels") or []:
        line = item.get("__line__", 0) if isinstance(item, dict) else getattr(item, "line", 0)
        pair = [item.get("a"), item.get("b")] if isinstance(item, dict) else item
        if not isinstance(pair, list) or len(pair) != 2:
            fail(line, f"a channel is a pair of institution ids, got {_strip(item)!r}")
        for end in pair:
            if not isinstance(end, str) or end not in by_id:
                fail(line, f"channel {pair[0]} <-> {pair[1]}: '{end}' is nobody in 'institutions'")
        if pair[0] == pair[1]:
            fail(line, f"channel {pair[0]} <-> {pair[1]}: a channel needs two different institutions")
        channels.append((pair[0], pair[1]))
    if not isinstance(raw.get("products") or {}, dict):
        fail(raw["__line__"], f"'products' must be a mapping, got {_strip(raw['products'])!r}")

    return Consortium(
        name=str(head.get("name", "consortium")),
        founder=str(head.get("founder", "Consortium permission manager")),
        founder_jurisdiction=str(head.get("jurisdiction", "CN")),
        institutions=institutions,
        channels=channels,
        currencies=[str(c) for c in raw.get("currencies") or []],
        securities=_strip(raw.get("securities") or []),
        products=_strip(raw.get("products") or {}),
        path=str(path),
    )


# a size is a count of employees, bills, orders … of one simulated day: a number past this is a typo
# (the `large` profile uses at most 20,000), and would run for days rather than fail
MAX_DAY_SIZE = 1_000_000
DEFAULT_SIZES = Path(__file__).resolve().parents[2] / "config" / "day-sizes.yaml"


def load_sizes(path: str | Path, profile: str) -> dict[str, dict[str, int]]:
    """Per-line sizes of a day profile from config/day-sizes.yaml; ConfigError naming the file,
    the line and the entry on anything but {profile: {line: {key: 0 .. MAX_DAY_SIZE}}}."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file (the day size profiles; see config/day-sizes.yaml)")
    data = _read_yaml(path, _LineLoader)
    if not isinstance(data, dict) or not [k for k in data if k != "__line__"]:
        raise ConfigError(f"{path}:1: expected a mapping of size profiles (quick, medium, large …)")
    if profile not in data or profile == "__line__":
        have = ", ".join(str(k) for k in data if k != "__line__")
        raise ConfigError(f"{path}: no size profile '{profile}' (have: {have})")
    lines = data[profile]
    if not isinstance(lines, dict):
        raise ConfigError(f"{path}:{data['__line__']}: profile '{profile}' must map each line to its sizes")
    for line_name, sizes in lines.items():
        if line_name == "__line__":
            continue
        if not isinstance(sizes, dict):
            raise ConfigError(f"{path}:{lines['__line__']}: {profile}.{line_name} must be a mapping of sizes")
        for key, value in sizes.items():
            if key == "__line__":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAY_SIZE:
                raise ConfigError(
                    f"{path}:{sizes['__line__']}: {profile}.{line_name}.{key} must be a whole number "
                    f"0 .. {MAX_DAY_SIZE:,}, got {value!r}"
                )
    return _strip(lines)


def _read_yaml(path: Path, loader: type) -> Any:
    """The YAML document of `path`; ConfigError (file, line) when it is not UTF-8 YAML text."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
