"""SealedRecords' fixtures: the contract, an HK broker publishing, two regulators' keys."""

import pytest

from consortium.domain.hashing import code32
from consortium.domain.netting import CASH, SECURITY, currency_asset
from consortium.envelope import KeyPair, public_key_of
from consortium.lookthrough import Position, RegulatorKey

CYCLE = code32("SETTLE-20261206-0001")


@pytest.fixture(scope="module")
def sealed_records(SealedRecords, registry, registry_admin):
    return SealedRecords.deploy(registry, {"from": registry_admin})


@pytest.fixture(scope="module")
def broker(admit, accounts, regulator_hk):
    return admit(accounts[7], ["BROKER"], "HK", regulator=regulator_hk, name="HK broker")


@pytest.fixture(scope="module")
def enc():
    """Each regulator's encryption key (dev accounts hold no private key to use)."""
    return {"CN": KeyPair.generate().private_key, "HK": KeyPair.generate().private_key}


@pytest.fixture(scope="module")
def keys(regulator_cn, regulator_hk, enc):
    return {
        r.jurisdiction: RegulatorKey(r.address, public_key_of(enc[r.jurisdiction]))
        for r in (regulator_cn, regulator_hk)
    }


def positions(n_cn=2, n_hk=2):
    """Investors of both jurisdictions at one intermediary (cross-border clients)."""
    hkd = currency_asset(code32("HKD"))
    out = [Position(f"cn-investor-{i}", SECURITY, 700, 100 * (i + 1), "CN") for i in range(n_cn)]
    return out + [
        Position(f"hk-investor-{i}", CASH, hkd, -5_000 * (i + 1), "HK") for i in range(n_hk)
    ]
