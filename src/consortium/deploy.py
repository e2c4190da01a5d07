"""Deploying the suite: the registry first, then every business line against it.

`deploy_all` is what scripts/deploy.py, the demo, the benchmark and the integration tests call, so
the deployment path the users take is the tested one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from consortium import chain
from consortium.domain.hashing import code32, doc_hash

# A line deployer takes (project, registry, admin) and returns {key: deployed contract}; the key is
# the contract name, or "Name:label" where one contract is deployed several times (e.g. per currency).
LineDeployer = Callable[[Any, Any, Any], dict[str, Any]]


def _line_deployers() -> list[LineDeployer]:
    """Business lines in deployment order (each only needs the registry)."""
    from consortium.reporting import deploy as deploy_reporting
    from consortium.roles import confirmations

    return [confirmations.deploy, deploy_reporting]


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


def deploy_all(admin: Any, founder_name: str = "Consortium permission manager", jurisdiction: str = "CN",
               record: bool = True) -> Suite:
    """Deploy the registry (admin becomes its permission manager) and every business line."""
    proj = chain.project()
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash(founder_name), code32(jurisdiction), {"from": admin}
    )
    suite = Suite(registry=registry, block=registry.tx.block_number)
    for deployer in _line_deployers():
        suite.contracts.update(deployer(proj, registry, admin))
    if record:
        chain.DeploymentRecord(
            network=chain.network_name(),
            chain_id=int(chain.web3().eth.chain_id),
            block=suite.block,
            deployer=admin.address,
            contracts=suite.addresses(),
            compiler=chain.compiler_settings(),
        ).save()
    return suite


def load_suite(network_id: str) -> Suite:
    """The suite recorded for `network_id` by the last deployment there."""
    rec = chain.DeploymentRecord.load(network_id)
    registry = chain.at("ConsortiumRegistry", rec.contracts["ConsortiumRegistry"])
    others = {
        k: chain.at(k.split(":")[0], v) for k, v in rec.contracts.items() if k != "ConsortiumRegistry"
    }
    return Suite(registry=registry, contracts=others, block=rec.block)
