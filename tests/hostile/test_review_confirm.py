"""Issue 17, the confirmations / reporting / registry items: each attack performed, each refused.

- item 4: a rival sales bank anchors the victim's root first, under a wrong period (anchors are keyed
  by (bank, root) now; verifyRecord names the bank; anchorPeriod needs channels; the agent's probe
  checks who anchored what);
- item 7: a rival bank commits the victim's bilateral root into its own day, or to a counterparty that
  is no finance company (keys per (bank, root); ReconciliationNotFinanceCompany; the agent checks the day);
- item 13: a suspended issuer's signature passes checkConfirmation (AnchorConfirmationSignerNotActive);
- item 14: an approval given for one pair enacts terms for another (approvals keyed by the pair); any
  REPORTER anchors the next report version of any regulator (only over a channel with the regulator);
  a bank adds a batch to a past day after the reconciler counted it (closeDay, ReconciliationDayClosed);
- item 15: a pending channel request is overwritten before it is opened (RegistryChannelAlreadyRequested;
  withdrawChannelRequest by the requester or the counterparty is the exit).

Accounts: conf_cast uses 3..10 and 19; here 11 rival sales bank, 12 rival bank, 13 and 14 reporters.
"""

import os

import brownie
import pandas as pd
import pytest

from consortium.domain import days, eip712, merkle
from consortium.domain.hashing import doc_hash
from consortium.outbox import OutboxConflict
from consortium.roles import confirmations as line
from consortium.roles.confirmations import anchor_domain
from tests.fixtures.confirmations import commit_bilateral

DAY = 20_454
H = b"\x42" * 32
ZERO = "0x" + "00" * 20
ZERO32 = "0x" + "00" * 32


def _lo(x):
    return (x if isinstance(x, str) else x.address).lower()


@pytest.fixture(scope="module")
def rival_sales(admit, connect, conf_cast, regulator_cn, accounts):
    """Another sales bank, with a channel to issuer B only (anchorPeriod needs one)."""
    r = admit(accounts[11], ["SALES_BANK"], regulator=regulator_cn, name="rival sales bank")
    connect(r, conf_cast.issuer_b)
    return r


@pytest.fixture(scope="module")
def rival_bank(admit, connect, conf_cast, regulator_cn, accounts):
    """Another bank, with channels to the victim's finance company and to a product issuer."""
    r = admit(accounts[12], ["BANK"], regulator=regulator_cn, name="rival bank")
    connect(r, conf_cast.fc)
    connect(r, conf_cast.issuer_a)
    return r


def _packet(conf_cast, n=4, period=DAY):
    recs = [(period, os.urandom(32), conf_cast.issuer_a.address, os.urandom(32)) for _ in range(n)]
    return recs, merkle.RecordTree(recs)


# ===================================================================== item 4: root squatting


def test_item4__rival_anchors_victims_root_first_under_wrong_period__victim_anchors_and_proves(
    anchor, conf_cast, rival_sales
):
    recs, tree = _packet(conf_cast)
    victim = conf_cast.sales_bank
    # the attack: the rival takes the victim's root first, for another day
    tx = anchor.anchorPeriod(
        DAY + 5, tree.root, 4, [conf_cast.issuer_b.address], {"from": rival_sales.account}
    )
    assert tx.events["PeriodAnchored"]["salesBank"] == rival_sales.address
    assert anchor.anchorOf(victim.address, tree.root)[0] == ZERO  # nothing under the victim's key
    # the victim still anchors its own root, for its real day
    tx = anchor.anchorPacket(
        conf_cast.issuer_a.address, DAY, tree.root, 4, {"from": victim.account}
    )
    assert tx.events["PacketAnchored"]["salesBank"] == victim.address
    assert tuple(anchor.anchorOf(victim.address, tree.root)) == (
        victim.address,
        tx.timestamp,
        4,
        DAY,
    )
    assert (
        anchor.anchorOf(rival_sales.address, tree.root)[3] == DAY + 5
    )  # the rival's own, untouched
    rec = recs[1]
    proof = tree.proof(rec)
    assert anchor.verifyRecord(victim.address, tree.root, *rec, proof)  # provable for its real day
    assert not anchor.verifyRecord(
        rival_sales.address, tree.root, *rec, proof
    )  # rival's claim proves nothing
    # a resend by the victim is refused naming its own anchor
    with brownie.reverts(f"AnchorRootAlreadyAnchored: {tree.root!r}, {_lo(victim)}, {DAY}"):
        anchor.anchorPacket(conf_cast.issuer_a.address, DAY, tree.root, 4, {"from": victim.account})


def test_item4__verifyRecord_for_a_bank_that_never_anchored__reverts(
    anchor, conf_cast, rival_sales
):
    recs, tree = _packet(conf_cast, 2)
    anchor.anchorPacket(
        conf_cast.issuer_a.address, DAY, tree.root, 2, {"from": conf_cast.sales_bank.account}
    )
    with brownie.reverts(f"AnchorRootUnknown: {_lo(rival_sales)}, {tree.root!r}"):
        anchor.verifyRecord(rival_sales.address, tree.root, *recs[0], tree.proof(recs[0]))


def test_item4__anchorPeriod_without_channel_to_a_named_issuer__reverts_nothing_anchored(
    anchor, conf_cast, rival_sales
):
    root = os.urandom(32)
    with brownie.reverts(f"RegistryChannelNotOpen: {_lo(rival_sales)}, {_lo(conf_cast.issuer_a)}"):
        anchor.anchorPeriod(
            DAY,
            root,
            3,
            [conf_cast.issuer_b.address, conf_cast.issuer_a.address],
            {"from": rival_sales.account},
        )
    with brownie.reverts("AnchorPeriodIssuersOutOfRange: 0, 64"):
        anchor.anchorPeriod(DAY, root, 3, [], {"from": rival_sales.account})
    with brownie.reverts("AnchorPeriodIssuersOutOfRange: 65, 64"):
        anchor.anchorPeriod(
            DAY, root, 3, [conf_cast.issuer_b.address] * 65, {"from": rival_sales.account}
        )
    assert anchor.anchorOf(rival_sales.address, root)[0] == ZERO


def test_item4__agent_probe__rival_anchor_not_taken_for_its_own_other_period_conflicts(
    anchor, people, conf_cast, rival_sales
):
    bank = people.sales_bank
    _, tree = _packet(conf_cast, 3)
    args = [conf_cast.issuer_a.address, DAY, "0x" + tree.root.hex(), 3]
    anchor.anchorPeriod(
        DAY + 1, tree.root, 3, [conf_cast.issuer_b.address], {"from": rival_sales.account}
    )
    assert bank._anchored(args) is None  # the rival's anchor is not this bank's packet: it sends
    anchor.anchorPacket(
        conf_cast.issuer_a.address, DAY + 2, tree.root, 3, {"from": conf_cast.sales_bank.account}
    )
    with pytest.raises(OutboxConflict, match=f"for period {DAY + 2}"):
        bank._anchored(args)  # its own root, but for another day: not booked as this packet
    assert (
        bank._anchored([conf_cast.issuer_a.address, DAY + 2, "0x" + tree.root.hex(), 3]) is not None
    )


# ===================================================================== item 7: bilateral-root squatting


def test_item7__rival_commits_victims_root_into_its_own_day__victim_commits_and_day_counts_it(
    recon, conf_cast, rival_bank, past_day
):
    bank, fc = conf_cast.bank, conf_cast.fc
    root = os.urandom(32)
    rival_key = recon.dayKey(rival_bank.address, fc.address, past_day)
    commit_bilateral(recon, rival_bank.account, fc.address, past_day, root, 5, 0)  # the attack
    assert recon.committedDayOf(rival_bank.address, root) == rival_key
    assert recon.committedDayOf(bank.address, root) == ZERO32
    tx = commit_bilateral(recon, bank.account, fc.address, past_day, root, 5, 1_234)
    key = recon.dayKey(bank.address, fc.address, past_day)
    assert tx.events["BilateralCommitted"]["dayKey"] == key
    assert recon.committedDayOf(bank.address, root) == key
    d = recon.getDay(key)
    assert (d["batches"], d["committedCount"], d["committedTotal"]) == (1, 5, 1_234)


def test_item7__counterparty_without_finance_company_role__reverts(
    recon, conf_cast, rival_bank, past_day
):
    root = os.urandom(32)
    issuer = conf_cast.issuer_a.address
    with brownie.reverts(f"ReconciliationNotFinanceCompany: {_lo(issuer)}"):
        commit_bilateral(recon, rival_bank.account, issuer, past_day, root, 5, 0)
    assert recon.committedDayOf(rival_bank.address, root) == ZERO32
    assert recon.getDay(recon.dayKey(rival_bank.address, issuer, past_day))["batches"] == 0


def test_item7__agent_probe__rival_commit_ignored_own_root_of_another_day_conflicts(
    recon, people, conf_cast, rival_bank, past_day
):
    client, fc = people.client, conf_cast.fc.address
    root = os.urandom(32)
    args = [fc, past_day, "0x" + root.hex(), 2, 20]
    commit_bilateral(recon, rival_bank.account, fc, past_day, root, 2, 0)
    assert client._committed(args) is None  # not under this bank's key: the batch is sent
    commit_bilateral(recon, conf_cast.bank.account, fc, past_day - 3, root, 2, 20)
    with pytest.raises(OutboxConflict, match="was committed"):
        client._committed(args)
    found = client._committed([fc, past_day - 3, "0x" + root.hex(), 2, 20])
    assert (
        found.value["dayKey"]
        == "0x" + bytes(recon.dayKey(conf_cast.bank.address, fc, past_day - 3)).hex()
    )


def test_item7__reconciler_reads_only_the_days_bank_commitments(
    recon, people, conf_cast, rival_bank, past_day
):
    bank, fc = conf_cast.bank.address, conf_cast.fc.address
    rows = [[1, 500, past_day * 86_400 + 60]]
    recs = [(line.record_id32(1), 500, bank, fc, past_day * 86_400 + 60)]
    tree = merkle.RecordTree(recs, line.BILATERAL_TYPES)
    batch = {
        "day": past_day,
        "root": "0x" + tree.root.hex(),
        "leaves": ["0x" + x.hex() for x in tree.leaves],
        "rows": rows,
    }
    commit_bilateral(recon, rival_bank.account, fc, past_day, tree.root, 1, 0)  # squatted only
    df, leaves = people.reconciler.bilateral_frame(bank, fc, past_day, [batch])
    assert not leaves and not df["committed"].any()
    commit_bilateral(recon, conf_cast.bank.account, fc, past_day, tree.root, 1, 500)
    df, leaves = people.reconciler.bilateral_frame(bank, fc, past_day, [batch])
    assert df["committed"].all()


# ===================================================================== item 13: suspended signer


def test_item13__suspended_issuers_signature__refused_on_and_off_chain(
    anchor, people, conf_cast, manager, make_request
):
    dom = anchor_domain(anchor)
    q = make_request(conf_cast.issuer_a)
    c = eip712.Confirmation(
        q.requestId, q.struct_hash(), conf_cast.issuer_a.address, 1, q.amount, q.shares, 7
    )
    sig = eip712.sign_confirmation(dom, c, people.issuer_a.key.key)
    assert anchor.checkConfirmation(c.as_tuple(), sig) == conf_cast.issuer_a.address
    manager.suspend(conf_cast.issuer_a.address, "issuer suspended")
    signer = eip712.recover_signer(dom, c, sig)
    with brownie.reverts(
        f"AnchorConfirmationSignerNotActive: {q.requestId!r}, {_lo(conf_cast.issuer_a)}, {_lo(signer)}"
    ):
        anchor.checkConfirmation(c.as_tuple(), sig)
    signers = people.sales_bank.issuer_signers(conf_cast.issuer_a.address)
    with pytest.raises(eip712.ConfirmationSignerMismatch, match="not an active member"):
        eip712.check_confirmation(dom, c, sig, signers, issuer_active=False)
    manager.reinstate(conf_cast.issuer_a.address, "reinstated")
    assert anchor.checkConfirmation(c.as_tuple(), sig) == conf_cast.issuer_a.address


# ===================================================================== item 14a: approvals per pair


def test_item14__approval_given_for_one_pair__does_not_enact_terms_for_another(
    registry, manager, conf_cast
):
    p, q, r = conf_cast.sales_bank, conf_cast.issuer_a, conf_cast.issuer_b
    terms, h = doc_hash("terms 14a"), doc_hash("amendment 14a")
    p.approve_amendment(terms, p.address, q.address, h)  # P agrees to terms with Q
    r.approve_amendment(terms, p.address, r.address, h)  # R approves the same hash with P
    with brownie.reverts(f"RegistryAmendmentNotApproved: {terms!r}, {_lo(p)}, {h!r}"):
        manager.enact(
            terms, p.address, r.address, h
        )  # P's approval for (P, Q) does not count for (P, R)
    assert registry.getTerms(terms)[3] == 0
    q.approve_amendment(terms, p.address, q.address, h)
    tx = manager.enact(terms, p.address, q.address, h)  # the pair P approved for is enacted
    assert tx.events["AmendmentEnacted"]["version"] == 1
    assert tuple(registry.getTerms(terms))[:2] == (p.address, q.address)


# ===================================================================== item 14b: reporters per regulator


@pytest.fixture(scope="module")
def reporters(admit, connect, accounts, regulator_cn, regulator_hk):
    """Reporter of CN (a channel with the CN regulator) and a reporter of HK only."""
    cn = admit(accounts[13], ["REPORTER"], "CN", regulator=regulator_cn, name="CN reporting node")
    connect(cn, regulator_cn, "reporting agreement")
    hk = admit(accounts[14], ["REPORTER"], "HK", regulator=regulator_hk, name="HK reporting node")
    connect(hk, regulator_hk, "reporting agreement")
    return cn, hk


def test_item14__reporter_of_another_regulator_takes_the_next_version__refused(
    report_anchor, reporters, rules, regulator_cn
):
    cn, hk = reporters
    day = report_anchor.today()
    with brownie.reverts(f"RegistryChannelNotOpen: {_lo(hk)}, {_lo(regulator_cn)}"):
        report_anchor.anchor(
            regulator_cn.address, day, 1, H, rules.rules_hash, 1, {"from": hk.account}
        )
    assert report_anchor.latestVersion(regulator_cn.address, day) == 0
    tx = report_anchor.anchor(
        regulator_cn.address, day, 1, H, rules.rules_hash, 1, {"from": cn.account}
    )
    assert tx.events["ReportAnchored"]["reporter"] == cn.address
    assert report_anchor.latestVersion(regulator_cn.address, day) == 1


def test_item14__regulator_closes_the_channel__its_former_reporter_refused(
    report_anchor, registry, reporters, rules, regulator_cn
):
    cn, _ = reporters
    day = report_anchor.today()
    registry.closeChannel(
        cn.address,
        regulator_cn.address,
        doc_hash("reporter replaced"),
        {"from": regulator_cn.account},
    )
    with brownie.reverts(f"RegistryChannelNotOpen: {_lo(cn)}, {_lo(regulator_cn)}"):
        report_anchor.anchor(
            regulator_cn.address, day, 1, H, rules.rules_hash, 1, {"from": cn.account}
        )
    assert report_anchor.latestVersion(regulator_cn.address, day) == 0


# ===================================================================== item 14c: no batch after the count


def test_item14__bank_adds_a_batch_after_the_reconciler_closed_the_day__refused_total_unchanged(
    recon, conf_cast, past_day
):
    bank, fc, rec = conf_cast.bank, conf_cast.fc, conf_cast.reconciler
    key = recon.dayKey(bank.address, fc.address, past_day)
    commit_bilateral(recon, bank.account, fc.address, past_day, os.urandom(32), 2, 100)
    with brownie.reverts(revert_pattern=r"ReconciliationDayNotClosed: .*"):
        recon.recordReconciliation(
            bank.address,
            fc.address,
            past_day,
            (2, 0, 100, 100, 100, 100, b"\0" * 32),
            {"from": rec.account},
        )
    tx = recon.closeDay(bank.address, fc.address, past_day, {"from": rec.account})
    ev = tx.events["DayClosed"]
    assert (ev["dayKey"], ev["reconciler"], ev["batches"], ev["committedTotal"]) == (
        key,
        rec.address,
        1,
        100,
    )
    late = os.urandom(32)
    with brownie.reverts(f"ReconciliationDayClosed: {bytes(key)!r}"):  # the front-running batch
        commit_bilateral(recon, bank.account, fc.address, past_day, late, 1, 999)
    assert recon.committedDayOf(bank.address, late) == ZERO32
    d = recon.getDay(key)
    assert (d["batches"], d["committedTotal"], d["closed"]) == (1, 100, True)
    with brownie.reverts(f"ReconciliationDayAlreadyClosed: {bytes(key)!r}, 1, 100"):
        recon.closeDay(bank.address, fc.address, past_day, {"from": rec.account})
    tx = recon.recordReconciliation(
        bank.address,
        fc.address,
        past_day,
        (2, 0, 100, 100, 100, 100, b"\0" * 32),
        {"from": rec.account},
    )
    assert tx.events["DayReconciled"]["corrected"] == 100


def test_item14__close_before_the_reconciliation_time__refused_commits_stay_open(
    recon, conf_cast, chain
):
    bank, fc, rec = conf_cast.bank, conf_cast.fc, conf_cast.reconciler
    today = days.business_day_of(chain.time(), "Asia/Shanghai")
    commit_bilateral(recon, bank.account, fc.address, today, os.urandom(32), 1, 5)
    with brownie.reverts(revert_pattern=r"ReconciliationTooEarly: .*"):
        recon.closeDay(bank.address, fc.address, today, {"from": rec.account})
    commit_bilateral(recon, bank.account, fc.address, today, os.urandom(32), 1, 5)
    assert recon.getDay(recon.dayKey(bank.address, fc.address, today))["batches"] == 2


def test_item14__close_by_a_reconciler_without_both_channels_or_of_an_empty_day__refused(
    recon, conf_cast, connect, admit, regulator_cn, accounts, past_day
):
    bank, fc = conf_cast.bank, conf_cast.fc
    rival = admit(accounts[17], ["RECONCILER"], regulator=regulator_cn, name="rival reconciler")
    connect(rival, bank)
    key = recon.dayKey(bank.address, fc.address, past_day)
    with brownie.reverts(f"ReconciliationNothingCommitted: {bytes(key)!r}"):
        recon.closeDay(bank.address, fc.address, past_day, {"from": conf_cast.reconciler.account})
    commit_bilateral(recon, bank.account, fc.address, past_day, os.urandom(32), 1, 5)
    with brownie.reverts(f"RegistryChannelNotOpen: {_lo(rival)}, {_lo(fc)}"):
        recon.closeDay(bank.address, fc.address, past_day, {"from": rival.account})
    assert not recon.getDay(key)["closed"]
    commit_bilateral(recon, bank.account, fc.address, past_day, os.urandom(32), 1, 5)  # still open
    assert recon.getDay(key)["batches"] == 2


def test_item14__reconciler_agent_closes_before_it_reads(recon, people, conf_cast, past_day):
    bank, fc = conf_cast.bank.address, conf_cast.fc.address
    commit_bilateral(recon, conf_cast.bank.account, fc, past_day, os.urandom(32), 1, 7)
    empty = pd.DataFrame(columns=["id", "amount", "paid_at"])
    people.reconciler.reconcile_day(bank, fc, past_day, [], empty, empty)
    assert recon.getDay(recon.dayKey(bank, fc, past_day))["closed"]
    n = len(people.reconciler.receipts)
    assert people.reconciler.close_day(bank, fc, past_day) is None  # closed once, never twice
    assert len(people.reconciler.receipts) == n


# ===================================================================== item 15: channel requests fixed


@pytest.fixture(scope="module")
def pair(admit, regulator_cn, accounts):
    a = admit(accounts[15], ["BROKER"], regulator=regulator_cn, name="broker A")
    b = admit(accounts[16], ["CUSTODIAN"], regulator=regulator_cn, name="custodian B")
    return a, b


def test_item15__pending_request_overwritten_by_either_party__refused_opened_on_the_first(
    registry, manager, pair
):
    a, b = pair
    first, swapped = doc_hash("agreement as signed"), doc_hash("agreement swapped")
    a.request_channel(b.address, "agreement as signed")
    for who, other in ((a, b), (b, a)):  # the requester itself or the counterparty
        with brownie.reverts(
            f"RegistryChannelAlreadyRequested: {_lo(who)}, {_lo(other)}, {_lo(a)}, {first!r}"
        ):
            registry.requestChannel(other.address, swapped, {"from": who.account})
    assert tuple(registry.channelRequest(b.address, a.address)) == (a.address, "0x" + first.hex())
    tx = b.request_channel(
        a.address, "agreement as signed"
    )  # the counterparty consents: same agreement
    assert tx.events["ChannelRequested"]["agreementHash"] == "0x" + first.hex()
    tx = manager.open_channel(a.address, b.address)
    assert tx.events["ChannelOpened"]["agreementHash"] == "0x" + first.hex()
    assert tuple(registry.channelRequest(a.address, b.address)) == (ZERO, ZERO32)


def test_item15__request_withdrawn_or_declined__then_another_agreement_may_be_requested(
    registry, manager, pair
):
    a, b = pair
    a.request_channel(b.address, "v1")
    tx = a.withdraw_channel_request(b.address)  # the requester withdraws
    ev = tx.events["ChannelRequestWithdrawn"]
    assert (ev["requester"], ev["counterparty"], ev["withdrawnBy"]) == (
        a.address,
        b.address,
        a.address,
    )
    with brownie.reverts(revert_pattern=r"RegistryChannelNotRequested: .*"):
        manager.open_channel(a.address, b.address)
    a.request_channel(b.address, "v2")
    tx = b.withdraw_channel_request(a.address)  # the counterparty declines
    ev = tx.events["ChannelRequestWithdrawn"]
    assert (ev["requester"], ev["counterparty"], ev["withdrawnBy"]) == (
        a.address,
        b.address,
        b.address,
    )
    with brownie.reverts(f"RegistryChannelNotRequested: {_lo(b)}, {_lo(a)}"):
        b.withdraw_channel_request(a.address)
    b.request_channel(a.address, "v3")
    a.request_channel(b.address, "v3")  # countersigned by the other party
    tx = manager.open_channel(b.address, a.address)
    assert tx.events["ChannelOpened"]["agreementHash"] == "0x" + doc_hash("v3").hex()
    assert registry.channelOpen(a.address, b.address)
