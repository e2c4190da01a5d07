"""The day's transactions and gas per sender and contract, read from the chain in JSON-RPC batches:
the same figures as reading each block and each receipt one request at a time (the large day has
tens of thousands of blocks), blocks of several transactions included."""

import pytest

from consortium.chain import network_name, web3
from consortium.dayrun.stats import by_sender, chain_activity


def _one_by_one(w3, first: int, last: int) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for number in range(first, last + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            gas = int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
            key = (str(tx["from"]).lower(), str(tx["to"]).lower())
            entry = out.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += gas
    return {k: (v[0], v[1]) for k, v in out.items()}


def test_chain_activity__batched__same_as_one_by_one(accounts):
    if network_name() != "development":
        pytest.skip("a block of several transactions is made with anvil's evm_setAutomine")
    w3 = web3()
    first = int(w3.eth.block_number) + 1
    accounts[1].transfer(accounts[2], 1)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        for n in (3, 4, 5):
            w3.eth.send_transaction(
                {"from": accounts[n].address, "to": accounts[6].address, "value": n}
            )
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    accounts[2].transfer(accounts[1], 2)
    last = int(w3.eth.block_number)
    assert len(w3.eth.get_block(last - 1)["transactions"]) == 3  # one block of three
    got = chain_activity(w3, first, last, chunk=2)  # two blocks a batch: three batches
    assert got == _one_by_one(w3, first, last)
    assert got[(accounts[3].address.lower(), accounts[6].address.lower())] == (1, 21_000)
    assert sum(n for n, _ in got.values()) == 5
    senders = by_sender(got)
    assert senders[accounts[2].address.lower()] == (1, 21_000)
    assert sum(n for n, _ in senders.values()) == 5
