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


class ConfigError(ValueError):
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
    try:
        raw = yaml.load(path.read_text(), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None

    def fail(line: int, msg: str) -> None:
        raise ConfigError(f"{path}:{line}: {msg}")

    if not isinstance(raw, dict):
        fail(1, "expected a mapping with 'consortium', 'jurisdictions', 'institutions', 'channels'")
    for key in ("consortium", "jurisdictions", "institutions"):
        if key not in raw:
            fail(raw.get("__line__", 1), f"missing top-level key '{key}'")
    head = raw["consortium"]
    jurisdictions = raw["jurisdictions"]
    if not isinstance(jurisdictions, dict) or len([k for k in jurisdictions if k != "__line__"]) == 0:
        fail(raw["__line__"], "'jurisdictions' must map codes (CN, HK …) to {regulator: <institution id>}")

    institutions: list[InstitutionSpec] = []
    seen: dict[str, int] = {}
    for item in raw["institutions"] or []:
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        if not isinstance(item, dict) or "id" not in item:
            fail(line, "an institution needs at least 'id', 'name', 'jurisdiction' and 'roles'")
        ident = str(item["id"])
        if ident in seen:
            fail(line, f"institution '{ident}' defined twice (first on line {seen[ident]})")
        seen[ident] = line
        for key in ("name", "jurisdiction", "roles"):
            if key not in item:
                fail(line, f"institution '{ident}': missing '{key}'")
        roles = list(item["roles"] or [])
        if not roles:
            fail(line, f"institution '{ident}': no roles")
        for role in roles:
            if role not in ROLES:
                fail(line, f"institution '{ident}': unknown role '{role}' (known: {', '.join(sorted(ROLES))})")
        juris = str(item["jurisdiction"])
        if juris not in jurisdictions:
            fail(line, f"institution '{ident}': jurisdiction '{juris}' is not declared under 'jurisdictions'")
        regulator = item.get("regulator")
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
            if end not in by_id:
                fail(line, f"channel {pair[0]} <-> {pair[1]}: '{end}' is nobody in 'institutions'")
        if pair[0] == pair[1]:
            fail(line, f"channel {pair[0]} <-> {pair[1]}: a channel needs two different institutions")
        channels.append((pair[0], pair[1]))

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


def load_sizes(path: str | Path, profile: str) -> dict[str, dict[str, int]]:
    """Per-line sizes of a day profile from config/day-sizes.yaml."""
    data = yaml.safe_load(Path(path).read_text())
    if profile not in data:
        raise ConfigError(f"{path}: no size profile '{profile}' (have: {', '.join(data)})")
    return data[profile]
