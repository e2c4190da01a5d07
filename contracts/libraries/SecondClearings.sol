// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISettlementEngine} from "../../interfaces/ISettlementEngine.sol";
import {TradeUpload} from "./TradeUpload.sol";

/// @title SecondClearings
/// @notice The second clearing data the CCP and the CSD distribute to each first party, per currency,
/// and its comparison with the party's first clearing data at reconciliation (level SecondParty).
/// Linked to SettlementEngine (external functions, run by delegatecall in the engine's storage),
/// which keeps the engine under EIP-170.
/// @dev Mirrored by `consortium.domain.clearing` (second_clearing, totals_mismatches): the second
/// party's totals are the party's trades cleared with the same integer math as its first clearing.
library SecondClearings {
    /// @notice A second party's standing entry for one first party: the currencies it has totals
    /// in (strictly ascending, as submitted) and those totals.
    struct Entry {
        bytes32[] currencies;
        mapping(bytes32 currency => ISettlementEngine.ClearingTotals) totals;
    }

    /// @notice Store a batch of second clearing entries of `second`, each replacing the party's
    /// earlier entry (bucket and totals). Reverts with the first bad entry's named error.
    /// @param buckets the second party's bucket words of the cycle, by peer key
    /// @param entries the second party's entries of the cycle, by first party
    /// @param cash the listed deposit tokens, by currency
    /// @param maxLines most currency lines in one batch (over all its entries)
    function store(
        mapping(bytes32 => uint256) storage buckets,
        mapping(address => Entry) storage entries,
        mapping(bytes32 => address) storage cash,
        bytes32 cycleId,
        address second,
        ISettlementEngine.SecondClearing[] calldata batch,
        uint256 maxLines
    ) external {
        uint256 lines = 0;
        for (uint256 i; i < batch.length; ++i) {
            ISettlementEngine.SecondClearing calldata e = batch[i];
            if (uint256(e.tradeSetHash) > TradeUpload.HASH_MASK) {
                revert ISettlementEngine.SettlementTradeSetHashOutOfRange(e.party, e.tradeSetHash);
            }
            lines += e.totals.length;
            if (lines > maxLines) revert ISettlementEngine.SettlementTooManyTotals(lines, maxLines);
            buckets[bytes32(uint256(uint160(e.party)))] = TradeUpload.pack(e.tradeCount, e.tradeSetHash);
            _replace(entries[e.party], cash, cycleId, second, e);
            emit ISettlementEngine.SecondClearingDistributed(
                cycleId, e.party, second, e.tradeCount, e.tradeSetHash, e.configHash, e.totals.length
            );
        }
    }

    /// @notice Compare `party`'s first clearing data with `theirs`, a second party's entry for it,
    /// in every listed currency either side has totals in; emits ClearingTotalsMismatch (level
    /// SecondParty) for each currency that differs.
    /// @param ours the party's first clearing data of the cycle, by currency
    /// @param currencies every listed currency
    /// @return same whether every currency's totals are equal
    function compare(
        mapping(bytes32 => ISettlementEngine.ClearingTotals) storage ours,
        Entry storage theirs,
        bytes32[] storage currencies,
        bytes32 cycleId,
        address party,
        address counterparty
    ) external returns (bool same) {
        same = true;
        for (uint256 i; i < currencies.length; ++i) {
            bytes32 currency = currencies[i];
            ISettlementEngine.ClearingTotals storage a = ours[currency];
            ISettlementEngine.ClearingTotals storage b = theirs.totals[currency];
            // a currency neither side has totals in costs two reads (a stored count is never zero
            // where there are totals: TradeUpload counts every trade, _replace refuses empty lines)
            if (a.trades == 0 && b.trades == 0) continue;
            ISettlementEngine.ClearingTotals memory x = a;
            ISettlementEngine.ClearingTotals memory y = b;
            if (keccak256(abi.encode(x)) == keccak256(abi.encode(y))) continue;
            same = false;
            emit ISettlementEngine.ClearingTotalsMismatch(
                cycleId, party, counterparty, ISettlementEngine.ReconLevel.SecondParty, currency, x, y
            );
        }
    }

    /// @dev The party's entry replaced by `e`'s totals: the earlier currencies cleared, each new
    /// line checked (listed currency, strictly ascending, counting trades) and stored; the lines'
    /// trades sum to the entry's trade count.
    function _replace(
        Entry storage entry,
        mapping(bytes32 => address) storage cash,
        bytes32 cycleId,
        address second,
        ISettlementEngine.SecondClearing calldata e
    ) private {
        bytes32[] storage held = entry.currencies;
        while (held.length > 0) {
            delete entry.totals[held[held.length - 1]];
            held.pop();
        }
        uint256 counted = 0;
        for (uint256 j; j < e.totals.length; ++j) {
            ISettlementEngine.CurrencyTotals calldata line = e.totals[j];
            bytes32 currency = line.currency;
            if (cash[currency] == address(0)) revert ISettlementEngine.SettlementUnknownCurrency(currency);
            if (j > 0) {
                bytes32 previous = e.totals[j - 1].currency;
                if (previous == currency) revert ISettlementEngine.SettlementDuplicateCurrency(e.party, currency);
                if (previous > currency) revert ISettlementEngine.SettlementCurrenciesNotSorted(e.party, j);
            }
            if (line.totals.trades == 0) revert ISettlementEngine.SettlementEmptyCurrencyTotals(e.party, currency);
            counted += line.totals.trades;
            entry.totals[currency] = line.totals;
            held.push(currency);
            _emitData(cycleId, e.party, second, currency, line.totals);
        }
        if (counted != e.tradeCount) revert ISettlementEngine.SettlementTotalsCountMismatch(e.party, e.tradeCount, counted);
    }

    function _emitData(
        bytes32 cycleId,
        address party,
        address second,
        bytes32 currency,
        ISettlementEngine.ClearingTotals calldata t
    ) private {
        emit ISettlementEngine.SecondClearingData(
            cycleId, party, currency, second, t.trades, t.gross, t.fees, t.taxes, t.buyNet, t.sellNet
        );
    }
}
