"""Timing of the sales bank's `customers` file (issue 14): 200 customers x 2 issuers registered by
the in-process agents of test_confirmations_registrations, on a fresh chain. Not collected by the
suite (no wall times in tests); run it by name and read the printed seconds:

    .venv/bin/brownie test tests/agent/bench_registrations.py --network development \
        -p no:cacheprovider -s
"""

from __future__ import annotations

import time

from tests.agent import test_confirmations_registrations as registrations
from tests.agent.test_confirmations_registrations import Day, _customers, _events, _rows

world = registrations.world  # the deployed consortium, a fixture of this module too

CUSTOMERS = 200


def test_bench__customers_file__200_customers_2_issuers(world, tmp_path, web3):
    day, start = Day(world, tmp_path), web3.eth.block_number + 1
    t0 = time.perf_counter()
    _customers(day, _rows(CUSTOMERS))
    t1 = time.perf_counter()
    day.tick("wm-issuer-1", "wm-issuer-2")
    t2 = time.perf_counter()
    day.tick("sales-bank")
    t3 = time.perf_counter()
    n = 2 * CUSTOMERS
    assert len(_events(world, "RegistrationDecided", start)) == n and len(day.outbox()) == n
    print(
        f"\ncustomers file ({n} registrations): sales bank {t1 - t0:.2f} s, "
        f"issuers {t2 - t1:.2f} s, results {t3 - t2:.2f} s"
    )
