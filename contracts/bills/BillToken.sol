// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {IDepositToken} from "../../interfaces/IDepositToken.sol";
import {IBillToken} from "../../interfaces/IBillToken.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";
import {IdempotencyKeys} from "../libraries/IdempotencyKeys.sol";

/// @title BillToken
/// @notice Supply-chain finance bills: issue, review, audit, split transfer, financing, redemption.
/// @dev See IBillToken for the model (lineage nodes as token ids, escrow locking, evidence digests,
/// channel policy per bill). Storage per hop is three slots (node) and the escrow balance; the audit
/// that delivers a split touches only the node, the escrow balance and the receiver's balance.
contract BillToken is ERC1155, ConsortiumManaged, IBillToken {
    using IdempotencyKeys for mapping(bytes32 => IdempotencyKeys.Use);

    /// @notice Longest lineage (hops from the original bill) a holding may have.
    uint256 public constant MAX_LINEAGE_DEPTH = 32;
    /// @notice Most holdings one redeem call may pay.
    uint256 public constant MAX_REDEMPTION_BATCH = 50;
    /// @notice Highest annual discount rate a factor may quote (100 %).
    uint256 public constant MAX_RATE_BPS = 10_000;
    /// @dev 10,000 bps × 365 days: discount = floor(amount × rateBps × days / DISCOUNT_DENOMINATOR).
    uint256 private constant DISCOUNT_DENOMINATOR = 3_650_000;
    /// @notice Time a financing has, from the holder's agreement, to be audited and disbursed (capped
    /// at the bill's maturity); after it the holder or an auditor may expire the financing.
    uint256 public constant FINANCING_WINDOW = 7 days;
    /// @notice Time a payee has to confirm an off-chain payment before the payer may withdraw it.
    uint256 public constant PAYMENT_CONFIRMATION_WINDOW = 7 days;
    /// @notice Longest quote window a publicised financing request may have.
    uint256 public constant MAX_QUOTE_WINDOW = 3 days;

    IDepositToken private immutable _cash;
    uint64 private _next = 1;
    uint64 private _nextPayment = 1;
    mapping(uint256 billId => Bill) private _bills;
    mapping(uint256 nodeId => Node) private _nodes;
    mapping(uint256 finNodeId => Financing) private _financings;
    mapping(uint256 declarationId => PaymentDeclaration) private _payments;
    // idempotency keys, one slot per bill, request or redemption batch, each scoped to its owner (nobody
    // can burn another member's key): the trade documents of a debtor's issue (recordedAs: the bill
    // id), a holder's reference of a transfer or financing request (recordedAs: the node id), the
    // debtor's reference of a redemption (recordedAs: holdings paid or declared)
    mapping(address debtor => mapping(bytes32 docHash => IdempotencyKeys.Use)) private _issueDocs;
    mapping(address holder => mapping(bytes32 requestRef => IdempotencyKeys.Use)) private _requests;
    mapping(address debtor => mapping(bytes32 batchRef => IdempotencyKeys.Use)) private _redemptions;

    /// @param registry_ the consortium registry
    /// @param cash_ deposit token for on-chain payments, or zero (payments declared off chain, each
    /// confirmed by its payee)
    /// @param uri_ ERC-1155 metadata URI template
    constructor(IConsortiumRegistry registry_, IDepositToken cash_, string memory uri_)
        ERC1155(uri_)
        ConsortiumManaged(registry_)
    {
        _cash = cash_;
    }

    // ================================================================= issue

    /// @inheritdoc IBillToken
    function requestIssue(
        address receiver,
        uint256 faceValue,
        bytes32 currency,
        uint64 maturity,
        bytes32 docHash,
        bool requireChannel
    ) external returns (uint256 billId) {
        address debtor = _checkRole(Roles.BILL_ISSUER);
        if (faceValue == 0) revert BillZeroAmount();
        if (faceValue > type(uint128).max) revert BillFaceValueTooLarge(faceValue, type(uint128).max);
        if (docHash == bytes32(0)) revert BillZeroHash("docHash");
        if (currency == bytes32(0)) revert BillZeroHash("currency");
        if (maturity <= block.timestamp) revert BillMaturityInPast(maturity, block.timestamp);
        _checkReceiver(debtor, receiver, requireChannel);
        billId = _next++;
        IdempotencyKeys.Use memory earlier = _issueDocs[debtor][docHash];
        if (earlier.blockNumber != 0 && _bills[earlier.recordedAs].status != BillStatus.Cancelled) {
            revert BillDocumentsAlreadyIssued(debtor, docHash, earlier.recordedAs, earlier.blockNumber);
        }
        _issueDocs[debtor].record(docHash, billId);
        _bills[billId] = Bill({
            debtor: debtor,
            maturity: maturity,
            status: BillStatus.Pending,
            requireChannel: requireChannel,
            faceValue: uint128(faceValue),
            redeemed: 0,
            currency: currency,
            docHash: docHash
        });
        _nodes[billId] = Node({
            to: receiver,
            parent: 0,
            state: NodeState.Requested,
            kind: NodeKind.Issue,
            depth: 0,
            from: debtor,
            billId: uint64(billId),
            evidence: _chain(bytes32(0), EvidenceStep.Request, debtor, docHash, true)
        });
        _move(address(0), address(this), billId, faceValue);
        emit BillIssueRequested(billId, debtor, receiver, faceValue, currency, maturity, docHash, requireChannel);
    }

    /// @inheritdoc IBillToken
    function review(uint256 nodeId, bool accepted, bytes32 reasonHash) external {
        address reviewer = _checkRole(Roles.SUPPLY_CHAIN_CLIENT);
        Node storage n = _nodes[nodeId];
        _expectState(nodeId, n.state, NodeState.Requested);
        if (n.kind == NodeKind.Financing) revert BillWrongKind(nodeId, NodeKind.Financing);
        if (reviewer != n.to) revert BillNotReceiver(nodeId, reviewer, n.to);
        if (reasonHash == bytes32(0)) revert BillZeroHash("reasonHash");
        n.evidence = _chain(n.evidence, EvidenceStep.Review, reviewer, reasonHash, accepted);
        if (accepted) {
            n.state = NodeState.Reviewed;
        } else {
            _reject(nodeId, n);
        }
        emit BillReviewed(nodeId, n.billId, reviewer, accepted, reasonHash);
    }

    /// @inheritdoc IBillToken
    function audit(uint256 nodeId, bool approved, bytes32 auditHash) external {
        address auditor = _checkRole(Roles.AUDITOR);
        Node storage n = _nodes[nodeId];
        NodeKind kind = n.kind;
        _expectState(nodeId, n.state, kind == NodeKind.Financing ? NodeState.Agreed : NodeState.Reviewed);
        if (auditHash == bytes32(0)) revert BillZeroHash("auditHash");
        uint256 billId = n.billId;
        Bill storage b = _bills[billId];
        // segregation of duties: an auditor that is also a client or factor never audits its own deal
        if (auditor == n.from || auditor == n.to || auditor == b.debtor) {
            revert BillAuditorIsParty(nodeId, auditor, n.from, n.to, b.debtor);
        }
        n.evidence = _chain(n.evidence, EvidenceStep.Audit, auditor, auditHash, approved);
        if (!approved) {
            _reject(nodeId, n);
        } else {
            _requireNotMatured(billId, b.maturity);
            if (kind == NodeKind.Financing) {
                n.state = NodeState.Audited;
            } else {
                // the receiver may have been suspended since its review (RegistryNotActiveMember)
                _checkActive(n.to);
                if (kind == NodeKind.Issue) b.status = BillStatus.Active;
                n.state = NodeState.Valid;
                _deliver(nodeId, n.to, balanceOf(address(this), nodeId));
            }
        }
        emit BillAudited(nodeId, billId, auditor, kind, approved, auditHash);
    }

    // ================================================================= transfer, split

    /// @inheritdoc IBillToken
    function requestTransfer(uint256 nodeId, address to, uint256 amount, bytes32 docHash, bytes32 requestRef)
        external
        returns (uint256 newNodeId)
    {
        address holder = _checkRole(Roles.BILL_TRANSFEROR);
        _claimRequest(holder, requestRef);
        uint256 billId;
        (newNodeId, billId) = _split(nodeId, holder, to, amount, docHash, NodeKind.Transfer);
        emit BillTransferRequested(newNodeId, billId, holder, to, nodeId, amount, docHash);
    }

    // ================================================================= financing

    /// @inheritdoc IBillToken
    function requestFinancing(uint256 nodeId, uint256 amount, bytes32 docHash, bytes32 requestRef)
        external
        returns (uint256 finNodeId)
    {
        return _requestFinancing(nodeId, amount, docHash, requestRef);
    }

    /// @inheritdoc IBillToken
    function requestFinancingQuotes(
        uint256 nodeId, uint256 amount, bytes32 docHash, bytes32 requestRef, uint64 quoteWindow
    ) external returns (uint256 finNodeId) {
        finNodeId = _requestFinancing(nodeId, amount, docHash, requestRef);
        uint256 maturity = _bills[_nodes[finNodeId].billId].maturity; // not matured: _split checked
        uint256 max = maturity - block.timestamp - 1;
        if (max > MAX_QUOTE_WINDOW) max = MAX_QUOTE_WINDOW;
        if (quoteWindow == 0 || quoteWindow > max) revert BillQuoteWindowOutOfRange(quoteWindow, max);
        uint64 end = uint64(block.timestamp + quoteWindow);
        _financings[finNodeId].deadline = end;
        emit BillFinancingQuoteWindowOpened(finNodeId, end);
    }

    function _requestFinancing(uint256 nodeId, uint256 amount, bytes32 docHash, bytes32 requestRef)
        internal
        returns (uint256 finNodeId)
    {
        address holder = _checkRole(Roles.BILL_FINANCING_APPLICANT);
        _claimRequest(holder, requestRef);
        uint256 billId;
        (finNodeId, billId) = _split(nodeId, holder, address(0), amount, docHash, NodeKind.Financing);
        emit BillFinancingRequested(finNodeId, billId, holder, nodeId, amount, docHash);
    }

    /// @inheritdoc IBillToken
    function quoteFinancing(uint256 finNodeId, uint16 rateBps, bytes32 agreementHash) external {
        address factor = _checkRole(Roles.ASSET_MANAGER);
        Node storage n = _nodes[finNodeId];
        Financing storage f = _financings[finNodeId];
        bool outbid = _checkQuoteWindow(finNodeId, n.state, f, rateBps);
        if (n.kind != NodeKind.Financing) revert BillWrongKind(finNodeId, n.kind);
        if (rateBps > MAX_RATE_BPS) revert BillRateOutOfRange(rateBps, MAX_RATE_BPS);
        if (agreementHash == bytes32(0)) revert BillZeroHash("agreementHash");
        if (factor == n.from) revert BillSelfTransfer(factor);
        uint256 billId = n.billId;
        (uint256 amount, uint256 proceeds) = _price(finNodeId, billId, n.from, factor, rateBps);
        (address released, uint16 releasedRate) = (f.factor, f.rateBps);
        n.to = factor;
        n.state = NodeState.Quoted;
        n.evidence = _chain(n.evidence, EvidenceStep.Quote, factor, agreementHash, true);
        _financings[finNodeId] = Financing({
            factor: factor,
            rateBps: rateBps,
            holderSigned: false,
            deadline: f.deadline,
            amount: uint128(amount),
            proceeds: uint128(proceeds),
            agreementHash: agreementHash
        });
        if (outbid) emit BillFinancingQuoteReleased(finNodeId, released, releasedRate);
        emit BillFinancingQuoted(finNodeId, billId, factor, rateBps, proceeds, agreementHash);
    }

    /// @inheritdoc IBillToken
    function acceptFinancing(uint256 finNodeId, bool accepted, bytes32 agreementHash, address factor, uint16 rateBps)
        external
    {
        address holder = _checkRole(Roles.BILL_FINANCING_APPLICANT);
        Node storage n = _nodes[finNodeId];
        _expectState(finNodeId, n.state, NodeState.Quoted);
        if (holder != n.from) revert BillNotHolder(finNodeId, holder, n.from);
        if (agreementHash == bytes32(0)) revert BillZeroHash("agreementHash");
        Financing storage f = _financings[finNodeId];
        if (accepted && block.timestamp < f.deadline) {
            revert BillQuoteWindowOpen(finNodeId, f.deadline, block.timestamp);
        }
        if (accepted && agreementHash != f.agreementHash) {
            revert BillAgreementMismatch(finNodeId, f.agreementHash, agreementHash);
        }
        if (accepted && (factor != f.factor || rateBps != f.rateBps)) {
            revert BillQuoteMismatch(finNodeId, f.factor, f.rateBps, factor, rateBps);
        }
        n.evidence = _chain(n.evidence, EvidenceStep.Agree, holder, agreementHash, accepted);
        if (accepted) {
            f.holderSigned = true;
            uint64 maturity = _bills[n.billId].maturity;
            uint256 deadline = block.timestamp + FINANCING_WINDOW;
            f.deadline = deadline < maturity ? uint64(deadline) : maturity;
            n.state = NodeState.Agreed;
        } else {
            _reject(finNodeId, n);
        }
        emit BillFinancingAgreed(finNodeId, n.billId, holder, accepted, agreementHash);
    }

    /// @inheritdoc IBillToken
    function disburseFinancing(uint256 finNodeId, bytes32 paymentRef) external {
        address factor = _checkRole(Roles.ASSET_MANAGER);
        Node storage n = _nodes[finNodeId];
        _expectState(finNodeId, n.state, NodeState.Audited);
        if (factor != n.to) revert BillNotFactor(finNodeId, factor, n.to);
        uint256 billId = n.billId;
        Bill storage b = _bills[billId];
        _requireNotMatured(billId, b.maturity);
        Financing storage f = _financings[finNodeId];
        if (block.timestamp >= f.deadline) {
            revert BillDisbursementDeadlinePassed(finNodeId, f.deadline, block.timestamp);
        }
        if (paymentRef != bytes32(0)) {
            // off chain: only a declaration; the holder's confirmation delivers (confirmPayment)
            _declare(billId, b.currency, PaymentKind.Disbursement, finNodeId, factor, n.from, f.proceeds, paymentRef);
            return;
        }
        _disburse(finNodeId, n, billId, factor, paymentRef);
    }

    // ================================================================= exits

    /// @inheritdoc IBillToken
    function cancelRequest(uint256 nodeId, bytes32 reasonHash) external {
        address requester = _checkRole(Roles.SUPPLY_CHAIN_CLIENT);
        Node storage n = _nodes[nodeId];
        NodeState state = n.state;
        if (state == NodeState.None) revert BillUnknownNode(nodeId);
        if (requester != n.from) revert BillNotRequester(nodeId, requester, n.from);
        NodeKind kind = n.kind;
        if (state != NodeState.Requested && !(kind == NodeKind.Financing && state == NodeState.Quoted)) {
            revert BillNotCancellable(nodeId, kind, state);
        }
        if (reasonHash == bytes32(0)) revert BillZeroHash("reasonHash");
        uint256 amount = balanceOf(address(this), nodeId);
        n.evidence = _chain(n.evidence, EvidenceStep.Cancel, requester, reasonHash, true);
        _reject(nodeId, n);
        emit BillRequestCancelled(nodeId, n.billId, requester, kind, amount, reasonHash);
    }

    /// @inheritdoc IBillToken
    function expireRequest(uint256 nodeId, bytes32 reasonHash) external {
        address caller = _checkActive(msg.sender);
        Node storage n = _nodes[nodeId];
        NodeState state = n.state;
        if (state == NodeState.None) revert BillUnknownNode(nodeId);
        if (state == NodeState.Valid || state == NodeState.Rejected) revert BillNotExpirable(nodeId, state);
        if (caller != n.from && !registry.hasRole(msg.sender, Roles.AUDITOR)) {
            revert BillNotRequesterOrAuditor(nodeId, caller, n.from);
        }
        if (reasonHash == bytes32(0)) revert BillZeroHash("reasonHash");
        uint256 deadline = _deadline(nodeId, n);
        if (block.timestamp < deadline) revert BillDeadlineNotReached(nodeId, deadline, block.timestamp);
        uint256 amount = balanceOf(address(this), nodeId);
        n.evidence = _chain(n.evidence, EvidenceStep.Expire, caller, reasonHash, true);
        _reject(nodeId, n);
        emit BillRequestExpired(nodeId, n.billId, caller, n.kind, state, amount, reasonHash);
    }

    // ================================================================= off-chain payments

    /// @inheritdoc IBillToken
    function confirmPayment(uint256 declarationId) external {
        address payee = _checkActive(msg.sender);
        PaymentDeclaration memory d = _payments[declarationId];
        if (d.kind == PaymentKind.None) revert BillUnknownPayment(declarationId);
        if (payee != d.payee) revert BillNotPayee(declarationId, payee, d.payee);
        delete _payments[declarationId];
        uint256 nodeId = d.nodeId;
        Node storage n = _nodes[nodeId];
        if (d.kind == PaymentKind.Redemption) {
            _burnRedeemed(d.payer, nodeId, n, d.payee, d.amount, d.paymentRef);
        } else {
            _expectState(nodeId, n.state, NodeState.Audited);
            // the factor may have been suspended since it declared (RegistryNotActiveMember)
            _checkActive(n.to);
            emit BillPaymentConfirmed(declarationId, nodeId, payee, d.amount, d.paymentRef);
            _disburse(nodeId, n, n.billId, n.to, d.paymentRef);
            return;
        }
        emit BillPaymentConfirmed(declarationId, nodeId, payee, d.amount, d.paymentRef);
    }

    /// @inheritdoc IBillToken
    function withdrawPayment(uint256 declarationId) external {
        address payer = _checkActive(msg.sender);
        PaymentDeclaration storage d = _payments[declarationId];
        if (d.kind == PaymentKind.None) revert BillUnknownPayment(declarationId);
        if (payer != d.payer) revert BillNotPayer(declarationId, payer, d.payer);
        if (block.timestamp < d.deadline) revert BillPaymentNotExpired(declarationId, d.deadline, block.timestamp);
        uint256 nodeId = d.nodeId;
        uint256 amount = d.amount;
        delete _payments[declarationId];
        emit BillPaymentWithdrawn(declarationId, nodeId, payer, amount);
    }

    // ================================================================= redemption

    /// @inheritdoc IBillToken
    function redeem(
        bytes32 batchRef,
        uint256[] calldata nodeIds,
        address[] calldata holders,
        uint256[] calldata amounts,
        bytes32 paymentRef
    ) external {
        address debtor = _checkRole(Roles.SUPPLY_CHAIN_CLIENT);
        uint256 len = nodeIds.length;
        if (len > MAX_REDEMPTION_BATCH) revert BillBatchTooLarge(len, MAX_REDEMPTION_BATCH);
        if (holders.length != len || amounts.length != len) {
            revert BillBatchLengthMismatch(len, holders.length, amounts.length);
        }
        if (len == 0) revert BillZeroAmount();
        if (batchRef == bytes32(0)) revert BillZeroHash("batchRef");
        IdempotencyKeys.Use memory earlier = _redemptions[debtor].claim(batchRef, len);
        if (earlier.blockNumber != 0) {
            revert BillRedemptionRefUsed(debtor, batchRef, earlier.recordedAs, earlier.blockNumber);
        }
        for (uint256 i; i < len; ++i) {
            _redeemOne(debtor, nodeIds[i], holders[i], amounts[i], paymentRef);
        }
    }

    /// @inheritdoc IBillToken
    function markOverdue(uint256 billId) external {
        address caller = registry.requireActive(msg.sender);
        Bill storage b = _bills[billId];
        if (b.status != BillStatus.Active) revert BillNotActive(billId, b.status);
        if (block.timestamp <= b.maturity) revert BillNotMatured(billId, b.maturity, block.timestamp);
        b.status = BillStatus.Overdue;
        emit BillMarkedOverdue(billId, b.debtor, caller, b.faceValue - b.redeemed);
    }

    // ================================================================= ERC-1155 direct moves

    /// @notice Disabled: bills move only through request, review and audit.
    function safeTransferFrom(address, address, uint256, uint256, bytes memory) public override {
        revert BillDirectTransferDisabled(msg.sender);
    }

    /// @notice Disabled: bills move only through request, review and audit.
    function safeBatchTransferFrom(address, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        override
    {
        revert BillDirectTransferDisabled(msg.sender);
    }

    // ================================================================= views

    /// @inheritdoc IBillToken
    function bill(uint256 billId) external view returns (Bill memory) {
        return _bills[billId];
    }

    /// @inheritdoc IBillToken
    function node(uint256 nodeId) external view returns (Node memory) {
        return _nodes[nodeId];
    }

    /// @inheritdoc IBillToken
    function financing(uint256 finNodeId) external view returns (Financing memory) {
        return _financings[finNodeId];
    }

    /// @inheritdoc IBillToken
    function lineage(uint256 nodeId) external view returns (uint256[] memory ids, Node[] memory nodes) {
        Node storage n = _nodes[nodeId];
        if (n.state == NodeState.None) revert BillUnknownNode(nodeId);
        uint256 len = uint256(n.depth) + 1;
        ids = new uint256[](len);
        nodes = new Node[](len);
        uint256 id = nodeId;
        for (uint256 i; i < len; ++i) {
            ids[i] = id;
            nodes[i] = _nodes[id];
            id = nodes[i].parent;
        }
    }

    /// @inheritdoc IBillToken
    function billOfDocuments(address debtor, bytes32 docHash)
        external
        view
        returns (uint256 billId, uint256 blockNumber)
    {
        return IdempotencyKeys.answer(_issueDocs[debtor][docHash]);
    }

    /// @inheritdoc IBillToken
    function requestOf(address holder, bytes32 requestRef) external view returns (uint256 nodeId, uint256 blockNumber) {
        return IdempotencyKeys.answer(_requests[holder][requestRef]);
    }

    /// @inheritdoc IBillToken
    function redemptionOf(address debtor, bytes32 batchRef)
        external
        view
        returns (uint256 count, uint256 blockNumber)
    {
        return IdempotencyKeys.answer(_redemptions[debtor][batchRef]);
    }

    /// @inheritdoc IBillToken
    function payment(uint256 declarationId) external view returns (PaymentDeclaration memory) {
        return _payments[declarationId];
    }

    /// @inheritdoc IBillToken
    function deadlineOf(uint256 nodeId) external view returns (uint256) {
        Node storage n = _nodes[nodeId];
        if (n.state == NodeState.None) revert BillUnknownNode(nodeId);
        return _deadline(nodeId, n);
    }

    /// @inheritdoc IBillToken
    function outstanding(uint256 billId) external view returns (uint256) {
        Bill storage b = _bills[billId];
        return b.faceValue - b.redeemed;
    }

    /// @inheritdoc IBillToken
    function locked(uint256 nodeId) external view returns (uint256) {
        return balanceOf(address(this), nodeId);
    }

    /// @inheritdoc IBillToken
    function cash() external view returns (address) {
        return address(_cash);
    }

    /// @inheritdoc IBillToken
    function nextId() external view returns (uint256) {
        return _next;
    }

    // ================================================================= internals

    /// @dev Lock `amount` of the holder's `parentId` on a new child node held in escrow.
    function _split(uint256 parentId, address holder, address to, uint256 amount, bytes32 docHash, NodeKind kind)
        internal
        returns (uint256 newId, uint256 billId)
    {
        Node storage p = _nodes[parentId];
        _expectState(parentId, p.state, NodeState.Valid);
        billId = p.billId;
        Bill storage b = _bills[billId];
        if (b.status != BillStatus.Active) revert BillNotActive(billId, b.status);
        _requireNotMatured(billId, b.maturity);
        if (amount == 0) revert BillZeroAmount();
        if (docHash == bytes32(0)) revert BillZeroHash("docHash");
        uint256 available = balanceOf(holder, parentId);
        if (amount > available) revert BillAmountExceedsBalance(parentId, holder, amount, available);
        if (kind == NodeKind.Transfer) _checkReceiver(holder, to, b.requireChannel);
        uint256 depth = uint256(p.depth) + 1;
        if (depth > MAX_LINEAGE_DEPTH) revert BillLineageTooDeep(parentId, depth, MAX_LINEAGE_DEPTH);
        newId = _next++;
        _nodes[newId] = Node({
            to: to,
            parent: uint64(parentId),
            state: NodeState.Requested,
            kind: kind,
            depth: uint16(depth),
            from: holder,
            billId: uint64(billId),
            evidence: _chain(bytes32(0), EvidenceStep.Request, holder, docHash, true)
        });
        _move(holder, address(0), parentId, amount);
        _move(address(0), address(this), newId, amount);
    }

    /// @dev Pay one holding at maturity: burn it and pay on chain or record the reference.
    function _redeemOne(address debtor, uint256 nodeId, address holder, uint256 amount, bytes32 paymentRef) internal {
        Node storage n = _nodes[nodeId];
        _expectState(nodeId, n.state, NodeState.Valid);
        uint256 billId = n.billId;
        Bill storage b = _bills[billId];
        if (b.debtor != debtor) revert BillNotDebtor(billId, debtor, b.debtor);
        if (b.status != BillStatus.Active && b.status != BillStatus.Overdue) revert BillNotActive(billId, b.status);
        if (block.timestamp < b.maturity) revert BillNotMatured(billId, b.maturity, block.timestamp);
        if (amount == 0) revert BillZeroAmount();
        if (paymentRef != bytes32(0)) {
            // off chain: only a declaration; the holder's confirmation burns (confirmPayment)
            uint256 available = balanceOf(holder, nodeId);
            if (amount > available) revert BillAmountExceedsBalance(nodeId, holder, amount, available);
            _declare(billId, b.currency, PaymentKind.Redemption, nodeId, debtor, holder, amount, paymentRef);
            return;
        }
        _burnRedeemed(debtor, nodeId, n, holder, amount, paymentRef);
        _payCash(billId, b.currency, debtor, holder, amount);
    }

    /// @dev Burn `amount` of the holder's `nodeId` as redeemed by `debtor` (on chain: before the cash
    /// leg; off chain: on the holder's confirmation, the node and bill checked again).
    function _burnRedeemed(
        address debtor,
        uint256 nodeId,
        Node storage n,
        address holder,
        uint256 amount,
        bytes32 paymentRef
    ) internal {
        _expectState(nodeId, n.state, NodeState.Valid);
        uint256 billId = n.billId;
        Bill storage b = _bills[billId];
        if (b.status != BillStatus.Active && b.status != BillStatus.Overdue) revert BillNotActive(billId, b.status);
        uint256 available = balanceOf(holder, nodeId);
        if (amount > available) revert BillAmountExceedsBalance(nodeId, holder, amount, available);
        _move(holder, address(0), nodeId, amount);
        uint128 redeemed = b.redeemed + uint128(amount);
        b.redeemed = redeemed;
        bool settled = redeemed == b.faceValue;
        if (settled) b.status = BillStatus.Settled;
        emit BillRedeemed(nodeId, billId, holder, amount, paymentRef);
        if (settled) emit BillSettled(billId, debtor, redeemed);
    }

    /// @dev Whether a quote may be made now: a Requested financing, or in an open quote window (the
    /// request's `deadline` until the holder signs) a Quoted one at a better rate.
    /// @return outbid whether the quote replaces (releases) the best one so far
    function _checkQuoteWindow(uint256 finNodeId, NodeState state, Financing storage f, uint16 rateBps)
        internal
        view
        returns (bool outbid)
    {
        uint64 windowEnd = f.deadline;
        outbid = windowEnd != 0 && state == NodeState.Quoted;
        if (!outbid) _expectState(finNodeId, state, NodeState.Requested);
        if (windowEnd != 0 && block.timestamp >= windowEnd) {
            revert BillQuoteWindowClosed(finNodeId, windowEnd, block.timestamp);
        }
        if (outbid && rateBps >= f.rateBps) revert BillQuoteNotBetter(finNodeId, f.rateBps, rateBps);
    }

    /// @dev The escrowed amount of a financing and the proceeds a factor pays for it at `rateBps`.
    function _price(uint256 finNodeId, uint256 billId, address holder, address factor, uint16 rateBps)
        internal
        view
        returns (uint256 amount, uint256 proceeds)
    {
        Bill storage b = _bills[billId];
        _requireNotMatured(billId, b.maturity);
        if (b.requireChannel) _checkChannel(holder, factor);
        amount = balanceOf(address(this), finNodeId);
        // whole days to maturity, rounded down before the multiplication on purpose (DISCOUNT_DENOMINATOR;
        // mirrored by consortium.domain.bills.days_to_maturity and discount)
        // slither-disable-next-line divide-before-multiply
        uint256 discount = (amount * rateBps * ((b.maturity - block.timestamp) / 1 days)) / DISCOUNT_DENOMINATOR;
        if (discount > amount) revert BillDiscountExceedsAmount(amount, discount);
        proceeds = amount - discount;
    }

    /// @dev Deliver an audited financing to its factor (state, evidence, escrow, event).
    function _disburse(uint256 finNodeId, Node storage n, uint256 billId, address factor, bytes32 paymentRef)
        internal
    {
        Financing storage f = _financings[finNodeId];
        uint256 amount = f.amount;
        uint256 proceeds = f.proceeds;
        address holder = n.from;
        n.state = NodeState.Valid;
        n.evidence = _chain(n.evidence, EvidenceStep.Disburse, factor, paymentRef, true);
        // pay before delivering: the delivery calls the factor's ERC-1155 hook, so every effect and the
        // cash leg are done by then (checks-effects-interactions; tests/hostile/test_reentrancy_bills.py)
        if (paymentRef == bytes32(0)) _payCash(billId, _bills[billId].currency, factor, holder, proceeds);
        _deliver(finNodeId, factor, amount);
        emit BillFinancingDisbursed(finNodeId, billId, factor, holder, amount, proceeds, paymentRef);
    }

    /// @dev Record a payer's declaration of an off-chain payment, refused where the bill can be paid
    /// on chain (a cash token in its currency).
    function _declare(
        uint256 billId,
        bytes32 currency,
        PaymentKind kind,
        uint256 nodeId,
        address payer,
        address payee,
        uint256 amount,
        bytes32 paymentRef
    ) internal {
        if (address(_cash) != address(0) && _cash.currency() == currency) {
            revert BillOffChainPaymentRefused(billId, currency);
        }
        uint256 id = _nextPayment++;
        uint64 deadline = uint64(block.timestamp + PAYMENT_CONFIRMATION_WINDOW);
        _payments[id] = PaymentDeclaration({
            payer: payer,
            deadline: deadline,
            payee: payee,
            kind: kind,
            nodeId: uint64(nodeId),
            amount: uint128(amount),
            paymentRef: paymentRef
        });
        emit BillPaymentDeclared(id, nodeId, payer, payee, kind, amount, paymentRef, deadline);
    }

    /// @dev A holder's request reference: used once per holder (BillRequestRefUsed), booked as the id
    /// the request's node gets.
    function _claimRequest(address holder, bytes32 requestRef) internal {
        if (requestRef == bytes32(0)) revert BillZeroHash("requestRef");
        IdempotencyKeys.Use memory earlier = _requests[holder].claim(requestRef, _next);
        if (earlier.blockNumber != 0) {
            revert BillRequestRefUsed(holder, requestRef, earlier.recordedAs, earlier.blockNumber);
        }
    }

    /// @dev When a pending node may be expired: an agreed or audited financing at its deadline,
    /// anything else at the bill's maturity.
    function _deadline(uint256 nodeId, Node storage n) internal view returns (uint256) {
        if (n.kind == NodeKind.Financing && (n.state == NodeState.Agreed || n.state == NodeState.Audited)) {
            return _financings[nodeId].deadline;
        }
        return _bills[n.billId].maturity;
    }

    /// @dev Reject a node: escrow burned; the amount returns to the parent node's holder, or the bill
    /// is cancelled when the node is its issue.
    function _reject(uint256 nodeId, Node storage n) internal {
        n.state = NodeState.Rejected;
        uint256 amount = balanceOf(address(this), nodeId);
        _move(address(this), address(0), nodeId, amount);
        if (n.kind == NodeKind.Issue) {
            _bills[nodeId].status = BillStatus.Cancelled;
        } else {
            _move(address(0), n.from, n.parent, amount);
        }
    }

    function _checkReceiver(address holder, address to, bool requireChannel) internal view {
        if (to == holder) revert BillSelfTransfer(holder);
        // a member's own address: an operator address could never review (nor hold) the bill
        address member = registry.memberOf(to);
        if (member != to && member != address(0)) revert BillReceiverNotMemberAddress(to, member);
        if (!registry.hasRole(to, Roles.SUPPLY_CHAIN_CLIENT)) revert BillReceiverNotClient(to);
        if (requireChannel) _checkChannel(holder, to);
    }

    function _payCash(uint256 billId, bytes32 currency, address from, address to, uint256 amount) internal {
        if (address(_cash) == address(0)) revert BillNoCash();
        bytes32 cashCurrency = _cash.currency();
        if (cashCurrency != currency) revert BillCurrencyMismatch(billId, currency, cashCurrency);
        _cash.agentTransfer(from, to, amount);
    }

    function _requireNotMatured(uint256 billId, uint64 maturity) internal view {
        if (block.timestamp >= maturity) revert BillMatured(billId, maturity, block.timestamp);
    }

    function _expectState(uint256 nodeId, NodeState actual, NodeState expected) internal pure {
        if (actual != expected) {
            if (actual == NodeState.None) revert BillUnknownNode(nodeId);
            revert BillNodeState(nodeId, expected, actual);
        }
    }

    /// @dev Escrow deliveries run the ERC-1155 acceptance check on the receiver.
    function _deliver(uint256 id, address to, uint256 amount) internal {
        (uint256[] memory ids, uint256[] memory values) = _pair(id, amount);
        _updateWithAcceptanceCheck(address(this), to, ids, values, "");
    }

    /// @dev Mint, burn or escrow move without acceptance check (the receiver is this contract, or a
    /// holder getting its own amount back).
    function _move(address from, address to, uint256 id, uint256 amount) internal {
        (uint256[] memory ids, uint256[] memory values) = _pair(id, amount);
        _update(from, to, ids, values);
    }

    function _pair(uint256 id, uint256 amount) private pure returns (uint256[] memory ids, uint256[] memory values) {
        ids = new uint256[](1);
        values = new uint256[](1);
        ids[0] = id;
        values[0] = amount;
    }

    /// @dev evidence' = keccak256(abi.encode(evidence, step, actor, hash, ok)).
    function _chain(bytes32 prev, EvidenceStep step, address actor, bytes32 hash, bool ok)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(prev, step, actor, hash, ok));
    }
}
