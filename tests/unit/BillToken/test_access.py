"""Permission table: every state-changing BillToken function, called by every role that must not."""

import brownie
import pytest

from consortium.domain.hashing import doc_hash
from tests.unit.BillToken.helpers import state_changing

H = doc_hash("x")
Z = "0x" + "00" * 20

# function -> (role it needs, args builder given the bill_cast); the role check comes first, so args may
# point at nothing: a caller without the role is refused before any business check.
GATED = {
    "requestIssue": ("SUPPLY_CHAIN_CLIENT", lambda c: (c.tier1.address, 1, H, 2**40, H, False)),
    "review": ("SUPPLY_CHAIN_CLIENT", lambda c: (1, True, H)),
    "audit": ("AUDITOR", lambda c: (1, True, H)),
    "requestTransfer": ("SUPPLY_CHAIN_CLIENT", lambda c: (1, c.tier2a.address, 1, H, H)),
    "requestFinancing": ("SUPPLY_CHAIN_CLIENT", lambda c: (1, 1, H, H)),
    "quoteFinancing": ("ASSET_MANAGER", lambda c: (1, 100, H)),
    "acceptFinancing": ("SUPPLY_CHAIN_CLIENT", lambda c: (1, True, H, Z, 100)),
    "disburseFinancing": ("ASSET_MANAGER", lambda c: (1, H)),
    "redeem": ("SUPPLY_CHAIN_CLIENT", lambda c: (H, [1], [c.tier1.address], [1], H)),
    "markOverdue": ("ACTIVE_MEMBER", lambda c: (1,)),
    "cancelRequest": ("SUPPLY_CHAIN_CLIENT", lambda c: (1, H)),
    # requester or auditor, confirming payee, withdrawing payer: parties checked after membership
    # (tests/hostile/test_review_bills.py refuses the wrong parties)
    "expireRequest": ("ACTIVE_MEMBER", lambda c: (1, H)),
    "confirmPayment": ("ACTIVE_MEMBER", lambda c: (1,)),
    "withdrawPayment": ("ACTIVE_MEMBER", lambda c: (1,)),
}
DISABLED = {
    "safeTransferFrom": lambda c: (c.tier1.address, c.tier2a.address, 1, 1, b""),
    "safeBatchTransferFrom": lambda c: (c.tier1.address, c.tier2a.address, [1], [1], b""),
}
OPEN = {"setApprovalForAll"}  # ERC-1155 standard; harmless while direct transfers are disabled

# caller -> roles it holds (None: not an active member)
CALLERS = {
    "client": {"SUPPLY_CHAIN_CLIENT"},
    "auditor": {"AUDITOR"},
    "factor": {"ASSET_MANAGER"},
    "cash_issuer": {"CASH_ISSUER"},
    "regulator": {"REGULATOR"},
    "suspended": None,
    "applicant": None,
    "stranger": None,
}


@pytest.fixture(scope="module")
def callers(bill_cast, regulator_cn, stranger):
    return {
        "client": bill_cast.tier2b.inst.account,
        "auditor": bill_cast.auditor.inst.account,
        "factor": bill_cast.factor.inst.account,
        "cash_issuer": bill_cast.cash_issuer.inst.account,
        "regulator": regulator_cn.account,
        "suspended": bill_cast.suspended.inst.account,
        "applicant": bill_cast.applicant,
        "stranger": stranger,
    }


def _cases():
    for fn, (role, _) in sorted(GATED.items()):
        for caller, held in sorted(CALLERS.items()):
            if held is None:
                yield fn, caller, r"RegistryNotActiveMember:.*"
            elif role != "ACTIVE_MEMBER" and role not in held:
                yield fn, caller, r"RegistryMissingRole:.*"


@pytest.mark.parametrize("fn,caller,error", list(_cases()))
def test_gated__wrong_caller__reverts_unchanged(bills, bill_cast, callers, fn, caller, error):
    before = bills.nextId()
    with brownie.reverts(revert_pattern=error):
        getattr(bills, fn)(*GATED[fn][1](bill_cast), {"from": callers[caller]})
    assert bills.nextId() == before


@pytest.mark.parametrize("fn", sorted(DISABLED))
@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_direct_transfer__any_caller__disabled(bills, bill_cast, callers, fn, caller):
    with brownie.reverts(revert_pattern=r"BillDirectTransferDisabled:.*"):
        getattr(bills, fn)(*DISABLED[fn](bill_cast), {"from": callers[caller]})


def test_table__every_state_changing_function_is_classified(bills):
    assert state_changing(bills) == set(GATED) | set(DISABLED) | OPEN
