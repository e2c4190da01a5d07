// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IClearing} from "../../interfaces/IClearing.sol";
import {ISecurityToken} from "../../interfaces/ISecurityToken.sol";
import {ISettlementEngine} from "../../interfaces/ISettlementEngine.sol";
import {Clearing} from "./Clearing.sol";

/// @title TradeUpload
/// @notice One batch of a first party's trades: validated, cleared, folded into its buckets and totals
/// in memory, then each storage word written once per batch. Linked to SettlementEngine (external
/// function, run by delegatecall in the engine's storage), which keeps the engine under EIP-170.
/// @dev A bucket is one word: `count << 192 | hash`, its hash chain kept to 192 bits:
/// `hash' = uint192(keccak256(abi.encodePacked(bytes32(hash), record)))` from zero, with
/// `record = keccak256(abi.encode(trade))` (`consortium.domain.clearing.fold` is the twin). The record is
/// hashed straight from the calldata: a Trade is static, so its ABI encoding is its 384 calldata bytes,
/// canonical once every narrow field has been read (the decoder refuses dirty bits).
library TradeUpload {
    uint256 internal constant HASH_BITS = 192;
    uint256 internal constant HASH_MASK = (1 << 192) - 1;
    bytes32 private constant ALL = bytes32(0);

    /// @dev A batch's working set in memory: an open-addressing table of the peer and owner buckets
    /// it touches (keys, words, and the slots used in first-touch order) and its per-currency totals.
    struct Work {
        bytes32[] keys;
        uint256[] words;
        uint256[] used;
        uint256 usedCount;
        Totals[] totals;
        uint256 totalsCount;
        Security[] securities;
        uint256 securitiesCount;
        ISecurityToken security;
        address party;
        uint32 tradeDate;
    }

    struct Totals {
        bytes32 currency;
        ISettlementEngine.ClearingTotals sums;
    }

    struct Security {
        uint256 id;
        IClearing.Charge[] charges;
    }

    /// @notice A batch's cycle, party, trade date and the security token; what it starts from
    /// and leaves: the last trade id, the clearing hash chain, the party's own-trades bucket and its
    /// all-trades bucket (packed words).
    struct Outcome {
        bytes32 cycleId;
        ISecurityToken security;
        address party;
        uint32 tradeDate;
        bytes32 last;
        bytes32 chain;
        uint256 own;
        uint256 all;
    }

    /// @notice Ingest `trades` (ascending ids above `start.last`, all of its trade date) for its party:
    /// clearing lines under its `configs`, totals per currency, buckets per peer and owner commitment,
    /// the clearing hash chain. Reverts with the first bad trade's named error. Emits the party's
    /// FirstClearingData (the cycle's sums after the batch) once per currency of the batch.
    /// @param buckets the party's bucket words of the cycle, by peer key (ALL = zero)
    /// @param totals the party's first clearing data of the cycle, by currency
    /// @param configs the party's charges, by security id
    /// @param cash the listed deposit tokens, by currency
    function ingest(
        mapping(bytes32 => uint256) storage buckets,
        mapping(bytes32 => ISettlementEngine.ClearingTotals) storage totals,
        mapping(uint256 => IClearing.Charge[]) storage configs,
        mapping(bytes32 => address) storage cash,
        Outcome memory start,
        ISettlementEngine.Trade[] calldata trades
    ) external returns (Outcome memory out) {
        out = start;
        out.all = buckets[ALL];
        Work memory w = _work(trades.length);
        (w.security, w.party, w.tradeDate) = (out.security, out.party, out.tradeDate);
        _loop(w, buckets, configs, cash, out, trades);
        buckets[ALL] = out.all;
        for (uint256 i; i < w.usedCount; ++i) {
            uint256 k = w.used[i];
            buckets[w.keys[k]] = w.words[k];
        }
        for (uint256 i; i < w.totalsCount; ++i) {
            bytes32 currency = w.totals[i].currency;
            ISettlementEngine.ClearingTotals memory m = w.totals[i].sums;
            _accumulate(totals[currency], m);
            emit ISettlementEngine.FirstClearingData(
                out.cycleId, out.party, currency, m.trades, m.gross, m.fees, m.taxes, m.buyNet, m.sellNet
            );
        }
    }

    /// @notice One step of a bucket word: count plus one, hash chain folded and kept to 192 bits.
    function fold(uint256 word, bytes32 record) internal pure returns (uint256) {
        uint256 h;
        assembly ("memory-safe") {
            mstore(0, and(word, HASH_MASK))
            mstore(32, record)
            h := and(keccak256(0, 64), HASH_MASK)
        }
        return (((word >> HASH_BITS) + 1) << HASH_BITS) | h;
    }

    /// @notice A bucket word from its count and hash (the hash must fit 192 bits).
    function pack(uint64 count, bytes32 hash) internal pure returns (uint256) {
        return (uint256(count) << HASH_BITS) | uint256(hash);
    }

    /// @notice A bucket word as (count, hash).
    function unpack(uint256 word) internal pure returns (ISettlementEngine.Bucket memory) {
        return ISettlementEngine.Bucket(uint64(word >> HASH_BITS), bytes32(word & HASH_MASK));
    }

    function _loop(
        Work memory w,
        mapping(bytes32 => uint256) storage buckets,
        mapping(uint256 => IClearing.Charge[]) storage configs,
        mapping(bytes32 => address) storage cash,
        Outcome memory out,
        ISettlementEngine.Trade[] calldata trades
    ) private view {
        for (uint256 i; i < trades.length; ++i) {
            ISettlementEngine.Trade calldata t = trades[i];
            if (t.tradeId <= out.last) revert ISettlementEngine.SettlementTradeOutOfOrder(t.tradeId, out.last);
            out.last = t.tradeId;
            _folds(w, buckets, out, t, _line(w, configs, cash, t));
        }
    }

    /// @dev Check one trade (date, party on it, owner, security, currency) and clear it into its
    /// currency's sums.
    function _line(
        Work memory w,
        mapping(uint256 => IClearing.Charge[]) storage configs,
        mapping(bytes32 => address) storage cash,
        ISettlementEngine.Trade calldata t
    ) private view returns (IClearing.Line memory line) {
        if (t.tradeDate != w.tradeDate) {
            revert ISettlementEngine.SettlementTradeDateMismatch(t.tradeId, t.tradeDate, w.tradeDate);
        }
        address party = w.party;
        if (party != t.localBroker && party != t.participant && party != t.custodian && party != t.exchange) {
            revert ISettlementEngine.SettlementNotTradeParty(t.tradeId, party);
        }
        if (t.ownerCommitment == bytes32(0)) revert ISettlementEngine.SettlementZeroCommitment(t.tradeId);
        uint8 side = t.side;
        line = Clearing.clear(side, t.quantity, t.price, _charges(w, configs, t.securityId));
        _add(_sums(w, cash, t.currency), side, line);
    }

    /// @dev The trade's record into the clearing hash chain and the all-trades bucket, then into the
    /// party's own-trades bucket (as participant), its owner's and each distinct other party's.
    function _folds(
        Work memory w,
        mapping(bytes32 => uint256) storage buckets,
        Outcome memory out,
        ISettlementEngine.Trade calldata t,
        IClearing.Line memory line
    ) private view {
        bytes32 record;
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, t, 384)
            record := keccak256(p, 384)
        }
        out.chain = _chain(out.chain, record, line);
        out.all = fold(out.all, record);
        address party = w.party;
        (address lb, address pt, address cu, address ex) = (t.localBroker, t.participant, t.custodian, t.exchange);
        if (pt == party) out.own = fold(out.own, record);
        _fold(w, buckets, t.ownerCommitment, record);
        if (lb != address(0) && lb != party) _fold(w, buckets, _key(lb), record);
        if (pt != address(0) && pt != party && pt != lb) _fold(w, buckets, _key(pt), record);
        if (cu != address(0) && cu != party && cu != lb && cu != pt) _fold(w, buckets, _key(cu), record);
        if (ex != address(0) && ex != party && ex != lb && ex != pt && ex != cu) _fold(w, buckets, _key(ex), record);
    }

    function _work(uint256 n) private pure returns (Work memory w) {
        // at most 1 owner + 3 peers per trade: 4n keys, a power of two at least 8n keeps probing short
        uint256 size = 8;
        while (size < 8 * n) size <<= 1;
        w.keys = new bytes32[](size);
        w.words = new uint256[](size);
        w.used = new uint256[](4 * n);
        w.totals = new Totals[](n);
        w.securities = new Security[](n);
    }

    /// @dev Fold `record` into the bucket `key` (non-zero) of the working set, loading it on first touch.
    function _fold(Work memory w, mapping(bytes32 => uint256) storage buckets, bytes32 key, bytes32 record)
        private
        view
    {
        bytes32[] memory keys = w.keys;
        uint256 mask = keys.length - 1;
        uint256 k = (uint256(key) ^ (uint256(key) >> 128)) & mask;
        while (true) {
            bytes32 q = keys[k];
            if (q == key) break;
            if (q == bytes32(0)) {
                keys[k] = key;
                w.words[k] = buckets[key];
                w.used[w.usedCount++] = k;
                break;
            }
            k = (k + 1) & mask;
        }
        w.words[k] = fold(w.words[k], record);
    }

    /// @dev A security's charges, checked listed and loaded once per batch.
    function _charges(
        Work memory w,
        mapping(uint256 => IClearing.Charge[]) storage configs,
        uint256 securityId
    ) private view returns (IClearing.Charge[] memory) {
        for (uint256 i; i < w.securitiesCount; ++i) {
            if (w.securities[i].id == securityId) return w.securities[i].charges;
        }
        if (!w.security.isListed(securityId)) revert ISettlementEngine.SettlementUnknownSecurity(securityId);
        IClearing.Charge[] memory charges = configs[securityId];
        w.securities[w.securitiesCount++] = Security(securityId, charges);
        return charges;
    }

    /// @dev A currency's running sums, checked listed on first sight in the batch.
    function _sums(
        Work memory w,
        mapping(bytes32 => address) storage cash,
        bytes32 currency
    ) private view returns (ISettlementEngine.ClearingTotals memory) {
        for (uint256 i; i < w.totalsCount; ++i) {
            if (w.totals[i].currency == currency) return w.totals[i].sums;
        }
        if (cash[currency] == address(0)) revert ISettlementEngine.SettlementUnknownCurrency(currency);
        Totals memory fresh = Totals(currency, ISettlementEngine.ClearingTotals(0, 0, 0, 0, 0, 0));
        w.totals[w.totalsCount++] = fresh;
        return fresh.sums;
    }

    /// @dev The batch's sums `m` added into the cycle's stored sums `s`; `m` becomes the cycle's sums.
    /// Only TradeUpload writes the sums and every trade counts, so a zero count means every stored
    /// sum is zero: a currency's first batch of the cycle reads nothing more and writes only non-zero
    /// words; a later batch reads every word (the event carries them) and writes the changed ones.
    function _accumulate(ISettlementEngine.ClearingTotals storage s, ISettlementEngine.ClearingTotals memory m)
        private
    {
        uint64 earlier = s.trades;
        s.trades = m.trades += earlier;
        if (earlier == 0) {
            s.gross = m.gross;
            if (m.fees != 0) s.fees = m.fees;
            if (m.taxes != 0) s.taxes = m.taxes;
            if (m.buyNet != 0) s.buyNet = m.buyNet;
            if (m.sellNet != 0) s.sellNet = m.sellNet;
            return;
        }
        s.gross = m.gross += s.gross;
        if (m.fees != 0) s.fees = m.fees += s.fees;
        else m.fees = s.fees;
        if (m.taxes != 0) s.taxes = m.taxes += s.taxes;
        else m.taxes = s.taxes;
        if (m.buyNet != 0) s.buyNet = m.buyNet += s.buyNet;
        else m.buyNet = s.buyNet;
        if (m.sellNet != 0) s.sellNet = m.sellNet += s.sellNet;
        else m.sellNet = s.sellNet;
    }

    function _add(ISettlementEngine.ClearingTotals memory tot, uint8 side, IClearing.Line memory line) private pure {
        tot.trades += 1;
        tot.gross += line.gross;
        tot.fees += line.fees;
        tot.taxes += line.taxes;
        if (side == Clearing.BUY) tot.buyNet += line.net;
        else tot.sellNet += line.net;
    }

    /// @dev keccak256(abi.encode(chain, record, gross, fees, taxes, net)).
    function _chain(bytes32 chain, bytes32 record, IClearing.Line memory line) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, chain)
            mstore(add(p, 0x20), record)
            mstore(add(p, 0x40), mload(line))
            mstore(add(p, 0x60), mload(add(line, 0x20)))
            mstore(add(p, 0x80), mload(add(line, 0x40)))
            mstore(add(p, 0xa0), mload(add(line, 0x60)))
            h := keccak256(p, 0xc0)
        }
    }

    function _key(address a) private pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }
}
