// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISealedRecords
/// @notice Look-through for regulators: per settlement cycle, an intermediary publishes the Merkle
/// root of its investors' positions and, for each position, the record sealed to the regulator of
/// the investor's jurisdiction. Nothing personal is in clear: the chain holds the root and
/// ciphertext only; a regulator opens the records sealed to it off chain and proves each one
/// against the root with `verifyPosition`.
/// @dev Leaf format (OpenZeppelin standard Merkle tree, `merkle-zeppelin` / `@openzeppelin/merkle-tree`):
/// HoldingChain's investor leaf (contracts/libraries/InvestorLeaf.sol)
///     leaf = keccak256(bytes.concat(keccak256(abi.encode(commitment, asset, amount))))
/// with types (bytes32, uint256, int256): `commitment` is the investor's salted commitment
/// keccak256(investorId, salt) (consortium.domain.hashing.commit), `asset` the engine's Leg.asset
/// (a security id, or uint256(bytes32 currency code)), `amount` the position in units or minor
/// units (negative: delivered). The positions are the investor leaves the intermediary allocated
/// down the holding chain in the cycle, so each one also proves against its investor root there
/// (`HoldingChain.verifyInvestor`). A sealed record is the compact form of an ECIES envelope
/// (consortium.lookthrough) of the packed record (kind, asset, amount, salt, proof under this
/// root, proof under the holding chain's investor root, investor id). A published (intermediary,
/// cycle) is final: its root, leaf count and declared record count never change. Its records come
/// in parts of at most MAX_RECORDS (a broker of a busy day seals thousands): `publish` carries the
/// first, `appendRecords` the others, each at the next offset, until the declared count is sealed
/// (`Publication.sealedCount == recordCount`: complete).
interface ISealedRecords {
    /// @notice One published root of an intermediary's cycle.
    struct Publication {
        bytes32 root;
        uint32 leafCount;
        uint32 recordCount; // declared at publish: the records the publication holds once complete
        uint32 sealedCount; // sealed so far (publish's part and every appendRecords part)
        uint64 blockNumber; // of the publish
    }

    // ----------------------------------------------------------------- events
    /// @notice `intermediary` published the root of its investors' positions for `cycleId`.
    event PositionsPublished(
        address indexed intermediary, bytes32 indexed cycleId, bytes32 root, uint32 leafCount, uint32 recordCount
    );
    /// @notice One position record of `intermediary`'s cycle, sealed to `regulator` (ciphertext only).
    event RecordSealed(
        address indexed intermediary, bytes32 indexed cycleId, address indexed regulator, bytes sealedRecord
    );

    // ----------------------------------------------------------------- errors
    error SealedZeroRoot(address intermediary, bytes32 cycleId);
    error SealedZeroCycle(address intermediary);
    error SealedAlreadyPublished(address intermediary, bytes32 cycleId, bytes32 root, uint64 blockNumber);
    error SealedLengthMismatch(uint256 regulators, uint256 records);
    error SealedTooManyRecords(uint256 records, uint256 leafCount);
    error SealedBatchTooLarge(uint256 records, uint256 max);
    error SealedZeroLeaves(address intermediary, bytes32 cycleId);
    error SealedNotRegulator(uint256 index, address regulator);
    error SealedEmptyRecord(uint256 index);
    error SealedProofTooLong(uint256 length, uint256 max);
    error SealedNotPublished(address intermediary, bytes32 cycleId);
    error SealedOverDeclared(uint256 records, uint256 declared);
    error SealedOutOfOrder(address intermediary, bytes32 cycleId, uint32 expected, uint32 offset);
    error SealedNoRecords(address intermediary, bytes32 cycleId);

    // ----------------------------------------------------------------- publishing
    /// @notice Publish, for the caller's own member and `cycleId`, the root of its investors'
    /// position leaves, how many records it seals, and the first part of those records.
    /// @dev The publisher is the member the caller acts for (itself or as its operator): nobody
    /// publishes for another member. Emits PositionsPublished, then one RecordSealed per record.
    /// @param cycleId the settlement cycle (SettlementEngine's cycle id)
    /// @param root the Merkle root of every position leaf of the intermediary's investors
    /// @param leafCount the number of leaves under `root`
    /// @param recordCount the records the publication will hold (this part and every append)
    /// @param regulators the regulator each record is sealed to (same length as `sealedRecords`)
    /// @param sealedRecords the compact envelopes, one per position of a supervised investor: the
    /// first `sealedRecords.length` of the `recordCount`
    /// Requirements:
    /// - caller acts for an active member
    /// - `cycleId` and `root` are not zero, `leafCount` > 0, `recordCount` <= `leafCount`
    /// - (member, cycleId) was never published
    /// - `regulators` and `sealedRecords` have the same length, at most `recordCount` and
    ///   MAX_RECORDS; every regulator holds REGULATOR; no record is empty
    function publish(
        bytes32 cycleId,
        bytes32 root,
        uint32 leafCount,
        uint32 recordCount,
        address[] calldata regulators,
        bytes[] calldata sealedRecords
    ) external;

    /// @notice Seal the next part of the caller's publication of `cycleId`: the records from
    /// `offset` on. The offset makes a resent part harmless: it is refused, nothing sealed twice.
    /// @dev Emits one RecordSealed per record.
    /// @param cycleId the cycle published
    /// @param offset the index of the part's first record: the records sealed so far
    /// @param regulators the regulator each record is sealed to (same length as `sealedRecords`)
    /// @param sealedRecords the part's compact envelopes
    /// Requirements:
    /// - caller acts for an active member that published `cycleId` (SealedNotPublished)
    /// - `offset` is the publication's `sealedCount` (SealedOutOfOrder)
    /// - at least one record, at most MAX_RECORDS, and no more than the declared count in all
    ///   (SealedOverDeclared); every regulator holds REGULATOR; no record is empty
    function appendRecords(
        bytes32 cycleId,
        uint32 offset,
        address[] calldata regulators,
        bytes[] calldata sealedRecords
    ) external;

    // ----------------------------------------------------------------- reading
    /// @notice The publication of `intermediary` for `cycleId` (reverts SealedNotPublished if none).
    function publication(address intermediary, bytes32 cycleId) external view returns (Publication memory);

    /// @notice Whether the position (commitment, asset, amount) is under the root `intermediary`
    /// published for `cycleId`, by `proof` (false when nothing was published).
    /// @param proof sibling hashes, at most MAX_PROOF_LENGTH
    function verifyPosition(
        address intermediary,
        bytes32 cycleId,
        bytes32 commitment,
        uint256 asset,
        int256 amount,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The leaf of a position, as the off-chain tree builds it: HoldingChain's investor leaf
    /// of the same (commitment, asset, amount) (InvestorLeaf.hash).
    function positionLeaf(bytes32 commitment, uint256 asset, int256 amount) external pure returns (bytes32);
}
