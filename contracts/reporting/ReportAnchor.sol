// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IReportAnchor} from "../../interfaces/IReportAnchor.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {BusinessDay} from "../libraries/BusinessDay.sol";

/// @title ReportAnchor
/// @notice Merkle roots of the regulators' daily reports and the history of the reporting rules.
/// @dev Storage grows with (regulators x days x versions) and with rules versions, never with
/// business volume: a report of any size is one root. Days are the institutions' business days (UTC
/// shifted by the business time zone's fixed offset, set at deploy), the days reconciliation keeps.
contract ReportAnchor is ConsortiumManaged, IReportAnchor {
    /// @notice Longest proof verifyRecord accepts (a tree of 2^64 leaves).
    uint256 public constant MAX_PROOF_LENGTH = 64;
    /// @notice Widest business time zone offset accepted, in seconds (Pacific/Kiritimati at +14 h).
    int256 public constant MAX_UTC_OFFSET = BusinessDay.MAX_UTC_OFFSET;
    /// @notice Business time zone offsets are whole multiples of this many seconds (a quarter hour).
    int256 public constant UTC_OFFSET_STEP = BusinessDay.UTC_OFFSET_STEP;

    int32 private immutable _utcOffset;

    RulesVersion[] private _rules;
    mapping(bytes32 rulesHash => uint64 version) private _rulesVersion;
    mapping(bytes32 reportKey => Anchor) private _anchors;
    mapping(bytes32 dayKey => uint32 version) private _latest;

    /// @param registry_ the consortium's registry, asked for every permission
    /// @param utcOffset_ the business time zone's fixed offset from UTC in seconds (+28800 for
    /// Asia/Shanghai): |utcOffset_| <= MAX_UTC_OFFSET and a multiple of UTC_OFFSET_STEP
    /// (AnchorUtcOffsetOutOfRange otherwise)
    constructor(IConsortiumRegistry registry_, int32 utcOffset_) ConsortiumManaged(registry_) {
        if (!BusinessDay.isUtcOffset(utcOffset_)) {
            revert AnchorUtcOffsetOutOfRange(utcOffset_, MAX_UTC_OFFSET, UTC_OFFSET_STEP);
        }
        _utcOffset = utcOffset_;
    }

    /// @inheritdoc IReportAnchor
    function setRules(bytes32 rulesHash, uint64 version) external {
        if (!registry.hasRole(msg.sender, Roles.REPORTER)) _checkRole(Roles.PERMISSION_MANAGER);
        if (rulesHash == bytes32(0)) revert AnchorZeroHash();
        uint64 known = _rulesVersion[rulesHash];
        if (known != 0) revert AnchorRulesAlreadySet(rulesHash, known);
        uint64 current = _rules.length == 0 ? 0 : _rules[_rules.length - 1].version;
        if (version <= current) revert AnchorRulesVersionNotIncreasing(version, current);
        _rules.push(RulesVersion(rulesHash, version, uint64(block.timestamp), uint64(block.number)));
        _rulesVersion[rulesHash] = version;
        emit RulesSet(rulesHash, version, msg.sender);
    }

    /// @inheritdoc IReportAnchor
    function anchor(
        address regulator,
        uint32 day,
        uint32 version,
        bytes32 root,
        bytes32 rulesHash,
        uint64 recordCount
    ) external {
        // the regulator's own reporting node: a REPORTER with an open channel to the regulator
        _checkRoleWithChannel(Roles.REPORTER, regulator);
        if (!registry.hasRole(regulator, Roles.REGULATOR)) revert AnchorNotRegulator(regulator);
        uint32 today_ = _today();
        if (day > today_) revert AnchorDayInFuture(day, today_);
        bytes32 dayKey = keccak256(abi.encode(regulator, day));
        uint32 latest = _latest[dayKey];
        if (version != 0 && version <= latest) {
            Anchor storage earlier = _anchors[_reportKey(regulator, day, version)];
            revert AnchorVersionAlreadyAnchored(regulator, day, version, earlier.root, earlier.blockNumber);
        }
        if (version != latest + 1) revert AnchorVersionNotNext(regulator, day, version, latest + 1);
        if (_rulesVersion[rulesHash] == 0) revert AnchorUnknownRules(rulesHash);
        if ((root == bytes32(0)) != (recordCount == 0)) revert AnchorRootCountMismatch(root, recordCount);
        _latest[dayKey] = version;
        _anchors[_reportKey(regulator, day, version)] =
            Anchor(root, rulesHash, recordCount, uint64(block.timestamp), msg.sender, uint64(block.number));
        emit ReportAnchored(regulator, day, version, root, rulesHash, recordCount, msg.sender);
    }

    /// @inheritdoc IReportAnchor
    function verifyRecord(address regulator, uint32 day, uint32 version, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (proof.length > MAX_PROOF_LENGTH) revert ReportAnchorProofTooLong(proof.length, MAX_PROOF_LENGTH);
        Anchor storage a = _anchors[_reportKey(regulator, day, version)];
        if (a.root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, a.root, _leaf(regulator, day, a.rulesHash, recordHash));
    }

    /// @inheritdoc IReportAnchor
    function leafOf(address regulator, uint32 day, bytes32 rulesHash, bytes32 recordHash)
        external
        pure
        returns (bytes32)
    {
        return _leaf(regulator, day, rulesHash, recordHash);
    }

    /// @inheritdoc IReportAnchor
    function getAnchor(address regulator, uint32 day, uint32 version) external view returns (Anchor memory a) {
        a = _anchors[_reportKey(regulator, day, version)];
        if (a.anchoredAt == 0) revert AnchorNotFound(regulator, day, version);
    }

    /// @inheritdoc IReportAnchor
    function latestVersion(address regulator, uint32 day) external view returns (uint32) {
        return _latest[keccak256(abi.encode(regulator, day))];
    }

    /// @inheritdoc IReportAnchor
    function currentRules() external view returns (RulesVersion memory r) {
        if (_rules.length != 0) r = _rules[_rules.length - 1];
    }

    /// @inheritdoc IReportAnchor
    function rulesCount() external view returns (uint256) {
        return _rules.length;
    }

    /// @inheritdoc IReportAnchor
    function rulesAt(uint256 index) external view returns (RulesVersion memory) {
        if (index >= _rules.length) revert AnchorUnknownRulesIndex(index, _rules.length);
        return _rules[index];
    }

    /// @inheritdoc IReportAnchor
    function rulesVersionOf(bytes32 rulesHash) external view returns (uint64) {
        return _rulesVersion[rulesHash];
    }

    /// @inheritdoc IReportAnchor
    function today() external view returns (uint32) {
        return _today();
    }

    /// @inheritdoc IReportAnchor
    function businessUtcOffset() external view returns (int32) {
        return _utcOffset;
    }

    function _today() internal view returns (uint32) {
        return BusinessDay.dayOf(block.timestamp, _utcOffset);
    }

    function _reportKey(address regulator, uint32 day, uint32 version) internal pure returns (bytes32) {
        return keccak256(abi.encode(regulator, day, version));
    }

    function _leaf(address regulator, uint32 day, bytes32 rulesHash, bytes32 recordHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(regulator, day, rulesHash, recordHash))));
    }
}
