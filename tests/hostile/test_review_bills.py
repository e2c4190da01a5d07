"""Issue 17, the bill line's items: each test performs the review's attack (or walks the stuck state)
and expects the named refusal or the exit path.

- item 3  financing (and an unreviewed issue or transfer) had no exit: cancelRequest, expireRequest
- item 5  issue-document squatting: documents keyed by (debtor, docHash), receivers a member's own
          address, the agent checks the debtor of what it finds
- item 6  redemption-reference squatting: references keyed by (debtor, batchRef), the agent's default
          references secret-salted (and the same after a restart)
- item 10 off-chain payments on one side's word: declare, the payee confirms (or the payer withdraws
          after the deadline); a bill the cash token pays is paid on chain only
- item 13 a receiver suspended after its review gets nothing delivered
- item 15 requestTransfer / requestFinancing keyed by an owner-scoped request reference
"""

import brownie
import pytest

from consortium.domain.bills import (
    FINANCING_WINDOW,
    FULL_CLIENT,
    PAYMENT_CONFIRMATION_WINDOW,
    BillStatus,
    EvidenceStep,
    NodeKind,
    NodeState,
    PaymentKind,
    evidence_of,
    financing_deadline,
)
from consortium.domain.hashing import doc_hash
from consortium.outbox import key_of
from consortium.roles.bills import FINANCE, REDEEM, BillClient
from consortium.store import Store
from tests.faults.helpers import dies_after_send, resumed_once
from tests.fixtures.bills import FACE, accepted_foreign_bill, warp
from tests.unit.BillToken.helpers import snapshot

AMOUNT, RATE = 400_000_00, 800


@pytest.fixture(scope="module")
def rival(admit, regulator_cn, accounts, bills):
    """Another core enterprise (SUPPLY_CHAIN_CLIENT): a debtor of its own, the squatter."""
    return BillClient(
        admit(accounts[15], list(FULL_CLIENT), regulator=regulator_cn, name="rival core"),
        bills,
    )


@pytest.fixture(scope="module")
def rival_operator(registry, rival, accounts):
    """An operator address of the rival: it acts for the rival, it is no member of its own."""
    registry.addOperator(accounts[16], {"from": rival.inst.account})
    return accounts[16]


@pytest.fixture(scope="module")
def held(make_bill, transfer, bill_cast):
    """tier-2 A holds AMOUNT of a fresh bill on a transfer node."""
    return transfer(bill_cast.tier1, make_bill(), bill_cast.tier2a, AMOUNT)


def _financed_to_audit(bill_cast, node, amount=AMOUNT, docs="financing request"):
    fin, _ = bill_cast.tier2a.request_financing(node, amount, docs)
    bill_cast.factor.quote(fin, RATE, f"agreement {fin}")
    tx = bill_cast.tier2a.accept_financing(fin, f"agreement {fin}", bill_cast.factor.address, RATE)
    bill_cast.auditor.audit(fin, True, "financing audit")
    return fin, tx


# ============================================================================ item 3: exits


def test_item3_cancel__financing_nobody_quotes__holder_cancels_escrow_returned(
    bills, bill_cast, held
):
    holder = bill_cast.tier2a
    fin, _ = holder.request_financing(held, AMOUNT, "financing request")
    assert bills.locked(fin) == AMOUNT and holder.holding(held) == 0
    with brownie.reverts(revert_pattern=r"BillNotRequester:.*"):  # nobody else withdraws it
        bill_cast.tier2b.cancel_request(fin, "not mine")
    tx = holder.cancel_request(fin, "no factor quoted in a week")
    ev = tx.events["BillRequestCancelled"]
    assert (ev["nodeId"], ev["requester"], ev["kind"], ev["amount"]) == (
        fin,
        holder.address,
        NodeKind.FINANCING,
        AMOUNT,
    )
    assert bills.node(fin)["state"] == NodeState.REJECTED
    assert bills.locked(fin) == 0 and holder.holding(held) == AMOUNT
    assert (
        bills.node(fin)["evidence"]
        == "0x"
        + evidence_of(
            [
                (EvidenceStep.REQUEST, holder.address, doc_hash("financing request"), True),
                (EvidenceStep.CANCEL, holder.address, doc_hash("no factor quoted in a week"), True),
            ]
        ).hex()
    )
    with brownie.reverts(revert_pattern=r"BillNotCancellable:.*"):  # once only
        holder.cancel_request(fin, "again")


def test_item3_cancel__quoted_financing__holder_walks_away_after_signing_refused(
    bills, bill_cast, held
):
    holder = bill_cast.tier2a
    fin, _ = holder.request_financing(held, AMOUNT, "financing request")
    bill_cast.factor.quote(fin, RATE, "agreement")
    holder.cancel_request(fin, "better offer elsewhere")
    assert holder.holding(held) == AMOUNT and bills.node(fin)["state"] == NodeState.REJECTED
    # once the holder signed, the factor relies on it: no cancel, only the deadline's expiry
    fin, _ = holder.request_financing(held, AMOUNT, "financing request 2")
    bill_cast.factor.quote(fin, RATE, "agreement 2")
    holder.accept_financing(fin, "agreement 2", bill_cast.factor.address, RATE)
    with brownie.reverts(
        revert_pattern=rf"BillNotCancellable: {fin}, {int(NodeKind.FINANCING)}, "
        rf"{int(NodeState.AGREED)}"
    ):
        holder.cancel_request(fin, "changed my mind")


def test_item3_expire__factor_never_disburses__holder_takes_escrow_back_after_deadline(
    bills, cash, bill_cast, held, chain
):
    holder, factor = bill_cast.tier2a, bill_cast.factor
    fin, signed = _financed_to_audit(bill_cast, held)
    deadline = int(bills.deadlineOf(fin))
    maturity = int(bills.bill(bills.node(fin)["billId"])["maturity"])
    assert (
        deadline
        == financing_deadline(signed.timestamp, maturity)
        == signed.timestamp + FINANCING_WINDOW
    )
    with brownie.reverts(revert_pattern=rf"BillDeadlineNotReached: {fin}, {deadline}, .*"):
        holder.expire(fin, "factor silent")
    warp(chain, deadline)
    factor_cash = cash.balanceOf(factor.address)
    # the free option is closed: past the deadline the factor can no longer take the bill
    with brownie.reverts(revert_pattern=rf"BillDisbursementDeadlinePassed: {fin}, {deadline}, .*"):
        factor.disburse(fin)
    with brownie.reverts(revert_pattern=r"BillNotRequesterOrAuditor:.*"):
        bill_cast.tier2b.expire(fin, "not my node")
    tx = holder.expire(fin, "factor silent")
    ev = tx.events["BillRequestExpired"]
    assert (ev["nodeId"], ev["expiredBy"], ev["state"], ev["amount"]) == (
        fin,
        holder.address,
        NodeState.AUDITED,
        AMOUNT,
    )
    assert holder.holding(held) == AMOUNT and bills.locked(fin) == 0
    assert cash.balanceOf(factor.address) == factor_cash
    with brownie.reverts(revert_pattern=r"BillNotExpirable:.*"):
        holder.expire(fin, "again")


def test_item3_expire__audited_financing_at_maturity__auditor_expires_and_bill_fully_redeemed(
    bills, bill_cast, make_bill, transfer, chain, maturity
):
    bill_id = make_bill()
    node = transfer(bill_cast.tier1, bill_id, bill_cast.tier2a, AMOUNT)
    fin, _ = _financed_to_audit(bill_cast, node)
    warp(chain, maturity)
    with brownie.reverts(revert_pattern=r"BillMatured:.*"):
        bill_cast.factor.disburse(fin)
    tx = bill_cast.auditor.expire(fin, "not disbursed by maturity")
    assert tx.events["BillRequestExpired"]["expiredBy"] == bill_cast.auditor.address
    # nothing stays locked for ever: the whole face value is redeemable
    bill_cast.core.redeem(
        [
            (bill_id, bill_cast.tier1.address, FACE - AMOUNT),
            (node, bill_cast.tier2a.address, AMOUNT),
        ]
    )
    assert bills.bill(bill_id)["status"] == BillStatus.SETTLED and bills.outstanding(bill_id) == 0


def test_item3_cancel__issue_nobody_reviews__debtor_cancels_and_documents_freed(
    bills, bill_cast, maturity
):
    core = bill_cast.core
    bill_id, _ = core.request_issue(bill_cast.tier1.address, FACE, maturity, "po never reviewed")
    with brownie.reverts(revert_pattern=r"BillNotRequester:.*"):
        bill_cast.tier1.cancel_request(bill_id, "receiver is no requester")
    tx = core.cancel_request(bill_id, "receiver silent")
    assert tx.events["BillRequestCancelled"]["kind"] == NodeKind.ISSUE
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED and bills.locked(bill_id) == 0
    again, _ = core.request_issue(bill_cast.tier1.address, FACE, maturity, "po never reviewed")
    assert again != bill_id and bills.bill(again)["status"] == BillStatus.PENDING
    # once reviewed, the receiver relies on it: no cancel
    bill_cast.tier1.review(again, True, "goods received")
    with brownie.reverts(revert_pattern=r"BillNotCancellable:.*"):
        core.cancel_request(again, "too late")


def test_item3_cancel__transfer_nobody_reviews__sender_cancels_amount_returned(
    bills, bill_cast, make_bill
):
    bill_id = make_bill()
    node, _ = bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, AMOUNT, "sub")
    assert bill_cast.tier1.holding(bill_id) == FACE - AMOUNT
    tx = bill_cast.tier1.cancel_request(node, "receiver silent")
    assert tx.events["BillRequestCancelled"]["amount"] == AMOUNT
    assert bill_cast.tier1.holding(bill_id) == FACE and bills.locked(node) == 0


def test_item3_expire__reviewed_issue_never_audited__debtor_expires_at_maturity(
    bills, bill_cast, maturity, chain
):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, "po 3")
    bill_cast.tier1.review(bill_id, True, "goods received")
    with brownie.reverts(revert_pattern=rf"BillDeadlineNotReached: {bill_id}, {maturity}, .*"):
        bill_cast.core.expire(bill_id, "auditor silent")
    warp(chain, maturity)
    bill_cast.core.expire(bill_id, "auditor silent")
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED and bills.locked(bill_id) == 0


# ============================================================================ item 5: documents


def test_item5_squat__rival_issues_on_victims_documents_to_its_operator__refused_and_harmless(
    bills, bill_cast, rival, rival_operator, maturity
):
    docs = "po 2026-77 + invoice (core enterprise)"
    # the attack: the rival's bill on the victim's documents, to an address that can never review
    with brownie.reverts(
        f"BillReceiverNotMemberAddress: {rival_operator.address.lower()}, "
        f"{rival.address.lower()}"
    ):
        rival.request_issue(rival_operator.address, 1, maturity, docs)
    # a rival bill on the same documents to a real member: its own key, the victim's stays free
    squat, _ = rival.request_issue(bill_cast.tier2b.address, 1, maturity, docs)
    assert bills.billOfDocuments(rival.address, doc_hash(docs))[0] == squat
    assert bills.billOfDocuments(bill_cast.core.address, doc_hash(docs)) == (0, 0)
    # the victim's agent issues its own bill and books it, not the rival's
    own, tx = bill_cast.core.request_issue(bill_cast.tier1.address, FACE, maturity, docs)
    assert tx is not None and own != squat
    assert bills.bill(own)["debtor"] == bill_cast.core.address
    assert bills.billOfDocuments(bill_cast.core.address, doc_hash(docs))[0] == own


def test_item5_transfer_to_operator_address__refused(bills, bill_cast, rival_operator, make_bill):
    bill_id = make_bill()
    before = snapshot(bills, [bill_id], [bill_cast.tier1.address])
    with brownie.reverts(revert_pattern=r"BillReceiverNotMemberAddress:.*"):
        bill_cast.tier1.request_transfer(bill_id, rival_operator.address, 1, "sub")
    assert snapshot(bills, [bill_id], [bill_cast.tier1.address]) == before


# ============================================================================ item 6: redemptions


def test_item6_squat__rival_debtor_uses_victims_batch_ref_first__victim_still_pays(
    bills, cash, bill_cast, rival, make_bill, maturity, chain
):
    victim_bill = make_bill()
    rival_bill, _ = rival.request_issue(bill_cast.tier2b.address, 1_00, maturity, "rival po")
    bill_cast.tier2b.review(rival_bill, True, "ok")
    bill_cast.auditor.audit(rival_bill, True, "ok")
    bill_cast.cash_issuer.issue(rival.address, "CNY", 1_00, "rival cash")
    warp(chain, maturity)
    ref = "core payment order 2026-12"
    rival.redeem([(rival_bill, bill_cast.tier2b.address, 1_00)], batch_ref=ref)  # the squat
    assert bills.redemptionOf(rival.address, doc_hash(ref))[0] == 1
    paid = cash.balanceOf(bill_cast.tier1.address)
    tx = bill_cast.core.redeem([(victim_bill, bill_cast.tier1.address, FACE)], batch_ref=ref)
    assert tx is not None and tx.events["BillSettled"]["billId"] == victim_bill
    assert cash.balanceOf(bill_cast.tier1.address) == paid + FACE
    assert bills.redemptionOf(bill_cast.core.address, doc_hash(ref))[0] == 1


def test_item6_default_refs__secret_salted__unpredictable_and_same_after_restart(
    bills, cash, bill_cast, make_bill, maturity, chain, tmp_path
):
    bill_id = make_bill()
    warp(chain, maturity)
    items = [(bill_id, bill_cast.tier1.address, 100_00)]
    path = tmp_path / "core.sqlite"
    agent = BillClient(bill_cast.core.inst, bills, store=Store.at(path))
    other = BillClient(bill_cast.core.inst, bills, store=Store.at(tmp_path / "elsewhere.sqlite"))
    # what an outsider could derive (the old default) is not the key, and another salt gives another
    old_default = doc_hash(f'["redeem", [[{bill_id}, "{items[0][1]}", 10000]], "0x{"00" * 32}"]')
    with dies_after_send(agent):
        agent.redeem(items)
    (row,) = agent.store.intents(kinds=[REDEEM])
    key = row["args"][0]
    assert key != "0x" + old_default.hex()
    assert bills.redemptionOf(bill_cast.core.address, key)[0] == 1
    assert bills.redemptionOf(bill_cast.core.address, old_default) == (0, 0)
    # a restarted agent (same store: same salt) finds its redemption and pays nothing twice
    fresh = BillClient(bill_cast.core.inst, bills, store=Store.at(path))
    resumed_once(fresh, REDEEM, row["key"], {"count": 1})
    paid = cash.balanceOf(bill_cast.tier1.address)
    assert fresh.redeem(items) is None
    assert cash.balanceOf(bill_cast.tier1.address) == paid
    assert other._secret() != fresh._secret()


# ============================================================================ item 10: off-chain payments


@pytest.fixture
def usd_bill(bills, bill_cast, maturity):
    """A USD bill (the contract's cash token is CNY: USD can only be paid off chain)."""
    return accepted_foreign_bill(bills, bill_cast, FACE, maturity, "usd po")


def test_item10_debtor_declares_paying_factor__refused_where_cash_pays(
    bills, cash, bill_cast, held, chain, maturity
):
    fin, _ = _financed_to_audit(bill_cast, held)
    bill_cast.factor.disburse(fin)
    warp(chain, maturity)
    before = snapshot(bills, [fin], [bill_cast.factor.address])
    # the attack: the debtor "pays" the factor, owed cash, with a wire reference of its own word
    with brownie.reverts(revert_pattern=r"BillOffChainPaymentRefused:.*"):
        bill_cast.core.redeem(
            [(fin, bill_cast.factor.address, AMOUNT)], payment_ref="wire, trust me"
        )
    assert snapshot(bills, [fin], [bill_cast.factor.address]) == before
    assert bills.balanceOf(bill_cast.factor.address, fin) == AMOUNT


def test_item10_off_chain_redemption__holder_confirms_or_payer_withdraws_after_deadline(
    bills, bill_cast, usd_bill, chain, maturity
):
    core, holder = bill_cast.core, bill_cast.tier1
    warp(chain, maturity)
    tx = core.redeem(
        [(usd_bill, holder.address, 100_00), (usd_bill, holder.address, 200_00)],
        payment_ref="USD wire 1",
    )
    first, second = core.declarations(tx)
    ev = tx.events["BillPaymentDeclared"][0]
    assert (ev["payer"], ev["payee"], ev["kind"], ev["amount"]) == (
        core.address,
        holder.address,
        PaymentKind.REDEMPTION,
        100_00,
    )
    assert "BillRedeemed" not in tx.events
    assert (
        holder.holding(usd_bill) == FACE and bills.outstanding(usd_bill) == FACE
    )  # nothing burned
    with brownie.reverts(revert_pattern=r"BillNotPayee:.*"):
        core.confirm_payment(first)  # the payer cannot confirm its own word
    with brownie.reverts(revert_pattern=r"BillPaymentNotExpired:.*"):
        core.withdraw_payment(second)
    tx = holder.confirm_payment(first)
    assert tx.events["BillRedeemed"]["amount"] == 100_00
    assert tx.events["BillPaymentConfirmed"]["declarationId"] == first
    assert (
        holder.holding(usd_bill) == FACE - 100_00 and bills.outstanding(usd_bill) == FACE - 100_00
    )
    with brownie.reverts(revert_pattern=r"BillUnknownPayment:.*"):
        holder.confirm_payment(first)  # once
    # the second wire never arrived: after the deadline the debtor withdraws its declaration
    warp(chain, int(bills.payment(second)["deadline"]))
    with brownie.reverts(revert_pattern=r"BillNotPayer:.*"):
        holder.withdraw_payment(second)
    tx = core.withdraw_payment(second)
    assert tx.events["BillPaymentWithdrawn"]["amount"] == 200_00
    with brownie.reverts(revert_pattern=r"BillUnknownPayment:.*"):
        holder.confirm_payment(second)
    assert holder.holding(usd_bill) == FACE - 100_00


def test_item10_off_chain_disbursement__holder_confirms(bills, bill_cast, usd_bill, transfer):
    node = transfer(bill_cast.tier1, usd_bill, bill_cast.tier2a, AMOUNT)
    fin, _ = _financed_to_audit(bill_cast, node)
    tx = bill_cast.factor.disburse(fin, "USD wire 7")
    (declared,) = bill_cast.factor.declarations(tx)
    assert tx.events["BillPaymentDeclared"]["kind"] == PaymentKind.DISBURSEMENT
    assert bills.balanceOf(bill_cast.factor.address, fin) == 0 and bills.locked(fin) == AMOUNT
    assert bills.node(fin)["state"] == NodeState.AUDITED
    with brownie.reverts(revert_pattern=r"BillNotPayee:.*"):
        bill_cast.factor.confirm_payment(declared)
    tx = bill_cast.tier2a.confirm_payment(declared)
    assert tx.events["BillFinancingDisbursed"]["paymentRef"] == "0x" + doc_hash("USD wire 7").hex()
    assert bills.balanceOf(bill_cast.factor.address, fin) == AMOUNT and bills.locked(fin) == 0
    assert bills.node(fin)["state"] == NodeState.VALID
    assert PAYMENT_CONFIRMATION_WINDOW > 0


# ============================================================================ item 13: suspended receiver


def test_item13_receiver_suspended_after_review__not_delivered_then_rejected(
    bills, bill_cast, manager, maturity
):
    bill_id, _ = bill_cast.core.request_issue(bill_cast.tier2b.address, FACE, maturity, "po 13")
    bill_cast.tier2b.review(bill_id, True, "goods received")
    manager.suspend(bill_cast.tier2b.address, "sanctions screening hit")
    before = snapshot(bills, [bill_id], [bill_cast.tier2b.address])
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        bill_cast.auditor.audit(bill_id, True, "issue audit")
    assert snapshot(bills, [bill_id], [bill_cast.tier2b.address]) == before
    bill_cast.auditor.audit(bill_id, False, "receiver suspended")
    assert bills.bill(bill_id)["status"] == BillStatus.CANCELLED
    assert bills.balanceOf(bill_cast.tier2b.address, bill_id) == 0


# ============================================================================ item 15: request keys


def test_item15_request_ref__resent_transfer_refused_and_other_holders_key_untouched(
    bills, bill_cast, make_bill
):
    bill_id = make_bill()
    ref = doc_hash("transfer order 15")
    tier1 = bill_cast.tier1.inst.account
    tx = bills.requestTransfer(
        bill_id, bill_cast.tier2a.address, 1_00, doc_hash("sub"), ref, {"from": tier1}
    )
    node = tx.events["BillTransferRequested"]["nodeId"]
    assert bills.requestOf(bill_cast.tier1.address, ref) == (node, tx.block_number)
    with brownie.reverts(
        f"BillRequestRefUsed: {bill_cast.tier1.address.lower()}, {ref!r}, {node}, "
        f"{tx.block_number}"
    ):
        bills.requestTransfer(
            bill_id, bill_cast.tier2a.address, 1_00, doc_hash("sub"), ref, {"from": tier1}
        )
    with brownie.reverts(revert_pattern=r"BillRequestRefUsed:.*"):  # one key space per holder
        bills.requestFinancing(bill_id, 1_00, doc_hash("fin"), ref, {"from": tier1})
    # the same reference is another holder's own key: nobody can burn it for them
    assert bills.requestOf(bill_cast.tier2a.address, ref) == (0, 0)
    with brownie.reverts(revert_pattern=r"BillZeroHash: requestRef"):
        bills.requestFinancing(bill_id, 1_00, doc_hash("fin"), b"\0" * 32, {"from": tier1})


def test_item15_agent_killed_after_financing_request__booked_once_not_resent(
    bills, bill_cast, held, tmp_path
):
    path = tmp_path / "tier2a.sqlite"
    holder = bill_cast.tier2a
    next_id = bills.nextId()
    with dies_after_send(agent := BillClient(holder.inst, bills, store=Store.at(path))):
        agent.request_financing(held, AMOUNT, "financing request", request_ref="fin order 1")
    ref = doc_hash("fin order 1")
    assert bills.requestOf(holder.address, ref)[0] == next_id
    fresh = BillClient(holder.inst, bills, store=Store.at(path))
    resumed_once(fresh, FINANCE, key_of(ref), {"nodeId": next_id})
    again, tx = fresh.request_financing(
        held, AMOUNT, "financing request", request_ref="fin order 1"
    )
    assert (again, tx, bills.nextId()) == (next_id, None, next_id + 1)


def test_item15_agent_transfer_twice__one_node(bills, bill_cast, make_bill):
    bill_id = make_bill()
    first, tx = bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 1_00, "sub 15")
    again, tx2 = bill_cast.tier1.request_transfer(bill_id, bill_cast.tier2a.address, 1_00, "sub 15")
    assert first == again and tx is not None and tx2 is None
    assert bills.node(first)["kind"] == NodeKind.TRANSFER and bills.locked(first) == 1_00
    assert bill_cast.tier1.holding(bill_id) == FACE - 1_00


# ============================================================================ the exits' other refusals


def test_exits__unknown_node_zero_reason_unknown_declaration__named_refusals(
    bills, bill_cast, held
):
    holder = bill_cast.tier2a
    for call in (
        lambda: holder.cancel_request(999_999, "x"),
        lambda: holder.expire(999_999, "x"),
        lambda: bills.deadlineOf(999_999),
    ):
        with brownie.reverts(revert_pattern=r"BillUnknownNode: 999999"):
            call()
    fin, _ = holder.request_financing(held, AMOUNT, "financing request")
    acct = {"from": holder.inst.account}
    with brownie.reverts(revert_pattern=r"BillZeroHash: reasonHash"):
        bills.cancelRequest(fin, b"\0" * 32, acct)
    with brownie.reverts(revert_pattern=r"BillZeroHash: reasonHash"):
        bills.expireRequest(fin, b"\0" * 32, acct)
    for call in (lambda: holder.confirm_payment(7), lambda: holder.withdraw_payment(7)):
        with brownie.reverts(revert_pattern=r"BillUnknownPayment: 7"):
            call()
    assert tuple(bills.payment(7))[3] == PaymentKind.NONE


def test_item10_disbursement_declared_then_financing_expired__confirm_refused_payer_withdraws(
    bills, bill_cast, usd_bill, transfer, chain
):
    node = transfer(bill_cast.tier1, usd_bill, bill_cast.tier2a, AMOUNT)
    fin, _ = _financed_to_audit(bill_cast, node)
    (declared,) = bill_cast.factor.declarations(bill_cast.factor.disburse(fin, "USD wire 8"))
    warp(chain, int(bills.deadlineOf(fin)))
    bill_cast.tier2a.expire(fin, "the wire never came")
    assert bill_cast.tier2a.holding(node) == AMOUNT
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.tier2a.confirm_payment(declared)
    warp(chain, int(bills.payment(declared)["deadline"]))
    bill_cast.factor.withdraw_payment(declared)
    assert bills.balanceOf(bill_cast.factor.address, fin) == 0


def test_exits__valid_holding__not_expirable_holding_unchanged(bill_cast, held):
    """Only a request can expire; a holding already valid is the holder's until redeemed."""
    holder = bill_cast.tier2a
    before = holder.holding(held)
    with brownie.reverts(revert_pattern=rf"BillNotExpirable: {held}, .*"):
        holder.expire(held, "not a request")
    assert holder.holding(held) == before > 0
