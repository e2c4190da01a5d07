"""The business day is the institutions' own (次日预设时刻: the preset time of the next *local*
day): Reconciliation counts days in the consortium's business time zone, a fixed UTC offset set at
deploy (Asia/Shanghai, +8 h, by default); a zone with daylight saving is refused at deploy."""

from types import SimpleNamespace

import brownie
import pytest

from consortium.deploy import deploy_confirmations
from consortium.domain import days
from tests.fixtures.confirmations import OFFSET, SHANGHAI, commit_bilateral

ZONE = "Asia/Shanghai"
ZERO = "0x" + "00" * 20


def test_deploy__offset_beyond_14_hours__refused(Reconciliation, registry, registry_admin):
    for bad in (14 * 3600 + 1, -14 * 3600 - 1):
        with brownie.reverts(f"ReconciliationUtcOffsetOutOfRange: {bad}, {14 * 3600}"):
            Reconciliation.deploy(registry, OFFSET, ZERO, bad, {"from": registry_admin})


def test_deploy__zone_with_daylight_saving__refused_before_any_transaction(
    ConfirmationAnchor, Reconciliation, DepositToken, registry, registry_admin
):
    proj = SimpleNamespace(
        ConfirmationAnchor=ConfirmationAnchor,
        Reconciliation=Reconciliation,
        DepositToken=DepositToken,
    )
    nonce = registry_admin.nonce
    with pytest.raises(days.BusinessZoneHasDaylightSaving, match="Europe/Berlin"):
        deploy_confirmations(proj, registry, registry_admin, business_time_zone="Europe/Berlin")
    assert registry_admin.nonce == nonce


def test_deploy__the_consortium_zone__its_fixed_offset_on_chain(recon):
    assert recon.businessUtcOffset() == SHANGHAI == days.fixed_utc_offset(ZONE)


def test_close_day__across_utc_midnight_not_the_local_one__local_cutoff(recon, conf_cast, chain):
    """16:30 UTC on date D is 00:30 on D + 1 in Shanghai: local day D has ended, but its preset
    time (02:00 local = 18:00 UTC on D) has not come; at 18:00 UTC it has, 8 hours before the
    UTC rule's cut-off (02:00 UTC on D + 1)."""
    bank, fc, rec = conf_cast.bank, conf_cast.fc, conf_cast.reconciler
    now = chain.time()
    d = days.day_of(now) + 1
    chain.sleep(d * 86_400 + 16 * 3600 + 1800 - now)
    chain.mine()
    at = chain.time()
    assert days.day_of(at) == d and days.business_day_of(at, ZONE) == d + 1
    assert days.business_seconds_into_day(at, ZONE) < 3600  # just after local midnight
    commit_bilateral(recon, bank.account, fc.address, d, (0xD0).to_bytes(32, "big"), 1, 9)
    cutoff = days.business_cutoff(d, OFFSET, ZONE)
    assert cutoff == d * 86_400 + 18 * 3600
    key = recon.dayKey(bank.address, fc.address, d)
    with brownie.reverts(revert_pattern=rf"ReconciliationTooEarly: .*, {cutoff}, \d+"):
        recon.closeDay(bank.address, fc.address, d, {"from": rec.account})
    assert recon.getDay(key)["closed"] is False
    chain.sleep(cutoff - chain.time())
    tx = recon.closeDay(bank.address, fc.address, d, {"from": rec.account})
    assert tx.timestamp < (d + 1) * 86_400 + OFFSET  # before the UTC rule's cut-off
    assert days.last_closable_day(tx.timestamp, OFFSET, ZONE) == d
    assert recon.getDay(key)["closed"] is True
