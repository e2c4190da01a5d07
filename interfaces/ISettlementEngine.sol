// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IClearing} from "./IClearing.sol";

/// @title ISettlementEngine
/// @notice Cross-border securities settlement: first parties (BROKER, CUSTODIAN, EXCHANGE) upload trades
/// and their charges per product, the contract computes their first clearing data; second parties (CCP,
/// CSD) distribute their second clearing data; every first party reconciles on its own, level by level;
/// the CCP novates and nets multilaterally; the CSD settles the net legs delivery-versus-payment.
/// @dev Trades are never stored one by one: each upload folds the trade's record hash into hash chains
/// ("buckets") keyed by (cycle, party, peer) — the peer being every other party on the trade's chain, the
/// beneficial owner's commitment, and ALL (zero key) — and adds its clearing line to per-currency totals.
/// Two parties hold the same trades in common exactly when their buckets for each other agree (trade ids
/// are uploaded in strictly ascending order per party and cycle, so the chains are canonical).
/// Confidential fields (beneficial owner, client ids) are on chain only as salted commitments.
/// A "trade" is one side of an execution: the side its client took, settled by `participant`; an
/// execution is two trades (a buy and a sell) and nets to zero across participants.
interface ISettlementEngine is IClearing {
    /// @notice Lifecycle of a settlement cycle.
    enum CycleStatus {
        None,
        Open,
        Netted,
        Settled
    }

    /// @notice Reconciliation levels: against a second party (CCP/CSD), against another first party along
    /// the chain (e.g. overseas broker vs local broker), against the investor's confirmed statement.
    enum ReconLevel {
        SecondParty,
        Intermediary,
        Investor
    }

    enum ReconStatus {
        None,
        Matched,
        Broken
    }

    /// @notice The kind of asset a net leg moves.
    enum AssetKind {
        Security,
        Cash
    }

    /// @notice One side of an execution, as a first party uploads it.
    /// @param tradeId unique id, strictly ascending within one party's uploads of a cycle (so never zero)
    /// @param securityId id of a listed security (SecurityToken id)
    /// @param currency ISO 4217 code as bytes32 (a listed DepositToken)
    /// @param side 0 buy, 1 sell (the client's side)
    /// @param quantity units, 1..Clearing.MAX_QUANTITY
    /// @param price minor units of `currency` per unit, 1..Clearing.MAX_PRICE
    /// @param tradeDate yyyymmdd, must equal the cycle's trade date
    /// @param ownerCommitment salted hash of the beneficial owner's pseudonym (never the pseudonym)
    /// @param localBroker the client's local broker (may be zero)
    /// @param participant the clearing participant settling this side with the CCP (overseas broker)
    /// @param custodian the custodian holding for the client (may be zero)
    /// @param exchange the exchange of execution (may be zero)
    struct Trade {
        bytes32 tradeId;
        uint256 securityId;
        bytes32 currency;
        uint8 side;
        uint256 quantity;
        uint256 price;
        uint32 tradeDate;
        bytes32 ownerCommitment;
        address localBroker;
        address participant;
        address custodian;
        address exchange;
    }

    /// @notice A hash chain of trade records one party holds in common with a peer: `count` records,
    /// `hash` = uint192(keccak256(abi.encodePacked(hash, record))) folded from zero (192 bits, so count and
    /// hash share one storage word).
    struct Bucket {
        uint64 count;
        bytes32 hash;
    }

    /// @notice First clearing data of one party in one currency for a cycle (sums of clearing lines).
    /// @param buyNet sum of nets of buys (amounts the party's clients pay)
    /// @param sellNet sum of nets of sells (amounts the party's clients receive)
    struct ClearingTotals {
        uint64 trades;
        uint256 gross;
        uint256 fees;
        uint256 taxes;
        uint256 buyNet;
        uint256 sellNet;
    }

    /// @notice A second party's clearing data of one first party in one currency.
    struct CurrencyTotals {
        bytes32 currency;
        ClearingTotals totals;
    }

    /// @notice Second clearing data of a CCP or CSD for one first party.
    /// @param party the first party it is distributed to
    /// @param tradeCount trades of the cycle on which `party` appears
    /// @param tradeSetHash hash chain of those trades' record hashes in ascending trade id order
    /// @param configHash hash of the configuration that produced the figures
    /// @param totals per currency (strictly ascending, listed, each with trades) the clearing data of
    /// those trades: what `party`'s first clearing data in the currency must be (their trades sum to
    /// `tradeCount`; a currency without trades has no line)
    struct SecondClearing {
        address party;
        uint64 tradeCount;
        bytes32 tradeSetHash;
        bytes32 configHash;
        CurrencyTotals[] totals;
    }

    /// @notice One net settlement leg: `amount` > 0 the participant receives from the CCP, < 0 it delivers.
    /// @param asset the security id for Security, `uint256(currency)` for Cash
    struct Leg {
        address participant;
        AssetKind kind;
        uint256 asset;
        int256 amount;
    }

    /// @notice One line of a clearing participant's settlement instruction: what it agrees to deliver
    /// (amount < 0) or receive (amount > 0) against the CCP in one asset, and for a cash line the fees
    /// and taxes it pays on top (its first clearing data in that currency, less deferred trades).
    /// @param asset the security id for Security, `uint256(currency)` for Cash
    /// @param amount the net with the CCP; zero only on a cash line that carries charges alone
    /// @param fees fees paid to the party's fee collector (Cash lines only)
    /// @param taxes taxes paid to the party's tax authority (Cash lines only)
    struct InstructionLine {
        AssetKind kind;
        uint256 asset;
        int256 amount;
        uint256 fees;
        uint256 taxes;
    }

    /// @notice A cycle as recorded.
    /// @dev `tradeCount` and `tradeSetHash` (recomputed on chain at netting, see submitNetting) cover
    /// the trades netted; `uploadsClosed` is set by closeUploads and stays set through an unwind.
    struct Cycle {
        CycleStatus status;
        uint32 tradeDate;
        address ccp;
        uint64 tradeCount;
        uint32 legCount;
        bytes32 tradeSetHash;
        bytes32 legsHash;
        address settledBy;
        uint64 settledBlock;
        bool uploadsClosed;
    }

    // ----------------------------------------------------------------- events
    event CurrencyListed(bytes32 indexed currency, address indexed token, address indexed listedBy);
    event CurrencyReplaced(
        bytes32 indexed currency, address indexed previousToken, address indexed token, address replacedBy
    );
    event UploadsClosed(bytes32 indexed cycleId, address indexed ccp);
    event UploadsCompleted(bytes32 indexed cycleId, address indexed party, uint64 trades);
    event CycleUnwound(bytes32 indexed cycleId, address indexed ccp, bytes32 legsHash, bytes32 reasonHash);
    event TradeDeferred(
        bytes32 indexed cycleId, address indexed participant, bytes32 tradeId, bytes32 recordHash, bytes32 reasonHash
    );
    event ClearingConfigSet(address indexed party, uint256 indexed securityId, bytes32 configHash, uint256 charges);
    event CycleOpened(bytes32 indexed cycleId, address indexed ccp, uint32 tradeDate);
    event TradesUploaded(
        bytes32 indexed cycleId, address indexed party, uint256 count, uint64 totalCount, bytes32 tradeSetHash, bytes32 clearingHash
    );
    /// @notice `party`'s first clearing data of the cycle in `currency` after an upload batch with
    /// trades in it: the cycle's running sums (what firstClearing returns), so the cycle's last one is
    /// the party's first clearing data. One per currency the batch touched, emitted by TradeUpload.
    event FirstClearingData(
        bytes32 indexed cycleId,
        address indexed party,
        bytes32 indexed currency,
        uint64 tradeCount,
        uint256 gross,
        uint256 fees,
        uint256 taxes,
        uint256 buyNet,
        uint256 sellNet
    );
    /// @notice A second party's entry for `party` stands (it replaces any earlier one): its bucket
    /// and `currencies` lines of totals (one SecondClearingData each, emitted before).
    event SecondClearingDistributed(
        bytes32 indexed cycleId,
        address indexed party,
        address indexed secondParty,
        uint64 tradeCount,
        bytes32 tradeSetHash,
        bytes32 configHash,
        uint256 currencies
    );
    /// @notice `secondParty`'s clearing data of `party` in `currency` (what reconcile compares with
    /// the party's FirstClearingData).
    event SecondClearingData(
        bytes32 indexed cycleId,
        address indexed party,
        bytes32 indexed currency,
        address secondParty,
        uint64 tradeCount,
        uint256 gross,
        uint256 fees,
        uint256 taxes,
        uint256 buyNet,
        uint256 sellNet
    );
    /// @notice At reconciliation (`level`), `party`'s first clearing data in `currency` (`ours`) is not
    /// `counterparty`'s (`theirs`; zero where one side has no totals in the currency). The level
    /// is recorded Broken.
    event ClearingTotalsMismatch(
        bytes32 indexed cycleId,
        address indexed party,
        address indexed counterparty,
        ReconLevel level,
        bytes32 currency,
        ClearingTotals ours,
        ClearingTotals theirs
    );
    event Reconciled(
        bytes32 indexed cycleId,
        address indexed party,
        bytes32 indexed peer,
        ReconLevel level,
        bool matched,
        uint64 ourCount,
        uint64 theirCount,
        bytes32 ourHash,
        bytes32 theirHash
    );
    event SettlementInstructed(
        bytes32 indexed cycleId, address indexed participant, uint256 sequence, AssetKind kind, uint256 asset, int256 amount
    );
    event CycleNetted(
        bytes32 indexed cycleId, address indexed ccp, uint64 tradeCount, bytes32 tradeSetHash, bytes32 legsHash, uint256 legCount
    );
    event ChargeAccountsSet(address indexed party, address feeCollector, address taxAuthority);
    /// @notice One line of a participant's settlement instruction (emitted in line order, before
    /// InstructionSubmitted closes it).
    event InstructionLineSubmitted(
        bytes32 indexed cycleId,
        address indexed participant,
        AssetKind kind,
        uint256 asset,
        int256 amount,
        uint256 fees,
        uint256 taxes
    );
    /// @notice A participant's instruction of `lines` lines stands (it replaces any earlier one).
    event InstructionSubmitted(bytes32 indexed cycleId, address indexed participant, uint256 lines);
    /// @notice A deferral of the participant's trade voided its instruction: it instructs again.
    event InstructionVoided(bytes32 indexed cycleId, address indexed participant, bytes32 reasonHash);
    event ChargesPaid(
        bytes32 indexed cycleId,
        address indexed participant,
        bytes32 indexed currency,
        address feeCollector,
        uint256 fees,
        address taxAuthority,
        uint256 taxes
    );
    event CycleSettled(bytes32 indexed cycleId, address indexed settledBy, bytes32 legsHash, uint256 legCount, uint256 blockNumber);

    // ----------------------------------------------------------------- errors
    error SettlementNotFirstParty(address account);
    error SettlementNotSecondParty(address account);
    error SettlementPartyNotFirstParty(address party);
    /// @notice A second clearing trade-set hash above 192 bits: bucket hash chains are kept to 192
    /// bits so a bucket's count and hash share one storage word (TradeUpload).
    error SettlementTradeSetHashOutOfRange(address party, bytes32 tradeSetHash);
    error SettlementUnknownCounterparty(address counterparty);
    error SettlementCurrencyMismatch(bytes32 currency, bytes32 tokenCurrency);
    /// @notice `currency` is listed already, to `token`: only replaceCurrency (governance) changes it.
    error SettlementCurrencyAlreadyListed(bytes32 currency, address token);
    /// @notice The deposit token of `currency` is no longer the one fixed when the cycle was netted:
    /// the CCP unwinds and re-nets the cycle under the new token.
    error SettlementCurrencyTokenChanged(bytes32 cycleId, bytes32 currency, address fixedToken, address currentToken);
    /// @notice The CCP closed the cycle's uploads (closeUploads), or closes them a second time.
    error SettlementUploadsClosed(bytes32 cycleId);
    error SettlementUploadsCompleted(bytes32 cycleId, address party);
    /// @notice Netting and deferral need the cycle's uploads closed first (closeUploads).
    error SettlementUploadsNotClosed(bytes32 cycleId);
    /// @notice The trade-set hash given is not the one recomputed from the uploads and deferrals.
    error SettlementTradeSetMismatch(bytes32 cycleId, bytes32 expected, bytes32 given);
    /// @notice Deferring would defer more of `participant`'s trades than it uploaded as participant.
    error SettlementDeferralExceedsTrades(bytes32 cycleId, address participant, uint64 deferred, uint64 uploaded);
    /// @notice This very trade (record) was deferred out of the cycle already.
    error SettlementTradeAlreadyDeferred(bytes32 cycleId, address participant, bytes32 tradeId);
    /// @notice A second clearing batch needs a non-zero reference (its idempotency key).
    error SettlementZeroBatchRef(bytes32 cycleId);
    error SettlementUnknownSecurity(uint256 securityId);
    error SettlementUnknownCurrency(bytes32 currency);
    error SettlementTooManyCharges(uint256 given, uint256 max);
    error SettlementZeroCycleId();
    error SettlementZeroTradeDate();
    error SettlementCycleExists(bytes32 cycleId);
    error SettlementCycleNotOpen(bytes32 cycleId, CycleStatus status);
    error SettlementCycleNotNetted(bytes32 cycleId, CycleStatus status);
    error SettlementAlreadySettled(bytes32 cycleId, uint256 settledBlock);
    error SettlementNotCycleCcp(bytes32 cycleId, address caller, address ccp);
    error SettlementEmptyBatch();
    error SettlementBatchTooLarge(uint256 given, uint256 max);
    error SettlementTradeOutOfOrder(bytes32 tradeId, bytes32 lastTradeId);
    error SettlementTradeDateMismatch(bytes32 tradeId, uint32 tradeDate, uint32 cycleTradeDate);
    error SettlementNotTradeParty(bytes32 tradeId, address party);
    error SettlementZeroCommitment(bytes32 tradeId);
    error SettlementLegsNotSorted(uint256 index);
    error SettlementZeroLeg(uint256 index);
    error SettlementLegAmountOutOfRange(uint256 index, int256 amount);
    error SettlementAssetNotBalanced(AssetKind kind, uint256 asset, int256 residual);
    error SettlementNotReconciled(bytes32 cycleId, address participant);
    error SettlementLegsMismatch(bytes32 cycleId, bytes32 expected, bytes32 given);
    error SettlementTradeCountMismatch(bytes32 cycleId, uint64 uploaded, uint64 given);
    /// @notice `participant` has a net leg in (kind, asset), or owes fees or taxes in that currency, but
    /// no standing settlement instruction (line).
    error SettlementNoInstruction(bytes32 cycleId, address participant, AssetKind kind, uint256 asset);
    /// @notice The CCP's net for `participant` in (kind, asset) is not what it instructed (0 where
    /// one side has no line).
    error SettlementInstructionMismatch(
        bytes32 cycleId, address participant, AssetKind kind, uint256 asset, int256 instructed, int256 netted
    );
    /// @notice `participant`'s cash net in `currency` from its first clearing data (sells' gross less
    /// buys', less its deferred trades') is `cleared`, but the netting moves `netted` (its instructed
    /// and netted cash amount, 0 without a line): the CCP left part of its trades out.
    error SettlementCashNetMismatch(bytes32 cycleId, address participant, bytes32 currency, int256 cleared, int256 netted);
    /// @notice A cash line's fees or taxes are not the party's first clearing data in the currency
    /// (less the charges of its deferred trades).
    error SettlementChargesMismatch(
        bytes32 cycleId, address participant, bytes32 currency, uint256 fees, uint256 dueFees, uint256 taxes, uint256 dueTaxes
    );
    /// @notice Instruction lines go strictly ascending by (kind, asset).
    error SettlementInstructionNotSorted(uint256 index);
    /// @notice An instruction line moves nothing (zero amount, no charges).
    error SettlementZeroInstructionLine(uint256 index);
    /// @notice A securities line carries fees or taxes (charges are paid in cash).
    error SettlementChargesOnSecurity(uint256 index, uint256 fees, uint256 taxes);
    /// @notice The party pays charges but named no fee collector and tax authority (setChargeAccounts).
    error SettlementNoChargeAccounts(address party);
    /// @notice A fee collector or tax authority account must be non-zero.
    error SettlementZeroChargeAccount(address feeCollector, address taxAuthority);
    /// @notice A second clearing entry names `currency` twice.
    error SettlementDuplicateCurrency(address party, bytes32 currency);
    /// @notice A second clearing entry's currency lines go strictly ascending by currency.
    error SettlementCurrenciesNotSorted(address party, uint256 index);
    /// @notice A second clearing currency line counts no trade (a currency without trades has none).
    error SettlementEmptyCurrencyTotals(address party, bytes32 currency);
    /// @notice A second clearing entry's currency lines count `counted` trades, not its `tradeCount`.
    error SettlementTotalsCountMismatch(address party, uint64 tradeCount, uint256 counted);
    /// @notice A second clearing batch carries more currency lines than MAX_SECOND_CLEARING_LINES.
    error SettlementTooManyTotals(uint256 given, uint256 max);
    error SettlementBatchAlreadyUploaded(
        bytes32 cycleId, address party, bytes32 firstTradeId, uint256 count, uint256 blockNumber
    );
    error SettlementSecondClearingAlreadySubmitted(
        bytes32 cycleId, address secondParty, bytes32 batchRef, uint256 count, uint256 blockNumber
    );

    // ----------------------------------------------------------------- set-up
    /// @notice Register the deposit token that is the cash of `currency`, once.
    /// @dev Governance only: any cash issuer listing first could squat a currency with a token it
    /// issues itself, and the DvP would pay sellers in it.
    /// Requirements:
    /// - caller holds PERMISSION_MANAGER
    /// - `currency` not listed yet (SettlementCurrencyAlreadyListed(currency, token))
    /// - `token.currency()` equals `currency`, non-zero
    function listCurrency(bytes32 currency, address token) external;

    /// @notice Governance re-points a listed currency to another deposit token (a token migration).
    /// @dev A cycle netted before keeps the token fixed at its netting: its settlement is refused
    /// (SettlementCurrencyTokenChanged) until the CCP unwinds and re-nets it.
    /// Requirements:
    /// - caller holds PERMISSION_MANAGER
    /// - `currency` listed; `token.currency()` equals `currency`
    function replaceCurrency(bytes32 currency, address token) external;

    /// @notice Set the calling first party's charges (fees, taxes) for one product (security).
    /// @dev Replaces the previous configuration; it applies to trades uploaded from then on.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE
    /// - the security is listed; at most MAX_CHARGES lines; every bps <= 10_000
    function setClearingConfig(uint256 securityId, Charge[] calldata charges) external;

    /// @notice Name the accounts the calling first party's charges are paid to at settlement: fees to
    /// `feeCollector`, taxes to `taxAuthority` (part of its clearing configuration; replaces earlier).
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE
    /// - both accounts non-zero (SettlementZeroChargeAccount)
    function setChargeAccounts(address feeCollector, address taxAuthority) external;

    // ----------------------------------------------------------------- cycle
    /// @notice Open the settlement cycle of a trade date; the caller becomes its central counterparty.
    /// Requirements:
    /// - caller holds CCP
    /// - cycleId and tradeDate non-zero; cycle not yet opened
    function openCycle(bytes32 cycleId, uint32 tradeDate) external;

    /// @notice Upload a batch of trades; computes and accumulates the caller's first clearing data.
    /// Emits FirstClearingData (the cycle's running sums) per currency of the batch, then TradesUploaded.
    /// @dev Idempotency key: (cycle, caller's member, first trade id of the batch), one storage slot
    /// per batch. A resent batch is refused with SettlementBatchAlreadyUploaded(cycleId, party,
    /// firstTradeId, count, blockNumber) before any trade is read; uploadOf answers for a key.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE and is localBroker, participant, custodian or
    ///   exchange of every trade
    /// - cycle Open and its uploads not closed (SettlementUploadsClosed); 1..MAX_UPLOAD_BATCH trades; no earlier batch of the caller began with the same trade id
    /// - trade ids strictly ascending over the caller's uploads
    /// - each trade: listed security and currency, side 0/1, quantity and price in range, the cycle's
    ///   trade date, non-zero owner commitment, charges not above gross on a sell
    function uploadTrades(bytes32 cycleId, Trade[] calldata trades) external;

    /// @notice Distribute second clearing data (per first party, per currency) of the calling CCP or
    /// CSD: each entry's bucket (count and hash chain of the party's trades) and its clearing totals
    /// per currency, stored per (second party, party, currency). Emits SecondClearingData per
    /// currency line, then SecondClearingDistributed per entry.
    /// @dev Re-submitting for a party replaces its entry, every currency (corrections before
    /// netting). A match recorded earlier is judged on the buckets alone when netting (see
    /// reconcile): a corrected entry is reconciled again by the party. Idempotency
    /// key: the caller's `batchRef` per (cycle, caller's member), one storage slot per batch: a batch
    /// under a reference already used is a resend and is refused with
    /// SettlementSecondClearingAlreadySubmitted(cycleId, secondParty, batchRef, count, blockNumber);
    /// a correction carries a new reference, so it is accepted even when its content equals an
    /// earlier batch (E1 -> E2 -> E1). secondClearingOf answers for a reference.
    /// Requirements:
    /// - caller holds CCP or CSD
    /// - cycle Open; 1..MAX_SECOND_CLEARING_ENTRIES entries (SettlementBatchTooLarge), at most
    ///   MAX_SECOND_CLEARING_LINES currency lines over all of them (SettlementTooManyTotals); every
    ///   `party` a first party (SettlementPartyNotFirstParty); trade-set hash within 192 bits
    /// - each entry's currency lines: listed currencies (SettlementUnknownCurrency), strictly
    ///   ascending (SettlementDuplicateCurrency, SettlementCurrenciesNotSorted), each counting
    ///   trades (SettlementEmptyCurrencyTotals), their trades summing to the entry's tradeCount
    ///   (SettlementTotalsCountMismatch)
    /// - `batchRef` non-zero and never used by the caller in this cycle
    function submitSecondClearing(bytes32 cycleId, SecondClearing[] calldata entries, bytes32 batchRef) external;

    /// @notice Reconcile the caller's data with a counterparty's, independently of any other level.
    /// @dev Against a CCP/CSD (level SecondParty): the caller's ALL bucket vs the second clearing
    /// data distributed to it, and in every listed currency either side has totals in, the caller's
    /// first clearing data (firstClearing) vs the second party's totals (secondClearing): each
    /// currency that differs emits ClearingTotalsMismatch with both totals (a currency only one
    /// side has is a mismatch against zeros), before Reconciled. Against a first party (level
    /// Intermediary): the two buckets the parties hold for each other only; totals per peer are not
    /// kept, as they would cost storage writes per trade at upload (a break's amounts are found off
    /// chain: consortium.domain.amounts). Records Matched when the buckets and every currency's
    /// totals agree, else Broken; may be repeated while the cycle is open. A match recorded earlier
    /// is judged on the buckets alone when netting and instructing.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE; cycle Open
    /// - counterparty is an active member holding CCP, CSD or a first-party role, not the caller
    /// @return matched whether both sides hold the same trades (and, level SecondParty, the same totals)
    function reconcile(bytes32 cycleId, address counterparty) external returns (bool matched);

    /// @notice Record the reconciliation with one investor (level Investor): the caller's bucket for the
    /// owner commitment vs the count and hash chain of the investor's confirmed statement.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE; cycle Open; ownerCommitment non-zero
    /// @return matched whether the statement matches
    function reconcileInvestor(bytes32 cycleId, bytes32 ownerCommitment, uint64 statementCount, bytes32 statementHash)
        external
        returns (bool matched);

    /// @notice Upload the caller's settlement instruction for the cycle, after reconciling with its CCP:
    /// per asset what it delivers or receives against the CCP, and per currency the fees and taxes it
    /// pays. Replaces an earlier instruction; a deferral of one of its trades voids it
    /// (InstructionVoided). The CCP's netting must equal every instruction (submitNetting).
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE; cycle Open; uploads closed
    /// - caller reconciled Matched with the cycle's CCP and still matches (SettlementNotReconciled)
    /// - 1..MAX_INSTRUCTION_LINES lines, strictly ascending by (kind, asset), each moving something,
    ///   assets listed, |amount| <= MAX_LEG_AMOUNT
    /// - securities lines carry no charges; each cash line's fees and taxes equal the caller's first
    ///   clearing data in the currency less its deferred trades' (SettlementChargesMismatch)
    /// - charges paid need charge accounts named (SettlementNoChargeAccounts)
    function submitInstruction(bytes32 cycleId, InstructionLine[] calldata lines) external;

    /// @notice A first party's end of file: every trade of the cycle it will upload is on chain. Its
    /// further uploads to the cycle are refused, and the CCP may close the cycle's uploads once every
    /// party it expects completed, rather than at a first batch of a party that uploads several (or at
    /// its cut-off). A party with nothing to upload may complete too. Emits UploadsCompleted with the
    /// party's trade count in the cycle.
    /// Requirements:
    /// - caller is an active first party (BROKER, CUSTODIAN or EXCHANGE); cycle Open; uploads not
    ///   closed; not completed yet (SettlementUploadsCompleted)
    function completeUploads(bytes32 cycleId) external;

    /// @notice Close the cycle's uploads: from now on its trade set is fixed (netting needs it).
    /// Requirements:
    /// - caller is the cycle's CCP (holding CCP); cycle Open; uploads not closed yet
    function closeUploads(bytes32 cycleId) external;

    /// @notice Novate and net: the CCP submits one net leg per participant and asset, in settlement
    /// order; settlement instructions are emitted to each participant. The deposit token of every
    /// currency in the legs is fixed for the cycle (cycleCashToken).
    /// @dev Invariant enforced: for every asset the legs sum to exactly zero (the CCP ends flat).
    /// Every uploader counts (every participant that uploaded trades naming itself participant,
    /// whether or not it has legs): the netting covers all of their trades less those deferred, so
    /// none is left out silently; the exit for an uploader that holds the netting up is deferTrades.
    /// `tradeCount` is their number and `tradeSetHash` the sum (mod 2^256, independent of order) over
    /// the uploaders p of keccak256(abi.encode(p, uploaded.count, uploaded.hash, deferred.count,
    /// deferred.hash)), both recomputed on chain (participantTrades; consortium.domain.netting.trade_set).
    /// Requirements:
    /// - caller is the cycle's CCP (holding CCP); cycle Open; uploads closed
    /// - 1..MAX_LEGS legs, strictly ascending by (kind, asset, participant), amounts non-zero and
    ///   |amount| <= MAX_LEG_AMOUNT, assets listed
    /// - every asset sums to zero
    /// - every leg's participant (in leg order), then every uploader with trades left to net (in
    ///   order of first upload), has reconciled Matched with the CCP and still matches
    /// - every leg's participant has a standing instruction (SettlementNoInstruction) and each
    ///   participant's legs are exactly its instruction's non-zero lines; an instructing participant
    ///   without legs instructed charges only (SettlementInstructionMismatch, naming party and asset)
    /// - `tradeCount` and `tradeSetHash` equal the recomputed ones (SettlementTradeCountMismatch,
    ///   SettlementTradeSetMismatch)
    /// - every uploader, in upload order, per listed currency it has first clearing data in: owing
    ///   fees or taxes there (first clearing less deferred), it instructed a cash line in it
    ///   (SettlementNoInstruction, kind Cash); if every trade it uploaded is its own, its netted cash
    ///   amount there is its first clearing cash net less its deferred trades' (SettlementCashNetMismatch).
    ///   An uploader owing nothing and netting to zero need not instruct.
    function submitNetting(bytes32 cycleId, uint64 tradeCount, bytes32 tradeSetHash, Leg[] calldata legs) external;

    /// @notice Unwind a netted cycle that cannot settle (a participant suspended, or short of what it
    /// delivers): Netted -> Open, legs, trade count and trade-set hash cleared. The CCP then defers
    /// the defaulter's trades (deferTrades) and nets again without them.
    /// Requirements:
    /// - caller is the cycle's CCP (holding CCP); cycle Netted (not settled)
    function unwindCycle(bytes32 cycleId, bytes32 reasonHash) external;

    /// @notice Defer trades out of this cycle, to be carried to a later one (uploaded there again):
    /// a defaulter's trades and the other side of each of its executions. Each is recorded (event
    /// TradeDeferred with its record hash) and leaves the trades the netting counts.
    /// @dev The deferred trades of a participant fold into its deferred bucket (participantTrades) in
    /// deferral order, each record once, never more than it uploaded as participant. Whether each
    /// was uploaded is checkable from the events (record hashes); the legs still balance per asset,
    /// so the CCP still ends flat. A later unwind may defer more (another defaulter); nothing is
    /// ever un-deferred.
    /// Requirements:
    /// - caller is the cycle's CCP (holding CCP); cycle Open; uploads closed; 1..MAX_BATCH trades
    /// - each trade: the cycle's trade date; not deferred before (SettlementTradeAlreadyDeferred);
    ///   per participant at most the trades it uploaded as participant (SettlementDeferralExceedsTrades)
    /// @dev Each deferred trade's participant has its instruction voided (InstructionVoided) and the
    /// trade's charges, under the participant's configuration at deferral, leave its charges due.
    function deferTrades(bytes32 cycleId, Trade[] calldata trades, bytes32 reasonHash) external;

    /// @notice Settle a netted cycle delivery-versus-payment: every net delivery moves to the CCP, then
    /// every net receipt from the CCP, in one transaction — all legs settle or none. Final once mined.
    /// Requirements:
    /// - caller holds CSD
    /// - cycle Netted (not yet settled); `legs` are exactly the netted legs
    /// - every currency's listed token is still the one fixed at netting (SettlementCurrencyTokenChanged)
    /// - this contract is a settlement agent of the security token and of every deposit token involved;
    ///   every delivering participant holds its delivery and, after the receipts, its charges
    /// @dev After the legs, every instructing participant pays each cash line's fees to its fee
    /// collector and taxes to its tax authority (ChargesPaid).
    function settle(bytes32 cycleId, Leg[] calldata legs) external;

    // ----------------------------------------------------------------- views
    function securityToken() external view returns (address);

    function cashToken(bytes32 currency) external view returns (address);

    function clearingConfig(address party, uint256 securityId) external view returns (Charge[] memory);

    function getCycle(bytes32 cycleId) external view returns (Cycle memory);

    /// @notice The bucket `party` holds for `peer` (ALL = zero key; address peers as bytes32(uint160)).
    function bucket(bytes32 cycleId, address party, bytes32 peer) external view returns (Bucket memory);

    /// @notice Whether `party` declared its uploads to the cycle complete (completeUploads).
    function uploadsCompleted(bytes32 cycleId, address party) external view returns (bool);

    function firstClearing(bytes32 cycleId, address party, bytes32 currency) external view returns (ClearingTotals memory);

    /// @notice `secondParty`'s clearing data of `party` in `currency` from its standing entry (zeros
    /// where the entry has no line in the currency).
    function secondClearing(bytes32 cycleId, address secondParty, address party, bytes32 currency)
        external
        view
        returns (ClearingTotals memory);

    /// @notice Hash chain of the party's per-trade clearing lines (record hash, gross, fees, taxes, net).
    function clearingHash(bytes32 cycleId, address party) external view returns (bytes32);

    function reconStatus(bytes32 cycleId, address party, bytes32 peer) external view returns (ReconStatus);

    /// @notice Whether `party` uploaded a batch beginning with `firstTradeId` in the cycle.
    /// @return count trades in that batch (0: never uploaded)
    /// @return blockNumber the block of the upload (0: never uploaded)
    function uploadOf(bytes32 cycleId, address party, bytes32 firstTradeId)
        external
        view
        returns (uint256 count, uint256 blockNumber);

    /// @notice Whether `secondParty` submitted a second clearing batch under `batchRef` in the cycle.
    /// @return count entries in that batch (0: never submitted)
    /// @return blockNumber the block of the submission (0: never submitted)
    function secondClearingOf(bytes32 cycleId, address secondParty, bytes32 batchRef)
        external
        view
        returns (uint256 count, uint256 blockNumber);

    /// @notice The trades `participant` uploaded as participant in the cycle (hash chain of their
    /// record hashes in upload order) and those of them the CCP deferred (in deferral order).
    function participantTrades(bytes32 cycleId, address participant)
        external
        view
        returns (Bucket memory uploaded, Bucket memory deferred);

    /// @notice The accounts `party`'s fees and taxes are paid to.
    function chargeAccounts(address party) external view returns (address feeCollector, address taxAuthority);

    /// @notice The deposit token of `currency` fixed for the cycle at its netting (zero before).
    function cycleCashToken(bytes32 cycleId, bytes32 currency) external view returns (address);
}
