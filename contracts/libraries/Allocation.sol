// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Allocation
/// @notice Exact integer allocation of money (minor units) over investment items by ratios in basis
/// points, and the unit arithmetic of holdings. Python mirror: `consortium.domain.allocation`.
/// @dev Rounding rules (identical in the Python docstrings):
/// - split: leg_i = floor(amount * r_i / 10_000); the `amount - sum(leg_i)` minor units left over
///   (always fewer than the number of items) go one each to the items with the largest remainder
///   `amount * r_i mod 10_000`, ties broken by the lowest item index (largest-remainder method).
///   The legs therefore sum to `amount` exactly and no leg is negative.
/// - rebalance: target_i = split(sum(current) + newMoney); leg_i = target_i - current_i (signed:
///   positive buys, negative sells); the legs sum to `newMoney` exactly. Bit i of `sellOut` is set
///   when target_i == 0 (for i < 256): that item is sold out, all of its units whatever the leg, so
///   no zero-value dust is left (Python: `sold_out`).
/// - valueOf: floor(units * price / 1e18) (the holder never gains from rounding).
/// - unitsToBuy: floor(amount * 1e18 / price) (a buy never gets more units than it paid for).
/// - unitsToSell: ceil(amount * 1e18 / price), capped at the units held (a sell raises at least
///   `amount` unless it sells everything); a leg whose `sellOut` bit is set sells every unit held.
/// `price` is the minor-unit value of one unit as an 18-decimal fixed-point number (PRICE_SCALE).
library Allocation {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant PRICE_SCALE = 1e18;

    /// @notice Ratios handed to split do not sum to 10,000 basis points.
    error AllocationRatiosSum(uint256 sum);

    /// @notice Largest-remainder split of `amount` by `ratiosBps` (which must sum to 10,000).
    function split(uint256 amount, uint16[] memory ratiosBps) internal pure returns (uint256[] memory legs) {
        uint256 n = ratiosBps.length;
        legs = new uint256[](n);
        uint256[] memory rems = new uint256[](n);
        uint256 allotted = 0;
        uint256 sum = 0;
        for (uint256 i; i < n; ++i) {
            uint256 scaled = amount * ratiosBps[i];
            legs[i] = scaled / BPS;
            rems[i] = scaled % BPS;
            allotted += legs[i];
            sum += ratiosBps[i];
        }
        if (sum != BPS) revert AllocationRatiosSum(sum);
        // left == sum(rems) / BPS < n, and more than `left` items have a positive remainder
        for (uint256 left = amount - allotted; left > 0; --left) {
            uint256 best = 0;
            uint256 bestRem = 0;
            for (uint256 i; i < n; ++i) {
                if (rems[i] > bestRem) {
                    best = i;
                    bestRem = rems[i];
                }
            }
            legs[best] += 1;
            rems[best] = 0;
        }
    }

    /// @notice Signed legs moving `current` values plus `newMoney` to the split of their total, and
    /// the bitmask of the items whose target is zero (sold out: every unit).
    function rebalance(uint256[] memory current, uint256 newMoney, uint16[] memory ratiosBps)
        internal
        pure
        returns (int256[] memory legs, uint256 sellOut)
    {
        uint256 total = newMoney;
        for (uint256 i; i < current.length; ++i) {
            total += current[i];
        }
        uint256[] memory target = split(total, ratiosBps);
        legs = new int256[](target.length);
        for (uint256 i; i < target.length; ++i) {
            legs[i] = int256(target[i]) - int256(current[i]);
            // from i = 256 on, 1 << i is 0 (shifts truncate): no bit to set, nothing to guard
            if (target[i] == 0) sellOut |= 1 << i;
        }
    }

    /// @notice Value in minor units of `units` at `price`, rounded down.
    function valueOf(uint256 units, uint256 price) internal pure returns (uint256) {
        return units * price / PRICE_SCALE;
    }

    /// @notice Units bought for `amount` minor units at `price`, rounded down.
    function unitsToBuy(uint256 amount, uint256 price) internal pure returns (uint256) {
        return amount * PRICE_SCALE / price;
    }

    /// @notice Units to sell to raise `amount` at `price`: rounded up, at most `held`.
    function unitsToSell(uint256 amount, uint256 price, uint256 held) internal pure returns (uint256) {
        uint256 units = (amount * PRICE_SCALE + price - 1) / price;
        return units < held ? units : held;
    }
}
