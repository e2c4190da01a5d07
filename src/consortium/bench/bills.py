"""Gas of the bill line against a plain OpenZeppelin ERC-1155 transfer measured in the same run.

`bench_bills(proj, accounts)` deploys its own registry, members and contracts on the connected chain
and returns flat gas figures. `bill_split_gas` is the transaction that moves a split on chain (the
audit approval delivering the escrowed part to the new holder); the request and the review that
precede it are reported beside it, and `bill_split_total_gas` is the three together.
`erc1155_transfer_gas` is a partial `safeTransferFrom` to a holder with no balance yet in
contracts/testing/PlainERC1155.sol: the same storage work (one balance reduced, one created).
"""

from __future__ import annotations

from typing import Any

from consortium.deploy import deploy_bills as deploy
from consortium.domain import days
from consortium.domain.bills import FULL_CLIENT
from consortium.domain.hashing import code32, doc_hash
from consortium.roles.bills import BillAuditor, BillClient, BillFactor
from consortium.roles.deposits import CashIssuer
from consortium.roles.membership import Institution, PermissionManager


def _admit(
    manager: PermissionManager,
    registry: Any,
    account: Any,
    roles: list[str],
    regulator: str | None,
    name: str,
) -> Institution:
    inst = Institution(name, account, registry, "CN")
    manager.admit(inst, roles, regulator)
    return inst


def bench_bills(proj: Any, accounts: Any) -> dict[str, int | float]:
    """Deploy a fresh consortium and the bill line; measure issue, split, financing, redemption."""
    admin = accounts[0]
    core, tier1, tier2a, tier2b, auditor, factor = _members(proj, accounts)

    # baseline: a partial transfer to a fresh holder in a plain OZ ERC-1155
    plain = proj.PlainERC1155.deploy({"from": admin})
    plain.mint(accounts[4], 1, 1_000_000, {"from": admin})
    plain_tx = plain.safeTransferFrom(
        accounts[4], accounts[5], 1, 400_000, b"", {"from": accounts[4]}
    )

    out: dict[str, int | float] = {"erc1155_transfer_gas": plain_tx.gas_used}
    maturity = _clock().time() + days.days(90)

    bill_id, t_req = core.request_issue(tier1.address, 1_000_000, maturity, "po + invoice")
    t_rev = tier1.review(bill_id, True, "goods received")
    t_aud = auditor.audit(bill_id, True, "issue audit")
    out |= {
        "bill_issue_request_gas": t_req.gas_used,
        "bill_issue_review_gas": t_rev.gas_used,
        "bill_issue_audit_gas": t_aud.gas_used,
        "bill_issue_total_gas": t_req.gas_used + t_rev.gas_used + t_aud.gas_used,
    }

    node_a, s_req = tier1.request_transfer(bill_id, tier2a.address, 400_000, "sub-contract A")
    s_rev = tier2a.review(node_a, True, "ok")
    s_aud = auditor.audit(node_a, True, "transfer audit")
    node_b, _ = tier1.request_transfer(bill_id, tier2b.address, 600_000, "sub-contract B")
    tier2b.review(node_b, True, "ok")
    auditor.audit(node_b, True, "transfer audit")
    out |= {
        "bill_split_request_gas": s_req.gas_used,
        "bill_split_review_gas": s_rev.gas_used,
        "bill_split_gas": s_aud.gas_used,
        "bill_split_total_gas": s_req.gas_used + s_rev.gas_used + s_aud.gas_used,
    }

    fin, f_req = tier2a.request_financing(node_a, 400_000, "financing request")
    f_quote = factor.quote(fin, 800, "agreement v1")
    f_acc = tier2a.accept_financing(fin, "agreement v1", factor.address, 800)
    f_aud = auditor.audit(fin, True, "financing audit")
    f_dis = factor.disburse(fin)
    steps = [f_req, f_quote, f_acc, f_aud, f_dis]
    out |= {
        "bill_financing_request_gas": f_req.gas_used,
        "bill_financing_quote_gas": f_quote.gas_used,
        "bill_financing_accept_gas": f_acc.gas_used,
        "bill_financing_audit_gas": f_aud.gas_used,
        "bill_financing_disburse_gas": f_dis.gas_used,
        "bill_financing_total_gas": sum(t.gas_used for t in steps),
    }

    _clock().sleep(maturity - _clock().time() + 1)
    _clock().mine()
    r_one = core.redeem([(fin, factor.address, 400_000)])
    r_two = core.redeem([(node_b, tier2b.address, 300_000), (node_b, tier2b.address, 300_000)])
    out |= {"bill_redeem_gas": r_one.gas_used, "bill_redeem_batch2_gas": r_two.gas_used}
    out["bill_split_vs_erc1155"] = round(out["bill_split_gas"] / out["erc1155_transfer_gas"], 3)
    out["bill_split_total_vs_erc1155"] = round(
        out["bill_split_total_gas"] / out["erc1155_transfer_gas"], 3
    )
    return out


def _members(proj: Any, accounts: Any) -> tuple[Any, ...]:
    """A fresh registry and bill line: core, tier-1, two tier-2s, auditor and factor admitted, the
    factor and the core funded by the line's cash issuer."""
    admin = accounts[0]
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash("bench manager"), code32("CN"), {"from": admin}
    )
    manager = PermissionManager("bench manager", admin, registry, "CN")
    regulator = _admit(manager, registry, accounts[1], ["REGULATOR"], None, "regulator")
    suite = deploy(proj, registry, admin, issuer=accounts[9].address)  # the bank admitted below
    bills, cash = suite["BillToken"], suite["DepositToken:CNY-bills"]

    def client(i: int, name: str) -> BillClient:
        return BillClient(
            _admit(manager, registry, accounts[i], list(FULL_CLIENT), regulator.address, name),
            bills,
        )

    core, tier1, tier2a, tier2b = (
        client(3, "core"),
        client(4, "tier1"),
        client(5, "tier2a"),
        client(6, "tier2b"),
    )
    auditor = BillAuditor(
        _admit(manager, registry, accounts[7], ["AUDITOR"], regulator.address, "auditor"), bills
    )
    factor = BillFactor(
        _admit(manager, registry, accounts[8], ["ASSET_MANAGER"], regulator.address, "factor"),
        bills,
    )
    issuer = CashIssuer.of(
        _admit(manager, registry, accounts[9], ["CASH_ISSUER"], regulator.address, "bank"), cash
    )
    issuer.issue(factor.address, "CNY", 10**12, "factor cash")
    issuer.issue(core.address, "CNY", 10**12, "core cash")
    return core, tier1, tier2a, tier2b, auditor, factor


def _clock() -> Any:
    """brownie's chain object (time travel on local chains),
    via the only module importing brownie."""
    from consortium import chain as _chain

    return _chain.brownie.chain
