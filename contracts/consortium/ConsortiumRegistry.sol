// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {Roles} from "./Roles.sol";

/// @title ConsortiumRegistry
/// @notice Membership, roles, channels, joint amendments and node allowlist of the consortium.
/// @dev The deployer becomes the founding member, active, holding PERMISSION_MANAGER; everyone else
/// (regulators included) joins by application and qualification audit. Lists that views return grow
/// with the consortium (tens of institutions), never with business volume.
contract ConsortiumRegistry is IConsortiumRegistry {
    using EnumerableSet for EnumerableSet.Bytes32Set;
    using EnumerableSet for EnumerableSet.AddressSet;

    uint256 public constant MAX_ROLES_PER_APPLICATION = 16;

    mapping(address member => Member) private _members;
    mapping(address member => EnumerableSet.Bytes32Set) private _roles;
    mapping(address member => bytes32[]) private _requestedRoles;
    mapping(address member => EnumerableSet.AddressSet) private _operators;
    mapping(address operator => address member) private _operatorOf;
    address[] private _memberList;

    mapping(bytes32 role => bool) private _roleTypes;
    /// @dev Qualification audit routing (issue 18): a routed role is granted only after a holder of its
    /// auditor role passed the applicant's qualification audit for it.
    mapping(bytes32 role => bytes32 auditorRole) private _roleAuditor;
    mapping(address applicant => mapping(bytes32 role => bool)) private _qualified;
    /// @dev Derived, for the hot path of every business call: true iff the member holds the role AND is
    /// active. One cold slot answers requireRole for a member calling itself (instead of its status and
    /// the role set's position). Kept in step by auditMembership, grantRole, revokeRole, suspendMember
    /// and reinstateMember; tests/stateful/test_registry_membership.py checks it against the set.
    mapping(address member => mapping(bytes32 role => bool)) private _activeGrant;

    mapping(bytes32 channelKey => bool) private _channelOpen;
    mapping(bytes32 channelKey => bytes32 agreementHash) private _channelRequest;
    /// @dev Who made the pending request of a pair (the request is fixed once made: see requestChannel).
    mapping(bytes32 channelKey => address requester) private _channelRequester;
    /// @dev The counterparty sent the pending request's agreement hash too (requestChannel): both signed.
    mapping(bytes32 channelKey => bool) private _channelCountersigned;

    mapping(bytes32 termsId => Terms) private _terms;
    /// approvals keyed by (termsId, version, partyA, partyB, party, amendmentHash): an approval counts only
    /// for the pair it was given for (at version 0 the terms have no parties yet)
    mapping(bytes32 approvalKey => bool) private _approved;

    EnumerableSet.Bytes32Set private _nodeIds;
    mapping(bytes32 nodeId => address owner) private _nodeOwner;
    mapping(bytes32 nodeId => string enode) private _enode;

    modifier onlyManager() {
        _requireRole(msg.sender, Roles.PERMISSION_MANAGER);
        _;
    }

    /// @param nameHash salted hash of the founding permission manager's name
    /// @param jurisdiction the founder's jurisdiction code
    constructor(bytes32 nameHash, bytes32 jurisdiction) {
        bytes32[24] memory known = [
            Roles.PERMISSION_MANAGER,
            Roles.REGULATOR,
            Roles.AUDITOR,
            Roles.ANNUITY_PLATFORM,
            Roles.TRUSTEE,
            Roles.ACCOUNT_MANAGER,
            Roles.INVESTMENT_MANAGER,
            Roles.SUPPLY_CHAIN_CLIENT,
            Roles.ASSET_MANAGER,
            Roles.SALES_BANK,
            Roles.PRODUCT_ISSUER,
            Roles.BANK,
            Roles.FINANCE_COMPANY,
            Roles.RECONCILER,
            Roles.BROKER,
            Roles.CUSTODIAN,
            Roles.EXCHANGE,
            Roles.CCP,
            Roles.CSD,
            Roles.CASH_ISSUER,
            Roles.REPORTER,
            Roles.BILL_ISSUER,
            Roles.BILL_TRANSFEROR,
            Roles.BILL_FINANCING_APPLICANT
        ];
        for (uint256 i; i < known.length; ++i) {
            _roleTypes[known[i]] = true;
        }
        _members[msg.sender] = Member({
            status: MemberStatus.Active,
            nameHash: nameHash,
            jurisdiction: jurisdiction,
            regulator: address(0),
            applicationHash: bytes32(0),
            auditHash: bytes32(0),
            auditor: msg.sender
        });
        _memberList.push(msg.sender);
        // slither-disable-next-line unused-return (a fresh set: add cannot find the role present)
        _roles[msg.sender].add(Roles.PERMISSION_MANAGER);
        _activeGrant[msg.sender][Roles.PERMISSION_MANAGER] = true;
        emit MembershipAudited(msg.sender, msg.sender, true, bytes32(0));
        emit RoleGranted(msg.sender, Roles.PERMISSION_MANAGER, msg.sender);
    }

    // ================================================================= membership

    /// @inheritdoc IConsortiumRegistry
    function applyForMembership(
        bytes32 nameHash,
        bytes32 jurisdiction,
        address regulator,
        bytes32[] calldata roles,
        bytes32 applicationHash
    ) external {
        Member storage m = _members[msg.sender];
        if (m.status != MemberStatus.None && m.status != MemberStatus.Rejected) {
            revert RegistryAlreadyApplied(msg.sender, m.status);
        }
        address owner = _operatorOf[msg.sender];
        if (owner != address(0)) revert RegistryAccountInUse(msg.sender, owner);
        if (nameHash == bytes32(0) || applicationHash == bytes32(0)) revert RegistryZeroHash();
        if (roles.length == 0) revert RegistryEmptyRoles();
        if (roles.length > MAX_ROLES_PER_APPLICATION) revert RegistryTooManyRoles(roles.length, MAX_ROLES_PER_APPLICATION);
        bool asksRegulator = false;
        for (uint256 i; i < roles.length; ++i) {
            if (!_roleTypes[roles[i]]) revert RegistryUnknownRole(roles[i]);
            if (roles[i] == Roles.REGULATOR) asksRegulator = true;
        }
        if (regulator == address(0)) {
            if (!asksRegulator) revert RegistryRegulatorInvalid(regulator);
        } else if (!_isActive(regulator) || !_roles[regulator].contains(Roles.REGULATOR)) {
            revert RegistryRegulatorInvalid(regulator);
        }
        if (m.status == MemberStatus.None) _memberList.push(msg.sender);
        m.status = MemberStatus.Applied;
        m.nameHash = nameHash;
        m.jurisdiction = jurisdiction;
        m.regulator = regulator;
        m.applicationHash = applicationHash;
        m.auditHash = bytes32(0);
        m.auditor = address(0);
        for (uint256 i; i < roles.length; ++i) {
            // a new application is audited anew: a pass of an earlier one does not carry over
            delete _qualified[msg.sender][roles[i]];
        }
        _requestedRoles[msg.sender] = roles;
        emit MembershipApplied(msg.sender, nameHash, jurisdiction, regulator, roles, applicationHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function auditMembership(address applicant, bool approved, bytes32 auditHash) external onlyManager {
        Member storage m = _members[applicant];
        if (m.status != MemberStatus.Applied) revert RegistryNotPendingApplication(applicant, m.status);
        if (auditHash == bytes32(0)) revert RegistryZeroHash();
        if (approved) {
            bytes32[] storage asked = _requestedRoles[applicant];
            for (uint256 i; i < asked.length; ++i) {
                _requireQualified(applicant, asked[i]);
            }
        }
        m.status = approved ? MemberStatus.Active : MemberStatus.Rejected;
        m.auditHash = auditHash;
        m.auditor = msg.sender;
        emit MembershipAudited(applicant, msg.sender, approved, auditHash);
        if (approved) {
            bytes32[] storage requested = _requestedRoles[applicant];
            for (uint256 i; i < requested.length; ++i) {
                if (_roles[applicant].add(requested[i])) {
                    _activeGrant[applicant][requested[i]] = true;
                    emit RoleGranted(applicant, requested[i], msg.sender);
                }
            }
        }
        delete _requestedRoles[applicant];
    }

    /// @inheritdoc IConsortiumRegistry
    function grantRole(address member, bytes32 role) external onlyManager {
        if (!_roleTypes[role]) revert RegistryUnknownRole(role);
        _requireMemberActive(member);
        _requireQualified(member, role);
        if (!_roles[member].add(role)) revert RegistryRoleAlreadyGranted(member, role);
        _activeGrant[member][role] = true;
        emit RoleGranted(member, role, msg.sender);
    }

    /// @inheritdoc IConsortiumRegistry
    function revokeRole(address member, bytes32 role) external onlyManager {
        if (!_roleTypes[role]) revert RegistryUnknownRole(role);
        if (!_roles[member].remove(role)) revert RegistryMissingRole(member, role);
        _activeGrant[member][role] = false;
        delete _qualified[member][role];
        emit RoleRevoked(member, role, msg.sender);
    }

    /// @inheritdoc IConsortiumRegistry
    function setRoleAuditor(bytes32 role, bytes32 auditorRole) external onlyManager {
        if (!_roleTypes[role]) revert RegistryUnknownRole(role);
        if (auditorRole != bytes32(0) && (!_roleTypes[auditorRole] || auditorRole == role)) {
            revert RegistryUnknownRole(auditorRole);
        }
        _roleAuditor[role] = auditorRole;
        emit RoleAuditorSet(role, auditorRole, msg.sender);
    }

    /// @inheritdoc IConsortiumRegistry
    function auditQualification(address applicant, bytes32 role, bool passed, bytes32 auditHash) external {
        address auditor = _requireActive(msg.sender);
        bytes32 auditorRole = _roleAuditor[role];
        if (auditorRole == bytes32(0)) revert RegistryRoleNotRouted(role);
        if (!_activeGrant[auditor][auditorRole]) revert RegistryNotRoleAuditor(msg.sender, role, auditorRole);
        if (auditor == applicant) revert RegistrySelfQualification(applicant);
        if (auditHash == bytes32(0)) revert RegistryZeroHash();
        MemberStatus status = _members[applicant].status;
        if (status != MemberStatus.Active && !(status == MemberStatus.Applied && _asks(applicant, role))) {
            revert RegistryQualificationNotRequested(applicant, role);
        }
        _qualified[applicant][role] = passed;
        emit QualificationAudited(applicant, role, auditor, passed, auditHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function registerRoleType(bytes32 role) external onlyManager {
        if (role == bytes32(0)) revert RegistryZeroHash();
        if (_roleTypes[role]) revert RegistryRoleAlreadyRegistered(role);
        _roleTypes[role] = true;
        emit RoleTypeRegistered(role, msg.sender);
    }

    /// @inheritdoc IConsortiumRegistry
    function suspendMember(address member, bytes32 reasonHash) external onlyManager {
        if (member == _memberOf(msg.sender)) revert RegistryCannotSuspendSelf(msg.sender);
        _requireMemberActive(member);
        if (reasonHash == bytes32(0)) revert RegistryZeroHash();
        _members[member].status = MemberStatus.Suspended;
        _setActiveGrants(member, false);
        emit MemberSuspended(member, msg.sender, reasonHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function reinstateMember(address member, bytes32 reasonHash) external onlyManager {
        Member storage m = _members[member];
        if (m.status != MemberStatus.Suspended) revert RegistryNotSuspended(member, m.status);
        if (reasonHash == bytes32(0)) revert RegistryZeroHash();
        m.status = MemberStatus.Active;
        _setActiveGrants(member, true);
        emit MemberReinstated(member, msg.sender, reasonHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function addOperator(address operator) external {
        _requireMemberActive(msg.sender);
        if (operator == address(0)) revert RegistryZeroAddress();
        address owner = _operatorOf[operator];
        if (owner != address(0)) revert RegistryAccountInUse(operator, owner);
        if (_members[operator].status != MemberStatus.None) revert RegistryAccountInUse(operator, operator);
        if (!_operators[msg.sender].add(operator)) revert RegistryAccountInUse(operator, msg.sender);
        _operatorOf[operator] = msg.sender;
        emit OperatorAdded(msg.sender, operator);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeOperator(address operator) external {
        _requireMemberActive(msg.sender);
        if (!_operators[msg.sender].remove(operator)) revert RegistryNotOperator(msg.sender, operator);
        delete _operatorOf[operator];
        emit OperatorRemoved(msg.sender, operator);
    }

    // ================================================================= channels

    /// @inheritdoc IConsortiumRegistry
    function requestChannel(address counterparty, bytes32 agreementHash) external {
        address requester = _requireActive(msg.sender);
        _requireMemberActive(counterparty);
        if (counterparty == requester) revert RegistryChannelSelf(requester);
        if (agreementHash == bytes32(0)) revert RegistryZeroHash();
        bytes32 key = _channelKey(requester, counterparty);
        if (_channelOpen[key]) revert RegistryChannelAlreadyOpen(requester, counterparty);
        bytes32 pending = _channelRequest[key];
        if (pending != bytes32(0)) {
            // fixed once made: the same agreement again (either party: the counterparty's consent) is
            // accepted and changes nothing; another agreement waits until the first is opened or withdrawn
            if (pending != agreementHash) {
                revert RegistryChannelAlreadyRequested(requester, counterparty, _channelRequester[key], pending);
            }
            if (requester != _channelRequester[key] && !_channelCountersigned[key]) {
                _channelCountersigned[key] = true;
                emit ChannelCountersigned(counterparty, requester, agreementHash);
            }
        } else {
            _channelRequest[key] = agreementHash;
            _channelRequester[key] = requester;
        }
        emit ChannelRequested(requester, counterparty, agreementHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function withdrawChannelRequest(address counterparty) external {
        address caller = _requireActive(msg.sender);
        bytes32 key = _channelKey(caller, counterparty);
        bytes32 agreementHash = _channelRequest[key];
        if (agreementHash == bytes32(0)) revert RegistryChannelNotRequested(caller, counterparty);
        address requester = _channelRequester[key];
        delete _channelRequest[key];
        delete _channelRequester[key];
        delete _channelCountersigned[key];
        emit ChannelRequestWithdrawn(requester, caller == requester ? counterparty : caller, caller, agreementHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function openChannel(address memberA, address memberB) external onlyManager {
        bytes32 key = _channelKey(memberA, memberB);
        bytes32 agreementHash = _channelRequest[key];
        if (agreementHash == bytes32(0)) revert RegistryChannelNotRequested(memberA, memberB);
        if (!_channelCountersigned[key]) {
            address requester = _channelRequester[key];
            revert RegistryChannelNotCountersigned(requester, requester == memberA ? memberB : memberA, agreementHash);
        }
        _requireMemberActive(memberA);
        _requireMemberActive(memberB);
        _channelOpen[key] = true;
        delete _channelRequest[key];
        delete _channelRequester[key];
        delete _channelCountersigned[key];
        emit ChannelOpened(memberA, memberB, msg.sender, agreementHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function closeChannel(address memberA, address memberB, bytes32 reasonHash) external {
        address caller = _requireActive(msg.sender);
        if (caller != memberA && caller != memberB && !_roles[caller].contains(Roles.PERMISSION_MANAGER)) {
            revert RegistryNotChannelParty(msg.sender, memberA, memberB);
        }
        bytes32 key = _channelKey(memberA, memberB);
        if (!_channelOpen[key]) revert RegistryChannelNotOpen(memberA, memberB);
        if (reasonHash == bytes32(0)) revert RegistryZeroHash();
        _channelOpen[key] = false;
        emit ChannelClosed(memberA, memberB, msg.sender, reasonHash);
    }

    // ================================================================= joint amendments

    /// @inheritdoc IConsortiumRegistry
    function approveAmendment(bytes32 termsId, address partyA, address partyB, bytes32 amendmentHash) external {
        address party = _requireActive(msg.sender);
        if (amendmentHash == bytes32(0) || termsId == bytes32(0)) revert RegistryZeroHash();
        if (party != partyA && party != partyB) revert RegistryNotTermsParty(termsId, msg.sender);
        Terms storage t = _checkTermsParties(termsId, partyA, partyB);
        _requireMemberActive(party == partyA ? partyB : partyA);
        bytes32 key = _approvalKey(termsId, t.version, partyA, partyB, party, amendmentHash);
        if (_approved[key]) revert RegistryAmendmentAlreadyApproved(termsId, party, amendmentHash);
        _approved[key] = true;
        emit AmendmentApproved(termsId, party, amendmentHash, t.version + 1);
    }

    /// @inheritdoc IConsortiumRegistry
    function enactAmendment(bytes32 termsId, address partyA, address partyB, bytes32 amendmentHash)
        external
        onlyManager
    {
        Terms storage t = _checkTermsParties(termsId, partyA, partyB);
        if (!_approved[_approvalKey(termsId, t.version, partyA, partyB, partyA, amendmentHash)]) {
            revert RegistryAmendmentNotApproved(termsId, partyA, amendmentHash);
        }
        if (!_approved[_approvalKey(termsId, t.version, partyA, partyB, partyB, amendmentHash)]) {
            revert RegistryAmendmentNotApproved(termsId, partyB, amendmentHash);
        }
        if (t.version == 0) {
            t.partyA = partyA;
            t.partyB = partyB;
        }
        t.termsHash = amendmentHash;
        t.version += 1;
        emit AmendmentEnacted(termsId, msg.sender, amendmentHash, t.version);
    }

    // ================================================================= nodes

    /// @inheritdoc IConsortiumRegistry
    function addNode(address member, string calldata enode) external onlyManager {
        _requireMemberActive(member);
        uint256 len = bytes(enode).length;
        if (len < 20 || len > 512) revert RegistryEnodeInvalid(len);
        bytes32 nodeId = keccak256(bytes(enode));
        if (!_nodeIds.add(nodeId)) revert RegistryNodeExists(nodeId);
        _nodeOwner[nodeId] = member;
        _enode[nodeId] = enode;
        emit NodeAdded(member, nodeId, enode);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeNode(bytes32 nodeId) external onlyManager {
        if (!_nodeIds.remove(nodeId)) revert RegistryUnknownNode(nodeId);
        address owner = _nodeOwner[nodeId];
        delete _nodeOwner[nodeId];
        delete _enode[nodeId];
        emit NodeRemoved(owner, nodeId);
    }

    // ================================================================= views

    /// @inheritdoc IConsortiumRegistry
    function memberOf(address account) external view returns (address) {
        return _memberOf(account);
    }

    /// @inheritdoc IConsortiumRegistry
    function requireRole(address account, bytes32 role) external view returns (address member) {
        return _requireRole(account, role);
    }

    /// @inheritdoc IConsortiumRegistry
    function requireRoleWithChannel(address account, bytes32 role, address counterparty)
        external
        view
        returns (address member)
    {
        member = _requireRole(account, role);
        if (!_channelOpen[_channelKey(member, counterparty)]) revert RegistryChannelNotOpen(member, counterparty);
    }

    /// @inheritdoc IConsortiumRegistry
    function requireActive(address account) external view returns (address member) {
        return _requireActive(account);
    }

    /// @inheritdoc IConsortiumRegistry
    function hasRole(address account, bytes32 role) external view returns (bool) {
        if (_activeGrant[account][role]) return true;
        return _activeGrant[_operatorOf[account]][role];
    }

    /// @inheritdoc IConsortiumRegistry
    function isRoleType(bytes32 role) external view returns (bool) {
        return _roleTypes[role];
    }

    /// @inheritdoc IConsortiumRegistry
    function roleAuditor(bytes32 role) external view returns (bytes32) {
        return _roleAuditor[role];
    }

    /// @inheritdoc IConsortiumRegistry
    function qualificationPassed(address applicant, bytes32 role) external view returns (bool) {
        return _qualified[applicant][role];
    }

    /// @inheritdoc IConsortiumRegistry
    function getMember(address member) external view returns (Member memory) {
        return _members[member];
    }

    /// @inheritdoc IConsortiumRegistry
    function isActive(address member) external view returns (bool) {
        return _isActive(member);
    }

    /// @inheritdoc IConsortiumRegistry
    function regulatorOf(address member) external view returns (address) {
        return _members[_memberOf(member)].regulator;
    }

    /// @inheritdoc IConsortiumRegistry
    function channelRequest(address a, address b) external view returns (address requester, bytes32 agreementHash) {
        bytes32 key = _channelKey(a, b);
        return (_channelRequester[key], _channelRequest[key]);
    }

    /// @inheritdoc IConsortiumRegistry
    function channelCountersigned(address a, address b) external view returns (bool) {
        return _channelCountersigned[_channelKey(a, b)];
    }

    /// @inheritdoc IConsortiumRegistry
    function channelOpen(address a, address b) external view returns (bool) {
        return _channelOpen[_channelKey(_memberOf(a), _memberOf(b))];
    }

    /// @inheritdoc IConsortiumRegistry
    function getTerms(bytes32 termsId) external view returns (Terms memory) {
        return _terms[termsId];
    }

    /// @inheritdoc IConsortiumRegistry
    function members() external view returns (address[] memory) {
        return _memberList;
    }

    /// @inheritdoc IConsortiumRegistry
    function operatorsOf(address member) external view returns (address[] memory) {
        return _operators[member].values();
    }

    /// @inheritdoc IConsortiumRegistry
    function rolesOf(address member) external view returns (bytes32[] memory) {
        return _roles[member].values();
    }

    /// @inheritdoc IConsortiumRegistry
    function nodes() external view returns (bytes32[] memory ids, address[] memory owners, string[] memory enodes) {
        ids = _nodeIds.values();
        owners = new address[](ids.length);
        enodes = new string[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            owners[i] = _nodeOwner[ids[i]];
            enodes[i] = _enode[ids[i]];
        }
    }

    // ================================================================= internals

    /// @dev Members first: an account is never both a member and an operator (applyForMembership and
    /// addOperator refuse it), and a business call almost always comes from the member itself, so this
    /// order reads one cold slot (the member's status, which _requireActive needs anyway) instead of two.
    function _memberOf(address account) internal view returns (address) {
        if (_members[account].status != MemberStatus.None) return account;
        return _operatorOf[account];
    }

    function _isActive(address member) internal view returns (bool) {
        return _members[member].status == MemberStatus.Active;
    }

    function _requireActive(address account) internal view returns (address member) {
        member = _memberOf(account);
        MemberStatus status = _members[member].status;
        if (member == address(0) || status != MemberStatus.Active) revert RegistryNotActiveMember(account, status);
    }

    function _requireMemberActive(address member) internal view {
        if (member == address(0)) revert RegistryZeroAddress();
        MemberStatus status = _members[member].status;
        if (status != MemberStatus.Active) revert RegistryNotActiveMember(member, status);
    }

    /// @dev Fast path first (a member calling for itself: one slot), then an operator's member; only a
    /// refusal reads the status, to say why.
    function _requireRole(address account, bytes32 role) internal view returns (address member) {
        if (_activeGrant[account][role]) return account;
        member = _operatorOf[account];
        if (member != address(0) && _activeGrant[member][role]) return member;
        _requireActive(account);
        revert RegistryMissingRole(account, role);
    }

    /// @dev A routed role needs the member's passed qualification audit before it is granted.
    function _requireQualified(address member, bytes32 role) internal view {
        bytes32 auditorRole = _roleAuditor[role];
        if (auditorRole != bytes32(0) && !_qualified[member][role]) {
            revert RegistryQualificationNotPassed(member, role, auditorRole);
        }
    }

    /// @dev Whether the pending application asks for `role` (at most MAX_ROLES_PER_APPLICATION).
    function _asks(address applicant, bytes32 role) internal view returns (bool) {
        bytes32[] storage asked = _requestedRoles[applicant];
        for (uint256 i; i < asked.length; ++i) {
            if (asked[i] == role) return true;
        }
        return false;
    }

    /// @dev The member's roles are bounded by the registered role types (tens), so the loop is bounded.
    function _setActiveGrants(address member, bool active) internal {
        bytes32[] memory held = _roles[member].values();
        for (uint256 i; i < held.length; ++i) {
            _activeGrant[member][held[i]] = active;
        }
    }

    function _channelKey(address a, address b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _approvalKey(
        bytes32 termsId,
        uint64 version,
        address partyA,
        address partyB,
        address party,
        bytes32 amendmentHash
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(termsId, version, partyA, partyB, party, amendmentHash));
    }

    function _checkTermsParties(bytes32 termsId, address partyA, address partyB)
        internal
        view
        returns (Terms storage t)
    {
        t = _terms[termsId];
        if (partyA == address(0) || partyB == address(0)) revert RegistryZeroAddress();
        if (partyA == partyB) revert RegistryChannelSelf(partyA);
        if (t.version != 0 && (t.partyA != partyA || t.partyB != partyB)) {
            revert RegistryTermsPartiesMismatch(termsId, partyA, partyB);
        }
    }
}
