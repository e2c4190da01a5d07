// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAnnuityPlans} from "../../interfaces/IAnnuityPlans.sol";
import {IConsortiumRegistry} from "../../interfaces/IConsortiumRegistry.sol";
import {ConsortiumManaged} from "../consortium/ConsortiumManaged.sol";
import {Roles} from "../consortium/Roles.sol";

/// @title AnnuityPlans
/// @notice Versioned investment plans of the enterprise annuity, each owned by the trustee that
/// defined it, with the investment manager that trustee appointed.
contract AnnuityPlans is ConsortiumManaged, IAnnuityPlans {
    /// @inheritdoc IAnnuityPlans
    uint256 public constant MAX_PLAN_ITEMS = 16;

    struct Plan {
        bytes32[] items;
        uint16[] ratiosBps;
    }

    mapping(bytes32 planCode => uint32) private _latest;
    mapping(bytes32 planCode => address) private _trustee;
    mapping(bytes32 planCode => address) private _investmentManager;
    mapping(bytes32 planCode => mapping(uint32 version => Plan)) private _plans;

    constructor(IConsortiumRegistry registry_) ConsortiumManaged(registry_) {}

    /// @inheritdoc IAnnuityPlans
    function definePlan(bytes32 planCode, bytes32[] calldata items, uint16[] calldata ratiosBps)
        external
        returns (uint32 version)
    {
        address trustee = _checkRole(Roles.TRUSTEE);
        _validate(planCode, items, ratiosBps);
        address owner = _trustee[planCode];
        if (owner == address(0)) _trustee[planCode] = trustee;
        else if (owner != trustee) revert AnnuityNotPlanTrustee(planCode, trustee, owner);
        version = _latest[planCode] + 1;
        _latest[planCode] = version;
        Plan storage p = _plans[planCode][version];
        p.items = items;
        p.ratiosBps = ratiosBps;
        emit PlanDefined(planCode, version, trustee, items, ratiosBps);
    }

    /// @inheritdoc IAnnuityPlans
    function appointInvestmentManager(bytes32 planCode, address investmentManager) external {
        address trustee = _checkRole(Roles.TRUSTEE);
        address owner = _trustee[planCode];
        if (owner == address(0)) revert AnnuityUnknownPlan(planCode, 0);
        if (owner != trustee) revert AnnuityNotPlanTrustee(planCode, trustee, owner);
        address member = registry.requireRole(investmentManager, Roles.INVESTMENT_MANAGER);
        _investmentManager[planCode] = member;
        emit InvestmentManagerAppointed(planCode, trustee, member);
    }

    /// @inheritdoc IAnnuityPlans
    function trusteeOf(bytes32 planCode) external view returns (address) {
        return _trustee[planCode];
    }

    /// @inheritdoc IAnnuityPlans
    function investmentManagerOf(bytes32 planCode) external view returns (address) {
        return _investmentManager[planCode];
    }

    /// @inheritdoc IAnnuityPlans
    function getPlan(bytes32 planCode, uint32 version)
        external
        view
        returns (bytes32[] memory items, uint16[] memory ratiosBps)
    {
        if (version == 0 || version > _latest[planCode]) revert AnnuityUnknownPlan(planCode, version);
        Plan storage p = _plans[planCode][version];
        return (p.items, p.ratiosBps);
    }

    /// @inheritdoc IAnnuityPlans
    function latestVersion(bytes32 planCode) external view returns (uint32) {
        return _latest[planCode];
    }

    function _validate(bytes32 planCode, bytes32[] calldata items, uint16[] calldata ratiosBps) private pure {
        if (planCode == bytes32(0)) revert AnnuityZeroPlanCode();
        uint256 n = items.length;
        if (n == 0) revert AnnuityPlanEmpty(planCode);
        if (n > MAX_PLAN_ITEMS) revert AnnuityPlanTooLarge(planCode, n, MAX_PLAN_ITEMS);
        if (ratiosBps.length != n) revert AnnuityRatiosLengthMismatch(n, ratiosBps.length);
        uint256 sum = 0;
        for (uint256 i; i < n; ++i) {
            if (items[i] == bytes32(0)) revert AnnuityZeroItem(planCode, i);
            if (ratiosBps[i] == 0) revert AnnuityZeroRatio(planCode, i);
            for (uint256 j; j < i; ++j) {
                if (items[j] == items[i]) revert AnnuityDuplicateItem(planCode, items[i]);
            }
            sum += ratiosBps[i];
        }
        if (sum != 10_000) revert AnnuityRatiosSum(planCode, sum);
    }
}
