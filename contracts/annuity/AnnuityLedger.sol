// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IAnnuityLedger} from "../../interfaces/IAnnuityLedger.sol";
import {IAnnuityPlans} from "../../interfaces/IAnnuityPlans.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {Allocation} from "../libraries/Allocation.sol";
import {IdempotencyKeys} from "../libraries/IdempotencyKeys.sol";

/// @title AnnuityLedger
/// @notice Accounts, contributions, allocation instructions and holdings of the enterprise annuity.
/// @dev Rounding rules are those of libraries/Allocation.sol; see IAnnuityLedger for the lifecycle.
contract AnnuityLedger is ConsortiumManaged, IAnnuityLedger {
    using EnumerableSet for EnumerableSet.Bytes32Set;
    using IdempotencyKeys for mapping(bytes32 => IdempotencyKeys.Use);

    /// @notice Accounts per requestAccounts / openAccounts / contribution batch.
    uint256 public constant MAX_BATCH = 256;
    /// @notice Accounts per allocateCash call (each issues an instruction of up to 16 legs).
    uint256 public constant MAX_ALLOCATION_BATCH = 50;
    /// @notice Instructions per executeInstructions / reportFeedbacks / forwardFeedbacks call (what
    /// one allocateCash call issues at most).
    uint256 public constant MAX_INSTRUCTION_BATCH = 50;
    /// @notice Distinct items an account may hold; a Reset instruction has at most 16 + this many legs.
    uint256 public constant MAX_HELD_ITEMS = 32;
    /// @notice Largest single contribution, in minor units (keeps every total inside uint128).
    uint256 public constant MAX_CONTRIBUTION = type(uint96).max;
    /// @notice Price scale: a price is the minor-unit value of one unit with 18 decimals.
    uint256 public constant PRICE_SCALE = 1e18;
    /// @notice Price of an item until feedback sets one: 1e6 units per minor unit.
    uint256 public constant INITIAL_UNIT_PRICE = 1e12;
    /// @notice Highest accepted price (one unit worth one minor unit): keeps each item's rounding
    /// within one minor unit.
    uint256 public constant MAX_UNIT_PRICE = 1e18;

    IAnnuityPlans private immutable _plans;

    mapping(bytes32 account => Account) private _accounts;
    mapping(bytes32 account => EnumerableSet.Bytes32Set) private _held;
    mapping(bytes32 account => mapping(bytes32 item => uint256)) private _units;
    mapping(bytes32 item => uint256) private _price;
    mapping(bytes32 item => uint256) private _totalUnits;
    mapping(uint256 id => Instruction) private _instructions;
    mapping(uint256 id => ContributionBatch) private _batches;
    mapping(bytes32 batchRef => IdempotencyKeys.Use) private _batchRefs; // recordedAs: the batch id
    mapping(uint32 employerId => Employer) private _employers;
    uint256 private _instructionCount;
    uint256 private _batchCount;
    uint32 private _employerCount;

    constructor(IConsortiumRegistry registry_, IAnnuityPlans plans_) ConsortiumManaged(registry_) {
        if (address(plans_) == address(0)) revert AnnuityZeroPlans();
        _plans = plans_;
    }

    // ================================================================= employers

    /// @inheritdoc IAnnuityLedger
    function registerEmployer(bytes32 employerRef, address trustee, address accountManager)
        external
        returns (uint32 employerId)
    {
        address platform = _checkRole(Roles.ANNUITY_PLATFORM);
        address t = registry.requireRole(trustee, Roles.TRUSTEE);
        address m = registry.requireRole(accountManager, Roles.ACCOUNT_MANAGER);
        employerId = ++_employerCount;
        _employers[employerId] = Employer({platform: platform, trustee: t, accountManager: m});
        emit EmployerRegistered(employerId, platform, t, m, employerRef);
    }

    // ================================================================= accounts

    /// @inheritdoc IAnnuityLedger
    function requestAccounts(uint32 employerId, bytes32[] calldata accounts) external {
        address platform = _checkRole(Roles.ANNUITY_PLATFORM);
        address expected = _employers[employerId].platform;
        if (expected == address(0)) revert AnnuityUnknownEmployer(employerId);
        if (expected != platform) revert AnnuityNotEmployerPlatform(employerId, platform, expected);
        _checkBatch(accounts.length, MAX_BATCH);
        for (uint256 i; i < accounts.length; ++i) {
            bytes32 id = accounts[i];
            if (id == bytes32(0)) revert AnnuityZeroAccount(i);
            Account storage a = _accounts[id];
            if (a.status != AccountStatus.None) revert AnnuityAccountExists(id, a.status);
            a.status = AccountStatus.Requested;
            a.employer = employerId;
            emit AccountOpeningRequested(id, platform, employerId);
        }
    }

    /// @inheritdoc IAnnuityLedger
    function openAccounts(bytes32[] calldata accounts) external {
        address manager = _checkRole(Roles.ACCOUNT_MANAGER);
        _checkBatch(accounts.length, MAX_BATCH);
        for (uint256 i; i < accounts.length; ++i) {
            Account storage a = _accounts[accounts[i]];
            if (a.status != AccountStatus.Requested) revert AnnuityAccountNotRequested(accounts[i], a.status);
            _checkAccountManager(accounts[i], a, manager);
            a.status = AccountStatus.Open;
            emit AccountOpened(accounts[i], manager);
        }
    }

    // ================================================================= contributions

    /// @inheritdoc IAnnuityLedger
    function receiveContributions(bytes32 batchRef, bytes32[] calldata accounts, uint256[] calldata amounts)
        external
        returns (uint256 batchId)
    {
        address trustee = _checkRole(Roles.TRUSTEE);
        if (batchRef == bytes32(0)) revert AnnuityZeroBatchRef();
        IdempotencyKeys.Use memory earlier = _batchRefs.claim(batchRef, _batchCount + 1);
        if (earlier.blockNumber != 0) revert AnnuityBatchRefUsed(batchRef, earlier.recordedAs, earlier.blockNumber);
        uint256 total = _checkContributions(accounts, amounts, trustee);
        batchId = ++_batchCount;
        _batches[batchId] = ContributionBatch({
            contentHash: keccak256(abi.encode(accounts, amounts)),
            batchRef: batchRef,
            total: uint128(total),
            count: uint32(accounts.length),
            posted: false,
            postedBlock: 0
        });
        emit ContributionBatchReceived(batchId, trustee, batchRef, accounts.length, total);
    }

    /// @inheritdoc IAnnuityLedger
    function postContributions(uint256 batchId, bytes32[] calldata accounts, uint256[] calldata amounts) external {
        address manager = _checkRole(Roles.ACCOUNT_MANAGER);
        ContributionBatch storage b = _batches[batchId];
        if (b.contentHash == bytes32(0)) revert AnnuityUnknownBatch(batchId);
        if (b.posted) revert AnnuityBatchAlreadyPosted(batchId, b.postedBlock);
        if (keccak256(abi.encode(accounts, amounts)) != b.contentHash) revert AnnuityBatchMismatch(batchId);
        // a received batch is one employer's (receiveContributions): its first account names the manager
        _checkAccountManager(accounts[0], _accounts[accounts[0]], manager);
        b.posted = true;
        b.postedBlock = uint64(block.number);
        for (uint256 i; i < accounts.length; ++i) {
            Account storage a = _accounts[accounts[i]];
            // accounts were Open when received and never close, so no status check is needed here
            if (!a.assetRecord) {
                a.assetRecord = true;
                emit AssetRecordCreated(accounts[i], batchId, manager);
            }
            uint128 amount = uint128(amounts[i]);
            a.cash += amount;
            a.contributed += amount;
            emit ContributionPosted(accounts[i], batchId, amount, a.cash, a.contributed);
        }
        emit ContributionBatchPosted(batchId, manager, b.count, b.total);
    }

    // ================================================================= plans and instructions

    /// @inheritdoc IAnnuityLedger
    function choosePlan(bytes32 account, bytes32 planCode, uint32 version, bool reset, bytes32 choiceHash)
        external
        returns (uint256 instructionId)
    {
        address platform = _checkRole(Roles.ANNUITY_PLATFORM);
        if (choiceHash == bytes32(0)) revert AnnuityChoiceNotEvidenced(account);
        Account storage a = _openAccount(account);
        Employer storage e = _employers[a.employer];
        if (e.platform != platform) revert AnnuityNotEmployerPlatform(a.employer, platform, e.platform);
        _checkNoneInFlight(account, a);
        // reverts with AnnuityUnknownPlan; the plan is reused by the First instruction below
        (bytes32[] memory items, uint16[] memory ratios) = _plans.getPlan(planCode, version);
        address planTrustee = _plans.trusteeOf(planCode);
        if (planTrustee != e.trustee) revert AnnuityPlanOfOtherTrustee(account, planCode, planTrustee, e.trustee);
        if (_plans.investmentManagerOf(planCode) == address(0)) revert AnnuityNoInvestmentManager(planCode);
        a.planCode = planCode;
        a.planVersion = version;
        a.resetPending = reset;
        a.choiceHash = choiceHash;
        emit PlanChosen(account, planCode, platform, version, reset);
        if (!reset && a.cash > 0) {
            uint256 count = _heldAfter(account, items);
            if (count > MAX_HELD_ITEMS) revert AnnuityTooManyHoldings(account, count, MAX_HELD_ITEMS);
            instructionId = _issueFirst(account, a, items, ratios, platform);
        }
    }

    /// @inheritdoc IAnnuityLedger
    function resetHoldings(bytes32 account) external returns (uint256 instructionId) {
        address manager = _checkRole(Roles.ACCOUNT_MANAGER);
        Account storage a = _openAccount(account);
        _checkAccountManager(account, a, manager);
        if (!a.resetPending) revert AnnuityNoResetRequested(account);
        _checkNoneInFlight(account, a);
        a.resetPending = false;
        uint256 invested;
        (instructionId, invested) = _issueReset(account, a, manager);
        emit HoldingsReset(account, instructionId, manager, invested);
    }

    /// @inheritdoc IAnnuityLedger
    function confirmReset(uint256 instructionId) external {
        address trustee = _checkRole(Roles.TRUSTEE);
        Instruction storage ins = _instructionIn(instructionId, InstructionStatus.AwaitingTrustee);
        bytes32 account = ins.account;
        _checkTrustee(account, _accounts[account], trustee);
        ins.status = InstructionStatus.Issued;
        emit ResetConfirmed(instructionId, account, trustee);
    }

    /// @inheritdoc IAnnuityLedger
    function allocateCash(bytes32[] calldata accounts) external returns (uint256[] memory instructionIds) {
        address trustee = _checkRole(Roles.TRUSTEE);
        _checkBatch(accounts.length, MAX_ALLOCATION_BATCH);
        instructionIds = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            bytes32 id = accounts[i];
            Account storage a = _accounts[id];
            _checkTrustee(id, a, trustee);
            (bool allocatable, AllocationSkipReason reason) = _allocatable(a);
            if (allocatable) {
                (bytes32[] memory items, uint16[] memory ratios) = _plans.getPlan(a.planCode, a.planVersion);
                if (_heldAfter(id, items) <= MAX_HELD_ITEMS) {
                    instructionIds[i] = _issueFirst(id, a, items, ratios, trustee);
                    continue;
                }
                reason = AllocationSkipReason.TooManyHoldings;
            }
            emit AllocationSkipped(id, trustee, reason);
        }
    }

    /// @inheritdoc IAnnuityLedger
    function executeInstruction(
        uint256 instructionId,
        bytes32[] calldata items,
        int256[] calldata legs,
        uint256[] calldata prices
    ) external {
        _execute(_checkRole(Roles.INVESTMENT_MANAGER), instructionId, items, legs, prices);
    }

    /// @inheritdoc IAnnuityLedger
    function executeInstructions(Execution[] calldata executions) external {
        address manager = _checkRole(Roles.INVESTMENT_MANAGER);
        _checkBatch(executions.length, MAX_INSTRUCTION_BATCH);
        for (uint256 i; i < executions.length; ++i) {
            Execution calldata e = executions[i];
            _execute(manager, e.instructionId, e.items, e.legs, e.prices);
        }
    }

    /// @inheritdoc IAnnuityLedger
    function reportFeedback(uint256 instructionId, bytes32[] calldata items, uint256[] calldata unitPrices, bytes32 reportHash)
        external
    {
        _report(_checkRole(Roles.INVESTMENT_MANAGER), instructionId, items, unitPrices, reportHash);
    }

    /// @inheritdoc IAnnuityLedger
    function reportFeedbacks(FeedbackReport[] calldata reports) external {
        address manager = _checkRole(Roles.INVESTMENT_MANAGER);
        _checkBatch(reports.length, MAX_INSTRUCTION_BATCH);
        for (uint256 i; i < reports.length; ++i) {
            FeedbackReport calldata r = reports[i];
            _report(manager, r.instructionId, r.items, r.unitPrices, r.reportHash);
        }
    }

    /// @inheritdoc IAnnuityLedger
    function forwardFeedback(uint256 instructionId, bytes32[] calldata items, uint256[] calldata unitPrices)
        external
    {
        _forward(_checkRole(Roles.TRUSTEE), instructionId, items, unitPrices);
    }

    /// @inheritdoc IAnnuityLedger
    function forwardFeedbacks(FeedbackForward[] calldata forwards) external {
        address trustee = _checkRole(Roles.TRUSTEE);
        _checkBatch(forwards.length, MAX_INSTRUCTION_BATCH);
        for (uint256 i; i < forwards.length; ++i) {
            FeedbackForward calldata f = forwards[i];
            _forward(trustee, f.instructionId, f.items, f.unitPrices);
        }
    }

    // ================================================================= views

    /// @inheritdoc IAnnuityLedger
    function plans() external view returns (IAnnuityPlans) {
        return _plans;
    }

    /// @inheritdoc IAnnuityLedger
    function getAccount(bytes32 account) external view returns (Account memory) {
        return _accounts[account];
    }

    /// @inheritdoc IAnnuityLedger
    function getEmployer(uint32 employerId) external view returns (Employer memory) {
        return _employers[employerId];
    }

    /// @inheritdoc IAnnuityLedger
    function employerCount() external view returns (uint32) {
        return _employerCount;
    }

    /// @inheritdoc IAnnuityLedger
    function getInstruction(uint256 instructionId) external view returns (Instruction memory) {
        return _instructions[instructionId];
    }

    /// @inheritdoc IAnnuityLedger
    function getContributionBatch(uint256 batchId) external view returns (ContributionBatch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IAnnuityLedger
    function batchOfRef(bytes32 batchRef) external view returns (uint256 batchId, uint256 blockNumber) {
        return IdempotencyKeys.answer(_batchRefs[batchRef]);
    }

    /// @inheritdoc IAnnuityLedger
    function instructionCount() external view returns (uint256) {
        return _instructionCount;
    }

    /// @inheritdoc IAnnuityLedger
    function batchCount() external view returns (uint256) {
        return _batchCount;
    }

    /// @inheritdoc IAnnuityLedger
    function holdingsOf(bytes32 account)
        external
        view
        returns (bytes32[] memory items, uint256[] memory units, uint256[] memory values)
    {
        items = _held[account].values();
        units = new uint256[](items.length);
        values = new uint256[](items.length);
        for (uint256 i; i < items.length; ++i) {
            units[i] = _units[account][items[i]];
            values[i] = Allocation.valueOf(units[i], _priceOf(items[i]));
        }
    }

    /// @inheritdoc IAnnuityLedger
    function unitsOf(bytes32 account, bytes32 item) external view returns (uint256) {
        return _units[account][item];
    }

    /// @inheritdoc IAnnuityLedger
    function valuation(bytes32 account)
        external
        view
        returns (uint256 invested, uint256 cash, uint256 contributed, int256 totalReturn)
    {
        return _valuation(account);
    }

    /// @inheritdoc IAnnuityLedger
    function unitPrice(bytes32 item) external view returns (uint256) {
        return _priceOf(item);
    }

    /// @inheritdoc IAnnuityLedger
    function totalUnits(bytes32 item) external view returns (uint256) {
        return _totalUnits[item];
    }

    // ================================================================= internals

    /// @dev executeInstruction's checks and effects for `manager` (the caller's member).
    function _execute(
        address manager,
        uint256 instructionId,
        bytes32[] calldata items,
        int256[] calldata legs,
        uint256[] calldata prices
    ) private {
        if (_instructions[instructionId].status == InstructionStatus.AwaitingTrustee) {
            bytes32 acc = _instructions[instructionId].account;
            revert AnnuityResetNotConfirmed(instructionId, _employers[_accounts[acc].employer].trustee);
        }
        Instruction storage ins = _instructionIn(instructionId, InstructionStatus.Issued);
        _checkInvestmentManager(instructionId, ins, manager);
        if (
            keccak256(abi.encode(items)) != ins.itemsHash || keccak256(abi.encode(legs)) != ins.legsHash
                || prices.length != items.length
        ) revert AnnuityInstructionMismatch(instructionId);
        bytes32 account = ins.account;
        uint256 sellOut = ins.sellOutMask;
        int256[] memory deltas = new int256[](items.length);
        uint256[] memory after_ = new uint256[](items.length);
        for (uint256 i; i < items.length; ++i) {
            _checkPrice(items[i], prices[i]);
            (deltas[i], after_[i]) =
                _executeLeg(instructionId, account, items[i], legs[i], prices[i], (sellOut >> i) & 1 == 1);
        }
        ins.status = InstructionStatus.Executed;
        emit InstructionExecuted(instructionId, account, manager, items, prices, deltas, after_);
    }

    /// @dev reportFeedback's checks and effects for `manager` (the caller's member).
    function _report(
        address manager,
        uint256 instructionId,
        bytes32[] calldata items,
        uint256[] calldata unitPrices,
        bytes32 reportHash
    ) private {
        Instruction storage ins = _instructionIn(instructionId, InstructionStatus.Executed);
        _checkInvestmentManager(instructionId, ins, manager);
        if (keccak256(abi.encode(items)) != ins.itemsHash || unitPrices.length != items.length) {
            revert AnnuityInstructionMismatch(instructionId);
        }
        for (uint256 i; i < items.length; ++i) {
            _checkPrice(items[i], unitPrices[i]);
        }
        ins.feedbackHash = keccak256(abi.encode(unitPrices));
        ins.status = InstructionStatus.FeedbackReported;
        emit FeedbackReported(instructionId, ins.account, manager, unitPrices, reportHash);
    }

    /// @dev forwardFeedback's checks and effects for `trustee` (the caller's member).
    function _forward(address trustee, uint256 instructionId, bytes32[] calldata items, uint256[] calldata unitPrices)
        private
    {
        Instruction storage ins = _instructionIn(instructionId, InstructionStatus.FeedbackReported);
        bytes32 account = ins.account;
        Account storage a = _accounts[account];
        _checkTrustee(account, a, trustee);
        if (keccak256(abi.encode(items)) != ins.itemsHash || keccak256(abi.encode(unitPrices)) != ins.feedbackHash) {
            revert AnnuityInstructionMismatch(instructionId);
        }
        for (uint256 i; i < items.length; ++i) {
            _price[items[i]] = unitPrices[i];
            emit UnitPriceUpdated(items[i], instructionId, unitPrices[i]);
        }
        ins.status = InstructionStatus.Settled;
        a.openInstruction = 0;
        (uint256 invested, uint256 cash, uint256 contributed, int256 totalReturn) = _valuation(account);
        emit InstructionSettled(instructionId, account, trustee, invested, cash, contributed, totalReturn);
    }

    function _checkBatch(uint256 size, uint256 max) private pure {
        if (size == 0) revert AnnuityEmptyBatch();
        if (size > max) revert AnnuityBatchTooLarge(size, max);
    }

    function _checkContributions(bytes32[] calldata accounts, uint256[] calldata amounts, address trustee)
        private
        view
        returns (uint256 total)
    {
        _checkBatch(accounts.length, MAX_BATCH);
        if (amounts.length != accounts.length) revert AnnuityLengthMismatch(accounts.length, amounts.length);
        Account storage first = _openAccount(accounts[0]);
        _checkTrustee(accounts[0], first, trustee);
        uint32 employer = first.employer;
        for (uint256 i; i < accounts.length; ++i) {
            Account storage a = _openAccount(accounts[i]);
            if (a.employer != employer) revert AnnuityBatchMixesEmployers(accounts[i], a.employer, employer);
            if (amounts[i] == 0) revert AnnuityZeroContribution(accounts[i], i);
            if (amounts[i] > MAX_CONTRIBUTION) {
                revert AnnuityContributionTooLarge(accounts[i], amounts[i], MAX_CONTRIBUTION);
            }
            total += amounts[i];
        }
    }

    function _openAccount(bytes32 account) private view returns (Account storage a) {
        a = _accounts[account];
        if (a.status != AccountStatus.Open) revert AnnuityAccountNotOpen(account, a.status);
    }

    /// @dev `trustee` (the caller's member) must be the trustee of the account's employer.
    function _checkTrustee(bytes32 account, Account storage a, address trustee) private view {
        address expected = _employers[a.employer].trustee;
        if (expected != trustee) revert AnnuityNotTrustee(account, trustee, expected);
    }

    /// @dev `manager` (the caller's member) must be the account manager of the account's employer.
    function _checkAccountManager(bytes32 account, Account storage a, address manager) private view {
        address expected = _employers[a.employer].accountManager;
        if (expected != manager) revert AnnuityNotAccountManager(account, manager, expected);
    }

    /// @dev `manager` (the caller's member) must be the investment manager appointed for the
    /// instruction's plan now (a replaced manager's instructions go to its successor).
    function _checkInvestmentManager(uint256 instructionId, Instruction storage ins, address manager) private view {
        address expected = _plans.investmentManagerOf(ins.planCode);
        if (expected != manager) revert AnnuityNotInvestmentManager(instructionId, manager, expected);
    }

    /// @dev Whether allocateCash can issue a First instruction for `a` (the holdings cap aside), and
    /// if not, why.
    function _allocatable(Account storage a) private view returns (bool, AllocationSkipReason) {
        if (a.status != AccountStatus.Open) return (false, AllocationSkipReason.NotOpen);
        if (a.planCode == bytes32(0)) return (false, AllocationSkipReason.NoPlan);
        if (a.resetPending) return (false, AllocationSkipReason.ResetPending);
        if (a.openInstruction != 0) return (false, AllocationSkipReason.InstructionOpen);
        if (a.cash == 0) return (false, AllocationSkipReason.NothingToAllocate);
        return (true, AllocationSkipReason.NotOpen); // the reason is not read
    }

    function _checkNoneInFlight(bytes32 account, Account storage a) private view {
        if (a.openInstruction != 0) revert AnnuityInstructionOpen(account, a.openInstruction);
    }

    function _checkPrice(bytes32 item, uint256 price) private pure {
        if (price == 0 || price > MAX_UNIT_PRICE) revert AnnuityPriceOutOfRange(item, price, MAX_UNIT_PRICE);
    }

    function _instructionIn(uint256 id, InstructionStatus expected) private view returns (Instruction storage ins) {
        ins = _instructions[id];
        if (ins.status == InstructionStatus.None) revert AnnuityUnknownInstruction(id);
        if (ins.status != expected) revert AnnuityInstructionNotInState(id, ins.status, expected);
    }

    function _priceOf(bytes32 item) private view returns (uint256 p) {
        p = _price[item];
        if (p == 0) p = INITIAL_UNIT_PRICE;
    }

    /// @dev First instruction: the account's cash split by its plan's ratios (`items`, `ratios`: the
    /// account's plan, as returned by getPlan(a.planCode, a.planVersion)).
    /// The caller has checked the holdings cap (_heldAfter).
    function _issueFirst(
        bytes32 account,
        Account storage a,
        bytes32[] memory items,
        uint16[] memory ratios,
        address issuer
    ) private returns (uint256) {
        uint256 amount = a.cash;
        uint256[] memory parts = Allocation.split(amount, ratios);
        int256[] memory legs = new int256[](parts.length);
        for (uint256 i; i < parts.length; ++i) {
            legs[i] = int256(parts[i]);
        }
        return _issue(account, a, InstructionKind.First, items, legs, 0, amount, issuer);
    }

    /// @dev Reset instruction over the plan's items followed by held items outside the plan (ratio 0);
    /// every item whose target is zero is sold out (sellOut bit), so afterwards the account holds plan
    /// items only (at most 16 <= MAX_HELD_ITEMS), and the instruction has at most 16 + 32 < 64 legs.
    function _issueReset(bytes32 account, Account storage a, address issuer)
        private
        returns (uint256 id, uint256 invested)
    {
        (bytes32[] memory items, uint16[] memory ratios) = _resetItems(account, a);
        int256[] memory legs;
        uint256 sellOut;
        {
            uint256[] memory current;
            (current, invested) = _values(account, items);
            if (invested + a.cash == 0) revert AnnuityNothingToAllocate(account);
            (legs, sellOut) = Allocation.rebalance(current, a.cash, ratios);
        }
        id = _issue(account, a, InstructionKind.Reset, items, legs, sellOut, a.cash, issuer);
    }

    /// @dev The plan's items and ratios, then every held item outside the plan with ratio 0 (sold out).
    function _resetItems(bytes32 account, Account storage a)
        private
        view
        returns (bytes32[] memory items, uint16[] memory ratios)
    {
        (bytes32[] memory planItems, uint16[] memory planRatios) = _plans.getPlan(a.planCode, a.planVersion);
        EnumerableSet.Bytes32Set storage held = _held[account];
        uint256 n = planItems.length;
        uint256 extra = 0;
        for (uint256 j; j < held.length(); ++j) {
            if (!_contains(planItems, held.at(j))) ++extra;
        }
        items = new bytes32[](n + extra);
        ratios = new uint16[](n + extra);
        for (uint256 i; i < n; ++i) {
            items[i] = planItems[i];
            ratios[i] = planRatios[i];
        }
        for (uint256 j; j < held.length(); ++j) {
            bytes32 item = held.at(j);
            if (!_contains(planItems, item)) items[n++] = item;
        }
    }

    /// @dev Value of the account's units of each item at the items' unit prices (floor), and their sum.
    function _values(bytes32 account, bytes32[] memory items)
        private
        view
        returns (uint256[] memory current, uint256 invested)
    {
        current = new uint256[](items.length);
        for (uint256 i; i < items.length; ++i) {
            current[i] = Allocation.valueOf(_units[account][items[i]], _priceOf(items[i]));
            invested += current[i];
        }
    }

    function _issue(
        bytes32 account,
        Account storage a,
        InstructionKind kind,
        bytes32[] memory items,
        int256[] memory legs,
        uint256 sellOut,
        uint256 amount,
        address issuer
    ) private returns (uint256 id) {
        id = ++_instructionCount;
        _instructions[id] = Instruction({
            account: account,
            planCode: a.planCode,
            planVersion: a.planVersion,
            kind: kind,
            status: kind == InstructionKind.Reset ? InstructionStatus.AwaitingTrustee : InstructionStatus.Issued,
            amount: uint128(amount),
            sellOutMask: uint64(sellOut), // at most 48 legs (see _issueReset)
            itemsHash: keccak256(abi.encode(items)),
            legsHash: keccak256(abi.encode(legs)),
            feedbackHash: bytes32(0),
            choiceHash: a.choiceHash
        });
        a.cash = 0;
        a.openInstruction = uint64(id);
        emit InstructionIssued(id, account, issuer, kind, a.planCode, a.planVersion, amount, items, legs, sellOut);
    }

    /// @dev Items the account may hold once a First instruction over `items` executes (held ∪ items):
    /// a First instruction may add the plan's items to the holdings, which stay bounded by MAX_HELD_ITEMS.
    function _heldAfter(bytes32 account, bytes32[] memory items) private view returns (uint256 count) {
        EnumerableSet.Bytes32Set storage held = _held[account];
        count = held.length();
        for (uint256 i; i < items.length; ++i) {
            if (!held.contains(items[i])) ++count;
        }
    }

    /// @dev `sellAll`: the leg's sellOut bit (a Reset target of zero): every unit is sold.
    function _executeLeg(uint256 instructionId, bytes32 account, bytes32 item, int256 leg, uint256 price, bool sellAll)
        private
        returns (int256 delta, uint256 unitsAfter)
    {
        uint256 units = _units[account][item];
        if (sellAll) {
            // unitsAfter == 0; a sold-out item's leg is never a buy (its target is zero)
            _totalUnits[item] -= units;
            delta = -int256(units);
        } else if (leg > 0) {
            uint256 bought = Allocation.unitsToBuy(uint256(leg), price);
            unitsAfter = units + bought;
            _totalUnits[item] += bought;
            delta = int256(bought);
        } else if (leg < 0) {
            uint256 sold = Allocation.unitsToSell(uint256(-leg), price, units);
            unitsAfter = units - sold;
            _totalUnits[item] -= sold;
            delta = -int256(sold);
        } else {
            return (0, units);
        }
        _units[account][item] = unitsAfter;
        // `_held[account]` is exactly the items with units > 0: membership changes only when the units
        // go from zero to positive or back, and then add/remove cannot find the item already (not) held.
        if ((units == 0) != (unitsAfter == 0)) {
            EnumerableSet.Bytes32Set storage held = _held[account];
            bool changed = unitsAfter == 0 ? held.remove(item) : held.add(item);
            if (!changed) revert AnnuityInstructionMismatch(instructionId);
        }
    }

    function _valuation(bytes32 account)
        private
        view
        returns (uint256 invested, uint256 cash, uint256 contributed, int256 totalReturn)
    {
        EnumerableSet.Bytes32Set storage held = _held[account];
        for (uint256 i; i < held.length(); ++i) {
            bytes32 item = held.at(i);
            invested += Allocation.valueOf(_units[account][item], _priceOf(item));
        }
        Account storage a = _accounts[account];
        cash = a.cash;
        contributed = a.contributed;
        totalReturn = int256(invested + cash) - int256(contributed);
    }

    function _contains(bytes32[] memory items, bytes32 item) private pure returns (bool) {
        for (uint256 i; i < items.length; ++i) {
            if (items[i] == item) return true;
        }
        return false;
    }
}
