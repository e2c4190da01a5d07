// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISecurityToken
/// @notice Tokenised securities held at the central securities depository: an ERC-1155 with one id per
/// listed security (units of the security, no decimals), held and moved only by active consortium
/// members. The token's one CSD member (fixed at deployment) lists, issues and redeems; a settlement
/// engine the permission manager appoints moves positions in delivery-versus-payment without
/// per-holder approvals.
interface ISecurityToken {
    event SecurityListed(uint256 indexed securityId, bytes32 code, address indexed csd);
    event SecurityIssued(uint256 indexed securityId, address indexed to, uint256 amount, bytes32 ref, address indexed csd);
    event SecurityRedeemed(uint256 indexed securityId, address indexed from, uint256 amount, bytes32 ref, address indexed csd);
    /// @param manager the permission manager who appointed or dismissed the agent
    event SecuritySettlementAgentSet(address indexed agent, bool allowed, address indexed manager);

    error SecurityUnknown(uint256 securityId);
    error SecurityAlreadyListed(uint256 securityId, bytes32 code);
    error SecurityZeroCode(uint256 securityId);
    error SecurityZeroAmount(uint256 securityId);
    error SecurityNotSettlementAgent(address caller);
    /// @notice The token was deployed without a depository member.
    error SecurityZeroCsd();
    /// @notice `caller` holds CSD but acts for `member`, not for this token's depository `csd`.
    error SecurityNotCsd(address caller, address member, address csd);
    /// @notice A settlement agent must be a contract (the settlement engine), never a key.
    error SecurityAgentNotContract(address agent);
    /// @notice An issue or redemption without a custody reference.
    error SecurityZeroRef();
    /// @notice The custody reference was used already (a resent issue or redemption), for `holder` in `blockNumber`.
    error SecurityRefUsed(bytes32 ref, address holder, uint256 blockNumber);

    /// @notice The depository member that lists, issues and redeems (fixed at deployment); its
    /// operators act for it.
    function csd() external view returns (address);

    /// @notice List a security under `securityId` (e.g. its code "HK.0700" as bytes32).
    /// Requirements:
    /// - caller holds CSD and acts for `csd()` (else SecurityNotCsd)
    /// - `securityId` not yet listed; `code` non-zero
    function listSecurity(uint256 securityId, bytes32 code) external;

    /// @notice Credit `amount` units of a listed security to a member (custody deposit off chain).
    /// @dev `ref` (the custody deposit's reference) is the idempotency key of issues and redemptions
    /// alike, one storage slot each: a resent issue is refused with SecurityRefUsed(ref, holder,
    /// blockNumber); refUse answers for a reference.
    /// Requirements:
    /// - caller holds CSD and acts for `csd()` (else SecurityNotCsd)
    /// - security listed; amount > 0; `to` an active member
    /// - `ref` non-zero and never used by an issue or a redemption
    function issue(address to, uint256 securityId, uint256 amount, bytes32 ref) external;

    /// @notice Debit `amount` units (withdrawal from the depository).
    /// Requirements:
    /// - caller holds CSD and acts for `csd()` (else SecurityNotCsd)
    /// - security listed; amount > 0; `from` holds it
    /// - `ref` non-zero and never used (as issue)
    function redeem(address from, uint256 securityId, uint256 amount, bytes32 ref) external;

    /// @notice Appoint or dismiss a settlement agent (the settlement engine): governance, never the CSD alone.
    /// Requirements:
    /// - caller holds PERMISSION_MANAGER
    /// - when appointing (`allowed`), `agent` is a contract (else SecurityAgentNotContract); dismissing
    ///   works for any address
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

    /// @notice Whether a custody reference was used, for which holder and in which block.
    /// @return holder the member credited (issue) or debited (redeem); zero if never used
    /// @return blockNumber the block of the issue or redemption; zero if never used
    function refUse(bytes32 ref) external view returns (address holder, uint256 blockNumber);

    /// @notice Whether `agent` may call agentTransfer.
    function isSettlementAgent(address agent) external view returns (bool);
}
