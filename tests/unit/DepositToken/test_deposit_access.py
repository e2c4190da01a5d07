"""Permission table of DepositToken: issuer-only and governance-only functions from every other caller."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash
from tests.unit.BillToken.helpers import state_changing

H = doc_hash("x")
ISSUER_ONLY = {
    "issue": lambda c: (c.core.address, 1, H),
    "redeem": lambda c: (c.core.address, 1, H),
}
# the permission manager appoints settlement agents, the issuer does not
GOVERNANCE_ONLY = {"setSettlementAgent": lambda c: (c.tier1.address, True)}
AGENT_ONLY = {"agentTransfer": lambda c: (c.core.address, c.tier1.address, 1)}
HOLDER = {
    "transfer",
    "transferFrom",
    "approve",
}  # ERC-20; holders must be active members (flows test)

CALLERS = {
    "client": r"RegistryMissingRole:.*",
    "auditor": r"RegistryMissingRole:.*",
    "factor": r"RegistryMissingRole:.*",
    "regulator": r"RegistryMissingRole:.*",
    "suspended": r"RegistryNotActiveMember:.*",
    "stranger": r"RegistryNotActiveMember:.*",
}


@pytest.fixture(scope="module")
def callers(bill_cast, regulator_cn, stranger):
    return {
        "client": bill_cast.tier1.inst.account,
        "auditor": bill_cast.auditor.inst.account,
        "factor": bill_cast.factor.inst.account,
        "regulator": regulator_cn.account,
        "suspended": bill_cast.suspended.inst.account,
        "stranger": stranger,
    }


@pytest.mark.parametrize("fn", sorted(ISSUER_ONLY))
@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_issuer_only__wrong_caller__reverts_unchanged(cash, bill_cast, callers, fn, caller):
    supply = cash.totalSupply()
    with brownie.reverts(revert_pattern=CALLERS[caller]):
        getattr(cash, fn)(*ISSUER_ONLY[fn](bill_cast), {"from": callers[caller]})
    assert cash.totalSupply() == supply and not cash.isSettlementAgent(bill_cast.tier1.address)


@pytest.mark.parametrize("fn", sorted(GOVERNANCE_ONLY))
@pytest.mark.parametrize("caller", sorted(CALLERS) + ["cash_issuer"])
def test_governance_only__wrong_caller__reverts_unchanged(cash, bill_cast, callers, fn, caller):
    acct = bill_cast.cash_issuer.inst.account if caller == "cash_issuer" else callers[caller]
    with brownie.reverts(revert_pattern=CALLERS.get(caller, r"RegistryMissingRole:.*")):
        getattr(cash, fn)(*GOVERNANCE_ONLY[fn](bill_cast), {"from": acct})
    assert not cash.isSettlementAgent(bill_cast.tier1.address)


@pytest.mark.parametrize("caller", sorted(CALLERS) + ["cash_issuer"])
def test_agent_only__non_agent__reverts(cash, bill_cast, callers, caller):
    acct = bill_cast.cash_issuer.inst.account if caller == "cash_issuer" else callers[caller]
    with brownie.reverts(revert_pattern=r"DepositNotSettlementAgent:.*"):
        cash.agentTransfer(*AGENT_ONLY["agentTransfer"](bill_cast), {"from": acct})


def test_table__every_state_changing_function_is_classified(cash):
    assert (
        state_changing(cash) == set(ISSUER_ONLY) | set(GOVERNANCE_ONLY) | set(AGENT_ONLY) | HOLDER
    )
