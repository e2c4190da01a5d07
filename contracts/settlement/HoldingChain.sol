// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IHoldingChain} from "../../interfaces/IHoldingChain.sol";
import {ISettlementEngine} from "../../interfaces/ISettlementEngine.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {InvestorLeaf} from "../libraries/InvestorLeaf.sol";

/// @title HoldingChain
/// @notice Settlement down the nominee holding chain, tier after tier, after the CSD settled the top
/// tier in the SettlementEngine (see IHoldingChain).
/// @dev The settled legs are checked against the engine's `legsHash` of a Settled cycle, so the
/// engine needs no hook. Every step conserves exactly: the invariant "each top-tier leg equals the
/// sum of what is pending beneath it plus its investors' totals" holds after every transaction.
contract HoldingChain is ConsortiumManaged, IHoldingChain {
    /// @inheritdoc IHoldingChain
    uint8 public constant MAX_TIER = 8;
    /// @inheritdoc IHoldingChain
    uint256 public constant MAX_CLIENTS = 50;
    /// @notice Largest absolute amount of a step (the engine's MAX_LEG_AMOUNT): sums stay far from overflow.
    int256 public constant MAX_AMOUNT = int256(1 << 200);

    ISettlementEngine private immutable _engine;

    mapping(address party => Holder) private _holders;
    mapping(address party => mapping(address client => bool)) private _clients;

    struct CycleTiers {
        bool opened;
        uint64 firstSeq;
        uint64 nextSeq;
        uint64 open;
        mapping(uint8 tier => uint64) openAt;
        mapping(address party => mapping(ISettlementEngine.AssetKind => mapping(uint256 asset => Step))) steps;
        mapping(address party => mapping(ISettlementEngine.AssetKind => mapping(uint256 asset => InvestorSet))) investors;
    }

    mapping(bytes32 cycleId => CycleTiers) private _cycles;

    /// @dev One step's identity, kept in memory to keep the stack shallow.
    struct StepKey {
        bytes32 cycleId;
        address party;
        ISettlementEngine.AssetKind kind;
        uint256 asset;
        uint64 seq;
    }

    constructor(IConsortiumRegistry registry_, ISettlementEngine engine_) ConsortiumManaged(registry_) {
        _engine = engine_;
    }

    // ----------------------------------------------------------------- set-up

    /// @inheritdoc IHoldingChain
    function setHolder(address party, uint8 tier, bool investors) external onlyRole(Roles.PERMISSION_MANAGER) {
        if (party == address(0)) revert HoldingZeroParty();
        if (tier == 0 || tier > MAX_TIER) revert HoldingBadTier(party, tier, MAX_TIER);
        Holder storage h = _holders[party];
        if (h.tier != 0 && h.tier != tier) revert HoldingTierInUse(party, h.tier);
        h.tier = tier;
        h.investors = investors;
        emit HolderSet(party, tier, investors, msg.sender);
    }

    /// @inheritdoc IHoldingChain
    function linkClient(address party, address client) external onlyRole(Roles.PERMISSION_MANAGER) {
        uint8 partyTier = _holders[party].tier;
        uint8 clientTier = _holders[client].tier;
        if (partyTier == 0) revert HoldingNotIntermediary(party);
        if (clientTier == 0) revert HoldingNotIntermediary(client);
        if (clientTier <= partyTier) revert HoldingTierOrder(party, partyTier, client, clientTier);
        if (_clients[party][client]) revert HoldingAlreadyLinked(party, client);
        _clients[party][client] = true;
        emit ClientLinked(party, client, msg.sender);
    }

    // ----------------------------------------------------------------- cycle

    /// @inheritdoc IHoldingChain
    function openTiers(bytes32 cycleId, ISettlementEngine.Leg[] calldata legs) external {
        _checkRole(Roles.CSD);
        ISettlementEngine.Cycle memory c = _engine.getCycle(cycleId);
        if (c.status != ISettlementEngine.CycleStatus.Settled) revert HoldingCycleNotSettled(cycleId, c.status);
        bytes32 given = keccak256(abi.encode(legs));
        if (given != c.legsHash) revert HoldingLegsMismatch(cycleId, c.legsHash, given);
        CycleTiers storage s = _cycles[cycleId];
        if (s.opened) revert HoldingTiersAlreadyOpen(cycleId);
        s.opened = true;
        s.firstSeq = uint64(legs.length);
        s.nextSeq = uint64(legs.length);
        for (uint256 i; i < legs.length; ++i) {
            ISettlementEngine.Leg calldata l = legs[i];
            uint8 tier = _holders[l.participant].tier;
            if (tier != 1) revert HoldingNotTopTier(cycleId, l.participant, tier);
            // legs are unique per (participant, kind, asset): each opens one step
            Step storage st = s.steps[l.participant][l.kind][l.asset];
            st.pending = l.amount;
            st.open = true;
        }
        s.open = uint64(legs.length);
        s.openAt[1] = uint64(legs.length);
        emit TiersOpened(cycleId, msg.sender, given, legs.length);
    }

    /// @inheritdoc IHoldingChain
    function allocate(
        bytes32 cycleId,
        ISettlementEngine.AssetKind kind,
        uint256 asset,
        Allocation[] calldata clients,
        InvestorSet calldata investors
    ) external {
        (StepKey memory k, uint8 tier) = _checkStep(cycleId, kind, asset);
        _step(k, tier, clients, investors);
    }

    // ----------------------------------------------------------------- views

    /// @inheritdoc IHoldingChain
    function engine() external view returns (address) {
        return address(_engine);
    }

    /// @inheritdoc IHoldingChain
    function holderOf(address party) external view returns (Holder memory) {
        return _holders[party];
    }

    /// @inheritdoc IHoldingChain
    function isClient(address party, address client) external view returns (bool) {
        return _clients[party][client];
    }

    /// @inheritdoc IHoldingChain
    function pending(bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset)
        external
        view
        returns (int256)
    {
        return _cycles[cycleId].steps[party][kind][asset].pending;
    }

    /// @inheritdoc IHoldingChain
    function stepOf(bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset)
        external
        view
        returns (Step memory)
    {
        return _cycles[cycleId].steps[party][kind][asset];
    }

    /// @inheritdoc IHoldingChain
    function openSteps(bytes32 cycleId) external view returns (uint256) {
        return _cycles[cycleId].open;
    }

    /// @inheritdoc IHoldingChain
    function openStepsAt(bytes32 cycleId, uint8 tier) external view returns (uint256) {
        return _cycles[cycleId].openAt[tier];
    }

    /// @inheritdoc IHoldingChain
    function cycleOf(bytes32 cycleId) external view returns (bool opened, uint64 nextSeq) {
        CycleTiers storage s = _cycles[cycleId];
        return (s.opened, s.nextSeq);
    }

    /// @inheritdoc IHoldingChain
    function investorsOf(bytes32 cycleId, address party, ISettlementEngine.AssetKind kind, uint256 asset)
        external
        view
        returns (InvestorSet memory)
    {
        return _cycles[cycleId].investors[party][kind][asset];
    }

    /// @inheritdoc IHoldingChain
    function verifyInvestor(
        bytes32 cycleId,
        address party,
        ISettlementEngine.AssetKind kind,
        uint256 asset,
        bytes32 commitment,
        int256 amount,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _cycles[cycleId].investors[party][kind][asset].root;
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, InvestorLeaf.hash(commitment, asset, amount));
    }

    // ----------------------------------------------------------------- internals

    /// @dev The caller's step in the asset: an intermediary's, due, not done, in sequence.
    function _checkStep(bytes32 cycleId, ISettlementEngine.AssetKind kind, uint256 asset)
        private
        view
        returns (StepKey memory k, uint8 tier)
    {
        address party = _checkActive(msg.sender);
        tier = _holders[party].tier;
        if (tier == 0) revert HoldingNotIntermediary(party);
        CycleTiers storage s = _cycles[cycleId];
        if (!s.opened) revert HoldingTiersNotOpen(cycleId);
        Step storage st = s.steps[party][kind][asset];
        if (st.seqPlusOne != 0) revert HoldingStepAlreadyDone(cycleId, party, kind, asset, st.seqPlusOne - 1);
        _checkSequence(s, cycleId, party, tier);
        k = StepKey(cycleId, party, kind, asset, s.nextSeq);
    }

    /// @dev Conserving, the step is recorded: its sequence number, its clients' receipts, its investors.
    function _step(StepKey memory k, uint8 tier, Allocation[] calldata clients, InvestorSet calldata investors)
        private
    {
        CycleTiers storage s = _cycles[k.cycleId];
        Step storage st = s.steps[k.party][k.kind][k.asset];
        int256 received = st.pending;
        bool due = st.open;
        // a step nothing opened received zero: it may still pass down offsetting amounts (a
        // participant whose clients net to zero in the asset has no leg), never nothing at all
        if (!due && clients.length == 0 && investors.count == 0) {
            revert HoldingNothingPending(k.cycleId, k.party, k.kind, k.asset);
        }
        int256 given = _checkInvestors(k.cycleId, k.party, _holders[k.party].investors, investors);
        given += _checkClients(k.cycleId, k.party, clients);
        if (given != received) revert HoldingNotConserved(k.cycleId, k.party, k.kind, k.asset, received, given);
        s.nextSeq = k.seq + 1;
        st.pending = 0;
        st.open = false;
        st.seqPlusOne = k.seq + 1;
        if (due) {
            s.open -= 1;
            s.openAt[tier] -= 1;
        }
        for (uint256 i; i < clients.length; ++i) {
            _passDown(s, k, clients[i]);
        }
        if (investors.count != 0) _recordInvestors(s, k, investors);
        emit HoldingStepped(k.cycleId, k.party, k.seq, tier, k.kind, k.asset, received, clients.length);
        if (due && s.open == 0) emit TiersCompleted(k.cycleId, k.seq + 1 - s.firstSeq);
    }

    /// @dev No step of a tier below `tier` is open: everything `party` will receive has arrived.
    function _checkSequence(CycleTiers storage s, bytes32 cycleId, address party, uint8 tier) private view {
        for (uint8 t = 1; t < tier; ++t) {
            uint64 n = s.openAt[t];
            if (n != 0) revert HoldingOutOfSequence(cycleId, party, tier, t, n);
        }
    }

    /// @dev Bounded, each a linked client of `party`, non-zero, in range and once; returns their sum.
    function _checkClients(bytes32 cycleId, address party, Allocation[] calldata clients)
        private
        view
        returns (int256 given)
    {
        if (clients.length > MAX_CLIENTS) revert HoldingTooManyClients(clients.length, MAX_CLIENTS);
        for (uint256 i; i < clients.length; ++i) {
            Allocation calldata a = clients[i];
            if (!_clients[party][a.client]) revert HoldingNotClient(cycleId, party, a.client);
            if (a.amount == 0) revert HoldingZeroAllocation(i);
            if (a.amount > MAX_AMOUNT || a.amount < -MAX_AMOUNT) revert HoldingAmountOutOfRange(i, a.amount);
            for (uint256 j; j < i; ++j) {
                if (clients[j].client == a.client) revert HoldingDuplicateClient(i, a.client);
            }
            given += a.amount;
        }
    }

    /// @dev The client's step in the asset receives `a.amount`; opened (and counted) on first receipt.
    function _passDown(CycleTiers storage s, StepKey memory k, Allocation calldata a) private {
        Step storage down = s.steps[a.client][k.kind][k.asset];
        if (down.seqPlusOne != 0) {
            revert HoldingStepAlreadyDone(k.cycleId, a.client, k.kind, k.asset, down.seqPlusOne - 1);
        }
        down.pending += a.amount;
        if (!down.open) {
            down.open = true;
            s.open += 1;
            s.openAt[_holders[a.client].tier] += 1;
        }
        emit HoldingAllocated(k.cycleId, k.party, a.client, k.seq, k.kind, k.asset, a.amount);
    }

    function _recordInvestors(CycleTiers storage s, StepKey memory k, InvestorSet calldata inv) private {
        s.investors[k.party][k.kind][k.asset] = inv;
        emit InvestorsAllocated(k.cycleId, k.party, k.seq, k.kind, k.asset, inv.root, inv.count, inv.total);
    }

    /// @dev A well-formed investor set (all zero, or a root with a count and an in-range total) of a
    /// party holding investor accounts; returns its total.
    function _checkInvestors(bytes32 cycleId, address party, bool holdsInvestors, InvestorSet calldata inv)
        private
        pure
        returns (int256)
    {
        if (inv.count == 0) {
            if (inv.root != bytes32(0) || inv.total != 0) revert HoldingBadInvestorSet(inv.root, inv.count, inv.total);
            return 0;
        }
        if (!holdsInvestors) revert HoldingNotClient(cycleId, party, address(0));
        if (inv.root == bytes32(0) || inv.total > MAX_AMOUNT || inv.total < -MAX_AMOUNT) {
            revert HoldingBadInvestorSet(inv.root, inv.count, inv.total);
        }
        return inv.total;
    }
}
