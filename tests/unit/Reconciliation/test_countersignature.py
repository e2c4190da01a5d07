"""The bilateral record is agreed by both sides: a batch counts for the day only with the finance
company's EIP-712 countersignature of exactly that batch (source 003: both parties' bilateral
details on chain). Each refusal leaves the day as it was."""

import brownie
import pytest
from eth_account import Account

from consortium.domain import eip712
from consortium.roles.confirmations import bilateral_domain
from tests.fixtures.confirmations import commit_bilateral, countersignature, countersigner

ZERO32 = "0x" + "00" * 32


def _root(i: int) -> bytes:
    return (0xC0 + i).to_bytes(32, "big")


@pytest.fixture(scope="module")
def pair(recon, conf_cast, past_day):
    bank, fc = conf_cast.bank, conf_cast.fc
    return bank, fc, recon.dayKey(bank.address, fc.address, past_day)


def _unchanged(recon, key, bank, root):
    d = recon.getDay(key)
    assert (d["batches"], d["committedCount"], d["committedTotal"]) == (0, 0, 0)
    assert recon.committedDayOf(bank.address, root) == ZERO32


def test_commit__no_countersignature__refused_day_unchanged(recon, pair, past_day):
    bank, fc, key = pair
    with brownie.reverts(f"ReconciliationCountersignatureMissing: {_root(0)!r}"):
        recon.commitBilateral(fc.address, past_day, _root(0), 2, 50, b"", {"from": bank.account})
    _unchanged(recon, key, bank, _root(0))


def test_commit__malformed_countersignature__refused_with_its_recover_error(recon, pair, past_day):
    bank, fc, key = pair
    good = countersignature(recon, bank.address, fc.address, past_day, _root(1), 2, 50)
    high_s = (
        good[:32]
        + (eip712.SECP256K1_N - int.from_bytes(good[32:64], "big")).to_bytes(32, "big")
        + bytes([55 - good[64]])
    )
    for sig, err in ((good[:64], 2), (high_s, 3), (b"\1" * 65, 1)):
        with brownie.reverts(f"ReconciliationCountersignatureInvalid: {_root(1)!r}, {err}"):
            recon.commitBilateral(
                fc.address, past_day, _root(1), 2, 50, sig, {"from": bank.account}
            )
    _unchanged(recon, key, bank, _root(1))


def test_commit__signed_by_the_bank_or_another_member__refused_naming_the_signer(
    recon, pair, past_day, conf_cast
):
    bank, fc, key = pair
    stranger = Account.create()
    reconciler_key = countersigner(recon, conf_cast.reconciler.address)  # another member's key
    for key_, member in ((stranger, "0x" + "00" * 20), (reconciler_key, conf_cast.reconciler)):
        sig = countersignature(recon, bank.address, fc.address, past_day, _root(2), 2, 50, key=key_)
        with brownie.reverts(
            f"ReconciliationCountersignedByOther: {_root(2)!r}, {fc.address.lower()}, "
            f"{key_.address.lower()}, {str(getattr(member, 'address', member)).lower()}"
        ):
            recon.commitBilateral(
                fc.address, past_day, _root(2), 2, 50, sig, {"from": bank.account}
            )
    _unchanged(recon, key, bank, _root(2))


@pytest.mark.parametrize("field", ["total", "count", "day", "root"])
def test_commit__countersigned_other_values__refused(recon, pair, past_day, field):
    """The finance company signed 2 records, total 50 of this root and day: the bank cannot commit
    another total, count, day or root under that signature."""
    bank, fc, key = pair
    signed = {"day": past_day, "root": _root(3), "count": 2, "total": 50}
    sig = countersignature(recon, bank.address, fc.address, *signed.values())
    sent = dict(
        signed, **{field: {"total": 51, "count": 3, "day": past_day - 1, "root": _root(4)}[field]}
    )
    with brownie.reverts(revert_pattern=r"ReconciliationCountersignedByOther: .*"):
        recon.commitBilateral(
            fc.address,
            sent["day"],
            sent["root"],
            sent["count"],
            sent["total"],
            sig,
            {"from": bank.account},
        )
    _unchanged(recon, key, bank, _root(3))


def test_commit__countersigned_by_the_finance_company__counts_for_the_day(
    recon, pair, past_day, conf_cast
):
    bank, fc, key = pair
    tx = commit_bilateral(recon, bank.account, fc.address, past_day, _root(5), 2, 50)
    ev = tx.events["BilateralCommitted"]
    assert (ev["dayKey"], ev["count"], ev["total"]) == (key, 2, 50)
    d = recon.getDay(key)
    assert (d["batches"], d["committedCount"], d["committedTotal"]) == (1, 2, 50)
    # the contract's digest is the one the Python twin signs
    b = eip712.Bilateral(bank.address, fc.address, past_day, _root(5), 2, 50)
    assert bytes(recon.bilateralDigest(b.as_tuple())) == eip712.digest(
        bilateral_domain(recon), b.struct_hash()
    )
