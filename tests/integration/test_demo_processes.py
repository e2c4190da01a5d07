"""The main job as a consortium of processes: a small day (the annuity line's agents) on the test's
chain, each institution its own OS process fed only by its business files; then with the chaos
monkey; then interrupted. Afterwards no agent process is left, checked by pid."""

from __future__ import annotations

import io
import os
import re
import signal
import stat
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from consortium.bootstrap import institution_key
from consortium.dayrun import day as dayrun
from consortium.dayrun import run_processes_day
from consortium.dayrun.launcher import memory_of
from consortium.localchain import pid_alive
from tests.integration.processes import (
    SEED,
    assert_no_agent_left,
    assert_one_clean_agent_each,
    failed,
    options,
    play,
)

ANNUITY_AGENTS = {"annuity-platform", "trustee", "account-manager", "investment-manager"}


# the annuity line's institutions only (fewer to admit): for the chaos, interrupt and deadline days
SMALL_CONSORTIUM = """\
version: 1
consortium: {name: Small consortium, founder: Operations office, jurisdiction: CN}
jurisdictions:
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-cn, name: Regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: reporter, name: Reporting node, jurisdiction: CN, roles: [REPORTER]}
  - {id: annuity-platform, name: Annuity platform, jurisdiction: CN, roles: [ANNUITY_PLATFORM]}
  - {id: trustee, name: Trustee, jurisdiction: CN, roles: [TRUSTEE]}
  - {id: account-manager, name: Account manager, jurisdiction: CN, roles: [ACCOUNT_MANAGER]}
  - {id: investment-manager, name: Investment manager, jurisdiction: CN,
     roles: [INVESTMENT_MANAGER]}
channels:
  - [annuity-platform, trustee]
  - [annuity-platform, account-manager]
  - [trustee, investment-manager]
  - [reporter, reg-cn]
currencies: [CNY]
products:
  annuity_plans:
    - {id: conservative, items: {money-market: 6000, bond-fund: 4000}}
    - {id: balanced, items: {money-market: 2000, bond-fund: 4000, equity-fund: 4000}}
"""


def _small(out, **kw):
    return options(out, "annuity", SMALL_CONSORTIUM, **kw)


@pytest.fixture(scope="module")
def day(accounts, tmp_path_factory):
    out = tmp_path_factory.mktemp("processes-day")
    return play(accounts, out, "annuity"), out


def test_processes_day__annuity_agents__every_check_and_report_passes(day):
    outcome, _ = day
    assert outcome.ok, failed(outcome)
    (annuity,) = outcome.results
    assert annuity.line == "annuity" and len(annuity.checks) >= 7
    assert annuity.checks["every input file processed"]
    assert annuity.counts == {
        "employees": 2,
        "contributions": 4,
        "instructions": 5,
        "resets": 1,
        "resets_confirmed_by_trustee": 1,
    }
    assert annuity.checks["every reset confirmed by the trustee before it was executed"]
    assert annuity.transactions > 0 and annuity.gas > 0
    assert outcome.reports["ok"] and outcome.reports["regulators"]
    assert all("verified on chain" in v for v in outcome.reports["regulators"].values())
    assert outcome.kills == 0


def test_processes_day__summary_ends_with_the_portal_and_each_regulators_report_page(day):
    outcome, out = day
    shown = io.StringIO()
    assert dayrun.print_summary(outcome, Console(file=shown, width=400)) == 0
    lines = shown.getvalue().strip().splitlines()
    portal = next(i for i, line in enumerate(lines) if "regulators' portal" in line)
    assert f"consortium serve --reports {out}" in lines[portal]
    pages = lines[portal + 1 :]
    assert pages and len(pages) == len(outcome.reports["regulators"])
    for line in pages:
        m = re.search(
            r"http://127\.0\.0\.1:8600/regulators/(reg-[a-z]+)/reports/([0-9-]+)/v(\d+)/ +\((.+)\)$",
            line,
        )
        assert m, line
        assert m[4] == str(out / m[1] / m[2] / f"v{m[3]}" / "report.html")
        if m[1] == "reg-cn":  # its annuity institutions by name
            assert "Annuity service platform" in Path(m[4]).read_text()


def test_processes_day__one_agent_per_annuity_institution__figures_from_chain_and_homes(day):
    outcome, out = day
    stats = assert_one_clean_agent_each(outcome, out, ANNUITY_AGENTS)
    # the platform's enrolments and switch, the trustee's two payrolls
    assert (stats["annuity-platform"].processed, stats["trustee"].processed) == (2, 2)


def test_processes_day__afterwards__no_agent_process_left(day):
    assert_no_agent_left(day[0], ANNUITY_AGENTS)


def test_processes_day__keys__encrypted_with_a_day_passphrase_only_the_owner_reads(day):
    _, out = day
    mode = stat.S_IMODE((out / "passphrase").stat().st_mode)
    assert mode == 0o600
    needles = []
    for ident in ANNUITY_AGENTS:
        key = institution_key(SEED, ident).lower().removeprefix("0x")
        needles += [key.encode(), ("0x" + key).encode()]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "keystore.json" for p in files)
    for path in files:
        text = path.read_bytes().lower()
        assert not [n for n in needles if n in text], f"a private key in {path}"


def test_processes_day__chaos__agents_killed_and_restarted_the_day_still_passes(accounts, tmp_path):
    outcome = play(
        accounts,
        tmp_path,
        "annuity",
        SMALL_CONSORTIUM,
        chaos=True,
        chaos_every=2,
        chaos_min_kills=3,
    )
    assert outcome.kills >= 3, outcome.agents
    assert outcome.ok, failed(outcome)
    assert sum(a.starts for a in outcome.agents) == len(ANNUITY_AGENTS) + outcome.kills
    assert not [pid for pid in outcome.pids if pid_alive(pid)]


def test_processes_day__interrupted__every_agent_stopped(accounts, tmp_path, monkeypatch):
    """Ctrl-C while the day runs (its handler raises KeyboardInterrupt): no agent outlives it.

    Before that, while they run: each agent is a process, session and group of its own (the
    driver signals the group; a Ctrl-C at the terminal never reaches it), all forked from one
    server that is not the driver, and the day's memory counts the pages they share once."""
    started: list[int] = []
    seen: dict = {}
    real = dayrun._follow

    def interrupted(day, console):
        started.extend(day.procs.pids)
        assert all(pid_alive(p) for p in started)
        procs = [psutil.Process(p) for p in started]
        seen["parents"] = {p.ppid() for p in procs}
        seen["groups"] = {p.pid: (os.getpgid(p.pid), os.getsid(p.pid)) for p in procs}
        seen["memory"] = memory_of(started)
        seen["resident"] = sum(p.memory_info().rss for p in procs)
        os.kill(os.getpid(), signal.SIGINT)  # the driver's handler: unwind
        real(day, console)

    monkeypatch.setattr(dayrun, "_follow", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_processes_day(accounts, _small(tmp_path, reports=False), Console(quiet=True))
    assert len(started) == len(ANNUITY_AGENTS)
    assert not [pid for pid in started if pid_alive(pid)]
    assert len(seen["parents"]) == 1 and seen["parents"] != {os.getpid()}
    assert all(group == (pid, pid) for pid, group in seen["groups"].items())
    assert 0 < seen["memory"] < seen["resident"]  # shared pages once, the server's included


def test_processes_day__deadline_passed__named_and_every_agent_stopped(accounts, tmp_path):
    opts = _small(tmp_path, reports=False)
    opts.timeout = 0.5
    with pytest.raises(dayrun.DayTimeout, match="waiting for annuity"):
        run_processes_day(accounts, opts, Console(quiet=True))
    homes = [tmp_path / "agents" / ident for ident in ANNUITY_AGENTS]
    pids = [int((home / "agent.lock").read_text()) for home in homes]  # each agent wrote its pid
    assert not [pid for pid in pids if pid_alive(pid)]
    for home in homes:  # SIGTERM, not a kill: the step in flight was booked
        assert "stopped cleanly" in (home / "agent.log").read_text()


def test_demo__chaos_in_process__refused_before_any_transaction(capsys):
    from consortium import chain
    from consortium.cli import main as cli_main

    height = chain.web3().eth.block_number
    assert cli_main(["demo", "--in-process", "--chaos", "--fast-keys"]) == 2
    assert "--chaos, --fast-keys: only with --processes" in capsys.readouterr().err
    assert chain.web3().eth.block_number == height


def test_demo__stop_after_without_in_process__refused_before_any_transaction(capsys):
    """The multi-process day is the default; stopping and resuming a day is the driver's."""
    from consortium import chain
    from consortium.cli import main as cli_main

    height = chain.web3().eth.block_number
    assert cli_main(["demo", "--stop-after", "annuity", "--resume"]) == 2
    assert "--stop-after, --resume: only with --in-process" in capsys.readouterr().err
    assert chain.web3().eth.block_number == height
