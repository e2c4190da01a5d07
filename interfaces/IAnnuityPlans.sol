// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IAnnuityPlans
/// @notice Enterprise-annuity investment plans: each plan (a short code such as bytes32("BALANCED"))
/// is a list of 1..16 investment items with allocation ratios in basis points summing to 10,000.
/// Plans are versioned: defining a plan code again appends version n+1; a version never changes.
/// @dev The trustee defines plans; the annuity ledger reads them when it computes allocation
/// instructions. Items are short codes of the investment products (bytes32("CN_EQUITY")).
interface IAnnuityPlans {
    /// @notice A plan version was defined. Regulators read the full investment information here.
    event PlanDefined(
        bytes32 indexed planCode, uint32 indexed version, address indexed trustee, bytes32[] items, uint16[] ratiosBps
    );

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
    /// - 1..MAX_PLAN_ITEMS items, as many ratios as items
    function definePlan(bytes32 planCode, bytes32[] calldata items, uint16[] calldata ratiosBps)
        external
        returns (uint32 version);

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
