// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISecurityToken
/// @notice Tokenised securities held at the central securities depository: an ERC-1155 with one id per
/// listed security (units of the security, no decimals), held and moved only by active consortium
/// members. The CSD lists, issues and redeems; a settlement engine the CSD appoints moves positions in
/// delivery-versus-payment without per-holder approvals.
interface ISecurityToken {
    event SecurityListed(uint256 indexed securityId, bytes32 code, address indexed csd);
    event SecurityIssued(uint256 indexed securityId, address indexed to, uint256 amount, bytes32 ref, address indexed csd);
    event SecurityRedeemed(uint256 indexed securityId, address indexed from, uint256 amount, bytes32 ref, address indexed csd);
    event SecuritySettlementAgentSet(address indexed agent, bool allowed, address indexed csd);

    error SecurityUnknown(uint256 securityId);
    error SecurityAlreadyListed(uint256 securityId, bytes32 code);
    error SecurityZeroCode(uint256 securityId);
    error SecurityZeroAmount(uint256 securityId);
    error SecurityNotSettlementAgent(address caller);

    /// @notice List a security under `securityId` (e.g. its code "HK.0700" as bytes32).
    /// Requirements:
    /// - caller holds CSD
    /// - `securityId` not yet listed; `code` non-zero
    function listSecurity(uint256 securityId, bytes32 code) external;

    /// @notice Credit `amount` units of a listed security to a member (custody deposit off chain).
    /// Requirements:
    /// - caller holds CSD
    /// - security listed; amount > 0; `to` an active member
    function issue(address to, uint256 securityId, uint256 amount, bytes32 ref) external;

    /// @notice Debit `amount` units (withdrawal from the depository).
    /// Requirements:
    /// - caller holds CSD
    /// - security listed; amount > 0; `from` holds it
    function redeem(address from, uint256 securityId, uint256 amount, bytes32 ref) external;

    /// @notice Appoint or dismiss a settlement agent (the settlement engine).
    /// Requirements:
    /// - caller holds CSD
    function setSettlementAgent(address agent, bool allowed) external;

    /// @notice Move units as a settlement agent.
    /// Requirements:
    /// - caller is a settlement agent
    /// - both parties active members; `from` holds `amount`
    function agentTransfer(address from, address to, uint256 securityId, uint256 amount) external;

    /// @notice Whether `securityId` is listed.
    function isListed(uint256 securityId) external view returns (bool);

    /// @notice The code a security was listed with (zero if unknown).
    function codeOf(uint256 securityId) external view returns (bytes32);

    /// @notice Whether `agent` may call agentTransfer.
    function isSettlementAgent(address agent) external view returns (bool);
}
