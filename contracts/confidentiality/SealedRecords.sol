// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {ISealedRecords} from "../../interfaces/ISealedRecords.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {InvestorLeaf} from "../libraries/InvestorLeaf.sol";

/// @title SealedRecords
/// @notice Look-through records: an intermediary's investors' positions as one Merkle root per
/// cycle, each position sealed to its investor's regulator. Only the root and ciphertext are stored
/// or emitted; storage grows with (intermediaries x cycles), never with the number of investors.
contract SealedRecords is ConsortiumManaged, ISealedRecords {
    /// @notice Most records one publish takes (64 records: 1,345,353 gas; 256 stay far under the
    /// EIP-7825 cap of 16,777,216).
    uint256 public constant MAX_RECORDS = 256;
    /// @notice Longest proof verifyPosition accepts (a tree of 2^64 leaves).
    uint256 public constant MAX_PROOF_LENGTH = 64;

    mapping(bytes32 key => Publication) private _publications;

    constructor(IConsortiumRegistry registry_) ConsortiumManaged(registry_) {}

    /// @inheritdoc ISealedRecords
    function publish(
        bytes32 cycleId,
        bytes32 root,
        uint32 leafCount,
        address[] calldata regulators,
        bytes[] calldata sealedRecords
    ) external {
        address member = _checkActive(msg.sender);
        if (cycleId == bytes32(0)) revert SealedZeroCycle(member);
        if (root == bytes32(0)) revert SealedZeroRoot(member, cycleId);
        if (leafCount == 0) revert SealedZeroLeaves(member, cycleId);
        uint256 n = sealedRecords.length;
        if (regulators.length != n) revert SealedLengthMismatch(regulators.length, n);
        if (n > MAX_RECORDS) revert SealedBatchTooLarge(n, MAX_RECORDS);
        if (n > leafCount) revert SealedTooManyRecords(n, leafCount);
        bytes32 key = _key(member, cycleId);
        Publication storage p = _publications[key];
        if (p.root != bytes32(0)) revert SealedAlreadyPublished(member, cycleId, p.root, p.blockNumber);
        for (uint256 i = 0; i < n; ++i) {
            if (!registry.hasRole(regulators[i], Roles.REGULATOR)) revert SealedNotRegulator(i, regulators[i]);
            if (sealedRecords[i].length == 0) revert SealedEmptyRecord(i);
        }
        _publications[key] = Publication(root, leafCount, uint32(n), uint64(block.number));
        emit PositionsPublished(member, cycleId, root, leafCount, uint32(n));
        for (uint256 i = 0; i < n; ++i) {
            emit RecordSealed(member, cycleId, regulators[i], sealedRecords[i]);
        }
    }

    /// @inheritdoc ISealedRecords
    function publication(address intermediary, bytes32 cycleId) external view returns (Publication memory p) {
        p = _publications[_key(intermediary, cycleId)];
        if (p.root == bytes32(0)) revert SealedNotPublished(intermediary, cycleId);
    }

    /// @inheritdoc ISealedRecords
    function verifyPosition(
        address intermediary,
        bytes32 cycleId,
        bytes32 commitment,
        uint256 asset,
        int256 amount,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (proof.length > MAX_PROOF_LENGTH) revert SealedProofTooLong(proof.length, MAX_PROOF_LENGTH);
        bytes32 root = _publications[_key(intermediary, cycleId)].root;
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, InvestorLeaf.hash(commitment, asset, amount));
    }

    /// @inheritdoc ISealedRecords
    function positionLeaf(bytes32 commitment, uint256 asset, int256 amount) external pure returns (bytes32) {
        return InvestorLeaf.hash(commitment, asset, amount);
    }

    function _key(address intermediary, bytes32 cycleId) internal pure returns (bytes32) {
        return keccak256(abi.encode(intermediary, cycleId));
    }
}
