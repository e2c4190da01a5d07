// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISettlementEngine} from "./ISettlementEngine.sol";

/// @title IHoldingChain
/// @notice Settlement down the nominee holding chain, in sequence: after the CSD settles a cycle's
/// top tier (participant <-> CCP legs, SettlementEngine.settle), it opens the cycle's tiers from those
/// legs; each intermediary then passes what it received down to its clients (custodians, local
/// brokers) and to its investors, tier after tier, each step on chain with its sequence number.
/// @dev Book entries, not token moves: legal title stays with the clearing participant (the nominee
/// the CSD knows); each step records who holds what beneath it. Every step conserves exactly what the
/// party received (signed amounts in minor units / units: > 0 receipts, < 0 deliveries), so across
/// all tiers nothing is created or lost: each top-tier leg equals what its subtree's investors hold.
/// Tiers are numbered from 1 (the clearing participants, the legs' parties); a party of tier k steps
/// only once no step of any tier below k is open in the cycle, so everything it will receive has
/// arrived. Sequence numbers continue the engine's: SettlementInstructed numbers the top tier's legs
/// 0..legCount-1, the steps down the chain get legCount, legCount+1, ...
/// Investors appear only as a Merkle root (OpenZeppelin standard tree) with a count and a total of
/// leaves `keccak256(bytes.concat(keccak256(abi.encode(commitment, asset, amount))))` with types
/// (bytes32, uint256, int256): the salted owner commitment, never personal data.
interface IHoldingChain {
    /// @notice One client's share of a step.
    struct Allocation {
        address client;
        int256 amount;
    }

    /// @notice A step's investors: root of their (commitment, asset, amount) leaves, their number and
    /// the sum of their amounts. No investors: all three zero.
    struct InvestorSet {
        bytes32 root;
        uint32 count;
        int256 total;
    }

    /// @notice An intermediary as configured: its tier (1 = clearing participant) and whether it holds
    /// investor accounts.
    struct Holder {
        uint8 tier;
        bool investors;
    }

    /// @notice One (party, asset) step of a cycle: what it received and not yet passed on (`pending`),
    /// whether a step is due (`open`), and once done its sequence number plus one (`seqPlusOne`).
    struct Step {
        int256 pending;
        bool open;
        uint64 seqPlusOne;
    }

    // ----------------------------------------------------------------- events
    event HolderSet(address indexed party, uint8 tier, bool investors, address indexed setBy);
    event ClientLinked(address indexed party, address indexed client, address indexed linkedBy);
    event TiersOpened(bytes32 indexed cycleId, address indexed openedBy, bytes32 legsHash, uint256 legCount);
    event HoldingAllocated(
        bytes32 indexed cycleId,
        address indexed party,
        address indexed client,
        uint256 seq,
        ISettlementEngine.AssetKind kind,
        uint256 asset,
        int256 amount
    );
    event InvestorsAllocated(
        bytes32 indexed cycleId,
        address indexed party,
        uint256 seq,
        ISettlementEngine.AssetKind kind,
        uint256 asset,
        bytes32 root,
        uint32 count,
        int256 total
    );
    event HoldingStepped(
        bytes32 indexed cycleId,
        address indexed party,
        uint256 indexed seq,
        uint8 tier,
        ISettlementEngine.AssetKind kind,
        uint256 asset,
        int256 received,
        uint256 clients
    );
    event TiersCompleted(bytes32 indexed cycleId, uint256 steps);

    // ----------------------------------------------------------------- errors
    error HoldingZeroParty();
    error HoldingBadTier(address party, uint8 tier, uint8 maxTier);
    error HoldingTierInUse(address party, uint8 tier);
    error HoldingNotIntermediary(address party);
    error HoldingTierOrder(address party, uint8 partyTier, address client, uint8 clientTier);
    error HoldingAlreadyLinked(address party, address client);
    error HoldingCycleNotSettled(bytes32 cycleId, ISettlementEngine.CycleStatus status);
    error HoldingLegsMismatch(bytes32 cycleId, bytes32 expected, bytes32 given);
    error HoldingTiersAlreadyOpen(bytes32 cycleId);
    error HoldingTiersNotOpen(bytes32 cycleId);
    error HoldingNotTopTier(bytes32 cycleId, address participant, uint8 tier);
    error HoldingOutOfSequence(bytes32 cycleId, address party, uint8 tier, uint8 openTier, uint256 openSteps);
    error HoldingNothingPending(bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset);
    error HoldingStepAlreadyDone(
        bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset, uint256 seq
    );
    /// @dev `client` zero: the party's investors, for a party that holds no investor accounts.
    error HoldingNotClient(bytes32 cycleId, address party, address client);
    error HoldingZeroAllocation(uint256 index);
    error HoldingDuplicateClient(uint256 index, address client);
    error HoldingBadInvestorSet(bytes32 root, uint32 count, int256 total);
    error HoldingTooManyClients(uint256 given, uint256 max);
    error HoldingAmountOutOfRange(uint256 index, int256 amount);
    error HoldingNotConserved(
        bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset, int256 expected, int256 given
    );

    // ----------------------------------------------------------------- set-up

    /// @notice Configure `party` as an intermediary of tier `tier` (1 = clearing participant), holding
    /// investor accounts or not (the consortium file's `holding_chain:` section).
    /// @dev Re-setting changes `investors` only while the tier stays; a linked party keeps its tier.
    /// Requirements:
    /// - caller acts for an active PERMISSION_MANAGER;
    /// - `party` non-zero, `tier` in 1..MAX_TIER; a party with clients or a parent keeps its tier.
    function setHolder(address party, uint8 tier, bool investors) external;

    /// @notice Record `client` (an intermediary of a higher tier) as a client of `party`.
    /// Requirements:
    /// - caller acts for an active PERMISSION_MANAGER;
    /// - both configured (HoldingNotIntermediary), tier(client) > tier(party) (HoldingTierOrder),
    ///   not already linked (HoldingAlreadyLinked).
    function linkClient(address party, address client) external;

    // ----------------------------------------------------------------- cycle

    /// @notice Open a settled cycle's tiers: each top-tier leg becomes its participant's pending
    /// amount, a step due from it.
    /// @param legs the legs the engine settled, exactly (keccak256(abi.encode(legs)) == legsHash)
    /// Requirements:
    /// - caller acts for an active CSD;
    /// - the engine's cycle is Settled (HoldingCycleNotSettled), the legs are its legs
    ///   (HoldingLegsMismatch), the tiers not opened yet (HoldingTiersAlreadyOpen);
    /// - every leg's participant is a tier-1 intermediary (HoldingNotTopTier).
    function openTiers(bytes32 cycleId, ISettlementEngine.Leg[] calldata legs) external;

    /// @notice The caller's step in one asset: pass everything it received down to its clients and
    /// its investors. Emits HoldingAllocated per client, InvestorsAllocated if any, HoldingStepped.
    /// @param clients each client's amount (non-zero, distinct, each a linked client)
    /// @param investors the root, count and total of the investors' leaves (zeros: none)
    /// Requirements:
    /// - caller acts for an active member configured as an intermediary (HoldingNotIntermediary);
    /// - tiers opened (HoldingTiersNotOpen); the step not done (HoldingStepAlreadyDone); no step of a
    ///   lower tier open (HoldingOutOfSequence); a step nothing opened (received zero: a participant
    ///   whose clients net to zero has no leg) passes something down (HoldingNothingPending), and
    ///   none of its clients has stepped yet in the asset (HoldingStepAlreadyDone naming the client);
    /// - at most MAX_CLIENTS clients, each linked (HoldingNotClient), non-zero (HoldingZeroAllocation)
    ///   and once (HoldingDuplicateClient); investors only for a party holding investor accounts;
    /// - clients' amounts plus the investors' total equal the pending amount (HoldingNotConserved).
    function allocate(
        bytes32 cycleId,
        ISettlementEngine.AssetKind kind,
        uint256 asset,
        Allocation[] calldata clients,
        InvestorSet calldata investors
    ) external;

    // ----------------------------------------------------------------- views

    /// @notice The settlement engine whose settled legs open the tiers.
    function engine() external view returns (address);

    /// @notice Most tiers of the holding chain.
    function MAX_TIER() external view returns (uint8);

    /// @notice Most clients in one step.
    function MAX_CLIENTS() external view returns (uint256);

    /// @notice How `party` is configured (tier zero: not an intermediary).
    function holderOf(address party) external view returns (Holder memory);

    /// @notice Whether `client` is a client of `party`.
    function isClient(address party, address client) external view returns (bool);

    /// @notice What `party` received in the asset in `cycleId` and has not passed on yet.
    function pending(bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset)
        external
        view
        returns (int256);

    /// @notice One (party, asset) step of the cycle as recorded.
    function stepOf(bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset)
        external
        view
        returns (Step memory);

    /// @notice Steps due and not done in `cycleId` (zero once every tier has passed everything down).
    function openSteps(bytes32 cycleId) external view returns (uint256);

    /// @notice Steps due and not done in `cycleId` at tier `tier`.
    function openStepsAt(bytes32 cycleId, uint8 tier) external view returns (uint256);

    /// @notice Whether the tiers of `cycleId` are open, and the next sequence number.
    function cycleOf(bytes32 cycleId) external view returns (bool opened, uint64 nextSeq);

    /// @notice The investors `party` allocated to in one asset of a cycle.
    function investorsOf(bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset)
        external
        view
        returns (InvestorSet memory);

    /// @notice Whether (commitment, amount) is one of the investor leaves `party` allocated in the asset.
    /// @dev The leaf is InvestorLeaf.hash(commitment, asset, amount), the leaf SealedRecords seals too:
    /// a regulator proves an opened look-through record against this root.
    function verifyInvestor(
        bytes32 cycleId,
        address party,
        ISettlementEngine.AssetKind kind,
        uint256 asset,
        bytes32 commitment,
        int256 amount,
        bytes32[] calldata proof
    ) external view returns (bool);
}
