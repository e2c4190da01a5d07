// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IReconciliation
/// @notice Bank / finance-company next-day reconciliation. The paying client's bilateral details are
/// committed as Merkle roots with their count and total during the day; at the configured time of the
/// next day the reconciler closes the day to new batches (closeDay), then records the day's result (exact corrected amounts, breaks by cause), and the
/// finance company pays the bank the day's corrected credit total.
/// @dev A day is keyed by `dayKey(bank, financeCompany, day)`, `day` = business days since 1970-01-01:
/// floor((timestamp + businessUtcOffset) / 86400), the institutions' local day (consortium.domain.days).
/// Rounding: none; amounts are integer minor units and the corrected total must equal the committed
/// total exactly (the on-chain bilateral commitment is the truth).
interface IReconciliation {
    /// @notice What the chain holds for one (bank, finance company, day).
    struct Day {
        uint32 committedCount;
        uint32 batches;
        uint128 committedTotal;
        bool reconciled;
        bool settled;
        uint32 matched;
        uint32 breaks;
        uint32 breaksRecorded;
        uint64 settledBlock; // block of the settleDay call; 0 until settled
        uint128 debitPresented;
        uint128 creditPresented;
        bytes32 breaksRoot;
        bytes32 paymentRef;
        address reconciler; // the member that recorded the reconciliation (only it publishes the breaks)
        bool closed; // closed to new batches by a reconciler (closeDay), before it reconciles
    }

    /// @notice One batch of bilateral details as both sides agree it: the EIP-712 struct the finance
    /// company countersigns (domain "ConsortiumReconciliation", version "1", this contract).
    struct Bilateral {
        address bank;
        address financeCompany;
        uint32 day;
        bytes32 root;
        uint32 count;
        uint128 total;
    }

    /// @notice The reconciler's summary of a day.
    struct Summary {
        uint32 matched;
        uint32 breaks;
        uint128 debitPresented;
        uint128 creditPresented;
        uint128 correctedDebit;
        uint128 correctedCredit;
        bytes32 breaksRoot;
    }

    /// @notice One break as a person reads it: which record, what went wrong, on which side.
    /// @dev cause: 1 missing, 2 amount mismatch, 3 duplicate, 4 unknown id, 5 not matching commitment;
    /// side: 0 bilateral, 1 debit (finance company), 2 credit (bank).
    struct BreakEntry {
        uint32 seq;
        bytes32 recordId;
        uint8 cause;
        uint8 side;
        uint128 presentedAmount;
        uint128 correctedAmount;
    }

    // ----------------------------------------------------------------- events
    event BilateralCommitted(
        bytes32 indexed dayKey, address indexed bank, address indexed financeCompany, uint32 day, bytes32 root, uint32 count, uint128 total
    );
    event DayReconciled(
        bytes32 indexed dayKey,
        address indexed bank,
        address indexed financeCompany,
        uint32 day,
        uint32 matched,
        uint32 breaks,
        uint128 debitPresented,
        uint128 creditPresented,
        uint128 corrected,
        bytes32 breaksRoot
    );
    event BreakRecorded(
        bytes32 indexed dayKey, bytes32 indexed recordId, uint8 indexed cause, uint32 seq, uint8 side, uint128 presentedAmount, uint128 correctedAmount
    );
    event DayClosed(bytes32 indexed dayKey, address indexed reconciler, uint32 batches, uint32 committedCount, uint128 committedTotal);
    event DaySettled(
        bytes32 indexed dayKey, address indexed financeCompany, address indexed bank, uint128 amount, bytes32 paymentRef, bool tokenTransfer
    );

    // ----------------------------------------------------------------- errors
    error ReconciliationZeroRoot();
    error ReconciliationRootAlreadyCommitted(bytes32 root, bytes32 dayKey);
    error ReconciliationCountOutOfRange(uint256 count, uint256 max);
    error ReconciliationTooManyBatches(bytes32 dayKey, uint256 max);
    /// @notice The day was closed to new batches (closeDay) or reconciled: a late batch is refused.
    error ReconciliationDayClosed(bytes32 dayKey);
    /// @notice The day was closed before (with this many batches and this total).
    error ReconciliationDayAlreadyClosed(bytes32 dayKey, uint32 batches, uint128 committedTotal);
    /// @notice A day is reconciled only after a reconciler closed it to new batches (closeDay).
    error ReconciliationDayNotClosed(bytes32 dayKey);
    /// @notice The counterparty of a bilateral commitment must be an active member holding FINANCE_COMPANY.
    error ReconciliationNotFinanceCompany(address financeCompany);
    error ReconciliationNothingCommitted(bytes32 dayKey);
    error ReconciliationTooEarly(bytes32 dayKey, uint256 notBefore, uint256 now_);
    error ReconciliationDayAlreadyReconciled(bytes32 dayKey);
    error ReconciliationDayNotReconciled(bytes32 dayKey);
    error ReconciliationDayAlreadySettled(bytes32 dayKey, bytes32 paymentRef, uint256 settledBlock);
    error ReconciliationCorrectedTotalMismatch(bytes32 dayKey, uint128 correctedDebit, uint128 correctedCredit, uint128 committed);
    error ReconciliationCountMismatch(bytes32 dayKey, uint256 matchedPlusBroken, uint256 committedCount);
    error ReconciliationBreaksRootMissing(bytes32 dayKey, uint32 breaks);
    error ReconciliationTooManyBreaks(bytes32 dayKey, uint256 given, uint256 max);
    error ReconciliationBreakOutOfOrder(bytes32 dayKey, uint32 expectedSeq, uint32 givenSeq);
    error ReconciliationBadBreak(bytes32 dayKey, uint32 seq, uint8 cause, uint8 side);
    error ReconciliationNotDayParty(bytes32 dayKey, address caller);
    error ReconciliationNotDayReconciler(bytes32 dayKey, address caller, address reconciler);
    error ReconciliationBreaksAlreadyRecorded(bytes32 dayKey, uint32 firstSeq, uint256 count, uint256 blockNumber);
    /// @notice A batch was committed without the finance company's countersignature (empty signature).
    error ReconciliationCountersignatureMissing(bytes32 root);
    /// @notice The countersignature is not a valid ECDSA signature (OpenZeppelin ECDSA.RecoverError:
    /// 1 invalid, 2 bad length, 3 high s).
    error ReconciliationCountersignatureInvalid(bytes32 root, uint8 recoverError);
    /// @notice The countersignature recovers to a key that is not the batch's finance company nor one of
    /// its operators (another member, or a signature over other values: another root, count, total or day).
    error ReconciliationCountersignedByOther(bytes32 root, address financeCompany, address signer, address signerMember);
    /// @notice The business time zone's offset is beyond the widest of the tz database.
    error ReconciliationUtcOffsetOutOfRange(int256 utcOffset, int256 max);

    // ----------------------------------------------------------------- day
    /// @notice Commit one batch of the day's bilateral details (root, count, total) for a bank / finance
    /// company pair, countersigned by the finance company: the batch counts for the day only as both
    /// sides agreed it. The debit and credit details go off chain to each side's store.
    /// @dev The (bank, root) pair is the batch's idempotency key: a resent batch is refused with
    /// ReconciliationRootAlreadyCommitted(root, dayKey); committedDayOf(bank, root) answers for it. Another
    /// bank committing the same root takes nothing from this bank (keys are per bank).
    /// @param financeCompany the counterparty of the payments
    /// @param day business day number of the payments (local days since 1970-01-01)
    /// @param root OpenZeppelin standard Merkle root over the bilateral details
    /// @param count number of details under the root (1..MAX_RECORDS_PER_BATCH)
    /// @param total sum of their amounts in minor units
    /// @param countersignature the finance company's EIP-712 signature of
    /// Bilateral(bank, financeCompany, day, root, count, total) (bilateralDigest), by its member key or an
    /// operator of it
    /// Requirements:
    /// - caller acts for an active member holding BANK; channel with `financeCompany` open
    /// - `financeCompany` is an active member holding FINANCE_COMPANY (ReconciliationNotFinanceCompany)
    /// - a countersignature is given (ReconciliationCountersignatureMissing), is a valid ECDSA signature
    ///   (ReconciliationCountersignatureInvalid) and recovers to the finance company or one of its
    ///   operators over exactly these values (ReconciliationCountersignedByOther)
    /// - root non-zero and never committed by this bank; at most MAX_BATCHES_PER_DAY batches a day
    /// - the day is not closed (closeDay) nor reconciled (ReconciliationDayClosed): a bank cannot add a
    ///   batch to a day the reconciler has closed to count it
    function commitBilateral(
        address financeCompany,
        uint32 day,
        bytes32 root,
        uint32 count,
        uint128 total,
        bytes calldata countersignature
    ) external;

    /// @notice Close a past day to new batches, fixing the committed count and total the reconciler then
    /// reconciles (so no batch added in between can move the total it reconciles against).
    /// @dev The reconciler closes the day first, reads the frozen batches, then records the result.
    /// Requirements:
    /// - caller acts for an active member holding RECONCILER, with an open channel to both the bank and
    ///   the finance company (RegistryChannelNotOpen)
    /// - something was committed for the day (ReconciliationNothingCommitted)
    /// - now >= (day + 1) * 1 days + reconcileOffset - businessUtcOffset (ReconciliationTooEarly): the
    ///   preset time of the next local business day
    /// - not closed before (ReconciliationDayAlreadyClosed: safe to retry after a crash)
    function closeDay(address bank, address financeCompany, uint32 day) external;

    /// @notice Record the day's reconciliation result with the exact corrected amounts.
    /// Requirements:
    /// - caller acts for an active member holding RECONCILER, with an open channel to both the bank
    ///   and the finance company (RegistryChannelNotOpen): the reconciler entitled to the day is the one
    ///   the parties send their details to, so another reconciler cannot front-run it and close the day
    /// - something was committed for the day
    /// - not reconciled before (ReconciliationDayAlreadyReconciled: safe to retry after a crash)
    /// - the day was closed to new batches (ReconciliationDayNotClosed; closeDay checks the time)
    /// - correctedDebit == correctedCredit == committed total; matched <= committed count
    /// - breaks > 0 iff breaksRoot != 0
    function recordReconciliation(address bank, address financeCompany, uint32 day, Summary calldata summary) external;

    /// @notice Publish the day's breaks, in order, so a reader sees each break and its cause.
    /// @dev Idempotency key: (dayKey, seq of the first entry), one storage slot per call. A resent call
    /// is refused with ReconciliationBreaksAlreadyRecorded(dayKey, firstSeq, count, blockNumber);
    /// breaksBatchOf answers for a key.
    /// Requirements: RECONCILER, the member that recorded the day's reconciliation
    /// (ReconciliationNotDayReconciler); day reconciled; 1..MAX_BREAKS_PER_CALL entries; no earlier call
    /// for the day began at the same seq; entries continue the sequence (seq = breaks recorded so far, so
    /// any other overlap reverts instead of recording twice); never more than the summary's break count;
    /// cause 1..5, side 0..2.
    function recordBreaks(bytes32 key, BreakEntry[] calldata entries) external;

    /// @notice The finance company pays the bank the day's corrected credit total: a transfer of the
    /// settlement token (when configured, from an allowance to this contract) and the payment reference.
    /// @dev The day is the idempotency key: a resent payment is refused with
    /// ReconciliationDayAlreadySettled(dayKey, paymentRef, settledBlock) (the first payment's reference
    /// and block); getDay shows both.
    /// Requirements: FINANCE_COMPANY, the day's finance company; day reconciled, not settled.
    function settleDay(address bank, uint32 day, bytes32 paymentRef) external;

    // ----------------------------------------------------------------- views
    /// @notice keccak256(abi.encode(bank, financeCompany, day)).
    function dayKey(address bank, address financeCompany, uint32 day) external pure returns (bytes32);

    /// @notice The day's record.
    function getDay(bytes32 dayKey_) external view returns (Day memory);

    /// @notice Whether `bank` committed a bilateral root, and for which day (zero: not by this bank).
    function committedDayOf(address bank, bytes32 root) external view returns (bytes32 dayKey_);

    /// @notice Whether a recordBreaks call for the day began at `firstSeq`.
    /// @return count entries that call recorded (0: none)
    /// @return blockNumber the block of that call (0: none)
    function breaksBatchOf(bytes32 dayKey_, uint32 firstSeq) external view returns (uint256 count, uint256 blockNumber);

    /// @notice Seconds after local midnight of the following business day from which a day may be
    /// reconciled.
    function reconcileOffset() external view returns (uint256);

    /// @notice The business time zone's fixed offset from UTC in seconds (+28800: Asia/Shanghai).
    function businessUtcOffset() external view returns (int32);

    /// @notice The EIP-712 digest the finance company signs to countersign a batch.
    function bilateralDigest(Bilateral memory b) external view returns (bytes32);

    /// @notice The deposit token the finance company pays with (zero: payment reference only).
    function settlementToken() external view returns (address);
}
