"""Front-running the next-day reconciliation: a reconciler that is not the day's reconciler.

Any member holding RECONCILER used to be able to record any bank / finance-company day first (with
totals that pass the checks but its own matched and break counts), closing the day to the entitled
reconciler, and to publish breaks of a day another reconciler recorded. The entitled reconciler is
the one both parties talk to: recordReconciliation now needs open channels to the bank and to the
finance company (RegistryChannelNotOpen), and recordBreaks only accepts the member that recorded the
day (ReconciliationNotDayReconciler). Registration decisions by the wrong issuer and payments by the
wrong finance company are refused in tests/unit (AnchorNotRegistrationIssuer, ReconciliationNotDayParty).
"""

import brownie
import pytest

from tests.fixtures.confirmations import commit_bilateral

H = b"\x42" * 32
SUMMARY = (
    1,
    2,
    5,
    10,
    10,
    10,
    H,
)  # matched, breaks, presented debit / credit, corrected totals, root


def _lo(member):
    """A member's address as brownie prints it in a decoded error."""
    return member.address.lower()


@pytest.fixture(scope="module")
def rival(admit, regulator_cn, accounts):
    """A member holding RECONCILER, with no channel to the day's parties."""
    return admit(accounts[11], ["RECONCILER"], regulator=regulator_cn, name="rival reconciler")


@pytest.fixture
def committed(recon, conf_cast, past_day):
    commit_bilateral(recon, conf_cast.bank.account, conf_cast.fc.address, past_day, H, 2, 10)
    recon.closeDay(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        {"from": conf_cast.reconciler.account},
    )
    return recon.dayKey(conf_cast.bank.address, conf_cast.fc.address, past_day)


@pytest.mark.parametrize("channels", [[], ["bank"]], ids=["no channel", "bank only"])
def test_recordReconciliation__rival_without_both_channels__refused_day_open(
    recon, conf_cast, connect, rival, past_day, committed, channels
):
    for party in channels:
        connect(rival, getattr(conf_cast, party))
    missing = conf_cast.fc if channels else conf_cast.bank
    before = recon.getDay(committed)
    with brownie.reverts(f"RegistryChannelNotOpen: {_lo(rival)}, {_lo(missing)}"):
        recon.recordReconciliation(
            conf_cast.bank.address, conf_cast.fc.address, past_day, SUMMARY, {"from": rival.account}
        )
    assert recon.getDay(committed) == before
    # the entitled reconciler is not locked out
    tx = recon.recordReconciliation(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        SUMMARY,
        {"from": conf_cast.reconciler.account},
    )
    assert tx.events["DayReconciled"]["dayKey"] == committed
    assert recon.getDay(committed)["reconciler"] == conf_cast.reconciler.address


def test_recordBreaks__by_another_reconciler__refused_nothing_recorded(
    recon, conf_cast, connect, rival, past_day, committed
):
    """Even a reconciler with both channels cannot publish breaks of a day another one recorded."""
    connect(rival, conf_cast.bank)
    connect(rival, conf_cast.fc)
    recon.recordReconciliation(
        conf_cast.bank.address,
        conf_cast.fc.address,
        past_day,
        SUMMARY,
        {"from": conf_cast.reconciler.account},
    )
    # brownie prints the bytes32 day key as a bytes literal: match the two addresses
    expected = rf"ReconciliationNotDayReconciler: .*, {_lo(rival)}, {_lo(conf_cast.reconciler)}"
    with brownie.reverts(revert_pattern=expected):
        recon.recordBreaks(committed, [(0, H, 1, 1, 0, 5)], {"from": rival.account})
    assert recon.getDay(committed)["breaksRecorded"] == 0
    tx = recon.recordBreaks(committed, [(0, H, 1, 1, 0, 5)], {"from": conf_cast.reconciler.account})
    assert tx.events["BreakRecorded"]["seq"] == 0
    assert recon.getDay(committed)["breaksRecorded"] == 1
