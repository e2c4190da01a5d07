"""`brownie run scripts/deploy.py [--network NAME]`: deploy the suite and record its addresses.

On a live network (e.g. besu-qbft) the deployer is the account named by $DEPLOYER_ACCOUNT
(a brownie account id, `brownie accounts new <id>`); locally it is accounts[0].
"""

import os

from brownie import accounts, network

from consortium.deploy import deploy_all


def main():
    if (
        network.show_active() in ("development", "ganache-local")
        or "DEPLOYER_ACCOUNT" not in os.environ
    ):
        admin = accounts[0]
    else:
        admin = accounts.load(os.environ["DEPLOYER_ACCOUNT"])
    suite = deploy_all(admin)
    for name, address in suite.addresses().items():
        print(f"{name:32} {address}")
    return suite
