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

    /// @dev A Trade's ABI encoding: twelve static words, so the batch is `trades.offset + i * 384`.
    uint256 private constant TRADE_BYTES = 384;
    uint256 private constant SECURITY = 0x20;
    uint256 private constant CURRENCY = 0x40;
    uint256 private constant SIDE = 0x60;
    uint256 private constant QUANTITY = 0x80;
    uint256 private constant PRICE = 0xa0;
    uint256 private constant DATE = 0xc0;
    uint256 private constant OWNER = 0xe0;
    uint256 private constant LOCAL = 0x100;
    uint256 private constant PARTICIPANT = 0x120;
    uint256 private constant CUSTODIAN = 0x140;
    uint256 private constant EXCHANGE = 0x160;
    uint256 private constant MAX_QUANTITY = 1e15; // Clearing.MAX_QUANTITY (Yul reads no library constant)
    uint256 private constant MAX_PRICE = 1e18; // Clearing.MAX_PRICE
    uint256 private constant CACHE = 7;
    uint256 private constant FIRST_TABLE = 64; // (key, word) pairs; doubled while over half full

    /// @dev A batch's working set in memory, nothing allocated per trade: an open-addressing table
    /// of the peer and owner buckets it touches (`table` points at `mask + 1` (key, word) pairs, a
    /// zero key is free), the party's all-trades and own-trades words and clearing hash chain, a
    /// scratch buffer for the record and, after it, the clearing line and chain hash input, and two lists in first-sight order (memory
    /// pointers, zero ends a list; `*Cache` points at CACHE words, the entry of key `k` last found
    /// at word `k % CACHE`): per currency its batch sums
    /// `[next, currency, trades, gross, fees, taxes, buyNet, sellNet]` (from `+ 0x40` a
    /// ClearingTotals), per security its charges `[next, id, words]` (`words` as in
    /// `Clearing.clearWords`).
    struct Work {
        uint256 table;
        uint256 mask;
        uint256 filled;
        uint256 slot;
        uint256 sums;
        uint256 sumsCache;
        uint256 charges;
        uint256 chargesCache;
        uint256 buffer;
        bytes32 chain;
        uint256 all;
        uint256 own;
        ISecurityToken security;
        address party;
        uint32 tradeDate;
        uint256 tailSums;
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
        bytes calldata trades
    ) external returns (Outcome memory out) {
        out = start;
        Work memory w = _work(buckets);
        (w.security, w.party, w.tradeDate) = (out.security, out.party, out.tradeDate);
        (w.chain, w.all, w.own) = (out.chain, buckets[ALL], out.own);
        out.last = _loop(w, configs, cash, out.last, trades);
        (out.chain, out.all, out.own) = (w.chain, w.all, w.own);
        buckets[ALL] = out.all;
        _store(w);
        for (uint256 p = w.sums; p != 0; p = _mload(p)) {
            bytes32 currency = bytes32(_mload(p + 0x20));
            ISettlementEngine.ClearingTotals memory m;
            assembly ("memory-safe") {
                m := add(p, 0x40)
            }
            _accumulate(totals[currency], m);
            emit ISettlementEngine.FirstClearingData(
                out.cycleId, out.party, currency, m.trades, m.gross, m.fees, m.taxes, m.buyNet, m.sellNet
            );
        }
    }

    /// @notice A batch's trades as the bytes of their ABI encoding (a Trade is static: twelve words
    /// each), which the engine passes on to `ingest` in one copy.
    function encoded(ISettlementEngine.Trade[] calldata trades) internal pure returns (bytes calldata) {
        uint256 start;
        assembly {
            start := trades.offset
        }
        return msg.data[start:start + trades.length * TRADE_BYTES];
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

    /// @dev Each trade in order: checked, cleared into its currency's sums, hashed and folded by
    /// `_run`; a trade it cannot take (a check fails, or its security or currency is new to the
    /// batch) goes through `_slow` first, which reverts with the trade's named error or loads what
    /// was new. Returns the last trade id.
    function _loop(
        Work memory w,
        mapping(uint256 => IClearing.Charge[]) storage configs,
        mapping(bytes32 => address) storage cash,
        bytes32 last,
        bytes calldata trades
    ) private view returns (bytes32) {
        uint256 t;
        uint256 end;
        assembly {
            t := trades.offset
            end := add(t, trades.length)
        }
        while (true) {
            (t, last) = _run(w, t, end, last);
            if (t == end) break;
            _slow(w, configs, cash, t, last);
            (uint256 next, bytes32 id) = _run(w, t, t + TRADE_BYTES, last);
            if (next == t) revert(); // unreachable: _slow checked the trade and loaded what it lacked
            (t, last) = (next, id);
        }
        return last;
    }

    /// @dev The checks of one trade in order, each with its named error; loads the trade's security
    /// and currency into the batch's lists.
    function _slow(
        Work memory w,
        mapping(uint256 => IClearing.Charge[]) storage configs,
        mapping(bytes32 => address) storage cash,
        uint256 t,
        bytes32 last
    ) private view {
        bytes32 id = bytes32(_word(t));
        if (id <= last) revert ISettlementEngine.SettlementTradeOutOfOrder(id, last);
        uint256 side = _check(w, t, id);
        Clearing.checkWords(side, _word(t + QUANTITY), _word(t + PRICE), _charges(w, configs, _word(t + SECURITY)));
        _sums(w, cash, _word(t + CURRENCY));
    }

    /// @dev One trade's date, party on it, owner and side, with the decoder's refusal of dirty bits
    /// in its narrow fields (the record hash takes the calldata as it is). Returns the side.
    function _check(Work memory w, uint256 t, bytes32 id) private pure returns (uint256 side) {
        (uint256 date, uint256 party, uint256 lb, uint256 pt, uint256 cu, uint256 ex) =
            (_word(t + DATE), uint160(w.party), _word(t + LOCAL), _word(t + PARTICIPANT), _word(t + CUSTODIAN), _word(t + EXCHANGE));
        if (date != w.tradeDate) {
            if (date > type(uint32).max) revert();
            revert ISettlementEngine.SettlementTradeDateMismatch(id, uint32(date), w.tradeDate);
        }
        if ((lb | pt | cu | ex) > type(uint160).max) revert();
        if (party != lb && party != pt && party != cu && party != ex) {
            revert ISettlementEngine.SettlementNotTradeParty(id, address(uint160(party)));
        }
        if (_word(t + OWNER) == 0) revert ISettlementEngine.SettlementZeroCommitment(id);
        side = _word(t + SIDE);
        if (side > type(uint8).max) revert();
    }

    /// @dev The trades from calldata offset `t` to `end`, without allocating per trade, up to the
    /// first one whose checks fail or whose security or currency is not in the batch's lists yet
    /// (returns its offset, or `end`, and the last id taken). Each: `Clearing.clearWords` on its charges,
    /// added to its currency's sums; its record (keccak of its 384 calldata bytes, copied once) into
    /// the clearing hash chain and the all-trades bucket, then into the party's own-trades bucket (as
    /// participant), its owner's and each distinct other party's.
    function _run(Work memory w, uint256 t, uint256 end, bytes32 last) private view returns (uint256, bytes32) {
        assembly ("memory-safe") {
            function fold(word, record) -> r {
                mstore(0, and(word, HASH_MASK))
                mstore(32, record)
                r := or(shl(HASH_BITS, add(shr(HASH_BITS, word), 1)), and(keccak256(0, 64), HASH_MASK))
            }
            // the entry of a list whose second word is `key`; zero if none
            function find(head, key) -> p {
                for { p := head } iszero(iszero(p)) { p := mload(p) } {
                    if eq(mload(add(p, 0x20)), key) { break }
                }
            }
            // Clearing.clearWords into `line` = [chain, record, gross, fees, taxes, net] (from its third
            // word); false when a sell's charges exceed its gross
            function clear(words, side, gross, line) -> yes {
                let fees := 0
                let taxes := 0
                let n := mload(words)
                for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                    let c := mload(add(words, shl(5, add(i, 1))))
                    let payer := and(shr(8, c), 0xff)
                    if or(iszero(payer), eq(payer, add(side, 1))) {
                        let a := div(add(mul(gross, and(shr(16, c), 0xffff)), 5000), 10000)
                        let m := and(shr(32, c), 0xffffffffffffffffffffffffffffffff)
                        if lt(a, m) { a := m }
                        switch and(c, 0xff)
                        case 0 { fees := add(fees, a) }
                        default { taxes := add(taxes, a) }
                    }
                }
                mstore(add(line, 0x40), gross)
                mstore(add(line, 0x60), fees)
                mstore(add(line, 0x80), taxes)
                yes := 1
                switch side
                case 0 { mstore(add(line, 0xa0), add(gross, add(fees, taxes))) }
                default {
                    mstore(add(line, 0xa0), sub(gross, add(fees, taxes)))
                    yes := iszero(gt(add(fees, taxes), gross))
                }
            }
            // the line's amounts into [trades, gross, fees, taxes, buyNet, sellNet] from `sums + 0x40`;
            // none can overflow: at most MAX_UPLOAD_BATCH trades, each amount under 2^136
            function tally(sums, side, line) {
                mstore(add(sums, 0x40), add(mload(add(sums, 0x40)), 1))
                mstore(add(sums, 0x60), add(mload(add(sums, 0x60)), mload(add(line, 0x40))))
                mstore(add(sums, 0x80), add(mload(add(sums, 0x80)), mload(add(line, 0x60))))
                mstore(add(sums, 0xa0), add(mload(add(sums, 0xa0)), mload(add(line, 0x80))))
                let at := add(sums, add(0xc0, shl(5, side)))
                mstore(at, add(mload(at), mload(add(line, 0xa0))))
            }
            // the table rehashed into twice its size (keeps the load at most one half)
            function grow(work) {
                let old := mload(work)
                let cap := add(mload(add(work, 0x20)), 1)
                let mask := sub(shl(1, cap), 1)
                let table := mload(0x40)
                calldatacopy(table, calldatasize(), shl(7, cap))
                mstore(0x40, add(table, shl(7, cap)))
                for { let i := 0 } lt(i, cap) { i := add(i, 1) } {
                    let e := add(old, shl(6, i))
                    let key := mload(e)
                    if key {
                        for { let k := and(xor(key, shr(128, key)), mask) } 1 { k := and(add(k, 1), mask) } {
                            let f := add(table, shl(6, k))
                            if iszero(mload(f)) {
                                mstore(f, key)
                                mstore(add(f, 0x20), mload(add(e, 0x20)))
                                break
                            }
                        }
                    }
                }
                mstore(work, table)
                mstore(add(work, 0x20), mask)
            }
            // the bucket `key` (non-zero) of the table: loaded from storage on first touch, folded
            function bump(work, key, record) {
                let table := mload(work)
                let mask := mload(add(work, 0x20))
                for { let k := and(xor(key, shr(128, key)), mask) } 1 { k := and(add(k, 1), mask) } {
                    let e := add(table, shl(6, k))
                    let q := mload(e)
                    if eq(q, key) {
                        mstore(add(e, 0x20), fold(mload(add(e, 0x20)), record))
                        break
                    }
                    if iszero(q) {
                        mstore(e, key)
                        mstore(0, key)
                        mstore(0x20, mload(add(work, 0x60)))
                        mstore(add(e, 0x20), fold(sload(keccak256(0, 0x40)), record))
                        let filled := add(mload(add(work, 0x40)), 1)
                        mstore(add(work, 0x40), filled)
                        if gt(shl(1, filled), mask) { grow(work) }
                        break
                    }
                }
            }
            // each other party on the trade (lb, pt, cu, ex), once, unless it is the uploader
            function others(work, at, party, record) {
                let lb := calldataload(add(at, LOCAL))
                let pt := calldataload(add(at, PARTICIPANT))
                let cu := calldataload(add(at, CUSTODIAN))
                let ex := calldataload(add(at, EXCHANGE))
                if and(iszero(iszero(lb)), iszero(eq(lb, party))) { bump(work, lb, record) }
                if and(iszero(iszero(pt)), iszero(or(eq(pt, party), eq(pt, lb)))) { bump(work, pt, record) }
                if and(iszero(iszero(cu)), iszero(or(eq(cu, party), or(eq(cu, lb), eq(cu, pt))))) {
                    bump(work, cu, record)
                }
                if and(iszero(iszero(ex)), iszero(or(or(eq(ex, party), eq(ex, lb)), or(eq(ex, pt), eq(ex, cu))))) {
                    bump(work, ex, record)
                }
            }
            // One flat pass a trade (no call on its common path: a security without charges, a
            // bucket found at its first probe); a trade it cannot take leaves everything unchanged.
            for {} lt(t, end) { t := add(t, TRADE_BYTES) } {
                // id order, date, parties (clean, the party on it), owner, side, quantity and price
                {
                    let lb := calldataload(add(t, LOCAL))
                    let pt := calldataload(add(t, PARTICIPANT))
                    let cu := calldataload(add(t, CUSTODIAN))
                    let ex := calldataload(add(t, EXCHANGE))
                    let party := mload(add(w, 0x1a0))
                    if iszero(
                        and(
                            and(gt(calldataload(t), last), eq(calldataload(add(t, DATE)), mload(add(w, 0x1c0)))),
                            and(
                                iszero(shr(160, or(or(lb, pt), or(cu, ex)))),
                                or(or(eq(party, lb), eq(party, pt)), or(eq(party, cu), eq(party, ex)))
                            )
                        )
                    ) { break }
                }
                {
                    let q := calldataload(add(t, QUANTITY))
                    let p := calldataload(add(t, PRICE))
                    if iszero(
                        and(
                            and(iszero(iszero(calldataload(add(t, OWNER)))), lt(calldataload(add(t, SIDE)), 2)),
                            and(
                                and(iszero(iszero(q)), iszero(gt(q, MAX_QUANTITY))),
                                and(iszero(iszero(p)), iszero(gt(p, MAX_PRICE)))
                            )
                        )
                    ) { break }
                }
                // the security's charges and the currency's sums, each through a direct-mapped cache
                // of CACHE entries (the entry of key `k` last found at word `k % CACHE`)
                let line := add(mload(add(w, 0x100)), TRADE_BYTES)
                {
                let security := calldataload(add(t, SECURITY))
                {
                    let at := add(mload(add(w, 0xe0)), shl(5, mod(security, CACHE)))
                    let p := mload(at)
                    if iszero(and(iszero(iszero(p)), eq(mload(add(p, 0x20)), security))) {
                        p := find(mload(add(w, 0xc0)), security)
                        if iszero(p) { break }
                        mstore(at, p)
                    }
                    security := p
                }
                let sums := calldataload(add(t, CURRENCY))
                {
                    let at := add(mload(add(w, 0xa0)), shl(5, mod(sums, CACHE)))
                    let p := mload(at)
                    if iszero(and(iszero(iszero(p)), eq(mload(add(p, 0x20)), sums))) {
                        p := find(mload(add(w, 0x80)), sums)
                        if iszero(p) { break }
                        mstore(at, p)
                    }
                    sums := p
                }
                {
                    let gross := mul(calldataload(add(t, QUANTITY)), calldataload(add(t, PRICE)))
                    security := mload(add(security, 0x40)) // its charges (Clearing.clearWords words)
                    switch mload(security)
                    case 0 {
                        // no charges: the line is [gross, 0, 0, gross], tallied into trades, gross, net
                        mstore(add(line, 0x40), gross)
                        mstore(add(line, 0x60), 0)
                        mstore(add(line, 0x80), 0)
                        mstore(add(line, 0xa0), gross)
                        mstore(add(sums, 0x40), add(mload(add(sums, 0x40)), 1))
                        mstore(add(sums, 0x60), add(mload(add(sums, 0x60)), gross))
                        let at := add(sums, add(0xc0, shl(5, calldataload(add(t, SIDE)))))
                        mstore(at, add(mload(at), gross))
                    }
                    default {
                        if iszero(clear(security, calldataload(add(t, SIDE)), gross, line)) { break }
                        tally(sums, calldataload(add(t, SIDE)), line)
                    }
                }
                }
                // the record, the clearing hash chain keccak256(abi.encode(chain, record, gross, fees,
                // taxes, net)), the all-trades bucket, the own-trades one (as participant), the owner's
                {
                    calldatacopy(sub(line, TRADE_BYTES), t, TRADE_BYTES)
                    let record := keccak256(sub(line, TRADE_BYTES), TRADE_BYTES)
                    mstore(line, mload(add(w, 0x120)))
                    mstore(add(line, 0x20), record)
                    mstore(add(w, 0x120), keccak256(line, 0xc0))
                    mstore(0x20, record)
                    let word := mload(add(w, 0x140))
                    mstore(0, and(word, HASH_MASK))
                    mstore(add(w, 0x140), or(shl(HASH_BITS, add(shr(HASH_BITS, word), 1)), and(keccak256(0, 64), HASH_MASK)))
                    let party := mload(add(w, 0x1a0))
                    let pt := calldataload(add(t, PARTICIPANT))
                    if eq(pt, party) {
                        word := mload(add(w, 0x160))
                        mstore(0, and(word, HASH_MASK))
                        mstore(add(w, 0x160), or(shl(HASH_BITS, add(shr(HASH_BITS, word), 1)), and(keccak256(0, 64), HASH_MASK)))
                    }
                    let key := calldataload(add(t, OWNER))
                    word := add(mload(w), shl(6, and(xor(key, shr(128, key)), mload(add(w, 0x20)))))
                    switch eq(mload(word), key)
                    case 0 { bump(w, key, record) }
                    default {
                        key := add(word, 0x20) // the entry's word
                        word := mload(key)
                        mstore(0, and(word, HASH_MASK))
                        mstore(0x20, record)
                        mstore(key, or(shl(HASH_BITS, add(shr(HASH_BITS, word), 1)), and(keccak256(0, 64), HASH_MASK)))
                    }
                    // other parties on the trade (most trades have none: the party is its participant)
                    if or(
                        or(calldataload(add(t, LOCAL)), calldataload(add(t, CUSTODIAN))),
                        or(calldataload(add(t, EXCHANGE)), xor(pt, party))
                    ) { others(w, t, party, record) }
                }
                last := calldataload(t)
            }
        }
        return (t, last);
    }

    /// @dev An empty table of FIRST_TABLE pairs, the record buffer, and the buckets' storage slot.
    function _work(mapping(bytes32 => uint256) storage buckets) private pure returns (Work memory w) {
        w.table = _zeroed(FIRST_TABLE * 64);
        w.mask = FIRST_TABLE - 1;
        w.buffer = _zeroed(TRADE_BYTES + 0xc0);
        (w.sumsCache, w.chargesCache) = (_zeroed(CACHE * 32), _zeroed(CACHE * 32));
        assembly {
            mstore(add(w, 0x60), buckets.slot)
        }
    }

    /// @dev Each bucket the batch touched written once.
    function _store(Work memory w) private {
        (uint256 table, uint256 cap, uint256 slot) = (w.table, w.mask + 1, w.slot);
        assembly ("memory-safe") {
            for { let i := 0 } lt(i, cap) { i := add(i, 1) } {
                let e := add(table, shl(6, i))
                let key := mload(e)
                if key {
                    mstore(0, key)
                    mstore(0x20, slot)
                    sstore(keccak256(0, 0x40), mload(add(e, 0x20)))
                }
            }
        }
    }

    /// @dev `size` zeroed bytes of fresh memory.
    function _zeroed(uint256 size) private pure returns (uint256 p) {
        assembly ("memory-safe") {
            p := mload(0x40)
            calldatacopy(p, calldatasize(), size)
            mstore(0x40, add(p, size))
        }
    }

    /// @dev A security's charges, checked listed and loaded once per batch (as storage words).
    function _charges(
        Work memory w,
        mapping(uint256 => IClearing.Charge[]) storage configs,
        uint256 securityId
    ) private view returns (uint256[] memory words) {
        uint256 p = _find(w.charges, securityId);
        if (p != 0) {
            assembly ("memory-safe") {
                words := mload(add(p, 0x40))
            }
            return words;
        }
        if (!w.security.isListed(securityId)) revert ISettlementEngine.SettlementUnknownSecurity(securityId);
        IClearing.Charge[] storage stored = configs[securityId];
        words = new uint256[](stored.length);
        p = _zeroed(0x60);
        assembly ("memory-safe") {
            mstore(0, stored.slot)
            let data := keccak256(0, 0x20)
            for { let i := 0 } lt(i, mload(words)) { i := add(i, 1) } {
                mstore(add(words, shl(5, add(i, 1))), sload(add(data, i)))
            }
            mstore(p, mload(add(w, 0xc0)))
            mstore(add(p, 0x20), securityId)
            mstore(add(p, 0x40), words)
        }
        w.charges = p;
    }

    /// @dev A currency's running sums (a pointer, see Work), checked listed on first sight in the batch.
    function _sums(Work memory w, mapping(bytes32 => address) storage cash, uint256 currency)
        private
        view
        returns (uint256 p)
    {
        p = _find(w.sums, currency);
        if (p != 0) return p;
        if (cash[bytes32(currency)] == address(0)) revert ISettlementEngine.SettlementUnknownCurrency(bytes32(currency));
        p = _zeroed(0x100);
        assembly ("memory-safe") {
            mstore(add(p, 0x20), currency)
        }
        if (w.sums == 0) w.sums = p;
        else _mstore(w.tailSums, p);
        w.tailSums = p;
    }

    /// @dev The entry of a list whose second word is `key`; zero if none.
    function _find(uint256 head, uint256 key) private pure returns (uint256 p) {
        for (p = head; p != 0; p = _mload(p)) {
            if (_mload(p + 0x20) == key) break;
        }
    }

    function _mload(uint256 p) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := mload(p)
        }
    }

    function _mstore(uint256 p, uint256 v) private pure {
        assembly ("memory-safe") {
            mstore(p, v)
        }
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

    function _word(uint256 at) private pure returns (uint256 v) {
        assembly {
            v := calldataload(at)
        }
    }
}
