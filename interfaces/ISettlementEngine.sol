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

    /// @notice A hash chain of trade records one party holds in common with a peer.
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

    /// @notice Second clearing data of a CCP or CSD for one first party.
    /// @param party the first party it is distributed to
    /// @param tradeCount trades of the cycle on which `party` appears
    /// @param tradeSetHash hash chain of those trades' record hashes in ascending trade id order
    /// @param fees the second party's fees on those trades (minor units, summed over currencies)
    /// @param taxes the taxes it collects on them
    /// @param configHash hash of the second party's configuration that produced the figures
    struct SecondClearing {
        address party;
        uint64 tradeCount;
        bytes32 tradeSetHash;
        uint256 fees;
        uint256 taxes;
        bytes32 configHash;
    }

    /// @notice One net settlement leg: `amount` > 0 the participant receives from the CCP, < 0 it delivers.
    /// @param asset the security id for Security, `uint256(currency)` for Cash
    struct Leg {
        address participant;
        AssetKind kind;
        uint256 asset;
        int256 amount;
    }

    /// @notice A cycle as recorded.
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
    }

    // ----------------------------------------------------------------- events
    event CurrencyListed(bytes32 indexed currency, address indexed token, address indexed issuer);
    event ClearingConfigSet(address indexed party, uint256 indexed securityId, bytes32 configHash, uint256 charges);
    event CycleOpened(bytes32 indexed cycleId, address indexed ccp, uint32 tradeDate);
    event TradesUploaded(
        bytes32 indexed cycleId, address indexed party, uint256 count, uint64 totalCount, bytes32 tradeSetHash, bytes32 clearingHash
    );
    event SecondClearingDistributed(
        bytes32 indexed cycleId,
        address indexed party,
        address indexed secondParty,
        uint64 tradeCount,
        bytes32 tradeSetHash,
        uint256 fees,
        uint256 taxes,
        bytes32 configHash
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
    event CycleSettled(bytes32 indexed cycleId, address indexed settledBy, bytes32 legsHash, uint256 legCount, uint256 blockNumber);

    // ----------------------------------------------------------------- errors
    error SettlementNotFirstParty(address account);
    error SettlementNotSecondParty(address account);
    error SettlementPartyNotFirstParty(address party);
    error SettlementUnknownCounterparty(address counterparty);
    error SettlementCurrencyMismatch(bytes32 currency, bytes32 tokenCurrency);
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
    error SettlementBatchAlreadyUploaded(
        bytes32 cycleId, address party, bytes32 firstTradeId, uint256 count, uint256 blockNumber
    );
    error SettlementSecondClearingAlreadySubmitted(
        bytes32 cycleId, address secondParty, bytes32 contentHash, uint256 count, uint256 blockNumber
    );

    // ----------------------------------------------------------------- set-up
    /// @notice Register the deposit token that is the cash of `currency`.
    /// Requirements:
    /// - caller holds CASH_ISSUER
    /// - `token.currency()` equals `currency`
    function listCurrency(bytes32 currency, address token) external;

    /// @notice Set the calling first party's charges (fees, taxes) for one product (security).
    /// @dev Replaces the previous configuration; it applies to trades uploaded from then on.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE
    /// - the security is listed; at most MAX_CHARGES lines; every bps <= 10_000
    function setClearingConfig(uint256 securityId, Charge[] calldata charges) external;

    // ----------------------------------------------------------------- cycle
    /// @notice Open the settlement cycle of a trade date; the caller becomes its central counterparty.
    /// Requirements:
    /// - caller holds CCP
    /// - cycleId and tradeDate non-zero; cycle not yet opened
    function openCycle(bytes32 cycleId, uint32 tradeDate) external;

    /// @notice Upload a batch of trades; computes and accumulates the caller's first clearing data.
    /// @dev Idempotency key: (cycle, caller's member, first trade id of the batch), one storage slot
    /// per batch. A resent batch is refused with SettlementBatchAlreadyUploaded(cycleId, party,
    /// firstTradeId, count, blockNumber) before any trade is read; uploadOf answers for a key.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE and is localBroker, participant, custodian or
    ///   exchange of every trade
    /// - cycle Open; 1..MAX_BATCH trades; no earlier batch of the caller began with the same trade id
    /// - trade ids strictly ascending over the caller's uploads
    /// - each trade: listed security and currency, side 0/1, quantity and price in range, the cycle's
    ///   trade date, non-zero owner commitment, charges not above gross on a sell
    function uploadTrades(bytes32 cycleId, Trade[] calldata trades) external;

    /// @notice Distribute second clearing data (per first party) of the calling CCP or CSD.
    /// @dev Re-submitting for a party replaces its entry (corrections before netting). Idempotency
    /// key: keccak256(abi.encode(entries)) per (cycle, caller's member), one storage slot per batch:
    /// a batch identical to one already submitted is a resend and is refused with
    /// SettlementSecondClearingAlreadySubmitted(cycleId, secondParty, contentHash, count,
    /// blockNumber); a correction differs, so it is accepted. secondClearingOf answers for a key.
    /// Requirements:
    /// - caller holds CCP or CSD
    /// - cycle Open; 1..MAX_BATCH entries; every `party` an active first party
    /// - the caller never submitted exactly these entries in this cycle
    function submitSecondClearing(bytes32 cycleId, SecondClearing[] calldata entries) external;

    /// @notice Reconcile the caller's data with a counterparty's, independently of any other level.
    /// @dev Against a CCP/CSD (level SecondParty): the caller's ALL bucket vs the second clearing data
    /// distributed to it. Against a first party (level Intermediary): the two buckets the parties hold
    /// for each other. Records Matched or Broken; may be repeated while the cycle is open.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE; cycle Open
    /// - counterparty is an active member holding CCP, CSD or a first-party role, not the caller
    /// @return matched whether both sides hold the same trades
    function reconcile(bytes32 cycleId, address counterparty) external returns (bool matched);

    /// @notice Record the reconciliation with one investor (level Investor): the caller's bucket for the
    /// owner commitment vs the count and hash chain of the investor's confirmed statement.
    /// Requirements:
    /// - caller holds BROKER, CUSTODIAN or EXCHANGE; cycle Open; ownerCommitment non-zero
    /// @return matched whether the statement matches
    function reconcileInvestor(bytes32 cycleId, bytes32 ownerCommitment, uint64 statementCount, bytes32 statementHash)
        external
        returns (bool matched);

    /// @notice Novate and net: the CCP submits one net leg per participant and asset, in settlement
    /// order; settlement instructions are emitted to each participant.
    /// @dev Invariant enforced: for every asset the legs sum to exactly zero (the CCP ends flat).
    /// Requirements:
    /// - caller is the cycle's CCP (holding CCP); cycle Open
    /// - 1..MAX_LEGS legs, strictly ascending by (kind, asset, participant), amounts non-zero and
    ///   |amount| <= MAX_LEG_AMOUNT, assets listed
    /// - every asset sums to zero
    /// - every leg's participant has reconciled Matched with the CCP and still matches
    /// - `tradeCount` equals the trades of the cycle uploaded by their own participant (each trade is
    ///   netted only once the participant settling it confirmed it); `tradeSetHash` is the CCP's
    ///   statement of which trades these are (recorded, not recomputable on chain)
    function submitNetting(bytes32 cycleId, uint64 tradeCount, bytes32 tradeSetHash, Leg[] calldata legs) external;

    /// @notice Settle a netted cycle delivery-versus-payment: every net delivery moves to the CCP, then
    /// every net receipt from the CCP, in one transaction — all legs settle or none. Final once mined.
    /// Requirements:
    /// - caller holds CSD
    /// - cycle Netted (not yet settled); `legs` are exactly the netted legs
    /// - this contract is a settlement agent of the security token and of every deposit token involved;
    ///   every delivering participant holds its delivery
    function settle(bytes32 cycleId, Leg[] calldata legs) external;

    // ----------------------------------------------------------------- views
    function securityToken() external view returns (address);

    function cashToken(bytes32 currency) external view returns (address);

    function clearingConfig(address party, uint256 securityId) external view returns (Charge[] memory);

    function getCycle(bytes32 cycleId) external view returns (Cycle memory);

    /// @notice The bucket `party` holds for `peer` (ALL = zero key; address peers as bytes32(uint160)).
    function bucket(bytes32 cycleId, address party, bytes32 peer) external view returns (Bucket memory);

    function firstClearing(bytes32 cycleId, address party, bytes32 currency) external view returns (ClearingTotals memory);

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

    /// @notice Whether `secondParty` submitted the second clearing batch with this content hash
    /// (keccak256(abi.encode(entries))) in the cycle.
    /// @return count entries in that batch (0: never submitted)
    /// @return blockNumber the block of the submission (0: never submitted)
    function secondClearingOf(bytes32 cycleId, address secondParty, bytes32 contentHash)
        external
        view
        returns (uint256 count, uint256 blockNumber);
}
