"""Sending many transactions without waiting for each receipt, then collecting them.

brownie's call-and-wait makes ~11 RPC calls per transaction and waits for each receipt; a business
day of thousands of operations spends most of its time there. A TxPipe encodes the call, signs it
locally (coincurve backend) or lets the node sign for its unlocked dev accounts, keeps nonces per
sender itself, posts the transactions one after another without waiting, and collects all receipts
at `wait()`. A failed transaction is reported with its decoded custom error (replayed with
eth_call on the state before its block), so errors stay as readable as brownie's.

Use it where a phase's transactions do not read each other's results (a payroll of contributions,
a packet of anchors); order within one sender is kept by the nonces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from eth_account import Account as EthAccount

DEFAULT_GAS = 8_000_000


class TxPipeError(RuntimeError):
    """Some transactions of a pipe failed; `.failures` lists (label, error)."""

    def __init__(self, failures: list[tuple[str, str]]):
        self.failures = failures
        shown = "; ".join(f"{label}: {err}" for label, err in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} transaction(s) failed: {shown}{more}")


@dataclass
class _Pending:
    label: str
    tx_hash: str | None
    tx: dict
    send_error: str | None = None  # ganache reports reverts at send time


@dataclass
class TxPipe:
    """One pipe per phase; `submit` returns at once, `wait` returns receipts in submission order."""

    web3: Any
    gas_price: int | None = None
    pending: list[_Pending] = field(default_factory=list)
    _nonces: dict[str, int] = field(default_factory=dict)
    _session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self._url = self.web3.provider.endpoint_uri
        self._chain_id = int(self.web3.eth.chain_id)
        if self.gas_price is None:
            self.gas_price = max(int(self.web3.eth.gas_price), 10**9)

    def _rpc(self, method: str, params: list) -> Any:
        reply = self._session.post(
            self._url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60
        ).json()
        if "error" in reply:
            raise TxPipeError([(method, str(reply["error"].get("message", reply["error"])))])
        return reply["result"]

    def _next_nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = int(self._rpc("eth_getTransactionCount", [address, "pending"]), 16)
        n = self._nonces[address]
        self._nonces[address] = n + 1
        return n

    def submit(self, sender: Any, contract: Any, fn: str, *args: Any, gas: int = DEFAULT_GAS,
               label: str | None = None) -> str:
        """Queue `contract.fn(*args)` from `sender` (a brownie account); returns the tx hash."""
        data = getattr(contract, fn).encode_input(*args)
        address = sender.address
        tx = {"from": address, "to": contract.address, "data": data, "gas": gas,
              "gasPrice": self.gas_price, "nonce": self._next_nonce(address), "chainId": self._chain_id,
              "value": 0}
        key = getattr(sender, "private_key", None)
        if key:
            signed = EthAccount.sign_transaction({k: v for k, v in tx.items() if k != "from"}, key)
            method, params = "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()]
        else:  # unlocked dev account: the node signs
            method = "eth_sendTransaction"
            params = [{k: (hex(v) if isinstance(v, int) else v) for k, v in tx.items() if k != "chainId"}]
        reply = self._session.post(self._url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                    "params": params}, timeout=60).json()
        label = label or f"{fn}#{len(self.pending)}"
        if "error" in reply:
            # ganache (vmErrorsOnRPCResponse) answers a reverting transaction with an error, yet
            # mines it: keep its hash so wait() reads the receipt and replays it for the reason
            data = reply["error"].get("data")
            mined = data.get("hash") if isinstance(data, dict) else None
            if mined:
                self.pending.append(_Pending(label, mined, tx))
                return mined
            self.pending.append(_Pending(label, None, tx, send_error=_decode(reply["error"])))
            return ""
        self.pending.append(_Pending(label, reply["result"], tx))
        return reply["result"]

    def wait(self, raise_on_failure: bool = True) -> list[dict]:
        """All receipts of the submitted transactions, in submission order; then the pipe is empty."""
        receipts: dict[str, dict] = {}
        todo = [p.tx_hash for p in self.pending if p.tx_hash]
        while todo:
            body = [{"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionReceipt", "params": [h]}
                    for i, h in enumerate(todo)]
            replies = sorted(self._session.post(self._url, json=body, timeout=120).json(),
                             key=lambda r: r["id"])
            for h, r in zip(todo, replies):
                if r.get("result"):
                    receipts[h] = r["result"]
            todo = [h for h in todo if h not in receipts]
        failed = {"status": "0x0", "gasUsed": "0x0"}
        ordered = [receipts[p.tx_hash] if p.tx_hash else failed for p in self.pending]
        failures = [(p.label, p.send_error or self._why(p, r)) for p, r in zip(self.pending, ordered)
                    if int(r["status"], 16) != 1]
        self.pending = []
        if failures and raise_on_failure:
            raise TxPipeError(failures)
        return ordered

    def _why(self, p: _Pending, receipt: dict) -> str:
        """Replay the failed call on the state before its block to read the revert reason."""
        call = {k: (hex(v) if isinstance(v, int) else v) for k, v in p.tx.items()
                if k in ("from", "to", "data", "gas")}
        block = hex(max(int(receipt["blockNumber"], 16) - 1, 0))
        reply = self._session.post(self._url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                                                    "params": [call, block]}, timeout=60).json()
        return _decode(reply.get("error") or {"message": "reverted"})


def _decode(err: dict) -> str:
    """A node's error object as brownie would print it: `ErrorName: args` for custom errors."""
    from brownie.exceptions import decode_typed_error

    data = err.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        try:
            return decode_typed_error(data)
        except Exception:
            return data
    return str(err.get("message", "reverted"))


def gas_of(receipts: list[dict]) -> int:
    return sum(int(r["gasUsed"], 16) for r in receipts)
