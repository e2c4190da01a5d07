// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IDepositToken} from "../../interfaces/IDepositToken.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {IdempotencyKeys} from "../libraries/IdempotencyKeys.sol";

/// @title DepositToken
/// @notice Tokenised deposit (one currency, integer minor units) held only by active members.
/// @dev `decimals()` is 0: one token is one minor unit (e.g. one fen), so amounts on chain, in Python
/// and in reports are the same integers.
contract DepositToken is ERC20, ConsortiumManaged, IDepositToken {
    using IdempotencyKeys for mapping(bytes32 => IdempotencyKeys.Use);

    bytes32 private immutable _currency;
    address private immutable _issuer;
    mapping(address agent => bool) private _agents;
    // payment references of issues and redemptions (recordedAs: the holder)
    mapping(bytes32 paymentRef => IdempotencyKeys.Use) private _paymentRefs;

    constructor(
        IConsortiumRegistry registry_,
        bytes32 currency_,
        address issuer_,
        string memory name_,
        string memory symbol_
    ) ERC20(name_, symbol_) ConsortiumManaged(registry_) {
        if (issuer_ == address(0)) revert DepositZeroIssuer();
        _currency = currency_;
        _issuer = issuer_;
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @inheritdoc IDepositToken
    function currency() external view returns (bytes32) {
        return _currency;
    }

    /// @inheritdoc IDepositToken
    function issuer() external view returns (address) {
        return _issuer;
    }

    /// @inheritdoc IDepositToken
    function issue(address to, uint256 amount, bytes32 paymentRef) external {
        _checkIssuer();
        if (amount == 0) revert DepositZeroAmount();
        _claimPaymentRef(paymentRef, to);
        _mint(to, amount);
        emit DepositIssued(to, amount, paymentRef, msg.sender);
    }

    /// @inheritdoc IDepositToken
    function redeem(address from, uint256 amount, bytes32 paymentRef) external {
        _checkIssuer();
        if (amount == 0) revert DepositZeroAmount();
        _claimPaymentRef(paymentRef, from);
        _burn(from, amount);
        emit DepositRedeemed(from, amount, paymentRef, msg.sender);
    }

    /// @inheritdoc IDepositToken
    function setSettlementAgent(address agent, bool allowed) external onlyRole(Roles.PERMISSION_MANAGER) {
        if (allowed && agent.code.length == 0) revert DepositAgentNotContract(agent);
        _agents[agent] = allowed;
        emit SettlementAgentSet(agent, allowed, msg.sender);
    }

    /// @inheritdoc IDepositToken
    function agentTransfer(address from, address to, uint256 amount) external {
        if (!_agents[msg.sender]) revert DepositNotSettlementAgent(msg.sender);
        _transfer(from, to, amount);
    }

    /// @notice Whether `agent` may move deposits with agentTransfer.
    function isSettlementAgent(address agent) external view returns (bool) {
        return _agents[agent];
    }

    /// @inheritdoc IDepositToken
    function paymentRefUse(bytes32 paymentRef) external view returns (address holder, uint256 blockNumber) {
        uint256 recordedAs;
        (recordedAs, blockNumber) = IdempotencyKeys.answer(_paymentRefs[paymentRef]);
        holder = address(uint160(recordedAs));
    }

    /// @dev The caller must hold CASH_ISSUER and act for this token's issuing member.
    function _checkIssuer() private view {
        address member = _checkRole(Roles.CASH_ISSUER);
        if (member != _issuer) revert DepositNotIssuer(msg.sender, member, _issuer);
    }

    /// @dev A payment reference books one cash movement: non-zero, used once.
    function _claimPaymentRef(bytes32 paymentRef, address holder) private {
        if (paymentRef == bytes32(0)) revert DepositZeroPaymentRef();
        IdempotencyKeys.Use memory earlier = _paymentRefs.claim(paymentRef, uint160(holder));
        if (earlier.blockNumber != 0) {
            revert DepositPaymentRefUsed(paymentRef, address(uint160(earlier.recordedAs)), earlier.blockNumber);
        }
    }

    /// @dev Holders must be active members (mint and burn check the side that exists).
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) _checkActive(from);
        if (to != address(0)) _checkActive(to);
        super._update(from, to, value);
    }
}
