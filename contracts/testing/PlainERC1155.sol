// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

/// @title PlainERC1155
/// @notice Gas baseline only: OpenZeppelin's ERC-1155 with an open mint, no permissions, no review.
/// The bill benchmark compares its split transfer against `safeTransferFrom` here, measured in the same run.
contract PlainERC1155 is ERC1155 {
    constructor() ERC1155("") {}

    /// @notice Mint `amount` of `id` to `to` (anyone may; test contract).
    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}
