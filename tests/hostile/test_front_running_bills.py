"""Front-running a financing: another factor quotes first, with the agreement hash it saw.

The agreement hash is public the moment the honest factor's quote is broadcast. Before
acceptFinancing named the factor and the rate, a rival factor could quote first with that same hash
at the highest rate and the holder's signature (which named only the hash) accepted the rival's
terms. Now the signature binds all three, so the holder's call is refused (BillQuoteMismatch) and
nothing changes; the holder can still decline. Review, audit and disbursement by the wrong party,
twice or out of order are covered in tests/unit/BillToken (BillNotReceiver, BillNotHolder,
BillNotFactor, BillNodeState).
"""

import brownie
import pytest

from consortium.domain.bills import NodeState
from consortium.roles.bills import BillFactor
from tests.unit.BillToken.helpers import snapshot

AMOUNT, RATE, MAX_RATE = 400_000_00, 800, 10_000
AGREEMENT = "factoring agreement with the honest factor, 8 %"


@pytest.fixture(scope="module")
def rival(admit, regulator_cn, accounts, bills, bill_cast):
    """A second factor: a member with the right role, but not the holder's counterparty."""
    inst = admit(accounts[14], ["ASSET_MANAGER"], regulator=regulator_cn, name="rival factor")
    return BillFactor(inst, bills)


@pytest.fixture(scope="module")
def requested(make_bill, bill_cast):
    def _requested():
        fin, _ = bill_cast.tier1.request_financing(make_bill(), AMOUNT, "financing request")
        return fin

    return _requested


def _state(bills, fin, holder):
    return snapshot(bills, [fin], [holder]), tuple(bills.financing(fin))


def test_acceptFinancing__rival_front_ran_quote_with_same_hash__refused_unchanged(
    bills, bill_cast, rival, requested
):
    fin = requested()
    rival.quote(fin, MAX_RATE, AGREEMENT)  # lands before the honest factor's quote
    with brownie.reverts(revert_pattern=r"BillNodeState:.*"):
        bill_cast.factor.quote(fin, RATE, AGREEMENT)
    before = _state(bills, fin, bill_cast.tier1.address)
    quoted, named = (
        rival.address.lower(),
        bill_cast.factor.address.lower(),
    )  # as brownie prints them
    expected = f"BillQuoteMismatch: {fin}, {quoted}, {MAX_RATE}, {named}, {RATE}"
    with brownie.reverts(expected):
        bill_cast.tier1.accept_financing(fin, AGREEMENT, bill_cast.factor.address, RATE)
    assert _state(bills, fin, bill_cast.tier1.address) == before
    assert bills.node(fin)["state"] == NodeState.QUOTED
    # the holder walks away from terms it never saw: declining needs no terms
    bill_cast.tier1.accept_financing(fin, AGREEMENT, "0x" + "00" * 20, 0, accept=False)
    assert bills.node(fin)["state"] == NodeState.REJECTED


@pytest.mark.parametrize(
    "factor_is_rival,rate", [(True, RATE), (False, RATE + 1)], ids=["other factor", "other rate"]
)
def test_acceptFinancing__terms_differ_in_one_field__refused_unchanged(
    bills, bill_cast, rival, requested, factor_is_rival, rate
):
    fin = requested()
    bill_cast.factor.quote(fin, RATE, AGREEMENT)
    before = _state(bills, fin, bill_cast.tier1.address)
    named = rival.address if factor_is_rival else bill_cast.factor.address
    with brownie.reverts(revert_pattern=r"BillQuoteMismatch:.*"):
        bill_cast.tier1.accept_financing(fin, AGREEMENT, named, rate)
    assert _state(bills, fin, bill_cast.tier1.address) == before


def test_acceptFinancing__exact_quoted_terms__agreed(bills, bill_cast, requested):
    fin = requested()
    bill_cast.factor.quote(fin, RATE, AGREEMENT)
    tx = bill_cast.tier1.accept_financing(fin, AGREEMENT, bill_cast.factor.address, RATE)
    assert tx.events["BillFinancingAgreed"]["accepted"] is True
    f = bills.financing(fin)
    assert (f["factor"], f["rateBps"], f["holderSigned"]) == (bill_cast.factor.address, RATE, True)
    assert bills.node(fin)["state"] == NodeState.AGREED
