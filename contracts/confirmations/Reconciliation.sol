// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IReconciliation} from "../../interfaces/IReconciliation.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {IdempotencyKeys} from "../libraries/IdempotencyKeys.sol";

/// @title Reconciliation
/// @notice Bilateral commitments of a day, agreed by both sides (the bank commits, the finance company
/// countersigns with EIP-712), the next-day reconciliation result and the payment of the day's credit
/// total from the finance company to the bank. Days are the institutions' business days: UTC shifted by
/// a fixed offset set at deploy (a zone without daylight saving, such as Asia/Shanghai).
/// @dev Invariant enforced, not hoped for: the recorded corrected debit and credit totals both equal the
/// committed total of the day's bilateral details, so the payment is exactly what the client committed.
contract Reconciliation is IReconciliation, ConsortiumManaged, EIP712 {
    using SafeERC20 for IERC20;
    using IdempotencyKeys for mapping(bytes32 => IdempotencyKeys.Use);

    uint256 public constant MAX_RECORDS_PER_BATCH = 1_000_000;
    uint256 public constant MAX_BATCHES_PER_DAY = 256;
    uint256 public constant MAX_BREAKS_PER_CALL = 100;
    uint8 internal constant MAX_CAUSE = 5;
    uint8 internal constant MAX_SIDE = 2;
    /// @dev The widest offsets of the tz database (Etc/GMT+12, Pacific/Kiritimati at +14).
    int256 public constant MAX_UTC_OFFSET = 14 hours;
    bytes32 public constant BILATERAL_TYPEHASH = keccak256(
        "Bilateral(address bank,address financeCompany,uint32 day,bytes32 root,uint32 count,uint128 total)"
    );

    uint256 private immutable _offset;
    IERC20 private immutable _token;
    int32 private immutable _utcOffset;

    mapping(bytes32 dayKey => Day) private _days;
    /// @dev Keyed by the committing bank first: a root is one bank's key, so no other bank can take it.
    mapping(address bank => mapping(bytes32 root => bytes32 dayKey)) private _rootDay;
    // idempotency keys of recordBreaks: the first seq of a call, per day (recordedAs: entries)
    mapping(bytes32 dayKey => mapping(bytes32 firstSeq => IdempotencyKeys.Use)) private _breakBatches;

    /// @param offset_ seconds after local midnight of the next business day when reconciliation may run
    /// @param token_ the deposit token used to pay (zero: payment by reference only)
    /// @param utcOffset_ the business time zone's fixed offset from UTC in seconds (+28800 for
    /// Asia/Shanghai); |utcOffset_| <= MAX_UTC_OFFSET (ReconciliationUtcOffsetOutOfRange)
    constructor(IConsortiumRegistry registry_, uint256 offset_, IERC20 token_, int32 utcOffset_)
        ConsortiumManaged(registry_)
        EIP712("ConsortiumReconciliation", "1")
    {
        if (utcOffset_ > MAX_UTC_OFFSET || utcOffset_ < -MAX_UTC_OFFSET) {
            revert ReconciliationUtcOffsetOutOfRange(utcOffset_, MAX_UTC_OFFSET);
        }
        _offset = offset_;
        _token = token_;
        _utcOffset = utcOffset_;
    }

    /// @inheritdoc IReconciliation
    function commitBilateral(
        address financeCompany,
        uint32 day,
        bytes32 root,
        uint32 count,
        uint128 total,
        bytes calldata countersignature
    ) external {
        address bank = _checkRoleWithChannel(Roles.BANK, financeCompany);
        if (!registry.hasRole(financeCompany, Roles.FINANCE_COMPANY)) {
            revert ReconciliationNotFinanceCompany(financeCompany);
        }
        if (root == bytes32(0)) revert ReconciliationZeroRoot();
        if (count == 0 || count > MAX_RECORDS_PER_BATCH) revert ReconciliationCountOutOfRange(count, MAX_RECORDS_PER_BATCH);
        bytes32 committedTo = _rootDay[bank][root];
        if (committedTo != bytes32(0)) revert ReconciliationRootAlreadyCommitted(root, committedTo);
        bytes32 key = dayKey(bank, financeCompany, day);
        Day storage d = _days[key];
        if (d.closed) revert ReconciliationDayClosed(key);
        if (d.batches >= MAX_BATCHES_PER_DAY) revert ReconciliationTooManyBatches(key, MAX_BATCHES_PER_DAY);
        _checkCountersignature(Bilateral(bank, financeCompany, day, root, count, total), countersignature);
        _rootDay[bank][root] = key;
        d.batches += 1;
        d.committedCount += count;
        d.committedTotal += total;
        emit BilateralCommitted(key, bank, financeCompany, day, root, count, total);
    }

    /// @inheritdoc IReconciliation
    function closeDay(address bank, address financeCompany, uint32 day) external {
        address reconciler = _checkRoleWithChannel(Roles.RECONCILER, bank);
        _checkChannel(reconciler, financeCompany);
        bytes32 key = dayKey(bank, financeCompany, day);
        Day storage d = _days[key];
        if (d.batches == 0) revert ReconciliationNothingCommitted(key);
        uint256 notBefore = uint256(int256((uint256(day) + 1) * 1 days + _offset) - _utcOffset);
        if (block.timestamp < notBefore) revert ReconciliationTooEarly(key, notBefore, block.timestamp);
        if (d.closed) revert ReconciliationDayAlreadyClosed(key, d.batches, d.committedTotal);
        d.closed = true;
        emit DayClosed(key, reconciler, d.batches, d.committedCount, d.committedTotal);
    }

    /// @inheritdoc IReconciliation
    function recordReconciliation(address bank, address financeCompany, uint32 day, Summary calldata s) external {
        address reconciler = _checkRoleWithChannel(Roles.RECONCILER, bank);
        _checkChannel(reconciler, financeCompany);
        bytes32 key = dayKey(bank, financeCompany, day);
        Day storage d = _days[key];
        if (d.batches == 0) revert ReconciliationNothingCommitted(key);
        if (d.reconciled) revert ReconciliationDayAlreadyReconciled(key);
        if (!d.closed) revert ReconciliationDayNotClosed(key);
        if (s.correctedDebit != d.committedTotal || s.correctedCredit != d.committedTotal) {
            revert ReconciliationCorrectedTotalMismatch(key, s.correctedDebit, s.correctedCredit, d.committedTotal);
        }
        if (s.matched > d.committedCount) revert ReconciliationCountMismatch(key, s.matched, d.committedCount);
        if ((s.breaks == 0) != (s.breaksRoot == bytes32(0))) revert ReconciliationBreaksRootMissing(key, s.breaks);
        d.reconciled = true;
        d.matched = s.matched;
        d.breaks = s.breaks;
        d.debitPresented = s.debitPresented;
        d.creditPresented = s.creditPresented;
        d.breaksRoot = s.breaksRoot;
        d.reconciler = reconciler;
        emit DayReconciled(
            key, bank, financeCompany, day, s.matched, s.breaks, s.debitPresented, s.creditPresented, d.committedTotal, s.breaksRoot
        );
    }

    /// @inheritdoc IReconciliation
    function recordBreaks(bytes32 key, BreakEntry[] calldata entries) external {
        address reconciler = _checkRole(Roles.RECONCILER);
        Day storage d = _days[key];
        if (!d.reconciled) revert ReconciliationDayNotReconciled(key);
        if (reconciler != d.reconciler) revert ReconciliationNotDayReconciler(key, msg.sender, d.reconciler);
        uint256 n = entries.length;
        if (n == 0 || n > MAX_BREAKS_PER_CALL) revert ReconciliationTooManyBreaks(key, n, MAX_BREAKS_PER_CALL);
        uint32 firstSeq = entries[0].seq;
        IdempotencyKeys.Use memory earlier = _breakBatches[key].claim(bytes32(uint256(firstSeq)), n);
        if (earlier.blockNumber != 0) {
            revert ReconciliationBreaksAlreadyRecorded(key, firstSeq, earlier.recordedAs, earlier.blockNumber);
        }
        uint32 next = d.breaksRecorded;
        if (next + n > d.breaks) revert ReconciliationTooManyBreaks(key, next + n, d.breaks);
        for (uint256 i; i < n; ++i) {
            BreakEntry calldata e = entries[i];
            if (e.seq != next) revert ReconciliationBreakOutOfOrder(key, next, e.seq);
            if (e.cause == 0 || e.cause > MAX_CAUSE || e.side > MAX_SIDE) {
                revert ReconciliationBadBreak(key, e.seq, e.cause, e.side);
            }
            ++next;
            emit BreakRecorded(key, e.recordId, e.cause, e.seq, e.side, e.presentedAmount, e.correctedAmount);
        }
        d.breaksRecorded = next;
    }

    /// @inheritdoc IReconciliation
    function settleDay(address bank, uint32 day, bytes32 paymentRef) external {
        address fc = _checkRole(Roles.FINANCE_COMPANY);
        bytes32 key = dayKey(bank, fc, day);
        Day storage d = _days[key];
        if (d.batches == 0) revert ReconciliationNotDayParty(key, msg.sender);
        if (!d.reconciled) revert ReconciliationDayNotReconciled(key);
        if (d.settled) revert ReconciliationDayAlreadySettled(key, d.paymentRef, d.settledBlock);
        d.settled = true;
        d.settledBlock = uint64(block.number);
        d.paymentRef = paymentRef;
        bool viaToken = address(_token) != address(0);
        if (viaToken) _token.safeTransferFrom(fc, bank, d.committedTotal);
        emit DaySettled(key, fc, bank, d.committedTotal, paymentRef, viaToken);
    }

    /// @inheritdoc IReconciliation
    function dayKey(address bank, address financeCompany, uint32 day) public pure returns (bytes32) {
        return keccak256(abi.encode(bank, financeCompany, day));
    }

    /// @inheritdoc IReconciliation
    function getDay(bytes32 key) external view returns (Day memory) {
        return _days[key];
    }

    /// @inheritdoc IReconciliation
    function committedDayOf(address bank, bytes32 root) external view returns (bytes32) {
        return _rootDay[bank][root];
    }

    /// @inheritdoc IReconciliation
    function breaksBatchOf(bytes32 key, uint32 firstSeq) external view returns (uint256 count, uint256 blockNumber) {
        return IdempotencyKeys.answer(_breakBatches[key][bytes32(uint256(firstSeq))]);
    }

    /// @inheritdoc IReconciliation
    function reconcileOffset() external view returns (uint256) {
        return _offset;
    }

    /// @inheritdoc IReconciliation
    function settlementToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IReconciliation
    function businessUtcOffset() external view returns (int32) {
        return _utcOffset;
    }

    /// @inheritdoc IReconciliation
    function bilateralDigest(Bilateral memory b) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(BILATERAL_TYPEHASH, b.bank, b.financeCompany, b.day, b.root, b.count, b.total))
        );
    }

    /// @dev The finance company (its member key or an operator of it) signed exactly this batch.
    function _checkCountersignature(Bilateral memory b, bytes calldata signature) private view {
        if (signature.length == 0) revert ReconciliationCountersignatureMissing(b.root);
        // the third value (the signature's length or its s) adds nothing to the error's code here
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(bilateralDigest(b), signature);
        if (err != ECDSA.RecoverError.NoError) revert ReconciliationCountersignatureInvalid(b.root, uint8(err));
        address signerMember = registry.memberOf(signer);
        if (signerMember != b.financeCompany) {
            revert ReconciliationCountersignedByOther(b.root, b.financeCompany, signer, signerMember);
        }
    }
}
