// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IDepositToken} from "../../interfaces/IDepositToken.sol";
import {ISecurityToken} from "../../interfaces/ISecurityToken.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";

/// @title GrossSettlementHarness
/// @notice Benchmark only: settles executions one by one (gross DvP, two transfers per execution) so its
/// gas can be set next to the net settlement of the same executions. Not deployed by the suite.
contract GrossSettlementHarness is ConsortiumManaged {
    struct Execution {
        address buyer;
        address seller;
        uint256 securityId;
        uint256 quantity;
        address cash;
        uint256 amount;
    }

    ISecurityToken private immutable _security;

    constructor(IConsortiumRegistry registry_, ISecurityToken security_) ConsortiumManaged(registry_) {
        _security = security_;
    }

    function settleGross(Execution[] calldata executions) external onlyRole(Roles.CSD) {
        for (uint256 i; i < executions.length; ++i) {
            Execution calldata e = executions[i];
            _security.agentTransfer(e.seller, e.buyer, e.securityId, e.quantity);
            IDepositToken(e.cash).agentTransfer(e.buyer, e.seller, e.amount);
        }
    }
}
