"""The order test files go to the pytest-xdist workers: longest first, so none idles at the end.

brownie hands whole files to the workers (xdist's LoadFileScheduling: a file's tests share its
module fixtures and chain state), and xdist queues them by number of tests, most first. That puts
the access matrix and the inbox formats (hundreds of short tests) ahead, and the few long files
(multi-process days, state machines, the lasting chain: one to twenty tests of minutes) at the
end, where one worker runs them while the other has nothing left. Longest-first (LPT) ordering by
measured seconds instead ends both workers within about the shortest files' length of each other.

`tests/durations.json` holds each file's measured seconds (one chain's run: only the order
matters, and both chains sort the heavy files alike), regenerated after a change that moves a
file's time much with `python -m consortium.devtools.suite_order JUNIT_XML` from a run with
`--junitxml`. A file not listed (new) counts as `DEFAULT_SECONDS`. tests/conftest.py applies it.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

DURATIONS = Path(__file__).resolve().parents[3] / "tests" / "durations.json"
DEFAULT_SECONDS = 5.0  # a file the table does not know yet: in the middle, not first or last

T = TypeVar("T")


def load(path: Path = DURATIONS) -> dict[str, float]:
    """{file path relative to the project, e.g. "tests/access/test_access_matrix.py": seconds}."""
    try:
        return {k: float(v) for k, v in json.loads(path.read_text())["seconds"].items()}
    except FileNotFoundError:
        return {}


def longest_first(
    items: Sequence[T], file_of: Callable[[T], str], seconds: dict[str, float]
) -> list[T]:
    """`items` with whole files moved, longest first; a file's own items keep their order, and
    files of equal weight keep the order they came in (a stable sort)."""
    by_file: dict[str, list[T]] = {}
    for item in items:
        by_file.setdefault(file_of(item), []).append(item)
    files = sorted(by_file, key=lambda f: -seconds.get(f, DEFAULT_SECONDS))
    return [item for f in files for item in by_file[f]]


def from_junit(xml_path: Path) -> dict[str, float]:
    """Seconds per test file from a pytest `--junitxml` report (setup, call and teardown)."""
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        classname = case.get("classname", "")  # tests.access.test_access_matrix[.Class]
        parts = classname.split(".")
        while parts and not parts[-1].startswith("test_"):
            parts.pop()  # a test class's name after the module's
        if parts:
            seconds["/".join(parts) + ".py"] += float(case.get("time", 0))
    return {f: round(s, 1) for f, s in sorted(seconds.items())}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m consortium.devtools.suite_order JUNIT_XML", file=sys.stderr)
        return 2
    table: dict[str, Any] = {
        "about": f"seconds per test file from {Path(args[0]).name} (pytest --junitxml); see "
        "src/consortium/devtools/suite_order.py",
        "seconds": from_junit(Path(args[0])),
    }
    DURATIONS.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{DURATIONS}: {len(table['seconds'])} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
