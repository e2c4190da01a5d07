// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title InvestorLeaf
/// @notice The one leaf of an investor's position, shared by HoldingChain (the investor leaves each
/// intermediary allocates down the holding chain) and SealedRecords (the look-through positions it
/// seals to regulators), so a sealed record proves against the holding chain's investor root.
/// Python mirror: `consortium.domain.holding.investor_leaf`.
/// @dev OpenZeppelin standard Merkle tree leaf (as the npm merkle-tree and merkle-zeppelin build it) of
/// types (bytes32 commitment, uint256 asset, int256 amount): `commitment` the investor's salted
/// commitment, `asset` the engine's Leg.asset (a security id, or uint256(bytes32 currency code) for
/// cash), `amount` signed units or minor units (> 0 received, < 0 delivered).
library InvestorLeaf {
    /// @notice keccak256(bytes.concat(keccak256(abi.encode(commitment, asset, amount)))).
    function hash(bytes32 commitment, uint256 asset, int256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(commitment, asset, amount))));
    }
}
