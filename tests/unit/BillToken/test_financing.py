"""Financing (融资): request (publicised), factor's quote, both sign, audit, atomic disbursement."""

import brownie
import pytest

from consortium.domain.bills import NodeKind, NodeState, proceeds
from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, FUNDS, warp
from tests.unit.BillToken.helpers import snapshot

pytest_plugins = ["tests.fixtures.bills"]

AMOUNT = 400_000_00
RATE = 800  # 8 % a year


@pytest.fixture(scope="module")
def held(make_bill, transfer, cast):
    """tier-2 supplier A holds AMOUNT of a bill, node id returned."""
    bill_id = make_bill()
    return transfer(cast.tier1, bill_id, cast.tier2a, AMOUNT)


@pytest.fixture(scope="module")
def agreed(held, cast):
    """Factory: a financing of `amount` of `held` up to the holder's signature."""

    def _agreed(amount=AMOUNT):
        fin, _ = cast.tier2a.request_financing(held, amount, "financing request")
        cast.factor.quote(fin, RATE, "agreement v1")
        cast.tier2a.accept_financing(fin, "agreement v1")
        return fin

    return _agreed


def test_request_financing__publicised_and_locked(bills, cast, held):
    fin, tx = cast.tier2a.request_financing(held, AMOUNT, "need cash")
    ev = tx.events["BillFinancingRequested"]
    assert (ev["nodeId"], ev["holder"], ev["parent"], ev["amount"]) == (
        fin,
        cast.tier2a.address,
        held,
        AMOUNT,
    )
    assert bills.locked(fin) == AMOUNT and bills.balanceOf(cast.tier2a.address, held) == 0
    assert bills.node(fin)["kind"] == NodeKind.FINANCING


def test_quote__factor_rate__proceeds_match_python(bills, cast, held, maturity, chain):
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "need cash")
    tx = cast.factor.quote(fin, RATE, "agreement v1")
    ev = tx.events["BillFinancingQuoted"]
    expected = proceeds(AMOUNT, RATE, maturity, tx.timestamp)
    assert (
        ev["proceeds"] == expected and ev["factor"] == cast.factor.address and ev["rateBps"] == RATE
    )
    f = bills.financing(fin)
    assert (f["factor"], f["amount"], f["proceeds"], f["holderSigned"]) == (
        cast.factor.address,
        AMOUNT,
        expected,
        False,
    )
    assert (
        bills.node(fin)["state"] == NodeState.QUOTED
        and bills.node(fin)["to"] == cast.factor.address
    )


def test_financing__full_path_on_chain_cash__atomic_swap(bills, cash, cast, agreed):
    fin = agreed()
    assert bills.financing(fin)["holderSigned"] is True
    tx = cast.auditor.audit(fin, True, "financing audit")
    assert tx.events["BillAudited"]["kind"] == NodeKind.FINANCING
    assert bills.node(fin)["state"] == NodeState.AUDITED
    pay = bills.financing(fin)["proceeds"]
    holder_cash, factor_cash = cash.balanceOf(cast.tier2a.address), cash.balanceOf(
        cast.factor.address
    )
    tx = cast.factor.disburse(fin)
    ev = tx.events["BillFinancingDisbursed"]
    assert (ev["factor"], ev["holder"], ev["amount"], ev["proceeds"]) == (
        cast.factor.address,
        cast.tier2a.address,
        AMOUNT,
        pay,
    )
    assert ev["paymentRef"] == "0x" + "00" * 32
    assert cash.balanceOf(cast.tier2a.address) == holder_cash + pay
    assert cash.balanceOf(cast.factor.address) == factor_cash - pay
    assert bills.balanceOf(cast.factor.address, fin) == AMOUNT and bills.locked(fin) == 0
    assert bills.node(fin)["state"] == NodeState.VALID


def test_disburse__payment_reference__records_off_chain_payment(bills, cash, cast, agreed):
    fin = agreed()
    cast.auditor.audit(fin, True, "ok")
    before = cash.balanceOf(cast.tier2a.address)
    tx = cast.factor.disburse(fin, "SWIFT MT103 ref 42")
    assert (
        tx.events["BillFinancingDisbursed"]["paymentRef"]
        == "0x" + doc_hash("SWIFT MT103 ref 42").hex()
    )
    assert cash.balanceOf(cast.tier2a.address) == before
    assert bills.balanceOf(cast.factor.address, fin) == AMOUNT


def test_financing__partial_amount__rest_stays_with_holder(bills, cast, held, agreed):
    fin = agreed(100_000_00)
    cast.auditor.audit(fin, True, "ok")
    cast.factor.disburse(fin)
    assert bills.balanceOf(cast.tier2a.address, held) == AMOUNT - 100_000_00
    assert bills.balanceOf(cast.factor.address, fin) == 100_000_00
    assert bills.lineage(fin)[0] == [fin, held, bills.node(held)["parent"]]


def test_request_financing__double_financing__reverts_unchanged(bills, cast, held):
    cast.tier2a.request_financing(held, AMOUNT, "first")
    before = snapshot(bills, [held], [cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        cast.tier2a.request_financing(held, 1, "second")
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        cast.tier2a.request_transfer(held, cast.tier2b.address, 1, "sell it as well")
    assert snapshot(bills, [held], [cast.tier2a.address]) == before


def test_disburse__twice__reverts(bills, cast, cash, agreed):
    fin = agreed()
    cast.auditor.audit(fin, True, "ok")
    cast.factor.disburse(fin)
    before = (cash.balanceOf(cast.factor.address), bills.balanceOf(cast.factor.address, fin))
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        cast.factor.disburse(fin)
    assert (
        cash.balanceOf(cast.factor.address),
        bills.balanceOf(cast.factor.address, fin),
    ) == before


def test_quote__second_factor_or_twice__reverts(bills, cast, held, admit, regulator_cn, accounts):
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "r")
    cast.factor.quote(fin, RATE, "agreement v1")
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        cast.factor.quote(fin, 100, "cheaper")
    assert bills.financing(fin)["rateBps"] == RATE


@pytest.mark.parametrize(
    "case,rate,agreement,error",
    [
        ("rate above 100 %", 10_001, doc_hash("a"), r"BillRateOutOfRange:.*"),
        ("zero agreement", RATE, b"\0" * 32, r"BillZeroHash.*"),
    ],
)
def test_quote__bad_input__reverts_unchanged(bills, cast, held, case, rate, agreement, error):
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "r")
    before = snapshot(bills, [fin], [cast.tier2a.address])
    with brownie.reverts(revert_pattern=error):
        bills.quoteFinancing(fin, rate, agreement, {"from": cast.factor.inst.account})
    assert snapshot(bills, [fin], [cast.tier2a.address]) == before


def test_quote__transfer_node__wrong_kind(bills, cast, held):
    child, _ = cast.tier2a.request_transfer(held, cast.tier2b.address, 1, "t")
    with brownie.reverts(revert_pattern=r"BillWrongKind:.*"):
        cast.factor.quote(child, RATE, "a")


def test_review__financing_node__wrong_kind(bills, cast, held):
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "r")
    with brownie.reverts(revert_pattern=r"BillWrongKind:.*"):
        cast.tier2a.review(fin, True, "self review")


def test_accept__other_agreement__reverts_unchanged(bills, cast, held):
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "r")
    cast.factor.quote(fin, RATE, "agreement v1")
    before = snapshot(bills, [fin], [cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"BillAgreementMismatch:.*"):
        cast.tier2a.accept_financing(fin, "agreement v2 (edited)")
    with brownie.reverts(revert_pattern=r"BillNotHolder:.*"):
        cast.tier2b.accept_financing(fin, "agreement v1")
    assert snapshot(bills, [fin], [cast.tier2a.address]) == before


def test_accept__declined__amount_returns(bills, cast, held):
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "r")
    cast.factor.quote(fin, RATE, "agreement v1")
    tx = cast.tier2a.accept_financing(fin, "rate too high", accept=False)
    assert tx.events["BillFinancingAgreed"]["accepted"] is False
    assert bills.balanceOf(cast.tier2a.address, held) == AMOUNT
    assert bills.node(fin)["state"] == NodeState.REJECTED


def test_audit__financing_before_agreement__reverts(bills, cast, held):
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "r")
    cast.factor.quote(fin, RATE, "agreement v1")
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        cast.auditor.audit(fin, True, "too early")


def test_audit__financing_rejected__amount_returns(bills, cast, held, agreed):
    fin = agreed()
    cast.auditor.audit(fin, False, "factor not qualified")
    assert bills.balanceOf(cast.tier2a.address, held) == AMOUNT


def test_disburse__not_the_quoting_factor__reverts(
    bills, cast, agreed, admit, regulator_cn, accounts
):
    other = admit(accounts[14], ["ASSET_MANAGER"], regulator=regulator_cn, name="other factor")
    fin = agreed()
    cast.auditor.audit(fin, True, "ok")
    with brownie.reverts(revert_pattern=r"BillNotFactor:.*"):
        bills.disburseFinancing(fin, b"\0" * 32, {"from": other.account})
    assert bills.node(fin)["state"] == NodeState.AUDITED


def test_disburse__factor_short_of_cash__reverts_unchanged(bills, cash, cast, agreed):
    fin = agreed()
    cast.auditor.audit(fin, True, "ok")
    cash.transfer(cast.tier1.address, FUNDS, {"from": cast.factor.inst.account})
    with brownie.reverts(revert_pattern=r"ERC20InsufficientBalance:.*"):
        cast.factor.disburse(fin)
    assert bills.locked(fin) == AMOUNT and bills.node(fin)["state"] == NodeState.AUDITED


def test_disburse__after_maturity__reverts(bills, cast, agreed, chain, maturity):
    fin = agreed()
    cast.auditor.audit(fin, True, "ok")
    warp(chain, maturity)
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        cast.factor.disburse(fin)


def test_quote__factor_is_holder__reverts(bills, cast, held, manager, registry):
    from consortium.domain.roles import ROLES

    registry.grantRole(cast.tier2a.address, ROLES["ASSET_MANAGER"], {"from": manager.account})
    fin, _ = cast.tier2a.request_financing(held, AMOUNT, "r")
    with brownie.reverts(revert_pattern=r"BillSelfTransfer:.*"):
        bills.quoteFinancing(fin, RATE, doc_hash("a"), {"from": cast.tier2a.inst.account})


def test_quote__channel_policy__needs_holder_factor_channel(bills, cast, make_bill, connect):
    connect(cast.core.inst, cast.tier1.inst)
    bill_id = make_bill(require_channel=True)
    fin, _ = cast.tier1.request_financing(bill_id, FACE, "r")
    with brownie.reverts(revert_pattern=r"ManagedChannelClosed:.*"):
        cast.factor.quote(fin, RATE, "a")
    connect(cast.tier1.inst, cast.factor.inst)
    cast.factor.quote(fin, RATE, "a")
    assert bills.node(fin)["state"] == NodeState.QUOTED


def test_disburse__no_cash_token__on_chain_payment_refused(
    BillToken, registry, registry_admin, cast, maturity, connect
):
    bare = BillToken.deploy(registry, "0x" + "00" * 20, "", {"from": registry_admin})
    acct = lambda r: {"from": r.inst.account}
    from consortium.domain.hashing import code32

    tx = bare.requestIssue(
        cast.tier1.address, 100, code32("CNY"), maturity, doc_hash("po"), False, acct(cast.core)
    )
    bill_id = tx.events["BillIssueRequested"]["billId"]
    bare.review(bill_id, True, doc_hash("ok"), acct(cast.tier1))
    bare.audit(bill_id, True, doc_hash("ok"), acct(cast.auditor))
    fin = bare.requestFinancing(bill_id, 100, doc_hash("r"), acct(cast.tier1)).events[
        "BillFinancingRequested"
    ]["nodeId"]
    bare.quoteFinancing(fin, RATE, doc_hash("a"), acct(cast.factor))
    bare.acceptFinancing(fin, True, doc_hash("a"), acct(cast.tier1))
    bare.audit(fin, True, doc_hash("ok"), acct(cast.auditor))
    with brownie.reverts(revert_pattern=r"BillNoCash.*"):
        bare.disburseFinancing(fin, b"\0" * 32, acct(cast.factor))
    bare.disburseFinancing(fin, doc_hash("wire 1"), acct(cast.factor))
    assert bare.balanceOf(cast.factor.address, fin) == 100
