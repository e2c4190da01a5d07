// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice Business service types a consortium member can hold. A role is granted per member by the
/// permission manager in the ConsortiumRegistry; business contracts check it with `onlyRole`.
/// @dev `keccak256` of the upper-case name, as OpenZeppelin's AccessControl does; Python mirrors the list
/// in `consortium.domain.roles`.
library Roles {
    bytes32 internal constant PERMISSION_MANAGER = keccak256("PERMISSION_MANAGER");
    bytes32 internal constant REGULATOR = keccak256("REGULATOR");
    bytes32 internal constant AUDITOR = keccak256("AUDITOR");
    // annuity
    bytes32 internal constant ANNUITY_PLATFORM = keccak256("ANNUITY_PLATFORM");
    bytes32 internal constant TRUSTEE = keccak256("TRUSTEE");
    bytes32 internal constant ACCOUNT_MANAGER = keccak256("ACCOUNT_MANAGER");
    bytes32 internal constant INVESTMENT_MANAGER = keccak256("INVESTMENT_MANAGER");
    // supply-chain bills: SUPPLY_CHAIN_CLIENT is the membership (receive and review bills, pay one's
    // own bills, withdraw one's own requests); the three rights the audit grants apart (开单权限、
    // 转单权限、融资权限) are each a role of their own
    bytes32 internal constant SUPPLY_CHAIN_CLIENT = keccak256("SUPPLY_CHAIN_CLIENT");
    bytes32 internal constant BILL_ISSUER = keccak256("BILL_ISSUER");
    bytes32 internal constant BILL_TRANSFEROR = keccak256("BILL_TRANSFEROR");
    bytes32 internal constant BILL_FINANCING_APPLICANT = keccak256("BILL_FINANCING_APPLICANT");
    bytes32 internal constant ASSET_MANAGER = keccak256("ASSET_MANAGER");
    // confirmations and reconciliation
    bytes32 internal constant SALES_BANK = keccak256("SALES_BANK");
    bytes32 internal constant PRODUCT_ISSUER = keccak256("PRODUCT_ISSUER");
    bytes32 internal constant BANK = keccak256("BANK");
    bytes32 internal constant FINANCE_COMPANY = keccak256("FINANCE_COMPANY");
    bytes32 internal constant RECONCILER = keccak256("RECONCILER");
    // cross-border settlement
    bytes32 internal constant BROKER = keccak256("BROKER");
    bytes32 internal constant CUSTODIAN = keccak256("CUSTODIAN");
    bytes32 internal constant EXCHANGE = keccak256("EXCHANGE");
    bytes32 internal constant CCP = keccak256("CCP");
    bytes32 internal constant CSD = keccak256("CSD");
    // tokenised cash and securities issuance (settlement agent of the consortium)
    bytes32 internal constant CASH_ISSUER = keccak256("CASH_ISSUER");
    // regulators' report anchoring
    bytes32 internal constant REPORTER = keccak256("REPORTER");
}
