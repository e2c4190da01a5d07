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
/// declares a payment made off chain, allowed only for a bill the cash token cannot pay (no token, or
/// another currency: BillOffChainPaymentRefused otherwise). A declaration moves nothing: the payee
/// confirms receipt (`confirmPayment`), which burns the redeemed holding or delivers the financed one;
/// an unconfirmed declaration may be withdrawn by its payer after PAYMENT_CONFIRMATION_WINDOW.
///
/// Exits: the requester cancels a request nobody acted on (`cancelRequest`: an issue or transfer
/// before its review, a financing before the holder signs); any pending node can be expired by its
/// requester or an auditor after its deadline (`expireRequest`: the bill's maturity, or for a financing
/// the holder signed, FINANCING_WINDOW after the signature, capped at maturity). Either returns the
/// escrow to the parent node, or cancels the bill for an issue.
///
/// Idempotency keys are scoped to their owner: a debtor's trade documents (`requestIssue`), a holder's
/// request reference (`requestTransfer`, `requestFinancing`), a debtor's redemption reference (`redeem`).
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
        Rejected // rejected, cancelled or expired: amount returned (or the bill cancelled)
    }

    /// @notice What an off-chain payment declaration pays for.
    enum PaymentKind {
        None,
        Redemption, // the debtor paid a holder at maturity: confirmation burns the holding
        Disbursement // the factor paid the holder: confirmation delivers the financed amount
    }

    /// @notice Steps folded into a node's evidence digest.
    enum EvidenceStep {
        None,
        Request,
        Review,
        Audit,
        Quote,
        Agree,
        Disburse,
        Cancel,
        Expire
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
        // until the holder signs: the end of the request's quote window (0: the first quote binds);
        // from the signature: min(signature + FINANCING_WINDOW, maturity)
        uint64 deadline;
        uint128 amount;
        uint128 proceeds;
        bytes32 agreementHash;
    }

    /// @notice A payer's declaration of an off-chain payment, waiting for the payee's confirmation.
    struct PaymentDeclaration {
        address payer;
        uint64 deadline; // the payer may withdraw it from then on
        address payee;
        PaymentKind kind;
        uint64 nodeId;
        uint128 amount;
        bytes32 paymentRef;
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
    /// @notice A financing request publicised with a quote window: factors quote until `quoteWindowEnd`.
    event BillFinancingQuoteWindowOpened(uint256 indexed nodeId, uint64 quoteWindowEnd);
    /// @notice A better quote in the window released `factor`'s quote (it binds nobody any more).
    event BillFinancingQuoteReleased(uint256 indexed nodeId, address indexed factor, uint16 rateBps);
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
    event BillRequestCancelled(
        uint256 indexed nodeId, uint256 indexed billId, address indexed requester, NodeKind kind, uint256 amount, bytes32 reasonHash
    );
    event BillRequestExpired(
        uint256 indexed nodeId,
        uint256 indexed billId,
        address indexed expiredBy,
        NodeKind kind,
        NodeState state,
        uint256 amount,
        bytes32 reasonHash
    );
    event BillPaymentDeclared(
        uint256 indexed declarationId,
        uint256 indexed nodeId,
        address indexed payer,
        address payee,
        PaymentKind kind,
        uint256 amount,
        bytes32 paymentRef,
        uint64 deadline
    );
    event BillPaymentConfirmed(
        uint256 indexed declarationId, uint256 indexed nodeId, address indexed payee, uint256 amount, bytes32 paymentRef
    );
    event BillPaymentWithdrawn(uint256 indexed declarationId, uint256 indexed nodeId, address indexed payer, uint256 amount);

    // ----------------------------------------------------------------- errors
    error BillZeroAmount();
    /// @notice A required hash or reference was zero; `field` names the argument (`docHash`, `currency`,
    /// `reasonHash`, `auditHash`, `agreementHash`, `batchRef` or `requestRef`), so a revert reads
    /// `BillZeroHash: docHash`.
    error BillZeroHash(string field);
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
    error BillDocumentsAlreadyIssued(address debtor, bytes32 docHash, uint256 billId, uint256 blockNumber);
    error BillRedemptionRefUsed(address debtor, bytes32 batchRef, uint256 count, uint256 blockNumber);
    /// @notice The holder used `requestRef` already, for the request that created `nodeId`.
    error BillRequestRefUsed(address holder, bytes32 requestRef, uint256 nodeId, uint256 blockNumber);
    /// @notice `receiver` is an operator address acting for `member`, not a member's own address.
    error BillReceiverNotMemberAddress(address receiver, address member);
    /// @notice Only the node's requester may cancel it.
    error BillNotRequester(uint256 nodeId, address caller, address requester);
    /// @notice The node was acted on already (reviewed, or a financing signed), or is finished.
    error BillNotCancellable(uint256 nodeId, NodeKind kind, NodeState state);
    /// @notice The node is delivered (Valid) or finished (Rejected): nothing to expire.
    error BillNotExpirable(uint256 nodeId, NodeState state);
    /// @notice Only the node's requester or an auditor may expire it.
    error BillNotRequesterOrAuditor(uint256 nodeId, address caller, address requester);
    /// @notice The node's deadline has not come yet.
    error BillDeadlineNotReached(uint256 nodeId, uint256 deadline, uint256 timestamp);
    /// @notice The financing's deadline passed: it can only be expired now.
    error BillDisbursementDeadlinePassed(uint256 nodeId, uint256 deadline, uint256 timestamp);
    /// @notice The bill can be paid on chain (a cash token in its currency): no off-chain declaration.
    error BillOffChainPaymentRefused(uint256 billId, bytes32 currency);
    /// @notice No pending payment declaration under this id (never made, confirmed or withdrawn).
    error BillUnknownPayment(uint256 declarationId);
    /// @notice Only the declaration's payee may confirm it.
    error BillNotPayee(uint256 declarationId, address caller, address payee);
    /// @notice Only the declaration's payer may withdraw it.
    error BillNotPayer(uint256 declarationId, address caller, address payer);
    /// @notice The payee still has time to confirm the declaration.
    error BillPaymentNotExpired(uint256 declarationId, uint256 deadline, uint256 timestamp);
    /// @notice A quote window must be 1 s .. MAX_QUOTE_WINDOW long and end before the bill matures
    /// (`max` is the longest window allowed now).
    error BillQuoteWindowOutOfRange(uint256 quoteWindow, uint256 max);
    /// @notice The financing's quote window closed at `windowEnd`: no more quotes.
    error BillQuoteWindowClosed(uint256 nodeId, uint256 windowEnd, uint256 timestamp);
    /// @notice The financing's quote window is still open until `windowEnd`: the holder signs after it.
    error BillQuoteWindowOpen(uint256 nodeId, uint256 windowEnd, uint256 timestamp);
    /// @notice In a quote window a new quote must beat the best so far (a lower rate).
    error BillQuoteNotBetter(uint256 nodeId, uint16 bestRateBps, uint16 rateBps);
    /// @notice Segregation of duties: the auditing member is a party to the node it would audit (its
    /// sender or holder `from`, its receiver or factor `to`, or the bill's `debtor`); another audit
    /// institution audits it.
    error BillAuditorIsParty(uint256 nodeId, address auditor, address from, address to, address debtor);

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
    /// @dev (debtor, `docHash`) is the issue's idempotency key (one storage slot per bill): one set of
    /// trade documents backs one bill of that debtor, so a resent issue is refused with
    /// BillDocumentsAlreadyIssued(debtor, docHash, billId, blockNumber) unless that bill was cancelled;
    /// billOfDocuments answers for a debtor and hash. Scoped to the debtor: another member issuing on
    /// the same hash blocks nothing of ours.
    /// Requirements:
    /// - caller holds BILL_ISSUER (the issue right, 开单权限)
    /// - receiver is another member's own address (not an operator: BillReceiverNotMemberAddress),
    ///   active and holding SUPPLY_CHAIN_CLIENT; channel open if required
    /// - 0 < faceValue <= type(uint128).max; maturity in the future; docHash and currency non-zero
    /// - no bill of the caller issued on `docHash` unless it was cancelled
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
    /// - caller holds AUDITOR and is no party to the node: not its sender or holder, receiver or
    ///   factor, nor the bill's debtor (BillAuditorIsParty: segregation of duties)
    /// - issue/transfer node in state Reviewed, or financing node in state Agreed; auditHash non-zero
    /// - an approval happens before maturity; an approval of an issue or transfer needs the receiver
    ///   still active (RegistryNotActiveMember otherwise: it may have been suspended since its review)
    function audit(uint256 nodeId, bool approved, bytes32 auditHash) external;

    // ----------------------------------------------------------------- transfer, split (转单)
    /// @notice Request to transfer `amount` of the caller's holding of `nodeId` to `to` (all of it or
    /// a split). The amount is locked in escrow on a new child node until review and audit.
    /// @param requestRef the holder's reference of this request, its idempotency key (scoped to the
    /// holder; `requestOf` answers for it): a resent request is refused with BillRequestRefUsed
    /// @return newNodeId the child node `to` will hold
    /// Requirements:
    /// - caller holds BILL_TRANSFEROR (the transfer right, 转单权限); `to` another member's own
    ///   address, active, holding SUPPLY_CHAIN_CLIENT
    /// - node Valid, its bill Active and not matured; 0 < amount <= caller's balance of the node
    /// - channel open if the bill requires one; lineage depth below MAX_LINEAGE_DEPTH
    /// - requestRef non-zero and never used by the caller (BillRequestRefUsed)
    function requestTransfer(uint256 nodeId, address to, uint256 amount, bytes32 docHash, bytes32 requestRef)
        external
        returns (uint256 newNodeId);

    // ----------------------------------------------------------------- financing (融资)
    /// @notice Ask any factor to finance `amount` of the caller's holding (publicised by the event).
    /// The amount is locked in escrow on a new financing node.
    /// @param requestRef the holder's reference of this request (as requestTransfer's; same key space)
    /// Requirements: as requestTransfer, without a receiver, the caller holding
    /// BILL_FINANCING_APPLICANT (the financing right, 融资权限) instead of BILL_TRANSFEROR.
    function requestFinancing(uint256 nodeId, uint256 amount, bytes32 docHash, bytes32 requestRef)
        external
        returns (uint256 finNodeId);

    /// @notice As requestFinancing, publicised with a quote window (融资请求进行公示): factors quote until
    /// now + `quoteWindow`, each quote beating the best so far (a lower rate: the one it beats is
    /// released, BillFinancingQuoteReleased); after the window the holder signs the best quote
    /// (acceptFinancing), or declines or cancels. requestFinancing keeps the first-quote path.
    /// Requirements: as requestFinancing; 0 < quoteWindow <= MAX_QUOTE_WINDOW and the window ends
    /// before the bill's maturity (BillQuoteWindowOutOfRange).
    function requestFinancingQuotes(
        uint256 nodeId,
        uint256 amount,
        bytes32 docHash,
        bytes32 requestRef,
        uint64 quoteWindow
    ) external returns (uint256 finNodeId);

    /// @notice A factor accepts a financing request at an annual discount rate and proposes the
    /// agreement (its hash); the factor's call is its approval of that agreement.
    /// @dev proceeds = amount − floor(amount × rateBps × days / 3,650,000), days = floor((maturity −
    /// now) / 86,400): the discount rounds down, in the holder's favour.
    /// In a quote window (requestFinancingQuotes) several factors quote: each quote before the window's
    /// end must beat the best so far (BillQuoteNotBetter), the node stays Quoted with the best one.
    /// Requirements:
    /// - caller holds ASSET_MANAGER; financing node in state Requested (or Quoted, in an open quote
    ///   window: BillQuoteWindowClosed after it); bill not matured
    /// - rateBps <= MAX_RATE_BPS; agreementHash non-zero; channel with the holder if the bill requires one
    /// - the discount does not exceed the amount (long maturities at high rates)
    function quoteFinancing(uint256 finNodeId, uint16 rateBps, bytes32 agreementHash) external;

    /// @notice The holder signs (or declines) the factor's agreement. Declining returns the amount.
    /// Signing starts the financing's deadline: audit and disbursement must happen before
    /// min(now + FINANCING_WINDOW, maturity), after which the holder or an auditor may expire it.
    /// @dev The holder names the terms it saw (agreement hash, factor, rate): the agreement hash is
    /// public once quoted, so without the factor and the rate another factor could front-run the quote
    /// with the same hash at a worse rate and the holder's signature would accept those terms instead.
    /// Requirements: caller holds BILL_FINANCING_APPLICANT and is the requesting holder; node Quoted;
    /// an acceptance waits for the end of the request's quote window (BillQuoteWindowOpen);
    /// on acceptance `agreementHash` equals the quoted one (BillAgreementMismatch) and `factor` and
    /// `rateBps` equal the quoting factor and its rate (BillQuoteMismatch).
    /// @param factor the factor whose quote the holder accepts (ignored when declining)
    /// @param rateBps the annual discount rate the holder accepts (ignored when declining)
    function acceptFinancing(uint256 finNodeId, bool accepted, bytes32 agreementHash, address factor, uint16 rateBps)
        external;

    /// @notice The factor pays the holder and receives the financed amount of the bill: with
    /// `paymentRef` zero the proceeds move on chain in the deposit token, atomically with the bill;
    /// otherwise the factor only declares an off-chain payment under `paymentRef` (BillPaymentDeclared)
    /// and the bill moves when the holder confirms receipt (`confirmPayment`).
    /// Requirements:
    /// - caller holds ASSET_MANAGER and is the quoting factor; node Audited; bill not matured
    /// - before the financing's deadline (BillDisbursementDeadlinePassed)
    /// - on-chain payment: a deposit token in the bill's currency, this contract its settlement agent,
    ///   the factor's deposit balance covering the proceeds
    /// - off-chain declaration: no deposit token in the bill's currency (BillOffChainPaymentRefused)
    function disburseFinancing(uint256 finNodeId, bytes32 paymentRef) external;

    // ----------------------------------------------------------------- exits
    /// @notice The requester withdraws a request nobody acted on: an issue or transfer before its
    /// review, a financing before the holder signed a quote (Requested or Quoted). The escrow returns
    /// to the parent node (an issue's bill is cancelled, freeing its documents).
    /// Requirements:
    /// - caller holds SUPPLY_CHAIN_CLIENT and is the node's requester (BillNotRequester)
    /// - node Requested, or a financing node Quoted (BillNotCancellable); reasonHash non-zero
    function cancelRequest(uint256 nodeId, bytes32 reasonHash) external;

    /// @notice Expire a pending node past its deadline (`deadlineOf`): the bill's maturity, or for a
    /// financing the holder signed, its FINANCING_WINDOW deadline. The escrow returns to the parent
    /// node (an issue's bill is cancelled).
    /// Requirements:
    /// - caller an active member: the node's requester or an AUDITOR (BillNotRequesterOrAuditor)
    /// - node neither Valid nor Rejected (BillNotExpirable); reasonHash non-zero
    /// - now >= the node's deadline (BillDeadlineNotReached)
    function expireRequest(uint256 nodeId, bytes32 reasonHash) external;

    // ----------------------------------------------------------------- off-chain payments
    /// @notice The payee confirms it received the off-chain payment declared under `declarationId`:
    /// a redemption burns the holding (BillRedeemed), a disbursement delivers the financed amount to
    /// the factor (BillFinancingDisbursed).
    /// Requirements:
    /// - caller an active member, the declaration's payee (BillNotPayee); declaration pending
    ///   (BillUnknownPayment)
    /// - redemption: node Valid, bill Active or Overdue, the payee still holding the amount
    /// - disbursement: node still Audited (not expired), the factor still active
    function confirmPayment(uint256 declarationId) external;

    /// @notice The payer withdraws a declaration its payee did not confirm in time.
    /// Requirements: caller an active member, the declaration's payer (BillNotPayer); declaration
    /// pending (BillUnknownPayment); now >= its deadline (BillPaymentNotExpired).
    function withdrawPayment(uint256 declarationId) external;

    // ----------------------------------------------------------------- redemption
    /// @notice The debtor pays holders at or after maturity; paid amounts are burned. Partial amounts
    /// and several holdings per call are allowed.
    /// @dev (debtor, `batchRef`) is the redemption's idempotency key (one storage slot per call): a
    /// resent redemption is refused with BillRedemptionRefUsed(debtor, batchRef, count, blockNumber)
    /// instead of paying twice; redemptionOf answers for a debtor and reference.
    /// @param batchRef the debtor's reference of this redemption (its payment order), unique per debtor
    /// @param paymentRef zero: pay on chain in deposits; otherwise declare an off-chain payment per
    /// holding (BillPaymentDeclared), burned when each holder confirms it (`confirmPayment`)
    /// Requirements:
    /// - caller holds SUPPLY_CHAIN_CLIENT and is the debtor of every node's bill
    /// - arrays of equal length, at most MAX_REDEMPTION_BATCH
    /// - batchRef non-zero (BillZeroHash) and never used (BillRedemptionRefUsed)
    /// - each bill Active or Overdue and matured; each node Valid; 0 < amount <= holder's balance
    /// - paymentRef zero: deposit token in the bill's currency and enough debtor deposits
    /// - paymentRef non-zero: no deposit token in the bill's currency (BillOffChainPaymentRefused)
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

    /// @notice The bill `debtor` issued on the trade documents `docHash`, and the block of its request.
    /// @return billId zero if none (a cancelled bill's documents may be issued again: read its status)
    function billOfDocuments(address debtor, bytes32 docHash) external view returns (uint256 billId, uint256 blockNumber);

    /// @notice The node `holder`'s transfer or financing request `requestRef` created, and its block.
    /// @return nodeId zero if the reference was never used
    function requestOf(address holder, bytes32 requestRef) external view returns (uint256 nodeId, uint256 blockNumber);

    /// @notice Whether `debtor` made a redemption under `batchRef`.
    /// @return count holdings it paid or declared (0: never used)
    /// @return blockNumber the block of the redemption (0: never used)
    function redemptionOf(address debtor, bytes32 batchRef) external view returns (uint256 count, uint256 blockNumber);

    /// @notice A pending off-chain payment declaration (kind None once confirmed or withdrawn).
    function payment(uint256 declarationId) external view returns (PaymentDeclaration memory);

    /// @notice When a pending node may be expired (`expireRequest`).
    function deadlineOf(uint256 nodeId) external view returns (uint256);

    /// @notice Face value not yet redeemed.
    function outstanding(uint256 billId) external view returns (uint256);

    /// @notice Amount locked in escrow on a node (pending review, audit or disbursement).
    function locked(uint256 nodeId) external view returns (uint256);

    /// @notice The deposit token used for on-chain payments (zero if none).
    function cash() external view returns (address);

    /// @notice The id the next node (or bill) will get.
    function nextId() external view returns (uint256);
}
