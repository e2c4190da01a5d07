"""A bank joins a running consortium from its own agent home (`consortium member …`).

The institution applies with the key of its own keystore, the permission manager audits and opens
the channel with the key of *its* keystore; each refusal of the registry comes back as one sentence
naming the contract's error (exit 2), and nothing else changes.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from consortium import cli
from consortium.agent.home import AgentHome, init_home
from consortium.domain.hashing import doc_hash
from consortium.keys import Keystore
from tests.agent.harness import CONSORTIUM_YAML, PASSPHRASE, SCRYPT_N, make_world, rpc_url

# the founder of the test chains: account 0 of the mnemonic both anvil and ganache are started with
FOUNDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
LATE = "late-trustee"
APPLIED, ACTIVE = 1, 2  # IConsortiumRegistry.MemberStatus


@pytest.fixture(scope="module")
def joining(accounts, tmp_path_factory):
    if Account.from_key(FOUNDER_KEY).address != accounts[0].address:
        pytest.skip("this chain's account 0 is not the mnemonic's: the founder's key is unknown")
    base = tmp_path_factory.mktemp("onboarding")
    world = make_world(base / "world", accounts[0], accounts)
    cfg = base / "consortium.yaml"  # the consortium file once the new bank is in it
    cfg.write_text(
        CONSORTIUM_YAML.replace(
            "channels:",
            f"  - {{id: {LATE}, name: A late trustee bank, jurisdiction: CN, roles: [TRUSTEE]}}\n"
            "channels:",
        )
    )
    manager = base / "manager.json"
    Keystore(manager).import_key(FOUNDER_KEY, PASSPHRASE, SCRYPT_N)
    home = AgentHome(base / "homes" / LATE)
    fields = {"rpc": rpc_url(), "deployments": str(world.record)}
    address = init_home(
        home,
        LATE,
        str(cfg),
        PASSPHRASE,
        None,
        SCRYPT_N,
        addresses={"reg-cn": world.addresses["reg-cn"], "trustee": world.addresses["trustee"]},
        **fields,
    )
    other = AgentHome(base / "homes" / "orphan")  # knows no regulator address
    init_home(other, LATE, str(cfg), PASSPHRASE, None, SCRYPT_N, **fields)
    outsider = base / "outsider.json"  # a key that is not the permission manager's
    Keystore(outsider).import_key(world.keys["trustee"], PASSPHRASE, SCRYPT_N)
    return world, home, other, address, manager, outsider, cfg, fields


def run(capsys, monkeypatch, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("CONSORTIUM_PASSPHRASE", PASSPHRASE)
    capsys.readouterr()
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def manager_args(joining, keystore=None) -> list[str]:
    _, _, _, _, manager, _, cfg, fields = joining
    return [
        "--keystore",
        str(keystore or manager),
        "--consortium",
        str(cfg),
        "--rpc",
        fields["rpc"],
        "--deployments",
        fields["deployments"],
    ]


def test_member__apply_audit_channel__the_bank_joins_with_its_own_key(
    joining, capsys, monkeypatch, accounts
):
    world, home, _, address, _, _, _, _ = joining
    registry = world.suite.registry
    code, out, _ = run(capsys, monkeypatch, "member", "fund", address, *manager_args(joining))
    assert code == 0 and address in out

    code, out, _ = run(capsys, monkeypatch, "member", "apply", "--institution", LATE,
                       "--home", str(home.path), "--dossier", "licence 2026-17")  # fmt: skip
    assert code == 0 and "applied for TRUSTEE under reg-cn" in out
    member = registry.getMember(address)
    assert member["status"] == APPLIED and member["regulator"] == world.addresses["reg-cn"]

    code, out, _ = run(capsys, monkeypatch, "member", "audit", address, "--approve",
                       "--report", "qualification audit passed", *manager_args(joining))  # fmt: skip
    assert code == 0 and "approved; now active, roles TRUSTEE" in out
    assert registry.isActive(address)

    code, out, _ = run(capsys, monkeypatch, "member", "request-channel", "--institution", LATE,
                       "--home", str(home.path), "--with", "trustee")  # fmt: skip
    assert code == 0 and registry.channelRequest(address, world.addresses["trustee"])[0] == address
    # not countersigned by the trustee yet: the manager's opening is refused, named, nothing opens
    code, _, err = run(capsys, monkeypatch, "member", "open-channel", address,
                       world.addresses["trustee"], *manager_args(joining))  # fmt: skip
    assert code == 2 and "RegistryChannelNotCountersigned" in err
    assert not registry.channelOpen(address, world.addresses["trustee"])
    trustee = accounts.add(world.keys["trustee"])  # the counterparty countersigns: same agreement
    registry.requestChannel(address, doc_hash("cooperation agreement"), {"from": trustee})
    assert registry.channelCountersigned(address, world.addresses["trustee"])
    code, out, _ = run(capsys, monkeypatch, "member", "open-channel", address,
                       world.addresses["trustee"], *manager_args(joining))  # fmt: skip
    assert code == 0 and registry.channelOpen(address, world.addresses["trustee"])

    code, out, _ = run(capsys, monkeypatch, "member", "status", address,
                       "--rpc", rpc_url(), "--deployments", str(world.record))  # fmt: skip
    assert code == 0 and out.strip() == f"{address}: active, roles TRUSTEE"


def test_member__refusals__one_sentence_named_and_nothing_changes(joining, capsys, monkeypatch):
    world, home, other, address, _, outsider, _, _ = joining
    registry = world.suite.registry
    newcomer = Account.from_key(Keystore(other.keystore).unlock(PASSPHRASE).key).address
    before = registry.getMember(newcomer)

    # a home that does not know its regulator's address: nothing is sent
    code, _, err = run(capsys, monkeypatch, "member", "apply", "--institution", LATE,
                       "--home", str(other.path))  # fmt: skip
    assert code == 2 and "`addresses` has no 'reg-cn'" in err
    assert registry.getMember(newcomer) == before

    # a key without gas money on a chain with a gas price: said, nothing sent
    code, _, err = run(capsys, monkeypatch, "member", "apply", "--institution", LATE,
                       "--home", str(home.path))  # fmt: skip
    assert code == 2 and "no funds for gas" in err and "consortium member fund" in err
    assert registry.getMember(address)["status"] == 0

    # an application made twice: the registry's error, named
    assert run(capsys, monkeypatch, "member", "fund", address, *manager_args(joining))[0] == 0
    args = ["member", "apply", "--institution", LATE, "--home", str(home.path)]
    assert run(capsys, monkeypatch, *args)[0] == 0
    code, _, err = run(capsys, monkeypatch, *args)
    assert code == 2 and "the application refused by the registry: RegistryAlreadyApplied" in err
    assert registry.getMember(address)["status"] == APPLIED

    # an audit by a key that is not the permission manager's
    code, _, err = run(capsys, monkeypatch, "member", "audit", newcomer, "--approve",
                       "--report", "x", *manager_args(joining, outsider))  # fmt: skip
    assert code == 2 and "the audit refused by the registry: " in err
    assert registry.getMember(newcomer) == before

    # missing parts of the command
    code, _, err = run(capsys, monkeypatch, "member", "audit", newcomer, *manager_args(joining))
    assert code == 2 and "--approve or --reject" in err
    code, _, err = run(capsys, monkeypatch, "member", "audit", newcomer, "--approve",
                       "--report", "x")  # fmt: skip
    assert code == 2 and "needs --keystore" in err
