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
/// A publication's records come in parts of at most MAX_RECORDS, the first with the root (publish),
/// the others at the next offset (appendRecords) up to the count declared with the root.
contract SealedRecords is ConsortiumManaged, ISealedRecords {
    /// @notice Most records one part takes (publish or appendRecords; publish of 64 records:
    /// 1,346,025 gas, of 256: 5,935,299, far under the EIP-7825 cap of 16,777,216).
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
        uint32 recordCount,
        address[] calldata regulators,
        bytes[] calldata sealedRecords
    ) external {
        address member = _checkActive(msg.sender);
        if (cycleId == bytes32(0)) revert SealedZeroCycle(member);
        if (root == bytes32(0)) revert SealedZeroRoot(member, cycleId);
        if (leafCount == 0) revert SealedZeroLeaves(member, cycleId);
        if (recordCount > leafCount) revert SealedTooManyRecords(recordCount, leafCount);
        bytes32 key = _key(member, cycleId);
        Publication storage p = _publications[key];
        if (p.root != bytes32(0)) revert SealedAlreadyPublished(member, cycleId, p.root, p.blockNumber);
        uint32 n = _checkPart(regulators, sealedRecords, 0, recordCount);
        _publications[key] = Publication(root, leafCount, recordCount, n, uint64(block.number));
        emit PositionsPublished(member, cycleId, root, leafCount, recordCount);
        _seal(member, cycleId, regulators, sealedRecords);
    }

    /// @inheritdoc ISealedRecords
    function appendRecords(
        bytes32 cycleId,
        uint32 offset,
        address[] calldata regulators,
        bytes[] calldata sealedRecords
    ) external {
        address member = _checkActive(msg.sender);
        Publication storage p = _publications[_key(member, cycleId)];
        if (p.root == bytes32(0)) revert SealedNotPublished(member, cycleId);
        uint32 sealedCount = p.sealedCount;
        if (offset != sealedCount) revert SealedOutOfOrder(member, cycleId, sealedCount, offset);
        if (sealedRecords.length == 0) revert SealedNoRecords(member, cycleId);
        p.sealedCount = sealedCount + _checkPart(regulators, sealedRecords, sealedCount, p.recordCount);
        _seal(member, cycleId, regulators, sealedRecords);
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

    /// @dev A part's records checked before anything is stored: as many regulators as records, at
    /// most MAX_RECORDS, `sealedBefore` + its length within `declared`, every regulator holding
    /// REGULATOR, no record empty. Returns the part's length.
    function _checkPart(
        address[] calldata regulators,
        bytes[] calldata sealedRecords,
        uint256 sealedBefore,
        uint256 declared
    ) internal view returns (uint32) {
        uint256 n = sealedRecords.length;
        if (regulators.length != n) revert SealedLengthMismatch(regulators.length, n);
        if (n > MAX_RECORDS) revert SealedBatchTooLarge(n, MAX_RECORDS);
        if (sealedBefore + n > declared) revert SealedOverDeclared(sealedBefore + n, declared);
        for (uint256 i = 0; i < n; ++i) {
            if (!registry.hasRole(regulators[i], Roles.REGULATOR)) revert SealedNotRegulator(i, regulators[i]);
            if (sealedRecords[i].length == 0) revert SealedEmptyRecord(i);
        }
        return uint32(n);
    }

    function _seal(address member, bytes32 cycleId, address[] calldata regulators, bytes[] calldata sealedRecords)
        internal
    {
        for (uint256 i = 0; i < sealedRecords.length; ++i) {
            emit RecordSealed(member, cycleId, regulators[i], sealedRecords[i]);
        }
    }

    function _key(address intermediary, bytes32 cycleId) internal pure returns (bytes32) {
        return keccak256(abi.encode(intermediary, cycleId));
    }
}
