// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IDepositToken} from "../../interfaces/IDepositToken.sol";
import {ISecurityToken} from "../../interfaces/ISecurityToken.sol";
import {ISettlementEngine} from "../../interfaces/ISettlementEngine.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {Clearing} from "../libraries/Clearing.sol";
import {IdempotencyKeys} from "../libraries/IdempotencyKeys.sol";
import {Instructions} from "../libraries/Instructions.sol";
import {SecondClearings} from "../libraries/SecondClearings.sol";
import {TradeUpload} from "../libraries/TradeUpload.sol";

/// @title SettlementEngine
/// @notice Clearing data, hierarchical reconciliation, multilateral netting with novation to the CCP and
/// delivery-versus-payment settlement of cross-border securities trades.
/// @dev Gas of `settle` depends only on the number of net legs (one per participant and asset), never on
/// the number of trades: trades live in the hash chains built at upload.
contract SettlementEngine is ConsortiumManaged, ISettlementEngine {
    using IdempotencyKeys for mapping(bytes32 => IdempotencyKeys.Use);

    /// @notice Most deferred trades per deferTrades call (second clearing has its own bounds,
    /// MAX_SECOND_CLEARING_ENTRIES and MAX_SECOND_CLEARING_LINES), under the EIP-7825 cap of
    /// 16,777,216 gas per transaction that real networks adopt.
    uint256 public constant MAX_BATCH = 200;
    /// @notice Most trades per upload. Each batch rewrites the buckets it touches (a peer's or an
    /// owner's slot is paid once a batch, whatever its trades), so the larger the batch the less
    /// storage per trade. Bound by size: 320 trades are 122,980 calldata bytes (384 a trade, 100 of
    /// selector, cycle id and array head), a signed transaction of about 123.1 KB, under the 128 KiB
    /// (131,072 bytes) geth's pool accepts (txMaxSize) with 8 KB to spare; the worst case, a distinct
    /// beneficial owner per trade (a fresh slot each), stays near half the EIP-7825 cap (see
    /// docs/scaling.md).
    uint256 public constant MAX_UPLOAD_BATCH = 320;
    /// @notice Most charge lines per party and product.
    uint256 public constant MAX_CHARGES = 8;
    /// @notice Most net legs per cycle.
    uint256 public constant MAX_LEGS = 400;
    /// @notice Largest absolute leg amount (keeps every per-asset sum far from int256 overflow).
    int256 public constant MAX_LEG_AMOUNT = int256(1 << 200);

    /// @notice Most lines of one settlement instruction (a participant's assets and currencies).
    uint256 public constant MAX_INSTRUCTION_LINES = 100;

    /// @notice Most entries (first parties) per second clearing batch, and most currency lines over
    /// all of them: each line stores seven fresh words at worst (the currency and six totals), each
    /// entry two (its bucket and its currencies' count), so a full batch stays under the EIP-7825
    /// cap of 16,777,216 gas per transaction.
    uint256 public constant MAX_SECOND_CLEARING_ENTRIES = 50;
    uint256 public constant MAX_SECOND_CLEARING_LINES = 50;

    bytes32 private constant ALL = bytes32(0);

    ISecurityToken private immutable _security;

    mapping(bytes32 currency => address token) private _cash;
    // every currency ever listed, in listing order (what an uploader's first clearing data can be in)
    bytes32[] private _currencies;
    // written through the storage pointer `stored` in setClearingConfig (push/pop), which Slither misses
    // slither-disable-next-line uninitialized-state
    mapping(address party => mapping(uint256 securityId => Charge[])) private _configs;
    mapping(address party => Instructions.Accounts) private _chargeAccounts;
    // everything a cycle holds, under its id (as Uniswap v4's Pool.State)
    mapping(bytes32 cycleId => CycleState) private _cycles;

    /// @dev One cycle's state. `info` is what getCycle returns; the deposit token of each currency the
    /// legs move is fixed at netting (checked at settlement); `ownTrades` are the trades uploaded by
    /// the participant named on them (hash chain in upload order): what a netting covers, and
    /// `deferred` those of them the CCP deferred to a later cycle (in deferral order, each record
    /// once); `uploaders` the participants with own trades, in order of their first own upload;
    /// `deferredDue` per participant and currency the charges and cash net of its deferred trades;
    /// idempotency keys, one slot per batch: the first trade id of an upload, the caller's
    /// reference of a second clearing batch (recordedAs: the batch's size); `second` the second
    /// parties' clearing data per first party and currency (SecondClearings).
    struct CycleState {
        Cycle info;
        mapping(address participant => Instructions.Line[]) instructions;
        address[] instructors;
        mapping(address participant => bool) isInstructor;
        address[] uploaders;
        mapping(address participant => mapping(bytes32 currency => Instructions.Deferred)) deferredDue;
        mapping(bytes32 currency => address token) cash;
        mapping(address party => mapping(bytes32 peer => uint256 word)) buckets;
        mapping(address party => mapping(bytes32 currency => ClearingTotals)) totals;
        mapping(address party => bytes32) clearingHash;
        mapping(address party => bytes32) lastTradeId;
        mapping(address party => mapping(bytes32 peer => ReconStatus)) recon;
        mapping(address participant => Bucket) ownTrades;
        mapping(address participant => Bucket) deferred;
        mapping(bytes32 record => bool) isDeferred;
        mapping(address party => mapping(bytes32 firstTradeId => IdempotencyKeys.Use)) uploads;
        mapping(address second => mapping(bytes32 batchRef => IdempotencyKeys.Use)) secondBatches;
        mapping(address second => mapping(address party => SecondClearings.Entry)) second;
        mapping(address party => bool) completed;
    }

    constructor(IConsortiumRegistry registry_, ISecurityToken security_) ConsortiumManaged(registry_) {
        _security = security_;
    }

    // ----------------------------------------------------------------- set-up

    /// @inheritdoc ISettlementEngine
    function listCurrency(bytes32 currency, address token) external onlyRole(Roles.PERMISSION_MANAGER) {
        address listed = _cash[currency];
        if (listed != address(0)) revert SettlementCurrencyAlreadyListed(currency, listed);
        _checkTokenCurrency(currency, token);
        _cash[currency] = token;
        _currencies.push(currency);
        emit CurrencyListed(currency, token, msg.sender);
    }

    /// @inheritdoc ISettlementEngine
    function replaceCurrency(bytes32 currency, address token) external onlyRole(Roles.PERMISSION_MANAGER) {
        address previous = _cash[currency];
        if (previous == address(0)) revert SettlementUnknownCurrency(currency);
        _checkTokenCurrency(currency, token);
        _cash[currency] = token;
        emit CurrencyReplaced(currency, previous, token, msg.sender);
    }

    /// @inheritdoc ISettlementEngine
    function setClearingConfig(uint256 securityId, Charge[] calldata charges) external {
        address party = _checkFirstParty();
        if (!_security.isListed(securityId)) revert SettlementUnknownSecurity(securityId);
        if (charges.length > MAX_CHARGES) revert SettlementTooManyCharges(charges.length, MAX_CHARGES);
        Charge[] storage stored = _configs[party][securityId];
        while (stored.length > 0) stored.pop();
        for (uint256 i; i < charges.length; ++i) {
            Clearing.validate(charges[i]);
            stored.push(charges[i]);
        }
        emit ClearingConfigSet(party, securityId, keccak256(abi.encode(charges)), charges.length);
    }

    /// @inheritdoc ISettlementEngine
    function setChargeAccounts(address feeCollector, address taxAuthority) external {
        address party = _checkFirstParty();
        if (feeCollector == address(0) || taxAuthority == address(0)) {
            revert SettlementZeroChargeAccount(feeCollector, taxAuthority);
        }
        _chargeAccounts[party] = Instructions.Accounts(feeCollector, taxAuthority);
        emit ChargeAccountsSet(party, feeCollector, taxAuthority);
    }

    // ----------------------------------------------------------------- cycle

    /// @inheritdoc ISettlementEngine
    function openCycle(bytes32 cycleId, uint32 tradeDate) external {
        address ccp = _checkRole(Roles.CCP);
        if (cycleId == bytes32(0)) revert SettlementZeroCycleId();
        if (tradeDate == 0) revert SettlementZeroTradeDate();
        Cycle storage c = _cycles[cycleId].info;
        if (c.status != CycleStatus.None) revert SettlementCycleExists(cycleId);
        c.status = CycleStatus.Open;
        c.tradeDate = tradeDate;
        c.ccp = ccp;
        emit CycleOpened(cycleId, ccp, tradeDate);
    }

    /// @inheritdoc ISettlementEngine
    function uploadTrades(bytes32 cycleId, Trade[] calldata trades) external {
        address party = _checkFirstParty();
        CycleState storage s = _checkOpen(cycleId);
        if (s.info.uploadsClosed) revert SettlementUploadsClosed(cycleId);
        uint32 tradeDate = s.info.tradeDate;
        _checkBatch(trades.length, MAX_UPLOAD_BATCH);
        bytes32 first = trades[0].tradeId;
        IdempotencyKeys.Use memory earlier = s.uploads[party].claim(first, trades.length);
        if (earlier.blockNumber != 0) {
            revert SettlementBatchAlreadyUploaded(cycleId, party, first, earlier.recordedAs, earlier.blockNumber);
        }
        // after the idempotency answer: a batch replayed after completion is still told it is on chain
        if (s.completed[party]) revert SettlementUploadsCompleted(cycleId, party);
        (Bucket memory all, bytes32 chain) = _ingest(cycleId, s, party, tradeDate, trades);
        emit TradesUploaded(cycleId, party, trades.length, all.count, all.hash, chain);
    }

    /// @inheritdoc ISettlementEngine
    function submitSecondClearing(bytes32 cycleId, SecondClearing[] calldata entries, bytes32 batchRef) external {
        address second = _checkSecondParty();
        CycleState storage s = _checkOpen(cycleId);
        _checkBatch(entries.length, MAX_SECOND_CLEARING_ENTRIES);
        if (batchRef == bytes32(0)) revert SettlementZeroBatchRef(cycleId);
        IdempotencyKeys.Use memory earlier = s.secondBatches[second].claim(batchRef, entries.length);
        if (earlier.blockNumber != 0) {
            revert SettlementSecondClearingAlreadySubmitted(
                cycleId, second, batchRef, earlier.recordedAs, earlier.blockNumber
            );
        }
        for (uint256 i; i < entries.length; ++i) {
            if (!_isFirstParty(entries[i].party)) revert SettlementPartyNotFirstParty(entries[i].party);
        }
        SecondClearings.store(
            s.buckets[second], s.second[second], _cash, cycleId, second, entries, MAX_SECOND_CLEARING_LINES
        );
    }

    /// @inheritdoc ISettlementEngine
    function reconcile(bytes32 cycleId, address counterparty) external returns (bool matched) {
        address party = _checkFirstParty();
        CycleState storage s = _checkOpen(cycleId);
        bytes32 peer = _key(counterparty);
        if (counterparty == party || !registry.isActive(counterparty)) revert SettlementUnknownCounterparty(counterparty);
        // a second party (CCP or CSD) reconciles against all of our trades, a first party against ours with it
        bool secondParty = registry.hasRole(counterparty, Roles.CCP) || registry.hasRole(counterparty, Roles.CSD);
        if (!secondParty && !_isFirstParty(counterparty)) revert SettlementUnknownCounterparty(counterparty);
        Bucket memory ours = TradeUpload.unpack(s.buckets[party][secondParty ? ALL : peer]);
        ReconLevel level = secondParty ? ReconLevel.SecondParty : ReconLevel.Intermediary;
        Bucket memory theirs = TradeUpload.unpack(s.buckets[counterparty][_key(party)]);
        // per-currency totals exist against a second party only (see the interface)
        bool same = !secondParty || _sameTotals(s, cycleId, party, counterparty);
        matched = _record(cycleId, party, peer, level, ours, theirs, same);
    }

    /// @inheritdoc ISettlementEngine
    function reconcileInvestor(bytes32 cycleId, bytes32 ownerCommitment, uint64 statementCount, bytes32 statementHash)
        external
        returns (bool matched)
    {
        address party = _checkFirstParty();
        CycleState storage s = _checkOpen(cycleId);
        if (ownerCommitment == bytes32(0)) revert SettlementZeroCommitment(bytes32(0));
        Bucket memory ours = TradeUpload.unpack(s.buckets[party][ownerCommitment]);
        matched =
            _record(cycleId, party, ownerCommitment, ReconLevel.Investor, ours, Bucket(statementCount, statementHash), true);
    }

    /// @inheritdoc ISettlementEngine
    function submitInstruction(bytes32 cycleId, InstructionLine[] calldata lines) external {
        address party = _checkFirstParty();
        CycleState storage s = _checkOpen(cycleId);
        if (!s.info.uploadsClosed) revert SettlementUploadsNotClosed(cycleId);
        _checkReconciled(s, cycleId, s.info.ccp, party);
        if (lines.length == 0) revert SettlementEmptyBatch();
        if (lines.length > MAX_INSTRUCTION_LINES) revert SettlementBatchTooLarge(lines.length, MAX_INSTRUCTION_LINES);
        for (uint256 i; i < lines.length; ++i) {
            InstructionLine calldata l = lines[i];
            _checkAsset(l.kind, l.asset);
            if (l.kind == AssetKind.Cash) _checkCharges(s, cycleId, party, l);
        }
        bool charged = Instructions.store(s.instructions[party], cycleId, party, lines, MAX_LEG_AMOUNT);
        if (charged && _chargeAccounts[party].feeCollector == address(0)) revert SettlementNoChargeAccounts(party);
        if (!s.isInstructor[party]) {
            s.isInstructor[party] = true;
            s.instructors.push(party);
        }
        emit InstructionSubmitted(cycleId, party, lines.length);
    }

    /// @inheritdoc ISettlementEngine
    function completeUploads(bytes32 cycleId) external {
        address party = _checkFirstParty();
        CycleState storage s = _checkOpen(cycleId);
        if (s.info.uploadsClosed) revert SettlementUploadsClosed(cycleId);
        if (s.completed[party]) revert SettlementUploadsCompleted(cycleId, party);
        s.completed[party] = true;
        emit UploadsCompleted(cycleId, party, TradeUpload.unpack(s.buckets[party][ALL]).count);
    }

    /// @inheritdoc ISettlementEngine
    function closeUploads(bytes32 cycleId) external {
        Cycle storage c = _checkCycleCcp(cycleId).info;
        _checkOpenStatus(cycleId, c);
        if (c.uploadsClosed) revert SettlementUploadsClosed(cycleId);
        c.uploadsClosed = true;
        emit UploadsClosed(cycleId, c.ccp);
    }

    /// @inheritdoc ISettlementEngine
    function submitNetting(bytes32 cycleId, uint64 tradeCount, bytes32 tradeSetHash, Leg[] calldata legs) external {
        CycleState storage s = _checkCycleCcp(cycleId);
        Cycle storage c = s.info;
        _checkOpenStatus(cycleId, c);
        if (!c.uploadsClosed) revert SettlementUploadsNotClosed(cycleId);
        address ccp = c.ccp;
        if (legs.length == 0) revert SettlementEmptyBatch();
        if (legs.length > MAX_LEGS) revert SettlementBatchTooLarge(legs.length, MAX_LEGS);
        _checkLegs(s, cycleId, ccp, legs);
        (uint64 netted, bytes32 setHash) = _countUploaders(s, cycleId, ccp);
        if (tradeCount != netted) revert SettlementTradeCountMismatch(cycleId, netted, tradeCount);
        if (tradeSetHash != setHash) revert SettlementTradeSetMismatch(cycleId, setHash, tradeSetHash);
        Instructions.check(s.instructions, s.instructors, cycleId, legs);
        _checkDue(s, cycleId);
        bytes32 legsHash = keccak256(abi.encode(legs));
        c.status = CycleStatus.Netted;
        c.tradeCount = tradeCount;
        c.tradeSetHash = tradeSetHash;
        c.legsHash = legsHash;
        c.legCount = uint32(legs.length);
        // instructions in settlement order: every delivery first, then every receipt
        uint256 seq = 0;
        for (uint256 pass; pass < 2; ++pass) {
            for (uint256 i; i < legs.length; ++i) {
                Leg calldata l = legs[i];
                if ((l.amount < 0) == (pass == 0)) {
                    emit SettlementInstructed(cycleId, l.participant, seq++, l.kind, l.asset, l.amount);
                }
            }
        }
        emit CycleNetted(cycleId, ccp, tradeCount, tradeSetHash, legsHash, legs.length);
    }

    /// @inheritdoc ISettlementEngine
    function unwindCycle(bytes32 cycleId, bytes32 reasonHash) external {
        Cycle storage c = _checkCycleCcp(cycleId).info;
        if (c.status == CycleStatus.Settled) revert SettlementAlreadySettled(cycleId, c.settledBlock);
        if (c.status != CycleStatus.Netted) revert SettlementCycleNotNetted(cycleId, c.status);
        bytes32 legsHash = c.legsHash;
        c.status = CycleStatus.Open;
        c.tradeCount = 0;
        c.legCount = 0;
        c.tradeSetHash = bytes32(0);
        c.legsHash = bytes32(0);
        emit CycleUnwound(cycleId, c.ccp, legsHash, reasonHash);
    }

    /// @inheritdoc ISettlementEngine
    function deferTrades(bytes32 cycleId, Trade[] calldata trades, bytes32 reasonHash) external {
        CycleState storage s = _checkCycleCcp(cycleId);
        Cycle storage c = s.info;
        _checkOpenStatus(cycleId, c);
        if (!c.uploadsClosed) revert SettlementUploadsNotClosed(cycleId);
        _checkBatch(trades.length, MAX_BATCH);
        for (uint256 i; i < trades.length; ++i) {
            Trade calldata t = trades[i];
            address p = t.participant;
            if (t.tradeDate != c.tradeDate) revert SettlementTradeDateMismatch(t.tradeId, t.tradeDate, c.tradeDate);
            bytes32 record = keccak256(abi.encode(t));
            if (s.isDeferred[record]) revert SettlementTradeAlreadyDeferred(cycleId, p, t.tradeId);
            s.isDeferred[record] = true;
            Bucket storage d = s.deferred[p];
            uint64 uploaded = s.ownTrades[p].count;
            if (d.count >= uploaded) revert SettlementDeferralExceedsTrades(cycleId, p, d.count + 1, uploaded);
            _fold(d, record);
            emit TradeDeferred(cycleId, p, t.tradeId, record, reasonHash);
            _deferCharges(s, cycleId, t, reasonHash);
        }
    }

    /// @inheritdoc ISettlementEngine
    function settle(bytes32 cycleId, Leg[] calldata legs) external {
        _checkRole(Roles.CSD);
        CycleState storage s = _cycles[cycleId];
        Cycle storage c = s.info;
        if (c.status == CycleStatus.Settled) revert SettlementAlreadySettled(cycleId, c.settledBlock);
        if (c.status != CycleStatus.Netted) revert SettlementCycleNotNetted(cycleId, c.status);
        bytes32 given = keccak256(abi.encode(legs));
        if (given != c.legsHash) revert SettlementLegsMismatch(cycleId, c.legsHash, given);
        for (uint256 i; i < legs.length; ++i) {
            if (legs[i].kind != AssetKind.Cash || (i > 0 && legs[i - 1].asset == legs[i].asset && legs[i - 1].kind == AssetKind.Cash)) {
                continue;
            }
            bytes32 currency = bytes32(legs[i].asset);
            address fixedToken = s.cash[currency];
            if (_cash[currency] != fixedToken) {
                revert SettlementCurrencyTokenChanged(cycleId, currency, fixedToken, _cash[currency]);
            }
        }
        c.status = CycleStatus.Settled;
        c.settledBy = msg.sender;
        c.settledBlock = uint64(block.number);
        address ccp = c.ccp;
        // deliveries to the CCP first, then receipts from it: the CCP ends flat in every asset
        for (uint256 i; i < legs.length; ++i) {
            if (legs[i].amount < 0) _move(s, legs[i], legs[i].participant, ccp, uint256(-legs[i].amount));
        }
        for (uint256 i; i < legs.length; ++i) {
            if (legs[i].amount > 0) _move(s, legs[i], ccp, legs[i].participant, uint256(legs[i].amount));
        }
        Instructions.pay(s.instructions, s.instructors, _chargeAccounts, _cash, cycleId);
        emit CycleSettled(cycleId, msg.sender, given, legs.length, block.number);
    }

    // ----------------------------------------------------------------- views

    /// @inheritdoc ISettlementEngine
    function securityToken() external view returns (address) {
        return address(_security);
    }

    /// @inheritdoc ISettlementEngine
    function cashToken(bytes32 currency) external view returns (address) {
        return _cash[currency];
    }

    /// @inheritdoc ISettlementEngine
    function clearingConfig(address party, uint256 securityId) external view returns (Charge[] memory) {
        return _configs[party][securityId];
    }

    /// @inheritdoc ISettlementEngine
    function getCycle(bytes32 cycleId) external view returns (Cycle memory) {
        return _cycles[cycleId].info;
    }

    /// @inheritdoc ISettlementEngine
    function bucket(bytes32 cycleId, address party, bytes32 peer) external view returns (Bucket memory) {
        return TradeUpload.unpack(_cycles[cycleId].buckets[party][peer]);
    }

    /// @inheritdoc ISettlementEngine
    function uploadsCompleted(bytes32 cycleId, address party) external view returns (bool) {
        return _cycles[cycleId].completed[party];
    }

    /// @inheritdoc ISettlementEngine
    function firstClearing(bytes32 cycleId, address party, bytes32 currency) external view returns (ClearingTotals memory) {
        return _cycles[cycleId].totals[party][currency];
    }

    /// @inheritdoc ISettlementEngine
    function secondClearing(bytes32 cycleId, address secondParty, address party, bytes32 currency)
        external
        view
        returns (ClearingTotals memory)
    {
        return _cycles[cycleId].second[secondParty][party].totals[currency];
    }

    /// @inheritdoc ISettlementEngine
    function clearingHash(bytes32 cycleId, address party) external view returns (bytes32) {
        return _cycles[cycleId].clearingHash[party];
    }

    /// @inheritdoc ISettlementEngine
    function uploadOf(bytes32 cycleId, address party, bytes32 firstTradeId)
        external
        view
        returns (uint256 count, uint256 blockNumber)
    {
        return IdempotencyKeys.answer(_cycles[cycleId].uploads[party][firstTradeId]);
    }

    /// @inheritdoc ISettlementEngine
    function secondClearingOf(bytes32 cycleId, address secondParty, bytes32 batchRef)
        external
        view
        returns (uint256 count, uint256 blockNumber)
    {
        return IdempotencyKeys.answer(_cycles[cycleId].secondBatches[secondParty][batchRef]);
    }

    /// @inheritdoc ISettlementEngine
    function participantTrades(bytes32 cycleId, address participant)
        external
        view
        returns (Bucket memory uploaded, Bucket memory deferred)
    {
        CycleState storage s = _cycles[cycleId];
        return (s.ownTrades[participant], s.deferred[participant]);
    }

    /// @inheritdoc ISettlementEngine
    function chargeAccounts(address party) external view returns (address feeCollector, address taxAuthority) {
        Instructions.Accounts storage a = _chargeAccounts[party];
        return (a.feeCollector, a.taxAuthority);
    }

    /// @inheritdoc ISettlementEngine
    function cycleCashToken(bytes32 cycleId, bytes32 currency) external view returns (address) {
        return _cycles[cycleId].cash[currency];
    }

    /// @inheritdoc ISettlementEngine
    function reconStatus(bytes32 cycleId, address party, bytes32 peer) external view returns (ReconStatus) {
        return _cycles[cycleId].recon[party][peer];
    }

    // ----------------------------------------------------------------- internals

    /// @dev A batch through TradeUpload (in memory, each storage word written once); the party's own
    /// trades (and, at its first own trade, the party among the cycle's uploaders), last trade id and
    /// clearing hash kept. Returns its all-trades bucket and clearing hash.
    function _ingest(bytes32 cycleId, CycleState storage s, address party, uint32 tradeDate, Trade[] calldata trades)
        private
        returns (Bucket memory all, bytes32)
    {
        Bucket storage ownStored = s.ownTrades[party];
        TradeUpload.Outcome memory start = TradeUpload.Outcome(
            cycleId,
            _security,
            party,
            tradeDate,
            s.lastTradeId[party],
            s.clearingHash[party],
            TradeUpload.pack(ownStored.count, ownStored.hash),
            0
        );
        TradeUpload.Outcome memory out =
            TradeUpload.ingest(s.buckets[party], s.totals[party], _configs[party], _cash, start, TradeUpload.encoded(trades));
        Bucket memory own = TradeUpload.unpack(out.own);
        if (own.count != ownStored.count) {
            if (ownStored.count == 0) s.uploaders.push(party);
            (ownStored.count, ownStored.hash) = (own.count, own.hash);
        }
        s.lastTradeId[party] = out.last;
        s.clearingHash[party] = out.chain;
        return (TradeUpload.unpack(out.all), out.chain);
    }

    function _fold(Bucket storage b, bytes32 record) private {
        Bucket memory m = TradeUpload.unpack(TradeUpload.fold(TradeUpload.pack(b.count, b.hash), record));
        (b.count, b.hash) = (m.count, m.hash);
    }

    /// @dev `party`'s first clearing data against `second`'s entry for it, every listed currency
    /// (SecondClearings.compare emits each mismatch).
    function _sameTotals(CycleState storage s, bytes32 cycleId, address party, address second) private returns (bool) {
        return SecondClearings.compare(s.totals[party], s.second[second][party], _currencies, cycleId, party, second);
    }

    /// @dev Matched when the buckets agree and `same` (the totals, where compared) holds.
    function _record(
        bytes32 cycleId,
        address party,
        bytes32 peer,
        ReconLevel level,
        Bucket memory ours,
        Bucket memory theirs,
        bool same
    ) private returns (bool matched) {
        matched = same && ours.count == theirs.count && ours.hash == theirs.hash;
        _cycles[cycleId].recon[party][peer] = matched ? ReconStatus.Matched : ReconStatus.Broken;
        emit Reconciled(cycleId, party, peer, level, matched, ours.count, theirs.count, ours.hash, theirs.hash);
    }

    /// @dev Sorted, non-zero, bounded, listed, balanced per asset, and every participant reconciled
    /// (in leg order); fixes the cycle's deposit token per currency.
    function _checkLegs(CycleState storage s, bytes32 cycleId, address ccp, Leg[] calldata legs) private {
        // open-addressing set of the participants seen so far (load factor <= 1/2)
        address[] memory seen = new address[](2 * legs.length);
        int256 sum = 0;
        for (uint256 i; i < legs.length; ++i) {
            Leg calldata l = legs[i];
            if (l.amount == 0) revert SettlementZeroLeg(i);
            if (l.amount > MAX_LEG_AMOUNT || l.amount < -MAX_LEG_AMOUNT) revert SettlementLegAmountOutOfRange(i, l.amount);
            bool newAsset = i == 0 || legs[i - 1].kind != l.kind || legs[i - 1].asset != l.asset;
            if (i > 0) {
                Leg calldata p = legs[i - 1];
                if (!newAsset && p.participant >= l.participant) revert SettlementLegsNotSorted(i);
                if (newAsset && (p.kind > l.kind || (p.kind == l.kind && p.asset > l.asset))) revert SettlementLegsNotSorted(i);
                if (newAsset && sum != 0) revert SettlementAssetNotBalanced(p.kind, p.asset, sum);
            }
            if (newAsset) {
                sum = 0;
                _checkAsset(l.kind, l.asset);
                if (l.kind == AssetKind.Cash) s.cash[bytes32(l.asset)] = _cash[bytes32(l.asset)];
            }
            sum += l.amount;
            if (l.participant == address(0)) revert SettlementNotReconciled(cycleId, address(0));
            if (_firstSeen(seen, l.participant)) _checkReconciled(s, cycleId, ccp, l.participant);
        }
        Leg calldata lastLeg = legs[legs.length - 1];
        if (sum != 0) revert SettlementAssetNotBalanced(lastLeg.kind, lastLeg.asset, sum);
    }

    /// @dev A cash line's charges are the party's first clearing data in the currency less the charges
    /// of its deferred trades.
    function _checkCharges(CycleState storage s, bytes32 cycleId, address party, InstructionLine calldata l)
        private
        view
    {
        bytes32 currency = bytes32(l.asset);
        ClearingTotals storage tot = s.totals[party][currency];
        Instructions.Deferred storage off = s.deferredDue[party][currency];
        uint256 dueFees = tot.fees - off.fees;
        uint256 dueTaxes = tot.taxes - off.taxes;
        if (l.fees != dueFees || l.taxes != dueTaxes || dueFees > type(uint128).max || dueTaxes > type(uint128).max) {
            revert SettlementChargesMismatch(cycleId, party, currency, l.fees, dueFees, l.taxes, dueTaxes);
        }
    }

    /// @dev A deferred trade leaves its participant's charges due and its cash net (a buy's gross paid,
    /// a sell's received) out of the cycle, and voids its instruction.
    function _deferCharges(CycleState storage s, bytes32 cycleId, Trade calldata t, bytes32 reasonHash) private {
        address p = t.participant;
        Line memory line = Clearing.clear(t.side, t.quantity, t.price, _configs[p][t.securityId]);
        Instructions.Deferred storage off = s.deferredDue[p][t.currency];
        // a deferred trade's charges never exceed what its participant's uploads summed (uint256)
        off.fees += uint128(line.fees);
        off.taxes += uint128(line.taxes);
        // gross < 2^110 (Clearing's bounds): exact
        off.cash += t.side == Clearing.BUY ? -int256(line.gross) : int256(line.gross);
        Instructions.Line[] storage stored = s.instructions[p];
        if (stored.length == 0) return;
        while (stored.length > 0) stored.pop();
        emit InstructionVoided(cycleId, p, reasonHash);
    }

    /// @dev A match recorded earlier still holds if neither side changed since (re-upload, re-submission).
    function _stillMatches(CycleState storage s, address participant, address ccp) private view returns (bool) {
        return s.buckets[participant][ALL] == s.buckets[ccp][_key(participant)];
    }

    /// @dev Every uploader's charges instructed and cash net netted (Instructions.checkDue), in upload order.
    function _checkDue(CycleState storage s, bytes32 cycleId) private view {
        address[] storage uploaders = s.uploaders;
        for (uint256 i; i < uploaders.length; ++i) {
            address p = uploaders[i];
            // its cash net follows from its first clearing data only if every trade it uploaded is its own
            bool ownOnly = TradeUpload.unpack(s.buckets[p][ALL]).count == s.ownTrades[p].count;
            Instructions.checkDue(s.instructions[p], s.totals[p], s.deferredDue[p], _currencies, cycleId, p, ownOnly);
        }
    }

    /// @dev `participant` reconciled Matched with the CCP and still matches.
    function _checkReconciled(CycleState storage s, bytes32 cycleId, address ccp, address participant) private view {
        if (s.recon[participant][_key(ccp)] != ReconStatus.Matched || !_stillMatches(s, participant, ccp)) {
            revert SettlementNotReconciled(cycleId, participant);
        }
    }

    /// @dev The trades netted: every uploader's own trades less the deferred ones; an uploader with
    /// trades left to net must be reconciled (in upload order). The trade-set hash is the sum
    /// (mod 2^256, so independent of the upload order) over the uploaders of
    /// keccak256(abi.encode(participant, uploaded.count, uploaded.hash, deferred.count, deferred.hash)).
    function _countUploaders(CycleState storage s, bytes32 cycleId, address ccp)
        private
        view
        returns (uint64 netted, bytes32)
    {
        address[] storage uploaders = s.uploaders;
        uint256 sum = 0;
        for (uint256 i; i < uploaders.length; ++i) {
            address p = uploaders[i];
            Bucket memory up = s.ownTrades[p];
            // nothing deferred (the usual case) costs one storage read, not two
            Bucket memory off = Bucket(0, bytes32(0));
            if (s.deferred[p].count != 0) off = s.deferred[p];
            uint64 n = up.count - off.count;
            if (n != 0) _checkReconciled(s, cycleId, ccp, p);
            netted += n;
            unchecked {
                sum += uint256(keccak256(abi.encode(p, up.count, up.hash, off.count, off.hash)));
            }
        }
        return (netted, bytes32(sum));
    }

    /// @dev Whether `participant` (non-zero) is not yet in the open-addressing set `table`; adds it.
    function _firstSeen(address[] memory table, address participant) private pure returns (bool) {
        uint256 n = table.length;
        uint256 k = uint256(uint160(participant)) % n;
        while (true) {
            address q = table[k];
            if (q == participant) return false;
            if (q == address(0)) {
                table[k] = participant;
                return true;
            }
            if (++k == n) k = 0;
        }
    }

    function _checkTokenCurrency(bytes32 currency, address token) private view {
        bytes32 tokenCurrency = IDepositToken(token).currency();
        if (tokenCurrency != currency || currency == bytes32(0)) revert SettlementCurrencyMismatch(currency, tokenCurrency);
    }

    /// @dev The caller holds CCP and is (an operator of) the cycle's CCP.
    function _checkCycleCcp(bytes32 cycleId) private view returns (CycleState storage s) {
        _checkRole(Roles.CCP);
        s = _cycles[cycleId];
        Cycle storage c = s.info;
        // an unknown cycle is refused by the caller's status check
        if (c.status != CycleStatus.None && registry.memberOf(msg.sender) != c.ccp) {
            revert SettlementNotCycleCcp(cycleId, msg.sender, c.ccp);
        }
    }

    function _checkOpenStatus(bytes32 cycleId, Cycle storage c) private view {
        if (c.status != CycleStatus.Open) revert SettlementCycleNotOpen(cycleId, c.status);
    }

    function _checkAsset(AssetKind kind, uint256 asset) private view {
        if (kind == AssetKind.Security) {
            if (!_security.isListed(asset)) revert SettlementUnknownSecurity(asset);
        } else if (_cash[bytes32(asset)] == address(0)) {
            revert SettlementUnknownCurrency(bytes32(asset));
        }
    }

    function _move(CycleState storage s, Leg calldata l, address from, address to, uint256 amount) private {
        if (l.kind == AssetKind.Security) _security.agentTransfer(from, to, l.asset, amount);
        else IDepositToken(s.cash[bytes32(l.asset)]).agentTransfer(from, to, amount);
    }

    function _checkOpen(bytes32 cycleId) private view returns (CycleState storage s) {
        s = _cycles[cycleId];
        if (s.info.status != CycleStatus.Open) revert SettlementCycleNotOpen(cycleId, s.info.status);
    }

    function _checkBatch(uint256 n, uint256 max) private pure {
        if (n == 0) revert SettlementEmptyBatch();
        if (n > max) revert SettlementBatchTooLarge(n, max);
    }

    /// @dev Active member (RegistryNotActiveMember otherwise) holding BROKER, CUSTODIAN or EXCHANGE.
    function _checkFirstParty() private view returns (address member) {
        member = registry.requireActive(msg.sender);
        if (!_isFirstParty(msg.sender)) revert SettlementNotFirstParty(msg.sender);
    }

    /// @dev Active member (RegistryNotActiveMember otherwise) holding CCP or CSD.
    function _checkSecondParty() private view returns (address member) {
        member = registry.requireActive(msg.sender);
        if (!registry.hasRole(msg.sender, Roles.CCP) && !registry.hasRole(msg.sender, Roles.CSD)) {
            revert SettlementNotSecondParty(msg.sender);
        }
    }

    function _isFirstParty(address account) private view returns (bool) {
        return registry.hasRole(account, Roles.BROKER) || registry.hasRole(account, Roles.CUSTODIAN)
            || registry.hasRole(account, Roles.EXCHANGE);
    }

    function _key(address a) private pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }
}
