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
    uint256 private _instructionCount;
    uint256 private _batchCount;

    constructor(IConsortiumRegistry registry_, IAnnuityPlans plans_) ConsortiumManaged(registry_) {
        if (address(plans_) == address(0)) revert AnnuityZeroPlans();
        _plans = plans_;
    }

    // ================================================================= accounts

    /// @inheritdoc IAnnuityLedger
    function requestAccounts(bytes32[] calldata accounts) external onlyRole(Roles.ANNUITY_PLATFORM) {
        _checkBatch(accounts.length, MAX_BATCH);
        for (uint256 i; i < accounts.length; ++i) {
            bytes32 id = accounts[i];
            if (id == bytes32(0)) revert AnnuityZeroAccount(i);
            Account storage a = _accounts[id];
            if (a.status != AccountStatus.None) revert AnnuityAccountExists(id, a.status);
            a.status = AccountStatus.Requested;
            emit AccountOpeningRequested(id, msg.sender);
        }
    }

    /// @inheritdoc IAnnuityLedger
    function openAccounts(bytes32[] calldata accounts) external onlyRole(Roles.ACCOUNT_MANAGER) {
        _checkBatch(accounts.length, MAX_BATCH);
        for (uint256 i; i < accounts.length; ++i) {
            Account storage a = _accounts[accounts[i]];
            if (a.status != AccountStatus.Requested) revert AnnuityAccountNotRequested(accounts[i], a.status);
            a.status = AccountStatus.Open;
            emit AccountOpened(accounts[i], msg.sender);
        }
    }

    // ================================================================= contributions

    /// @inheritdoc IAnnuityLedger
    function receiveContributions(bytes32 batchRef, bytes32[] calldata accounts, uint256[] calldata amounts)
        external
        onlyRole(Roles.TRUSTEE)
        returns (uint256 batchId)
    {
        if (batchRef == bytes32(0)) revert AnnuityZeroBatchRef();
        IdempotencyKeys.Use memory earlier = _batchRefs.claim(batchRef, _batchCount + 1);
        if (earlier.blockNumber != 0) revert AnnuityBatchRefUsed(batchRef, earlier.recordedAs, earlier.blockNumber);
        uint256 total = _checkContributions(accounts, amounts);
        batchId = ++_batchCount;
        _batches[batchId] = ContributionBatch({
            contentHash: keccak256(abi.encode(accounts, amounts)),
            batchRef: batchRef,
            total: uint128(total),
            count: uint32(accounts.length),
            posted: false,
            postedBlock: 0
        });
        emit ContributionBatchReceived(batchId, msg.sender, batchRef, accounts.length, total);
    }

    /// @inheritdoc IAnnuityLedger
    function postContributions(uint256 batchId, bytes32[] calldata accounts, uint256[] calldata amounts)
        external
        onlyRole(Roles.ACCOUNT_MANAGER)
    {
        ContributionBatch storage b = _batches[batchId];
        if (b.contentHash == bytes32(0)) revert AnnuityUnknownBatch(batchId);
        if (b.posted) revert AnnuityBatchAlreadyPosted(batchId, b.postedBlock);
        if (keccak256(abi.encode(accounts, amounts)) != b.contentHash) revert AnnuityBatchMismatch(batchId);
        b.posted = true;
        b.postedBlock = uint64(block.number);
        for (uint256 i; i < accounts.length; ++i) {
            Account storage a = _accounts[accounts[i]];
            // accounts were Open when received and never close, so no status check is needed here
            if (!a.assetRecord) {
                a.assetRecord = true;
                emit AssetRecordCreated(accounts[i], batchId, msg.sender);
            }
            uint128 amount = uint128(amounts[i]);
            a.cash += amount;
            a.contributed += amount;
            emit ContributionPosted(accounts[i], batchId, amount, a.cash, a.contributed);
        }
        emit ContributionBatchPosted(batchId, msg.sender, b.count, b.total);
    }

    // ================================================================= plans and instructions

    /// @inheritdoc IAnnuityLedger
    function choosePlan(bytes32 account, bytes32 planCode, uint32 version, bool reset)
        external
        onlyRole(Roles.ANNUITY_PLATFORM)
        returns (uint256 instructionId)
    {
        Account storage a = _openAccount(account);
        _checkNoneInFlight(account, a);
        // reverts with AnnuityUnknownPlan; the plan is reused by the First instruction below
        (bytes32[] memory items, uint16[] memory ratios) = _plans.getPlan(planCode, version);
        a.planCode = planCode;
        a.planVersion = version;
        a.resetPending = reset;
        emit PlanChosen(account, planCode, msg.sender, version, reset);
        if (!reset && a.cash > 0) instructionId = _issueFirst(account, a, items, ratios);
    }

    /// @inheritdoc IAnnuityLedger
    function resetHoldings(bytes32 account) external onlyRole(Roles.ACCOUNT_MANAGER) returns (uint256 instructionId) {
        Account storage a = _openAccount(account);
        if (!a.resetPending) revert AnnuityNoResetRequested(account);
        _checkNoneInFlight(account, a);
        a.resetPending = false;
        uint256 invested;
        (instructionId, invested) = _issueReset(account, a);
        emit HoldingsReset(account, instructionId, msg.sender, invested);
    }

    /// @inheritdoc IAnnuityLedger
    function allocateCash(bytes32[] calldata accounts)
        external
        onlyRole(Roles.TRUSTEE)
        returns (uint256[] memory instructionIds)
    {
        _checkBatch(accounts.length, MAX_ALLOCATION_BATCH);
        instructionIds = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            bytes32 id = accounts[i];
            Account storage a = _openAccount(id);
            if (a.planCode == bytes32(0)) revert AnnuityNoPlan(id);
            if (a.resetPending) revert AnnuityResetPending(id);
            _checkNoneInFlight(id, a);
            if (a.cash == 0) revert AnnuityNothingToAllocate(id);
            (bytes32[] memory items, uint16[] memory ratios) = _plans.getPlan(a.planCode, a.planVersion);
            instructionIds[i] = _issueFirst(id, a, items, ratios);
        }
    }

    /// @inheritdoc IAnnuityLedger
    function executeInstruction(
        uint256 instructionId,
        bytes32[] calldata items,
        int256[] calldata legs,
        uint256[] calldata prices
    ) external onlyRole(Roles.INVESTMENT_MANAGER) {
        Instruction storage ins = _instructionIn(instructionId, InstructionStatus.Issued);
        if (
            keccak256(abi.encode(items)) != ins.itemsHash || keccak256(abi.encode(legs)) != ins.legsHash
                || prices.length != items.length
        ) revert AnnuityInstructionMismatch(instructionId);
        bytes32 account = ins.account;
        int256[] memory deltas = new int256[](items.length);
        uint256[] memory after_ = new uint256[](items.length);
        for (uint256 i; i < items.length; ++i) {
            _checkPrice(items[i], prices[i]);
            (deltas[i], after_[i]) = _executeLeg(instructionId, account, items[i], legs[i], prices[i]);
        }
        ins.status = InstructionStatus.Executed;
        emit InstructionExecuted(instructionId, account, msg.sender, items, prices, deltas, after_);
    }

    /// @inheritdoc IAnnuityLedger
    function reportFeedback(uint256 instructionId, bytes32[] calldata items, uint256[] calldata unitPrices, bytes32 reportHash)
        external
        onlyRole(Roles.INVESTMENT_MANAGER)
    {
        Instruction storage ins = _instructionIn(instructionId, InstructionStatus.Executed);
        if (keccak256(abi.encode(items)) != ins.itemsHash || unitPrices.length != items.length) {
            revert AnnuityInstructionMismatch(instructionId);
        }
        for (uint256 i; i < items.length; ++i) {
            _checkPrice(items[i], unitPrices[i]);
        }
        ins.feedbackHash = keccak256(abi.encode(unitPrices));
        ins.status = InstructionStatus.FeedbackReported;
        emit FeedbackReported(instructionId, ins.account, msg.sender, unitPrices, reportHash);
    }

    /// @inheritdoc IAnnuityLedger
    function forwardFeedback(uint256 instructionId, bytes32[] calldata items, uint256[] calldata unitPrices)
        external
        onlyRole(Roles.TRUSTEE)
    {
        Instruction storage ins = _instructionIn(instructionId, InstructionStatus.FeedbackReported);
        if (keccak256(abi.encode(items)) != ins.itemsHash || keccak256(abi.encode(unitPrices)) != ins.feedbackHash) {
            revert AnnuityInstructionMismatch(instructionId);
        }
        for (uint256 i; i < items.length; ++i) {
            _price[items[i]] = unitPrices[i];
            emit UnitPriceUpdated(items[i], instructionId, unitPrices[i]);
        }
        ins.status = InstructionStatus.Settled;
        bytes32 account = ins.account;
        Account storage a = _accounts[account];
        a.openInstruction = 0;
        (uint256 invested, uint256 cash, uint256 contributed, int256 totalReturn) = _valuation(account);
        emit InstructionSettled(instructionId, account, msg.sender, invested, cash, contributed, totalReturn);
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

    function _checkBatch(uint256 size, uint256 max) private pure {
        if (size == 0) revert AnnuityEmptyBatch();
        if (size > max) revert AnnuityBatchTooLarge(size, max);
    }

    function _checkContributions(bytes32[] calldata accounts, uint256[] calldata amounts)
        private
        view
        returns (uint256 total)
    {
        _checkBatch(accounts.length, MAX_BATCH);
        if (amounts.length != accounts.length) revert AnnuityLengthMismatch(accounts.length, amounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            _openAccount(accounts[i]);
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
    function _issueFirst(bytes32 account, Account storage a, bytes32[] memory items, uint16[] memory ratios)
        private
        returns (uint256)
    {
        _checkCapacity(account, items);
        uint256 amount = a.cash;
        uint256[] memory parts = Allocation.split(amount, ratios);
        int256[] memory legs = new int256[](parts.length);
        for (uint256 i; i < parts.length; ++i) {
            legs[i] = int256(parts[i]);
        }
        return _issue(account, a, InstructionKind.First, items, legs, amount);
    }

    /// @dev Reset instruction over the plan's items followed by held items outside the plan (ratio 0).
    function _issueReset(bytes32 account, Account storage a) private returns (uint256 id, uint256 invested) {
        (bytes32[] memory items, uint16[] memory ratios) = _resetItems(account, a);
        uint256[] memory current;
        (current, invested) = _values(account, items);
        uint256 amount = a.cash;
        if (invested + amount == 0) revert AnnuityNothingToAllocate(account);
        int256[] memory legs = Allocation.rebalance(current, amount, ratios);
        id = _issue(account, a, InstructionKind.Reset, items, legs, amount);
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
        uint256 amount
    ) private returns (uint256 id) {
        id = ++_instructionCount;
        _instructions[id] = Instruction({
            account: account,
            planCode: a.planCode,
            planVersion: a.planVersion,
            kind: kind,
            status: InstructionStatus.Issued,
            amount: uint128(amount),
            itemsHash: keccak256(abi.encode(items)),
            legsHash: keccak256(abi.encode(legs)),
            feedbackHash: bytes32(0)
        });
        a.cash = 0;
        a.openInstruction = uint64(id);
        emit InstructionIssued(id, account, msg.sender, kind, a.planCode, a.planVersion, amount, items, legs);
    }

    /// @dev A First instruction may add the plan's items to the account's holdings: keep them bounded.
    function _checkCapacity(bytes32 account, bytes32[] memory items) private view {
        EnumerableSet.Bytes32Set storage held = _held[account];
        uint256 count = held.length();
        for (uint256 i; i < items.length; ++i) {
            if (!held.contains(items[i])) ++count;
        }
        if (count > MAX_HELD_ITEMS) revert AnnuityTooManyHoldings(account, count, MAX_HELD_ITEMS);
    }

    function _executeLeg(uint256 instructionId, bytes32 account, bytes32 item, int256 leg, uint256 price)
        private
        returns (int256 delta, uint256 unitsAfter)
    {
        uint256 units = _units[account][item];
        if (leg > 0) {
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
