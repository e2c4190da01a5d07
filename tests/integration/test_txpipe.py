"""TxPipe: many transactions without waiting, receipts in order, failures named."""

import pytest

from consortium.chain import web3
from consortium.txpipe import TxPipe, TxPipeError, gas_of


def test_pipe__many_transactions_from_several_senders__all_mined_in_order(registry, manager, admit,
                                                                             regulator_cn, accounts):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    local = accounts.add()  # a locally signed sender
    accounts[0].transfer(local, 10**19)
    pipe = TxPipe(web3())
    ops = [accounts.add() for _ in range(6)]
    for op in ops[:3]:
        pipe.submit(broker.account, registry, "addOperator", op.address)  # node-signed (unlocked)
    pipe.submit(local, registry, "applyForMembership", b"\x01" * 32, b"CN".ljust(32, b"\0"),
                regulator_cn.address, [b"\x00" * 31 + b"\x01"], b"\x02" * 32)
    with pytest.raises(TxPipeError, match=r"RegistryUnknownRole"):
        pipe.wait()
    assert registry.operatorsOf(broker.address) == [o.address for o in ops[:3]]


def test_pipe__receipts_and_gas(registry, admit, regulator_cn, accounts):
    broker = admit(accounts[5], ["BROKER"], regulator=regulator_cn)
    pipe = TxPipe(web3())
    ops = [accounts.add() for _ in range(4)]
    hashes = [pipe.submit(broker.account, registry, "addOperator", o.address) for o in ops]
    receipts = pipe.wait()
    assert [r["transactionHash"] for r in receipts] == hashes
    assert all(int(r["status"], 16) == 1 for r in receipts)
    assert gas_of(receipts) == sum(int(r["gasUsed"], 16) for r in receipts) > 4 * 21000
    assert pipe.pending == []
