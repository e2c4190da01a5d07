// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IDepositToken
/// @notice Tokenised bank deposit in one currency (minor units, 0 decimals of its own): the on-chain
/// cash leg for bill financing and DvP settlement. Only active consortium members hold or move it.
interface IDepositToken is IERC20 {
    event DepositIssued(address indexed to, uint256 amount, bytes32 indexed paymentRef, address indexed issuer);
    event DepositRedeemed(address indexed from, uint256 amount, bytes32 indexed paymentRef, address indexed issuer);
    /// @param manager the permission manager who appointed or dismissed the agent
    event SettlementAgentSet(address indexed agent, bool allowed, address indexed manager);

    error DepositZeroAmount();
    error DepositNotSettlementAgent(address caller);
    error DepositZeroPaymentRef();
    error DepositPaymentRefUsed(bytes32 paymentRef, address holder, uint256 blockNumber);
    /// @notice The token was deployed without an issuing member.
    error DepositZeroIssuer();
    /// @notice `caller` holds CASH_ISSUER but acts for `member`, not for this token's `issuer`.
    error DepositNotIssuer(address caller, address member, address issuer);
    /// @notice A settlement agent must be a contract (a business contract such as the engine), never a key.
    error DepositAgentNotContract(address agent);

    /// @notice The ISO 4217 code, e.g. bytes32("CNY").
    function currency() external view returns (bytes32);

    /// @notice The member that issues and redeems this token (fixed at deployment); its operators act for it.
    function issuer() external view returns (address);

    /// @notice Issue deposit tokens against cash received off chain.
    /// @dev `paymentRef` (the off-chain payment's reference) is the idempotency key of issues and
    /// redemptions alike, one storage slot each: a resent issue is refused with
    /// DepositPaymentRefUsed(paymentRef, holder, blockNumber); paymentRefUse answers for a reference.
    /// Requirements: caller holds CASH_ISSUER and acts for `issuer()` (else DepositNotIssuer); `to` active
    /// member; amount non-zero; paymentRef non-zero and never used.
    function issue(address to, uint256 amount, bytes32 paymentRef) external;

    /// @notice Redeem (burn) deposit tokens for cash paid out off chain.
    /// Requirements: caller holds CASH_ISSUER and acts for `issuer()` (else DepositNotIssuer); amount
    /// non-zero; paymentRef non-zero and never used (as issue).
    function redeem(address from, uint256 amount, bytes32 paymentRef) external;

    /// @notice Whether a payment reference was used, for which holder and in which block.
    /// @return holder the member credited (issue) or debited (redeem); zero if never used
    /// @return blockNumber the block of the issue or redemption; zero if never used
    function paymentRefUse(bytes32 paymentRef) external view returns (address holder, uint256 blockNumber);

    /// @notice Allow a business contract (e.g. the settlement engine) to move deposits between members
    /// it settles for, without a per-holder allowance: governance, never the issuer alone.
    /// Requirements: caller holds PERMISSION_MANAGER; when appointing (`allowed`), `agent` is a contract
    /// (else DepositAgentNotContract); dismissing works for any address.
    function setSettlementAgent(address agent, bool allowed) external;

    /// @notice Move deposits as a settlement agent. Requirements: caller is a settlement agent; both parties active.
    function agentTransfer(address from, address to, uint256 amount) external;
}
