"""The one YAML loader of the project's configuration files: line numbers kept,
duplicate keys refused.

The consortium file, the day sizes and the reporting rules are written by people; a message about
them must name the line, and a key written twice (the second silently winning) is a mistake to
report, not to guess about. `load_yaml` returns plain dicts and lists that remember where they are:
a mapping's `.line` (where it starts) and `.key_lines[key]`, a sequence's `.line`. Problems are
raised as the caller's own InputFileError subclass: `file:line: what`.
"""

from __future__ import annotations

from typing import Any

import yaml

from consortium.inputs import InputFileError


class LineDict(dict):
    """A mapping that remembers the line (1-based) of itself and of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence that remembers its line (channels are written as `[a, b]`)."""

    line: int = 0


class _Duplicate(Exception):
    def __init__(self, line: int, key: Any):
        super().__init__(line, key)
        self.line, self.key = line, key


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)  # `<<:` merge keys, as SafeLoader does
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise _Duplicate(key_node.start_mark.line + 1, key)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_sequence(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(raw: bytes | str, where: str, error: type[InputFileError] = InputFileError) -> Any:
    """The YAML document in `raw` (the contents of the file `where`), with lines kept.

    Raises `error` naming `where` and the line: not UTF-8 text, not valid YAML, a duplicate key."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except _Duplicate as exc:
        raise error(f"{where}:{exc.line}: duplicate key {exc.key!r}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise error(
            f"{where}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}"
        ) from None


def plain(obj: Any) -> Any:
    """`obj` as plain dicts and lists (what callers keep once the lines are no longer needed)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj
