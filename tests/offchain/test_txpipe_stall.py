"""A waiting sender mines its stalled backlog only when the chain is stalled, and so that the block
takes it: on anvil with automine off for the while. anvil 1.7.1's automine stopped taking ready
transactions late in the large day (232 ready, an empty block for each arrival: 300 in 25 s), and
blocks mined under it were empty too; a block mined with automine off took all 232."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from consortium import localchain
from consortium.txpipe import TxPipe


class FakeNode:
    """A node answering the pipe's JSON-RPC: `full` says whether each new block holds others'
    transactions; `stuck` is an automine that takes no ready transaction; the pipe's own
    transaction is mined by the first evm_mine that takes it, or after `mined_after` looks."""

    def __init__(self, client: str, *, stuck: bool, full: bool, mined_after: int | None = None):
        self.client, self.stuck, self.full, self.mined_after = client, stuck, full, mined_after
        self.head, self.automine, self.looks, self.calls = 10, True, 0, []
        self.mined: set[str] = set()

    def post(self, body, timeout=120):
        return [self._one(r) for r in body] if isinstance(body, list) else self._one(body)

    def _one(self, request):
        method, params = request["method"], request["params"]
        self.calls.append((method, params[0] if method == "evm_setAutomine" else None))
        result = None
        if method == "eth_getBlockByNumber":
            self.looks += 1
            if self.stuck or self.full:
                self.head += 1  # a broken automine's empty block, or others' full one
            result = {"number": hex(self.head), "transactions": ["0xother"] if self.full else []}
            if self.mined_after is not None and self.looks > self.mined_after:
                self.mined.add("0xmine")
        elif method == "evm_setAutomine":
            self.automine = params[0]
        elif method == "evm_mine":
            self.head += 1
            if not (self.automine and self.stuck):
                self.mined.add("0xmine")
        elif method == "eth_getTransactionReceipt" and params[0] in self.mined:
            result = {"transactionHash": params[0], "status": "0x1"}
        return {"jsonrpc": "2.0", "id": request.get("id", 1), "result": result}


def _pipe(node: FakeNode) -> TxPipe:
    pipe = object.__new__(TxPipe)
    pipe._client = node.client
    pipe._automine, pipe._block_gas, pipe.gas = True, 30_000_000, 16_000_000
    pipe._post = node.post
    return pipe


PHASE = [SimpleNamespace(txid="0xmine", tx={"gas": 200_000})]


def test_receipts__anvil_automine_stuck_mining_empty_blocks__mined_with_automine_off_then_on():
    node = FakeNode("anvil/v1.7.1", stuck=True, full=False)
    receipts = _pipe(node)._receipts(["0xmine"], PHASE)
    assert set(receipts) == {"0xmine"}
    kick = [c for c in node.calls if c[0] in ("evm_setAutomine", "evm_mine")]
    assert kick == [("evm_setAutomine", False), ("evm_mine", None), ("evm_setAutomine", True)]
    assert node.automine is True


def test_receipts__chain_busy_with_others_blocks__waits_without_mining():
    node = FakeNode("anvil/v1.7.1", stuck=False, full=True, mined_after=4)
    assert set(_pipe(node)._receipts(["0xmine"], PHASE)) == {"0xmine"}
    assert not [c for c in node.calls if c[0] in ("evm_setAutomine", "evm_mine")]


def test_receipts__ganache_stalled__one_evm_mine_automine_untouched():
    node = FakeNode("Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2/ethereum-js", stuck=False, full=False)
    assert set(_pipe(node)._receipts(["0xmine"], PHASE)) == {"0xmine"}
    assert [c for c in node.calls if c[0] in ("evm_setAutomine", "evm_mine")] == [
        ("evm_mine", None)
    ]


def test_busy__only_a_new_block_with_transactions_is_busy():
    blocks = iter(
        [
            {"number": "0xa", "transactions": ["0x1"]},  # the same block as before: stalled
            {"number": "0xb", "transactions": []},  # only an empty block since: stalled
            {"number": "0xc", "transactions": ["0x1"]},  # others' transactions mined: busy
        ]
    )
    rpc = lambda method, params: next(blocks)
    assert localchain.busy(rpc, 10) == (10, False)
    assert localchain.busy(rpc, 10) == (11, False)
    assert localchain.busy(rpc, 11) == (12, True)


def test_mine_backlog__anvil_automine_restored_even_when_mining_fails():
    calls = []

    def rpc(method, params):
        calls.append((method, params))

    def failing():
        calls.append(("evm_mine", []))
        raise ConnectionError("node gone")

    with pytest.raises(ConnectionError):
        localchain.mine_backlog(rpc, "anvil/v1.7.1", failing)
    assert calls == [
        ("evm_setAutomine", [False]),
        ("evm_mine", []),
        ("evm_setAutomine", [True]),
    ]


def test_receipts__large_stalled_backlog__each_nudge_mines_a_few_blocks_then_asks_again():
    """A backlog of 200 transactions at the fixed limit (one a block) on a stalled anvil: a nudge
    mines at most MINE_STEP blocks and the receipts are asked before the next, so blocks stop as
    soon as the backlog is mined (here the first block took all 200; a batch of one evm_mine per
    transaction kept anvil mining empty blocks for minutes on a large state)."""
    from consortium.txpipe import MINE_STEP

    node = FakeNode("anvil/v1.7.1", stuck=True, full=False)
    hashes = [f"0x{i:04x}" for i in range(200)]
    phase = [SimpleNamespace(txid=h, tx={"gas": 16_000_000}) for h in hashes]
    node.mined = set()
    mine = node._one

    def one(request):
        answer = mine(request)
        if request["method"] == "evm_mine" and not node.automine:
            node.mined |= set(hashes)  # a block mined with automine off takes the backlog
        return answer

    node._one = one
    receipts = _pipe(node)._receipts(hashes, phase)
    assert set(receipts) == set(hashes)
    mined = [c for c in node.calls if c[0] == "evm_mine"]
    assert 1 <= len(mined) <= MINE_STEP
