// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IBillToken
/// @notice Supply-chain finance bills (应收账款电子凭证) as an ERC-1155 multi-token. A core enterprise
/// (the debtor) issues a bill to its supplier; the supplier passes all or part of it up its own
/// supply chain, or sells it to a factor (asset manager) for early cash; at maturity the debtor pays
/// the holders. Every step is reviewed by the counterparty, audited by an audit institution and kept
/// as evidence.
/// @dev Token ids are *lineage nodes*. The issue creates the root node (its id is the bill id); every
/// transfer, split or financing creates a child node whose parent is the node the amount came from.
/// A holding `balanceOf(holder, nodeId)` is a claim on the bill's debtor, and `lineage(nodeId)` walks
/// it back to the original bill, hop by hop, with each hop's parties and evidence digest.
///
/// Locking: a request burns the amount from the requester's node and mints it on the new node to this
/// contract (escrow). Escrowed amounts are "locked": nobody can transfer, finance or redeem them; the
/// audit's approval delivers them to the receiver, a rejection returns them to the parent node.
/// Direct ERC-1155 transfers are disabled (BillDirectTransferDisabled): only the reviewed and audited
/// path moves tokens. Invariant, per bill: Σ holders' balances + escrow (locked) + redeemed = face value.
///
/// Evidence: each node keeps one digest, chained per step:
/// `evidence' = keccak256(abi.encode(evidence, step, actor, hash, ok))` (steps in `EvidenceStep`),
/// starting from 0 at the request. The events carry every raw hash, so a verifier recomputes the digest
/// (Python: `consortium.domain.bills.chain_evidence`). One slot per hop keeps a split cheap.
///
/// Channel policy: chosen per bill at issue (`requireChannel`). When set, the issue, every transfer
/// and every financing of that bill need an open registry channel between the two parties
/// (ConsortiumManaged's RegistryChannelNotOpen otherwise).
///
/// Cash: where the contract was deployed with a deposit token (`cash()`), a zero payment reference
/// means "pay on chain": the contract moves the deposit as the token's settlement agent (a CASH_ISSUER
/// member must call `DepositToken.setSettlementAgent(bill contract, true)`). A non-zero reference
/// records a payment made off chain.
interface IBillToken {
    /// @notice Lifecycle of a bill (the original debt).
    enum BillStatus {
        None,
        Pending, // issue requested, not yet audited
        Active, // issued and audited: holdings are valid claims
        Overdue, // matured and marked unpaid
        Settled, // face value fully redeemed
        Cancelled // issue rejected by the receiver or the auditor
    }

    /// @notice What created a lineage node.
    enum NodeKind {
        None,
        Issue,
        Transfer,
        Financing
    }

    /// @notice Lifecycle of a lineage node.
    enum NodeState {
        None,
        Requested, // amount locked in escrow; waiting for the receiver (or a factor's quote)
        Reviewed, // receiver accepted (issue, transfer): waiting for the audit
        Quoted, // financing: a factor accepted with a rate
        Agreed, // financing: the holder signed the factor's agreement too
        Audited, // financing: auditor approved; waiting for the disbursement
        Valid, // delivered: the holder's balance is spendable
        Rejected // rejected at any step: amount returned (or the bill cancelled)
    }

    /// @notice Steps folded into a node's evidence digest.
    enum EvidenceStep {
        None,
        Request,
        Review,
        Audit,
        Quote,
        Agree,
        Disburse
    }

    /// @notice The original debt.
    struct Bill {
        address debtor;
        uint64 maturity;
        BillStatus status;
        bool requireChannel;
        uint128 faceValue;
        uint128 redeemed;
        bytes32 currency;
        bytes32 docHash;
    }

    /// @notice One hop of a bill's lineage (the token id is the node id).
    struct Node {
        address to;
        uint64 parent;
        NodeState state;
        NodeKind kind;
        uint16 depth;
        address from;
        uint64 billId;
        bytes32 evidence;
    }

    /// @notice A factor's financing of a node.
    struct Financing {
        address factor;
        uint16 rateBps;
        bool holderSigned;
        uint128 amount;
        uint128 proceeds;
        bytes32 agreementHash;
    }

    // ----------------------------------------------------------------- events
    event BillIssueRequested(
        uint256 indexed billId,
        address indexed debtor,
        address indexed receiver,
        uint256 faceValue,
        bytes32 currency,
        uint64 maturity,
        bytes32 docHash,
        bool requireChannel
    );
    event BillTransferRequested(
        uint256 indexed nodeId, uint256 indexed billId, address indexed from, address to, uint256 parent, uint256 amount, bytes32 docHash
    );
    event BillFinancingRequested(
        uint256 indexed nodeId, uint256 indexed billId, address indexed holder, uint256 parent, uint256 amount, bytes32 docHash
    );
    event BillReviewed(uint256 indexed nodeId, uint256 indexed billId, address indexed reviewer, bool accepted, bytes32 reasonHash);
    event BillAudited(
        uint256 indexed nodeId, uint256 indexed billId, address indexed auditor, NodeKind kind, bool approved, bytes32 auditHash
    );
    event BillFinancingQuoted(
        uint256 indexed nodeId, uint256 indexed billId, address indexed factor, uint16 rateBps, uint256 proceeds, bytes32 agreementHash
    );
    event BillFinancingAgreed(uint256 indexed nodeId, uint256 indexed billId, address indexed holder, bool accepted, bytes32 agreementHash);
    event BillFinancingDisbursed(
        uint256 indexed nodeId,
        uint256 indexed billId,
        address indexed factor,
        address holder,
        uint256 amount,
        uint256 proceeds,
        bytes32 paymentRef
    );
    event BillRedeemed(uint256 indexed nodeId, uint256 indexed billId, address indexed holder, uint256 amount, bytes32 paymentRef);
    event BillSettled(uint256 indexed billId, address indexed debtor, uint256 faceValue);
    event BillMarkedOverdue(uint256 indexed billId, address indexed debtor, address indexed markedBy, uint256 outstanding);

    // ----------------------------------------------------------------- errors
    error BillZeroAmount();
    error BillZeroHash();
    error BillFaceValueTooLarge(uint256 faceValue, uint256 max);
    error BillMaturityInPast(uint64 maturity, uint256 timestamp);
    error BillReceiverNotClient(address receiver);
    error BillSelfTransfer(address holder);
    error BillUnknownNode(uint256 nodeId);
    error BillNodeState(uint256 nodeId, NodeState expected, NodeState actual);
    error BillWrongKind(uint256 nodeId, NodeKind kind);
    error BillNotReceiver(uint256 nodeId, address caller, address receiver);
    error BillNotHolder(uint256 nodeId, address caller, address holder);
    error BillNotFactor(uint256 nodeId, address caller, address factor);
    error BillNotDebtor(uint256 billId, address caller, address debtor);
    error BillNotActive(uint256 billId, BillStatus status);
    error BillAmountExceedsBalance(uint256 nodeId, address holder, uint256 requested, uint256 available);
    error BillMatured(uint256 billId, uint64 maturity, uint256 timestamp);
    error BillNotMatured(uint256 billId, uint64 maturity, uint256 timestamp);
    error BillRateOutOfRange(uint256 rateBps, uint256 max);
    error BillDiscountExceedsAmount(uint256 amount, uint256 discount);
    error BillAgreementMismatch(uint256 nodeId, bytes32 quoted, bytes32 given);
    error BillQuoteMismatch(
        uint256 nodeId, address quotedFactor, uint16 quotedRateBps, address givenFactor, uint16 givenRateBps
    );
    error BillNoCash();
    error BillCurrencyMismatch(uint256 billId, bytes32 billCurrency, bytes32 cashCurrency);
    error BillBatchTooLarge(uint256 given, uint256 max);
    error BillBatchLengthMismatch(uint256 nodes, uint256 holders, uint256 amounts);
    error BillLineageTooDeep(uint256 nodeId, uint256 depth, uint256 max);
    error BillDirectTransferDisabled(address operator);
    error BillDocumentsAlreadyIssued(bytes32 docHash, uint256 billId, uint256 blockNumber);
    error BillRedemptionRefUsed(bytes32 batchRef, uint256 count, uint256 blockNumber);

    // ----------------------------------------------------------------- issue (开单)
    /// @notice Request to issue a bill on the caller (the debtor) to `receiver`, locked in escrow until
    /// the receiver accepts and the auditor approves.
    /// @param receiver the supplier the debt is owed to
    /// @param faceValue face value in minor units of `currency`
    /// @param currency ISO 4217 code, e.g. bytes32("CNY")
    /// @param maturity unix time the debtor pays
    /// @param docHash hash of the underlying trade documents (contract, invoice, delivery note)
    /// @param requireChannel whether every move of this bill needs an open registry channel
    /// @return billId the new bill id (also the id of its root lineage node)
    /// @dev `docHash` is the issue's idempotency key (one storage slot per bill): one set of trade
    /// documents backs one bill, so a resent issue (or a second bill on the same invoice) is refused
    /// with BillDocumentsAlreadyIssued(docHash, billId, blockNumber) unless that bill was cancelled;
    /// billOfDocuments answers for a hash.
    /// Requirements:
    /// - caller holds SUPPLY_CHAIN_CLIENT
    /// - receiver is another active member holding SUPPLY_CHAIN_CLIENT; channel open if required
    /// - 0 < faceValue <= type(uint128).max; maturity in the future; docHash and currency non-zero
    /// - no bill issued on `docHash` unless it was cancelled
    function requestIssue(
        address receiver,
        uint256 faceValue,
        bytes32 currency,
        uint64 maturity,
        bytes32 docHash,
        bool requireChannel
    ) external returns (uint256 billId);

    /// @notice The receiver's review of an issue or transfer request (accept, or reject with reason).
    /// A rejection returns the amount to its parent node (or cancels the bill for an issue).
    /// Requirements:
    /// - caller holds SUPPLY_CHAIN_CLIENT and is the node's receiver
    /// - node is an Issue or Transfer node in state Requested; reasonHash non-zero
    function review(uint256 nodeId, bool accepted, bytes32 reasonHash) external;

    /// @notice The audit institution's qualification audit of a reviewed issue or transfer, or of an
    /// agreed financing. Approval of an issue or transfer delivers the escrowed amount to the receiver
    /// (the bill becomes Active on its issue); approval of a financing allows the disbursement.
    /// A rejection returns the amount to its parent node (or cancels the bill for an issue).
    /// Requirements:
    /// - caller holds AUDITOR
    /// - issue/transfer node in state Reviewed, or financing node in state Agreed; auditHash non-zero
    /// - an approval of a transfer or financing happens before maturity
    function audit(uint256 nodeId, bool approved, bytes32 auditHash) external;

    // ----------------------------------------------------------------- transfer, split (转单)
    /// @notice Request to transfer `amount` of the caller's holding of `nodeId` to `to` (all of it or
    /// a split). The amount is locked in escrow on a new child node until review and audit.
    /// @return newNodeId the child node `to` will hold
    /// Requirements:
    /// - caller holds SUPPLY_CHAIN_CLIENT; `to` another active member holding SUPPLY_CHAIN_CLIENT
    /// - node Valid, its bill Active and not matured; 0 < amount <= caller's balance of the node
    /// - channel open if the bill requires one; lineage depth below MAX_LINEAGE_DEPTH
    function requestTransfer(uint256 nodeId, address to, uint256 amount, bytes32 docHash)
        external
        returns (uint256 newNodeId);

    // ----------------------------------------------------------------- financing (融资)
    /// @notice Ask any factor to finance `amount` of the caller's holding (publicised by the event).
    /// The amount is locked in escrow on a new financing node.
    /// Requirements: as requestTransfer, without a receiver.
    function requestFinancing(uint256 nodeId, uint256 amount, bytes32 docHash) external returns (uint256 finNodeId);

    /// @notice A factor accepts a financing request at an annual discount rate and proposes the
    /// agreement (its hash); the factor's call is its approval of that agreement.
    /// @dev proceeds = amount − floor(amount × rateBps × days / 3,650,000), days = floor((maturity −
    /// now) / 86,400): the discount rounds down, in the holder's favour.
    /// Requirements:
    /// - caller holds ASSET_MANAGER; financing node in state Requested; bill not matured
    /// - rateBps <= MAX_RATE_BPS; agreementHash non-zero; channel with the holder if the bill requires one
    /// - the discount does not exceed the amount (long maturities at high rates)
    function quoteFinancing(uint256 finNodeId, uint16 rateBps, bytes32 agreementHash) external;

    /// @notice The holder signs (or declines) the factor's agreement. Declining returns the amount.
    /// @dev The holder names the terms it saw (agreement hash, factor, rate): the agreement hash is
    /// public once quoted, so without the factor and the rate another factor could front-run the quote
    /// with the same hash at a worse rate and the holder's signature would accept those terms instead.
    /// Requirements: caller holds SUPPLY_CHAIN_CLIENT and is the requesting holder; node Quoted;
    /// on acceptance `agreementHash` equals the quoted one (BillAgreementMismatch) and `factor` and
    /// `rateBps` equal the quoting factor and its rate (BillQuoteMismatch).
    /// @param factor the factor whose quote the holder accepts (ignored when declining)
    /// @param rateBps the annual discount rate the holder accepts (ignored when declining)
    function acceptFinancing(uint256 finNodeId, bool accepted, bytes32 agreementHash, address factor, uint16 rateBps)
        external;

    /// @notice The factor pays the holder and receives the financed amount of the bill, atomically:
    /// with `paymentRef` zero the proceeds move on chain in the deposit token, otherwise `paymentRef`
    /// records the off-chain payment.
    /// Requirements:
    /// - caller holds ASSET_MANAGER and is the quoting factor; node Audited; bill not matured
    /// - on-chain payment: a deposit token in the bill's currency, this contract its settlement agent,
    ///   the factor's deposit balance covering the proceeds
    function disburseFinancing(uint256 finNodeId, bytes32 paymentRef) external;

    // ----------------------------------------------------------------- redemption
    /// @notice The debtor pays holders at or after maturity; paid amounts are burned. Partial amounts
    /// and several holdings per call are allowed.
    /// @dev `batchRef` is the redemption's idempotency key (one storage slot per call): a resent
    /// redemption is refused with BillRedemptionRefUsed(batchRef, count, blockNumber) instead of paying
    /// twice; redemptionOf answers for a reference.
    /// @param batchRef the debtor's reference of this redemption (its payment order), unique
    /// @param paymentRef zero: pay on chain in deposits; otherwise the off-chain payment's reference
    /// Requirements:
    /// - caller holds SUPPLY_CHAIN_CLIENT and is the debtor of every node's bill
    /// - arrays of equal length, at most MAX_REDEMPTION_BATCH
    /// - batchRef non-zero (BillZeroHash) and never used (BillRedemptionRefUsed)
    /// - each bill Active or Overdue and matured; each node Valid; 0 < amount <= holder's balance
    /// - paymentRef zero: deposit token in the bill's currency and enough debtor deposits
    function redeem(
        bytes32 batchRef,
        uint256[] calldata nodeIds,
        address[] calldata holders,
        uint256[] calldata amounts,
        bytes32 paymentRef
    ) external;

    /// @notice Mark an unpaid matured bill overdue (any active member may).
    /// Requirements: caller an active member; bill Active (so outstanding > 0); now > maturity.
    function markOverdue(uint256 billId) external;

    // ----------------------------------------------------------------- views
    /// @notice The bill's record.
    function bill(uint256 billId) external view returns (Bill memory);

    /// @notice A lineage node's record.
    function node(uint256 nodeId) external view returns (Node memory);

    /// @notice A financing node's terms.
    function financing(uint256 finNodeId) external view returns (Financing memory);

    /// @notice The path from `nodeId` back to its original bill: [nodeId, parent, …, billId].
    function lineage(uint256 nodeId) external view returns (uint256[] memory ids, Node[] memory nodes);

    /// @notice The bill issued on the trade documents `docHash`, and the block of its issue request.
    /// @return billId zero if none (a cancelled bill's documents may be issued again: read its status)
    function billOfDocuments(bytes32 docHash) external view returns (uint256 billId, uint256 blockNumber);

    /// @notice Whether a redemption was made under `batchRef`.
    /// @return count holdings it paid (0: never used)
    /// @return blockNumber the block of the redemption (0: never used)
    function redemptionOf(bytes32 batchRef) external view returns (uint256 count, uint256 blockNumber);

    /// @notice Face value not yet redeemed.
    function outstanding(uint256 billId) external view returns (uint256);

    /// @notice Amount locked in escrow on a node (pending review, audit or disbursement).
    function locked(uint256 nodeId) external view returns (uint256);

    /// @notice The deposit token used for on-chain payments (zero if none).
    function cash() external view returns (address);

    /// @notice The id the next node (or bill) will get.
    function nextId() external view returns (uint256);
}
