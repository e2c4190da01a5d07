"""Members the registry tests work with: a sales bank and a product issuer (channels, amendments),
or a broker (membership, nodes). All on account 5 or 6: one module uses one cast."""

import pytest


@pytest.fixture(scope="module")
def bank(admit, regulator_cn, accounts):
    return admit(accounts[5], ["SALES_BANK"], regulator=regulator_cn, name="bank")


@pytest.fixture(scope="module")
def issuer(admit, regulator_cn, accounts):
    return admit(accounts[6], ["PRODUCT_ISSUER"], regulator=regulator_cn, name="issuer")


@pytest.fixture(scope="module")
def broker(admit, regulator_cn, accounts):
    return admit(accounts[5], ["BROKER"], regulator=regulator_cn, name="broker")
