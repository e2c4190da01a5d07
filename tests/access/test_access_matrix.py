"""ABI-driven access matrix over the whole deployed suite (see matrix.py).

Each refused row is asked as an eth_call, all rows in one JSON-RPC batch at the module's state: a
refusal reverts the same whether it is called or sent (a reverted transaction changes nothing but
the sender's nonce and gas), so the batch asks each row's question for one round trip instead of a
transaction, its revert-reason lookup and a snapshot revert each (~0.3 s a row on ganache).
test_matrix__sent_refusal__same_named_error_as_the_call sends one row per contract as a real
transaction, so the two stay the same question.
"""

import re

import brownie
import pytest

from consortium.chain import web3
from consortium.deploy import deploy_all
from consortium.domain.hashing import doc_hash
from consortium.domain.roles import ROLE_NAMES, ROLES
from consortium.roles.membership import Institution
from consortium.txpipe import TxPipe

from .abi import state_changing
from .matrix import MATRIX

ZERO32 = b"\x00" * 31 + b"\x01"


@pytest.fixture(autouse=True)
def isolation(module_isolation):
    """The rows send nothing (one eth_call batch): no snapshot and revert per row; the test that
    sends asks for fn_isolation itself."""


@pytest.fixture(scope="module")
def suite(registry_admin):
    return deploy_all(registry_admin, record=False)


@pytest.fixture(scope="module")
def contracts(suite):
    """{matrix name: contract}: "Name:label" keys collapse to the contract name (one of each)."""
    found = {"ConsortiumRegistry": suite.registry}
    for key, c in suite.contracts.items():
        found.setdefault(key.split(":")[0], c)
    return found


@pytest.fixture(scope="module")
def callers(suite, registry_admin, manager, regulator_cn, accounts, stranger):
    """stranger, an applicant not yet audited, a suspended member holding every role, and factories
    for 'a member holding every role but these' and an operator acting for that member."""
    registry = suite.registry
    pm = manager.__class__(manager.name, registry_admin, registry, "CN")
    # regulator on the suite's own registry
    reg = Institution("regulator", accounts[1], registry, "CN")
    pm.admit(reg, ["REGULATOR"], None)
    suspended = Institution("suspended", accounts[17], registry, "CN")
    pm.admit(suspended, ["BROKER"], reg.address)  # every role below; suspended once granted
    applicant = accounts.add()
    registry_admin.transfer(applicant, 10**20, silent=True)
    registry.applyForMembership(
        doc_hash("applicant"),
        b"CN".ljust(32, b"\0"),
        reg.address,
        [ROLES["BROKER"]],
        doc_hash("dossier"),
        {"from": applicant},
    )
    # one member per distinct allowed-role set, holding every other role, and its operator. Some
    # 600 grants: sent through a TxPipe in three phases (application; audit; grants and operators)
    # rather than one brownie call-and-wait each (~2 minutes on ganache)
    role_sets = sorted({tuple(sorted(r.roles)) for fns in MATRIX.values() for r in fns.values()})
    made = {key: Institution(f"all-but {key}", accounts.add(), registry, "CN") for key in role_sets}
    operators = {key: accounts.add() for key in role_sets}
    for account in [i.account for i in made.values()] + list(operators.values()):
        registry_admin.transfer(account, 10**20, silent=True)
    pipe = TxPipe(web3(), gas=2_000_000)  # many a block; a grant takes ~100,000
    others = {key: [r for r in ROLE_NAMES if r not in key] for key in role_sets}
    for key, inst in made.items():
        pipe.piped(inst).apply(others[key][:1], reg.address)
    pipe.wait()
    for inst in made.values():
        pipe.piped(pm).audit(inst.address, True, f"qualification audit of {inst.name}: passed")
    pipe.wait()
    held = {suspended.address: "BROKER"} | {made[k].address: others[k][0] for k in role_sets}
    grants = [(suspended.address, ROLE_NAMES)] + [(made[k].address, others[k]) for k in role_sets]
    for who, roles in grants:
        for r in roles:
            if r != held[who]:
                pipe.submit(registry_admin, registry, "grantRole", who, ROLES[r])
    for key, inst in made.items():
        pipe.piped(inst).add_operator(operators[key].address)
    pipe.wait()
    pm.suspend(suspended.address, "matrix")
    made = {key: inst.account for key, inst in made.items()}

    return {
        "stranger": stranger,
        "applicant": applicant,
        "suspended": suspended.account,
        "all_but": lambda roles: made[tuple(sorted(roles))],
        "operator_of_all_but": lambda roles: operators[tuple(sorted(roles))],
        "member": reg.address,
    }


def _dummy(abi_type: str, member: str):
    if abi_type.endswith("]"):
        return []
    if abi_type == "address":
        return member
    if abi_type.startswith(("uint", "int")):
        return 1
    if abi_type == "bool":
        return True
    if abi_type == "string":
        return "enode://" + "ab" * 64 + "@127.0.0.1:30303"
    if abi_type.startswith("bytes"):
        n = int(abi_type[5:] or 32)
        return b"\x00" * (n - 1) + b"\x01"
    raise NotImplementedError(abi_type)


def _args(fn_abi, member):
    def build(inp):
        if inp["type"].startswith("tuple"):
            inner = tuple(build(c) for c in inp["components"])
            return [] if inp["type"].endswith("]") else inner
        return _dummy(inp["type"], member)

    return [build(i) for i in fn_abi["inputs"]]


def _whos(rule):
    """The callers a rule refuses (see matrix.py)."""
    if rule.kind == "open":
        return ()
    if rule.kind == "refused":
        return ("stranger", "applicant", "suspended", "every_role")
    whos = ("stranger", "applicant", "suspended")
    if rule.missing_role_error:
        whos += ("wrong_role",) + (("wrong_role_operator",) if rule.kind == "role" else ())
    return whos + (("not_party",) if rule.not_party_error else ())


def _cases():
    for cname, fns in MATRIX.items():
        for fname, rule in fns.items():
            for who in _whos(rule):
                yield pytest.param(cname, fname, who, id=f"{cname}.{fname}-{who}")


def _caller(callers, rule, who):
    """(account, expected revert pattern) for one refused caller of `rule`."""
    if rule.kind == "refused":
        account = callers["all_but"](()) if who == "every_role" else callers[who]
        return account, rule.missing_role_error
    if who == "wrong_role":
        return callers["all_but"](rule.roles), rule.missing_role_error
    if who == "wrong_role_operator":  # acts for a member without the role
        return callers["operator_of_all_but"](rule.roles), rule.missing_role_error
    if who == "not_party":  # holds every role, but is not the member the contract names
        return callers["all_but"](()), rule.not_party_error
    return callers[who], r"RegistryNotActiveMember:.*"


def _row(contracts, callers, cname, fname, who):
    """(contract method, its arguments, the refused account, the expected error pattern)."""
    contract = contracts[cname]
    rule = MATRIX[cname][fname]
    fn_abi = state_changing(contract.abi)[fname]
    args = _args(fn_abi, callers["member"])
    for i, v in rule.args.items():
        args[i] = v(callers) if callable(v) else v
    account, pattern = _caller(callers, rule, who)
    method = getattr(contract, fname)
    if hasattr(method, "methods"):  # overloaded: the ABI entry the arguments were built for
        method = method[[i["type"] for i in fn_abi["inputs"]]]
    return method, args, account, pattern


@pytest.fixture(scope="module")
def refusals(contracts, callers):
    """{(contract, function, caller): the error its eth_call reverted with, or None if it did not
    revert}, every row of the matrix in one JSON-RPC batch."""
    rows = [p.values for p in _cases() if p.values[0] in contracts]
    calls = []
    for row in rows:
        method, args, account, _ = _row(contracts, callers, *row)
        calls.append(
            {"from": account.address, "to": method._address, "data": method.encode_input(*args)}
        )
    return {row: error for row, (_, error) in zip(rows, TxPipe(web3()).call_batch(calls))}


@pytest.mark.parametrize("cname,fname,who", list(_cases()))
def test_matrix__wrong_caller__reverts_with_named_error(
    contracts, callers, refusals, cname, fname, who
):
    if cname not in contracts:
        pytest.skip(f"{cname} is not deployed by deploy_all")
    _, _, account, pattern = _row(contracts, callers, cname, fname, who)
    error = refusals[cname, fname, who]
    assert error is not None, f"{cname}.{fname} from {who} ({account}) did not revert"
    assert re.fullmatch(pattern, error), f"{cname}.{fname} from {who}: {error!r} is not {pattern}"


@pytest.mark.parametrize("cname", list(MATRIX))
def test_matrix__sent_refusal__same_named_error_as_the_call(
    fn_isolation, contracts, callers, refusals, cname
):
    """One row per contract sent as a transaction: mined, reverted with the error the batched call
    gave (so the call and the transaction are the same question)."""
    if cname not in contracts:
        pytest.skip(f"{cname} is not deployed by deploy_all")
    row = next((p.values for p in _cases() if p.values[0] == cname), None)
    if row is None:
        pytest.skip(f"{cname} refuses nobody by caller (every function open)")
    method, args, account, pattern = _row(contracts, callers, *row)
    assert re.fullmatch(pattern, refusals[row])
    with brownie.reverts(refusals[row]):
        method(*args, {"from": account})


def test_matrix__covers_every_state_changing_function(contracts):
    missing = []
    for cname, contract in contracts.items():
        listed = MATRIX.get(cname, {})
        for fname in state_changing(contract.abi):
            if fname not in listed:
                missing.append(f"{cname}.{fname}")
    assert not missing, f"add access rules to tests/access/matrix.py for: {missing}"


def test_matrix__lists_no_function_that_does_not_exist(contracts):
    stale = [
        f"{c}.{f}"
        for c, fns in MATRIX.items()
        if c in contracts
        for f in fns
        if f not in state_changing(contracts[c].abi)
    ]
    assert not stale, stale
