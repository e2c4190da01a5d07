"""settleDay on a Reconciliation without a settlement token: the payment is recorded by reference."""

import pytest

from tests.fixtures.confirmations import OFFSET, SHANGHAI, commit_bilateral

H = b"\x42" * 32
ZERO = "0x" + "00" * 20


@pytest.fixture(scope="module")
def recon_by_ref(Reconciliation, registry, registry_admin):
    return Reconciliation.deploy(registry, OFFSET, ZERO, SHANGHAI, {"from": registry_admin})


def test_settleDay__no_settlement_token__settled_by_reference_only(
    recon_by_ref, conf_cast, past_day, token
):
    bank, fc = conf_cast.bank, conf_cast.fc
    commit_bilateral(recon_by_ref, bank.account, fc.address, past_day, H, 2, 500)
    recon_by_ref.closeDay(
        bank.address, fc.address, past_day, {"from": conf_cast.reconciler.account}
    )
    recon_by_ref.recordReconciliation(
        bank.address,
        fc.address,
        past_day,
        (2, 0, 500, 500, 500, 500, b"\0" * 32),
        {"from": conf_cast.reconciler.account},
    )
    ref = b"\x07" * 32
    tx = recon_by_ref.settleDay(bank.address, past_day, ref, {"from": fc.account})
    ev = tx.events["DaySettled"]
    assert (ev["financeCompany"], ev["bank"], ev["amount"]) == (fc.address, bank.address, 500)
    assert (ev["paymentRef"], ev["tokenTransfer"]) == ("0x" + ref.hex(), False)
    assert "Transfer" not in tx.events
    d = recon_by_ref.getDay(recon_by_ref.dayKey(bank.address, fc.address, past_day))
    assert d["settled"] and d["paymentRef"] == "0x" + ref.hex()
    assert recon_by_ref.settlementToken() == ZERO
