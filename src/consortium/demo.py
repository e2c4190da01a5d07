"""The main job: one consortium business day end to end (grown line by line)."""

from __future__ import annotations

import argparse

from consortium.deploy import deploy_all


def run_demo(accounts, args: argparse.Namespace) -> int:
    suite = deploy_all(accounts[0])
    print("Consortium Ledger — deployed suite")
    for name, address in suite.addresses().items():
        print(f"  {name:32} {address}")
    return 0
