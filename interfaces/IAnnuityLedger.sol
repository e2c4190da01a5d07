// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAnnuityPlans} from "./IAnnuityPlans.sol";

/// @title IAnnuityLedger
/// @notice Enterprise-annuity accounts, contributions, allocation instructions and holdings, shared by
/// the four platforms: the annuity service platform (ANNUITY_PLATFORM, employee-facing), the trustee
/// (TRUSTEE), the account manager (ACCOUNT_MANAGER) and the investment manager (INVESTMENT_MANAGER).
/// @dev Accounts are keyed by a salted hash of the employee id: nothing personal goes on chain.
/// Money is in integer minor units. Holdings are units per item per account; the value of `units` at
/// an item's unit price is floor(units * price / 1e18) (see libraries/Allocation.sol for every
/// rounding rule). An instruction's legs (int256, positive buy, negative sell, minor units) sum to its
/// `amount` exactly. Lifecycle: Issued -> Executed (by the investment manager) -> FeedbackReported
/// (investment manager) -> Settled (feedback forwarded by the trustee). An account has at most one
/// instruction in flight. Items, legs and prices travel in events and calldata; the contract keeps
/// their keccak256 and checks every later call against it.
/// Counterparties are bound (not just roles): an employer, registered by its service platform, names
/// the trustee it entrusted and the account manager keeping its employees' accounts; each account
/// belongs to one employer. Only that platform requests its accounts and sends their plan choices,
/// only that trustee receives their contributions, allocates their cash and forwards their feedback,
/// only that account manager opens the accounts, posts their contributions and resets their holdings.
/// A plan belongs to its trustee (AnnuityPlans), who appoints its investment manager: only that
/// manager executes and reports the plan's instructions. An account chooses only plans of its trustee.
interface IAnnuityLedger {
    enum AccountStatus {
        None,
        Requested,
        Open
    }

    /// @notice First: new money only, by the plan's ratios. Reset: existing holdings and new money
    /// moved to the plan's ratios (the "second allocation instruction").
    enum InstructionKind {
        First,
        Reset
    }

    /// @notice Why allocateCash passed over an account (AllocationSkipped): the rest of the batch goes on.
    enum AllocationSkipReason {
        NotOpen,
        NoPlan,
        ResetPending,
        InstructionOpen,
        NothingToAllocate,
        TooManyHoldings
    }

    enum InstructionStatus {
        None,
        Issued,
        Executed,
        FeedbackReported,
        Settled,
        AwaitingTrustee // a Reset instruction the trustee has not confirmed yet (confirmReset)
    }

    struct Account {
        AccountStatus status;
        bool assetRecord; // created by the first posted contribution
        bool resetPending; // the platform asked for a reset the account manager has not done yet
        uint32 planVersion;
        uint64 openInstruction; // 0 when no instruction is in flight
        uint32 employer; // the employer id the account was requested under
        bytes32 planCode; // zero until a plan is chosen
        uint128 cash; // contributed, not yet allocated (minor units)
        uint128 contributed; // all contributions posted (minor units)
        bytes32 choiceHash; // the evidence of the employee's current plan choice (choosePlan)
    }

    struct Instruction {
        bytes32 account;
        bytes32 planCode;
        uint32 planVersion;
        InstructionKind kind;
        InstructionStatus status;
        uint128 amount; // new money allocated == sum of legs
        uint64 sellOutMask; // bit i: item i is sold out (all units) on execution (Reset targets of 0)
        bytes32 itemsHash; // keccak256(abi.encode(items))
        bytes32 legsHash; // keccak256(abi.encode(legs))
        bytes32 feedbackHash; // keccak256(abi.encode(unitPrices)) once reported
        bytes32 choiceHash; // the employee's plan choice (its evidence hash) that produced it
    }

    /// @notice One instruction's execution in executeInstructions (executeInstruction's arguments).
    struct Execution {
        uint256 instructionId;
        bytes32[] items;
        int256[] legs;
        uint256[] prices;
    }

    /// @notice One instruction's feedback in reportFeedbacks (reportFeedback's arguments).
    struct FeedbackReport {
        uint256 instructionId;
        bytes32[] items;
        uint256[] unitPrices;
        bytes32 reportHash;
    }

    /// @notice One instruction's feedback in forwardFeedbacks (forwardFeedback's arguments).
    struct FeedbackForward {
        uint256 instructionId;
        bytes32[] items;
        uint256[] unitPrices;
    }

    /// @notice An employer's appointed counterparties (member addresses).
    struct Employer {
        address platform; // the annuity service platform that registered it and speaks for it
        address trustee; // the trustee the employer entrusted
        address accountManager; // the account manager keeping its employees' accounts
    }

    struct ContributionBatch {
        bytes32 contentHash; // keccak256(abi.encode(accounts, amounts))
        bytes32 batchRef; // the employer's payroll reference (hash)
        uint128 total;
        uint32 count;
        bool posted;
        uint64 postedBlock; // block of the postContributions call; 0 until posted
    }

    // ----------------------------------------------------------------- events
    event EmployerRegistered(
        uint32 indexed employerId,
        address indexed platform,
        address indexed trustee,
        address accountManager,
        bytes32 employerRef
    );
    event AccountOpeningRequested(bytes32 indexed account, address indexed platform, uint32 indexed employerId);
    event AccountOpened(bytes32 indexed account, address indexed accountManager);
    event ContributionBatchReceived(
        uint256 indexed batchId, address indexed trustee, bytes32 indexed batchRef, uint256 count, uint256 total
    );
    event AssetRecordCreated(bytes32 indexed account, uint256 indexed batchId, address indexed accountManager);
    event ContributionPosted(
        bytes32 indexed account, uint256 indexed batchId, uint256 amount, uint256 cash, uint256 contributed
    );
    event ContributionBatchPosted(uint256 indexed batchId, address indexed accountManager, uint256 count, uint256 total);
    event PlanChosen(bytes32 indexed account, bytes32 indexed planCode, address indexed platform, uint32 version, bool reset);
    event HoldingsReset(
        bytes32 indexed account, uint256 indexed instructionId, address indexed accountManager, uint256 investedValue
    );
    event InstructionIssued(
        uint256 indexed instructionId,
        bytes32 indexed account,
        address indexed issuer,
        InstructionKind kind,
        bytes32 planCode,
        uint32 planVersion,
        uint256 amount,
        bytes32[] items,
        int256[] legs,
        uint256 sellOutMask
    );
    event AllocationSkipped(bytes32 indexed account, address indexed trustee, AllocationSkipReason reason);
    /// @notice The trustee confirmed a Reset instruction: the investment manager may execute it.
    event ResetConfirmed(uint256 indexed instructionId, bytes32 indexed account, address indexed trustee);
    event InstructionExecuted(
        uint256 indexed instructionId,
        bytes32 indexed account,
        address indexed investmentManager,
        bytes32[] items,
        uint256[] prices,
        int256[] unitDeltas,
        uint256[] unitsAfter
    );
    event FeedbackReported(
        uint256 indexed instructionId,
        bytes32 indexed account,
        address indexed investmentManager,
        uint256[] unitPrices,
        bytes32 reportHash
    );
    event UnitPriceUpdated(bytes32 indexed item, uint256 indexed instructionId, uint256 price);
    event InstructionSettled(
        uint256 indexed instructionId,
        bytes32 indexed account,
        address indexed trustee,
        uint256 invested,
        uint256 cash,
        uint256 contributed,
        int256 totalReturn
    );

    // ----------------------------------------------------------------- errors
    error AnnuityZeroPlans();
    error AnnuityEmptyBatch();
    error AnnuityBatchTooLarge(uint256 size, uint256 max);
    error AnnuityLengthMismatch(uint256 accounts, uint256 amounts);
    error AnnuityZeroAccount(uint256 index);
    error AnnuityAccountExists(bytes32 account, AccountStatus status);
    error AnnuityAccountNotRequested(bytes32 account, AccountStatus status);
    error AnnuityAccountNotOpen(bytes32 account, AccountStatus status);
    error AnnuityZeroContribution(bytes32 account, uint256 index);
    error AnnuityContributionTooLarge(bytes32 account, uint256 amount, uint256 max);
    error AnnuityUnknownBatch(uint256 batchId);
    error AnnuityBatchAlreadyPosted(uint256 batchId, uint256 postedBlock);
    error AnnuityZeroBatchRef();
    error AnnuityBatchRefUsed(bytes32 batchRef, uint256 batchId, uint256 blockNumber);
    error AnnuityBatchMismatch(uint256 batchId);
    error AnnuityInstructionOpen(bytes32 account, uint256 instructionId);
    error AnnuityNoResetRequested(bytes32 account);
    error AnnuityNothingToAllocate(bytes32 account);
    error AnnuityTooManyHoldings(bytes32 account, uint256 items, uint256 max);
    error AnnuityUnknownInstruction(uint256 instructionId);
    error AnnuityInstructionNotInState(uint256 instructionId, InstructionStatus status, InstructionStatus expected);
    /// @notice A Reset instruction is executed only once the account's trustee confirmed it (confirmReset).
    error AnnuityResetNotConfirmed(uint256 instructionId, address trustee);
    /// @notice A plan choice is recorded only with the hash of its evidence: the employee's signed choice,
    /// or the platform's attestation with the employee's consent reference.
    error AnnuityChoiceNotEvidenced(bytes32 account);
    error AnnuityInstructionMismatch(uint256 instructionId);
    error AnnuityPriceOutOfRange(bytes32 item, uint256 price, uint256 max);
    /// @notice No employer has id `employerId`.
    error AnnuityUnknownEmployer(uint32 employerId);
    /// @notice `caller` (the member it acts for) is not the platform `expected` of employer `employerId`.
    error AnnuityNotEmployerPlatform(uint32 employerId, address caller, address expected);
    /// @notice `caller` is not the trustee `expected` of `account`'s employer (zero: unknown account).
    error AnnuityNotTrustee(bytes32 account, address caller, address expected);
    /// @notice `caller` is not the account manager `expected` of `account`'s employer.
    error AnnuityNotAccountManager(bytes32 account, address caller, address expected);
    /// @notice `caller` is not the investment manager `expected` appointed for the instruction's plan.
    error AnnuityNotInvestmentManager(uint256 instructionId, address caller, address expected);
    /// @notice A contribution batch is one employer's payroll: `account` is of `employerId`, not `expected`.
    error AnnuityBatchMixesEmployers(bytes32 account, uint32 employerId, uint32 expected);
    /// @notice `account`'s trustee is `accountTrustee`; plan `planCode` belongs to `planTrustee`.
    error AnnuityPlanOfOtherTrustee(bytes32 account, bytes32 planCode, address planTrustee, address accountTrustee);
    /// @notice Plan `planCode` has no investment manager appointed: its instructions could not execute.
    error AnnuityNoInvestmentManager(bytes32 planCode);

    // ----------------------------------------------------------------- employers
    /// @notice Register an employer whose employees the calling platform enrols, with the trustee the
    /// employer entrusted and the account manager keeping its accounts. Ids are assigned in order
    /// (1, 2, ...), so nobody can take another's id.
    /// @param employerRef hash of the employer's reference (kept off chain), for the platform's books
    /// @param trustee an address acting for an active member holding TRUSTEE (its member is recorded)
    /// @param accountManager an address acting for an active member holding ACCOUNT_MANAGER (ditto)
    /// @return employerId the employer's id
    /// Requirements:
    /// - caller acts for an active member holding ANNUITY_PLATFORM (it becomes the employer's platform)
    /// - `trustee` and `accountManager` hold their roles in active members (the registry's
    ///   RegistryNotActiveMember / RegistryMissingRole)
    function registerEmployer(bytes32 employerRef, address trustee, address accountManager)
        external
        returns (uint32 employerId);

    // ----------------------------------------------------------------- accounts
    /// @notice Ask for annuity accounts to be opened (employee onboarding), one per salted employee hash.
    /// @param employerId the employer whose employees they are (its trustee and account manager act on them)
    /// @param accounts salted hashes of employee ids; the platform keeps the salts
    /// Requirements:
    /// - caller acts for an active member holding ANNUITY_PLATFORM, the employer's platform
    ///   (AnnuityUnknownEmployer, AnnuityNotEmployerPlatform)
    /// - 1..MAX_BATCH accounts, each non-zero and never requested before
    function requestAccounts(uint32 employerId, bytes32[] calldata accounts) external;

    /// @notice Open requested accounts.
    /// Requirements:
    /// - caller acts for an active member holding ACCOUNT_MANAGER, each account's account manager
    ///   (AnnuityNotAccountManager)
    /// - 1..MAX_BATCH accounts, each in status Requested
    function openAccounts(bytes32[] calldata accounts) external;

    // ----------------------------------------------------------------- contributions
    /// @notice Record an employer's contributions as received by the trustee (e.g. one month's payroll).
    /// Only the batch's hash, count and total are kept until the account manager posts it.
    /// @dev `batchRef` is the batch's idempotency key: a trustee that resends a batch (it died before
    /// recording the receipt) is refused with AnnuityBatchRefUsed(batchRef, batchId, blockNumber) and
    /// finds the booked batch with batchOfRef. One storage slot per batch.
    /// @param batchRef hash of the employer's payroll reference, unique per batch
    /// @param accounts open accounts credited
    /// @param amounts contribution of each account in minor units, each 1..MAX_CONTRIBUTION
    /// @return batchId the id the account manager posts
    /// Requirements:
    /// - caller acts for an active member holding TRUSTEE, the trustee of the accounts (AnnuityNotTrustee)
    /// - batchRef non-zero (AnnuityZeroBatchRef) and never used before (AnnuityBatchRefUsed)
    /// - 1..MAX_BATCH entries, as many amounts as accounts, all of one employer (AnnuityBatchMixesEmployers)
    function receiveContributions(bytes32 batchRef, bytes32[] calldata accounts, uint256[] calldata amounts)
        external
        returns (uint256 batchId);

    /// @notice Post a received batch to the asset records: creates the record on an account's first
    /// contribution, adds to its cash (unallocated money) and its contributed total afterwards.
    /// @dev The batch id is the idempotency key: a resent post is refused with
    /// AnnuityBatchAlreadyPosted(batchId, postedBlock); getContributionBatch tells whether (and in
    /// which block) a batch was posted.
    /// Requirements:
    /// - caller acts for an active member holding ACCOUNT_MANAGER
    /// - batch received, not yet posted; `accounts` and `amounts` exactly as received
    /// - caller's member is the account manager of the batch's employer (AnnuityNotAccountManager)
    function postContributions(uint256 batchId, bytes32[] calldata accounts, uint256[] calldata amounts) external;

    // ----------------------------------------------------------------- plans and instructions
    /// @notice Record the employee's chosen target plan. Without reset, the account's cash (if any) is
    /// split by the plan's ratios into a First instruction to the investment manager. With reset, the
    /// account manager must reset the holdings (resetHoldings) to issue the Reset instruction.
    /// Every instruction the choice produces (First, Reset, or the later months' First) carries its
    /// `choiceHash` (getInstruction), so a statement shows which choice produced which instruction.
    /// @param choiceHash keccak256 of the choice's evidence (consortium.domain.annuity_choice): the
    /// employee's signed choice, or the platform's attestation with the employee's consent reference
    /// @return instructionId the First instruction issued, 0 when none (reset asked, or no cash)
    /// Requirements:
    /// - a non-zero choiceHash (AnnuityChoiceNotEvidenced)
    /// - caller acts for an active member holding ANNUITY_PLATFORM, the platform of the account's
    ///   employer (AnnuityNotEmployerPlatform)
    /// - account Open, no instruction in flight; plan version defined
    /// - the plan belongs to the account's trustee (AnnuityPlanOfOtherTrustee) and has an investment
    ///   manager (AnnuityNoInvestmentManager)
    /// - without reset: the account holds at most MAX_HELD_ITEMS items afterwards
    function choosePlan(bytes32 account, bytes32 planCode, uint32 version, bool reset, bytes32 choiceHash)
        external
        returns (uint256 instructionId);

    /// @notice Reset the historical holdings of an account that asked for it: values every held item
    /// at its unit price, splits (value + cash) by the chosen plan's ratios (largest remainder) and
    /// issues the Reset instruction with net per-item legs. Every item whose target is zero (all items
    /// outside the plan, and plan items too small to get a minor unit) is sold out: its bit in
    /// `sellOutMask` is set and executing sells all of its units, so no zero-value dust is left and the
    /// account afterwards holds only plan items (at most MAX_PLAN_ITEMS <= MAX_HELD_ITEMS): repeated
    /// resets never grow the holdings past the cap. The Reset instruction awaits the trustee
    /// (status AwaitingTrustee) until it confirms it (confirmReset).
    /// Requirements:
    /// - caller acts for an active member holding ACCOUNT_MANAGER, the account's (AnnuityNotAccountManager)
    /// - account Open with a reset pending and no instruction in flight; value + cash > 0
    function resetHoldings(bytes32 account) external returns (uint256 instructionId);

    /// @notice The trustee confirms a Reset instruction (the second investment information comes
    /// from the trustee platform): until then the investment manager cannot execute it.
    /// Requirements:
    /// - caller acts for an active member holding TRUSTEE, the trustee of the account's employer
    ///   (AnnuityNotTrustee)
    /// - the instruction exists (AnnuityUnknownInstruction) and awaits the trustee
    ///   (AnnuityInstructionNotInState: a First instruction, or one confirmed before)
    function confirmReset(uint256 instructionId) external;

    /// @notice Split the cash of accounts by their current plans (monthly investment of contributions).
    /// An account that cannot be allocated now (not open, no plan, reset pending, instruction in
    /// flight, no cash, or its plan would take it past MAX_HELD_ITEMS) is passed over with
    /// AllocationSkipped(account, trustee, reason) and id 0: one account never sinks the batch.
    /// @return instructionIds one First instruction id per account, 0 for a skipped one
    /// Requirements:
    /// - caller acts for an active member holding TRUSTEE, the trustee of every account (AnnuityNotTrustee:
    ///   a batch naming another trustee's or an unknown account is refused whole)
    /// - 1..MAX_ALLOCATION_BATCH accounts
    function allocateCash(bytes32[] calldata accounts) external returns (uint256[] memory instructionIds);

    /// @notice Execute an issued instruction at the given per-item prices: buys get
    /// floor(leg * 1e18 / price) units, sells give up ceil(-leg * 1e18 / price) units (at most the units
    /// held). Executes once.
    /// A leg whose bit is set in the instruction's sellOutMask sells every unit held.
    /// Requirements:
    /// - caller acts for an active member holding INVESTMENT_MANAGER, the one appointed for the
    ///   instruction's plan (AnnuityNotInvestmentManager)
    /// - a Reset instruction confirmed by the trustee first (AnnuityResetNotConfirmed)
    /// - instruction Issued; `items` and `legs` exactly as issued; one price per item, 1..MAX_UNIT_PRICE
    function executeInstruction(
        uint256 instructionId,
        bytes32[] calldata items,
        int256[] calldata legs,
        uint256[] calldata prices
    ) external;

    /// @notice executeInstruction for each of `executions`, all or none: the investment manager
    /// executes a range's instructions in a few transactions instead of one each (the caller keeps
    /// a call within the transaction gas limit: about 77,000 gas a leg). The same events as one by one.
    /// Requirements: executeInstruction's, for every execution (a refused one names its instruction
    /// and nothing of the batch is executed); 1..MAX_INSTRUCTION_BATCH executions
    function executeInstructions(Execution[] calldata executions) external;

    /// @notice Report the investment feedback of an executed instruction: the unit price of each of
    /// its items after execution.
    /// @param reportHash hash of the full feedback report kept off chain
    /// Requirements:
    /// - caller acts for an active member holding INVESTMENT_MANAGER, the one appointed for the
    ///   instruction's plan (AnnuityNotInvestmentManager)
    /// - instruction Executed; `items` as issued; one price per item, 1..MAX_UNIT_PRICE
    function reportFeedback(uint256 instructionId, bytes32[] calldata items, uint256[] calldata unitPrices, bytes32 reportHash)
        external;

    /// @notice reportFeedback for each of `reports`, all or none (the same events as one by one).
    /// Requirements: reportFeedback's, for every report (a refused one names its instruction and
    /// nothing of the batch is reported); 1..MAX_INSTRUCTION_BATCH reports
    function reportFeedbacks(FeedbackReport[] calldata reports) external;

    /// @notice Forward reported feedback: the unit prices become the items' prices, the instruction is
    /// settled and the account's value and return are published.
    /// Requirements:
    /// - caller acts for an active member holding TRUSTEE, the trustee of the instruction's account
    ///   (AnnuityNotTrustee)
    /// - instruction FeedbackReported; `items` and `unitPrices` exactly as reported
    function forwardFeedback(uint256 instructionId, bytes32[] calldata items, uint256[] calldata unitPrices) external;

    /// @notice forwardFeedback for each of `forwards`, all or none (the same events as one by one):
    /// the trustee settles a day's feedback in a few transactions instead of one per instruction.
    /// Requirements: forwardFeedback's, for every forward (a refused one names its instruction and
    /// nothing of the batch is forwarded); 1..MAX_INSTRUCTION_BATCH forwards
    function forwardFeedbacks(FeedbackForward[] calldata forwards) external;

    // ----------------------------------------------------------------- views
    /// @notice The plans contract instructions are computed from.
    function plans() external view returns (IAnnuityPlans);

    function getAccount(bytes32 account) external view returns (Account memory);

    /// @notice An employer's platform, trustee and account manager (all zero if unknown).
    function getEmployer(uint32 employerId) external view returns (Employer memory);

    /// @notice Employers registered so far (the last id).
    function employerCount() external view returns (uint32);

    function getInstruction(uint256 instructionId) external view returns (Instruction memory);

    function getContributionBatch(uint256 batchId) external view returns (ContributionBatch memory);

    /// @notice Whether a contribution batch was received under `batchRef`, and as which batch.
    /// @return batchId the batch booked under the reference (0: never used)
    /// @return blockNumber the block of the receiveContributions call (0: never used)
    function batchOfRef(bytes32 batchRef) external view returns (uint256 batchId, uint256 blockNumber);

    function instructionCount() external view returns (uint256);

    function batchCount() external view returns (uint256);

    /// @notice Items an account holds (units > 0), their units and values (floor rounding).
    function holdingsOf(bytes32 account)
        external
        view
        returns (bytes32[] memory items, uint256[] memory units, uint256[] memory values);

    /// @notice Units of `item` held by `account`.
    function unitsOf(bytes32 account, bytes32 item) external view returns (uint256);

    /// @notice Invested value (sum of floored item values), cash, contributions and
    /// return = invested + cash - contributed, all in minor units.
    function valuation(bytes32 account)
        external
        view
        returns (uint256 invested, uint256 cash, uint256 contributed, int256 totalReturn);

    /// @notice The unit price of `item` (INITIAL_UNIT_PRICE until feedback sets one).
    function unitPrice(bytes32 item) external view returns (uint256);

    /// @notice Units of `item` held by all accounts together.
    function totalUnits(bytes32 item) external view returns (uint256);
}
