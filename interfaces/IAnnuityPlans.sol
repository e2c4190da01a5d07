// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IAnnuityPlans
/// @notice Enterprise-annuity investment plans: each plan (a short code such as bytes32("BALANCED"))
/// is a list of 1..16 investment items with allocation ratios in basis points summing to 10,000.
/// Plans are versioned: defining a plan code again appends version n+1; a version never changes.
/// @dev The trustee defines plans; the annuity ledger reads them when it computes allocation
/// instructions. Items are short codes of the investment products (bytes32("CN_EQUITY")).
/// A plan code belongs to the trustee member that defined its version 1: only that trustee defines
/// later versions and appoints the plan's investment manager, the only one the ledger lets execute
/// and report the plan's instructions (the trustee entrusts the investment manager, as in the
/// enterprise-annuity scheme the employer entrusts the trustee).
interface IAnnuityPlans {
    /// @notice A plan version was defined. Regulators read the full investment information here.
    event PlanDefined(
        bytes32 indexed planCode, uint32 indexed version, address indexed trustee, bytes32[] items, uint16[] ratiosBps
    );

    /// @notice The investment manager of a plan code was appointed (or replaced) by its trustee.
    event InvestmentManagerAppointed(
        bytes32 indexed planCode, address indexed trustee, address indexed investmentManager
    );

    /// @notice `caller` (the member it acts for) is not the trustee `expected` that owns `planCode`.
    error AnnuityNotPlanTrustee(bytes32 planCode, address caller, address expected);
    error AnnuityZeroPlanCode();
    error AnnuityPlanEmpty(bytes32 planCode);
    error AnnuityPlanTooLarge(bytes32 planCode, uint256 items, uint256 max);
    error AnnuityRatiosLengthMismatch(uint256 items, uint256 ratios);
    error AnnuityRatiosSum(bytes32 planCode, uint256 sum);
    error AnnuityZeroRatio(bytes32 planCode, uint256 index);
    error AnnuityZeroItem(bytes32 planCode, uint256 index);
    error AnnuityDuplicateItem(bytes32 planCode, bytes32 item);
    error AnnuityUnknownPlan(bytes32 planCode, uint32 version);

    /// @notice Define the next version of plan `planCode`.
    /// @param planCode non-zero short code of the plan
    /// @param items the investment items, distinct and non-zero, in allocation order
    /// @param ratiosBps the ratio of each item in basis points, each > 0, summing to 10,000
    /// @return version the new version (1 for a new plan code)
    /// Requirements:
    /// - caller acts for an active member holding TRUSTEE
    /// - a new plan code (the caller's member becomes its trustee), or a code whose trustee is the
    ///   caller's member (AnnuityNotPlanTrustee)
    /// - 1..MAX_PLAN_ITEMS items, as many ratios as items
    function definePlan(bytes32 planCode, bytes32[] calldata items, uint16[] calldata ratiosBps)
        external
        returns (uint32 version);

    /// @notice Appoint (or replace) the investment manager of every version of `planCode`; an
    /// instruction in flight goes to the manager appointed when it is executed.
    /// @param investmentManager an address acting for an active member holding INVESTMENT_MANAGER (the
    /// member is recorded)
    /// Requirements:
    /// - caller acts for an active member holding TRUSTEE, the plan's trustee (AnnuityNotPlanTrustee)
    /// - plan defined (AnnuityUnknownPlan(planCode, 0))
    /// - `investmentManager` acts for an active member holding INVESTMENT_MANAGER (the registry's
    ///   RegistryNotActiveMember / RegistryMissingRole)
    function appointInvestmentManager(bytes32 planCode, address investmentManager) external;

    /// @notice The trustee member that owns `planCode` (zero if never defined).
    function trusteeOf(bytes32 planCode) external view returns (address);

    /// @notice The investment manager member appointed for `planCode` (zero if none).
    function investmentManagerOf(bytes32 planCode) external view returns (address);

    /// @notice The items and ratios of a plan version; reverts with AnnuityUnknownPlan if undefined.
    function getPlan(bytes32 planCode, uint32 version)
        external
        view
        returns (bytes32[] memory items, uint16[] memory ratiosBps);

    /// @notice The latest version of `planCode` (0 if never defined).
    function latestVersion(bytes32 planCode) external view returns (uint32);

    /// @notice Upper bound on the number of items in a plan.
    function MAX_PLAN_ITEMS() external view returns (uint256);
}
