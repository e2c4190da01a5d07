"""Sending a phase's transactions without waiting for each receipt, then collecting them in batches.

brownie's call-and-wait makes ~11 RPC calls per transaction and waits for each receipt; a business
day of thousands of operations spends most of its time there. A TxPipe encodes the call with the
contract's ABI (brownie's own argument conversion), signs it locally with the sender's key
(coincurve backend) or lets the node sign for its unlocked dev accounts, keeps nonces per sender
itself, uses a fixed gas limit instead of estimating each transaction, posts each transaction
without waiting for it and collects the phase's receipts at `wait()` in JSON-RPC batches. A pipe
that estimates (the agents') queues the phase's sends, estimates them in one batch and posts them
in another, so an automining anvil puts them in a few blocks, not one each; a pipe at the fixed
limit posts each at once (a block holds one such transaction, and what a batch leaves unmined
waits for the next arrival or `_mine`). A failed transaction is reported with its decoded custom
error (replayed with eth_call on the state before its block), so errors stay as readable as
brownie's; ganache, which reports a revert at send time, is handled too. Views read through a pipe
are one eth_call each (web3's middleware would ask for the chain id first).

Two ways to send, one place that computes a call's arguments: `pipe.piped(role)` returns a copy of a
role object (or of any dataclass holding contracts) whose contracts send through the pipe. The
role's method runs unchanged and returns a `PendingTx`, which reads like brownie's receipt
(`events`, `gas_used`, `status`, `txid`, `timestamp`) once the phase is collected; reading a result
of a transaction still in flight waits for the phase so far, as a dependent step must.

Use one phase for transactions that do not read each other's results; order within one sender is
kept by the nonces, so one sender's dependent steps may share a phase. Between two waits a sender's
transactions all go through the pipe: brownie would take the nonces of those still queued.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import requests
import rlp
from coincurve import PrivateKey
from eth_abi.exceptions import DecodingError
from eth_utils import keccak

from consortium.localchain import automines, busy, latest, mine_backlog

# One transaction's gas limit: under the EIP-7825 cap of 2**24 that networks adopt, and never above
# the node's block gas limit. No estimate per transaction (brownie's `gas_limit: max` estimates none
# either); an out-of-gas transaction fails like any other, named in TxPipeError.
DEFAULT_GAS = 16_000_000
RECEIPT_BATCH = 500  # receipts asked for in one JSON-RPC batch
CALL_BATCH = 500  # views read in one JSON-RPC batch (call_many)
SEND_BATCH = 500  # a phase's transactions posted in one JSON-RPC batch (an estimating pipe)
# calldata (hex characters) of the estimates, or signed transactions, posted in one JSON-RPC batch:
# anvil refused a batch of a settlement party's 44 uploads of 320 trades each (4 MB) as a whole
BATCH_BYTES = 1_000_000
PHASE_TXS = 200  # transactions posted before in_phases closes the phase
RECEIPT_TIMEOUT = 300.0  # seconds a phase may wait for its receipts (a nonce gap never fills)
STALL = 0.5  # seconds without a receipt or others' block after which a local backlog is mined
POLL_PAUSES = (0.002, 0.05)  # seconds between two receipt polls: the first, doubling to the last
MINE_STEP = 8  # blocks a nudge mines at most: the receipts are asked again before the next ones
STALL_MAX = 8.0  # seconds: the longest a backlog waits between two nudges (doubling from STALL)


class TxPipeError(RuntimeError):
    """Some transactions of a pipe failed; `.failures` lists (label, error)."""

    def __init__(self, failures: list[tuple[str, str]]):
        self.failures = failures
        shown = "; ".join(f"{label}: {err}" for label, err in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} transaction(s) failed: {shown}{more}")


class TxPipeTimeout(TxPipeError):
    """Receipts that never came: those transactions' fate is unknown (they may still be mined), so
    an outbox keeps their intents pending instead of treating them as refused."""


class PendingTx:
    """A transaction sent through a pipe;
    reads like a brownie receipt once its phase is collected."""

    def __init__(
        self, pipe: TxPipe, label: str, tx: dict, txid: str, send_error: str | None = None
    ):
        self.pipe = pipe
        self.label = label
        self.tx = tx
        self.txid = txid  # "" if the node refused the transaction
        self.send_error = send_error  # refused at send time and never mined
        self.error: str | None = None  # the decoded revert reason of a failed transaction
        self._receipt: dict | None = None
        self._events: Any = None
        self._timestamp: int | None = None

    @property
    def collected(self) -> bool:
        """Whether its phase was collected (its receipt is known): an outbox books it only then."""
        return self._receipt is not None

    @property
    def receipt(self) -> dict:
        """The node's receipt (JSON fields); waits for the pipe's phase if still in flight."""
        if self._receipt is None:
            self.pipe.wait()
        if self._receipt is None:  # its phase was closed without it (the receipts timed out)
            raise TxPipeTimeout([(self.label, "receipt never collected")])
        return self._receipt

    def __getitem__(self, key: str) -> Any:
        return self.receipt[key]

    @property
    def status(self) -> int:
        return int(self.receipt["status"], 16)

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"], 16)

    @property
    def block_number(self) -> int | None:
        block = self.receipt.get("blockNumber")
        return int(block, 16) if block else None

    @property
    def events(self) -> Any:
        """The receipt's events decoded with the project's ABIs (brownie's EventDict)."""
        if self._events is None:
            from consortium import chain

            self._events = chain.decode_logs(self.receipt.get("logs", []))
        return self._events

    @property
    def timestamp(self) -> int:
        """Timestamp of the block that mined the transaction (the contract's block.timestamp)."""
        if self._timestamp is None:
            block = self.pipe.rpc("eth_getBlockByNumber", [self.receipt["blockNumber"], False])
            self._timestamp = int(block["timestamp"], 16)
        return self._timestamp

    def __repr__(self) -> str:
        state = "pending" if self._receipt is None else f"status {int(self._receipt['status'], 16)}"
        return f"<PendingTx {self.label} {self.txid or '(not sent)'} {state}>"


class PipedContract:
    """A contract whose state-changing methods send through a pipe;
    views read the chain directly."""

    def __init__(self, pipe: TxPipe, contract: Any):
        self._pipe = pipe
        self._contract = contract

    @property
    def address(self) -> str:
        return self._contract.address

    @property
    def contract(self) -> Any:
        return self._contract

    def __str__(self) -> str:
        return self._contract.address

    def __eq__(self, other: object) -> bool:
        return _unwrap(other) == self._contract

    def __hash__(self) -> int:
        return hash(self._contract.address)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._contract, name)
        if not callable(attr) or not (hasattr(attr, "abi") or hasattr(attr, "methods")):
            return attr
        return _PipedMethod(self._pipe, self._contract, attr)

    def __repr__(self) -> str:
        return f"<PipedContract {self._contract!r}>"


class _PipedMethod:
    """One contract method behind a pipe: a transaction is submitted, a view is called."""

    def __init__(self, pipe: TxPipe, contract: Any, method: Any):
        self._pipe, self._contract, self._method = pipe, contract, method

    def __call__(self, *args: Any) -> Any:
        args = tuple(_unwrap(a) for a in args)
        method = self._method
        if hasattr(method, "methods"):  # brownie OverloadedMethod: pick by argument count
            method = method._get_fn_from_args(args)
        if method.abi.get("stateMutability") in ("view", "pure"):
            return self._pipe.call(self._contract, method, args)
        params = dict(args[-1]) if args and isinstance(args[-1], dict) else None
        if params is None or "from" not in params:
            raise TypeError(
                f"{method.abi['name']}: a transaction needs {{'from': account}} as last argument"
            )
        return self._pipe.send(
            params["from"],
            self._contract,
            method,
            args[:-1],
            gas=params.get("gas_limit") or params.get("gas"),
            value=params.get("value", 0),
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._method, name)


def _unwrap(value: Any) -> Any:
    return value.contract if isinstance(value, PipedContract) else value


def _is_contract(value: Any) -> bool:
    """A deployed brownie contract (its ABI is a list; methods carry a dict ABI)."""
    return isinstance(getattr(value, "abi", None), list) and hasattr(value, "address")


class TxPipe:
    """One pipe per business line (or any sequence of phases); `wait()` closes a phase."""

    def __init__(
        self,
        web3: Any,
        gas_price: int | None = None,
        gas: int | None = None,
        estimate: float | None = None,
        reverting_gas: int | None = None,
    ):
        """`estimate`: each transaction sent without a gas limit gets the node's estimate times
        this buffer (one more round trip per send; several senders then share a block), and one
        whose estimate reverts gets `reverting_gas`, so its refusal is mined and named at `wait()`.
        Without it every transaction declares the fixed limit `gas` (DEFAULT_GAS)."""
        self.web3 = web3
        self._session = requests.Session()
        self._url = web3.provider.endpoint_uri
        self._chain_id = int(web3.eth.chain_id)
        self.gas_price = gas_price if gas_price is not None else max(int(web3.eth.gas_price), 10**9)
        block_limit = int(web3.eth.get_block("latest")["gasLimit"])
        self._block_gas = block_limit
        self.gas = min(gas or DEFAULT_GAS, block_limit)
        self.estimate = estimate
        self.reverting_gas = min(reverting_gas or self.gas, self.gas)
        self.pending: list[PendingTx] = []
        self.collected: list[PendingTx] = []  # every transaction of every closed phase, in order
        self.keep_collected = True  # False: a long-lived sender keeps no receipts of closed phases
        self._sent = 0
        self.phases = 0
        self.first_sent_at: float | None = None  # time.perf_counter() of the first send
        self.last_collected_at: float | None = None  # … and of the last phase's last receipt
        self._nonces: dict[str, int] = {}
        self._keys: dict[str, PrivateKey] = {}
        self._queued: list[tuple[PendingTx, str | None]] = []  # sent, not posted yet (`flush`)
        # a local chain mines on a transaction's arrival, one block each time, and a block holds as
        # many transactions as their gas limits fit: a backlog left when the sends stop waits for
        # the next arrival (see _receipts). A real network produces blocks on its own clock.
        self._client = str(web3.client_version)
        self._automine = automines(self._client)

    # ------------------------------------------------------------------ JSON-RPC
    def rpc(self, method: str, params: list) -> Any:
        reply = self._post(_request(method, params))
        if "error" in reply:
            raise TxPipeError([(method, _decode(reply["error"]))])
        return reply["result"]

    def _post(self, body: Any, timeout: float = 120) -> Any:
        return self._session.post(self._url, json=body, timeout=timeout).json()

    def _key(self, private_key: str) -> PrivateKey:
        if private_key not in self._keys:
            self._keys[private_key] = PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
        return self._keys[private_key]

    def _next_nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = int(
                self.rpc("eth_getTransactionCount", [address, "pending"]), 16
            )
        n = self._nonces[address]
        self._nonces[address] = n + 1
        return n

    # ------------------------------------------------------------------ sending
    def piped(self, obj: Any) -> Any:
        """`obj` with every contract it holds sending through this pipe (dataclasses are copied,
        sharing their other fields; objects holding no contract are returned as they are)."""
        if isinstance(obj, PipedContract):
            return obj if obj._pipe is self else PipedContract(self, obj.contract)
        if _is_contract(obj):
            return PipedContract(self, obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            changes = {}
            for f in dataclasses.fields(obj):
                if f.init:
                    value = getattr(obj, f.name)
                    new = self.piped(value)
                    if new is not value:
                        changes[f.name] = new
            return dataclasses.replace(obj, **changes) if changes else obj
        if isinstance(obj, (list, tuple)):
            new_items = [self.piped(v) for v in obj]
            if all(a is b for a, b in zip(new_items, obj)):
                return obj
            return type(obj)(new_items) if isinstance(obj, list) else tuple(new_items)
        if isinstance(obj, dict):
            new_map = {k: self.piped(v) for k, v in obj.items()}
            return obj if all(new_map[k] is v for k, v in obj.items()) else new_map
        return obj

    def call(self, contract: Any, method: Any, args: tuple) -> Any:
        """A view read in one JSON-RPC request, decoded like brownie's call (web3's middleware asks
        the node for its chain id before every eth_call: twice the requests for each read)."""
        params = args[-1] if args and isinstance(args[-1], dict) else {}
        args = args[:-1] if params else args
        request = {"to": contract.address, "data": method.encode_input(*args)}
        if "from" in params:
            request["from"] = str(getattr(params["from"], "address", params["from"]))
        data = self.rpc("eth_call", [request, "latest"])
        if data == "0x" and method.abi.get("outputs"):
            raise ValueError(f"{method.abi['name']}: no data returned (the call likely reverted)")
        return method.decode_output(data)

    def batch(self, method: str, params: list[list]) -> list[dict]:
        """One JSON-RPC batch of `method`, one request per params list: the replies in order.
        A node that refuses the batch as a whole (one error object, not a list of replies: a body
        too large) raises TxPipeError naming its error."""
        body = [_request(method, p) | {"id": i} for i, p in enumerate(params)]
        if not body:
            return []
        return self._post_batch(body, f"{method} batch of {len(body)}")

    def _post_batch(self, body: list[dict], what: str, timeout: float = 120) -> list[dict]:
        """Post a JSON-RPC batch; its replies in the order of `body` (by id, or by position from
        a node that answers without ids: ganache). A node that refuses the batch as a whole (one
        error object, not a reply per request: a body too large) raises TxPipeError naming `what`
        and its error."""
        replies = self._post(body, timeout=timeout)
        if not isinstance(replies, list) or len(replies) != len(body):
            error = replies.get("error") if isinstance(replies, dict) else replies
            raise TxPipeError([(what, _decode(error or {}))])
        if all(isinstance(r.get("id"), int) for r in replies):
            at = {r["id"]: r for r in replies}
            return [at[request["id"]] for request in body]
        return replies

    def call_batch(
        self, calls: list[dict], block: int | str = "latest"
    ) -> list[tuple[str | None, str | None]]:
        """Many eth_calls ({"from", "to", "data"}) in one JSON-RPC batch at `block`, for each
        (returned data, None) or (None, its error as brownie prints it): hundreds of reads or
        expected refusals for one round trip instead of one each."""
        at = hex(block) if isinstance(block, int) else block
        replies = self.batch("eth_call", [[c, at] for c in calls])
        for _ in range(LATEST_RETRIES if block == "latest" else 0):
            stale = [i for i, r in enumerate(replies) if _past_history(r)]
            if not stale:
                break
            again = self.batch("eth_call", [[calls[i], at] for i in stale])
            for i, r in zip(stale, again):
                replies[i] = r
        return [(r.get("result"), _decode(r["error"]) if "error" in r else None) for r in replies]

    def call_many(
        self,
        contract: Any,
        fn: str,
        args: list[tuple],
        chunk: int = CALL_BATCH,
        block: int | str = "latest",
    ) -> list:
        """`contract.fn(*a)` for each `a` of `args` at `block`, decoded as brownie's call decodes
        it, in JSON-RPC batches of `chunk`: thousands of views read in a few round trips instead
        of one each (a reverting read raises ValueError naming the call and its error)."""
        contract = _unwrap(contract)
        method = getattr(contract, fn)
        out: list = []
        for start in range(0, len(args), chunk):
            part = args[start : start + chunk]
            calls = [{"to": contract.address, "data": method.encode_input(*a)} for a in part]
            for a, (data, error) in zip(part, self.call_batch(calls, block)):
                if error is not None or not data or (data == "0x" and method.abi.get("outputs")):
                    raise ValueError(f"{fn}{tuple(a)}: {error or 'no data returned'}")
                out.append(method.decode_output(data))
        return out

    def bind(self, contract: Any) -> PipedContract:
        return PipedContract(self, _unwrap(contract))

    def submit(
        self,
        sender: Any,
        contract: Any,
        fn: str,
        *args: Any,
        gas: int | None = None,
        label: str | None = None,
    ) -> PendingTx:
        """Send `contract.fn(*args)` from `sender` (a brownie account) now;
        returns its PendingTx."""
        contract = _unwrap(contract)
        return self.send(sender, contract, getattr(contract, fn), args, gas=gas, label=label)

    def send(
        self,
        sender: Any,
        contract: Any,
        method: Any,
        args: tuple,
        gas: int | None = None,
        value: int = 0,
        label: str | None = None,
    ) -> PendingTx:
        """Encode one transaction and post it without waiting; a pipe that estimates queues it
        instead, and posts the phase's queue when it is closed or a result is read (`flush`)."""
        tx = {
            "from": sender.address,
            "to": contract.address,
            "data": method.encode_input(*args),
            "gas": gas,
            "value": int(value),
        }
        pending = PendingTx(self, self._label(method, label), tx, "")
        self.pending.append(pending)
        self._queued.append((pending, getattr(sender, "private_key", None)))
        if not self.estimate:
            self.flush()
        return pending

    def flush(self) -> None:
        """Post the queued transactions, in the order sent. The gas of those declaring none is
        estimated first, all in one JSON-RPC batch: an estimate per send was one more round trip
        each, waiting on the node's lock while it mined the other senders' blocks (an automining
        anvil recomputes its whole state root per block: 60 ms each at the large day's size). The
        estimates read the phase's starting state, so a transaction depending on an earlier one of
        the phase gets `reverting_gas` and still runs."""
        queued, self._queued = self._queued, []
        try:
            todo = [p for p, _ in queued if p.tx["gas"] is None and self.estimate]
            for p, gas in zip(todo, self._estimates([p.tx for p in todo])):
                p.tx["gas"] = gas
            self._post_all(queued)
        except Exception as exc:  # the node: what was not posted fails as such at wait()
            for p, _ in queued:
                if not p.txid and p.send_error is None:
                    p.send_error = f"not sent: {type(exc).__name__}: {exc}"
            self._nonces.clear()  # the node may have taken the one in flight: ask it again
            raise

    def _post_all(self, queued: list[tuple[PendingTx, str | None]]) -> None:
        """Sign (or leave to the node) and post the queued transactions in JSON-RPC batches (at
        most SEND_BATCH, about BATCH_BYTES each). Posted one request each, an agent's phase made
        one block per transaction on an automining anvil, which recomputes its whole state root
        for every block; posted together they share blocks. A refusal is kept on its transaction
        (`_settle`), and a gap it leaves before the sender's later nonces is filled (`_fill_gap`).
        """
        sends = [(p, key, self._request_for(p, key)) for p, key in queued]
        parts = _by_size(
            [{"data": str(r["params"][0]), "i": i} for i, (_, _, r) in enumerate(sends)],
            SEND_BATCH,
            BATCH_BYTES,
        )
        for part in parts:
            body = [sends[t["i"]][2] | {"id": t["i"]} for t in part]
            if len(body) == 1:  # ganache answers a refused send with "id": null
                self._settle(sends[body[0]["id"]][0], self._post(body[0], timeout=60))
                continue
            replies = self._post_batch(body, f"a batch of {len(body)} sends", timeout=60)
            for request, reply in zip(body, replies):
                self._settle(sends[request["id"]][0], reply)
        posted = [p for p, _, _ in sends]
        for p, key, _ in sends:
            if not p.txid:
                self._fill_gap(p, key, posted)

    def _request_for(self, p: PendingTx, key: str | None) -> dict:
        """The send request of one queued transaction, its nonce taken now."""
        tx = p.tx | {
            "gas": int(p.tx["gas"] or self.gas),
            "gasPrice": self.gas_price,
            "nonce": self._next_nonce(p.tx["from"]),
            "chainId": self._chain_id,
        }
        p.tx = tx
        self._mark_first_send()
        return self._send_request(tx, key)

    def _send_request(self, tx: dict, key: str | None) -> dict:
        if key:
            raw, _ = sign_legacy(tx, self._key(key))
            return _request("eth_sendRawTransaction", [raw])
        # unlocked dev account: the node signs
        unsigned = {
            k: (hex(v) if isinstance(v, int) else v) for k, v in tx.items() if k != "chainId"
        }
        return _request("eth_sendTransaction", [unsigned])

    def _settle(self, p: PendingTx, reply: dict) -> None:
        """Keep a send's answer on its transaction: its hash, or why the node refused it."""
        if "error" not in reply:
            p.txid = reply["result"]
            return
        # ganache (vmErrorsOnRPCResponse) answers a reverting transaction with an error, yet
        # mines it: keep its hash so wait() reads the receipt and replays it for the reason
        data = reply["error"].get("data")
        mined = data.get("hash") if isinstance(data, dict) else None
        if mined:
            p.txid = mined
        else:  # refused, never mined
            p.send_error = _decode(reply["error"])

    def _fill_gap(self, p: PendingTx, key: str | None, sent: list[PendingTx]) -> None:
        """A refused transaction's nonce: the sender's next transaction takes it when none of the
        batch came after it; else those later ones wait behind it, and a no-op transfer to the
        sender itself takes it, so they run in their order as if it had never been sent. (A filler
        refused too leaves them waiting: their phase ends in TxPipeTimeout, fate unknown.)"""
        sender, nonce = p.tx["from"], p.tx["nonce"]
        if not any(q.txid and q.tx["from"] == sender and q.tx["nonce"] > nonce for q in sent):
            self._nonces.pop(sender, None)  # asked again: the node knows which it took
            return
        filler = {
            "from": sender,
            "to": sender,
            "value": 0,
            "gas": 21_000,
            "data": "0x",
            "gasPrice": self.gas_price,
            "nonce": nonce,
            "chainId": self._chain_id,
        }
        reply = self._post(self._send_request(filler, key), timeout=60)
        if "error" in reply:
            p.send_error += f" (and its nonce's no-op filler: {_decode(reply['error'])})"

    def _label(self, method: Any, label: str | None) -> str:
        """The given label, else `<function>#<n>`: n counts this pipe's sends."""
        self._sent += 1
        return label or f"{method.abi['name']}#{self._sent - 1}"

    def _mark_first_send(self) -> None:
        if self.first_sent_at is None:
            self.first_sent_at = time.perf_counter()

    def _estimates(self, txs: list[dict]) -> list[int]:
        """The node's estimate times the buffer for each transaction, CALL_BATCH a round trip; one
        whose estimate reverts gets `reverting_gas` (its refusal mined on record, named by
        wait())."""
        out: list[int] = []
        for part in _by_size(txs, CALL_BATCH, BATCH_BYTES):
            calls = [
                [{k: t[k] for k in ("from", "to", "data")} | {"value": hex(t["value"])}]
                for t in part
            ]
            for reply in self.batch("eth_estimateGas", calls):
                if "error" in reply:
                    out.append(self.reverting_gas)
                else:
                    out.append(min(int(int(reply["result"], 16) * self.estimate), self.gas))
        return out

    # ------------------------------------------------------------------ collecting
    def wait(self, raise_on_failure: bool = True) -> list[PendingTx]:
        """Close the phase: every receipt of the transactions sent since the last wait, in order.

        Raises TxPipeError naming each failed transaction and its decoded error (unless told not
        to). The nonce cache is dropped, so the senders may send through brownie between phases."""
        self.flush()
        phase, self.pending = self.pending, []
        self._nonces.clear()
        receipts = self._receipts([p.txid for p in phase if p.txid], phase)
        for p in phase:
            p._receipt = (
                receipts[p.txid] if p.txid else {"status": "0x0", "gasUsed": "0x0", "logs": []}
            )
        failures = []
        for p in phase:
            if int(p._receipt["status"], 16) != 1:
                p.error = p.send_error or self._why(p)
                failures.append((p.label, p.error))
        if self.keep_collected:
            self.collected += phase
        self.phases += 1
        if phase:
            self.last_collected_at = time.perf_counter()
        if failures and raise_on_failure:
            raise TxPipeError(failures)
        return phase

    def _mine(self, blocks: int) -> None:
        """Mine `blocks` blocks on a local chain whose backlog stalled: with DEFAULT_GAS declared
        per transaction a 30M-gas block holds one, so a phase sent faster than it is mined leaves
        transactions pending that no new arrival would pick up (localchain.mine_backlog)."""
        mine_backlog(
            self.rpc,
            self._client,
            lambda: self._post([_request("evm_mine", []) | {"id": i} for i in range(blocks)]),
        )

    def _receipts(self, hashes: list[str], phase: list[PendingTx]) -> dict[str, dict]:
        receipts: dict[str, dict] = {}
        todo = list(hashes)
        deadline = last_progress = time.monotonic()
        deadline += RECEIPT_TIMEOUT
        pause, stall = POLL_PAUSES[0], STALL
        head = latest(self.rpc)[0] if self._automine else 0
        while todo:
            for start in range(0, len(todo), RECEIPT_BATCH):
                part = todo[start : start + RECEIPT_BATCH]
                body = [
                    {
                        "jsonrpc": "2.0",
                        "id": i,
                        "method": "eth_getTransactionReceipt",
                        "params": [h],
                    }
                    for i, h in enumerate(part)
                ]
                for r in self._post(body):
                    if r.get("result"):
                        receipts[part[r["id"]]] = r["result"]
            left = [h for h in todo if h not in receipts]
            if len(left) < len(todo):
                last_progress = time.monotonic()
                pause, stall = POLL_PAUSES[0], STALL
            todo = left
            if todo:
                if self._automine and time.monotonic() - last_progress > stall:
                    now, moving = busy(self.rpc, head)
                    if not moving:
                        self._mine(min(MINE_STEP, self._blocks_for(todo, phase)))
                        now = latest(self.rpc)[0]
                        # a chain slow to mine is not stalled: mining again at once only adds
                        # empty blocks (each waiting agent every 0.5 s: 43 blocks for 6
                        # transactions in 10 s late in the large day), so each further nudge
                        # waits twice as long
                        stall = min(stall * 2, STALL_MAX)
                    # else: the chain mined others' transactions since the last look, so it is
                    # busy, not stalled (a block takes every ready transaction that fits); a
                    # nudge would add only an empty block, and each costs anvil its whole state
                    # (half the large day's blocks were empty, 2026-12-07)
                    head, last_progress = now, time.monotonic()
                if time.monotonic() > deadline:
                    labels = [p.label for p in phase if p.txid in set(todo)]
                    raise TxPipeTimeout(
                        [(label, f"not mined after {RECEIPT_TIMEOUT:.0f} s") for label in labels]
                    )
                # a waiting sender's polls are the node's load too: 26 agents polling every 2 ms
                # kept anvil busy answering them
                time.sleep(pause)
                pause = min(pause * 2, POLL_PAUSES[1])
        return receipts

    def _blocks_for(self, todo: list[str], phase: list[PendingTx]) -> int:
        """Blocks a stalled backlog needs: as many of its transactions a block as their declared
        gas fits (one each at the fixed limit, many at their estimates). One block per waiting
        transaction, as before, mined mostly empty blocks, each costing anvil its whole state root:
        the large day's waiting agents made 222 blocks for 95 transactions in 20 s. A nudge mines
        at most MINE_STEP of them: the first block with automine off took the whole backlog, and
        late in the large day (8.5 GB of state, each block half a second) a batch of 500 left anvil
        mining empty blocks for over ten minutes after its sender's request had timed out."""
        left = set(todo)
        most = max((int(p.tx["gas"]) for p in phase if p.txid in left), default=self.gas)
        per_block = max(1, self._block_gas // max(most, 1))
        return min(RECEIPT_BATCH, -(-len(left) // per_block))

    def _why(self, p: PendingTx) -> str:
        """Replay the failed call on the state before its block to read the revert reason."""
        call = {
            k: (hex(v) if isinstance(v, int) else v)
            for k, v in p.tx.items()
            if k in ("from", "to", "data", "gas", "value")
        }
        block = hex(max(int(p._receipt["blockNumber"], 16) - 1, 0))
        reply = self._post(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, block]}, timeout=60
        )
        if "error" not in reply and int(p._receipt.get("gasUsed", "0x0"), 16) >= p.tx["gas"]:
            return f"out of gas (limit {p.tx['gas']:,})"
        return _decode(reply.get("error") or {"message": "reverted"})

    @property
    def seconds(self) -> float:
        """From the first transaction sent to the last receipt collected (0 before any phase)."""
        if self.first_sent_at is None or self.last_collected_at is None:
            return 0.0
        return self.last_collected_at - self.first_sent_at


class SerialPipe(TxPipe):
    """A pipe whose every transaction goes through brownie's own send (its gas estimate and nonce,
    waited for), with the same interface: each send returns a PendingTx, `wait()` collects. For
    nodes where posting ahead stalls: on ganache 7.9 an agent's raw transactions stayed in the pool
    unmined (2026-12-06: `evm_mine` mined empty blocks beside them, a dev account's transfer went
    through; not understood), where brownie's sends of the same calls are mined."""

    def send(
        self,
        sender: Any,
        contract: Any,
        method: Any,
        args: tuple,
        gas: int | None = None,
        value: int = 0,
        label: str | None = None,
    ) -> PendingTx:
        from brownie.exceptions import VirtualMachineError

        label = self._label(method, label)
        self._mark_first_send()
        params: dict[str, Any] = {"from": sender}
        if value:
            params["value"] = int(value)
        if gas:
            params["gas_limit"] = int(gas)
        tx = {"from": sender.address, "to": contract.address, "value": int(value)}
        tx["data"] = method.encode_input(*args)
        try:
            txid, error = method(*args, params).txid, None
        except VirtualMachineError as exc:  # mined and reverted: named at wait(); else refused
            txid, error = getattr(exc, "txid", None) or "", str(exc)
        if txid:
            tx["gas"] = int(self.rpc("eth_getTransactionByHash", [txid])["gas"], 16)
            pending = PendingTx(self, label, tx, txid)
        else:
            pending = PendingTx(self, label, tx | {"gas": 0}, "", send_error=error)
        self.pending.append(pending)
        return pending


def serial_needed(client_version: str) -> bool:
    """Whether a node needs `SerialPipe` (ganache: see there)."""
    return "ganache" in client_version.lower()


def in_phases(pipe: TxPipe, items: list, send: Any, chunk: int = PHASE_TXS) -> list[PendingTx]:
    """`send(item)` for each item (a call through `pipe.piped(...)`), the phase closed with
    `pipe.wait()` every `chunk` transactions: a loop of independent transactions costs a round
    trip each to post and a few to collect, not a wait each. Raises TxPipeError as wait() does
    (the phases before stay collected; a caller that asks the chain first can simply retry)."""
    done: list[PendingTx] = []
    for start in range(0, len(items), chunk):
        for item in items[start : start + chunk]:
            send(item)
        done += pipe.wait()
    return done


def sign_legacy(tx: dict, key: PrivateKey) -> tuple[str, str]:
    """(raw transaction, hash) of an EIP-155 legacy transaction, signed with coincurve directly.

    The same bytes as eth_account's `sign_transaction` (deterministic RFC 6979, low s), about ten
    times faster: eth_account validates and re-encodes each transaction through several layers,
    which cost the driver 2-4 ms per transaction on this machine."""
    fields = [
        tx["nonce"],
        tx["gasPrice"],
        tx["gas"],
        bytes.fromhex(tx["to"][2:]),
        tx["value"],
        bytes.fromhex(tx["data"][2:]),
    ]
    chain_id = tx["chainId"]
    signature = key.sign_recoverable(keccak(rlp.encode([*fields, chain_id, 0, 0])), hasher=None)
    v = signature[64] + 35 + 2 * chain_id
    raw = rlp.encode(
        [*fields, v, int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")]
    )
    return "0x" + raw.hex(), "0x" + keccak(raw).hex()


def _by_size(txs: list[dict], most: int, most_bytes: int) -> list[list[dict]]:
    """The transactions in order, in parts of at most `most` and about `most_bytes` of calldata
    (a part holds at least one)."""
    parts: list[list[dict]] = []
    size = 0
    for t in txs:
        n = len(t["data"])
        if not parts or len(parts[-1]) >= most or size + n > most_bytes:
            parts.append([])
            size = 0
        parts[-1].append(t)
        size += n
    return parts


# anvil answers a read at "latest" with the state of the block that was latest when the request
# was parsed, kept among its past states (`--prune-history`): a node mining fast past a node that
# keeps few (consortium.localchain.DAY_HISTORY) can drop that block before a long batch reaches the
# read ("BlockOutOfRangeError: block height is 280 but requested was 277"). Such a read is asked
# again, at the new latest block.
LATEST_RETRIES = 3


def _past_history(reply: dict) -> bool:
    return "BlockOutOfRange" in str(reply.get("error", ""))


def _request(method: str, params: list) -> dict:
    return {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}


def _decode(err: dict) -> str:
    """A node's error object as brownie would print it: `ErrorName: args` for custom errors."""
    from consortium import chain

    data = err.get("data")
    if isinstance(data, dict):
        data = data.get("data") or data.get("result")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        try:
            return chain.decode_error(data)
        except (DecodingError, ValueError, KeyError, IndexError):  # not an error the ABIs know
            return data
    return str(err.get("message", "reverted"))


def gas_of(receipts: list[Any]) -> int:
    return sum(int(r["gasUsed"], 16) for r in receipts)
