"""Deploying the suite: the registry first, then every business line against it.

`deploy_all` is what scripts/deploy.py, the demo, the benchmark and the integration tests call, so
the deployment path the users take is the tested one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consortium import chain
from consortium.config import DEFAULT_BUSINESS_TIME_ZONE
from consortium.domain import days
from consortium.domain.hashing import code32, doc_hash
from consortium.roles.settlement import CURRENCIES

# A line deployer takes (project, registry, admin, deployed so far) and returns {key: contract}; the
# key is the contract name, or "Name:label" where one contract is deployed several times (e.g. the
# deposit token per currency: "DepositToken:CNY").
LineDeployer = Callable[[Any, Any, Any, dict[str, Any]], dict[str, Any]]


# ------------------------------------------------------------------ each line's contracts
def deploy_annuity(proj: Any, registry: Any, admin: Any) -> dict[str, Any]:
    """Deploy the annuity line: AnnuityPlans, then AnnuityLedger reading it. No wiring needed."""
    plans = proj.AnnuityPlans.deploy(registry, {"from": admin})
    ledger = proj.AnnuityLedger.deploy(registry, plans, {"from": admin})
    return {"AnnuityPlans": plans, "AnnuityLedger": ledger}


def deploy_settlement(
    proj: Any, registry: Any, admin: Any, issuers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """SecurityToken, SettlementEngine and one DepositToken per currency of the line.

    `issuers` maps a token's key ("SecurityToken", "DepositToken:CNY", …) to the member that alone
    issues it (the CSD, each currency's CASH_ISSUER; fixed in the token for good); a token missing
    there is issued by `admin`. The deployer is the permission manager (governance): it appoints the
    engine as settlement agent of every token and lists each currency's token once
    (`list_currencies`). Listing securities is the CSD's, at the start of the day
    (CentralDepository.list_security).
    """
    issuers = issuers or {}
    security = proj.SecurityToken.deploy(
        registry, issuers.get("SecurityToken", admin.address), {"from": admin}
    )
    # the instructions, upload and second clearing libraries are linked into the engine (brownie
    # links the latest deployment of each)
    proj.Instructions.deploy({"from": admin})
    proj.TradeUpload.deploy({"from": admin})
    proj.SecondClearings.deploy({"from": admin})
    engine = proj.SettlementEngine.deploy(registry, security, {"from": admin})
    out = {"SecurityToken": security, "SettlementEngine": engine}
    for code in CURRENCIES:
        key = f"DepositToken:{code}"
        out[key] = proj.DepositToken.deploy(
            registry,
            code32(code),
            issuers.get(key, admin.address),
            f"Tokenised deposit {code}",
            f"d{code}",
            {"from": admin},
        )
    for key in ("SecurityToken", *(f"DepositToken:{c}" for c in CURRENCIES)):
        out[key].setSettlementAgent(engine, True, {"from": admin})
    list_currencies(engine, {c: out[f"DepositToken:{c}"] for c in CURRENCIES}, admin)
    # settlement down the holding chain, opened from the legs the engine settled
    out["HoldingChain"] = proj.HoldingChain.deploy(registry, engine, {"from": admin})
    return out


def wire_holding_chain(
    holding: Any, entries: list[dict[str, Any]], address_of: Mapping[str, str], governance: Any
) -> list[Any]:
    """Governance (PERMISSION_MANAGER) configures the consortium file's `holding_chain:` entries
    ({party, tier, clients, investors}, institution ids; `address_of` their addresses): every
    holder first, then every client link; what is already on chain is left as it is (a re-run
    sends nothing)."""
    txs = []
    for e in entries:
        who = address_of[e["party"]]
        have = holding.holderOf(who)
        if (int(have[0]), bool(have[1])) != (e["tier"], e["investors"]):
            txs.append(holding.setHolder(who, e["tier"], e["investors"], {"from": governance}))
    for e in entries:
        for c in e["clients"]:
            who, client = address_of[e["party"]], address_of[c]
            if not holding.isClient(who, client):
                txs.append(holding.linkClient(who, client, {"from": governance}))
    return txs


def list_currencies(engine: Any, tokens: dict[str, Any], governance: Any) -> list[Any]:
    """Governance (PERMISSION_MANAGER) lists each currency's deposit token with the engine, once:
    a listed currency changes only by `replaceCurrency`, so no cash issuer can re-point it."""
    return [
        engine.listCurrency(code32(code), token.address, {"from": governance})
        for code, token in tokens.items()
        if engine.cashToken(code32(code)) != token.address
    ]


def deploy_bills(
    proj: Any, registry: Any, admin: Any, cash: Any = None, issuer: str | None = None
) -> dict[str, Any]:
    """Deploy the bill line: BillToken, paying on chain in `cash` (a DepositToken).

    Without `cash` a CNY DepositToken of the line's own is deployed ("DepositToken:CNY-bills"),
    issued by `issuer` (a CASH_ISSUER member's address; `admin` when not given). The deployer is the
    permission manager, so it makes BillToken the token's settlement agent here (disbursements and
    redemptions move deposits without allowances).
    """
    out: dict[str, Any] = {}
    if cash is None:
        cash = proj.DepositToken.deploy(
            registry,
            code32("CNY"),
            issuer or admin.address,
            "Deposit CNY (bills)",
            "dCNY",
            {"from": admin},
        )
        out["DepositToken:CNY-bills"] = cash
    out["BillToken"] = proj.BillToken.deploy(
        registry, cash, "consortium://bills/{id}", {"from": admin}
    )
    cash.setSettlementAgent(out["BillToken"], True, {"from": admin})
    return out


def deploy_confirmations(
    proj: Any,
    registry: Any,
    admin: Any,
    reconcile_offset: int = 2 * 3600,
    settlement_token: Any = None,
    issuer: str | None = None,
    business_time_zone: str = DEFAULT_BUSINESS_TIME_ZONE,
) -> dict[str, Any]:
    """Deploy the line: ConfirmationAnchor, a CNY DepositToken for the day's payment,
    Reconciliation.

    `reconcile_offset` is the configured time of the next business day (seconds after local
    midnight in `business_time_zone`) from which a day may be reconciled; the zone's fixed offset
    from UTC is set in the contract for good (a zone with daylight saving is refused:
    BusinessZoneHasDaylightSaving). Pass `settlement_token` to pay with an existing deposit token
    instead; a token deployed here is issued by `issuer` (a CASH_ISSUER member's address; `admin`
    when not given).
    """
    utc_offset = days.fixed_utc_offset(business_time_zone)
    out: dict[str, Any] = {
        "ConfirmationAnchor": proj.ConfirmationAnchor.deploy(registry, {"from": admin})
    }
    if settlement_token is None:
        settlement_token = proj.DepositToken.deploy(
            registry,
            code32("CNY"),
            issuer or admin.address,
            "Reconciliation deposit CNY",
            "dCNYr",
            {"from": admin},
        )
        out["DepositToken:reconciliation"] = settlement_token
    out["Reconciliation"] = proj.Reconciliation.deploy(
        registry, reconcile_offset, settlement_token, utc_offset, {"from": admin}
    )
    return out


def _line_deployers(issuers: Mapping[str, str], zone: str) -> list[LineDeployer]:
    """Business lines in deployment order. Settlement deploys one DepositToken per currency
    (CNY, HKD); bill financing and the reconciliation payment use the same CNY token, so a
    member's cash is one balance whichever line moves it. `issuers`, `zone`: see `deploy_all`."""
    return [
        lambda p, r, a, d: deploy_annuity(p, r, a),
        lambda p, r, a, d: deploy_settlement(p, r, a, issuers),
        lambda p, r, a, d: deploy_bills(p, r, a, cash=d["DepositToken:CNY"]),
        lambda p, r, a, d: deploy_confirmations(
            p, r, a, settlement_token=d["DepositToken:CNY"], business_time_zone=zone
        ),
        lambda p, r, a, d: _deploy_reporting(p, r, a, zone),
        lambda p, r, a, d: {"SealedRecords": p.SealedRecords.deploy(r, {"from": a})},
    ]


def _deploy_reporting(
    proj: Any, registry: Any, admin: Any, business_time_zone: str = DEFAULT_BUSINESS_TIME_ZONE
) -> dict[str, Any]:
    """Deploy ReportAnchor against the registry and register the rules in force.

    The zone's fixed offset from UTC is set in the anchor for good, as in Reconciliation: report
    days are the same local business days reconciliation keeps (a zone with daylight saving is
    refused: BusinessZoneHasDaylightSaving).

    The deployer (the permission manager) may register rules: setRules accepts PERMISSION_MANAGER.
    Only the rules file is read (consortium.reporting.rules): the indexer and SQLAlchemy stay
    unloaded."""
    from consortium.reporting.rules import load_rules

    utc_offset = days.fixed_utc_offset(business_time_zone)
    anchor = proj.ReportAnchor.deploy(registry, utc_offset, {"from": admin})
    rules = load_rules()
    anchor.setRules(rules.rules_hash, rules.version, {"from": admin})
    return {"ReportAnchor": anchor}


@dataclass
class Suite:
    """The deployed contracts of one consortium on one network."""

    registry: Any
    contracts: dict[str, Any] = field(default_factory=dict)
    block: int = 0

    def __getitem__(self, name: str) -> Any:
        return self.registry if name == "ConsortiumRegistry" else self.contracts[name]

    def addresses(self) -> dict[str, str]:
        return {"ConsortiumRegistry": self.registry.address} | {
            k: v.address for k, v in self.contracts.items()
        }


def deploy_all(
    admin: Any,
    founder_name: str = "Consortium permission manager",
    jurisdiction: str = "CN",
    record: bool = True,
    issuers: Mapping[str, str] | None = None,
    business_time_zone: str = DEFAULT_BUSINESS_TIME_ZONE,
) -> Suite:
    """Deploy the registry (admin becomes its permission manager) and every business line.

    `issuers` maps each token's suite key ("SecurityToken", "DepositToken:CNY", "DepositToken:HKD")
    to the one member that may issue and redeem it (its CSD, its CASH_ISSUER), fixed in the token
    for good; the members need not be admitted yet (consortium.bootstrap.token_issuers gives them
    from the consortium file). A token missing there is issued by `admin`, who must then be granted
    the role to use it. The admin, as permission manager, appoints the settlement agents (the
    engine, the bill contract). `business_time_zone` (the consortium file's) sets the business day
    of the reconciliation line and of the regulators' report days for good."""
    proj = chain.project()
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash(founder_name), code32(jurisdiction), {"from": admin}
    )
    suite = Suite(registry=registry, block=registry.tx.block_number)
    for deployer in _line_deployers(issuers or {}, business_time_zone):
        suite.contracts.update(deployer(proj, registry, admin, suite.contracts))
    if record:
        w3 = chain.web3()
        chain.DeploymentRecord(
            network=chain.network_name(),
            chain_id=int(w3.eth.chain_id),
            block=suite.block,
            block_hash="0x" + bytes(w3.eth.get_block(suite.block)["hash"]).hex(),
            deployer=admin.address,
            contracts=suite.addresses(),
            compiler=chain.compiler_settings(),
        ).save()
    return suite


def load_suite(network_id: str) -> Suite:
    """The suite recorded for `network_id` by the last deployment there.

    Checked against the chain at hand before any call (chain id, the deployment block's hash, the
    registry's code): a record of another chain, or of a local chain restarted empty, raises
    CommandError saying what differs and what to do, instead of failing on the first call."""
    rec = chain.DeploymentRecord.load(network_id)
    rec.check_chain(chain.web3(), chain.rpc_url())
    return suite_at(rec.contracts, rec.block)


def suite_at(addresses: dict[str, str], block: int) -> Suite:
    """The suite deployed at `addresses` ({key: address}, as Suite.addresses() gives them)."""
    registry = chain.at("ConsortiumRegistry", addresses["ConsortiumRegistry"])
    others = {
        k: chain.at(k.split(":")[0], v) for k, v in addresses.items() if k != "ConsortiumRegistry"
    }
    return Suite(registry=registry, contracts=others, block=block)
