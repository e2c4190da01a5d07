// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IReportAnchor
/// @notice Anchors the Merkle root of every regulator's daily report, together with the hash of the
/// reporting rules that produced it, so that each record of a report can be proven to come from the
/// chain under stated rules.
/// @dev A report is identified by (regulator, day, version). `day` is the business day of the
/// records in the institutions' business time zone: `floor((block.timestamp + businessUtcOffset) /
/// 86400)` of the blocks whose events the report holds (local days since 1970-01-01; the offset is
/// fixed at deploy, +28800 for Asia/Shanghai, so a Shanghai day runs from 16:00 to 16:00 UTC). Versions of a (regulator, day) start at 1 and grow by one: a re-built report is
/// anchored as the next version, an existing version is never overwritten.
///
/// Leaf format (OpenZeppelin standard Merkle tree, as the JS package openzeppelin merkle-tree and the Python
/// package merkle-zeppelin build it):
///     leaf = keccak256(bytes.concat(keccak256(abi.encode(regulator, day, rulesHash, recordHash))))
/// with types (address, uint32, bytes32, bytes32); `recordHash` is keccak256 of the record's
/// canonical JSON (see docs/report-schema.json). Inner nodes hash the sorted pair of children.
/// An empty report (no records) is anchored with root zero and recordCount zero.
interface IReportAnchor {
    /// @notice One registered version of the reporting rules.
    struct RulesVersion {
        bytes32 rulesHash;
        uint64 version;
        uint64 registeredAt; // block timestamp
        uint64 blockNumber;
    }

    /// @notice An anchored report root.
    struct Anchor {
        bytes32 root;
        bytes32 rulesHash;
        uint64 recordCount;
        uint64 anchoredAt; // block timestamp
        address reporter;
        uint64 blockNumber; // block of the anchor call
    }

    // ----------------------------------------------------------------- events
    event RulesSet(bytes32 indexed rulesHash, uint64 indexed version, address indexed setter);
    event ReportAnchored(
        address indexed regulator,
        uint32 indexed day,
        uint32 indexed version,
        bytes32 root,
        bytes32 rulesHash,
        uint64 recordCount,
        address reporter
    );

    // ----------------------------------------------------------------- errors
    error AnchorZeroHash();
    error AnchorRulesVersionNotIncreasing(uint64 version, uint64 currentVersion);
    error AnchorRulesAlreadySet(bytes32 rulesHash, uint64 version);
    error AnchorUnknownRules(bytes32 rulesHash);
    error AnchorNotRegulator(address regulator);
    error AnchorDayInFuture(uint32 day, uint32 today);
    error AnchorVersionNotNext(address regulator, uint32 day, uint32 version, uint32 expected);
    error AnchorVersionAlreadyAnchored(address regulator, uint32 day, uint32 version, bytes32 root, uint64 blockNumber);
    error AnchorRootCountMismatch(bytes32 root, uint64 recordCount);
    error AnchorNotFound(address regulator, uint32 day, uint32 version);
    /// @notice A Merkle proof longer than MAX_PROOF_LENGTH (named for this contract: the confirmation
    /// anchor refuses with its own ConfirmationAnchorProofTooLong).
    error ReportAnchorProofTooLong(uint256 length, uint256 max);
    error AnchorUnknownRulesIndex(uint256 index, uint256 count);
    /// @notice A business time zone offset no zone has: beyond +-max seconds or not a multiple of step.
    error AnchorUtcOffsetOutOfRange(int256 utcOffset, int256 max, int256 step);

    // ----------------------------------------------------------------- rules
    /// @notice Register the hash of the reporting rules now in force (keccak256 of the exact bytes of
    /// config/reporting-rules.yaml) under the version number written in that file. History is kept.
    /// @param rulesHash keccak256 of the rules file
    /// @param version the file's `version`, strictly greater than the last registered one
    /// Requirements:
    /// - caller acts for an active member holding REPORTER or PERMISSION_MANAGER
    /// - `rulesHash` is not zero and was never registered
    /// - `version` > the current version
    function setRules(bytes32 rulesHash, uint64 version) external;

    // ----------------------------------------------------------------- anchoring
    /// @notice Anchor the Merkle root of `regulator`'s report for `day` as version `version`.
    /// @dev (regulator, day, version) is the idempotency key: a resent anchor is refused with
    /// AnchorVersionAlreadyAnchored(regulator, day, version, root, blockNumber) naming the root
    /// anchored first; getAnchor answers for a key (latestVersion tells whether it exists).
    /// @param regulator the regulator member the report is for
    /// @param day business day (local days since 1970-01-01 of the records' block timestamps, see
    /// businessUtcOffset)
    /// @param version 1 + the last anchored version of (regulator, day)
    /// @param root Merkle root of the report's leaves; zero exactly when `recordCount` is zero
    /// @param rulesHash the registered rules that produced the report
    /// @param recordCount number of leaves
    /// Requirements:
    /// - caller acts for an active member holding REPORTER with an open data channel to `regulator`
    ///   (RegistryChannelNotOpen otherwise): only a reporting node the regulator works with (the channel is
    ///   opened by the permission manager on request and either party may close it) takes the regulator's
    ///   next version; any other reporter is refused
    /// - `regulator` is an active member holding REGULATOR
    /// - `day` is not after the current block's business day (today())
    /// - `version` is not anchored yet (AnchorVersionAlreadyAnchored) and is exactly the next version of
    ///   (regulator, day) (AnchorVersionNotNext): nothing is overwritten
    /// - `rulesHash` was registered with setRules
    /// - `root` is zero if and only if `recordCount` is zero
    function anchor(
        address regulator,
        uint32 day,
        uint32 version,
        bytes32 root,
        bytes32 rulesHash,
        uint64 recordCount
    ) external;

    // ----------------------------------------------------------------- views
    /// @notice Whether the record `recordHash` is in the anchored report (regulator, day, version).
    /// @dev Builds the standard leaf from (regulator, day, the anchor's rulesHash, recordHash), so a
    /// record of another regulator, another day or other rules cannot verify. Returns false (never
    /// reverts) for an unknown anchor or an empty report.
    /// @param proof sibling hashes from leaf to root; at most MAX_PROOF_LENGTH
    function verifyRecord(address regulator, uint32 day, uint32 version, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The standard-format leaf of a record (see the contract's leaf format).
    function leafOf(address regulator, uint32 day, bytes32 rulesHash, bytes32 recordHash)
        external
        pure
        returns (bytes32);

    /// @notice The anchor of (regulator, day, version); reverts with AnchorNotFound if none.
    function getAnchor(address regulator, uint32 day, uint32 version) external view returns (Anchor memory);

    /// @notice The last anchored version of (regulator, day); zero if none.
    function latestVersion(address regulator, uint32 day) external view returns (uint32);

    /// @notice The rules in force (the last registered); all zero before the first setRules.
    function currentRules() external view returns (RulesVersion memory);

    /// @notice Number of rules versions ever registered.
    function rulesCount() external view returns (uint256);

    /// @notice The `index`-th registered rules version (0 = first).
    function rulesAt(uint256 index) external view returns (RulesVersion memory);

    /// @notice The version under which `rulesHash` was registered; zero if never.
    function rulesVersionOf(bytes32 rulesHash) external view returns (uint64);

    /// @notice The business day of the current block: floor((block.timestamp + businessUtcOffset) / 86400).
    function today() external view returns (uint32);

    /// @notice The business time zone's fixed offset from UTC in seconds, set at deploy (+28800 for
    /// Asia/Shanghai); report days are local days in that zone.
    function businessUtcOffset() external view returns (int32);
}
