// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title IdempotencyKeys
/// @notice Where an idempotency key was first used, one storage slot per batch (never per record).
/// An agent that died between sending a batch and recording its receipt resends it; the contract
/// finds the key used and refuses the batch with a named error carrying the key, the block of the
/// first use and what it was booked as, so nothing is recorded twice. Off chain:
/// `consortium.outbox` asks the contract's view for the same record before resending.
/// @dev `blockNumber` is never zero for a used key (no transaction runs in the genesis block), so a
/// zero `blockNumber` means "never used". `recordedAs` is what the contract booked the batch as (a
/// batch id, a bill id, a record count, a holder address), chosen by each contract and documented in
/// its interface.
library IdempotencyKeys {
    struct Use {
        uint64 blockNumber;
        uint192 recordedAs;
    }

    /// @dev Record `key` as used in this block, booked as `recordedAs`, unless it was used before;
    /// returns the earlier use (blockNumber zero when `key` was fresh, and is now recorded). A caller
    /// finding a non-zero blockNumber must revert (nothing was written).
    function claim(mapping(bytes32 => Use) storage uses, bytes32 key, uint256 recordedAs)
        internal
        returns (Use memory earlier)
    {
        earlier = uses[key];
        if (earlier.blockNumber == 0) record(uses, key, recordedAs);
    }

    /// @dev A view's answer about a key: what it was booked as and the block of its first use (both
    /// zero for a key never used).
    function answer(Use storage u) internal view returns (uint256 recordedAs, uint256 blockNumber) {
        return (u.recordedAs, u.blockNumber);
    }

    /// @dev Record `key` as used in this block, booked as `recordedAs` (overwrites an earlier use:
    /// for keys a contract frees again, e.g. the documents of a cancelled bill).
    function record(mapping(bytes32 => Use) storage uses, bytes32 key, uint256 recordedAs) internal {
        uses[key] = Use(SafeCast.toUint64(block.number), SafeCast.toUint192(recordedAs));
    }
}
