// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

/// @title ReentrantReceiver
/// @notice Test-only attacker: a contract member (as a multisig would be) that, when it receives
/// ERC-1155 tokens, calls back into a contract with a payload armed beforehand, once.
/// @dev The owner drives it like a wallet (`execute`): it applies for membership, reviews, quotes …
/// The hook never reverts on the callback's failure: it records the outcome (`lastSucceeded`,
/// `lastResult` = the revert data, decoded by the tests) so a test sees both that the delivery went
/// through and why the re-entry was refused. ERC-20 deposit tokens have no receiver hook: `received`
/// counts only ERC-1155 callbacks.
contract ReentrantReceiver is ERC1155Holder {
    address public immutable owner;

    address public target;
    bytes public payload;
    bool public armed;
    /// @notice ERC-1155 acceptance callbacks received (single and batch).
    uint256 public received;
    /// @notice Re-entries attempted from the hook.
    uint256 public attempts;
    bool public lastSucceeded;
    bytes public lastResult;

    error ReentrantReceiverNotOwner(address caller);

    /// @notice Emitted by the hook after each re-entry attempt.
    event ReentryAttempted(address indexed target, bool succeeded, bytes result);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Call `to` with `data` as this contract; a revert is re-raised with its data.
    function execute(address to, bytes calldata data) external returns (bytes memory result) {
        _onlyOwner();
        bool ok;
        (ok, result) = to.call(data);
        if (!ok) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
    }

    /// @notice Arm the hook: on the next ERC-1155 receipt, call `to` with `data` (once).
    function arm(address to, bytes calldata data) external {
        _onlyOwner();
        target = to;
        payload = data;
        armed = true;
    }

    /// @inheritdoc ERC1155Holder
    function onERC1155Received(address, address, uint256, uint256, bytes memory)
        public
        override
        returns (bytes4)
    {
        _reenter();
        return this.onERC1155Received.selector;
    }

    /// @inheritdoc ERC1155Holder
    function onERC1155BatchReceived(address, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        override
        returns (bytes4)
    {
        _reenter();
        return this.onERC1155BatchReceived.selector;
    }

    function _reenter() private {
        ++received;
        if (!armed) return;
        armed = false;
        ++attempts;
        (bool ok, bytes memory result) = target.call(payload);
        lastSucceeded = ok;
        lastResult = result;
        emit ReentryAttempted(target, ok, result);
    }

    function _onlyOwner() private view {
        if (msg.sender != owner) revert ReentrantReceiverNotOwner(msg.sender);
    }
}
