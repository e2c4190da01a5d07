// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IConfirmationAnchor
/// @notice Evidence of the sales-bank / product-issuer data exchange: user-registration commitments and
/// results, Merkle roots of confirmed requests ("second transaction data"), and EIP-712 verification of
/// issuers' confirmations. Business data never comes on chain: only salted hashes, roots and counts.
/// @dev Roots are OpenZeppelin standard Merkle trees (sorted pairs, leaves double-hashed over
/// `abi.encode(uint32 period, bytes32 recordId, address counterparty, bytes32 dataHash)`), the format
/// `merkle-zeppelin` builds off chain, so every record is provable by itself against its anchored root.
/// The leaf binds the period (business day) the root was anchored for, so a record is provable only
/// under roots of its own day: anchoring the same record under another day proves nothing for it.
/// Anchors are keyed by (sales bank, root): a root is its bank's own idempotency key, so a rival bank
/// anchoring the same root first (under another period) takes nothing from the bank whose root it is,
/// and a verifier names the bank whose evidence it checks.
interface IConfirmationAnchor {
    /// @notice Lifecycle of a user registration forwarded by a sales bank to an issuer.
    enum RegistrationStatus {
        None,
        Pending,
        Accepted,
        Rejected
    }

    /// @notice A registration as the chain knows it: parties, the salted commitment and the result.
    struct Registration {
        address salesBank;
        address issuer;
        RegistrationStatus status;
        bytes32 commitment;
        bytes32 resultHash;
    }

    /// @notice One anchored root, packed in a single storage slot (20 + 5 + 3 + 4 bytes).
    struct Anchor {
        address anchoredBy;
        uint40 anchoredAt;
        uint24 count;
        uint32 period;
    }

    /// @notice A sales request as the issuer confirms it (EIP-712 struct `Request`).
    struct Request {
        bytes32 requestId;
        address salesBank;
        address issuer;
        bytes32 productId;
        uint8 kind;
        uint256 amount;
        uint256 shares;
        bytes32 investorCommitment;
        uint64 period;
    }

    /// @notice The issuer's confirmation of one request (EIP-712 struct `Confirmation`).
    struct Confirmation {
        bytes32 requestId;
        bytes32 requestHash;
        address issuer;
        uint8 status;
        uint256 confirmedAmount;
        uint256 confirmedShares;
        uint64 confirmedAt;
        /// @dev why a refused request was refused (a short reason code, left-aligned, like
        /// bytes32("ORDER_AFTER_PRODUCT_CUTOFF")); zero for a confirmed request
        bytes32 reason;
    }

    // ----------------------------------------------------------------- events
    event RegistrationSubmitted(
        bytes32 indexed registrationId, address indexed salesBank, address indexed issuer, bytes32 commitment
    );
    event RegistrationDecided(bytes32 indexed registrationId, address indexed issuer, bool accepted, bytes32 resultHash);
    event PacketAnchored(
        bytes32 indexed root, address indexed salesBank, address indexed issuer, uint32 period, uint32 count
    );
    event PeriodAnchored(bytes32 indexed root, address indexed salesBank, uint32 indexed period, uint32 count);

    // ----------------------------------------------------------------- errors
    error AnchorZeroRoot();
    error AnchorCountOutOfRange(uint256 count, uint256 max);
    /// @notice `bank` already anchored `root` (for `period`): a bank's root is its idempotency key.
    error AnchorRootAlreadyAnchored(bytes32 root, address bank, uint32 period);
    /// @notice `bank` never anchored `root` (another bank's anchor of the same root does not count).
    error AnchorRootUnknown(address bank, bytes32 root);
    /// @notice A period root must name 1..max issuers, each with an open channel to the sales bank.
    error AnchorPeriodIssuersOutOfRange(uint256 given, uint256 max);
    /// @notice The confirmation was signed for a member that is not active (suspended or never admitted).
    error AnchorConfirmationSignerNotActive(bytes32 requestId, address signerMember, address signer);
    /// @notice A Merkle proof longer than MAX_PROOF_LENGTH (named for this contract: the report anchor
    /// refuses with its own ReportAnchorProofTooLong).
    error ConfirmationAnchorProofTooLong(uint256 length, uint256 max);
    error AnchorRegistrationExists(bytes32 registrationId);
    error AnchorRegistrationUnknown(bytes32 registrationId);
    error AnchorRegistrationAlreadyDecided(bytes32 registrationId, RegistrationStatus status);
    error AnchorNotRegistrationIssuer(bytes32 registrationId, address caller, address issuer);
    error AnchorZeroCommitment();
    /// @notice A confirmation's outcome is inconsistent: CONFIRMED (1) carries no reason; REFUSED (2)
    /// carries its reason code and confirms no amount and no shares; no other status exists.
    error AnchorConfirmationOutcomeInvalid(
        bytes32 requestId, uint8 status, bytes32 reason, uint256 confirmedAmount, uint256 confirmedShares
    );
    error AnchorConfirmationWrongSigner(bytes32 requestId, address expectedIssuer, address signer, address signerMember);

    // ----------------------------------------------------------------- registration
    /// @notice Record that a sales bank forwarded a user-registration application to an issuer.
    /// @param issuer the product issuer that registers the user
    /// @param registrationId the application's id (random, carries no personal data)
    /// @param commitment salted hash of the application (the salt stays with the two parties)
    /// Requirements:
    /// - caller acts for an active member holding SALES_BANK
    /// - the data channel between the sales bank and `issuer` is open
    /// - `registrationId` unused; `commitment` non-zero
    function submitRegistration(address issuer, bytes32 registrationId, bytes32 commitment) external;

    /// @notice Record the issuer's registration result.
    /// @param accepted whether the issuer registered the user
    /// @param resultHash hash of the result message returned over the channel
    /// Requirements:
    /// - caller acts for an active member holding PRODUCT_ISSUER, the registration's issuer
    /// - the registration is pending (decided only once)
    function decideRegistration(bytes32 registrationId, bool accepted, bytes32 resultHash) external;

    // ----------------------------------------------------------------- anchoring
    /// @notice Anchor the Merkle root of one packet's confirmed records (one issuer, one period).
    /// @param issuer the packet's counterparty (its member address)
    /// @param period the business day (days since 1970-01-01 UTC) every record's leaf carries
    /// @param root OpenZeppelin standard Merkle root of the packet's records
    /// @param count number of records under the root (1..MAX_RECORDS_PER_ROOT)
    /// Requirements:
    /// - caller acts for an active member holding SALES_BANK
    /// - the channel between the sales bank and `issuer` is open (RegistryChannelNotOpen otherwise)
    /// - `root` non-zero and never anchored before by this bank (AnchorRootAlreadyAnchored(root, bank,
    ///   period): the (bank, root) pair is the idempotency key, so a resent anchor changes nothing; another
    ///   bank's anchor of the same root does not block it)
    function anchorPacket(address issuer, uint32 period, bytes32 root, uint32 count) external;

    /// @notice Anchor one root over a whole period (all its issuers); the cheapest evidence per record.
    /// @param issuers the period's counterparties (the issuers whose records the root holds)
    /// Requirements:
    /// - caller acts for an active member holding SALES_BANK
    /// - 1..MAX_PERIOD_ISSUERS issuers (AnchorPeriodIssuersOutOfRange), each with an open channel to the
    ///   sales bank (RegistryChannelNotOpen): the same channel rule as anchorPacket
    /// - `root` non-zero, never anchored by this bank (AnchorRootAlreadyAnchored);
    ///   1 <= count <= MAX_RECORDS_PER_ROOT
    function anchorPeriod(uint32 period, bytes32 root, uint32 count, address[] calldata issuers) external;

    // ----------------------------------------------------------------- views
    /// @notice The anchor of `root` by the sales bank `bank` (zero struct when that bank never anchored it).
    function anchorOf(address bank, bytes32 root) external view returns (Anchor memory);

    /// @notice Whether a record of business day `period` is under a root `bank` anchored for that day.
    /// @param bank the sales bank whose evidence is checked (a root anchored only by another bank is unknown)
    /// @return true iff `bank` anchored `root` for `period` and `proof` proves the record's leaf under it
    /// (false for a record of another day, even one whose proof is otherwise valid)
    /// @dev A root holds at most MAX_RECORDS_PER_ROOT (10^6 < 2^20) records, so an honest proof has
    /// at most 20 siblings; longer ones are refused before any hashing (the view is also called by
    /// contracts, whose gas an unbounded proof would burn).
    /// Requirements: `root` anchored by `bank` (AnchorRootUnknown otherwise); proof.length <=
    /// MAX_PROOF_LENGTH (ConfirmationAnchorProofTooLong otherwise).
    function verifyRecord(
        address bank,
        bytes32 root,
        uint32 period,
        bytes32 recordId,
        address counterparty,
        bytes32 dataHash,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The standard-tree leaf of a record: keccak256(bytes.concat(keccak256(abi.encode(...)))).
    function leafOf(uint32 period, bytes32 recordId, address counterparty, bytes32 dataHash)
        external
        pure
        returns (bytes32);

    /// @notice A registration's record.
    function getRegistration(bytes32 registrationId) external view returns (Registration memory);

    /// @notice EIP-712 digest of a request / confirmation under this contract's domain.
    function requestDigest(Request calldata request) external view returns (bytes32);

    /// @notice EIP-712 struct hash of a request (what a confirmation's requestHash must equal).
    function requestStructHash(Request calldata request) external pure returns (bytes32);

    /// @notice EIP-712 digest of a confirmation under this contract's domain.
    function confirmationDigest(Confirmation calldata confirmation) external view returns (bytes32);

    /// @notice The registry terms id of the qualification rules `salesBank` agreed with the issuer of
    /// `productId`: keccak256(abi.encodePacked("QUALIFICATION", salesBank, productId)). Keyed on the
    /// bank as well as the product, so every bank distributing a product holds its own joint terms.
    function qualificationTermsId(address salesBank, bytes32 productId) external pure returns (bytes32);

    /// @notice The member that signed `confirmation` (the signer itself or the member it operates for).
    /// Requirements: a valid ECDSA signature (OpenZeppelin ECDSA errors otherwise); the signer's member is
    /// `confirmation.issuer` (AnchorConfirmationWrongSigner otherwise) and is active now
    /// (AnchorConfirmationSignerNotActive otherwise: a suspended issuer's signature counts for nothing);
    /// then a consistent outcome (AnchorConfirmationOutcomeInvalid: a refused request is confirmed as
    /// refused, with its reason code and nothing confirmed, never as a confirmed one of zero amount).
    function checkConfirmation(Confirmation calldata confirmation, bytes calldata signature)
        external
        view
        returns (address signerMember);
}
