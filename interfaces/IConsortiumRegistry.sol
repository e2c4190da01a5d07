// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IConsortiumRegistry
/// @notice Membership, roles per business service type, data channels and joint amendments of the
/// consortium. It is the single source of truth every business contract asks "may this caller do
/// this?", and from which the node and account allowlists of a permissioned chain are exported.
/// @dev A member is identified by its primary address; further operator addresses act for it. Only
/// hashes (name, application, audit evidence, agreements) are stored: no plaintext documents.
interface IConsortiumRegistry {
    /// @notice Lifecycle of a membership.
    enum MemberStatus {
        None,
        Applied,
        Active,
        Suspended,
        Rejected
    }

    /// @notice A member as the registry knows it.
    struct Member {
        MemberStatus status;
        bytes32 nameHash;
        bytes32 jurisdiction;
        address regulator;
        bytes32 applicationHash;
        bytes32 auditHash;
        address auditor;
    }

    /// @notice Agreed terms between two members (e.g. a product's qualification rules).
    struct Terms {
        address partyA;
        address partyB;
        bytes32 termsHash;
        uint64 version;
    }

    // ----------------------------------------------------------------- events
    event MembershipApplied(
        address indexed applicant, bytes32 nameHash, bytes32 indexed jurisdiction, address regulator, bytes32[] roles, bytes32 applicationHash
    );
    event MembershipAudited(address indexed applicant, address indexed auditor, bool approved, bytes32 auditHash);
    event RoleGranted(address indexed member, bytes32 indexed role, address indexed manager);
    event RoleRevoked(address indexed member, bytes32 indexed role, address indexed manager);
    event RoleTypeRegistered(bytes32 indexed role, address indexed manager);
    event MemberSuspended(address indexed member, address indexed manager, bytes32 reasonHash);
    event MemberReinstated(address indexed member, address indexed manager, bytes32 reasonHash);
    event OperatorAdded(address indexed member, address indexed operator);
    event OperatorRemoved(address indexed member, address indexed operator);
    event ChannelRequested(address indexed requester, address indexed counterparty, bytes32 agreementHash);
    event ChannelRequestWithdrawn(
        address indexed requester, address indexed counterparty, address indexed withdrawnBy, bytes32 agreementHash
    );
    /// @notice The counterparty of a pending channel request sent the same agreement hash: both parties signed
    /// the cooperation agreement the channel will be opened on.
    event ChannelCountersigned(address indexed requester, address indexed counterparty, bytes32 agreementHash);
    event ChannelOpened(address indexed memberA, address indexed memberB, address indexed manager, bytes32 agreementHash);
    event ChannelClosed(address indexed memberA, address indexed memberB, address indexed closedBy, bytes32 reasonHash);
    event AmendmentApproved(bytes32 indexed termsId, address indexed party, bytes32 amendmentHash, uint64 version);
    event AmendmentEnacted(bytes32 indexed termsId, address indexed manager, bytes32 termsHash, uint64 version);
    event NodeAdded(address indexed member, bytes32 indexed nodeId, string enode);
    event NodeRemoved(address indexed member, bytes32 indexed nodeId);
    event RoleAuditorSet(bytes32 indexed role, bytes32 indexed auditorRole, address indexed manager);
    event QualificationAudited(
        address indexed applicant, bytes32 indexed role, address indexed auditor, bool passed, bytes32 auditHash
    );

    // ----------------------------------------------------------------- errors
    error RegistryZeroAddress();
    error RegistryZeroHash();
    error RegistryUnknownRole(bytes32 role);
    error RegistryRoleAlreadyRegistered(bytes32 role);
    error RegistryAlreadyApplied(address applicant, MemberStatus status);
    error RegistryNotPendingApplication(address applicant, MemberStatus status);
    error RegistryNotActiveMember(address account, MemberStatus status);
    error RegistryNotSuspended(address member, MemberStatus status);
    error RegistryMissingRole(address account, bytes32 role);
    error RegistryRoleAlreadyGranted(address member, bytes32 role);
    error RegistryRegulatorInvalid(address regulator);
    error RegistryCannotSuspendSelf(address manager);
    error RegistryAccountInUse(address account, address member);
    error RegistryNotOperator(address member, address operator);
    error RegistryChannelSelf(address member);
    error RegistryChannelNotRequested(address memberA, address memberB);
    error RegistryChannelAlreadyOpen(address memberA, address memberB);
    /// @notice A request for the pair is pending with another agreement (made by `requester`): a request is
    /// fixed once made, until it is opened or withdrawn (withdrawChannelRequest).
    error RegistryChannelAlreadyRequested(
        address caller, address counterparty, address requester, bytes32 pendingAgreementHash
    );
    error RegistryChannelNotOpen(address memberA, address memberB);
    /// @notice The pending request of the pair (made by `requester`) has not been countersigned by
    /// `counterparty` (its requestChannel with the same agreement hash): a joining application is an
    /// agreement of both parties, and the permission manager opens the channel only then.
    error RegistryChannelNotCountersigned(address requester, address counterparty, bytes32 agreementHash);
    error RegistryNotChannelParty(address caller, address memberA, address memberB);
    error RegistryNotTermsParty(bytes32 termsId, address caller);
    error RegistryTermsPartiesMismatch(bytes32 termsId, address partyA, address partyB);
    error RegistryAmendmentAlreadyApproved(bytes32 termsId, address party, bytes32 amendmentHash);
    error RegistryAmendmentNotApproved(bytes32 termsId, address party, bytes32 amendmentHash);
    error RegistryEmptyRoles();
    error RegistryTooManyRoles(uint256 given, uint256 max);
    error RegistryNodeExists(bytes32 nodeId);
    error RegistryUnknownNode(bytes32 nodeId);
    error RegistryEnodeInvalid(uint256 length);
    /// @notice The role's membership audit is not routed to an auditing role: the permission manager
    /// audits it alone (auditMembership), there is no qualification audit to record.
    error RegistryRoleNotRouted(bytes32 role);
    /// @notice `account` does not act for an active member holding `auditorRole`, the role the
    /// qualification audit of `role` is routed to.
    error RegistryNotRoleAuditor(address account, bytes32 role, bytes32 auditorRole);
    /// @notice An institution never audits its own qualification.
    error RegistrySelfQualification(address applicant);
    /// @notice The applicant did not apply for `role` (a pending application) or is not an active
    /// member (a later grant): there is nothing to audit.
    error RegistryQualificationNotRequested(address applicant, bytes32 role);
    /// @notice The permission manager grants `role` only after an `auditorRole` holder passed the
    /// applicant's qualification audit for it (auditQualification).
    error RegistryQualificationNotPassed(address applicant, bytes32 role, bytes32 auditorRole);

    // ----------------------------------------------------------------- membership
    /// @notice Apply for membership with the roles the institution wants to hold.
    /// @param nameHash salted hash of the institution's legal name (never the name itself)
    /// @param jurisdiction jurisdiction code, e.g. bytes32("CN")
    /// @param regulator the regulator member supervising the applicant; zero only for a regulator applicant
    /// @param roles the requested business service types (each a known role)
    /// @param applicationHash hash of the application dossier kept off chain
    /// Requirements:
    /// - caller has never applied, or was rejected
    /// - every role is registered; 1..16 roles
    /// - `regulator` is an active member holding REGULATOR, unless the applicant asks for REGULATOR
    function applyForMembership(
        bytes32 nameHash,
        bytes32 jurisdiction,
        address regulator,
        bytes32[] calldata roles,
        bytes32 applicationHash
    ) external;

    /// @notice Record the qualification audit of a pending application; approval grants the requested roles.
    /// @param applicant the applicant's primary address
    /// @param approved the audit result
    /// @param auditHash hash of the audit content kept off chain
    /// Requirements: caller holds PERMISSION_MANAGER; application pending; on approval, every requested
    /// role routed to an auditing role (setRoleAuditor) has a passed qualification audit by a holder of
    /// that role (RegistryQualificationNotPassed).
    function auditMembership(address applicant, bool approved, bytes32 auditHash) external;

    /// @notice Route the qualification audit of `role` to the holders of `auditorRole` (zero: the
    /// permission manager audits it alone). The source's supply-chain clients are audited by the audit
    /// institution (AUDITOR); the permission manager still grants the role, only after that audit.
    /// Requirements: caller holds PERMISSION_MANAGER; `role` registered; `auditorRole` zero or registered
    /// and not `role` itself (RegistryUnknownRole).
    function setRoleAuditor(bytes32 role, bytes32 auditorRole) external;

    /// @notice An auditing institution's qualification audit of an applicant for one routed role
    /// (资质审核 by the audit terminal): a pass lets the permission manager grant the role; a fail (or a
    /// new application) withdraws an earlier pass.
    /// @param applicant a member with a pending application asking for `role`, or an active member (for
    /// a later grantRole)
    /// @param auditHash hash of the audit content kept off chain
    /// Requirements:
    /// - `role` routed (RegistryRoleNotRouted); caller acts for an active member holding the role it is
    ///   routed to (RegistryNotRoleAuditor), other than the applicant (RegistrySelfQualification)
    /// - the applicant asks for `role` in its pending application, or is active
    ///   (RegistryQualificationNotRequested); auditHash non-zero
    function auditQualification(address applicant, bytes32 role, bool passed, bytes32 auditHash) external;

    /// @notice Grant a business service type to an active member. Requirements: PERMISSION_MANAGER; a
    /// routed role needs the member's passed qualification audit (RegistryQualificationNotPassed).
    function grantRole(address member, bytes32 role) external;

    /// @notice Revoke a business service type (and its qualification: a new grant needs a new audit).
    /// Requirements: PERMISSION_MANAGER; member holds it.
    function revokeRole(address member, bytes32 role) external;

    /// @notice Register a new business service type. Requirements: PERMISSION_MANAGER; role not yet known.
    function registerRoleType(bytes32 role) external;

    /// @notice Suspend a member: it and its operators can call nothing until reinstated.
    /// Requirements: PERMISSION_MANAGER; member active; not the caller itself.
    function suspendMember(address member, bytes32 reasonHash) external;

    /// @notice Reinstate a suspended member. Requirements: PERMISSION_MANAGER; member suspended.
    function reinstateMember(address member, bytes32 reasonHash) external;

    /// @notice Add an operator address that acts for the calling member.
    /// Requirements: caller active member; operator is nobody's member or operator.
    function addOperator(address operator) external;

    /// @notice Remove one of the calling member's operators. Requirements: caller active member.
    function removeOperator(address operator) external;

    // ----------------------------------------------------------------- channels
    /// @notice Ask the permission manager to open a data channel with `counterparty`.
    /// @dev The request is fixed once made: nobody (either party included) can swap the agreement the
    /// manager will open the channel on. The counterparty sending the same agreement countersigns it
    /// (ChannelCountersigned): its hash of the cooperation agreement both parties signed; only a
    /// countersigned request can be opened.
    /// @param agreementHash hash of the signed cooperation agreement
    /// Requirements:
    /// - caller and counterparty active members, distinct; channel not open
    /// - no request of the pair is pending with another agreement (RegistryChannelAlreadyRequested): the
    ///   first request stands until it is opened or withdrawn
    function requestChannel(address counterparty, bytes32 agreementHash) external;

    /// @notice Withdraw the pending channel request between the caller and `counterparty`: its requester
    /// withdraws it, or the counterparty declines it (so a junk request cannot block the pair for good).
    /// Requirements: caller active member; a request of the pair is pending (RegistryChannelNotRequested).
    function withdrawChannelRequest(address counterparty) external;

    /// @notice Open a requested channel on the agreement requested. Requirements: PERMISSION_MANAGER;
    /// requested by either party (RegistryChannelNotRequested) and countersigned by the other with the
    /// same agreement hash (RegistryChannelNotCountersigned); both active.
    function openChannel(address memberA, address memberB) external;

    /// @notice Close an open channel. Requirements: PERMISSION_MANAGER or one of the two parties.
    function closeChannel(address memberA, address memberB, bytes32 reasonHash) external;

    // ----------------------------------------------------------------- joint amendments
    /// @notice Approve `amendmentHash` as the next version of the terms `termsId` between the two parties.
    /// @dev The approval is keyed by (termsId, version, partyA, partyB, party, amendmentHash): it counts only
    /// for this pair, so an approval given for one pair cannot enact the terms between other parties.
    /// Requirements: caller (or its operator) is partyA or partyB, both active; the parties match
    /// the terms' parties once the terms exist.
    function approveAmendment(bytes32 termsId, address partyA, address partyB, bytes32 amendmentHash) external;

    /// @notice Enact an amendment both parties approved; bumps the version.
    /// Requirements: PERMISSION_MANAGER; both parties approved this hash for the current version and for
    /// this pair (partyA, partyB) in this order (RegistryAmendmentNotApproved).
    function enactAmendment(bytes32 termsId, address partyA, address partyB, bytes32 amendmentHash) external;

    // ----------------------------------------------------------------- nodes
    /// @notice Allow a validator or member node (enode URL) to connect. Requirements: PERMISSION_MANAGER;
    /// member active; 20..512 bytes of enode.
    function addNode(address member, string calldata enode) external;

    /// @notice Remove a node from the allowlist. Requirements: PERMISSION_MANAGER; node known.
    function removeNode(bytes32 nodeId) external;

    // ----------------------------------------------------------------- views
    /// @notice The member an account acts for (itself or the member it operates for); zero if none.
    function memberOf(address account) external view returns (address);

    /// @notice The member `account` acts for, if active and holding `role`; reverts otherwise.
    /// @dev Business contracts call this in `onlyRole`; it reverts with RegistryNotActiveMember or
    /// RegistryMissingRole, which bubble up to the caller.
    function requireRole(address account, bytes32 role) external view returns (address member);

    /// @notice `requireRole` and an open channel to `counterparty` in one call (one registry call per
    /// business transaction: the anchoring and commitment paths are priced per record).
    /// @param counterparty the other party's member address (an operator address never has a channel)
    /// @return member the member `account` acts for
    /// Requirements: as `requireRole`; the channel between `member` and `counterparty` is open
    /// (RegistryChannelNotOpen otherwise).
    function requireRoleWithChannel(address account, bytes32 role, address counterparty)
        external
        view
        returns (address member);

    /// @notice The active member `account` acts for; reverts with RegistryNotActiveMember otherwise.
    function requireActive(address account) external view returns (address member);

    /// @notice Whether the member `account` acts for is active and holds `role`.
    function hasRole(address account, bytes32 role) external view returns (bool);

    /// @notice Whether `role` is a registered business service type.
    function isRoleType(bytes32 role) external view returns (bool);

    /// @notice The role whose holders audit the qualification for `role` (zero: not routed).
    function roleAuditor(bytes32 role) external view returns (bytes32);

    /// @notice Whether the applicant's qualification audit for `role` passed (and stands).
    function qualificationPassed(address applicant, bytes32 role) external view returns (bool);

    /// @notice The member's record.
    function getMember(address member) external view returns (Member memory);

    /// @notice Whether the member's status is Active.
    function isActive(address member) external view returns (bool);

    /// @notice The regulator supervising `member`.
    function regulatorOf(address member) external view returns (address);

    /// @notice The pending channel request between members `a` and `b` (either order): who requested it and
    /// the agreement hash (zero when none is pending).
    function channelRequest(address a, address b) external view returns (address requester, bytes32 agreementHash);

    /// @notice Whether the pending channel request between members `a` and `b` (either order) has been
    /// countersigned by its counterparty (false when none is pending).
    function channelCountersigned(address a, address b) external view returns (bool);

    /// @notice Whether a channel between the members of `a` and `b` is open (either order).
    function channelOpen(address a, address b) external view returns (bool);

    /// @notice The current terms agreed between two parties.
    function getTerms(bytes32 termsId) external view returns (Terms memory);

    /// @notice Every address that ever applied, in application order (bounded by consortium size).
    function members() external view returns (address[] memory);

    /// @notice Operators of a member.
    function operatorsOf(address member) external view returns (address[] memory);

    /// @notice Roles held by a member.
    function rolesOf(address member) external view returns (bytes32[] memory);

    /// @notice Node ids ever allowed (removed ones excluded) and their owners and enode URLs.
    function nodes() external view returns (bytes32[] memory ids, address[] memory owners, string[] memory enodes);
}
