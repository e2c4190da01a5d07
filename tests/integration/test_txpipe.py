"""TxPipe: a phase's transactions sent without waiting, receipts in order, failures named."""

import pytest

from consortium import txpipe
from consortium.chain import web3
from consortium.txpipe import (
    PendingTx,
    PipedContract,
    TxPipe,
    TxPipeError,
    gas_of,
    serial_needed,
)


@pytest.fixture(scope="module")
def broker(admit, accounts, regulator_cn):
    return admit(accounts[5], ["BROKER"], regulator=regulator_cn)


@pytest.fixture
def pipe():
    return TxPipe(web3())


def test_submit__several_senders_one_failing__others_mined_and_error_named(
    pipe, registry, broker, regulator_cn, accounts
):
    local = accounts.add()  # a locally signed sender
    accounts[0].transfer(local, 10**19)
    ops = [accounts.add() for _ in range(3)]
    for op in ops:
        pipe.submit(broker.account, registry, "addOperator", op.address)  # node-signed (unlocked)
    pipe.submit(
        local,
        registry,
        "applyForMembership",
        b"\x01" * 32,
        b"CN".ljust(32, b"\0"),
        regulator_cn.address,
        [b"\x00" * 31 + b"\x01"],
        b"\x02" * 32,
        label="bad application",
    )
    with pytest.raises(TxPipeError, match=r"bad application: RegistryUnknownRole: ") as err:
        pipe.wait()
    assert len(err.value.failures) == 1
    assert registry.operatorsOf(broker.address) == [o.address for o in ops]
    assert int(registry.getMember(local.address)[0]) == 0  # the refused application changed nothing
    assert [p.status for p in pipe.collected] == [1, 1, 1, 0]


def test_wait__phase_of_transactions__receipts_in_submission_order(
    pipe, registry, broker, accounts
):
    ops = [accounts.add() for _ in range(4)]
    sent = [pipe.submit(broker.account, registry, "addOperator", o.address) for o in ops]
    receipts = pipe.wait()
    assert receipts == sent and pipe.pending == [] and pipe.collected == sent
    assert [r["transactionHash"] for r in receipts] == [p.txid for p in sent]
    blocks = [r.block_number for r in receipts]
    assert blocks == sorted(blocks)  # one sender: its nonces keep the order
    assert gas_of([r.receipt for r in receipts]) == sum(r.gas_used for r in receipts) > 4 * 21000
    assert [r.events["OperatorAdded"]["operator"] for r in receipts] == [o.address for o in ops]
    assert pipe.phases == 1 and pipe.seconds > 0


def test_piped__role_object__sends_through_pipe_and_original_still_waits(
    pipe, registry, broker, accounts
):
    piped = pipe.piped(broker)
    assert isinstance(piped.registry, PipedContract) and broker.registry is registry
    op_a, op_b = accounts.add(), accounts.add()
    tx = piped.add_operator(op_a.address)
    assert isinstance(tx, PendingTx) and tx in pipe.pending
    assert piped.registry.memberOf(broker.address) == broker.address  # a view reads the chain
    # reading a result of a transaction in flight sends and waits for the phase so far
    assert tx.events["OperatorAdded"]["member"] == broker.address and pipe.pending == []
    brownie_tx = broker.add_operator(op_b.address)  # the console user's path is unchanged
    assert tx.timestamp <= brownie_tx.timestamp and tx.block_number < brownie_tx.block_number
    assert registry.memberOf(op_a.address) == registry.memberOf(op_b.address) == broker.address


def test_piped__object_without_contracts__returned_as_it_is(pipe):
    plain = {"prices": [1, 2], "name": "series"}
    assert pipe.piped(plain) is plain


def test_send__refused_at_send_time__named_and_nonce_reused(pipe, registry, accounts):
    poor = accounts.add()  # holds no ether: the node refuses the transaction outright
    applied = pipe.submit(poor, registry, "addOperator", accounts.add().address, label="unfunded")
    with pytest.raises(TxPipeError, match=r"unfunded: .*(?i:fund|balance)"):
        pipe.wait()
    assert applied.send_error and applied.txid == "" and applied.status == 0
    accounts[0].transfer(poor, 10**18)
    height = web3().eth.block_number
    retry = pipe.submit(poor, registry, "removeOperator", accounts.add().address, label="retry")
    with pytest.raises(
        TxPipeError, match=r"retry: Registry"
    ):  # mined (nonce 0 reused), then reverted
        pipe.wait()
    assert retry.block_number > height and int(retry.tx["nonce"]) == 0


def test_piped_method__transaction_without_sender__refused_before_sending(pipe, registry, accounts):
    height = web3().eth.block_number
    with pytest.raises(TypeError, match=r"addOperator: a transaction needs \{'from': account\}"):
        pipe.bind(registry).addOperator(accounts.add().address)
    assert pipe.pending == [] and web3().eth.block_number == height


def test_call__views_through_pipe__decoded_as_brownie_decodes(pipe, registry, broker, stranger):
    piped = pipe.bind(registry)
    assert piped.getMember(broker.address) == registry.getMember(broker.address)
    assert piped.getMember(broker.address)["status"] == 2  # named struct fields, as brownie's
    assert piped.operatorsOf(broker.address) == registry.operatorsOf(broker.address)
    assert piped.hasRole(stranger.address, b"\x00" * 32) is False
    assert pipe.pending == [] and pipe.collected == []  # reads send nothing


def test_call_batch__reads_and_refusals__each_answered_in_order(pipe, registry, broker, stranger):
    add = registry.addOperator
    height = web3().eth.block_number
    answers = pipe.call_batch(
        [
            {"to": registry.address, "data": registry.memberOf.encode_input(broker.address)},
            {"from": stranger.address, "to": registry.address, "data": add.encode_input(stranger)},
            {
                "from": broker.address,
                "to": registry.address,
                "data": add.encode_input("0x" + "00" * 20),
            },
        ]
    )
    data, error = answers[0]
    assert error is None and registry.memberOf.decode_output(data) == broker.address
    assert answers[1][0] is None
    assert answers[1][1].lower() == f"RegistryNotActiveMember: {stranger.address}, 0".lower()
    assert answers[2][0] is None and answers[2][1].startswith("RegistryZeroAddress")
    assert pipe.call_batch([]) == []
    assert pipe.pending == [] and web3().eth.block_number == height  # nothing sent


def test_call_many__views_in_batches__same_as_one_by_one(
    pipe, registry, broker, stranger, regulator_cn, accounts
):
    who = [broker.address, stranger.address, regulator_cn.address, accounts[0].address] * 2
    many = pipe.call_many(registry, "getMember", [(a,) for a in who], chunk=3)  # 3 batches
    assert many == [registry.getMember(a) for a in who]
    assert [m["status"] for m in many[:2]] == [2, 0]  # named struct fields, as brownie's
    assert pipe.call_many(pipe.bind(registry), "memberOf", [(broker.address,)]) == [
        registry.memberOf(broker.address)
    ]
    assert pipe.call_many(registry, "getMember", []) == []


def test_call_many__no_contract_at_the_address__raises_naming_the_call(pipe, registry, stranger):
    from types import SimpleNamespace

    nothing = SimpleNamespace(address=stranger.address, getMember=registry.getMember)  # no code
    with pytest.raises(ValueError, match=r"getMember\('0x[0-9a-fA-F]{40}',\): no data returned"):
        pipe.call_many(nothing, "getMember", [(stranger.address,)])


@pytest.fixture
def backlog(pipe):
    """The node stops mining on arrival, as a local chain's backlog does once the sends stop (it
    mines one block per arriving transaction and a block holds one at the pipe's gas limit)."""
    anvil = "anvil" in str(web3().client_version).lower()
    pipe.rpc("evm_setAutomine", [False]) if anvil else pipe.rpc("miner_stop", [])
    yield
    pipe.rpc("evm_setAutomine", [True]) if anvil else pipe.rpc("miner_start", [])


def test_brownie_send__chain_leaves_it_pending__its_waiting_sender_mines_a_block(
    backlog, registry, broker, accounts
):
    op, start = accounts.add(), web3().eth.block_number
    tx = registry.addOperator(op.address, {"from": broker.account})
    assert tx.status == 1 and tx.block_number == start + 1  # one block, mined by the sender
    assert registry.operatorsOf(broker.address)[-1] == op.address


def test_wait__backlog_left_unmined__local_chain_mines_it(
    pipe, backlog, registry, broker, accounts
):
    ops = [accounts.add() for _ in range(3)]
    start = web3().eth.block_number
    sent = [pipe.submit(broker.account, registry, "addOperator", o.address) for o in ops]
    assert web3().eth.block_number == start  # nothing mined by the sends
    assert pipe.wait() == sent and [p.status for p in sent] == [1, 1, 1]
    assert registry.operatorsOf(broker.address)[-3:] == [o.address for o in ops]


def test_estimate__each_transaction_declares_its_estimate_times_the_buffer_a_refusal_the_reverting_limit(
    registry, broker, regulator_cn, accounts
):
    pipe = TxPipe(web3(), estimate=1.25, reverting_gas=7_000_000)
    op = accounts.add()
    data = registry.addOperator.encode_input(op.address)
    estimate = web3().eth.estimate_gas(
        {"from": broker.address, "to": registry.address, "data": data}
    )
    added = pipe.submit(broker.account, registry, "addOperator", op.address)
    refused = pipe.submit(broker.account, registry, "removeOperator", accounts.add().address)
    kept = pipe.submit(
        broker.account, registry, "addOperator", accounts.add().address, gas=2 * estimate
    )
    with pytest.raises(TxPipeError) as err:
        pipe.wait()
    assert added.tx["gas"] == int(estimate * 1.25) and added.status == 1
    assert refused.tx["gas"] == 7_000_000 and refused.status == 0  # mined, named
    assert [label for label, _ in err.value.failures] == [refused.label]
    assert kept.tx["gas"] == 2 * estimate and kept.status == 1  # a limit given is kept
    assert TxPipe(web3()).estimate is None  # without it: the fixed limit, as before


def test_serial_pipe__brownie_sends_each_same_interface_refusal_named_at_wait(
    registry, broker, accounts
):
    from consortium.txpipe import SerialPipe, serial_needed

    pipe = SerialPipe(web3())
    op = accounts.add()
    added = pipe.submit(broker.account, registry, "addOperator", op.address)
    assert added.txid and added.collected is False  # mined already, collected at the wait
    refused = pipe.submit(broker.account, registry, "removeOperator", accounts.add().address)
    with pytest.raises(TxPipeError, match="removeOperator") as err:
        pipe.wait()
    assert [label for label, _ in err.value.failures] == [refused.label]
    assert added.status == 1 and refused.status == 0
    assert added.events["OperatorAdded"]["operator"] == op.address
    assert added.tx["gas"] == web3().eth.get_transaction(added.txid)["gas"]  # brownie's choice
    assert registry.operatorsOf(broker.address)[-1] == op.address
    assert serial_needed("Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2/ethereum-js")
    assert not serial_needed("anvil/v1.7.1") and not serial_needed("besu/v24.12.2")


def test_estimate__sends_queued_until_the_phase_closes__estimates_in_one_batch(
    registry, broker, accounts, monkeypatch
):
    pipe = TxPipe(web3(), estimate=1.25, reverting_gas=7_000_000)
    batches = []
    real_batch = pipe.batch
    monkeypatch.setattr(pipe, "batch", lambda m, p: batches.append((m, len(p))) or real_batch(m, p))
    height = web3().eth.block_number
    ops = [accounts.add().address for _ in range(3)]
    sent = [pipe.submit(broker.account, registry, "addOperator", op) for op in ops]
    assert web3().eth.block_number == height and all(s.txid == "" for s in sent)  # queued
    pipe.wait()
    assert batches == [("eth_estimateGas", 3)]  # one round trip for the phase's estimates
    assert [s.status for s in sent] == [1, 1, 1]
    assert [int(s.tx["nonce"]) for s in sent] == list(
        range(sent[0].tx["nonce"], sent[0].tx["nonce"] + 3)
    )
    assert list(registry.operatorsOf(broker.address))[-3:] == ops  # posted in the order sent


def test_estimate__a_step_depending_on_an_earlier_one_of_the_phase__gets_the_reverting_limit_and_runs(
    registry, broker, accounts
):
    pipe = TxPipe(web3(), estimate=1.25, reverting_gas=7_000_000)
    op = accounts.add().address
    added = pipe.submit(broker.account, registry, "addOperator", op)
    removed = pipe.submit(broker.account, registry, "removeOperator", op)  # needs the add first
    pipe.wait()
    assert added.status == 1 and removed.status == 1
    assert removed.tx["gas"] == 7_000_000  # its estimate, on the phase's starting state, reverted
    assert op not in list(registry.operatorsOf(broker.address))


def test_estimate__node_fails_while_posting__the_rest_fails_as_not_sent_and_the_pipe_goes_on(
    registry, broker, accounts, monkeypatch
):
    monkeypatch.setattr(txpipe, "SEND_BATCH", 2)  # the phase's three sends in two batches
    pipe = TxPipe(web3(), estimate=1.25, reverting_gas=7_000_000)
    real_post, posts = pipe._post, []

    def flaky(body, timeout=120):
        first = body[0] if isinstance(body, list) else body
        if first["method"].startswith("eth_send"):
            posts.append(body)
            if len(posts) == 2:
                raise ConnectionResetError("reset by peer")
        return real_post(body, timeout)

    monkeypatch.setattr(pipe, "_post", flaky)
    sent = [
        pipe.submit(broker.account, registry, "addOperator", accounts.add().address)
        for _ in range(3)
    ]
    with pytest.raises(ConnectionResetError):
        pipe.wait()
    phase = pipe.wait(raise_on_failure=False)  # what was queued is collected, failures named
    assert phase == sent
    assert [s.status for s in sent] == [1, 1, 0], [s.error for s in sent]
    assert sent[2].error.startswith("not sent: ConnectionResetError")
    again = pipe.submit(broker.account, registry, "addOperator", accounts.add().address)
    pipe.wait()  # the nonce asked again of the node: no gap left by the lost send
    assert again.status == 1 and int(again.tx["nonce"]) == int(sent[1].tx["nonce"]) + 1


def test_estimate__a_phase_s_sends__one_json_rpc_batch(registry, broker, accounts, monkeypatch):
    pipe = TxPipe(web3(), estimate=1.25, reverting_gas=7_000_000)
    real_post, sends = pipe._post, []

    def counting(body, timeout=120):
        if isinstance(body, list) and body[0]["method"].startswith("eth_send"):
            sends.append(len(body))
        return real_post(body, timeout)

    monkeypatch.setattr(pipe, "_post", counting)
    sent = [
        pipe.submit(broker.account, registry, "addOperator", accounts.add().address)
        for _ in range(8)
    ]
    pipe.wait()
    # how many blocks the batch shares is the chain's scheduling (anvil's automine mines on arrival
    # and usually packs a batch into a few blocks, but a clean-clone CI run saw eight): not asserted
    assert sends == [8] and [s.status for s in sent] == [1] * 8


def test_estimate__refused_in_the_middle_of_a_batch__a_no_op_takes_its_nonce_the_rest_runs(
    registry, broker, accounts
):
    if serial_needed(str(web3().client_version)):
        pytest.skip(
            "ganache answers a send behind a nonce gap once it is mined: its agents send serially"
        )
    pipe = TxPipe(web3(), estimate=1.25, reverting_gas=7_000_000)
    ops = [accounts.add().address for _ in range(3)]
    first = pipe.submit(broker.account, registry, "addOperator", ops[0])
    refused = pipe.submit(broker.account, registry, "addOperator", ops[1], gas=20_000)
    last = pipe.submit(broker.account, registry, "addOperator", ops[2])
    with pytest.raises(TxPipeError, match=r"addOperator#1: .*(?i:intrinsic gas)"):
        pipe.wait()
    assert (first.status, refused.status, last.status) == (1, 0, 1)
    assert refused.txid == "" and int(last.tx["nonce"]) == int(first.tx["nonce"]) + 2
    filler = web3().eth.get_transaction_by_block(last.block_number, 0)
    if filler["nonce"] != refused.tx["nonce"]:  # the no-op may have been mined a block earlier
        filler = web3().eth.get_transaction_by_block(last.block_number - 1, -1)
    assert filler["nonce"] == refused.tx["nonce"] and filler["to"] == broker.address
    assert filler["value"] == 0 and filler["input"] in (b"", "0x")
    operators = list(registry.operatorsOf(broker.address))
    assert ops[0] in operators and ops[2] in operators and ops[1] not in operators


def test_estimate__batch_of_sends_refused_as_a_whole__named_and_the_nonces_asked_again(
    registry, broker, accounts, monkeypatch
):
    pipe = TxPipe(web3(), estimate=1.25, reverting_gas=7_000_000)
    real_post = pipe._post
    refuse = {"on": True}

    def refusing(body, timeout=120):
        if refuse["on"] and isinstance(body, list) and body[0]["method"].startswith("eth_send"):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "too big"}}
        return real_post(body, timeout)

    monkeypatch.setattr(pipe, "_post", refusing)
    sent = [
        pipe.submit(broker.account, registry, "addOperator", accounts.add().address)
        for _ in range(2)
    ]
    with pytest.raises(TxPipeError, match=r"a batch of 2 sends: .*too big"):
        pipe.wait()
    phase = pipe.wait(raise_on_failure=False)
    assert phase == sent and all(s.error.startswith("not sent: TxPipeError") for s in sent)
    refuse["on"] = False
    again = pipe.submit(broker.account, registry, "addOperator", accounts.add().address)
    pipe.wait()
    assert again.status == 1 and int(again.tx["nonce"]) == int(sent[0].tx["nonce"])
