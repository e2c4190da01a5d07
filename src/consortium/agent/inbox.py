"""An agent's inbox: business files dropped by the institution's systems, validated whole, once.

Why whole files: a file is one business act (a payroll run, a day's orders); half of it on chain is
worse than none, so a file is either valid in every row and handed to the agent, or moved to
rejected/ with the first line at fault and nothing of it reaches the chain. Why the content hash:
the bank's systems may drop the same file twice (a retry, a copy under another name); the sha256 of
the bytes is journalled in the store when the file is done, and a second copy is refused as
"already processed" (moved to rejected/, so the sender sees it was not booked twice).

Writers: write `name.tmp` (or a dotfile) and rename it to `name.csv` / `name.json` when complete;
`.tmp`, `.part` and dotfiles are never read. A file written in place is taken once its size and
modification time are unchanged between two polls, or at first sight when it was last modified
more than `settle_seconds` ago (a file that was there while the agent was down).

A file `poll` returned that is neither `done` nor `reject`ed before the agent stops is returned
again after a restart: the agent's outbox keys make the second pass send nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consortium.agent.formats import (
    FORMATS,
    Format,
    ReferenceRefused,
    ValueRefused,
    format_of,
    parse_value,
)
from consortium.config import Consortium
from consortium.store import Store

__all__ = [
    "FORMATS",
    "Inbox",
    "InboxContext",
    "InboxFile",
    "InboxRefusal",
    "read_file",
    "read_rows",
]

MAX_FILE_BYTES = 16 * 1024 * 1024  # a day's file of 100,000 rows fits with room to spare
MAX_ROWS = 100_000
JOURNAL = "inbox.file"  # the store's document kind: sha256 -> {file, status, format, at}
IGNORED_SUFFIXES = (".tmp", ".part", ".result.json")


# ------------------------------------------------------------------ refusals


class InboxRefusal(ValueError):
    """A file refused whole; `line` is the 1-based line (CSV, header = 1) or JSON row (index + 1)
    at fault, None for the file as a whole."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason, self.line = reason, line


class UnknownFormat(InboxRefusal):
    """The file's name selects no format."""


class FileTooLarge(InboxRefusal):
    """The file is bigger than MAX_FILE_BYTES or holds more than MAX_ROWS rows."""


class NotText(InboxRefusal):
    """The file is not UTF-8 text."""


class MalformedFile(InboxRefusal):
    """The CSV or JSON cannot be read as rows."""


class EmptyFile(InboxRefusal):
    """The file holds no rows."""


class BadColumns(InboxRefusal):
    """A column is unknown, missing or given twice."""


class BadValue(InboxRefusal):
    """A value has the wrong type or is out of its range."""


class UnknownReference(InboxRefusal):
    """A value names a counterparty, product, security or currency the consortium lacks."""


class DuplicateKey(InboxRefusal):
    """Two rows share a key that must be unique within the file."""


class InconsistentRows(InboxRefusal):
    """Rows break a rule across rows (one employer, one trustee; a trade not ours)."""


class RoleNotHeld(InboxRefusal):
    """The institution holds none of the roles that may submit the format."""


class AlreadyProcessed(InboxRefusal):
    """The same content was processed before (its sha256 is journalled as done)."""


# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class InboxContext:
    """What validation needs to know about the submitter and the consortium."""

    institution: str
    roles: frozenset[str]
    consortium: Consortium

    @classmethod
    def of(cls, consortium: Consortium, institution: str) -> InboxContext:
        spec = consortium.by_id(institution)
        return cls(institution, frozenset(spec.roles), consortium)


@dataclass(frozen=True)
class InboxFile:
    """A valid file handed to the agent: rows keyed by column name, values typed (int, bool, date,
    bytes for hex32; None for an empty optional column without a default)."""

    path: Path
    format: str
    sha256: str
    rows: list[dict[str, Any]] = field(compare=False)
    lines: list[int] = field(default_factory=list, compare=False)  # each row's line, as in refusals

    @property
    def name(self) -> str:
        return self.path.name

    def line_of(self, index: int) -> int:
        """The line of row `index` as a refusal names it (CSV: header = 1; JSON: index + 1)."""
        return self.lines[index] if self.lines else index + 2


# ------------------------------------------------------------------ reading


def read_rows(name: str, data: bytes, ctx: InboxContext) -> tuple[Format, list[dict[str, Any]]]:
    """The format and typed rows of a file named `name` holding `data`; InboxRefusal (a subclass
    per reason) naming the line and the reason on the first fault."""
    fmt, rows, _ = read_file(name, data, ctx)
    return fmt, rows


def read_file(
    name: str, data: bytes, ctx: InboxContext
) -> tuple[Format, list[dict[str, Any]], list[int]]:
    """`read_rows` with each row's line number."""
    fmt = format_of(name)
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if fmt is None or suffix not in ("csv", "json"):
        raise UnknownFormat(
            f"{name!r} names no known format: call it <format>[-anything].csv or .json with "
            f"<format> one of {', '.join(FORMATS)}"
        )
    if not ctx.roles & fmt.roles:
        raise RoleNotHeld(
            f"{fmt.name} files are submitted by {' or '.join(sorted(fmt.roles))}; "
            f"{ctx.institution} holds {', '.join(sorted(ctx.roles)) or 'no role'}"
        )
    if len(data) > MAX_FILE_BYTES:
        raise FileTooLarge(f"the file has {len(data):,} bytes; at most {MAX_FILE_BYTES:,}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotText(f"the file is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    if suffix == "csv":
        header, raw = _csv_rows(text)
        _check_columns(fmt, {name: "" for name in header}, 1)
    else:
        raw = _json_rows(text)
    if not raw:
        raise EmptyFile("the file holds no rows")
    if len(raw) > MAX_ROWS:
        raise FileTooLarge(f"the file has {len(raw):,} rows; at most {MAX_ROWS:,} per file")
    rows = [_typed(fmt, line, values, ctx) for line, values in raw]
    _check_across(fmt, raw, rows, ctx)
    return fmt, rows, [line for line, _ in raw]


def _csv_rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """The header and (line, {column: text}) of each data row; blank lines skipped, the header
    is line 1."""
    if "\0" in text:
        raise MalformedFile("the file contains NUL characters; it is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise EmptyFile("the file is empty; it needs a header row and data rows")
        header = [h.strip() for h in header]
        _check_header(header, 1)
        out = []
        for values in reader:
            if not values or values == [""]:
                continue
            if len(values) != len(header):
                raise MalformedFile(
                    f"{len(values)} values for {len(header)} columns ({', '.join(header)})",
                    reader.line_num,
                )
            out.append((reader.line_num, dict(zip(header, values, strict=True))))
    except csv.Error as e:
        raise MalformedFile(f"not valid CSV ({e})", reader.line_num) from None
    return header, out


def _check_header(names: list[str], line: int | None) -> None:
    for n, name in enumerate(names):
        if not name:
            raise BadColumns(f"column {n + 1} of the header has no name", line)
        if name in names[:n]:
            raise BadColumns(f"column {name!r} appears twice", line)


def _json_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    """(list index + 1, object) of each row of `[...]` or `{"rows": [...]}`."""
    try:
        doc = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_repeated_keys)
    except RecursionError:
        raise MalformedFile("the JSON is nested too deeply; rows are flat objects") from None
    except (json.JSONDecodeError, ValueError) as e:
        where = f" at text line {e.lineno} column {e.colno}" if hasattr(e, "lineno") else ""
        raise MalformedFile(f"not valid JSON ({getattr(e, 'msg', e)}{where})") from None
    if isinstance(doc, dict) and set(doc) == {"rows"}:
        doc = doc["rows"]
    if not isinstance(doc, list):
        raise MalformedFile('expected a JSON list of objects, or {"rows": [...]}')
    for n, row in enumerate(doc):
        if not isinstance(row, dict):
            raise MalformedFile(f"row {n + 1} is {type(row).__name__}, not an object", n + 1)
    return [(n + 1, row) for n, row in enumerate(doc)]


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object that gives a key twice is ambiguous (which value did the sender mean?)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} given twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _typed(fmt: Format, line: int, values: dict[str, Any], ctx: InboxContext) -> dict[str, Any]:
    """One row's typed values, every column checked; refusals name the line and the column."""
    _check_columns(fmt, values, line)
    row: dict[str, Any] = {}
    for col in fmt.columns:
        raw = values.get(col.name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if col.required:
                raise BadValue(
                    f"column {col.name!r} is empty; it is required ({col.meaning})", line
                )
            row[col.name] = col.default
            continue
        try:
            row[col.name] = parse_value(col, raw, ctx)
        except ValueRefused as e:
            raise BadValue(f"{col.name} {e}", line) from None
        except ReferenceRefused as e:
            raise UnknownReference(f"{col.name}: {e}", line) from None
    return row


def _check_columns(fmt: Format, values: dict[str, Any], line: int) -> None:
    """No unknown column, every required one present (CSV: the header, line 1; JSON: each row)."""
    unknown = [k for k in values if fmt.column(k) is None]
    if unknown:
        raise BadColumns(
            f"unknown column {unknown[0]!r} for {fmt.name} "
            f"(columns: {', '.join(c.name for c in fmt.columns)})",
            line,
        )
    missing = [c.name for c in fmt.columns if c.required and c.name not in values]
    if missing:
        raise BadColumns(f"column {missing[0]!r} is missing; {fmt.name} requires it", line)


def _check_across(
    fmt: Format, raw: list[tuple[int, dict]], rows: list[dict[str, Any]], ctx: InboxContext
) -> None:
    """Unique keys within the file, then the format's cross-row rule."""
    for key in fmt.keys:
        seen: dict[tuple, int] = {}
        for (line, _), row in zip(raw, rows, strict=True):
            value = tuple(row[k] for k in key)
            if value in seen:
                shown = ", ".join(f"{k}={row[k]!r}" for k in key)
                raise DuplicateKey(f"{shown} also on line {seen[value]}; ids are unique", line)
            seen[value] = line
    if fmt.check is not None:
        fault = fmt.check(rows, ctx)
        if fault is not None:
            raise InconsistentRows(fault[1], raw[fault[0]][0])


# ------------------------------------------------------------------ the folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Inbox:
    """inbox/ watched, done/ and rejected/ filled, each with `<file>.result.json`."""

    def __init__(
        self, home: Path, store: Store, context: InboxContext, settle_seconds: float = 2.0
    ) -> None:
        self.home = Path(home)
        self.store, self.context, self.settle_seconds = store, context, settle_seconds
        self.inbox, self.done_dir, self.rejected_dir = (
            self.home / "inbox",
            self.home / "done",
            self.home / "rejected",
        )
        for d in (self.inbox, self.done_dir, self.rejected_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._seen: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns) at the last poll
        self._handed: dict[str, str] = {}  # name -> sha256 of files returned and not finished

    def poll(self) -> list[InboxFile]:
        """The new valid files, oldest first, each returned once per process; bad ones are moved
        to rejected/ with their result file and not returned."""
        out = []
        for path in self._ready():
            f = self._take(path)
            if f is not None:
                out.append(f)
        return out

    def _ready(self) -> list[Path]:
        """Files complete enough to read: stable since the last poll, or settled long ago."""
        now = time.time_ns()
        stats: dict[str, tuple[int, int]] = {}
        ready = []
        for entry in os.scandir(self.inbox):
            name = entry.name
            if name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
                continue
            if not entry.is_file(follow_symlinks=False):
                continue  # regular files only: a symlink could point anywhere, a FIFO would block
            st = entry.stat()
            stats[name] = (st.st_size, st.st_mtime_ns)
            old = now - st.st_mtime_ns > self.settle_seconds * 1e9
            if old or self._seen.get(name) == stats[name]:
                ready.append((st.st_mtime_ns, name))
        self._seen = stats
        return [self.inbox / name for _, name in sorted(ready)]

    def _take(self, path: Path) -> InboxFile | None:
        """Read, hash and validate one file; None when it was rejected or is already handed out."""
        name = path.name
        try:
            size = path.stat().st_size
            data = path.read_bytes() if size <= MAX_FILE_BYTES else b""
        except OSError:
            return None  # gone or unreadable for the moment (moved by the writer): next poll
        sha = hashlib.sha256(data).hexdigest() if size <= MAX_FILE_BYTES else f"size:{size}"
        if self._handed.get(name) == sha:
            return None
        try:
            if size > MAX_FILE_BYTES:
                raise FileTooLarge(f"the file has {size:,} bytes; at most {MAX_FILE_BYTES:,}")
            earlier = self.store.get(JOURNAL, sha)
            if earlier is not None and earlier.get("status") == "done":
                if earlier["file"] == name and not (self.done_dir / name).exists():
                    self._recover(path, earlier)
                    return None
                raise AlreadyProcessed(
                    f"already processed: the same content was done as {earlier['file']!r} "
                    f"({earlier['format']}); nothing was sent again"
                )
            fmt, rows, lines = read_file(name, data, self.context)
        except InboxRefusal as e:
            probe = InboxFile(path, format_of(name).name if format_of(name) else "", sha, [])
            self._finish(probe, self.rejected_dir, "rejected", _refusal(e))
            return None
        self._handed[name] = sha
        return InboxFile(path, fmt.name, sha, rows, lines)

    def release(self, f: InboxFile) -> None:
        """Hand `f` over again at the next poll (its processing failed for a passing reason, e.g.
        the chain did not answer); without it a file is handed over once per process."""
        self._handed.pop(f.name, None)

    def done(self, f: InboxFile, result: dict[str, Any]) -> Path:
        """Move a processed file to done/ with `<name>.result.json` (status done, the agent's
        result); its sha256 is journalled first, so the content is never processed again."""
        self.store.put(
            JOURNAL,
            f.sha256,
            {"file": f.name, "format": f.format, "status": "done", "at": int(time.time())},
        )
        body = {"status": "done", "format": f.format, "sha256": f.sha256, "rows": len(f.rows)}
        return self._finish(f, self.done_dir, "done", {**body, "result": result})

    def _recover(self, path: Path, earlier: dict[str, Any]) -> None:
        """Finish the move of a file journalled as done when the agent stopped before moving it."""
        result = self.done_dir / (path.name + ".result.json")
        if not result.exists():
            doc = {"file": path.name, "status": "done", "format": earlier["format"], "result": {}}
            result.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.replace(path, self.done_dir / path.name)
        self._seen.pop(path.name, None)

    def reject(self, f: InboxFile, line: int | None, reason: str) -> Path:
        """Move a file the agent refused after `poll` (e.g. a chain refusal on a dry run) to
        rejected/, naming the line and the reason."""
        return self._finish(
            f, self.rejected_dir, "rejected", {"status": "rejected", "line": line, "reason": reason}
        )

    def _finish(self, f: InboxFile, folder: Path, status: str, body: dict[str, Any]) -> Path:
        """Result file first, then the move (a crash between leaves the file in inbox/ to redo)."""
        target = _free_name(folder, f.name)
        result = target.with_name(target.name + ".result.json")
        doc = {"file": f.name, "status": status, **body}
        tmp = result.with_name(result.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n", encoding="utf-8")
        os.replace(tmp, result)
        if _sha256_of(f.path) == f.sha256:
            os.replace(f.path, target)
        # else: moved already, or replaced by new content since poll (left for the next poll)
        self._handed.pop(f.name, None)
        self._seen.pop(f.name, None)
        return target


def _sha256_of(path: Path) -> str | None:
    """The file's identity as `poll` took it: its sha256, `size:N` past MAX_FILE_BYTES (never
    read), None when it is gone."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return f"size:{size}"
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _refusal(e: InboxRefusal) -> dict[str, Any]:
    return {"line": e.line, "reason": e.reason, "refusal": type(e).__name__}


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/<stem>~N<suffix>` when a file of that name was finished before
    (the same name can come back with other content)."""
    target = folder / name
    n = 1
    while target.exists() or target.with_name(target.name + ".result.json").exists():
        n += 1
        stem, dot, suffix = name.rpartition(".")
        target = folder / (f"{stem}~{n}.{suffix}" if dot else f"{name}~{n}")
    return target
