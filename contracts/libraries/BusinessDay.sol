// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title BusinessDay
/// @notice The institutions' business day on chain: UTC shifted by a fixed offset set at deploy (a
/// zone without daylight saving, such as Asia/Shanghai at +8 h). Off chain the same rule is
/// `consortium.domain.days.business_day_of(timestamp, utcOffset)`.
/// @dev Pure math on plain values, inlined into each contract (internal functions, no linking).
library BusinessDay {
    /// @dev The widest offsets of the tz database (Etc/GMT+12 at -12 h, Pacific/Kiritimati at +14 h).
    int256 internal constant MAX_UTC_OFFSET = 14 hours;
    /// @dev Every offset in use is a whole number of quarter hours (Asia/Kathmandu: +5:45).
    int256 internal constant UTC_OFFSET_STEP = 15 minutes;

    /// @notice Whether `utcOffset` (seconds east of UTC) is an offset a time zone can have:
    /// |utcOffset| <= MAX_UTC_OFFSET and a multiple of UTC_OFFSET_STEP.
    function isUtcOffset(int256 utcOffset) internal pure returns (bool) {
        return utcOffset <= MAX_UTC_OFFSET && utcOffset >= -MAX_UTC_OFFSET && utcOffset % UTC_OFFSET_STEP == 0;
    }

    /// @notice The business day of `timestamp`: floor((timestamp + utcOffset) / 86400), local days
    /// since 1970-01-01.
    /// @dev `timestamp` is a block time (far above 14 h), so the shifted time is never negative.
    function dayOf(uint256 timestamp, int256 utcOffset) internal pure returns (uint32) {
        return uint32(uint256(int256(timestamp) + utcOffset) / 1 days);
    }
}
