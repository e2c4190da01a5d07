"""The auditing institution's command (`consortium member audit-qualification`, issue 18, source 002:
the audit terminal performs the qualification audit of a supply-chain client's application).

The auditor audits with the key of its own keystore; the permission manager's approval, refused
before a pass (RegistryQualificationNotPassed), grants the roles after it. Every refusal is one
sentence naming what went wrong (exit 2), and nothing is sent: no nonce moves, no state changes.
"""

from __future__ import annotations

import brownie
import pytest
from brownie import web3
from eth_account import Account

from consortium.bootstrap import bootstrap_consortium, institution_key
from consortium.domain.hashing import doc_hash
from consortium.domain.roles import ROLE_BY_ID, ROLES
from consortium.keys import Keystore
from consortium.roles.membership import Institution
from tests.agent.harness import (
    PASSPHRASE,
    SCRYPT_N,
    SEED,
    demo_keys,
    new_consortium,
    record_deployment,
    rpc_url,
)
from tests.agent.test_onboarding import FOUNDER_KEY, run

CLIENT, ISSUER, TRANSFEROR = "SUPPLY_CHAIN_CLIENT", "BILL_ISSUER", "BILL_TRANSFEROR"
NONE, APPLIED, ACTIVE, REJECTED = 0, 1, 2, 4  # IConsortiumRegistry.MemberStatus
REPORT_PDF = b"%PDF-1.7 qualification audit of the applicant\n\x00\x01\xff"

CONSORTIUM_YAML = """\
version: 1
consortium: {name: Audit test consortium, founder: Test permission manager, jurisdiction: CN}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: Test regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: auditor, name: Audit institution, jurisdiction: CN, roles: [AUDITOR]}
  - id: core
    name: Core enterprise
    jurisdiction: CN
    roles: [SUPPLY_CHAIN_CLIENT, BILL_ISSUER, BILL_TRANSFEROR]
  - {id: tier1, name: Tier-1 supplier, jurisdiction: CN, roles: [SUPPLY_CHAIN_CLIENT]}
  - {id: trustee, name: Test trustee, jurisdiction: CN, roles: [TRUSTEE]}
channels: []
currencies: [CNY]
"""


@pytest.fixture(scope="module")
def qc(accounts, tmp_path_factory):
    """A registry whose supply-chain client roles are routed to AUDITOR (bootstrap routes them, the
    auditor passed core's and tier1's audits), its deployment record, the keystores of the
    auditor, the trustee (no AUDITOR) and the permission manager, and an audit report file."""
    if Account.from_key(FOUNDER_KEY).address != accounts[0].address:
        pytest.skip("this chain's account 0 is not the mnemonic's: the founder's key is unknown")
    base = tmp_path_factory.mktemp("qualification")
    founder = accounts[0]
    cfg_path, cfg, _, registry, suite = new_consortium(base, CONSORTIUM_YAML, founder, "CN")
    members, manager = bootstrap_consortium(suite, cfg, founder, accounts, SEED, fund_wei=10**20)
    record = record_deployment(base, suite, founder)
    keys, addresses = demo_keys(cfg)
    stores = {}
    for who, key in (("manager", FOUNDER_KEY), *((i, keys[i]) for i in ("auditor", "trustee"))):
        stores[who] = base / f"{who}.json"
        Keystore(stores[who]).import_key(key, PASSPHRASE, SCRYPT_N)
    report = base / "audit-report.pdf"
    report.write_bytes(REPORT_PDF)
    chain_args = ["--rpc", rpc_url(), "--deployments", str(record), "--consortium", str(cfg_path)]
    return {
        "registry": registry,
        "members": members,
        "manager": manager,
        "addresses": addresses,
        "stores": stores,
        "chain": chain_args,
        "report": report,
        "suite": suite,
    }


@pytest.fixture
def applicant(qc, accounts):
    """A newcomer (funded, not yet applied) and a function applying with the given roles."""
    account = accounts.add(institution_key(SEED, "newcomer"))
    accounts[0].transfer(account, 10**19, silent=True)
    inst = Institution("new supplier", account, qc["registry"], "CN")
    regulator = qc["addresses"]["reg-cn"]
    return inst, lambda roles: inst.apply(roles, regulator, "supplier dossier")


def qualify(qc, capsys, monkeypatch, who: str, *args: str) -> tuple[int, str, str]:
    """`consortium member audit-qualification …` with `who`'s keystore."""
    store = ["--keystore", str(qc["stores"][who])]
    return run(capsys, monkeypatch, "member", "audit-qualification", *args, *store, *qc["chain"])


def manager_audit(qc, capsys, monkeypatch, address: str, verdict: str) -> tuple[int, str, str]:
    store = ["--keystore", str(qc["stores"]["manager"])]
    return run(capsys, monkeypatch, "member", "audit", address, verdict, "--report",
               "joining audit", *store, *qc["chain"])  # fmt: skip


def state(qc, who: str) -> tuple:
    """What an audit could change, and every nonce that would move if anything were sent."""
    registry, addresses = qc["registry"], qc["addresses"]
    return (
        int(registry.getMember(who)["status"]),
        tuple(registry.rolesOf(who)),
        tuple(registry.qualificationPassed(who, ROLES[r]) for r in (CLIENT, ISSUER, TRANSFEROR)),
        tuple(web3.eth.get_transaction_count(addresses[i]) for i in ("auditor", "trustee")),
        web3.eth.get_transaction_count(qc["manager"].address),
    )


def audited_hashes(qc, applicant: str) -> dict[str, bytes]:
    """{role name: auditHash} of the QualificationAudited events of `applicant`."""
    events = qc["registry"].events.get_sequence(
        qc["suite"].block, event_type="QualificationAudited"
    )
    return {
        ROLE_BY_ID[bytes(e.args["role"])]: bytes(e.args["auditHash"])
        for e in events
        if e.args["applicant"] == applicant
    }


def test_audit_qualification__approve__the_manager_then_grants_the_roles(
    qc, applicant, capsys, monkeypatch
):
    inst, apply = applicant
    registry = qc["registry"]
    apply([CLIENT, ISSUER])
    # before the auditor's pass, the permission manager's approval is refused, named
    code, _, err = manager_audit(qc, capsys, monkeypatch, inst.address, "--approve")
    assert code == 2 and "RegistryQualificationNotPassed" in err
    assert registry.getMember(inst.address)["status"] == APPLIED

    code, out, err = qualify(qc, capsys, monkeypatch, "auditor", inst.address, "--approve",
                             "--report-file", str(qc["report"]))  # fmt: skip
    assert code == 0, err
    assert f"qualification for {CLIENT}, {ISSUER} passed" in out
    assert f"(consortium member audit {inst.address} --approve)" in out
    assert registry.qualificationPassed(inst.address, ROLES[CLIENT])
    assert registry.qualificationPassed(inst.address, ROLES[ISSUER])
    # the report file's bytes, hashed as the contract takes it (keccak256, bytes32)
    expected = doc_hash(REPORT_PDF)
    assert audited_hashes(qc, inst.address) == {CLIENT: expected, ISSUER: expected}

    code, out, _ = manager_audit(qc, capsys, monkeypatch, inst.address, "--approve")
    assert code == 0 and "approved; now active" in out
    assert {bytes(r) for r in registry.rolesOf(inst.address)} == {ROLES[CLIENT], ROLES[ISSUER]}


def test_audit_qualification__role_of_an_active_member__the_manager_then_grants_it(
    qc, capsys, monkeypatch
):
    """A later grant: tier1, active with SUPPLY_CHAIN_CLIENT, is audited for the transfer right."""
    registry, manager = qc["registry"], qc["manager"]
    tier1 = qc["addresses"]["tier1"]
    with brownie.reverts(revert_pattern=r"RegistryQualificationNotPassed:.*"):
        manager.registry.grantRole(tier1, ROLES[TRANSFEROR], {"from": manager.account})
    code, out, err = qualify(qc, capsys, monkeypatch, "auditor", tier1, "--approve",
                             "--role", TRANSFEROR, "--report", "transfer right: checked")  # fmt: skip
    assert code == 0, err
    assert f"qualification for {TRANSFEROR} passed" in out and "(grantRole)" in out
    assert audited_hashes(qc, tier1)[TRANSFEROR] == doc_hash("transfer right: checked")
    tx = manager.registry.grantRole(tier1, ROLES[TRANSFEROR], {"from": manager.account})
    assert tx.events["RoleGranted"]["member"] == tier1
    assert registry.hasRole(tier1, ROLES[TRANSFEROR])


def test_audit_qualification__reject__the_manager_cannot_grant(qc, applicant, capsys, monkeypatch):
    inst, apply = applicant
    registry = qc["registry"]
    apply([CLIENT, ISSUER])
    code, out, err = qualify(qc, capsys, monkeypatch, "auditor", inst.address, "--reject",
                             "--report", "invoices do not match the orders")  # fmt: skip
    assert code == 0, err
    assert f"qualification for {CLIENT}, {ISSUER} failed" in out
    assert not registry.qualificationPassed(inst.address, ROLES[CLIENT])
    assert not registry.qualificationPassed(inst.address, ROLES[ISSUER])
    assert set(audited_hashes(qc, inst.address)) == {CLIENT, ISSUER}
    code, _, err = manager_audit(qc, capsys, monkeypatch, inst.address, "--approve")
    assert code == 2 and "RegistryQualificationNotPassed" in err
    code, out, _ = manager_audit(qc, capsys, monkeypatch, inst.address, "--reject")
    assert code == 0 and registry.getMember(inst.address)["status"] == REJECTED
    assert list(registry.rolesOf(inst.address)) == []


def test_audit_qualification__reject_one_role_after_a_pass__withdraws_that_pass(
    qc, applicant, capsys, monkeypatch
):
    inst, apply = applicant
    registry = qc["registry"]
    apply([CLIENT, ISSUER])
    code, _, err = qualify(qc, capsys, monkeypatch, "auditor", inst.address, "--approve",
                           "--report", "both checked")  # fmt: skip
    assert code == 0, err
    code, out, err = qualify(qc, capsys, monkeypatch, "auditor", inst.address, "--reject",
                             "--role", ISSUER, "--report", "issue right withdrawn")  # fmt: skip
    assert code == 0 and f"qualification for {ISSUER} failed" in out, err
    assert registry.qualificationPassed(inst.address, ROLES[CLIENT])
    assert not registry.qualificationPassed(inst.address, ROLES[ISSUER])
    code, _, err = manager_audit(qc, capsys, monkeypatch, inst.address, "--approve")
    assert code == 2 and "RegistryQualificationNotPassed" in err


def test_audit_qualification__nothing_pending__refused_before_sending(
    qc, applicant, capsys, monkeypatch
):
    inst, apply = applicant
    core = qc["addresses"]["core"]
    cases = [
        (inst.address, [], f"{inst.address}: none, no pending application"),  # never applied
        (core, [], "active, no pending application (an active member's later grant: --role"),
        (core, ["--role", ISSUER], f"already holds {ISSUER}"),
    ]
    for who, extra, said in cases:
        before = state(qc, who)
        code, _, err = qualify(qc, capsys, monkeypatch, "auditor", who, "--approve",
                               "--report", "r", *extra)  # fmt: skip
        assert code == 2 and f"error: NothingPending: {who}" in err and said in err, err
        assert state(qc, who) == before
    apply([CLIENT])  # the application does not ask for the issue right
    before = state(qc, inst.address)
    code, _, err = qualify(qc, capsys, monkeypatch, "auditor", inst.address, "--approve",
                           "--role", ISSUER, "--report", "r")  # fmt: skip
    assert code == 2 and "NothingPending" in err
    assert f"asks for {CLIENT}, not {ISSUER}" in err
    assert state(qc, inst.address) == before


def test_audit_qualification__no_routed_role__refused_before_sending(
    qc, applicant, capsys, monkeypatch
):
    inst, apply = applicant
    apply(["TRUSTEE"])  # the permission manager audits a trustee alone
    before = state(qc, inst.address)
    for extra in ([], ["--role", "TRUSTEE"]):
        code, _, err = qualify(qc, capsys, monkeypatch, "auditor", inst.address, "--approve",
                               "--report", "r", *extra)  # fmt: skip
        assert code == 2 and "error: NoRoutedRole: TRUSTEE: no auditing role is routed" in err
        assert "consortium member audit" in err
        assert state(qc, inst.address) == before
    # once the manager unroutes the issue right, an audit of it is refused the same way
    qc["manager"].route_audit(ISSUER, None)
    tier1 = qc["addresses"]["tier1"]
    before = state(qc, tier1)
    code, _, err = qualify(qc, capsys, monkeypatch, "auditor", tier1, "--approve",
                           "--role", ISSUER, "--report", "r")  # fmt: skip
    assert code == 2 and f"NoRoutedRole: {ISSUER}" in err
    assert state(qc, tier1) == before


def test_audit_qualification__not_the_routed_auditor__refused_before_sending(
    qc, applicant, capsys, monkeypatch
):
    inst, apply = applicant
    apply([CLIENT, ISSUER])
    before = state(qc, inst.address)
    code, _, err = qualify(qc, capsys, monkeypatch, "trustee", inst.address, "--approve",
                           "--report", "r")  # fmt: skip
    trustee = qc["addresses"]["trustee"]
    assert code == 2 and f"error: NotRoutedAuditor: {trustee} does not hold AUDITOR" in err
    assert state(qc, inst.address) == before
    # a suspended auditor holds no active grant: refused the same way
    qc["manager"].suspend(qc["addresses"]["auditor"], "licence under review")
    before = state(qc, inst.address)
    code, _, err = qualify(qc, capsys, monkeypatch, "auditor", inst.address, "--approve",
                           "--report", "r")  # fmt: skip
    assert code == 2 and "NotRoutedAuditor" in err
    assert state(qc, inst.address) == before


def test_audit_qualification__registry_refusal__named_and_nothing_sent(qc, capsys, monkeypatch):
    """The auditor auditing its own later grant passes the command's checks; the registry's dry
    run refuses it (RegistrySelfQualification), named, and no transaction is sent."""
    auditor = qc["addresses"]["auditor"]
    before = state(qc, auditor)
    code, _, err = qualify(qc, capsys, monkeypatch, "auditor", auditor, "--approve",
                           "--role", ISSUER, "--report", "r")  # fmt: skip
    assert code == 2
    assert (
        f"qualification audit of {ISSUER} refused by the registry: RegistrySelfQualification" in err
    )
    assert state(qc, auditor) == before


@pytest.mark.parametrize(
    "argv, said",
    [
        (["0x12", "--approve", "--report", "r"], "'0x12' is not an address"),
        (["{core}", "--report", "r"], "needs --approve or --reject, and --report TEXT"),
        (["{core}", "--approve"], "--report-file FILE"),
        (
            ["{core}", "--approve", "--report", "r", "--role", "ASTRONAUT"],
            "--role ASTRONAUT: no such",
        ),
        (["{core}", "--approve", "--report-file", "/nonexistent/r.pdf"], "cannot read the audit"),
        (["{core}", "{core}", "--approve", "--report", "r"], "takes 1 member address"),
    ],
)
def test_audit_qualification__bad_command__said_and_nothing_sent(
    qc, capsys, monkeypatch, argv, said
):
    core = qc["addresses"]["core"]
    before = state(qc, core)
    code, _, err = qualify(qc, capsys, monkeypatch, "auditor", *(a.format(core=core) for a in argv))
    assert code == 2 and said in err, err
    assert state(qc, core) == before


def test_audit_qualification__without_keystore__said(qc, capsys, monkeypatch):
    core = qc["addresses"]["core"]
    code, _, err = run(capsys, monkeypatch, "member", "audit-qualification", core, "--approve",
                       "--report", "r", *qc["chain"])  # fmt: skip
    assert code == 2 and "needs --keystore FILE (the auditing institution's key)" in err
