"""Loading and validating the consortium description (config/consortium.yaml).

A bad file stops the demo before any transaction, with a message naming the file, the line and the
problem: unknown role, institution without a regulator, channel to nobody, duplicate ids …
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consortium.domain.money import ISO_DECIMALS, MAX_DECIMALS
from consortium.domain.roles import ROLES
from consortium.inputs import InputFileError
from consortium.yamlfile import LineDict, load_yaml, plain

DEFAULT_BUSINESS_TIME_ZONE = "Asia/Shanghai"


class ConfigError(InputFileError):
    """A problem in a configuration file; `str()` reads `file:line: problem`."""


@dataclass
class InstitutionSpec:
    id: str
    name: str
    jurisdiction: str
    roles: list[str]
    regulator: str | None  # institution id of its regulator; None for a regulator itself
    line: int = 0
    endpoint: str | None = (
        None  # base URL of its agent's transport (http://host:port), if published
    )


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
    # the institutions' own business day (次日预设时刻 is local): cut-offs, report days and the
    # times a person reads follow this IANA zone, not UTC
    business_time_zone: str = DEFAULT_BUSINESS_TIME_ZONE
    # digits of each currency's minor unit (CNY 2, JPY 0): amounts stay integers of minor units,
    # these say where the point goes when a person reads one (domain.money.format_amount)
    decimals: dict[str, int] = field(default_factory=dict)
    # the nominee holding chain, in sequence: [{party, tier, clients, investors}] (holding_chain:)
    holding_chain: list[dict[str, Any]] = field(default_factory=list)

    def by_id(self, ident: str) -> InstitutionSpec:
        return next(i for i in self.institutions if i.id == ident)

    def with_role(self, role: str) -> list[InstitutionSpec]:
        return [i for i in self.institutions if role in i.roles]


def _line(item: Any, default: int = 0) -> int:
    return getattr(item, "line", default)


def load_consortium(path: str | Path) -> Consortium:
    """Parse and validate; raises ConfigError naming `path:line` and the problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: no such file (the consortium description; see config/consortium.yaml)"
        )
    raw = _read_yaml(path)

    def fail(line: int, msg: str) -> None:
        raise ConfigError(f"{path}:{line}: {msg}")

    _check_top(raw, fail)
    jurisdictions = raw["jurisdictions"]
    institutions: list[InstitutionSpec] = []
    seen: dict[str, int] = {}
    for item in raw["institutions"] or []:
        institutions.append(_institution(item, jurisdictions, seen, fail))
    by_id = {i.id: i for i in institutions}
    _check_regulators(institutions, jurisdictions, by_id, fail)
    channels = [_channel(item, by_id, fail) for item in raw.get("channels") or []]
    head = raw["consortium"]
    decimals = _currencies(raw.get("currencies") or [], fail)
    return Consortium(
        name=str(head.get("name", "consortium")),
        founder=str(head.get("founder", "Consortium permission manager")),
        founder_jurisdiction=str(head.get("jurisdiction", "CN")),
        institutions=institutions,
        channels=channels,
        currencies=list(decimals),
        securities=plain(raw.get("securities") or []),
        products=plain(raw.get("products") or {}),
        path=str(path),
        business_time_zone=_time_zone(head, fail),
        decimals=decimals,
        holding_chain=_holding_chain(raw.get("holding_chain") or [], by_id, fail),
    )


def _holding_chain(section: Any, by_id: dict[str, InstitutionSpec], fail) -> list[dict[str, Any]]:
    """'holding_chain': entries {party, tier (1 = clearing participant), clients, investors}, each
    party an institution once, each client an entry of a higher tier."""
    if not isinstance(section, list):
        fail(_line(section, 1), f"'holding_chain' must be a list, got {plain(section)!r}")
    out: list[dict[str, Any]] = []
    for item in section:
        line = _line(item)
        e = plain(item)
        if not isinstance(e, dict) or not isinstance(e.get("party"), str):
            fail(line, f"a holding_chain entry is {{party, tier, clients, investors}}, got {e!r}")
        if e["party"] not in by_id or any(x["party"] == e["party"] for x in out):
            fail(
                line, f"holding_chain: '{e['party']}' is nobody in 'institutions', or listed twice"
            )
        tier = e.get("tier")
        if not isinstance(tier, int) or not 1 <= tier <= 8:
            fail(line, f"holding_chain: '{e['party']}' needs a tier 1..8, got {tier!r}")
        out.append(
            {
                "party": e["party"],
                "tier": tier,
                "clients": list(e.get("clients") or []),
                "investors": bool(e.get("investors", True)),
            }
        )
    tiers = {e["party"]: e["tier"] for e in out}
    for e in out:
        for c in e["clients"]:
            if tiers.get(c, 0) <= e["tier"]:
                fail(
                    _line(section, 1),
                    f"holding_chain: client '{c}' of '{e['party']}' must be "
                    "an entry of a higher tier",
                )
    return out


def _currencies(section: Any, fail) -> dict[str, int]:
    """{code: decimals} of 'currencies': a mapping `CNY: 2` (digits of the minor unit), or a list
    of codes whose ISO 4217 minor units this module knows (ISO_DECIMALS)."""
    line = _line(section, 1)
    entries = section.items() if isinstance(section, dict) else ((c, None) for c in section)
    out: dict[str, int] = {}
    for code, decimals in entries:
        if not isinstance(code, str) or not code.isascii() or not code.isupper() or len(code) != 3:
            fail(line, f"currency {plain(code)!r} must be a three-letter code such as CNY")
        if decimals is None and code not in ISO_DECIMALS:
            fail(
                line,
                f"currency {code}: give its decimals ({code}: 2), it is not one of "
                f"{', '.join(sorted(ISO_DECIMALS))}",
            )
        decimals = ISO_DECIMALS[code] if decimals is None else decimals
        if (
            isinstance(decimals, bool)
            or not isinstance(decimals, int)
            or not (0 <= decimals <= MAX_DECIMALS)
        ):
            fail(
                line,
                f"currency {code}: decimals must be a whole number 0 .. {MAX_DECIMALS}, "
                f"got {plain(decimals)!r}",
            )
        out[code] = decimals
    return out


def _time_zone(head: Any, fail) -> str:
    """The consortium's business time zone: an IANA name that this machine's tz database knows."""
    name = str(head.get("business_time_zone", DEFAULT_BUSINESS_TIME_ZONE))
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        fail(
            _line(head, 1),
            f"business_time_zone {name!r} is not an IANA time zone (such as Asia/Shanghai)",
        )
    return name


def _check_top(raw: Any, fail) -> None:
    """The top level's shape: the sections, and the kind of value each holds."""
    if not isinstance(raw, dict):
        fail(1, "expected a mapping with 'consortium', 'jurisdictions', 'institutions', 'channels'")
    for key in ("consortium", "jurisdictions", "institutions"):
        if key not in raw:
            fail(_line(raw, 1), f"missing top-level key '{key}'")
    if not isinstance(raw["consortium"], dict):
        fail(raw.line, "'consortium' must be a mapping (name, founder, jurisdiction)")
    jurisdictions = raw["jurisdictions"]
    if not isinstance(jurisdictions, dict) or not jurisdictions:
        fail(raw.line, "'jurisdictions' must map codes (CN, HK …) to {regulator: <institution id>}")
    for code, j in jurisdictions.items():
        if not (isinstance(j, dict) and isinstance(j.get("regulator", ""), str)):
            fail(
                _line(j, raw.line) if isinstance(j, dict) else raw.line,
                f"jurisdiction '{code}' must be {{regulator: <institution id>}}, got {plain(j)!r}",
            )
    if not isinstance(raw["institutions"] or [], list):
        fail(raw.line, f"'institutions' must be a list, got {plain(raw['institutions'])!r}")
    for key in ("channels", "securities"):
        if not isinstance(raw.get(key) or [], list):
            fail(raw.line, f"'{key}' must be a list, got {plain(raw[key])!r}")
    if not isinstance(raw.get("currencies") or [], (list, dict)):
        fail(raw.line, f"'currencies' must map codes to decimals, got {plain(raw['currencies'])!r}")
    if not isinstance(raw.get("products") or {}, dict):
        fail(raw.line, f"'products' must be a mapping, got {plain(raw['products'])!r}")


def _institution(item: Any, jurisdictions: LineDict, seen: dict[str, int], fail) -> InstitutionSpec:
    """One entry of 'institutions', checked: fields, roles, jurisdiction, its regulator's id."""
    line = _line(item)
    if not isinstance(item, dict) or "id" not in item:
        fail(line, "an institution needs at least 'id', 'name', 'jurisdiction' and 'roles'")
    for key in ("id", "name", "jurisdiction", "regulator"):
        if isinstance(item.get(key), (dict, list)):
            fail(
                line, f"institution field '{key}' must be a single value, got {plain(item[key])!r}"
            )
    ident = str(item["id"])
    if ident in seen:
        fail(line, f"institution '{ident}' defined twice (first on line {seen[ident]})")
    seen[ident] = line
    for key in ("name", "jurisdiction", "roles"):
        if key not in item:
            fail(line, f"institution '{ident}': missing '{key}'")
    if not isinstance(item["roles"] or [], list):
        fail(line, f"institution '{ident}': 'roles' must be a list, got {plain(item['roles'])!r}")
    roles = list(item["roles"] or [])
    if not roles:
        fail(line, f"institution '{ident}': no roles")
    for role in roles:
        if not isinstance(role, str) or role not in ROLES:
            fail(
                line,
                f"institution '{ident}': unknown role {plain(role)!r} "
                f"(known: {', '.join(sorted(ROLES))})",
            )
    juris = str(item["jurisdiction"])
    if juris not in jurisdictions:
        fail(
            line,
            f"institution '{ident}': jurisdiction '{juris}' is not declared under 'jurisdictions'",
        )
    regulator = item.get("regulator")
    if regulator is not None:
        regulator = str(regulator)
    if regulator is None and "REGULATOR" not in roles:
        regulator = jurisdictions[juris].get("regulator")
        if regulator is None:
            fail(
                line,
                f"institution '{ident}' has no regulator: "
                f"set 'regulator' or one for jurisdiction '{juris}'",
            )
    endpoint = item.get("endpoint")
    if endpoint is not None:
        try:
            endpoint = endpoint_url(endpoint)
        except ValueError as exc:
            fail(line, f"institution '{ident}': {exc}")
    return InstitutionSpec(ident, str(item["name"]), juris, roles, regulator, line, endpoint)


def endpoint_url(value: Any) -> str:
    """An agent's base URL, normalised (no trailing slash); ValueError saying what is wrong.

    Only scheme, host and port: the transport adds its own paths (/v1/messages), so a path, query
    or credentials in the URL are mistakes that would otherwise fail only at the first delivery."""
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"endpoint must be a URL such as http://10.0.0.5:9107, got {plain(value)!r}"
        )
    parts = urlsplit(value.strip())
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "must start with http:// or https://"
    elif not parts.hostname:
        problem = "has no host"
    elif parts.path not in ("", "/") or parts.query or parts.fragment:
        problem = "must be only scheme://host:port (the transport adds its own paths)"
    elif parts.username or parts.password:
        problem = "must not carry credentials"
    else:
        try:
            _ = parts.port  # urlsplit checks the port only when asked
        except ValueError:
            problem = "has an invalid port"
    if problem:
        raise ValueError(f"endpoint {value!r} {problem}")
    return f"{parts.scheme}://{parts.netloc}"


def _check_regulators(
    institutions: list[InstitutionSpec],
    jurisdictions: LineDict,
    by_id: dict[str, InstitutionSpec],
    fail,
) -> None:
    """Every regulator named (by an institution or a jurisdiction) is here and holds REGULATOR."""
    for inst in institutions:
        if inst.regulator is not None:
            reg = by_id.get(inst.regulator)
            if reg is None:
                fail(
                    inst.line,
                    f"institution '{inst.id}': regulator '{inst.regulator}' "
                    "is not an institution here",
                )
            if "REGULATOR" not in reg.roles:
                fail(
                    inst.line,
                    f"institution '{inst.id}': regulator '{inst.regulator}' "
                    "does not hold role REGULATOR",
                )
    for code, j in jurisdictions.items():
        reg = j.get("regulator")
        if reg is not None and reg not in by_id:
            fail(_line(j), f"jurisdiction '{code}': regulator '{reg}' is not an institution here")


def _channel(item: Any, by_id: dict[str, InstitutionSpec], fail) -> tuple[str, str]:
    """One entry of 'channels': `[a, b]` or `{a: …, b: …}`, two different institutions."""
    line = _line(item)
    pair = [item.get("a"), item.get("b")] if isinstance(item, dict) else item
    if not isinstance(pair, list) or len(pair) != 2:
        fail(line, f"a channel is a pair of institution ids, got {plain(item)!r}")
    for end in pair:
        if not isinstance(end, str) or end not in by_id:
            fail(line, f"channel {pair[0]} <-> {pair[1]}: '{end}' is nobody in 'institutions'")
    if pair[0] == pair[1]:
        fail(line, f"channel {pair[0]} <-> {pair[1]}: a channel needs two different institutions")
    return (pair[0], pair[1])


# a size is a count of employees, bills, orders … of one simulated day: a number past this is a typo
# (the `large` profile uses at most 20,000), and would run for days rather than fail
MAX_DAY_SIZE = 1_000_000
DEFAULT_SIZES = Path(__file__).resolve().parents[2] / "config" / "day-sizes.yaml"


def load_sizes(path: str | Path, profile: str) -> dict[str, dict[str, int]]:
    """Per-line sizes of a day profile from config/day-sizes.yaml; ConfigError naming the file,
    the line and the entry on anything but {profile: {line: {key: 0 .. MAX_DAY_SIZE}}}."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: no such file (the day size profiles; see config/day-sizes.yaml)"
        )
    data = _read_yaml(path)
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}:1: expected a mapping of size profiles (quick, medium, large …)")
    if profile not in data:
        have = ", ".join(str(k) for k in data)
        raise ConfigError(f"{path}: no size profile '{profile}' (have: {have})")
    lines = data[profile]
    if not isinstance(lines, dict):
        raise ConfigError(
            f"{path}:{data.line_of(profile)}: profile '{profile}' must map each line to its sizes"
        )
    for line_name, sizes in lines.items():
        if not isinstance(sizes, dict):
            raise ConfigError(
                f"{path}:{lines.line}: {profile}.{line_name} must be a mapping of sizes"
            )
        for key, value in sizes.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= MAX_DAY_SIZE
            ):
                raise ConfigError(
                    f"{path}:{sizes.line}: {profile}.{line_name}.{key} must be a whole number "
                    f"0 .. {MAX_DAY_SIZE:,}, got {value!r}"
                )
    return plain(lines)


def _read_yaml(path: Path) -> Any:
    """The YAML document of `path`; ConfigError (file, line) when it is not UTF-8 YAML text or
    writes a key twice."""
    return load_yaml(path.read_bytes(), str(path), ConfigError)
