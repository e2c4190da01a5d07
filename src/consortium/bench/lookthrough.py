"""Gas figures of the look-through line (SealedRecords.publish), on a fresh registry.

`bench_lookthrough(proj, accounts)` admits a regulator and a broker, seals `n` positions to the
regulator for each size and publishes them, then publishes a cycle in two parts (publish, then
appendRecords). The sealed records go on chain at their real length,
but their bytes come from a seeded generator: real envelopes are random (fresh keys and nonces), so
their zero bytes, and with them the calldata gas, would move a few dozen gas from run to run; the
contract reads no byte of them, so seeded bytes of the same length cost what a real record costs
on average and repeat exactly.
"""

from __future__ import annotations

import random
from typing import Any

from consortium.domain.hashing import code32, doc_hash
from consortium.domain.netting import SECURITY
from consortium.envelope import KeyPair
from consortium.lookthrough import MAX_RECORDS, Position, RegulatorKey, Sealed, seal_positions
from consortium.roles.membership import Institution, PermissionManager

APPEND_PART = 64  # records of the appended part measured


def bench_lookthrough(
    proj: Any, accounts: Any, sizes: tuple[int, ...] = (1, 64, MAX_RECORDS)
) -> dict[str, int]:
    """publish of 1, 64 and 256 (MAX_RECORDS: a part's most) sealed records (one investor position
    each) in one cycle, and appendRecords of a 64-record part after the first."""
    admin, reg_acc, broker_acc = accounts[0], accounts[1], accounts[4]
    registry = proj.ConsortiumRegistry.deploy(
        doc_hash("bench manager"), code32("CN"), {"from": admin}
    )
    manager = PermissionManager("bench manager", admin, registry, "CN")
    regulator = Institution("bench regulator", reg_acc, registry, "HK")
    manager.admit(regulator, ["REGULATOR"], None)
    broker = Institution("bench broker", broker_acc, registry, "HK")
    manager.admit(broker, ["BROKER"], reg_acc.address)
    contract = proj.SealedRecords.deploy(registry, {"from": admin})
    keys = {"HK": RegulatorKey(reg_acc.address, KeyPair(b"\x01" * 32).public_key)}
    rng = random.Random("bench-lookthrough")
    out = {"lookthrough.SealedRecords.deploy": int(contract.tx.gas_used)}

    def sealed_of(n: int, cycle: str, part: int = MAX_RECORDS) -> Sealed:
        positions = [
            Position(
                f"investor-{i:06d}", SECURITY, 700 + i % 5, 100 * (i + 1), "HK", rng.randbytes(32)
            )
            for i in range(n)
        ]
        sealed = seal_positions(broker.address, code32(cycle), positions, keys)
        sealed.records = [rng.randbytes(len(r)) for r in sealed.records]
        sealed.part, sealed.part_bytes = part, 1 << 30  # the contract's limit only: 256 at most
        return sealed

    for n in sizes:
        tx = contract.publish(*sealed_of(n, f"BENCH-{n}").args(), {"from": broker_acc})
        out[f"lookthrough.publish.{n}_record{'s' if n > 1 else ''}"] = int(tx.gas_used)
    # a publication of two parts: the second part costs what appending 64 records costs
    sealed = sealed_of(2 * APPEND_PART, "BENCH-PARTS", APPEND_PART)
    contract.publish(*sealed.args(), {"from": broker_acc})
    (part,) = sealed.appends()
    tx = contract.appendRecords(*part, {"from": broker_acc})
    out[f"lookthrough.appendRecords.{APPEND_PART}_records"] = int(tx.gas_used)
    return out
