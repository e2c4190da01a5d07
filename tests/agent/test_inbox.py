"""The agent's inbox: every format's good file handed over typed, once; every bad one refused whole
(file, line, reason in rejected/<file>.result.json) and never handed over; files still being
written left alone. Pure Python: a SQLite store in tmp_path and config/consortium.yaml, no chain.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from consortium.agent import inbox as inbox_mod
from consortium.agent.formats import FORMATS, MAX_ID_LENGTH, age_on
from consortium.agent.inbox import JOURNAL, Inbox, InboxContext
from consortium.config import load_consortium
from consortium.store import Store

ROOT = Path(__file__).resolve().parents[2]
CONSORTIUM = load_consortium(ROOT / "config/consortium.yaml")

# who submits each format's example file (docs/formats.md shows the same examples)
SUBMITTER = {
    "enrolments": "annuity-platform",
    "contributions": "trustee",
    "plan-choices": "annuity-platform",
    "product-rules": "sales-bank",
    "customers": "sales-bank",
    "orders": "sales-bank",
    "debits": "finance-company",
    "credits": "sales-bank",
    "trades": "broker-hk",
    "charges": "broker-hk",
    "cycles": "ccp",
    "issues": "csd",
    "bill-issues": "core-enterprise",
    "bill-transfers": "tier1-supplier",
    "bill-financing": "tier2-supplier-a",
    "bill-redemptions": "core-enterprise",
}
NOT_ALLOWED = "auditor"  # holds AUDITOR only: may submit no format


def test_every_format_has_a_submitter_here():
    assert set(SUBMITTER) == set(FORMATS)


# ------------------------------------------------------------------ helpers


def csv_text(rows: list[dict[str, Any]], header: list[str] | None = None) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = header or list(rows[0])
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    return out.getvalue()


def example(fmt: str) -> list[dict[str, str]]:
    return [dict(r) for r in FORMATS[fmt].example]


def two_rows(fmt: str) -> list[dict[str, str]]:
    """The example made two rows long, the second with its own keys (a valid file)."""
    rows = example(fmt)
    if len(rows) > 1:
        return rows
    second = dict(rows[0])
    for col in {c for key in FORMATS[fmt].keys for c in key}:
        kind = FORMATS[fmt].column(col).kind
        if kind == "id":
            second[col] = second[col] + "-2"
        elif kind == "int":
            second[col] = str(int(second[col]) + 1)
        elif kind == "hex32":
            second[col] = "ee" * 32
        elif kind == "choice":  # charges: (security, kind, payer)
            second[col] = next(
                c for c in FORMATS[fmt].column(col).choices if c != rows[0][col].lower()
            )
    return [rows[0], second]


@pytest.fixture(autouse=True)
def isolation():
    """No chain here: the suite's per-test chain snapshot (tests/conftest.py) is not needed."""


@pytest.fixture
def store(tmp_path):
    return Store.at(tmp_path / "store.sqlite")


@pytest.fixture
def make_inbox(tmp_path, store):
    def make(institution: str, settle_seconds: float = 0.0, home: Path | None = None) -> Inbox:
        ctx = InboxContext.of(CONSORTIUM, institution)
        return Inbox(home or tmp_path / "home", store, ctx, settle_seconds=settle_seconds)

    return make


def drop(ib: Inbox, name: str, content: str | bytes) -> Path:
    """Write a file the way the convention says: name.tmp, then rename."""
    data = content.encode() if isinstance(content, str) else content
    tmp = ib.inbox / (name + ".tmp")
    tmp.write_bytes(data)
    return tmp.rename(ib.inbox / name)


def result_of(folder: Path, name: str) -> dict[str, Any]:
    return json.loads((folder / (name + ".result.json")).read_text())


def assert_rejected(ib: Inbox, name: str, refusal: str, line: int | None, words: str) -> dict:
    """Nothing handed over, the file moved to rejected/ with a result naming file, line, reason,
    and nothing journalled as processed."""
    assert ib.poll() == []
    assert not (ib.inbox / name).exists()
    assert (ib.rejected_dir / name).exists()
    res = result_of(ib.rejected_dir, name)
    assert res["file"] == name and res["status"] == "rejected"
    assert res["refusal"] == refusal, res
    assert res["line"] == line, res
    assert words.lower() in res["reason"].lower(), res
    assert all(d["status"] != "done" for d in ib.store.all(JOURNAL).values())
    assert list(ib.done_dir.iterdir()) == []
    return res


# ------------------------------------------------------------------ good files


KIND_TYPES = {
    "amount": int,
    "int": int,
    "bool": bool,
    "date": date,
    "month": str,
    "datetime": int,
    "hex32": bytes,
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_good_file__every_format__handed_over_typed_once(make_inbox, fmt):
    ib = make_inbox(SUBMITTER[fmt])
    rows = two_rows(fmt)
    path = drop(ib, f"{fmt}-2026-12-05.csv", csv_text(rows))
    (got,) = ib.poll()
    assert (got.path, got.format, len(got.rows)) == (path, fmt, len(rows))
    assert got.sha256 == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    for row in got.rows:
        assert list(row) == [c.name for c in FORMATS[fmt].columns]
        for col in FORMATS[fmt].columns:
            value = row[col.name]
            if value is None or value == col.default:
                assert not col.required
            elif col.kind in KIND_TYPES:
                assert type(value) is KIND_TYPES[col.kind], (col.name, value)
            else:
                assert isinstance(value, str) and value == value.strip()
    assert ib.poll() == []  # handed over once, even before it is done
    target = ib.done(got, {"sent": 2})
    assert target == ib.done_dir / path.name and target.exists() and not path.exists()
    res = result_of(ib.done_dir, path.name)
    assert res == {
        "file": path.name,
        "status": "done",
        "format": fmt,
        "sha256": got.sha256,
        "rows": len(rows),
        "result": {"sent": 2},
    }


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_good_json__every_format__same_rows_as_csv(make_inbox, fmt):
    ib = make_inbox(SUBMITTER[fmt])
    rows = two_rows(fmt)
    drop(ib, f"{fmt}-a.csv", csv_text(rows))
    drop(ib, f"{fmt}-b.json", json.dumps({"rows": rows}))
    a, b = sorted(ib.poll(), key=lambda f: f.path.name)
    assert (a.format, b.format) == (fmt, fmt)
    assert a.rows == b.rows


def test_typed_values__as_the_runtime_reads_them(make_inbox):
    ib = make_inbox("trustee")
    drop(
        ib,
        "contributions.json",
        json.dumps(
            [
                {
                    "payroll_ref": "P1",
                    "employee_id": " E-1 ",
                    "amount": 150000,
                    "period": "2026-12",
                },
                {
                    "payroll_ref": "P1",
                    "employee_id": "E-2",
                    "amount": "7",
                    "period": "2026-12",
                    "account_id": "0x" + "ab" * 32,
                },
            ]
        ),
    )
    (f,) = ib.poll()
    assert f.rows == [
        {
            "payroll_ref": "P1",
            "employee_id": "E-1",
            "amount": 150000,
            "period": "2026-12",
            "account_id": None,
        },
        {
            "payroll_ref": "P1",
            "employee_id": "E-2",
            "amount": 7,
            "period": "2026-12",
            "account_id": bytes.fromhex("ab" * 32),
        },
    ]
    ib2 = make_inbox("finance-company", home=ib.home.parent / "fc")
    drop(ib2, "debits.csv", csv_text(example("debits")))
    (d,) = ib2.poll()
    assert d.rows[0]["paid_at"] == 1796376600  # 2026-12-04T09:30:00Z
    assert d.rows[0]["day"] == date(2026, 12, 4)
    ib3 = make_inbox("annuity-platform", home=ib.home.parent / "ap")
    drop(ib3, "plan-choices.csv", csv_text(example("plan-choices")))
    (p,) = ib3.poll()
    assert [(r["version"], r["reset"]) for r in p.rows] == [(None, True), (1, False)]
    assert age_on(date(1980, 4, 2), date(2026, 4, 1)) == 45
    assert age_on(date(1980, 4, 2), date(2026, 4, 2)) == 46


def test_csv_with_bom_crlf_and_blank_lines__accepted_with_their_lines(make_inbox):
    ib = make_inbox("annuity-platform")
    head, first, second = csv_text(example("plan-choices")).splitlines()
    text = f"{head}\r\n\r\n{first}\r\n\r\n\r\n{second}\r\n\r\n"
    drop(ib, "plan-choices-x.csv", b"\xef\xbb\xbf" + text.encode())
    (f,) = ib.poll()
    assert [r["employee_id"] for r in f.rows] == ["E-1001", "E-1002"]
    assert (f.lines, f.line_of(1)) == ([3, 6], 6)


def test_json_rows__lines_are_list_positions(make_inbox):
    ib = make_inbox("annuity-platform")
    drop(ib, "plan-choices.json", json.dumps(example("plan-choices")))
    (f,) = ib.poll()
    assert (f.lines, f.line_of(0)) == ([1, 2], 1)


def test_release__a_file_whose_processing_failed_is_handed_over_again(make_inbox):
    ib = make_inbox("annuity-platform")
    drop(ib, "plan-choices.csv", csv_text(example("plan-choices")))
    (f,) = ib.poll()
    assert ib.poll() == []
    ib.release(f)
    (again,) = ib.poll()
    assert again.sha256 == f.sha256


# ------------------------------------------------------------------ refused for every format


def _first(fmt: str, kinds: tuple[str, ...]) -> str | None:
    return next((c.name for c in FORMATS[fmt].columns if c.kind in kinds), None)


def _mutate(fmt: str, col: str, value: Any) -> str:
    rows = two_rows(fmt)
    rows[1][col] = value
    return csv_text(rows)


def _case(fmt: str, case: str) -> tuple[str, str, int | None, str] | None:
    """(content, refusal, line, words) of a hostile variant of `fmt`'s good file, or None when
    the case does not apply to the format."""
    rows = two_rows(fmt)
    cols = [c.name for c in FORMATS[fmt].columns]
    text_col = _first(fmt, ("id", "choice", "institution", "product", "plan", "security"))
    num_col = _first(fmt, ("amount", "int"))
    ref_col = _first(fmt, ("institution", "product", "plan", "security", "currency"))
    required = next(c.name for c in FORMATS[fmt].columns if c.required)
    if case == "unknown column":
        return csv_text(rows, cols + ["iban"]), "BadColumns", 1, "unknown column 'iban'"
    if case == "missing column":
        return csv_text(rows, [c for c in cols if c != required]), "BadColumns", 1, required
    if case == "empty value":
        return _mutate(fmt, required, "  "), "BadValue", 3, f"'{required}' is empty"
    if case == "duplicate row":
        return csv_text([rows[0], rows[1], rows[0]]), "DuplicateKey", 4, "also on line 2"
    if case == "control character":
        return _mutate(fmt, text_col, "AB\x07C"), "BadValue", 3, "control character U+0007"
    if case == "bidi override":
        return _mutate(fmt, text_col, "AB\u202eC"), "BadValue", 3, "U+202E"
    if case == "too long":
        return _mutate(fmt, text_col, "x" * (MAX_ID_LENGTH + 1)), "BadValue", 3, "at most 64"
    if case.startswith("number ") and num_col:
        value = case.removeprefix("number ")
        if value == "above its maximum":
            value = str(FORMATS[fmt].column(num_col).high + 1)
        return _mutate(fmt, num_col, value), "BadValue", 3, num_col
    if case == "unknown reference" and ref_col:
        return _mutate(fmt, ref_col, "nobody"), "UnknownReference", 3, "'nobody'"
    if case == "ragged row":
        return csv_text(rows) + "a,b\n", "MalformedFile", 4, "values for"
    if case == "unterminated quote":
        return csv_text(rows) + '"abc,', "MalformedFile", 4, "not valid csv"
    return None


CASES = [
    "unknown column",
    "missing column",
    "empty value",
    "duplicate row",
    "control character",
    "bidi override",
    "too long",
    "number 0",
    "number -5",
    "number above its maximum",
    f"number {2**256}",
    "number 1.5",
    "number 1e3",
    "number １２",
    "number 12 000",
    "unknown reference",
    "ragged row",
    "unterminated quote",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_hostile_csv__every_format__refused_whole(make_inbox, fmt, case):
    spec = _case(fmt, case)
    if spec is None:
        pytest.skip(f"{fmt} has no column for {case}")
    content, refusal, line, words = spec
    if case == "number 0" and FORMATS[fmt].column(_first(fmt, ("amount", "int"))).low == 0:
        refusal, words = None, ""  # 0 is in range there (bps, shares): accepted, below
    ib = make_inbox(SUBMITTER[fmt])
    name = f"{fmt}-{abs(hash(case)) % 1000}.csv"
    drop(ib, name, content)
    if refusal is None:
        assert len(ib.poll()) == 1
        return
    assert_rejected(ib, name, refusal, line, words)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_role_not_held__refused(make_inbox, fmt):
    ib = make_inbox(NOT_ALLOWED)
    drop(ib, f"{fmt}.csv", csv_text(two_rows(fmt)))
    assert_rejected(ib, f"{fmt}.csv", "RoleNotHeld", None, "holds AUDITOR")


@pytest.mark.parametrize(
    "fmt,submitter,right",
    [
        ("bill-issues", "tier2-supplier-a", "BILL_ISSUER"),
        ("bill-transfers", "tier2-supplier-b", "BILL_TRANSFEROR"),
    ],
)
def test_bill_right_not_held__client_refused(make_inbox, fmt, submitter, right):
    """Issue 18: a supply-chain client without the file's right (its membership alone is not
    enough) is refused at the inbox, naming the right."""
    ib = make_inbox(submitter)
    drop(ib, f"{fmt}.csv", csv_text(two_rows(fmt)))
    assert_rejected(ib, f"{fmt}.csv", "RoleNotHeld", None, f"submitted by {right}")


@pytest.mark.parametrize(
    "suffix,content,refusal,line,words",
    [
        (".csv", b"", "EmptyFile", None, "empty"),
        (".csv", None, "EmptyFile", None, "no rows"),  # the header alone
        (".json", b"[]", "EmptyFile", None, "no rows"),
        (".csv", b"col\n\xff\xfe\xfa\n", "NotText", None, "not UTF-8"),
        (".csv", b"a,b\n1,\x002\n", "MalformedFile", None, "NUL"),
        (".json", b'[{"a": 1}', "MalformedFile", None, "at text line 1 column"),
        (".json", b'{"row": []}', "MalformedFile", None, "JSON list"),
        (".json", b"[1, 2]", "MalformedFile", 1, "not an object"),
        (".json", b'[{"amount": NaN}]', "MalformedFile", None, "NaN"),
    ],
)
@pytest.mark.parametrize("fmt", ["contributions", "bill-issues", "trades"])
def test_unreadable_files__refused(make_inbox, fmt, suffix, content, refusal, line, words):
    ib = make_inbox(SUBMITTER[fmt])
    if content is None:
        content = (",".join(c.name for c in FORMATS[fmt].columns) + "\n").encode()
    drop(ib, fmt + suffix, content)
    assert_rejected(ib, fmt + suffix, refusal, line, words)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_json_wrong_types__refused_with_the_row(make_inbox, fmt):
    ib = make_inbox(SUBMITTER[fmt])
    rows: list[dict[str, Any]] = two_rows(fmt)
    col = _first(fmt, ("amount", "int")) or _first(fmt, ("id", "choice", "security"))
    rows[1][col] = True if FORMATS[fmt].column(col).kind in ("amount", "int") else 12
    drop(ib, fmt + ".json", json.dumps(rows))
    assert_rejected(ib, fmt + ".json", "BadValue", 2, col)


@pytest.mark.parametrize("value", [5.0, 1e20, "5.0", None])
def test_json_amount_not_a_whole_number__refused(make_inbox, value):
    ib = make_inbox("trustee")
    rows: list[dict[str, Any]] = example("contributions")
    rows[0]["amount"] = value
    drop(ib, "contributions.json", json.dumps(rows))
    refusal = "BadValue"
    assert_rejected(ib, "contributions.json", refusal, 1, "amount")


@pytest.mark.parametrize(
    "name",
    [
        "payroll.csv",
        "enrolments.txt",
        "enrolmentsX.csv",
        "bill.csv",
        "enrolments",
        "ENROLMENTS.csv",
    ],
)
def test_unknown_format_name__refused(make_inbox, name):
    ib = make_inbox("annuity-platform")
    drop(ib, name, csv_text(example("enrolments")))
    assert_rejected(ib, name, "UnknownFormat", None, "names no known format")


def test_file_too_large__refused_unread(make_inbox, monkeypatch):
    monkeypatch.setattr(inbox_mod, "MAX_FILE_BYTES", 200)
    ib = make_inbox("annuity-platform")
    rows = [dict(example("plan-choices")[0], employee_id=f"E{n}") for n in range(20)]
    drop(ib, "plan-choices.csv", csv_text(rows))
    assert_rejected(ib, "plan-choices.csv", "FileTooLarge", None, "at most 200")


def test_too_many_rows__refused(make_inbox, monkeypatch):
    monkeypatch.setattr(inbox_mod, "MAX_ROWS", 3)
    ib = make_inbox("annuity-platform")
    rows = [dict(example("plan-choices")[0], employee_id=f"E{n}") for n in range(4)]
    drop(ib, "plan-choices.json", json.dumps(rows))
    assert_rejected(ib, "plan-choices.json", "FileTooLarge", None, "at most 3 per file")


# ------------------------------------------------------------------ refused: format rules


def _rule_case(make_inbox, fmt, rows, refusal, line, words, who=None):
    ib = make_inbox(who or SUBMITTER[fmt])
    drop(ib, fmt + ".csv", csv_text(rows))
    assert_rejected(ib, fmt + ".csv", refusal, line, words)


@pytest.mark.parametrize(
    "col,value,words",
    [
        ("trustee", "account-manager", "does not hold the role TRUSTEE"),
        ("plan_code", "reckless", "annuity plan 'reckless'"),
    ],
)
def test_enrolments__wrong_counterparty_or_plan(make_inbox, col, value, words):
    rows = example("enrolments")
    rows[1][col] = value
    _rule_case(make_inbox, "enrolments", rows, "UnknownReference", 3, words)


def test_enrolments__account_manager_without_the_role__refused(make_inbox):
    rows = example("enrolments")
    rows.append(dict(rows[1], employee_id="E-9", account_manager="trustee"))
    _rule_case(make_inbox, "enrolments", rows, "UnknownReference", 4, "ACCOUNT_MANAGER")


def test_json_row_missing_a_column__refused_with_its_row(make_inbox):
    ib = make_inbox("trustee")
    rows = [dict(example("contributions")[0]), dict(example("contributions")[0], employee_id="E2")]
    del rows[1]["amount"]
    drop(ib, "contributions.json", json.dumps(rows))
    assert_rejected(ib, "contributions.json", "BadColumns", 2, "'amount' is missing")


def test_enrolments__same_employer_other_account_manager__refused(tmp_path, store):
    from consortium.config import InstitutionSpec

    cons = load_consortium(ROOT / "config/consortium.yaml")
    cons.institutions.append(
        InstitutionSpec("account-manager-2", "AM 2", "CN", ["ACCOUNT_MANAGER"], "reg-cn")
    )
    ib = Inbox(tmp_path / "h", store, InboxContext.of(cons, "annuity-platform"), 0)
    rows = example("enrolments")
    rows.append(dict(rows[1], employee_id="E-9", account_manager="account-manager-2"))
    drop(ib, "enrolments.csv", csv_text(rows))
    assert_rejected(ib, "enrolments.csv", "InconsistentRows", 4, "one employer_ref has one")


def test_plan_choices__reset_not_yes_or_no(make_inbox):
    rows = example("plan-choices")
    rows[0]["reset"] = "maybe"
    _rule_case(make_inbox, "plan-choices", rows, "BadValue", 2, "yes or no")


@pytest.mark.parametrize(
    "col,value,words",
    [
        ("period", "2026-13", "month yyyy-mm"),
        ("period", "2026-12-01", "month yyyy-mm"),
        ("account_id", "0x1234", "64 hex digits"),
    ],
)
def test_contributions__bad_period_or_account(make_inbox, col, value, words):
    rows = example("contributions")
    rows[0][col] = value
    _rule_case(make_inbox, "contributions", rows, "BadValue", 2, words)


@pytest.mark.parametrize(
    "col,value,refusal,words",
    [
        ("birth_date", "02/04/1980", "BadValue", "date yyyy-mm-dd"),
        ("birth_date", "1980-02-30", "BadValue", "date yyyy-mm-dd"),
        ("birth_date", "1899-12-31", "BadValue", "1900-01-01"),
        ("risk_level", "6", "BadValue", "1 .. 5"),
        ("issuer", "sales-bank", "UnknownReference", "PRODUCT_ISSUER"),
        ("kyc_ok", "", "BadValue", "empty"),
    ],
)
def test_customers__bad_values(make_inbox, col, value, refusal, words):
    rows = example("customers")
    rows[0][col] = value
    _rule_case(make_inbox, "customers", rows, refusal, 2, words)


@pytest.mark.parametrize(
    "col,value,refusal,words",
    [
        ("product", "WM-999", "UnknownReference", "wealth product 'WM-999'"),
        ("kind", "switch", "BadValue", "subscription, redemption, share-change"),
        ("order_date", "2026-12-5", "BadValue", "date yyyy-mm-dd"),
    ],
)
def test_orders__bad_values(make_inbox, col, value, refusal, words):
    rows = example("orders")
    rows[0][col] = value
    _rule_case(make_inbox, "orders", rows, refusal, 2, words)


@pytest.mark.parametrize(
    "fmt,col,value,refusal,words",
    [
        ("debits", "paid_at", "2026-12-04T09:30:00", "BadValue", "no offset"),
        ("debits", "paid_at", "yesterday", "BadValue", "date-time"),
        ("debits", "counterparty", "finance-company", "UnknownReference", "role BANK"),
        ("debits", "payment_id", str(2**63), "BadValue", "payment_id"),
        ("credits", "counterparty", "sales-bank", "UnknownReference", "FINANCE_COMPANY"),
    ],
)
def test_debits_credits__bad_values(make_inbox, fmt, col, value, refusal, words):
    rows = example(fmt)
    rows[0][col] = value
    _rule_case(make_inbox, fmt, rows, refusal, 2, words)


@pytest.mark.parametrize(
    "col,value,refusal,words",
    [
        ("currency", "USD", "InconsistentRows", "trades in HKD, not USD"),
        ("currency", "EUR", "UnknownReference", "currency 'EUR'"),
        ("security", "TSLA.US", "UnknownReference", "security 'TSLA.US'"),
        ("participant", "custodian-hk", "UnknownReference", "role BROKER"),
        ("participant", "broker-hk-2", "InconsistentRows", "does not name broker-hk"),
        ("side", "short", "BadValue", "buy, sell"),
        ("quantity", "0", "BadValue", "quantity"),
    ],
)
def test_trades__bad_values(make_inbox, col, value, refusal, words):
    rows = example("trades")
    rows[0][col] = value
    if col == "participant" and value == "broker-hk-2":
        rows[0]["local_broker"] = ""  # the submitter broker-hk is then on no role of the trade
    _rule_case(make_inbox, "trades", rows, refusal, 2, words)


def test_trades__custodian_uploads_a_trade_it_holds(make_inbox):
    ib = make_inbox("custodian-hk")
    drop(ib, "trades.csv", csv_text(example("trades")))
    (f,) = ib.poll()
    assert f.rows[0]["custodian"] == "custodian-hk" and f.rows[0]["side"] == "buy"


def test_charges__bps_above_10000__refused(make_inbox):
    rows = example("charges")
    rows[1]["bps"] = "10001"
    _rule_case(make_inbox, "charges", rows, "BadValue", 3, "0 .. 10,000")


def test_charges__minimum_defaults_to_zero(make_inbox):
    ib = make_inbox("exchange-hk")
    rows = [dict(r) for r in example("charges")]
    for r in rows:
        del r["minimum"]
    drop(ib, "charges.csv", csv_text(rows))
    (f,) = ib.poll()
    assert [r["minimum"] for r in f.rows] == [0, 0]


@pytest.mark.parametrize(
    "change,refusal,line,words",
    [
        ({"receiver": "core-enterprise"}, "UnknownReference", 2, "names the submitter"),
        ({"receiver": "factor"}, "UnknownReference", 2, "SUPPLY_CHAIN_CLIENT"),
        ({"documents_sha256": "zz" * 32}, "BadValue", 2, "64 hex digits"),
        ({"maturity": "31.03.2027"}, "BadValue", 2, "yyyy-mm-dd"),
        ({"currency": "GBP"}, "UnknownReference", 2, "GBP"),
    ],
)
def test_bill_issues__bad_values(make_inbox, change, refusal, line, words):
    rows = example("bill-issues")
    rows[0].update(change)
    _rule_case(make_inbox, "bill-issues", rows, refusal, line, words)


def test_bill_issues__same_documents_twice__refused(make_inbox):
    rows = example("bill-issues")
    rows.append(dict(rows[0], request_ref="PO-2"))
    _rule_case(make_inbox, "bill-issues", rows, "DuplicateKey", 3, "documents_sha256")


def test_bill_issues__currency_defaults_to_cny(make_inbox):
    ib = make_inbox("core-enterprise")
    rows = example("bill-issues")
    rows[0]["currency"] = ""
    drop(ib, "bill-issues.csv", csv_text(rows))
    (f,) = ib.poll()
    assert f.rows[0]["currency"] == "CNY"
    assert f.rows[0]["documents_sha256"] == bytes.fromhex("9f2c" + "00" * 30)
    assert f.rows[0]["maturity"] == date(2027, 3, 31)


@pytest.mark.parametrize(
    "fmt,change,words",
    [
        ("bill-transfers", {"to": "tier1-supplier"}, "names the submitter"),
        ("bill-transfers", {"node_id": "0"}, "node_id"),
        ("bill-financing", {"amount": "-1"}, "amount"),
        ("bill-redemptions", {"holder": "core-enterprise"}, "names the submitter"),
    ],
)
def test_bill_requests__bad_values(make_inbox, fmt, change, words):
    rows = example(fmt)
    rows[0].update(change)
    refusal = "UnknownReference" if "submitter" in words else "BadValue"
    _rule_case(make_inbox, fmt, rows, refusal, 2, words)


def test_bill_redemptions__two_payment_refs_in_a_batch__refused(make_inbox):
    rows = example("bill-redemptions")
    rows.append(dict(rows[0], node_id="4", payment_ref="WIRE-7"))
    _rule_case(make_inbox, "bill-redemptions", rows, "InconsistentRows", 3, "one batch_ref has")


def test_bill_redemptions__more_than_50_holdings_in_a_batch__refused(make_inbox):
    rows = [dict(example("bill-redemptions")[0], node_id=str(n)) for n in range(1, 52)]
    _rule_case(make_inbox, "bill-redemptions", rows, "InconsistentRows", 52, "more than 50")


# ------------------------------------------------------------------ once, and across restarts


def test_same_content_again__already_processed__also_after_restart(make_inbox, tmp_path):
    ib = make_inbox("annuity-platform")
    content = csv_text(example("enrolments"))
    drop(ib, "enrolments-1.csv", content)
    (f,) = ib.poll()
    ib.done(f, {"accounts": 2})
    drop(ib, "enrolments-copy.csv", content)
    res = assert_rejected_after_done(ib, "enrolments-copy.csv")
    assert "enrolments-1.csv" in res["reason"]
    restarted = make_inbox("annuity-platform")  # same home, same store: a new process
    drop(restarted, "enrolments-1.csv", content)  # the same name too
    assert restarted.poll() == []
    assert (restarted.rejected_dir / "enrolments-1.csv").exists()
    assert result_of(restarted.rejected_dir, "enrolments-1.csv")["refusal"] == "AlreadyProcessed"
    assert sorted(p.name for p in restarted.done_dir.iterdir()) == [
        "enrolments-1.csv",
        "enrolments-1.csv.result.json",
    ]


def assert_rejected_after_done(ib: Inbox, name: str) -> dict:
    assert ib.poll() == []
    res = result_of(ib.rejected_dir, name)
    assert (res["status"], res["line"], res["refusal"]) == ("rejected", None, "AlreadyProcessed")
    assert res["reason"].startswith("already processed")
    return res


def test_handed_over_not_done__returned_again_after_restart(make_inbox):
    ib = make_inbox("trustee")
    drop(ib, "contributions.csv", csv_text(example("contributions")))
    (f,) = ib.poll()
    assert ib.poll() == []
    again = make_inbox("trustee").poll()  # the agent was killed before done(): it redoes it
    assert [g.sha256 for g in again] == [f.sha256]


def test_rejected_content_may_come_back_corrected_and_same_bytes_again(make_inbox):
    """Only done content is 'already processed': a refused file sent again is judged again."""
    ib = make_inbox("trustee")
    bad = csv_text(example("contributions")).replace("150000", "0")
    drop(ib, "contributions.csv", bad)
    assert ib.poll() == []
    drop(ib, "contributions.csv", bad)
    assert ib.poll() == []
    assert (ib.rejected_dir / "contributions~2.csv.result.json").exists()
    drop(ib, "contributions.csv", csv_text(example("contributions")))
    (f,) = ib.poll()
    ib.done(f, {})
    assert (ib.done_dir / "contributions.csv").exists()


def test_same_name_other_content__both_kept_in_done(make_inbox):
    ib = make_inbox("annuity-platform")
    for n, employee in enumerate(["E-1", "E-2"]):
        rows = [dict(example("plan-choices")[0], employee_id=employee)]
        drop(ib, "plan-choices.csv", csv_text(rows))
        (f,) = ib.poll()
        ib.done(f, {"n": n})
    assert result_of(ib.done_dir, "plan-choices.csv")["result"] == {"n": 0}
    assert result_of(ib.done_dir, "plan-choices~2.csv")["result"] == {"n": 1}


def test_journalled_but_not_moved__finished_to_done_on_restart(make_inbox):
    """Killed between journalling done and moving: the restart finishes the move, not a refusal."""
    ib = make_inbox("trustee")
    path = drop(ib, "contributions.csv", csv_text(example("contributions")))
    (f,) = ib.poll()
    ib.store.put(JOURNAL, f.sha256, {"file": f.name, "format": f.format, "status": "done"})
    restarted = make_inbox("trustee")
    assert restarted.poll() == []
    assert not path.exists() and (restarted.done_dir / "contributions.csv").exists()
    assert result_of(restarted.done_dir, "contributions.csv")["status"] == "done"
    assert list(restarted.rejected_dir.iterdir()) == []


def test_reject_after_poll__names_line_and_reason(make_inbox):
    ib = make_inbox("core-enterprise")
    drop(ib, "bill-issues.csv", csv_text(example("bill-issues")))
    (f,) = ib.poll()
    target = ib.reject(f, 2, "BillMaturityInPast: the chain refused the issue on a dry run")
    assert target == ib.rejected_dir / "bill-issues.csv" and not f.path.exists()
    res = result_of(ib.rejected_dir, "bill-issues.csv")
    assert res == {
        "file": "bill-issues.csv",
        "status": "rejected",
        "line": 2,
        "reason": "BillMaturityInPast: the chain refused the issue on a dry run",
    }
    assert ib.poll() == []
    assert ib.store.all(JOURNAL) == {}


# ------------------------------------------------------------------ files still being written


def test_partial_files__temp_and_dotfiles_never_read(make_inbox):
    ib = make_inbox("annuity-platform")
    content = csv_text(example("plan-choices"))
    for name in ("plan-choices.csv.tmp", ".plan-choices.csv", "plan-choices.csv.part"):
        (ib.inbox / name).write_text(content)
    assert ib.poll() == [] and ib.poll() == []
    assert sorted(p.name for p in ib.inbox.iterdir()) == [
        ".plan-choices.csv",
        "plan-choices.csv.part",
        "plan-choices.csv.tmp",
    ]
    assert list(ib.rejected_dir.iterdir()) == []


def test_file_written_in_place__taken_once_stable_between_polls(make_inbox):
    ib = make_inbox("annuity-platform", settle_seconds=3600)
    path = ib.inbox / "plan-choices.csv"
    full = csv_text(example("plan-choices"))
    path.write_text(full[:30])  # half written: a truncated row would be refused if read
    assert ib.poll() == []
    with path.open("a") as out:
        out.write(full[30:])
    assert ib.poll() == []  # it changed since the last poll: still being written
    (f,) = ib.poll()  # unchanged since: complete
    assert len(f.rows) == 2
    assert list(ib.rejected_dir.iterdir()) == []


def test_file_present_before_start__taken_at_first_poll(make_inbox, tmp_path):
    ib = make_inbox("annuity-platform", settle_seconds=3600)
    path = ib.inbox / "plan-choices.csv"
    path.write_text(csv_text(example("plan-choices")))
    old = path.stat().st_mtime - 7200
    __import__("os").utime(path, (old, old))
    (f,) = make_inbox("annuity-platform", settle_seconds=3600).poll()
    assert f.format == "plan-choices"


def test_files_handed_over_oldest_first(make_inbox):
    import os

    ib = make_inbox("annuity-platform")
    for n, name in enumerate(["plan-choices-b.csv", "plan-choices-a.csv"]):
        p = drop(ib, name, csv_text([dict(example("plan-choices")[0], employee_id=f"E{n}")]))
        os.utime(p, (1_000_000 + n, 1_000_000 + n))
    assert [f.name for f in ib.poll()] == ["plan-choices-b.csv", "plan-choices-a.csv"]


# ------------------------------------------------------------------ docs/formats.md


def test_docs_formats_md__holds_every_format_and_refusal_as_the_code_has_them():
    from consortium.agent.formats import format_markdown

    doc = (ROOT / "docs/formats.md").read_text()
    for fmt in FORMATS.values():
        assert format_markdown(fmt) in doc, f"docs/formats.md: regenerate the {fmt.name} section"
    for cls in inbox_mod.InboxRefusal.__subclasses__():
        assert f"| `{cls.__name__}` |" in doc


# ------------------------------------------------------------------ hostile folder contents


def test_symlink_and_fifo__never_read(make_inbox, tmp_path):
    import os

    ib = make_inbox("annuity-platform")
    secret = tmp_path / "secret.csv"
    secret.write_text(csv_text(example("plan-choices")))
    (ib.inbox / "plan-choices.csv").symlink_to(secret)
    os.mkfifo(ib.inbox / "plan-choices-2.csv")  # opening it to read would block the agent
    (ib.inbox / "plan-choices-dir.csv").mkdir()
    assert ib.poll() == [] and ib.poll() == []
    assert secret.exists() and list(ib.rejected_dir.iterdir()) == []


@pytest.mark.parametrize(
    "content,words",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('[{"employee_id": "E1", "employee_id": "E2", "plan_code": "growth"}]', "given twice"),
        ('[{"employee_id": "E1", "plan_code": "growth", "version": 1' + "0" * 5000 + "}]", "JSON"),
    ],
)
def test_json_hostile__refused(make_inbox, content, words):
    ib = make_inbox("annuity-platform")
    drop(ib, "plan-choices.json", content)
    assert_rejected(ib, "plan-choices.json", "MalformedFile", None, words)


def test_json_nested_value__refused(make_inbox):
    ib = make_inbox("annuity-platform")
    rows = [{"employee_id": {"$ne": ""}, "plan_code": "growth"}]
    drop(ib, "plan-choices.json", json.dumps(rows))
    assert_rejected(ib, "plan-choices.json", "BadValue", 1, "must be text")


def test_file_replaced_after_poll__new_content_left_for_the_next_poll(make_inbox):
    ib = make_inbox("annuity-platform")
    drop(ib, "plan-choices.csv", csv_text(example("plan-choices")))
    (f,) = ib.poll()
    newer = [dict(example("plan-choices")[0], employee_id="E-NEW")]
    drop(ib, "plan-choices.csv", csv_text(newer))  # renamed over the old one meanwhile
    ib.done(f, {})
    assert (ib.inbox / "plan-choices.csv").exists()  # not moved to done/ unprocessed
    (g,) = ib.poll()
    assert g.rows[0]["employee_id"] == "E-NEW"


def test_choice_words__map_to_the_chain_codes():
    from consortium.agent.formats import CHARGE_KINDS, ORDER_KINDS, PAYERS, SIDES
    from consortium.domain import clearing, eip712

    assert ORDER_KINDS["share-change"] == eip712.SHARE_CHANGE
    assert (SIDES["buy"], SIDES["sell"]) == (clearing.BUY, clearing.SELL)
    assert CHARGE_KINDS["tax"] is clearing.ChargeKind.TAX
    assert PAYERS["seller"] is clearing.Payer.SELLER
    assert FORMATS["orders"].column("kind").choices == tuple(ORDER_KINDS)
