"""Financing (融资): request (publicised), factor's quote, both sign, audit, atomic disbursement."""

import brownie
import pytest

from consortium.domain.bills import NodeKind, NodeState, proceeds
from consortium.domain.hashing import doc_hash
from tests.fixtures.bills import FACE, FUNDS, warp
from tests.unit.BillToken.helpers import snapshot

AMOUNT = 400_000_00
RATE = 800  # 8 % a year
Z20 = "0x" + "00" * 20  # no factor: a declined quote names no terms


@pytest.fixture(scope="module")
def held(make_bill, transfer, bill_cast):
    """tier-2 supplier A holds AMOUNT of a bill, node id returned."""
    bill_id = make_bill()
    return transfer(bill_cast.tier1, bill_id, bill_cast.tier2a, AMOUNT)


@pytest.fixture(scope="module")
def agreed(held, bill_cast):
    """Factory: a financing of `amount` of `held` up to the holder's signature."""

    def _agreed(amount=AMOUNT):
        fin, _ = bill_cast.tier2a.request_financing(held, amount, "financing request")
        bill_cast.factor.quote(fin, RATE, "agreement v1")
        bill_cast.tier2a.accept_financing(fin, "agreement v1", bill_cast.factor.address, RATE)
        return fin

    return _agreed


def test_request_financing__publicised_and_locked(bills, bill_cast, held):
    fin, tx = bill_cast.tier2a.request_financing(held, AMOUNT, "need cash")
    ev = tx.events["BillFinancingRequested"]
    assert (ev["nodeId"], ev["holder"], ev["parent"], ev["amount"]) == (
        fin,
        bill_cast.tier2a.address,
        held,
        AMOUNT,
    )
    assert bills.locked(fin) == AMOUNT and bills.balanceOf(bill_cast.tier2a.address, held) == 0
    assert bills.node(fin)["kind"] == NodeKind.FINANCING


def test_quote__factor_rate__proceeds_match_python(bills, bill_cast, held, maturity, chain):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "need cash")
    tx = bill_cast.factor.quote(fin, RATE, "agreement v1")
    ev = tx.events["BillFinancingQuoted"]
    expected = proceeds(AMOUNT, RATE, maturity, tx.timestamp)
    assert (
        ev["proceeds"] == expected
        and ev["factor"] == bill_cast.factor.address
        and ev["rateBps"] == RATE
    )
    f = bills.financing(fin)
    assert (f["factor"], f["amount"], f["proceeds"], f["holderSigned"]) == (
        bill_cast.factor.address,
        AMOUNT,
        expected,
        False,
    )
    assert (
        bills.node(fin)["state"] == NodeState.QUOTED
        and bills.node(fin)["to"] == bill_cast.factor.address
    )


def test_financing__full_path_on_chain_cash__atomic_swap(bills, cash, bill_cast, agreed):
    fin = agreed()
    assert bills.financing(fin)["holderSigned"] is True
    tx = bill_cast.auditor.audit(fin, True, "financing audit")
    assert tx.events["BillAudited"]["kind"] == NodeKind.FINANCING
    assert bills.node(fin)["state"] == NodeState.AUDITED
    pay = bills.financing(fin)["proceeds"]
    holder_cash, factor_cash = cash.balanceOf(bill_cast.tier2a.address), cash.balanceOf(
        bill_cast.factor.address
    )
    tx = bill_cast.factor.disburse(fin)
    ev = tx.events["BillFinancingDisbursed"]
    assert (ev["factor"], ev["holder"], ev["amount"], ev["proceeds"]) == (
        bill_cast.factor.address,
        bill_cast.tier2a.address,
        AMOUNT,
        pay,
    )
    assert ev["paymentRef"] == "0x" + "00" * 32
    assert cash.balanceOf(bill_cast.tier2a.address) == holder_cash + pay
    assert cash.balanceOf(bill_cast.factor.address) == factor_cash - pay
    assert bills.balanceOf(bill_cast.factor.address, fin) == AMOUNT and bills.locked(fin) == 0
    assert bills.node(fin)["state"] == NodeState.VALID


def test_disburse__payment_reference_where_cash_pays__refused_unchanged(
    bills, cash, bill_cast, agreed
):
    """A CNY bill on a contract paying in CNY deposits is paid on chain only: the factor's word
    that it wired the proceeds moves nothing (issue 17 item 10)."""
    fin = agreed()
    bill_cast.auditor.audit(fin, True, "ok")
    before = snapshot(bills, [fin], [bill_cast.tier2a.address, bill_cast.factor.address])
    with brownie.reverts(revert_pattern=r"BillOffChainPaymentRefused:.*"):
        bill_cast.factor.disburse(fin, "SWIFT MT103 ref 42")
    assert snapshot(bills, [fin], [bill_cast.tier2a.address, bill_cast.factor.address]) == before
    assert bills.node(fin)["state"] == NodeState.AUDITED


def test_financing__partial_amount__rest_stays_with_holder(bills, bill_cast, held, agreed):
    fin = agreed(100_000_00)
    bill_cast.auditor.audit(fin, True, "ok")
    bill_cast.factor.disburse(fin)
    assert bills.balanceOf(bill_cast.tier2a.address, held) == AMOUNT - 100_000_00
    assert bills.balanceOf(bill_cast.factor.address, fin) == 100_000_00
    assert bills.lineage(fin)[0] == [fin, held, bills.node(held)["parent"]]


def test_request_financing__double_financing__reverts_unchanged(bills, bill_cast, held):
    bill_cast.tier2a.request_financing(held, AMOUNT, "first")
    before = snapshot(bills, [held], [bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        bill_cast.tier2a.request_financing(held, 1, "second")
    with brownie.reverts(revert_pattern=r"BillAmountExceedsBalance:.*"):
        bill_cast.tier2a.request_transfer(held, bill_cast.tier2b.address, 1, "sell it as well")
    assert snapshot(bills, [held], [bill_cast.tier2a.address]) == before


def test_disburse__twice__reverts(bills, bill_cast, cash, agreed):
    fin = agreed()
    bill_cast.auditor.audit(fin, True, "ok")
    bill_cast.factor.disburse(fin)
    before = (
        cash.balanceOf(bill_cast.factor.address),
        bills.balanceOf(bill_cast.factor.address, fin),
    )
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.factor.disburse(fin)
    assert (
        cash.balanceOf(bill_cast.factor.address),
        bills.balanceOf(bill_cast.factor.address, fin),
    ) == before


def test_quote__second_factor_or_twice__reverts(
    bills, bill_cast, held, admit, regulator_cn, accounts
):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "r")
    bill_cast.factor.quote(fin, RATE, "agreement v1")
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.factor.quote(fin, 100, "cheaper")
    assert bills.financing(fin)["rateBps"] == RATE


@pytest.mark.parametrize(
    "case,rate,agreement,error",
    [
        ("rate above 100 %", 10_001, doc_hash("a"), r"BillRateOutOfRange:.*"),
        ("zero agreement", RATE, b"\0" * 32, r"BillZeroHash: agreementHash"),
    ],
)
def test_quote__bad_input__reverts_unchanged(bills, bill_cast, held, case, rate, agreement, error):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "r")
    before = snapshot(bills, [fin], [bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=error):
        bills.quoteFinancing(fin, rate, agreement, {"from": bill_cast.factor.inst.account})
    assert snapshot(bills, [fin], [bill_cast.tier2a.address]) == before


def test_quote__transfer_node__wrong_kind(bills, bill_cast, held):
    child, _ = bill_cast.tier2a.request_transfer(held, bill_cast.tier2b.address, 1, "t")
    with brownie.reverts(revert_pattern=r"BillWrongKind:.*"):
        bill_cast.factor.quote(child, RATE, "a")


def test_review__financing_node__wrong_kind(bills, bill_cast, held):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "r")
    with brownie.reverts(revert_pattern=r"BillWrongKind:.*"):
        bill_cast.tier2a.review(fin, True, "self review")


def test_accept__other_agreement__reverts_unchanged(bills, bill_cast, held):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "r")
    bill_cast.factor.quote(fin, RATE, "agreement v1")
    before = snapshot(bills, [fin], [bill_cast.tier2a.address])
    with brownie.reverts(revert_pattern=r"BillAgreementMismatch:.*"):
        bill_cast.tier2a.accept_financing(
            fin, "agreement v2 (edited)", bill_cast.factor.address, RATE
        )
    with brownie.reverts(revert_pattern=r"BillNotHolder:.*"):
        bill_cast.tier2b.accept_financing(fin, "agreement v1", bill_cast.factor.address, RATE)
    assert snapshot(bills, [fin], [bill_cast.tier2a.address]) == before


def test_accept__declined__amount_returns(bills, bill_cast, held):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "r")
    bill_cast.factor.quote(fin, RATE, "agreement v1")
    tx = bill_cast.tier2a.accept_financing(fin, "rate too high", Z20, 0, accept=False)
    assert tx.events["BillFinancingAgreed"]["accepted"] is False
    assert bills.balanceOf(bill_cast.tier2a.address, held) == AMOUNT
    assert bills.node(fin)["state"] == NodeState.REJECTED


def test_audit__financing_before_agreement__reverts(bills, bill_cast, held):
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "r")
    bill_cast.factor.quote(fin, RATE, "agreement v1")
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.auditor.audit(fin, True, "too early")


def test_audit__financing_rejected__amount_returns(bills, bill_cast, held, agreed):
    fin = agreed()
    bill_cast.auditor.audit(fin, False, "factor not qualified")
    assert bills.balanceOf(bill_cast.tier2a.address, held) == AMOUNT


def test_disburse__not_the_quoting_factor__reverts(
    bills, bill_cast, agreed, admit, regulator_cn, accounts
):
    other = admit(accounts[14], ["ASSET_MANAGER"], regulator=regulator_cn, name="other factor")
    fin = agreed()
    bill_cast.auditor.audit(fin, True, "ok")
    with brownie.reverts(revert_pattern=r"BillNotFactor:.*"):
        bills.disburseFinancing(fin, b"\0" * 32, {"from": other.account})
    assert bills.node(fin)["state"] == NodeState.AUDITED


def test_disburse__factor_short_of_cash__reverts_unchanged(bills, cash, bill_cast, agreed):
    fin = agreed()
    bill_cast.auditor.audit(fin, True, "ok")
    cash.transfer(bill_cast.tier1.address, FUNDS, {"from": bill_cast.factor.inst.account})
    with brownie.reverts(revert_pattern=r"ERC20InsufficientBalance:.*"):
        bill_cast.factor.disburse(fin)
    assert bills.locked(fin) == AMOUNT and bills.node(fin)["state"] == NodeState.AUDITED


def test_disburse__after_maturity__reverts(bills, bill_cast, agreed, chain, maturity):
    fin = agreed()
    bill_cast.auditor.audit(fin, True, "ok")
    warp(chain, maturity)
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        bill_cast.factor.disburse(fin)


def test_quote__factor_is_holder__reverts(bills, bill_cast, held, manager, registry):
    from consortium.domain.roles import ROLES

    registry.grantRole(bill_cast.tier2a.address, ROLES["ASSET_MANAGER"], {"from": manager.account})
    fin, _ = bill_cast.tier2a.request_financing(held, AMOUNT, "r")
    with brownie.reverts(revert_pattern=r"BillSelfTransfer:.*"):
        bills.quoteFinancing(fin, RATE, doc_hash("a"), {"from": bill_cast.tier2a.inst.account})


def test_quote__channel_policy__needs_holder_factor_channel(bills, bill_cast, make_bill, connect):
    connect(bill_cast.core.inst, bill_cast.tier1.inst)
    bill_id = make_bill(require_channel=True)
    fin, _ = bill_cast.tier1.request_financing(bill_id, FACE, "r")
    with brownie.reverts(revert_pattern=r"RegistryChannelNotOpen:.*"):
        bill_cast.factor.quote(fin, RATE, "a")
    connect(bill_cast.tier1.inst, bill_cast.factor.inst)
    bill_cast.factor.quote(fin, RATE, "a")
    assert bills.node(fin)["state"] == NodeState.QUOTED


def test_disburse__no_cash_token__on_chain_payment_refused(
    BillToken, registry, registry_admin, bill_cast, maturity, connect
):
    bare = BillToken.deploy(registry, "0x" + "00" * 20, "", {"from": registry_admin})
    acct = lambda r: {"from": r.inst.account}
    from consortium.domain.hashing import code32

    tx = bare.requestIssue(
        bill_cast.tier1.address,
        100,
        code32("CNY"),
        maturity,
        doc_hash("po"),
        False,
        acct(bill_cast.core),
    )
    bill_id = tx.events["BillIssueRequested"]["billId"]
    bare.review(bill_id, True, doc_hash("ok"), acct(bill_cast.tier1))
    bare.audit(bill_id, True, doc_hash("ok"), acct(bill_cast.auditor))
    fin = bare.requestFinancing(
        bill_id, 100, doc_hash("r"), doc_hash("r"), acct(bill_cast.tier1)
    ).events["BillFinancingRequested"]["nodeId"]
    bare.quoteFinancing(fin, RATE, doc_hash("a"), acct(bill_cast.factor))
    bare.acceptFinancing(
        fin, True, doc_hash("a"), bill_cast.factor.address, RATE, acct(bill_cast.tier1)
    )
    bare.audit(fin, True, doc_hash("ok"), acct(bill_cast.auditor))
    with brownie.reverts(revert_pattern=r"BillNoCash.*"):
        bare.disburseFinancing(fin, b"\0" * 32, acct(bill_cast.factor))
    # without a cash token the factor declares its wire; the bill moves on the holder's confirmation
    tx = bare.disburseFinancing(fin, doc_hash("wire 1"), acct(bill_cast.factor))
    declared = tx.events["BillPaymentDeclared"]["declarationId"]
    assert bare.balanceOf(bill_cast.factor.address, fin) == 0 and bare.locked(fin) == 100
    tx = bare.confirmPayment(declared, acct(bill_cast.tier1))
    assert tx.events["BillFinancingDisbursed"]["paymentRef"] == "0x" + doc_hash("wire 1").hex()
    assert bare.balanceOf(bill_cast.factor.address, fin) == 100
