"""The xdist queue order: whole files, longest first, by the measured table (suite_order)."""

from consortium.devtools import suite_order

SECONDS = {"tests/a.py": 10.0, "tests/b.py": 300.0, "tests/c.py": 10.0}


def _ids(items):
    return [f"{f}::{t}" for f, t in items]


def test_longest_first__whole_files_longest_first_own_order_kept():
    items = [("tests/a.py", "t1"), ("tests/b.py", "t1"), ("tests/a.py", "t2"), ("tests/c.py", "t1")]
    items += [("tests/b.py", "t2")]
    ordered = suite_order.longest_first(items, lambda i: i[0], SECONDS)
    assert _ids(ordered) == [
        "tests/b.py::t1",
        "tests/b.py::t2",
        "tests/a.py::t1",  # a and c weigh the same: the order they came in
        "tests/a.py::t2",
        "tests/c.py::t1",
    ]


def test_longest_first__file_not_in_the_table__counts_as_the_default():
    seconds = {"tests/long.py": suite_order.DEFAULT_SECONDS + 1, "tests/short.py": 0.5}
    items = [("tests/short.py", "t"), ("tests/new.py", "t"), ("tests/long.py", "t")]
    ordered = suite_order.longest_first(items, lambda i: i[0], seconds)
    assert [f for f, _ in ordered] == ["tests/long.py", "tests/new.py", "tests/short.py"]


def test_from_junit__seconds_summed_per_file_classes_folded(tmp_path):
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest">'
        '<testcase classname="tests.access.test_access_matrix" name="a" time="1.5"/>'
        '<testcase classname="tests.access.test_access_matrix" name="b" time="2.25"/>'
        '<testcase classname="tests.unit.BillToken.test_issue" name="c" time="3"/>'
        '<testcase classname="tests.offchain.test_x.TestGroup" name="d" time="0.5"/>'
        "</testsuite></testsuites>"
    )
    assert suite_order.from_junit(xml) == {
        "tests/access/test_access_matrix.py": 3.8,
        "tests/offchain/test_x.py": 0.5,
        "tests/unit/BillToken/test_issue.py": 3.0,
    }


def test_load__the_table_in_the_repository__seconds_for_test_files():
    seconds = suite_order.load()
    assert seconds, "tests/durations.json is missing or empty"
    assert all(f.startswith("tests/") and f.endswith(".py") for f in seconds)
    assert all(s >= 0 for s in seconds.values())


def test_load__no_table__every_file_the_default(tmp_path):
    assert suite_order.load(tmp_path / "absent.json") == {}
