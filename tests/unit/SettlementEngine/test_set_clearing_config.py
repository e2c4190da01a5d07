"""setClearingConfig and listCurrency and openCycle: happy paths and bad input."""

import brownie

from consortium.domain.clearing import Charge, ChargeKind, Payer, config_hash
from consortium.domain.hashing import code32

C = [Charge(ChargeKind.FEE, Payer.BOTH, 3, 500), Charge(ChargeKind.TAX, Payer.SELLER, 10, 0)]


def test_config__stored_and_event(engine, settle_cast):
    p = settle_cast.custodians[0]
    tx = p.configure(2, C)
    ev = tx.events["ClearingConfigSet"]
    assert ev["party"] == p.address and ev["securityId"] == 2 and ev["charges"] == 2
    assert ev["configHash"] == "0x" + config_hash(C).hex()
    assert [tuple(x) for x in engine.clearingConfig(p.address, 2)] == [c.as_tuple() for c in C]


def test_config__bad_input__reverts_and_unchanged(engine, settle_cast):
    p = settle_cast.custodians[0]
    before = engine.clearingConfig(p.address, 2)
    for args, error in [
        ((999, []), "SettlementUnknownSecurity"),
        ((2, [c.as_tuple() for c in C] * 5), "SettlementTooManyCharges"),
        ((2, [(0, 0, 10_001, 0)]), "ClearingBpsOutOfRange"),
    ]:
        with brownie.reverts(revert_pattern=rf"{error}:.*"):
            engine.setClearingConfig(*args, {"from": p.account})
    assert engine.clearingConfig(p.address, 2) == before


def test_list_currency__mismatch__reverts(engine, settle_cast, registry_admin):
    token = settle_cast.cash.tokens["CNY"]
    with brownie.reverts(revert_pattern=r"SettlementCurrencyMismatch:.*"):
        engine.replaceCurrency(code32("HKD"), token, {"from": registry_admin})
    with brownie.reverts(revert_pattern=r"SettlementCurrencyMismatch:.*"):
        engine.listCurrency(code32("USD"), token, {"from": registry_admin})
    assert engine.cashToken(code32("HKD")) == settle_cast.cash.tokens["HKD"].address


def test_list_currency__token_of_no_currency__reverts_nothing_listed(
    engine, registry, registry_admin, DepositToken
):
    """A deposit token deployed without a currency code matches the zero code it reports; the
    engine still refuses it: a cash leg's asset is its currency code, and zero names none."""
    zero = b"\x00" * 32
    token = DepositToken.deploy(
        registry, zero, registry_admin, "No currency", "dNONE", {"from": registry_admin}
    )
    assert token.currency() == "0x" + zero.hex()
    with brownie.reverts(f"SettlementCurrencyMismatch: {zero!r}, {zero!r}"):
        engine.listCurrency(zero, token, {"from": registry_admin})
    assert engine.cashToken(zero) == "0x" + "00" * 20


def test_open_cycle__event_and_bad_input(engine, settle_cast):
    tx = settle_cast.ccp.open_cycle(code32("C1"), 20261123)
    assert tx.events["CycleOpened"]["ccp"] == settle_cast.ccp.address
    for args, error in [
        ((code32("C1"), 20261123), "SettlementCycleExists"),
        ((b"\x00" * 32, 20261123), "SettlementZeroCycleId"),
        ((code32("C2"), 0), "SettlementZeroTradeDate"),
    ]:
        with brownie.reverts(revert_pattern=rf"{error}.*"):
            engine.openCycle(*args, {"from": settle_cast.ccp.account})
    assert engine.getCycle(code32("C2"))["status"] == 0
