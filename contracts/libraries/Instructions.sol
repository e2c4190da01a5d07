// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDepositToken} from "../../interfaces/IDepositToken.sol";
import {ISettlementEngine} from "../../interfaces/ISettlementEngine.sol";

/// @title Instructions
/// @notice The clearing participants' settlement instructions of a cycle: stored as uploaded, matched
/// against the CCP's net legs, their charges paid at settlement. Linked to SettlementEngine (external
/// functions, run by delegatecall in the engine's storage), which keeps the engine under EIP-170.
/// @dev Mirrored by `consortium.domain.instructions` (derivation and the matching rule).
library Instructions {
    /// @notice One stored line in three slots: amount and kind, asset, fees and taxes.
    struct Line {
        int248 amount;
        ISettlementEngine.AssetKind kind;
        uint256 asset;
        uint128 fees;
        uint128 taxes;
    }

    /// @notice What a participant's deferred trades take out of a currency: their fees and taxes
    /// (under its charges) and their cash net (sells' gross less buys' gross).
    struct Deferred {
        uint128 fees;
        uint128 taxes;
        int256 cash;
    }

    /// @notice Where a first party's charges are paid (its clearing configuration).
    struct Accounts {
        address feeCollector;
        address taxAuthority;
    }

    /// @notice Replace `party`'s instruction by `lines` after checking their form (order, bounds, no
    /// empty line, no charges on securities). Assets and charges are the engine's to check.
    /// @return charged whether any line pays fees or taxes
    function store(
        Line[] storage stored,
        bytes32 cycleId,
        address party,
        ISettlementEngine.InstructionLine[] calldata lines,
        int256 maxAmount
    ) external returns (bool charged) {
        while (stored.length > 0) stored.pop();
        for (uint256 i; i < lines.length; ++i) {
            ISettlementEngine.InstructionLine calldata l = lines[i];
            if (i > 0 && !_before(lines[i - 1].kind, lines[i - 1].asset, l.kind, l.asset)) {
                revert ISettlementEngine.SettlementInstructionNotSorted(i);
            }
            if (l.amount > maxAmount || l.amount < -maxAmount) {
                revert ISettlementEngine.SettlementLegAmountOutOfRange(i, l.amount);
            }
            if (l.kind == ISettlementEngine.AssetKind.Security && (l.fees != 0 || l.taxes != 0)) {
                revert ISettlementEngine.SettlementChargesOnSecurity(i, l.fees, l.taxes);
            }
            if (l.amount == 0 && l.fees == 0 && l.taxes == 0) revert ISettlementEngine.SettlementZeroInstructionLine(i);
            charged = charged || l.fees != 0 || l.taxes != 0;
            // |amount| <= maxAmount (2^200) and the charges fit 128 bits (the engine checks): exact casts
            stored.push(Line(int248(l.amount), l.kind, l.asset, uint128(l.fees), uint128(l.taxes)));
            emit ISettlementEngine.InstructionLineSubmitted(cycleId, party, l.kind, l.asset, l.amount, l.fees, l.taxes);
        }
    }

    /// @notice Every leg's participant instructed exactly its legs (a participant's legs come in
    /// ascending (kind, asset), as its lines do); every instructing participant's lines without a
    /// leg move charges only. Reverts naming the participant and the asset.
    function check(
        mapping(address => Line[]) storage instructions,
        address[] storage instructors,
        bytes32 cycleId,
        ISettlementEngine.Leg[] calldata legs
    ) external view {
        // open-addressing table of the legs' participants; per slot, how many of its lines were used
        address[] memory seen = new address[](2 * legs.length);
        uint256[] memory used = new uint256[](seen.length);
        for (uint256 i; i < legs.length; ++i) {
            ISettlementEngine.Leg calldata l = legs[i];
            uint256 k = _slot(seen, l.participant);
            seen[k] = l.participant;
            Line[] storage lines = instructions[l.participant];
            if (lines.length == 0) {
                revert ISettlementEngine.SettlementNoInstruction(cycleId, l.participant, l.kind, l.asset);
            }
            uint256 j = used[k];
            while (j < lines.length && _before(lines[j].kind, lines[j].asset, l.kind, l.asset)) {
                _chargesOnly(cycleId, l.participant, lines[j++]);
            }
            int256 instructed = 0;
            if (j < lines.length && lines[j].kind == l.kind && lines[j].asset == l.asset) instructed = lines[j++].amount;
            if (instructed != l.amount) {
                revert ISettlementEngine.SettlementInstructionMismatch(
                    cycleId, l.participant, l.kind, l.asset, instructed, l.amount
                );
            }
            used[k] = j;
        }
        for (uint256 n; n < instructors.length; ++n) {
            address p = instructors[n];
            Line[] storage lines = instructions[p];
            for (uint256 j = used[_slot(seen, p)]; j < lines.length; ++j) {
                _chargesOnly(cycleId, p, lines[j]);
            }
        }
    }

    /// @notice What an uploader (a participant with own trades in the cycle) owes at netting, per
    /// currency it has first clearing data in (`currencies`: every listed one, those without skipped):
    /// fees or taxes due (first clearing less its deferred trades') need a cash line of its
    /// instruction in the currency (SettlementNoInstruction); and when every trade it uploaded is its
    /// own (`ownOnly`), its instructed cash amount there (0 without a line), which `check` bound to its
    /// legs, must be its cleared cash net: sellNet - buyNet + fees + taxes (the sells' gross less the
    /// buys') less its deferred trades' (SettlementCashNetMismatch). Nothing is asked of an uploader
    /// that owes no charges and nets to zero.
    function checkDue(
        Line[] storage lines,
        mapping(bytes32 => ISettlementEngine.ClearingTotals) storage totals,
        mapping(bytes32 => Deferred) storage deferred,
        bytes32[] storage currencies,
        bytes32 cycleId,
        address party,
        bool ownOnly
    ) external view {
        for (uint256 j; j < currencies.length; ++j) {
            bytes32 currency = currencies[j];
            ISettlementEngine.ClearingTotals storage tot = totals[currency];
            if (tot.trades == 0) continue;
            Deferred storage off = deferred[currency];
            (bool found, int256 instructed) = _cashLine(lines, currency);
            if (!found && (tot.fees != off.fees || tot.taxes != off.taxes)) {
                revert ISettlementEngine.SettlementNoInstruction(
                    cycleId, party, ISettlementEngine.AssetKind.Cash, uint256(currency)
                );
            }
            if (!ownOnly) continue;
            // every sum < 2^110 per trade times at most 2^64 trades: exact in int256
            int256 cleared = int256(tot.sellNet) - int256(tot.buyNet) + int256(tot.fees) + int256(tot.taxes) - off.cash;
            if (cleared != instructed) {
                revert ISettlementEngine.SettlementCashNetMismatch(cycleId, party, currency, cleared, instructed);
            }
        }
    }

    /// @notice Every instructing participant pays its cash lines' fees to its fee collector and taxes
    /// to its tax authority, in the currency's listed deposit token (the engine is its agent).
    function pay(
        mapping(address => Line[]) storage instructions,
        address[] storage instructors,
        mapping(address => Accounts) storage accounts,
        mapping(bytes32 => address) storage cash,
        bytes32 cycleId
    ) external {
        for (uint256 n; n < instructors.length; ++n) {
            address p = instructors[n];
            Line[] storage lines = instructions[p];
            Accounts memory to = accounts[p];
            for (uint256 j; j < lines.length; ++j) {
                Line storage l = lines[j];
                if (l.kind != ISettlementEngine.AssetKind.Cash) continue;
                uint256 fees = l.fees;
                uint256 taxes = l.taxes;
                if (fees == 0 && taxes == 0) continue;
                bytes32 currency = bytes32(l.asset);
                IDepositToken token = IDepositToken(cash[currency]);
                if (fees != 0) token.agentTransfer(p, to.feeCollector, fees);
                if (taxes != 0) token.agentTransfer(p, to.taxAuthority, taxes);
                emit ISettlementEngine.ChargesPaid(cycleId, p, currency, to.feeCollector, fees, to.taxAuthority, taxes);
            }
        }
    }

    /// @dev Whether `lines` (ascending) hold a cash line in `currency`, and its amount.
    function _cashLine(Line[] storage lines, bytes32 currency) private view returns (bool, int256) {
        for (uint256 j = lines.length; j > 0; --j) {
            Line storage l = lines[j - 1];
            if (l.kind != ISettlementEngine.AssetKind.Cash || l.asset < uint256(currency)) break;
            if (l.asset == uint256(currency)) return (true, l.amount);
        }
        return (false, 0);
    }

    function _chargesOnly(bytes32 cycleId, address participant, Line storage line) private view {
        if (line.amount != 0) {
            revert ISettlementEngine.SettlementInstructionMismatch(
                cycleId, participant, line.kind, line.asset, line.amount, 0
            );
        }
    }

    function _before(ISettlementEngine.AssetKind ka, uint256 a, ISettlementEngine.AssetKind kb, uint256 b)
        private
        pure
        returns (bool)
    {
        return ka < kb || (ka == kb && a < b);
    }

    /// @dev The slot of `participant` (non-zero) in the open-addressing set `table`: where it is, or
    /// the free slot where it goes (not written).
    function _slot(address[] memory table, address participant) private pure returns (uint256 k) {
        uint256 n = table.length;
        k = uint256(uint160(participant)) % n;
        while (true) {
            address q = table[k];
            if (q == participant || q == address(0)) return k;
            if (++k == n) k = 0;
        }
    }
}
