// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";

/// @title ConsortiumManaged
/// @notice Base of every business contract: asks the ConsortiumRegistry whether the caller may act.
/// @dev Like OpenZeppelin's AccessManaged asking an AccessManager; no business contract keeps its own
/// member list. The registry's custom errors (RegistryNotActiveMember, RegistryMissingRole,
/// RegistryChannelNotOpen) bubble up
/// unchanged, so a refused call names the account and the role it lacks. Modifiers call internal
/// functions to keep bytecode small.
abstract contract ConsortiumManaged {
    /// @notice The registry this contract consults.
    IConsortiumRegistry public immutable registry;

    error ManagedZeroRegistry();

    constructor(IConsortiumRegistry registry_) {
        if (address(registry_) == address(0)) revert ManagedZeroRegistry();
        registry = registry_;
    }

    /// @dev Caller must act for an active member holding `role`.
    modifier onlyRole(bytes32 role) {
        _checkRole(role);
        _;
    }

    /// @dev Caller must act for an active member.
    modifier onlyActiveMember() {
        _checkActive(msg.sender);
        _;
    }

    /// @return member the member the caller acts for (itself or the member it operates for)
    function _checkRole(bytes32 role) internal view returns (address member) {
        return registry.requireRole(msg.sender, role);
    }

    /// @dev Reverts with RegistryNotActiveMember unless `account` acts for an active member.
    function _checkActive(address account) internal view returns (address member) {
        return registry.requireActive(account);
    }

    /// @dev Reverts (the registry's RegistryChannelNotOpen) unless a channel between the two is open.
    function _checkChannel(address a, address b) internal view {
        if (!registry.channelOpen(a, b)) revert IConsortiumRegistry.RegistryChannelNotOpen(a, b);
    }

    /// @dev `_checkRole` and `_checkChannel(member, counterparty)` in one registry call.
    /// @return member the member the caller acts for
    function _checkRoleWithChannel(bytes32 role, address counterparty) internal view returns (address member) {
        return registry.requireRoleWithChannel(msg.sender, role, counterparty);
    }
}
