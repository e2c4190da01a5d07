"""Reporting rules: which event of which business line goes to which regulator, at which level.

The rules live in a versioned YAML file (config/reporting-rules.yaml). Their hash — keccak256 of the
file's exact bytes — is registered on chain (ReportAnchor.setRules) and stated in every report, so a
report says which rules produced it. Adding a business line's events to the reports is a matter of
entries in that file: nothing here knows about any particular contract or event.

Errors name the file, the line and the problem (`RulesError`), because the people who edit the file
are compliance staff, not Python programmers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak

from consortium.domain.roles import ROLES
from consortium.inputs import InputFileError
from consortium.yamlfile import LineDict, load_yaml

LEVELS = ("public", "confidential")
FORMATS = ("auto", "code", "role", "hex", "int", "text", "party")
CHART_TYPES = {
    "flow": ("from", "to", "value"),
    "efficiency": ("label", "gross", "net"),
    "lineage": ("id", "parent", "value"),
    "bar": ("label", "value"),
}
REGULATOR_SELECTORS = ("supervising",)  # plus "jurisdiction:XX"
# a record's day: local in the business time zone (the default, as reconciliation's), or UTC
BUSINESS_DAYS = ("business", "utc")
DEFAULT_RULES_PATH = Path(__file__).resolve().parents[3] / "config" / "reporting-rules.yaml"


class RulesError(InputFileError):
    """A rules file that cannot be used; the message names file, line and problem."""


class ConfidentialityTableError(RulesError):
    """The `confidentiality:` table itself is inconsistent (unknown level, reader or on-chain
    form; a secret data type in clear on chain; a parameter claimed by two data types)."""


class UnknownDataType(RulesError):
    """A field names a data type (`type:`) the confidentiality table does not declare."""


class ConfidentialFieldInClear(RulesError):
    """A field of a confidential data type reported at level public."""


class SecretFieldInClear(RulesError):
    """A field of a secret data type (investor identity, holdings) reported at level public."""


class SecretFieldFromChain(RulesError):
    """A field of a secret data type read from an event parameter: the chain holds only its
    commitment or ciphertext, so the value can only come from a disclosure (`disclosed: true`)."""


# the confidentiality table's vocabulary: levels in increasing order, who may read, what goes on
# chain (clear: the value; commitment: a salted hash; sealed: ciphertext to the entitled readers)
CONFIDENTIALITY_LEVELS = ("public", "confidential", "secret")
READERS = ("parties", "regulators", "consortium")
ON_CHAIN = ("clear", "commitment", "sealed")


# mappings of the rules file remember their lines (consortium.yamlfile, the project's one loader)
_LineDict = LineDict


# ------------------------------------------------------------------ the rules model
@dataclass(frozen=True)
class PartySpec:
    """An event field naming an institution; the record goes to that institution's regulator."""

    field: str  # the party's name in records (and in `recipients`)
    roles: tuple[str, ...] = ()  # empty: any role
    jurisdictions: tuple[str, ...] = ()  # empty: any jurisdiction
    source: str = ""  # the event parameter holding the address (default: `field`)

    @property
    def param(self) -> str:
        return self.source or self.field


@dataclass(frozen=True)
class FieldSpec:
    """A reported value: an event parameter, or a value disclosed off chain against a hash."""

    name: str
    source: str  # the event parameter; `param.component` reads a component of a struct parameter
    level: str = "public"
    fmt: str = "auto"
    disclosed: bool = False  # value is looked up in the disclosures by the parameter's value
    recipients: tuple[str, ...] = ()  # confidential: party fields entitled (empty = all parties)
    scale: int = 1  # integer parameter reported multiplied (e.g. 2 obligations per trade)
    # an amount in minor units of: a code ('CNY'), 'contract' (the label of the contract key,
    # DepositToken:CNY) or 'param:<name>' (a bytes32 code parameter of the event, or of the event
    # it joins); None: not an amount. Readers show it with its currency (domain.money)
    currency: str | None = None
    data_type: str | None = None  # the confidentiality table's data type named by `type:`
    source_line: int = 0


@dataclass(frozen=True)
class DataType:
    """One row of the confidentiality table: a kind of data, its level, who may read it, what
    goes on chain, and the event parameters holding it (`params`: read from the chain;
    `disclosed`: the value disclosed off chain against that parameter's hash)."""

    name: str
    level: str
    readers: tuple[str, ...]
    on_chain: str
    params: tuple[str, ...] = ()
    disclosed: tuple[str, ...] = ()
    source_line: int = 0


@dataclass(frozen=True)
class ChartSpec:
    type: str
    title: str
    params: dict[str, str]


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    chart: ChartSpec | None = None


@dataclass(frozen=True)
class JoinSpec:
    """Parameters of an earlier event of the same contract with the same value of `key`.

    For events that carry only a key (Reconciliation.BreakRecorded has the day key, the parties are
    in that day's DayReconciled): the joined event's parameters can be read by parties and fields
    as if they were the event's own (the event's own win on a name clash)."""

    event: str
    key: str


@dataclass(frozen=True)
class Rule:
    id: str
    line: str  # business line
    contract: str  # deployed contract key (or its prefix before ":")
    event: str
    table: str
    parties: tuple[PartySpec, ...]
    fields: tuple[FieldSpec, ...]
    regulators: tuple[str, ...] = ("supervising",)
    source_line: int = 0
    join: JoinSpec | None = None

    def matches(self, contract_key: str, event: str) -> bool:
        return event == self.event and contract_key.split(":")[0] == self.contract


@dataclass
class ReportingRules:
    """The parsed rules file plus its on-chain identity (hash and version)."""

    version: int
    rules: list[Rule]
    tables: dict[str, TableSpec]
    path: str
    raw: bytes = field(repr=False, default=b"")
    # which day a record belongs to: 'business' (local days at the ReportAnchor's
    # businessUtcOffset) or 'utc' (UTC days); consortium.reporting.days.report_utc_offset
    business_day: str = "business"
    confidentiality: dict[str, DataType] = field(default_factory=dict)

    @property
    def rules_hash(self) -> bytes:
        """keccak256 of the file's exact bytes: what ReportAnchor.setRules registers."""
        return keccak(self.raw)

    @property
    def rules_hash_hex(self) -> str:
        return "0x" + self.rules_hash.hex()

    def contracts(self) -> set[str]:
        return {r.contract for r in self.rules}

    def events_of(self, contract: str) -> set[str]:
        """Events to index for `contract`: those rules report, and those they join."""
        out = {r.event for r in self.rules if r.contract == contract}
        return out | {r.join.event for r in self.rules if r.contract == contract and r.join}

    def rules_for(self, contract_key: str, event: str) -> list[Rule]:
        return [r for r in self.rules if r.matches(contract_key, event)]

    def data_type_of(self, f: FieldSpec) -> DataType | None:
        """The field's data type: named by `type:`, else the one whose `params` (read from the
        chain) or `disclosed` (disclosed off chain) list the field's source parameter."""
        if f.data_type is not None:
            return self.confidentiality.get(f.data_type)
        # a struct's component is of the data type its own name is (ours.fees: fees)
        name = f.source.rpartition(".")[2]
        for dt in self.confidentiality.values():
            if name in (dt.disclosed if f.disclosed else dt.params):
                return dt
        return None

    def check_confidentiality(self) -> None:
        """Every rule's fields against the confidentiality table: a confidential or secret data
        type is never reported in clear, and a secret one never read from the chain."""
        for rule in self.rules:
            for f in rule.fields:
                at = f.source_line or rule.source_line
                where = f"{self.path}:{at}: rule {rule.id!r} field {f.name!r}"
                if f.data_type is not None and f.data_type not in self.confidentiality:
                    raise UnknownDataType(
                        f"{where}: data type {f.data_type!r} is not in the confidentiality table "
                        f"({sorted(self.confidentiality)}); add it there or fix the name"
                    )
                dt = self.data_type_of(f)
                if dt is None:
                    continue
                if dt.level == "secret" and f.level == "public":
                    raise SecretFieldInClear(
                        f"{where}: data type {dt.name!r} is secret (on chain: {dt.on_chain}); "
                        "it cannot be reported in clear: make the field level confidential"
                    )
                if dt.level == "secret" and not f.disclosed:
                    raise SecretFieldFromChain(
                        f"{where}: data type {dt.name!r} is secret: the chain holds only its "
                        f"{dt.on_chain} form; take the value from a disclosure (disclosed: true)"
                    )
                if dt.level == "confidential" and f.level == "public":
                    raise ConfidentialFieldInClear(
                        f"{where}: data type {dt.name!r} is confidential (readers "
                        f"{list(dt.readers)}); report it at level confidential"
                    )

    def check_against_abis(self, abis: Mapping[str, list[dict]]) -> None:
        """Check every rule against the contracts' ABIs (by contract name): events and parameters
        exist, parties are addresses, and no address is reported as a plain field (addresses are
        institutions: they must be parties, so that other regulators' institutions are
        pseudonymised).
        """
        for rule in self.rules:
            where = f"{self.path}:{rule.source_line}: rule {rule.id!r}"
            abi = abis.get(rule.contract)
            if abi is None:
                continue  # a line not deployed here: its rules simply match nothing
            events = {e["name"]: e for e in abi if e.get("type") == "event"}
            if rule.event not in events:
                raise RulesError(
                    f"{where}: contract {rule.contract} has no event {rule.event}; "
                    f"its events are {sorted(events)}"
                )
            own = _param_types(events[rule.event]["inputs"])
            params = dict(own)
            if rule.join is not None:
                joined = events.get(rule.join.event)
                if joined is None:
                    raise RulesError(
                        f"{where}: join event {rule.join.event} is not an event of "
                        f"{rule.contract}; its events are {sorted(events)}"
                    )
                jparams = _param_types(joined["inputs"])
                if rule.join.key not in own or jparams.get(rule.join.key) != own[rule.join.key]:
                    raise RulesError(
                        f"{where}: join key {rule.join.key!r} must be a parameter of both "
                        f"{rule.event} and {rule.join.event}, of the same type"
                    )
                params = jparams | own
            for p in rule.parties:
                if p.param not in params:
                    raise RulesError(
                        f"{where}: party {p.field!r} reads {p.param!r}, which is not a "
                        f"parameter of {rule.event} ({sorted(params)})"
                    )
                if params[p.param] != "address":
                    raise RulesError(
                        f"{where}: party {p.field!r} is {params[p.param]}, not an address"
                    )
            for f in rule.fields:
                if f.source not in params:
                    raise RulesError(
                        f"{where}: field {f.name!r} reads {f.source!r}, which is not a "
                        f"parameter of {rule.event} ({sorted(params)})"
                    )
                if params[f.source] == "address":
                    raise RulesError(
                        f"{where}: field {f.name!r} is an address: list it under "
                        "`parties` so that foreign institutions are pseudonymised"
                    )
            unlisted = [
                n
                for n, t in own.items()
                if t == "address" and "." not in n and n not in {p.param for p in rule.parties}
            ]
            if unlisted:
                raise RulesError(
                    f"{where}: address parameter(s) {unlisted} of {rule.event} are neither "
                    "parties nor excluded; add them under `parties`"
                )


def _param_types(inputs: list[dict]) -> dict[str, str]:
    """An event's parameters by name -> ABI type, and each struct parameter's components as
    `param.component` (what a field's `from` may read)."""
    out = {}
    for i in inputs:
        out[i["name"]] = i["type"]
        for c in i.get("components", ()) if i["type"] == "tuple" else ():
            out[f"{i['name']}.{c['name']}"] = c["type"]
    return out


def event_value(args: Mapping[str, Any], source: str) -> Any:
    """The value of a field's `source` in an event's decoded arguments (`param.component`: a
    component of a struct parameter, decoded as a mapping)."""
    param, _, component = source.partition(".")
    return args[param][component] if component else args[param]


# ------------------------------------------------------------------ parsing
def load_rules(path: str | Path = DEFAULT_RULES_PATH) -> ReportingRules:
    """Read and validate a rules file; raises RulesError naming the line of the first problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RulesError(
            f"{path}: rules file not found; pass the path of reporting-rules.yaml"
        ) from None
    return parse_rules(raw, str(path))


def parse_rules(raw: bytes | str, path: str = "<rules>") -> ReportingRules:
    raw_bytes = raw.encode() if isinstance(raw, str) else raw
    doc = load_yaml(raw_bytes, path, RulesError)
    if not isinstance(doc, _LineDict):
        raise RulesError(
            f"{path}:1: the rules file must be a mapping with keys version, tables, rules"
        )
    p = _Parser(path)
    return p.document(doc, raw_bytes)


class _Parser:
    def __init__(self, path: str):
        self.path = path

    def fail(self, line: int, msg: str) -> RulesError:
        return RulesError(f"{self.path}:{line}: {msg}")

    def _line(self, m: _LineDict, key: str) -> int:
        return m.key_lines.get(key, m.line) if isinstance(m, _LineDict) else 0

    def _need(self, m: _LineDict, key: str, kind: type | tuple, what: str) -> Any:
        if key not in m:
            raise self.fail(m.line, f"{what}: missing key {key!r}")
        value = m[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(self._line(m, key), f"{what}: {key!r} must be a {names}, got {value!r}")
        return value

    def _unknown(self, m: _LineDict, allowed: Iterable[str], what: str) -> None:
        for k in m:
            if k not in allowed:
                raise self.fail(
                    self._line(m, k), f"{what}: unknown key {k!r}; allowed: {sorted(allowed)}"
                )

    def document(self, doc: _LineDict, raw: bytes) -> ReportingRules:
        self._unknown(
            doc, ("version", "business_day", "confidentiality", "tables", "rules"), "rules file"
        )
        version = self._need(doc, "version", int, "rules file")
        if not 1 <= version < 2**64:  # ReportAnchor.setRules takes a uint64
            raise self.fail(
                self._line(doc, "version"), f"version must be in 1 .. 2**64 - 1, got {version}"
            )
        day = doc.get("business_day", BUSINESS_DAYS[0])
        if day not in BUSINESS_DAYS:
            raise self.fail(
                self._line(doc, "business_day"),
                f"business_day {day!r} unknown: 'business' (local days in the ReportAnchor's "
                "business time zone) or 'utc' (UTC days of block timestamps)",
            )
        tables_doc = self._need(doc, "tables", dict, "rules file")
        tables = {name: self.table(name, t, tables_doc) for name, t in tables_doc.items()}
        rules_doc = self._need(doc, "rules", list, "rules file")
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for i, r in enumerate(rules_doc):
            if not isinstance(r, _LineDict):
                raise self.fail(
                    self._line(doc, "rules"), f"rule #{i + 1} must be a mapping, got {r!r}"
                )
            rule = self.rule(r, tables)
            if rule.id in seen:
                raise self.fail(r.line, f"rule id {rule.id!r} already used at line {seen[rule.id]}")
            seen[rule.id] = r.line
            rules.append(rule)
        out = ReportingRules(
            version=version,
            rules=rules,
            tables=tables,
            path=self.path,
            raw=raw,
            business_day=day,
            confidentiality=self.confidentiality(doc),
        )
        out.check_confidentiality()
        return out

    def confidentiality(self, doc: _LineDict) -> dict[str, DataType]:
        """The `confidentiality:` table: data type -> {level, readers, on_chain, params,
        disclosed}; checked in itself (named ConfidentialityTableError)."""
        if "confidentiality" not in doc:
            return {}
        table = doc["confidentiality"]
        if not isinstance(table, _LineDict):
            raise self.fail(self._line(doc, "confidentiality"), "confidentiality must be a mapping")
        out: dict[str, DataType] = {}
        owner: dict[tuple[str, str], str] = {}
        for name, spec in table.items():
            line = self._line(table, name)
            what = f"confidentiality {name!r}"

            def bad(msg: str, at: int = line, what: str = what) -> ConfidentialityTableError:
                return ConfidentialityTableError(f"{self.path}:{at}: {what}: {msg}")

            if not isinstance(spec, _LineDict):
                raise bad("must be a mapping {level, readers, on_chain, params}")
            self._unknown(spec, ("level", "readers", "on_chain", "params", "disclosed"), what)
            level = spec.get("level")
            if level not in CONFIDENTIALITY_LEVELS:
                raise bad(f"level {level!r} unknown; use one of {CONFIDENTIALITY_LEVELS}")
            readers = self._names(spec, "readers", what)
            if not readers or any(r not in READERS for r in readers):
                raise bad(f"readers {list(readers)} must be a non-empty subset of {READERS}")
            on_chain = spec.get("on_chain")
            if on_chain not in ON_CHAIN:
                raise bad(f"on_chain {on_chain!r} unknown; use one of {ON_CHAIN}")
            if level == "secret" and on_chain == "clear":
                raise bad("a secret data type is never in clear on chain: commitment or sealed")
            if level == "public" and "consortium" not in readers:
                raise bad("a public data type is read by the whole consortium: add consortium")
            if level != "public" and "consortium" in readers:
                raise bad(f"a {level} data type is not read by the whole consortium")
            params = self._names(spec, "params", what)
            disclosed = self._names(spec, "disclosed", what)
            for kind, names in (("params", params), ("disclosed", disclosed)):
                for p in names:
                    if (kind, p) in owner:
                        raise bad(f"{kind} {p!r} is already data type {owner[(kind, p)]!r}")
                    owner[(kind, p)] = name
            out[name] = DataType(name, level, readers, on_chain, params, disclosed, line)
        return out

    def table(self, name: str, t: Any, parent: _LineDict) -> TableSpec:
        if not isinstance(t, _LineDict):
            raise self.fail(self._line(parent, name), f"table {name!r} must be a mapping")
        self._unknown(t, ("title", "chart"), f"table {name!r}")
        chart = None
        if "chart" in t:
            c = t["chart"]
            if not isinstance(c, _LineDict):
                raise self.fail(self._line(t, "chart"), f"table {name!r}: chart must be a mapping")
            ctype = self._need(c, "type", str, f"table {name!r} chart")
            if ctype not in CHART_TYPES:
                raise self.fail(
                    self._line(c, "type"),
                    f"table {name!r}: chart type {ctype!r} unknown; "
                    f"use one of {sorted(CHART_TYPES)}",
                )
            need = CHART_TYPES[ctype]
            self._unknown(c, ("type", "title", *need), f"table {name!r} chart {ctype}")
            params = {k: str(self._need(c, k, str, f"table {name!r} chart {ctype}")) for k in need}
            chart = ChartSpec(ctype, str(c.get("title", t.get("title", name))), params)
        return TableSpec(name, str(t.get("title", name)), chart)

    def _names(
        self, m: _LineDict, key: str, what: str, known: Iterable[str] | None = None
    ) -> tuple[str, ...]:
        value = m.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(
                self._line(m, key), f"{what}: {key!r} must be a list of names, got {value!r}"
            )
        if known is not None:
            bad = [v for v in value if v not in known]
            if bad:
                raise self.fail(
                    self._line(m, key), f"{what}: unknown {key} {bad}; known: {sorted(known)}"
                )
        return tuple(value)

    def rule(self, r: _LineDict, tables: dict[str, TableSpec]) -> Rule:
        rid = self._need(r, "id", str, "rule")
        what = f"rule {rid!r}"
        self._unknown(
            r,
            (
                "id",
                "line",
                "contract",
                "event",
                "table",
                "parties",
                "roles",
                "jurisdictions",
                "regulators",
                "fields",
                "join",
            ),
            what,
        )
        table = self._need(r, "table", str, what)
        if table not in tables:
            raise self.fail(
                self._line(r, "table"),
                f"{what}: table {table!r} is not declared under " f"`tables` ({sorted(tables)})",
            )
        parties = self._parties(r, what)
        regulators = self._regulators(r, what)
        fields = self._fields(r, what, {p.field for p in parties})
        join = self._join(r, what)
        return Rule(
            id=rid,
            line=str(self._need(r, "line", str, what)),
            contract=self._need(r, "contract", str, what),
            event=self._need(r, "event", str, what),
            table=table,
            parties=tuple(parties),
            fields=tuple(fields),
            regulators=regulators,
            source_line=r.line,
            join=join,
        )

    def _parties(self, r: _LineDict, what: str) -> list[PartySpec]:
        """The rule's parties: a list of event parameters sharing the rule's roles and
        jurisdictions, or a mapping name -> {roles, jurisdictions, from} of their own."""
        roles = self._names(r, "roles", what, ROLES)
        jurisdictions = self._names(r, "jurisdictions", what)
        parties_doc = self._need(r, "parties", (list, dict), what)
        parties: list[PartySpec] = []
        if isinstance(parties_doc, list):
            for p in parties_doc:
                if not isinstance(p, str):
                    raise self.fail(
                        self._line(r, "parties"), f"{what}: party {p!r} must be a field name"
                    )
                parties.append(PartySpec(p, roles, jurisdictions))
        else:
            for name, spec in parties_doc.items():
                if spec is None:
                    spec = _LineDict()
                    spec.line, spec.key_lines = self._line(parties_doc, name), {}
                if not isinstance(spec, _LineDict):
                    raise self.fail(
                        self._line(parties_doc, name),
                        f"{what}: party {name!r} must map to "
                        "{roles: [...], jurisdictions: [...]} or nothing",
                    )
                self._unknown(spec, ("roles", "jurisdictions", "from"), f"{what} party {name!r}")
                source = spec.get("from", name)
                if not isinstance(source, str):
                    raise self.fail(
                        self._line(spec, "from"),
                        f"{what} party {name!r}: 'from' must be an event parameter name",
                    )
                parties.append(
                    PartySpec(
                        name,
                        self._names(spec, "roles", f"{what} party {name!r}", ROLES) or roles,
                        self._names(spec, "jurisdictions", f"{what} party {name!r}")
                        or jurisdictions,
                        source if source != name else "",
                    )
                )
        if not parties:
            raise self.fail(
                self._line(r, "parties"),
                f"{what}: at least one party is needed "
                "(the institution whose regulator receives the record)",
            )
        return parties

    def _regulators(self, r: _LineDict, what: str) -> tuple[str, ...]:
        regulators = self._names(r, "regulators", what) or ("supervising",)
        for sel in regulators:
            if sel not in REGULATOR_SELECTORS and not sel.startswith("jurisdiction:"):
                raise self.fail(
                    self._line(r, "regulators"),
                    f"{what}: regulator selector {sel!r} unknown; use 'supervising' or "
                    "'jurisdiction:XX'",
                )
        return regulators

    def _fields(self, r: _LineDict, what: str, party_names: set[str]) -> list[FieldSpec]:
        fields: list[FieldSpec] = []
        fields_doc = r.get("fields", {})
        if not isinstance(fields_doc, _LineDict):
            raise self.fail(
                self._line(r, "fields"), f"{what}: fields must be a mapping name -> level or spec"
            )
        for name, spec in fields_doc.items():
            fields.append(self.field_spec(name, spec, fields_doc, party_names, what))
        return fields

    def _join(self, r: _LineDict, what: str) -> JoinSpec | None:
        if "join" not in r:
            return None
        j = r["join"]
        if not isinstance(j, _LineDict):
            raise self.fail(
                self._line(r, "join"),
                f"{what}: join must be a mapping {{event: ..., key: ...}}",
            )
        self._unknown(j, ("event", "key"), f"{what} join")
        return JoinSpec(
            self._need(j, "event", str, f"{what} join"),
            self._need(j, "key", str, f"{what} join"),
        )

    def field_spec(
        self, name: str, spec: Any, parent: _LineDict, parties: set[str], what: str
    ) -> FieldSpec:
        line = self._line(parent, name)
        if isinstance(spec, str):
            if spec not in LEVELS:
                raise self.fail(
                    line, f"{what}: field {name!r} level {spec!r} unknown; use one of {LEVELS}"
                )
            return FieldSpec(name, name, spec, source_line=line)
        if not isinstance(spec, _LineDict):
            raise self.fail(line, f"{what}: field {name!r} must be a level or a mapping")
        w = f"{what} field {name!r}"
        self._unknown(
            spec,
            ("from", "level", "format", "disclosed", "recipients", "scale", "currency", "type"),
            w,
        )
        level = spec.get("level", "public")
        if level not in LEVELS:
            raise self.fail(
                self._line(spec, "level"), f"{w}: level {level!r} unknown; use one of {LEVELS}"
            )
        fmt = spec.get("format", "auto")
        if fmt not in FORMATS:
            raise self.fail(
                self._line(spec, "format"), f"{w}: format {fmt!r} unknown; use one of {FORMATS}"
            )
        disclosed = spec.get("disclosed", False)
        if not isinstance(disclosed, bool):
            raise self.fail(self._line(spec, "disclosed"), f"{w}: disclosed must be true or false")
        if disclosed and level != "confidential":
            raise self.fail(
                self._line(spec, "disclosed"),
                f"{w}: a value disclosed off chain must be level confidential",
            )
        if fmt == "party" and level != "public":
            raise self.fail(
                self._line(spec, "format"),
                f"{w}: format party (an institution shown in clear or as a pseudonym, per "
                "regulator) applies to public fields only",
            )
        recipients = self._names(spec, "recipients", w, parties)
        if recipients and level != "confidential":
            raise self.fail(
                self._line(spec, "recipients"), f"{w}: recipients apply to confidential fields only"
            )
        scale = spec.get("scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise self.fail(self._line(spec, "scale"), f"{w}: scale must be a positive integer")
        if scale != 1 and (disclosed or fmt not in ("auto", "int")):
            raise self.fail(
                self._line(spec, "scale"), f"{w}: scale applies to integer parameters only"
            )
        currency = self._currency(spec, fmt, disclosed, w)
        data_type = spec.get("type")
        if data_type is not None and not isinstance(data_type, str):
            raise self.fail(self._line(spec, "type"), f"{w}: type must be a data type name")
        return FieldSpec(
            name,
            str(spec.get("from", name)),
            level,
            fmt,
            disclosed,
            recipients,
            scale,
            currency,
            data_type,
            line,
        )

    def _currency(self, spec: _LineDict, fmt: str, disclosed: bool, w: str) -> str | None:
        """A field's `currency`: a three-letter code, 'contract' or 'param:<event parameter>'."""
        if "currency" not in spec:
            return None
        value = spec["currency"]
        line = self._line(spec, "currency")
        code = isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper()
        named = isinstance(value, str) and (
            value == "contract" or (value.startswith("param:") and len(value) > 6)
        )
        if not (code or named):
            raise self.fail(
                line,
                f"{w}: currency {value!r} must be a code (CNY), 'contract' (the contract key's "
                "label, DepositToken:CNY) or 'param:<event parameter holding the code>'",
            )
        if disclosed or fmt not in ("auto", "int"):
            raise self.fail(line, f"{w}: currency applies to integer amounts only")
        return str(value)
