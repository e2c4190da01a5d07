// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {ISecurityToken} from "../../interfaces/ISecurityToken.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {IdempotencyKeys} from "../libraries/IdempotencyKeys.sol";

/// @title SecurityToken
/// @notice Securities positions at the CSD, one ERC-1155 id per security, held only by active members.
/// @dev Units are whole units of the security; the URI is unused (no metadata on chain).
contract SecurityToken is ERC1155, ConsortiumManaged, ISecurityToken {
    using IdempotencyKeys for mapping(bytes32 => IdempotencyKeys.Use);

    address private immutable _csd;
    mapping(uint256 securityId => bytes32 code) private _codes;
    mapping(address agent => bool) private _agents;
    // custody references of issues and redemptions (recordedAs: the holder)
    mapping(bytes32 ref => IdempotencyKeys.Use) private _refs;

    constructor(IConsortiumRegistry registry_, address csd_) ERC1155("") ConsortiumManaged(registry_) {
        if (csd_ == address(0)) revert SecurityZeroCsd();
        _csd = csd_;
    }

    /// @inheritdoc ISecurityToken
    function csd() external view returns (address) {
        return _csd;
    }

    /// @inheritdoc ISecurityToken
    function listSecurity(uint256 securityId, bytes32 code) external {
        _checkCsd();
        if (code == bytes32(0)) revert SecurityZeroCode(securityId);
        bytes32 existing = _codes[securityId];
        if (existing != bytes32(0)) revert SecurityAlreadyListed(securityId, existing);
        _codes[securityId] = code;
        emit SecurityListed(securityId, code, msg.sender);
    }

    /// @inheritdoc ISecurityToken
    function issue(address to, uint256 securityId, uint256 amount, bytes32 ref) external {
        _checkCsd();
        _checkIssuable(securityId, amount);
        _claimRef(ref, to);
        _mint(to, securityId, amount, "");
        emit SecurityIssued(securityId, to, amount, ref, msg.sender);
    }

    /// @inheritdoc ISecurityToken
    function redeem(address from, uint256 securityId, uint256 amount, bytes32 ref) external {
        _checkCsd();
        _checkIssuable(securityId, amount);
        _claimRef(ref, from);
        _burn(from, securityId, amount);
        emit SecurityRedeemed(securityId, from, amount, ref, msg.sender);
    }

    /// @inheritdoc ISecurityToken
    function setSettlementAgent(address agent, bool allowed) external onlyRole(Roles.PERMISSION_MANAGER) {
        if (allowed && agent.code.length == 0) revert SecurityAgentNotContract(agent);
        _agents[agent] = allowed;
        emit SecuritySettlementAgentSet(agent, allowed, msg.sender);
    }

    /// @inheritdoc ISecurityToken
    function agentTransfer(address from, address to, uint256 securityId, uint256 amount) external {
        if (!_agents[msg.sender]) revert SecurityNotSettlementAgent(msg.sender);
        _safeTransferFrom(from, to, securityId, amount, "");
    }

    /// @inheritdoc ISecurityToken
    function isListed(uint256 securityId) external view returns (bool) {
        return _codes[securityId] != bytes32(0);
    }

    /// @inheritdoc ISecurityToken
    function codeOf(uint256 securityId) external view returns (bytes32) {
        return _codes[securityId];
    }

    /// @inheritdoc ISecurityToken
    function isSettlementAgent(address agent) external view returns (bool) {
        return _agents[agent];
    }

    /// @inheritdoc ISecurityToken
    function refUse(bytes32 ref) external view returns (address holder, uint256 blockNumber) {
        uint256 recordedAs;
        (recordedAs, blockNumber) = IdempotencyKeys.answer(_refs[ref]);
        holder = address(uint160(recordedAs));
    }

    /// @dev The caller must hold CSD and act for this token's depository.
    function _checkCsd() private view {
        address member = _checkRole(Roles.CSD);
        if (member != _csd) revert SecurityNotCsd(msg.sender, member, _csd);
    }

    /// @dev A custody reference books one movement (issue or redemption): non-zero, used once.
    function _claimRef(bytes32 ref, address holder) private {
        if (ref == bytes32(0)) revert SecurityZeroRef();
        IdempotencyKeys.Use memory earlier = _refs.claim(ref, uint160(holder));
        if (earlier.blockNumber != 0) {
            revert SecurityRefUsed(ref, address(uint160(earlier.recordedAs)), earlier.blockNumber);
        }
    }

    function _checkIssuable(uint256 securityId, uint256 amount) private view {
        if (_codes[securityId] == bytes32(0)) revert SecurityUnknown(securityId);
        if (amount == 0) revert SecurityZeroAmount(securityId);
    }

    /// @dev Holders must be active members (mint and burn check the side that exists).
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        if (from != address(0)) _checkActive(from);
        if (to != address(0)) _checkActive(to);
        super._update(from, to, ids, values);
    }
}
