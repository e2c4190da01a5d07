"""The business day rule (domain.days) in the consortium's zone, and the bilateral countersignature
twin (domain.eip712): chain-free."""

from __future__ import annotations

import pytest
from eth_account import Account

from consortium.domain import days, eip712

SHANGHAI = "Asia/Shanghai"
D = 20_000  # 2024-10-04
H = b"\x42" * 32


def test_business_day__16_30_utc__the_next_local_day_in_shanghai():
    ts = D * 86_400 + 16 * 3600 + 1800
    assert days.day_of(ts) == D
    assert days.business_day_of(ts, SHANGHAI) == D + 1
    assert days.business_day_of(ts, 8 * 3600) == D + 1  # the contract's fixed offset: same day
    assert days.business_seconds_into_day(ts, SHANGHAI) == 1800
    assert days.business_day_of(ts, "UTC") == days.day_of(ts)


def test_business_day__bounds_and_cutoff_are_local():
    assert days.business_day_bounds(D, SHANGHAI) == (
        D * 86_400 - 8 * 3600,
        D * 86_400 + 16 * 3600 - 1,
    )
    # the preset time 02:00 of the next local day is 18:00 UTC of the day itself
    assert days.business_cutoff(D, 7200, SHANGHAI) == D * 86_400 + 18 * 3600
    assert days.last_closable_day(D * 86_400 + 18 * 3600 - 1, 7200, SHANGHAI) == D - 1
    assert days.last_closable_day(D * 86_400 + 18 * 3600, 7200, SHANGHAI) == D


def test_fixed_offset__zone_without_daylight_saving__its_offset():
    assert days.fixed_utc_offset(SHANGHAI) == 28_800
    assert days.fixed_utc_offset("UTC") == 0


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_fixed_offset__zone_with_daylight_saving__refused_naming_it(zone):
    with pytest.raises(days.BusinessZoneHasDaylightSaving, match=zone):
        days.fixed_utc_offset(zone)


def _batch(**kw):
    fields = {
        "bank": "0x" + "11" * 20,
        "financeCompany": "0x" + "22" * 20,
        "day": D,
        "root": H,
        "count": 3,
        "total": 300,
    }
    return eip712.Bilateral(**(fields | kw))


def test_countersignature__finance_company_key__accepted_returning_signer():
    fc = Account.create()
    domain = eip712.reconciliation_domain(1337, "0x" + "33" * 20)
    b = _batch()
    sig = eip712.sign_bilateral(domain, b, fc.key)
    assert eip712.check_countersignature(domain, b, sig, {fc.address}) == fc.address


def test_countersignature__other_values_or_other_key__refused():
    fc, other = Account.create(), Account.create()
    domain = eip712.reconciliation_domain(1337, "0x" + "33" * 20)
    sig = eip712.sign_bilateral(domain, _batch(), fc.key)
    with pytest.raises(eip712.CountersignatureMismatch, match="not by a key of finance company"):
        eip712.check_countersignature(domain, _batch(total=301), sig, {fc.address})
    with pytest.raises(eip712.CountersignatureMismatch):
        eip712.check_countersignature(
            domain, _batch(), eip712.sign_bilateral(domain, _batch(), other.key), {fc.address}
        )
    with pytest.raises(eip712.ConfirmationSignatureInvalid):
        eip712.check_countersignature(domain, _batch(), sig[:64], {fc.address})


def test_plan_choice__neither_or_both_evidence__refused():
    from consortium.domain.annuity_choice import ChoiceNotEvidenced, PlanChoice

    with pytest.raises(ChoiceNotEvidenced):
        PlanChoice(H, H, 1, False, 5)
    with pytest.raises(ChoiceNotEvidenced):
        PlanChoice(H, H, 1, False, 5, b"\1" * 32, b"\2" * 65)
    signed = PlanChoice.signed(H, H, 1, True, 5, Account.create().key)
    attested = PlanChoice(H, H, 1, True, 5, b"\1" * 32)
    assert signed.evidence_hash() != attested.evidence_hash()
    assert attested.signer() is None
