"""Each business transaction of the multi-process day counts once: in the line its sender plays,
or for an institution of several lines (the sales bank is also the CNY cash issuer) in the line of
the contract it calls, else in `shared`. Counting each institution in every line it plays counted
the sales bank's 414 transactions three times in the medium day (2,205 reported for 1,377 sent)."""

from __future__ import annotations

from consortium.dayrun.lines import CONTRACT_LINES
from consortium.dayrun.stats import by_line, by_sender

BANK, BROKER, ISSUER, OFFICE = "0xbank", "0xbroker", "0xissuer", "0xoffice"
ANCHOR, ENGINE, BILLS, REGISTRY, CNY = "0xanchor", "0xengine", "0xbills", "0xregistry", "0xcny"
SENDER_LINES = {
    BANK: {"confirmations", "settlement", "bills"},
    BROKER: {"settlement"},
    ISSUER: {"confirmations"},
}
CONTRACT_LINE = {ANCHOR: "confirmations", ENGINE: "settlement", BILLS: "bills"}
ACTIVITY = {
    (BANK, ANCHOR): (400, 40_000_000),  # the bank's orders: confirmations
    (BANK, CNY): (5, 500_000),  # cash issued for several lines: shared
    (BANK, REGISTRY): (3, 300_000),  # rules approved: the registry serves every line
    (BROKER, ENGINE): (50, 5_000_000),
    (BROKER, REGISTRY): (2, 100_000),  # a one-line sender counts in its line wherever it calls
    (BROKER, CNY): (1, 50_000),
    (ISSUER, ANCHOR): (200, 10_000_000),
    (OFFICE, REGISTRY): (9, 900_000),  # the operations office: no institution's business
}


def test_by_line__each_transaction_once__multi_line_sender_by_contract_rest_shared():
    lines, shared = by_line(ACTIVITY, SENDER_LINES, CONTRACT_LINE)
    assert lines == {
        "confirmations": (600, 50_000_000),
        "settlement": (53, 5_150_000),
    }
    assert shared == (8, 800_000)
    institutions = sum(n for s, (n, _) in by_sender(ACTIVITY).items() if s in SENDER_LINES)
    assert sum(n for n, _ in lines.values()) + shared[0] == institutions == 661


def test_by_line__bank_calling_the_bill_contract__counted_in_bills_not_shared():
    lines, shared = by_line({(BANK, BILLS): (7, 70)}, SENDER_LINES, CONTRACT_LINE)
    assert lines == {"bills": (7, 70)} and shared == (0, 0)


def test_by_sender__every_contract_of_a_sender_summed():
    assert by_sender(ACTIVITY)[BANK] == (408, 40_800_000)
    assert by_sender({}) == {}


def test_contract_lines__only_the_four_lines_and_no_shared_contract():
    assert set(CONTRACT_LINES.values()) == {"annuity", "confirmations", "settlement", "bills"}
    assert not {"ConsortiumRegistry", "DepositToken:CNY", "ReportAnchor"} & set(CONTRACT_LINES)
