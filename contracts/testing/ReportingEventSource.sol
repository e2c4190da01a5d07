// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";

/// @title ReportingEventSource
/// @notice TEST ONLY. Emits events shaped like the business lines' events (indexed business id and
/// institutions, amounts in minor units, salted hashes for people) so the reporting engine can be
/// proven before the lines exist. Any active member may emit; nothing is stored.
contract ReportingEventSource is ConsortiumManaged {
    /// @notice Cash moved between two institutions (shaped like a settlement or bill payment).
    event PaymentSettled(
        bytes32 indexed settlementId, address indexed payer, address indexed payee, uint256 amount, bytes32 currency
    );
    /// @notice A netting cycle closed: gross obligations reduced to net payments.
    event NettingCycleClosed(
        bytes32 indexed cycleId, address indexed ccp, uint256 grossAmount, uint256 netAmount, uint256 participants
    );
    /// @notice A bill was issued (parentId 0) or split off a parent bill.
    event BillRecorded(uint256 indexed billId, uint256 indexed parentId, address indexed holder, uint256 amount);
    /// @notice Two institutions' books disagree on a position.
    event ReconciliationBreakFound(
        bytes32 indexed breakId, address indexed partyA, address indexed partyB, int256 difference, bytes32 beneficialOwnerHash
    );
    /// @notice A contribution was credited to a beneficiary (pseudonymised by a salted hash).
    event ContributionCredited(
        bytes32 indexed planId, address indexed trustee, bytes32 indexed beneficiaryHash, uint256 amount
    );

    constructor(IConsortiumRegistry registry_) ConsortiumManaged(registry_) {}

    function settlePayment(bytes32 settlementId, address payer, address payee, uint256 amount, bytes32 currency)
        external
        onlyActiveMember
    {
        emit PaymentSettled(settlementId, payer, payee, amount, currency);
    }

    function closeNettingCycle(bytes32 cycleId, address ccp, uint256 grossAmount, uint256 netAmount, uint256 participants)
        external
        onlyActiveMember
    {
        emit NettingCycleClosed(cycleId, ccp, grossAmount, netAmount, participants);
    }

    function recordBill(uint256 billId, uint256 parentId, address holder, uint256 amount) external onlyActiveMember {
        emit BillRecorded(billId, parentId, holder, amount);
    }

    function reportBreak(bytes32 breakId, address partyA, address partyB, int256 difference, bytes32 ownerHash)
        external
        onlyActiveMember
    {
        emit ReconciliationBreakFound(breakId, partyA, partyB, difference, ownerHash);
    }

    function creditContribution(bytes32 planId, address trustee, bytes32 beneficiaryHash, uint256 amount)
        external
        onlyActiveMember
    {
        emit ContributionCredited(planId, trustee, beneficiaryHash, amount);
    }
}
