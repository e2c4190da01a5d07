"""`brownie run scripts/deploy.py [--network NAME]`: deploy the suite and record its addresses.

On a live network (e.g. besu-qbft) the deployer is the account named by $DEPLOYER_ACCOUNT
(a brownie account id, `brownie accounts new <id>`); locally it is accounts[0]. The founder, the
jurisdiction and each token's issuer come from the consortium file $CONSORTIUM_CONFIG (default
config/consortium.yaml) with the institutions' keys of $CONSORTIUM_SEED (default the demo's), as
`consortium deploy --config --seed`.
"""

import os

from brownie import accounts, network

from consortium.bootstrap import DEFAULT_SEED, deploy_for
from consortium.config import load_consortium


def main():
    cfg = load_consortium(os.environ.get("CONSORTIUM_CONFIG", "config/consortium.yaml"))
    seed = int(os.environ.get("CONSORTIUM_SEED", DEFAULT_SEED))
    if (
        network.show_active() in ("development", "ganache-local")
        or "DEPLOYER_ACCOUNT" not in os.environ
    ):
        admin = accounts[0]
    else:
        admin = accounts.load(os.environ["DEPLOYER_ACCOUNT"])
    suite = deploy_for(admin, cfg, seed)
    for name, address in suite.addresses().items():
        print(f"{name:32} {address}")
    return suite
