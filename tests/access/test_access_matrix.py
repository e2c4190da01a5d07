"""ABI-driven access matrix over the whole deployed suite (see matrix.py)."""

import brownie
import pytest

from consortium.deploy import deploy_all
from consortium.domain.hashing import doc_hash
from consortium.domain.roles import ROLE_NAMES, ROLES
from consortium.roles.membership import Institution

from .abi import state_changing
from .matrix import MATRIX

ZERO32 = b"\x00" * 31 + b"\x01"


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


def _grant_all(registry, admin, who, roles):
    for r in roles:
        if not registry.hasRole(who, ROLES[r]):
            registry.grantRole(who, ROLES[r], {"from": admin})


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
    pm.admit(suspended, ["BROKER"], reg.address)
    _grant_all(registry, registry_admin, suspended.address, ROLE_NAMES)
    pm.suspend(suspended.address, "matrix")
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
    # one member per distinct allowed-role set, holding every other role; made here, in the module
    # fixture, because per-test isolation would roll back a member made inside a test
    made, operators = {}, {}
    role_sets = sorted({tuple(sorted(r.roles)) for fns in MATRIX.values() for r in fns.values()})
    for i, key in enumerate(role_sets):
        inst = Institution(f"all-but {key}", accounts.add(), registry, "CN")
        registry_admin.transfer(inst.account, 10**20, silent=True)
        others = [r for r in ROLE_NAMES if r not in key]
        pm.admit(inst, others[:1], reg.address)
        _grant_all(registry, registry_admin, inst.address, others)
        made[key] = inst.account
        operators[key] = accounts.add()
        registry_admin.transfer(operators[key], 10**20, silent=True)
        inst.add_operator(operators[key].address)

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


@pytest.mark.parametrize("cname,fname,who", list(_cases()))
def test_matrix__wrong_caller__reverts_with_named_error(contracts, callers, cname, fname, who):
    if cname not in contracts:
        pytest.skip(f"{cname} is not deployed by deploy_all")
    contract = contracts[cname]
    rule = MATRIX[cname][fname]
    fn_abi = state_changing(contract.abi)[fname]
    args = _args(fn_abi, callers["member"])
    for i, v in rule.args.items():
        args[i] = v(callers) if callable(v) else v
    account, pattern = _caller(callers, rule, who)
    overloads = getattr(contract, fname)
    with brownie.reverts(revert_pattern=pattern):
        overloads(*args, {"from": account})


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
