"""A financing request publicised with a quote window (issue 18, source 002: 融资请求进行公示, the
factors assess it): factors outbid each other until the window ends, the holder then signs the best
quote; the first-quote path (requestFinancing) stays as it was. The domain twin (QuoteWindow) is
checked against the chain on the same quotes."""

import brownie
import pytest

from consortium.domain.bills import (
    MAX_QUOTE_WINDOW,
    NodeState,
    QuoteNotBetter,
    QuoteWindow,
    QuoteWindowClosed,
    QuoteWindowOpen,
    max_quote_window,
    proceeds,
)
from consortium.roles.bills import BillFactor
from tests.fixtures.bills import warp
from tests.unit.BillToken.helpers import snapshot

AMOUNT = 400_000_00
WINDOW = 6 * 3600  # quotes until the afternoon


@pytest.fixture(scope="module")
def rival_factor(admit, regulator_cn, accounts, bills, bill_cast):
    factor = BillFactor(
        admit(accounts[14], ["ASSET_MANAGER"], regulator=regulator_cn, name="second factor"), bills
    )
    bill_cast.cash_issuer.issue(factor.address, "CNY", AMOUNT, "second factor cash in")
    return factor


@pytest.fixture(scope="module")
def held(make_bill, transfer, bill_cast):
    return transfer(bill_cast.tier1, make_bill(), bill_cast.tier2a, AMOUNT)


@pytest.fixture
def window(bills, bill_cast, held):
    """A publicised request: (financing node id, window end)."""
    fin, tx = bill_cast.tier2a.request_financing_quotes(held, AMOUNT, "need cash", WINDOW)
    ends = tx.events["BillFinancingQuoteWindowOpened"]["quoteWindowEnd"]
    assert ends == tx.timestamp + WINDOW and bills.financing(fin)["deadline"] == ends
    return fin, ends


def test_two_quotes__best_wins__other_released__signed_after_window__disbursed(
    bills, bill_cast, rival_factor, window, chain, cash, maturity
):
    fin, ends = window
    twin = QuoteWindow(ends)
    first = rival_factor.quote(fin, 900, "agreement rival")
    twin.quote(rival_factor.address, 900, first.timestamp)
    best = bill_cast.factor.quote(fin, 700, "agreement best")
    twin.quote(bill_cast.factor.address, 700, best.timestamp)
    released = best.events["BillFinancingQuoteReleased"]
    assert (released["factor"], released["rateBps"]) == (rival_factor.address, 900)
    assert twin.released == [(rival_factor.address, 900)]
    f = bills.financing(fin)
    assert (f["factor"], f["rateBps"], f["proceeds"], f["deadline"]) == (
        bill_cast.factor.address,
        700,
        proceeds(AMOUNT, 700, maturity, best.timestamp),
        ends,
    )
    assert bills.node(fin)["state"] == NodeState.QUOTED
    warp(chain, ends)
    assert twin.accept(chain[-1].timestamp) == (bill_cast.factor.address, 700)
    bill_cast.tier2a.accept_financing(fin, "agreement best", bill_cast.factor.address, 700)
    assert bills.node(fin)["state"] == NodeState.AGREED
    bill_cast.auditor.audit(fin, True, "financing audit")
    before = cash.balanceOf(bill_cast.tier2a.address)
    bill_cast.factor.disburse(fin)
    assert cash.balanceOf(bill_cast.tier2a.address) - before == f["proceeds"]
    assert bills.balanceOf(bill_cast.factor.address, fin) == AMOUNT


@pytest.mark.parametrize("rate", [700, 800], ids=["equal", "worse"])
def test_quote_not_better__reverts_unchanged(bills, bill_cast, rival_factor, window, rate):
    fin, ends = window
    bill_cast.factor.quote(fin, 700, "agreement best")
    before = (tuple(bills.financing(fin)), snapshot(bills, [fin], []))
    with brownie.reverts(revert_pattern=rf"BillQuoteNotBetter: {fin}, 700, {rate}"):
        rival_factor.quote(fin, rate, "agreement rival")
    assert (tuple(bills.financing(fin)), snapshot(bills, [fin], [])) == before
    twin = QuoteWindow(ends, best=(bill_cast.factor.address, 700))
    with pytest.raises(QuoteNotBetter):
        twin.quote(rival_factor.address, rate, ends - 1)


def test_quote_after_window__reverts_unchanged(bills, bill_cast, rival_factor, window, chain):
    fin, ends = window
    warp(chain, ends)
    before = (tuple(bills.financing(fin)), snapshot(bills, [fin], []))
    with brownie.reverts(revert_pattern=rf"BillQuoteWindowClosed: {fin}, {ends}, .*"):
        rival_factor.quote(fin, 500, "too late")
    assert (tuple(bills.financing(fin)), snapshot(bills, [fin], [])) == before
    assert bills.node(fin)["state"] == NodeState.REQUESTED
    with pytest.raises(QuoteWindowClosed):
        QuoteWindow(ends).quote(rival_factor.address, 500, ends)


def test_sign_during_window__reverts_unchanged__decline_allowed(bills, bill_cast, window):
    fin, ends = window
    bill_cast.factor.quote(fin, 700, "agreement best")
    before = snapshot(bills, [fin], [bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=rf"BillQuoteWindowOpen: {fin}, {ends}, .*"):
        bill_cast.tier2a.accept_financing(fin, "agreement best", bill_cast.factor.address, 700)
    assert snapshot(bills, [fin], [bill_cast.tier2a.address]) == before
    with pytest.raises(QuoteWindowOpen):
        QuoteWindow(ends, best=(bill_cast.factor.address, 700)).accept(ends - 1)
    bill_cast.tier2a.accept_financing(
        fin, "agreement best", bill_cast.factor.address, 700, accept=False
    )
    assert bills.node(fin)["state"] == NodeState.REJECTED


def test_sign_the_released_quote__reverts(bills, bill_cast, rival_factor, window, chain):
    fin, ends = window
    rival_factor.quote(fin, 900, "agreement rival")
    bill_cast.factor.quote(fin, 700, "agreement best")
    warp(chain, ends)
    with brownie.reverts(revert_pattern=r"BillAgreementMismatch:.*"):
        bill_cast.tier2a.accept_financing(fin, "agreement rival", rival_factor.address, 900)
    with brownie.reverts(revert_pattern=r"BillQuoteMismatch:.*"):
        bill_cast.tier2a.accept_financing(fin, "agreement best", rival_factor.address, 900)
    assert bills.node(fin)["state"] == NodeState.QUOTED


@pytest.mark.parametrize("case", ["zero", "too long", "past maturity"])
def test_window_out_of_range__reverts_nothing_recorded(
    bills, bill_cast, held, make_bill, transfer, chain, case
):
    node = held
    window_len = {"zero": 0, "too long": MAX_QUOTE_WINDOW + 1, "past maturity": 2 * 86_400}[case]
    if case == "past maturity":
        node = transfer(
            bill_cast.tier1, make_bill(mat=chain[-1].timestamp + 86_400), bill_cast.tier2a, AMOUNT
        )
    before = snapshot(bills, [node], [bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=rf"BillQuoteWindowOutOfRange: {window_len}, .*"):
        bill_cast.tier2a.request_financing_quotes(node, AMOUNT, "need cash", window_len)
    assert snapshot(bills, [node], [bill_cast.tier2a.address]) == before
    maturity = int(bills.bill(bills.node(node)["billId"])["maturity"])
    assert window_len > max_quote_window(chain[-1].timestamp, maturity) or window_len == 0


def test_first_quote_path__unchanged__a_second_quote_refused(bills, bill_cast, held, rival_factor):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "need cash")
    assert bills.financing(fin)["deadline"] == 0
    bill_cast.factor.quote(fin, 900, "agreement v1")
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        rival_factor.quote(fin, 500, "a better rate, too late")
    assert bills.financing(fin)["factor"] == bill_cast.factor.address
