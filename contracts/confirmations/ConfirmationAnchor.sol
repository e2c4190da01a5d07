// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IConfirmationAnchor} from "../../interfaces/IConfirmationAnchor.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";

/// @title ConfirmationAnchor
/// @notice Hash evidence of sales-bank / product-issuer exchanges: registrations, anchored roots of
/// confirmed requests, and EIP-712 confirmation checks anyone can run.
/// @dev One storage slot per anchored root whatever the batch size, so the per-record cost of a
/// 1,000-record packet is close to the floor (intrinsic + calldata + one SSTORE, divided by 1,000).
contract ConfirmationAnchor is IConfirmationAnchor, ConsortiumManaged, EIP712 {
    /// @notice Upper bound on the records one root may claim (a day of a large sales bank).
    uint256 public constant MAX_RECORDS_PER_ROOT = 1_000_000;
    /// @notice Longest Merkle proof verifyRecord accepts (as ReportAnchor; 20 suffice for a full root).
    uint256 public constant MAX_PROOF_LENGTH = 64;
    /// @notice Most issuers one period root may name (each one's channel is checked: one registry call each).
    uint256 public constant MAX_PERIOD_ISSUERS = 64;

    bytes32 public constant REQUEST_TYPEHASH = keccak256(
        "Request(bytes32 requestId,address salesBank,address issuer,bytes32 productId,uint8 kind,uint256 amount,uint256 shares,bytes32 investorCommitment,uint64 period)"
    );
    /// @notice Confirmation statuses (eip712.CONFIRMED / REFUSED in Python).
    uint8 public constant CONFIRMED = 1;
    uint8 public constant REFUSED = 2;

    bytes32 public constant CONFIRMATION_TYPEHASH = keccak256(
        "Confirmation(bytes32 requestId,bytes32 requestHash,address issuer,uint8 status,uint256 confirmedAmount,uint256 confirmedShares,uint64 confirmedAt,bytes32 reason)"
    );

    /// @dev Keyed by the anchoring bank first: a root is one bank's key, so no other bank can take it.
    mapping(address bank => mapping(bytes32 root => Anchor)) private _anchors;
    mapping(bytes32 registrationId => Registration) private _registrations;

    constructor(IConsortiumRegistry registry_) ConsortiumManaged(registry_) EIP712("ConsortiumConfirmations", "1") {}

    // ================================================================= registration

    /// @inheritdoc IConfirmationAnchor
    function submitRegistration(address issuer, bytes32 registrationId, bytes32 commitment) external {
        address bank = _checkRoleWithChannel(Roles.SALES_BANK, issuer);
        if (commitment == bytes32(0)) revert AnchorZeroCommitment();
        Registration storage r = _registrations[registrationId];
        if (r.status != RegistrationStatus.None) revert AnchorRegistrationExists(registrationId);
        r.salesBank = bank;
        r.issuer = issuer;
        r.status = RegistrationStatus.Pending;
        r.commitment = commitment;
        emit RegistrationSubmitted(registrationId, bank, issuer, commitment);
    }

    /// @inheritdoc IConfirmationAnchor
    function decideRegistration(bytes32 registrationId, bool accepted, bytes32 resultHash) external {
        address issuer = _checkRole(Roles.PRODUCT_ISSUER);
        Registration storage r = _registrations[registrationId];
        if (r.status == RegistrationStatus.None) revert AnchorRegistrationUnknown(registrationId);
        if (r.issuer != issuer) revert AnchorNotRegistrationIssuer(registrationId, msg.sender, r.issuer);
        if (r.status != RegistrationStatus.Pending) revert AnchorRegistrationAlreadyDecided(registrationId, r.status);
        r.status = accepted ? RegistrationStatus.Accepted : RegistrationStatus.Rejected;
        r.resultHash = resultHash;
        emit RegistrationDecided(registrationId, issuer, accepted, resultHash);
    }

    // ================================================================= anchoring

    /// @inheritdoc IConfirmationAnchor
    function anchorPacket(address issuer, uint32 period, bytes32 root, uint32 count) external {
        address bank = _checkRoleWithChannel(Roles.SALES_BANK, issuer);
        _anchor(bank, period, root, count);
        emit PacketAnchored(root, bank, issuer, period, count);
    }

    /// @inheritdoc IConfirmationAnchor
    function anchorPeriod(uint32 period, bytes32 root, uint32 count, address[] calldata issuers) external {
        address bank = _checkRole(Roles.SALES_BANK);
        uint256 n = issuers.length;
        if (n == 0 || n > MAX_PERIOD_ISSUERS) revert AnchorPeriodIssuersOutOfRange(n, MAX_PERIOD_ISSUERS);
        for (uint256 i; i < n; ++i) {
            _checkChannel(bank, issuers[i]);
        }
        _anchor(bank, period, root, count);
        emit PeriodAnchored(root, bank, period, count);
    }

    /// @dev One fresh slot per (bank, root) (the floor's one storage write); the root is the bank's own
    /// idempotency key.
    function _anchor(address bank, uint32 period, bytes32 root, uint32 count) internal {
        if (root == bytes32(0)) revert AnchorZeroRoot();
        if (count == 0 || count > MAX_RECORDS_PER_ROOT) revert AnchorCountOutOfRange(count, MAX_RECORDS_PER_ROOT);
        Anchor storage earlier = _anchors[bank][root];
        if (earlier.anchoredBy != address(0)) revert AnchorRootAlreadyAnchored(root, bank, earlier.period);
        // count <= MAX_RECORDS_PER_ROOT < 2**24 and timestamps fit 40 bits for 34,000 years
        _anchors[bank][root] =
            Anchor({anchoredBy: bank, anchoredAt: uint40(block.timestamp), count: uint24(count), period: period});
    }

    // ================================================================= views

    /// @inheritdoc IConfirmationAnchor
    function anchorOf(address bank, bytes32 root) external view returns (Anchor memory) {
        return _anchors[bank][root];
    }

    /// @inheritdoc IConfirmationAnchor
    function verifyRecord(
        address bank,
        bytes32 root,
        uint32 period,
        bytes32 recordId,
        address counterparty,
        bytes32 dataHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (proof.length > MAX_PROOF_LENGTH) revert ConfirmationAnchorProofTooLong(proof.length, MAX_PROOF_LENGTH);
        Anchor storage a = _anchors[bank][root];
        if (a.anchoredBy == address(0)) revert AnchorRootUnknown(bank, root);
        return a.period == period
            && MerkleProof.verifyCalldata(proof, root, leafOf(period, recordId, counterparty, dataHash));
    }

    /// @inheritdoc IConfirmationAnchor
    function leafOf(uint32 period, bytes32 recordId, address counterparty, bytes32 dataHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(period, recordId, counterparty, dataHash))));
    }

    /// @inheritdoc IConfirmationAnchor
    function qualificationTermsId(address salesBank, bytes32 productId) external pure returns (bytes32) {
        return keccak256(abi.encodePacked("QUALIFICATION", salesBank, productId));
    }

    /// @inheritdoc IConfirmationAnchor
    function getRegistration(bytes32 registrationId) external view returns (Registration memory) {
        return _registrations[registrationId];
    }

    /// @inheritdoc IConfirmationAnchor
    function requestStructHash(Request calldata q) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                REQUEST_TYPEHASH,
                q.requestId,
                q.salesBank,
                q.issuer,
                q.productId,
                q.kind,
                q.amount,
                q.shares,
                q.investorCommitment,
                q.period
            )
        );
    }

    /// @inheritdoc IConfirmationAnchor
    function requestDigest(Request calldata request) external view returns (bytes32) {
        return _hashTypedDataV4(requestStructHash(request));
    }

    /// @inheritdoc IConfirmationAnchor
    function confirmationDigest(Confirmation calldata c) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    CONFIRMATION_TYPEHASH,
                    c.requestId,
                    c.requestHash,
                    c.issuer,
                    c.status,
                    c.confirmedAmount,
                    c.confirmedShares,
                    c.confirmedAt,
                    c.reason
                )
            )
        );
    }

    /// @inheritdoc IConfirmationAnchor
    function checkConfirmation(Confirmation calldata confirmation, bytes calldata signature)
        external
        view
        returns (address signerMember)
    {
        address signer = ECDSA.recover(confirmationDigest(confirmation), signature);
        signerMember = registry.memberOf(signer);
        if (signerMember != confirmation.issuer) {
            revert AnchorConfirmationWrongSigner(confirmation.requestId, confirmation.issuer, signer, signerMember);
        }
        if (!registry.isActive(signerMember)) {
            revert AnchorConfirmationSignerNotActive(confirmation.requestId, signerMember, signer);
        }
        _checkOutcome(confirmation);
    }

    /// @dev A confirmed request carries no reason; a refused one carries its reason and nothing confirmed.
    function _checkOutcome(Confirmation calldata c) internal pure {
        bool confirmed = c.status == CONFIRMED && c.reason == bytes32(0);
        bool refused =
            c.status == REFUSED && c.reason != bytes32(0) && c.confirmedAmount == 0 && c.confirmedShares == 0;
        if (!confirmed && !refused) {
            revert AnchorConfirmationOutcomeInvalid(
                c.requestId, c.status, c.reason, c.confirmedAmount, c.confirmedShares
            );
        }
    }
}
