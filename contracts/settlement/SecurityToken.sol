// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {ISecurityToken} from "../../interfaces/ISecurityToken.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";

/// @title SecurityToken
/// @notice Securities positions at the CSD, one ERC-1155 id per security, held only by active members.
/// @dev Units are whole units of the security; the URI is unused (no metadata on chain).
contract SecurityToken is ERC1155, ConsortiumManaged, ISecurityToken {
    mapping(uint256 securityId => bytes32 code) private _codes;
    mapping(address agent => bool) private _agents;

    constructor(IConsortiumRegistry registry_) ERC1155("") ConsortiumManaged(registry_) {}

    /// @inheritdoc ISecurityToken
    function listSecurity(uint256 securityId, bytes32 code) external onlyRole(Roles.CSD) {
        if (code == bytes32(0)) revert SecurityZeroCode(securityId);
        bytes32 existing = _codes[securityId];
        if (existing != bytes32(0)) revert SecurityAlreadyListed(securityId, existing);
        _codes[securityId] = code;
        emit SecurityListed(securityId, code, msg.sender);
    }

    /// @inheritdoc ISecurityToken
    function issue(address to, uint256 securityId, uint256 amount, bytes32 ref) external onlyRole(Roles.CSD) {
        _checkIssuable(securityId, amount);
        _mint(to, securityId, amount, "");
        emit SecurityIssued(securityId, to, amount, ref, msg.sender);
    }

    /// @inheritdoc ISecurityToken
    function redeem(address from, uint256 securityId, uint256 amount, bytes32 ref) external onlyRole(Roles.CSD) {
        _checkIssuable(securityId, amount);
        _burn(from, securityId, amount);
        emit SecurityRedeemed(securityId, from, amount, ref, msg.sender);
    }

    /// @inheritdoc ISecurityToken
    function setSettlementAgent(address agent, bool allowed) external onlyRole(Roles.CSD) {
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
