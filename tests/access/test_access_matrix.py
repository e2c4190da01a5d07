"""ABI-driven access matrix over the whole deployed suite (see matrix.py)."""

import brownie
import pytest

from consortium.deploy import deploy_all
from consortium.domain.roles import ROLE_NAMES, ROLES
from consortium.roles.membership import Institution

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
    """stranger, a suspended member holding every role, and a factory for 'every role but these'."""
    registry = suite.registry
    pm = manager.__class__(manager.name, registry_admin, registry, "CN")
    # regulator on the suite's own registry
    reg = Institution("regulator", accounts[1], registry, "CN")
    pm.admit(reg, ["REGULATOR"], None)
    suspended = Institution("suspended", accounts[17], registry, "CN")
    pm.admit(suspended, ["BROKER"], reg.address)
    _grant_all(registry, registry_admin, suspended.address, ROLE_NAMES)
    pm.suspend(suspended.address, "matrix")
    # one member per distinct allowed-role set, holding every other role; made here, in the module
    # fixture, because per-test isolation would roll back a member made inside a test
    made = {}
    role_sets = sorted({tuple(sorted(r.roles)) for fns in MATRIX.values() for r in fns.values()})
    for i, key in enumerate(role_sets):
        inst = Institution(f"all-but {key}", accounts.add(), registry, "CN")
        registry_admin.transfer(inst.account, 10**20, silent=True)
        others = [r for r in ROLE_NAMES if r not in key]
        pm.admit(inst, others[:1], reg.address)
        _grant_all(registry, registry_admin, inst.address, others)
        made[key] = inst.account

    def all_but(roles: tuple[str, ...]):
        return made[tuple(sorted(roles))]

    return {
        "stranger": stranger,
        "suspended": suspended.account,
        "all_but": all_but,
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


def _state_changing(contract):
    return {
        x["name"]: x
        for x in contract.abi
        if x["type"] == "function" and x["stateMutability"] not in ("view", "pure")
    }


def _cases():
    for cname, fns in MATRIX.items():
        for fname, rule in fns.items():
            if rule.kind != "open":
                whos = ("stranger", "suspended") + (
                    ("wrong_role",) if rule.missing_role_error else ()
                )
                whos += ("not_party",) if rule.not_party_error else ()
                for who in whos:
                    yield pytest.param(cname, fname, who, id=f"{cname}.{fname}-{who}")


@pytest.mark.parametrize("cname,fname,who", list(_cases()))
def test_matrix__wrong_caller__reverts_with_named_error(contracts, callers, cname, fname, who):
    if cname not in contracts:
        pytest.skip(f"{cname} is not deployed by deploy_all")
    contract = contracts[cname]
    rule = MATRIX[cname][fname]
    fn_abi = _state_changing(contract)[fname]
    args = _args(fn_abi, callers["member"])
    for i, v in rule.args.items():
        args[i] = v(callers) if callable(v) else v
    if who == "wrong_role":
        account = callers["all_but"](rule.roles)
        pattern = rule.missing_role_error
    elif who == "not_party":  # holds every role, but is not the member the contract names
        account = callers["all_but"](())
        pattern = rule.not_party_error
    else:
        account = callers[who]
        pattern = r"RegistryNotActiveMember:.*"
    overloads = getattr(contract, fname)
    with brownie.reverts(revert_pattern=pattern):
        overloads(*args, {"from": account})


def test_matrix__covers_every_state_changing_function(contracts):
    missing = []
    for cname, contract in contracts.items():
        listed = MATRIX.get(cname, {})
        for fname in _state_changing(contract):
            if fname not in listed:
                missing.append(f"{cname}.{fname}")
    assert not missing, f"add access rules to tests/access/matrix.py for: {missing}"


def test_matrix__lists_no_function_that_does_not_exist(contracts):
    stale = [
        f"{c}.{f}"
        for c, fns in MATRIX.items()
        if c in contracts
        for f in fns
        if f not in _state_changing(contracts[c])
    ]
    assert not stale, stale
