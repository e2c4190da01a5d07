"""Business service types, mirroring contracts/consortium/Roles.sol (keccak256 of the name)."""

from __future__ import annotations

from eth_utils import keccak

ROLE_NAMES: tuple[str, ...] = (
    "PERMISSION_MANAGER",
    "REGULATOR",
    "AUDITOR",
    "ANNUITY_PLATFORM",
    "TRUSTEE",
    "ACCOUNT_MANAGER",
    "INVESTMENT_MANAGER",
    "SUPPLY_CHAIN_CLIENT",
    "ASSET_MANAGER",
    "SALES_BANK",
    "PRODUCT_ISSUER",
    "BANK",
    "FINANCE_COMPANY",
    "RECONCILER",
    "BROKER",
    "CUSTODIAN",
    "EXCHANGE",
    "CCP",
    "CSD",
    "CASH_ISSUER",
    "REPORTER",
    "BILL_ISSUER",
    "BILL_TRANSFEROR",
    "BILL_FINANCING_APPLICANT",
)


def role_id(name: str) -> bytes:
    """bytes32 id of a role name, as `keccak256("NAME")` in Roles.sol."""
    return keccak(text=name)


ROLES: dict[str, bytes] = {name: role_id(name) for name in ROLE_NAMES}
ROLE_BY_ID: dict[bytes, str] = {v: k for k, v in ROLES.items()}


def role_name(role: bytes | str) -> str:
    """Name of a role id (bytes or 0x-hex); the hex itself when the role is not one of ours."""
    raw = bytes.fromhex(role[2:]) if isinstance(role, str) else bytes(role)
    return ROLE_BY_ID.get(raw, "0x" + raw.hex())
