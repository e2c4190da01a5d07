"""The two agent paths of the confirmations line that need the chain only: the products' rules
agreed (`product-rules` files approved by the sales bank and the issuer, enacted by the operations
office through the line's `govern` hook) and the reconciled day paid by the finance company.

The agents are the real runtime (consortium.agent.base.Agent over a home, its inbox, roles, store
and key) stepped in this process; they have a transport with no peer (nothing here is sent to a
counterparty). A restart is a new Agent over the same home; a restart that lost its journal is a
new Agent over a fresh home: neither approves nor pays twice, which the chain's events show.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from consortium import chain
from consortium.agent.base import Agent, Connected
from consortium.agent.lines import ROLE_CLASSES
from consortium.agent.settings import load_settings
from consortium.agent.transport import HttpTransport
from consortium.bootstrap import bootstrap_consortium
from consortium.deploy import deploy_confirmations
from consortium.domain import days
from consortium.domain.hashing import code32, doc_hash
from consortium.domain.qualification import QualificationRules
from consortium.domain.roles import ROLES as ROLE_IDS
from consortium.keys import Keystore
from consortium.scenarios import confirmations_files as conf
from consortium.scenarios.files import DayView
from tests.agent.harness import (
    PASSPHRASE,
    SEED,
    World,
    csv_text,
    demo_keys,
    drop,
    make_home,
    new_consortium,
    record_deployment,
    result_of,
)
from tests.agent.test_confirmations_agents import CONSORTIUM_YAML as AGENTS_YAML
from tests.fixtures.confirmations import countersignature

# the agents test's consortium, the sales bank also the deposit-token issuer the day's files fund
# the finance company with (conf.file_day names one)
CONSORTIUM_YAML = AGENTS_YAML.replace(
    "roles: [SALES_BANK, BANK]", "roles: [SALES_BANK, BANK, CASH_ISSUER]"
)
RULES_HEADER = ["product", "sales_bank", "issuer", "product_risk", "min_age"]
BANK_RULES = [
    ["WM-001", "sales-bank", "wm-issuer-1", 2, 18],
    ["WM-002", "sales-bank", "wm-issuer-1", 4, 18],
    ["WM-101", "sales-bank", "wm-issuer-2", 3, 21],
]


@pytest.fixture(scope="module")
def world(accounts, tmp_path_factory):
    base = tmp_path_factory.mktemp("conf-rules")
    founder = accounts[0]
    cfg_path, cfg, proj, registry, suite = new_consortium(base, CONSORTIUM_YAML, founder, "CN")
    suite.contracts.update(deploy_confirmations(proj, registry, founder))
    members, manager = bootstrap_consortium(suite, cfg, founder, accounts, SEED, fund_wei=10**20)
    keys, addresses = demo_keys(cfg)
    path = record_deployment(base, suite, founder)
    w = World(base, suite, cfg_path, path, keys, addresses, members)
    w.manager, w.cfg = manager, cfg
    return w


def _agent(world: World, ident: str, folder: Path) -> Agent:
    """The institution's agent over `folder` (made on first use), its roles started."""
    home = folder / ident
    if not (home / "agent.yaml").exists():
        make_home(world, ident, home)
    settings = load_settings(home)
    agent = Agent(settings, ROLE_CLASSES)
    agent.local = Keystore(settings.keystore).unlock(PASSPHRASE)
    account = chain.accounts().add(world.keys[ident])
    agent.attach(Connected(world.suite, account, chain.web3(), chain.decode_logs))
    agent.transport = HttpTransport(agent.store, agent.local, {})  # no counterparty here
    for role in agent.roles:
        role.start()
    return agent


def _process(agent: Agent) -> None:
    """Every file dropped: seen once, then (stable since) taken and processed."""
    agent.inbox.poll()
    for file in agent.inbox.poll():
        agent.process(file)


def _approvals(world: World) -> list:
    return list(
        world.suite.registry.events.get_sequence(world.suite.block, event_type="AmendmentApproved")
    )


def _enacted(world: World) -> list:
    return list(
        world.suite.registry.events.get_sequence(world.suite.block, event_type="AmendmentEnacted")
    )


def _view(world: World, folder: Path) -> DayView:
    homes = {i: folder / i for i in ("sales-bank", "wm-issuer-1", "wm-issuer-2")}
    sizes = {"confirmations": {"customers": 3, "orders": 4, "payments": 3}}
    return DayView(world.suite, homes, world.cfg, sizes, SEED)


def _rules(world: World, row: list) -> QualificationRules:
    pid, _, issuer, risk, age = row
    bank = world.addresses["sales-bank"]
    return QualificationRules(code32(pid), world.addresses[issuer], risk, age, sales_bank=bank)


# ------------------------------------------------------------------ product rules


def test_product_rules__both_parties_approve_once__govern_enacts__orders_screen_by_them(
    world, tmp_path
):
    bank = _agent(world, "sales-bank", tmp_path)
    view = _view(world, tmp_path)
    drop(bank.home, "product-rules-2026.csv", csv_text(RULES_HEADER, BANK_RULES))
    _process(bank)
    assert result_of(bank.home, "done", "product-rules-2026.csv")["result"]["approved"] == 3
    assert len(_approvals(world)) == 3
    conf.govern(view, world.manager)  # one party only: nothing is enacted
    assert _enacted(world) == []

    # restarted over the same home, the same rules again (rows in another order: another file to
    # the inbox): the chain says approved, no second call
    bank = _agent(world, "sales-bank", tmp_path)
    drop(bank.home, "product-rules-again.csv", csv_text(RULES_HEADER, BANK_RULES[::-1]))
    _process(bank)
    assert result_of(bank.home, "done", "product-rules-again.csv")["result"]["approved"] == 3
    assert len(_approvals(world)) == 3

    for issuer in ("wm-issuer-1", "wm-issuer-2"):
        agent = _agent(world, issuer, tmp_path)
        own = [r for r in BANK_RULES if r[2] == issuer]
        drop(agent.home, f"product-rules-{issuer}.csv", csv_text(RULES_HEADER, own))
        _process(agent)
    assert len(_approvals(world)) == 6
    conf.govern(view, world.manager)
    enacted = _enacted(world)
    assert len(enacted) == 3
    for row in BANK_RULES:
        r = _rules(world, row)
        held = world.suite.registry.getTerms(r.terms_id)
        assert bytes(held[2]) == r.terms_hash() and int(held[3]) == 1
        assert str(held[0]) == world.addresses["sales-bank"]
    conf.govern(view, world.manager)  # in force: nothing more
    assert len(_enacted(world)) == 3
    assert conf._all_enacted(view, conf._day(view))

    # an approval of rules already in force sends nothing; the outbox says so
    bank = _agent(world, "sales-bank", tmp_path)
    drop(bank.home, "product-rules-third.csv", csv_text(RULES_HEADER, BANK_RULES[:1]))
    _process(bank)
    assert result_of(bank.home, "done", "product-rules-third.csv")["result"]["approved"] == 0
    out = json.loads((bank.home.outbox / "product-rules" / "WM-001-sales-bank.json").read_text())
    assert out["status"] == "in force" and len(_approvals(world)) == 6
    # the sales bank screens by the rules it approved: every product agreed
    role = next(r for r in bank.roles if r.role == "SALES_BANK")
    agreed = role.bank.agreed_hashes()
    assert all(agreed[r.product_id] == r.terms_hash() for r in role.bank.rules.values())


def test_product_rules__a_wrong_issuer_or_no_party__refused_by_the_inbox_nothing_approved(
    world, tmp_path
):
    agent = _agent(world, "wm-issuer-2", tmp_path)
    before = len(_approvals(world))
    bad = [["WM-001", "sales-bank", "wm-issuer-2", 2, 18]]  # WM-001 is wm-issuer-1's
    drop(agent.home, "product-rules-wrong-issuer.csv", csv_text(RULES_HEADER, bad))
    other = [["WM-101", "sales-bank", "wm-issuer-2", 3, 21], BANK_RULES[0]]  # line 3 not ours
    drop(agent.home, "product-rules-other.csv", csv_text(RULES_HEADER, other))
    _process(agent)
    wrong = result_of(agent.home, "rejected", "product-rules-wrong-issuer.csv")
    assert "is issued by 'wm-issuer-1', not 'wm-issuer-2'" in wrong["reason"]
    refused = result_of(agent.home, "rejected", "product-rules-other.csv")
    assert refused["line"] == 3 and "no party to these rules" in refused["reason"]
    assert len(_approvals(world)) == before  # not even the row of its own product


def test_product_rules__the_role__another_issuer_s_row__refused(world, tmp_path):
    """The role's own guard (an institution holding both SALES_BANK and PRODUCT_ISSUER passes the
    inbox's party rule as the sales bank): an issuer approves its own products only."""
    from types import SimpleNamespace

    from consortium.agent.base import FileRefused

    agent = _agent(world, "wm-issuer-2", tmp_path)
    role = next(r for r in agent.roles if r.role == "PRODUCT_ISSUER")
    row = dict(zip(RULES_HEADER, BANK_RULES[0], strict=True)) | {"require_registered": True}
    file = SimpleNamespace(rows=[row], line_of=lambda n: n + 2, format="product-rules")
    before = len(_approvals(world))
    with pytest.raises(FileRefused, match="approves only its own products"):
        role.handle_file(file)
    assert len(_approvals(world)) == before


# ------------------------------------------------------------------ the day's payment


def _reconciled_day(world: World, day: int, total: int, breaks: int = 0) -> bytes:
    """A day of the bank and the finance company committed, closed and reconciled on chain."""
    recon = world.suite["Reconciliation"]
    bank, fc = world.addresses["sales-bank"], world.addresses["finance-company"]
    bank_acct = chain.accounts().add(world.keys["sales-bank"])
    rec_acct = chain.accounts().add(world.keys["reconciler"])
    root, fc_key = doc_hash(f"root {day}"), Account.from_key(world.keys["finance-company"])
    sig = countersignature(recon, bank, fc, day, root, 3, total, key=fc_key)
    recon.commitBilateral(fc, day, root, 3, total, sig, {"from": bank_acct})
    recon.closeDay(bank, fc, day, {"from": rec_acct})
    root = doc_hash(f"breaks {day}") if breaks else b"\0" * 32
    summary = (3 - breaks, breaks, total, total, total, total, root)
    recon.recordReconciliation(bank, fc, day, summary, {"from": rec_acct})
    return bytes(recon.dayKey(bank, fc, day))


def _fund(world: World, amount: int) -> None:
    token = chain.at("DepositToken", world.suite["Reconciliation"].settlementToken())
    issuer = str(token.issuer())
    registry = world.suite.registry
    if not registry.hasRole(issuer, ROLE_IDS["CASH_ISSUER"]):
        registry.grantRole(issuer, ROLE_IDS["CASH_ISSUER"], {"from": world.manager.account})
    token.issue(
        world.addresses["finance-company"], amount, doc_hash(f"fund {amount}"), {"from": issuer}
    )


def _result(agent: Agent, world: World, day: int, total: int) -> None:
    """The reconciler's result of the day as the finance company keeps it (`on_result`)."""
    body = {"day": day, "corrected_total": total, "breaks": [], "matched": 3}
    agent.store.put("conf.result", f"{day}:{world.addresses['reconciler'].lower()}", body)
    agent.store.put("conf.debit", f"{world.addresses['sales-bank'].lower()}:{day}", {"rows": []})


def _settled(world: World) -> list:
    recon = world.suite["Reconciliation"]
    return [e.args for e in recon.events.get_sequence(world.suite.block, event_type="DaySettled")]


def test_payment__waits_for_the_reconciled_day_and_the_funds__pays_once__restarts_pay_nothing(
    world, tmp_path
):
    now = int(chain.web3().eth.get_block("latest")["timestamp"])
    day, total = days.day_of(now) - 3, 4_321_000
    bank, fc_addr = world.addresses["sales-bank"], world.addresses["finance-company"]
    token = chain.at("DepositToken", world.suite["Reconciliation"].settlementToken())
    fc = _agent(world, "finance-company", tmp_path)
    role = next(r for r in fc.roles if r.role == "FINANCE_COMPANY")
    _result(fc, world, day, total)
    fc.step()  # nothing committed for the day yet: not reconciled, nothing paid
    assert _settled(world) == [] and not (fc.home.outbox / "payments").exists()

    _reconciled_day(world, day, total)
    fc.step()  # reconciled, but the finance company holds no funds: it waits
    assert _settled(world) == []
    _fund(world, total)
    before = int(token.balanceOf(bank))
    fc.step()
    (paid,) = _settled(world)
    assert int(paid["amount"]) == total and str(paid["bank"]) == bank
    assert int(token.balanceOf(bank)) - before == total and int(token.balanceOf(fc_addr)) == 0
    (out,) = (fc.home.outbox / "payments").glob("*.json")
    doc = json.loads(out.read_text())
    assert doc == {
        "day": days.day_date(day),
        "bank": "sales-bank",
        "amount": total,
        "payment_ref": "0x" + bytes(paid["paymentRef"]).hex(),
        "block": doc["block"],
    }
    assert doc["block"] > 0
    fc.step()
    assert len(_settled(world)) == 1

    # restarted over the same home, and over a home that lost its journal: the chain says paid
    for folder in (tmp_path, tmp_path / "lost"):
        again = _agent(world, "finance-company", folder)
        _result(again, world, day, total)
        again.step()
        assert len(_settled(world)) == 1
        assert (again.home.outbox / "payments" / out.name).exists()
    assert role.pay(bank, day) is True


def test_payment__breaks_not_all_recorded_or_another_total__not_paid(world, tmp_path):
    now = int(chain.web3().eth.get_block("latest")["timestamp"])
    bank = world.addresses["sales-bank"]
    fc = _agent(world, "finance-company", tmp_path)
    role = next(r for r in fc.roles if r.role == "FINANCE_COMPANY")
    day, total = days.day_of(now) - 4, 1_000
    _reconciled_day(world, day, total, breaks=1)  # one break recorded in the summary, none sent
    _fund(world, total)
    _result(fc, world, day, total)
    assert role.pay(bank, day) is False
    day2 = days.day_of(now) - 5
    _reconciled_day(world, day2, total)
    _result(fc, world, day2, total + 1)  # the reconciler's result says another total
    assert role.pay(bank, day2) is False
    keys = {bytes(e["dayKey"]) for e in _settled(world)}
    recon = world.suite["Reconciliation"]
    assert bytes(recon.dayKey(bank, world.addresses["finance-company"], day)) not in keys
    assert bytes(recon.dayKey(bank, world.addresses["finance-company"], day2)) not in keys
