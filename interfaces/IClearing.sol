// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IClearing
/// @notice Types and errors of the clearing math (contracts/libraries/Clearing.sol), shared by every
/// contract that computes clearing data and by `consortium.domain.clearing` in Python.
/// @dev Amounts are integers in minor units of the trade currency. A charge (fee or tax) is
/// `max(minimum, roundHalfUp(gross * bps / 10_000))`, where roundHalfUp(x / 10_000) is
/// `(x + 5_000) / 10_000` in integer division: exact halves round up, everything else to the nearest.
interface IClearing {
    /// @notice Who bears a charge: both sides of every trade, only buys, or only sells.
    enum Payer {
        Both,
        Buyer,
        Seller
    }

    /// @notice Whether a charge is a service fee (kept by the configuring party) or a tax (passed on).
    enum ChargeKind {
        Fee,
        Tax
    }

    /// @notice One line of a party's configuration for a product.
    /// @param kind Fee or Tax
    /// @param payer which side bears it
    /// @param bps rate in basis points of the gross amount (0..10_000)
    /// @param minimum minimum charge in minor units (applies whenever the charge applies)
    struct Charge {
        ChargeKind kind;
        Payer payer;
        uint16 bps;
        uint128 minimum;
    }

    /// @notice Clearing data of one trade for one party.
    /// @param gross quantity * price
    /// @param fees sum of the applicable fees
    /// @param taxes sum of the applicable taxes
    /// @param net a buy pays gross + fees + taxes; a sell receives gross - fees - taxes
    struct Line {
        uint256 gross;
        uint256 fees;
        uint256 taxes;
        uint256 net;
    }

    error ClearingQuantityOutOfRange(uint256 quantity, uint256 max);
    error ClearingPriceOutOfRange(uint256 price, uint256 max);
    error ClearingBpsOutOfRange(uint256 bps, uint256 max);
    error ClearingInvalidSide(uint8 side);
    error ClearingChargesExceedGross(uint256 gross, uint256 charges);
}
