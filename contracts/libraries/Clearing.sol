// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IClearing} from "../../interfaces/IClearing.sol";

/// @title Clearing
/// @notice Per-trade clearing math: gross amount, fees and taxes in basis points with minimums, net.
/// @dev Mirrored exactly by `consortium.domain.clearing` (the property tests compare both).
/// Rounding rule: each charge is `max(minimum, (gross * bps + 5_000) / 10_000)`, i.e. the rate applied
/// to the gross amount rounded half up to the minor unit, then floored at the minimum. Charges are
/// computed one by one on the gross amount (never on each other). Bounds: 0 < quantity <= MAX_QUANTITY,
/// 0 < price <= MAX_PRICE, so gross < 2^110 and no product can overflow.
library Clearing {
    uint256 internal constant BPS_DENOMINATOR = 10_000;
    uint256 internal constant MAX_QUANTITY = 1e15;
    uint256 internal constant MAX_PRICE = 1e18;
    uint8 internal constant BUY = 0;
    uint8 internal constant SELL = 1;

    /// @notice `quantity * price` after checking both bounds.
    function gross(uint256 quantity, uint256 price) internal pure returns (uint256) {
        if (quantity == 0 || quantity > MAX_QUANTITY) revert IClearing.ClearingQuantityOutOfRange(quantity, MAX_QUANTITY);
        if (price == 0 || price > MAX_PRICE) revert IClearing.ClearingPriceOutOfRange(price, MAX_PRICE);
        return quantity * price;
    }

    /// @notice One charge: `max(minimum, (grossAmount * bps + 5_000) / 10_000)`.
    function charge(uint256 grossAmount, uint256 bps, uint256 minimum) internal pure returns (uint256 c) {
        c = (grossAmount * bps + BPS_DENOMINATOR / 2) / BPS_DENOMINATOR;
        if (c < minimum) c = minimum;
    }

    /// @notice Whether a charge borne by `payer` applies to a trade on `side`.
    function applies(IClearing.Payer payer, uint8 side) internal pure returns (bool) {
        return payer == IClearing.Payer.Both || (payer == IClearing.Payer.Buyer ? side == BUY : side == SELL);
    }

    /// @notice Check a configuration line before it is stored.
    function validate(IClearing.Charge memory c) internal pure {
        if (c.bps > BPS_DENOMINATOR) revert IClearing.ClearingBpsOutOfRange(c.bps, BPS_DENOMINATOR);
    }

    /// @notice Clearing data of one trade under a party's charges.
    /// @param side 0 buy, 1 sell (the side of the client the party serves)
    function clear(uint8 side, uint256 quantity, uint256 price, IClearing.Charge[] memory charges)
        internal
        pure
        returns (IClearing.Line memory line)
    {
        if (side > SELL) revert IClearing.ClearingInvalidSide(side);
        line.gross = gross(quantity, price);
        for (uint256 i; i < charges.length; ++i) {
            IClearing.Charge memory c = charges[i];
            (line.fees, line.taxes) = _apply(line.gross, side, c.kind, c.payer, c.bps, c.minimum, line.fees, line.taxes);
        }
        line.net = net(side, line.gross, line.fees, line.taxes);
    }

    /// @notice `clear` over charges as their storage words (a memory array of `kind | payer << 8 |
    /// bps << 16 | minimum << 32`, how a Charge packs in one slot), without allocating: the same
    /// checks in the same order, the same integer math. `side` must already fit a uint8.
    function clearWords(uint256 side, uint256 quantity, uint256 price, uint256[] memory words)
        internal
        pure
        returns (uint256 grossAmount, uint256 fees, uint256 taxes, uint256 netAmount)
    {
        if (side > SELL) revert IClearing.ClearingInvalidSide(uint8(side));
        grossAmount = gross(quantity, price);
        for (uint256 i; i < words.length; ++i) {
            uint256 w = words[i];
            (fees, taxes) = _apply(
                grossAmount,
                uint8(side),
                IClearing.ChargeKind(w & 0xff),
                IClearing.Payer((w >> 8) & 0xff),
                uint16(w >> 16),
                uint128(w >> 32),
                fees,
                taxes
            );
        }
        netAmount = net(uint8(side), grossAmount, fees, taxes);
    }

    /// @notice Revert with the named error `clearWords` would give for this trade, keeping nothing.
    function checkWords(uint256 side, uint256 quantity, uint256 price, uint256[] memory words) internal pure {
        clearWords(side, quantity, price, words);
    }

    /// @notice A buy pays gross + fees + taxes; a sell receives gross - fees - taxes (charges above
    /// the gross refused).
    function net(uint8 side, uint256 grossAmount, uint256 fees, uint256 taxes) internal pure returns (uint256) {
        if (side == BUY) return grossAmount + fees + taxes;
        uint256 total = fees + taxes;
        if (total > grossAmount) revert IClearing.ClearingChargesExceedGross(grossAmount, total);
        return grossAmount - total;
    }

    /// @dev One charge line added to the fees or the taxes when it applies to `side`.
    function _apply(
        uint256 grossAmount,
        uint8 side,
        IClearing.ChargeKind kind,
        IClearing.Payer payer,
        uint256 bps,
        uint256 minimum,
        uint256 fees,
        uint256 taxes
    ) private pure returns (uint256, uint256) {
        if (!applies(payer, side)) return (fees, taxes);
        uint256 amount = charge(grossAmount, bps, minimum);
        return kind == IClearing.ChargeKind.Fee ? (fees + amount, taxes) : (fees, taxes + amount);
    }
}
