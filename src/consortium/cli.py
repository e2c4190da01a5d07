"""`consortium` command line: the entry points behind the Makefile.

Each sub-command loads the brownie project and connects (launching a local chain on a free port
when brownie owns the chain), then calls the same functions scripts/*.py call under `brownie run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from consortium.inputs import CommandError


def _connect(
    network: str,
    port: int | None = None,
    rpc: str | None = None,
    attach_local: bool = False,
    history: int | None = None,
):
    from consortium import chain
    from consortium.localchain import DEFAULT_HISTORY

    chain.project()
    chain.connect(
        network,
        port=port,
        rpc=rpc,
        attach_local=attach_local,
        history=DEFAULT_HISTORY if history is None else history,
    )
    return chain


def _attach(args: argparse.Namespace):
    """Connect a command that works on a deployment: to --rpc, else to the lasting local chain when
    it runs (`consortium chain start`), else to a fresh chain (whose record check then says so)."""
    return _connect(args.network, rpc=args.rpc, attach_local=True)


def _without_step_tracing(network: str) -> None:
    """anvil's step tracing (needed for coverage only) holds every opcode of every transaction in
    memory: a `medium` day grew anvil past 22 GB until the kernel killed it, and at 10,000
    settlement trades the benchmark grew past 20 GB. The demo and the benchmark run without it."""
    from brownie._config import CONFIG

    CONFIG.networks.get(network, {}).get("cmd_settings", {}).pop("steps_tracing", None)


def cmd_deploy(args: argparse.Namespace) -> int:
    from consortium.config import load_consortium

    cfg = load_consortium(args.config)  # a bad file stops before any chain is touched
    chain = _attach(args)
    from consortium.bootstrap import deploy_for, token_issuers

    suite = deploy_for(chain.accounts()[0], cfg, args.seed)
    for name, address in suite.addresses().items():
        print(f"{name:32} {address}")
    for token, issuer in sorted(token_issuers(cfg, args.seed).items()):
        print(f"issuer of {token:22} {issuer}")
    print(f"recorded in {chain.DeploymentRecord.path_for(chain.network_name())}")
    if chain.is_ephemeral():
        print(
            "note: this chain stops with this command, and the deployment with it; "
            "`make chain` (consortium chain start) runs one that lasts",
            file=sys.stderr,
        )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from consortium.keys import Keystore, passphrase_from

    store = Keystore(args.keystore)
    if args.action == "address":
        print(store.address())
        return 0
    passphrase = passphrase_from(args.passphrase_env, args.passphrase_file)
    if args.action == "new":
        address = store.create(passphrase, args.scrypt_n)
    else:  # import: the key from a file, never from the command line (shell history, ps)
        if not args.private_key_file:
            raise CommandError(
                "keys import needs --private-key-file FILE (a hex key on its first line)"
            )
        try:
            with open(args.private_key_file, encoding="utf-8") as f:
                key = f.readline().strip()
        except OSError as exc:
            raise CommandError(f"{args.private_key_file}: cannot read the key ({exc})") from None
        address = store.import_key(key, passphrase, args.scrypt_n)
    print(f"{address} -> {store.path}")
    return 0


def cmd_chain(args: argparse.Namespace) -> int:
    from consortium.localchain import ChainHome

    home = ChainHome(args.home)
    if args.action == "start":
        url, started = home.start(args.kind, args.port)
        print(
            f"{args.kind} {'started' if started else 'already running'} at {url} "
            f"(state in {home.state_path(args.kind)})"
        )
    elif args.action == "stop":
        print("stopped; its state is saved" if home.stop() else "no local chain was running")
    else:
        st = home.status()
        if st["running"]:
            print(
                f"{st['kind']} running at {st['url']}: "
                f"chain {st['chain_id']}, block {st['block']}, "
                f"state in {st['state']}"
            )
        else:
            print(
                f"no local chain running (home {st['home']}); `consortium chain start` starts one"
            )
            return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from consortium.config import DEFAULT_SIZES, load_consortium, load_sizes

    # a bad consortium or sizes file stops before any chain is launched or transaction sent
    if not args.processes:
        given = [
            f"--{o.replace('_', '-')}"
            for o in ("chaos", "fast_keys", "timeout")
            if getattr(args, o)
        ]
        if given:
            raise CommandError(f"{', '.join(given)}: only with --processes (one agent each)")
    else:
        given = [f"--{o.replace('_', '-')}" for o in ("stop_after", "resume") if getattr(args, o)]
        if given:
            raise CommandError(f"{', '.join(given)}: only with --in-process (one driver process)")
    load_consortium(args.config)
    load_sizes(DEFAULT_SIZES, args.size)
    _without_step_tracing(args.network)
    from consortium.dayrun.procs import terminate_as_interrupt
    from consortium.localchain import DAY_HISTORY

    with terminate_as_interrupt():  # a SIGTERM also stops the chain this command launched
        try:
            # the day reads no past state: fewer kept states, far less memory (a large day's anvil)
            chain = _connect(args.network, args.rpc_port, args.rpc, history=DAY_HISTORY)
            if args.processes:
                from consortium.dayrun.day import run_processes_demo

                return run_processes_demo(chain.accounts(), args)
            from consortium.demo import run_demo

            return run_demo(chain.accounts(), args)
        except KeyboardInterrupt:
            print("interrupted: every process this command started is stopped", file=sys.stderr)
            return 130


def cmd_bench(args: argparse.Namespace) -> int:
    _without_step_tracing(args.network)
    chain = _connect(args.network, rpc=args.rpc)
    from consortium.bench import run_bench

    return run_bench(chain.accounts(), args)


def cmd_besu_export(args: argparse.Namespace) -> int:
    chain = _attach(args)
    from consortium import besu
    from consortium.deploy import load_suite

    suite = load_suite(chain.network_name())
    try:
        lists = besu.with_invited(besu.allowlists(suite.registry), args.invite)
    except ValueError as exc:
        raise CommandError(f"besu-export --invite: {exc}") from None
    path = besu.write_permissions_config(lists, args.out)
    print(f"{len(lists.accounts)} accounts, {len(lists.nodes)} nodes -> {path}")
    if args.push:
        for url in args.push:
            changes = besu.push(lists, url)
            print(f"{url}: {changes}")
    return 0


def _last_commit(path: str) -> str:
    """`<short hash> <date>` of the commit that last changed `path`, or "" outside a git clone."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h %cI", "--", path],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def cmd_plan(args: argparse.Namespace) -> int:
    from consortium import planning

    volumes = planning.load_volumes(args.volumes)
    results = planning.load_results(args.results)
    plan = planning.plan(volumes, results, args.results)
    plan.provenance.update(
        {"volumes": args.volumes}
        | planning.provenance(args.results, results, _last_commit(args.results))
    )
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2, default=str))
    else:
        print(planning.render(plan), end="")
    return 0


def cmd_besu_genesis(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from consortium import besu

    try:
        genesis = besu.qbft_genesis(args.validators, args.chain_id, {a: 10**24 for a in args.fund})
        besu.check_genesis(genesis)  # Besu's rules, before a node is started with it
    except ValueError as exc:  # bad addresses, chain id: nothing is written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if not out.parent.is_dir():
        print(f"error: {out.parent}: no such directory for the genesis file", file=sys.stderr)
        return 2
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(genesis, indent=2))
    tmp.replace(out)  # never a half-written genesis
    print(
        f"QBFT genesis for {len(args.validators)} validators, "
        f"chain id {args.chain_id} -> {args.out}"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    chain = _attach(args)
    from consortium.deploy import load_suite
    from consortium.portal.serve import ServeOptions, opening_keys
    from consortium.reporting import ReportingError, ReportJob, RulesError

    suite = load_suite(chain.network_name())
    reporter = chain.accounts()[args.reporter] if args.reporter is not None else None
    keys = opening_keys(
        ServeOptions(keystores=args.keystores, passphrase_file=args.passphrase_file)
    )
    try:  # no --day: the day of the latest block
        built = ReportJob(
            suite,
            args.day,
            args.regulator,
            reporter,
            rules_path=args.rules,
            db_url=args.db,
            out=args.out,
            anchor=suite["ReportAnchor"],
            dossier=report_dossier(args.config, args.seed),
            private_keys=keys or None,
        ).run()
    except (ReportingError, RulesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for b in built:
        who = b.report.get("regulatorId") or b.regulator
        print(f"{who} {b.report['date']} v{b.version}: {b.paths.get('html')}")
    return 0


DEFAULT_CONSORTIUM = "config/consortium.yaml"


def report_dossier(config: str | None, seed: int) -> Any:
    """The regulators' membership dossier: the consortium file's institutions at the addresses of
    their keys (`consortium demo --seed`), its currencies' decimals and business time zone; None
    (reports by address, as before) when no --config is given and there is no default file."""
    from eth_account import Account

    from consortium.bootstrap import institution_key
    from consortium.config import load_consortium
    from consortium.reporting.directory import Dossier

    if config is None and not os.path.exists(DEFAULT_CONSORTIUM):
        return None
    cfg = load_consortium(config or DEFAULT_CONSORTIUM)
    addresses = {
        i.id: Account.from_key(institution_key(seed, i.id)).address for i in cfg.institutions
    }
    return Dossier.of(cfg, addresses)


def cmd_verify(args: argparse.Namespace) -> int:
    from consortium.reporting.verify import load_report

    report = load_report(args.path)  # a file that is no report stops before any chain is launched
    chain = _attach(args)
    from consortium.reporting import verify_report
    from consortium.reporting.verify import anchor_address

    recorded = chain.recorded_address(chain.network_name(), "ReportAnchor")
    address = anchor_address(report, args.path, chain.web3(), chain.rpc_url(), recorded)
    result = verify_report(args.path, chain.at("ReportAnchor", address))
    print(result.summary())
    return 0 if result.ok else 1


def cmd_serve(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from consortium.portal.serve import ServeOptions, serve

    return serve(ServeOptions(**{f.name: getattr(args, f.name) for f in fields(ServeOptions)}))


def cmd_agent(args: argparse.Namespace) -> int:
    from consortium.agent.home import AgentHome

    home = AgentHome.of(args.institution, args.home)
    if args.action == "init":
        return _agent_init(args, home)
    from consortium.agent.runner import run_institution

    return run_institution(args.institution, home.path, args.network, args.rpc)


def _agent_init(args: argparse.Namespace, home: Any) -> int:
    """`consortium agent init`: folders, agent.yaml and the keystore of a new agent's home."""
    import shutil

    from consortium.agent.home import init_home
    from consortium.config import load_consortium
    from consortium.keys import passphrase_from

    cfg = load_consortium(args.consortium)
    if args.institution not in {i.id for i in cfg.institutions}:
        raise CommandError(f"{args.consortium}: no institution {args.institution!r} there")
    passphrase = passphrase_from(file=args.passphrase_file)
    key = None
    if args.import_key:
        try:
            with open(args.import_key, encoding="utf-8") as f:
                key = f.readline().strip()
        except OSError as exc:
            raise CommandError(f"{args.import_key}: cannot read the key ({exc})") from None
    elif args.key_file:
        home.path.mkdir(parents=True, exist_ok=True)
        if not home.keystore.exists():
            shutil.copyfile(args.key_file, home.keystore)
    address = init_home(
        home,
        args.institution,
        str(args.consortium),
        passphrase,
        key,
        args.scrypt_n,
        network=args.network,
        rpc=args.rpc,
        deployments=args.deployments,
        listen=args.listen,
        passphrase_file=args.passphrase_file,
    )
    print(f"{args.institution}: {address}, home {home.path}")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from consortium.agent.decisions import Decisions
    from consortium.agent.home import AgentHome
    from consortium.agent.settings import load_settings
    from consortium.store import Store

    home = AgentHome.of(args.institution, args.home)
    settings = load_settings(home.path)
    decisions = Decisions(Store(settings.store_url), home.outbox)
    if args.item is None:
        for d in decisions.queued():
            print(f"{d.item}  {d.kind}  {json.dumps(d.subject)[:120]}")
        return 0
    if args.answer is None or not args.reason:
        raise CommandError("decide ITEM needs accept or reject and --reason TEXT")
    d = decisions.answer(args.item, args.answer == "accept", args.reason)
    print(f"{d.item}: {d.answer} ({d.reason}); the agent acts on its next loop")
    return 0


def cmd_member(args: argparse.Namespace) -> int:
    """`consortium member …`: an institution joins from its agent home; the permission manager
    answers with its own keystore; `status` reads the registry."""
    from consortium.agent import onboarding as ob
    from consortium.agent.home import AgentHome
    from consortium.keys import passphrase_from

    reads = args.action == "status"
    passphrase = None if reads else passphrase_from(file=args.passphrase_file)
    if args.action in ("apply", "request-channel"):
        if not args.institution:
            raise CommandError(f"member {args.action} needs --institution ID (its agent home)")
        acting = ob.as_institution(AgentHome.of(args.institution, args.home).path, passphrase)
        if args.action == "apply":
            print(ob.apply(acting, args.dossier or ""))
        else:
            if not args.peer:
                raise CommandError("member request-channel needs --with PEER_ID")
            print(ob.request_channel(acting, args.peer, args.agreement or "cooperation agreement"))
        return 0
    auditing = args.action == "audit-qualification"
    if not args.keystore and not reads:
        whose = "the auditing institution's" if auditing else "the manager's"
        raise CommandError(f"member {args.action} needs --keystore FILE ({whose} key)")
    members = args.members or []
    wanted = {"audit": 1, "audit-qualification": 1, "open-channel": 2, "status": 1, "fund": 1}
    if len(members) != wanted[args.action]:
        raise CommandError(f"member {args.action} takes {wanted[args.action]} member address(es)")
    report = _audit_report(args) if args.action in ("audit", "audit-qualification") else ""
    acting = ob.as_manager(
        None if reads else args.keystore,
        passphrase,
        args.consortium,
        args.network,
        args.rpc,
        args.deployments,
        who="auditor" if auditing else "permission-manager",
    )
    if auditing:
        print(ob.audit_qualification(acting, members[0], args.approve, report, args.role))
    elif args.action == "audit":
        print(ob.audit(acting, members[0], args.approve, report))
    elif args.action == "open-channel":
        print(ob.open_channel(acting, *members))
    elif args.action == "fund":
        print(ob.fund(acting, members[0], args.wei))
    else:
        print(f"{members[0]}: {ob.status(acting, members[0])}")
    return 0


def _audit_report(args: argparse.Namespace) -> str | bytes:
    """The verdict and the report of `member audit` and `audit-qualification`, checked before a
    key is unlocked or the chain touched: the report's text (--report) or a file's bytes
    (--report-file), whose keccak256 is the audit hash the registry records."""
    from eth_utils import is_address

    if not is_address(args.members[0]):
        raise CommandError(f"member {args.action}: {args.members[0]!r} is not an address")
    if args.approve is None or not (args.report or args.report_file):
        raise CommandError(
            f"member {args.action} needs --approve or --reject, and --report TEXT or "
            "--report-file FILE"
        )
    if args.report_file is None:
        return str(args.report)
    try:
        with open(args.report_file, "rb") as f:
            return f.read()
    except OSError as exc:
        raise CommandError(f"{args.report_file}: cannot read the audit report ({exc})") from None


def cmd_coverage_summary(args: argparse.Namespace) -> int:
    from consortium.devtools.coverage import summarise

    return summarise(args.path, args.build, args.missing)


def _with_network(p: Any, rpc: bool = False) -> Any:
    p.add_argument("--network", default="development", help="brownie network id (default: anvil)")
    if rpc:
        p.add_argument(
            "--rpc",
            metavar="URL",
            help="the node to talk to (deploy, report, verify, besu-export: default "
            "the lasting local chain if it runs; demo, bench: a fresh chain)",
        )
    return p


def _add_setup_commands(sub: Any) -> None:
    """deploy, keys, chain."""
    dep = _with_network(sub.add_parser("deploy", help="deploy the suite and record it"), rpc=True)
    dep.add_argument(
        "--config",
        default="config/consortium.yaml",
        help="the consortium file: founder, jurisdiction and the tokens' issuers (its CSD and "
        "CASH_ISSUER)",
    )
    dep.add_argument(
        "--seed",
        type=int,
        default=20261122,
        help="seed of the institutions' keys, as `consortium demo --seed` (default: the demo's)",
    )
    dep.set_defaults(func=cmd_deploy)
    keys = sub.add_parser("keys", help="an institution's key in an encrypted (V3, scrypt) keystore")
    keys.add_argument("action", choices=("new", "import", "address"))
    keys.add_argument(
        "keystore", help="the keystore file (created by new and import, never overwritten)"
    )
    keys.add_argument(
        "--passphrase-env",
        default="CONSORTIUM_PASSPHRASE",
        metavar="NAME",
        help="environment variable holding the passphrase (default CONSORTIUM_PASSPHRASE)",
    )
    keys.add_argument(
        "--passphrase-file", metavar="FILE", help="file whose first line is the passphrase"
    )
    keys.add_argument("--private-key-file", metavar="FILE", help="import: the hex key's file")
    keys.add_argument(
        "--scrypt-n",
        type=int,
        metavar="N",
        help="scrypt cost (default eth-account's 2**18; lower only for tests)",
    )
    keys.set_defaults(func=cmd_keys)
    ch = sub.add_parser(
        "chain", help="a local chain that lasts between commands (state kept on disk)"
    )
    ch.add_argument("action", choices=("start", "stop", "status"))
    ch.add_argument("--kind", choices=("anvil", "ganache"), default="anvil")
    ch.add_argument("--port", type=int, help="port (default: the recorded one, else 8545)")
    ch.add_argument(
        "--home",
        help="folder of its state and record (default .chain/ or " "$CONSORTIUM_CHAIN_HOME)",
    )
    ch.set_defaults(func=cmd_chain)


def _add_day_commands(sub: Any) -> None:
    """demo, bench."""
    demo = _with_network(
        sub.add_parser("demo", help="run one consortium business day end to end"), rpc=True
    )
    demo.add_argument("--config", default="config/consortium.yaml")
    demo.add_argument("--size", default="quick", help="day size profile from config/day-sizes.yaml")
    demo.add_argument("--seed", type=int, default=20261122)
    demo.add_argument(
        "--out",
        default="reports",
        help="folder of the day: reports, the day's record, stores, index",
    )
    lines = ("annuity", "confirmations", "settlement", "bills")
    demo.add_argument(
        "--lines",
        nargs="+",
        choices=lines,
        metavar="LINE",
        help=f"run only these business lines (default: all of {', '.join(lines)})",
    )
    demo.add_argument(
        "--stop-after",
        metavar="LINE",
        choices=lines,
        help="--in-process: stop after this line (its events indexed); continue later with "
        "--resume",
    )
    demo.add_argument(
        "--resume",
        action="store_true",
        help="--in-process: continue the day recorded in --out (e.g. on a chain restarted from "
        "its state)",
    )
    demo.add_argument(
        "--rpc-port",
        type=int,
        metavar="PORT",
        help="attach to the local chain listening on this port instead of launching one",
    )
    _add_processes_options(demo)
    demo.set_defaults(func=cmd_demo)
    bench = _with_network(sub.add_parser("bench", help="gas and throughput benchmark"), rpc=True)
    bench.add_argument("--out", default="bench")
    bench.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    bench.set_defaults(func=cmd_bench)


def _add_processes_options(demo: Any) -> None:
    """demo --processes and its options (the multi-process day, consortium.dayrun)."""
    mode = demo.add_mutually_exclusive_group()
    mode.add_argument(
        "--processes",
        action="store_true",
        default=True,
        help="one agent process per institution, fed only by business files (the default)",
    )
    mode.add_argument(
        "--in-process",
        dest="processes",
        action="store_false",
        help="one driver process plays every institution (tests and the benchmark use it; "
        "--stop-after and --resume need it)",
    )
    demo.add_argument(
        "--chaos",
        action="store_true",
        help="--processes: SIGKILL a random agent every few seconds and restart it",
    )
    demo.add_argument(
        "--chaos-every", type=float, default=4.0, metavar="S", help="seconds between kills"
    )
    demo.add_argument(
        "--fast-keys",
        action="store_true",
        help="--processes: keystores with a low scrypt cost (2**14) for quick agent restarts",
    )
    demo.add_argument(
        "--verbose",
        action="store_true",
        help="show the chain's transaction lines (default: they go to <out>/driver.log)",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="--processes: seconds the business part may take (default: from the day's size, "
        "at least 900)",
    )


def _add_besu_commands(sub: Any) -> None:
    """besu-export, besu-genesis, plan."""
    besu = _with_network(
        sub.add_parser("besu-export", help="export Besu allowlists from the registry"), rpc=True
    )
    besu.add_argument("--out", default="config/besu/permissions_config.toml")
    besu.add_argument(
        "--push",
        nargs="*",
        default=[],
        metavar="RPC_URL",
        help="also apply the changes to running nodes over their PERM API",
    )
    besu.add_argument(
        "--invite",
        nargs="*",
        default=[],
        metavar="ADDRESS",
        help="also allow these accounts: applicants, until the audit (they must send `apply`)",
    )
    besu.set_defaults(func=cmd_besu_export)
    gen = sub.add_parser(
        "besu-genesis", help="write a QBFT genesis for the consortium's validators"
    )
    gen.add_argument(
        "--validators",
        nargs="+",
        required=True,
        metavar="ADDRESS",
        help="validator node addresses (`besu public-key export-address`)",
    )
    gen.add_argument("--chain-id", type=int, default=2026)
    gen.add_argument("--fund", nargs="*", default=[], metavar="ADDRESS")
    gen.add_argument("--out", default="config/besu/genesis.json")
    gen.set_defaults(func=cmd_besu_genesis)
    plan = sub.add_parser(
        "plan", help="the consortium at a market's volume, from the bench's measured gas"
    )
    plan.add_argument("--volumes", default="config/volumes.yaml", help="the market's volumes")
    plan.add_argument("--results", default="bench/results.json", help="`make bench`'s figures")
    plan.add_argument("--json", action="store_true", help="the plan as JSON instead of tables")
    plan.set_defaults(func=cmd_plan)


def _add_report_commands(sub: Any) -> None:
    """report, verify, coverage-summary."""
    rep = _with_network(
        sub.add_parser("report", help="build, anchor and write regulators' reports for a day"),
        rpc=True,
    )
    rep.add_argument("--day", help="YYYY-MM-DD or day number (default: the latest block's UTC day)")
    rep.add_argument(
        "--regulator", help="regulator id (reg-cn) or address (default: every regulator)"
    )
    rep.add_argument(
        "--config",
        help=f"the consortium file (default {DEFAULT_CONSORTIUM}): names of the institutions "
        "each regulator supervises, currencies' decimals, business time zone",
    )
    rep.add_argument(
        "--seed",
        type=int,
        default=20261122,
        help="seed of the institutions' keys, as `consortium demo --seed` (default: the demo's)",
    )
    rep.add_argument("--out", default="reports")
    rep.add_argument("--rules", help="reporting rules file (default config/reporting-rules.yaml)")
    rep.add_argument(
        "--db", help="SQLAlchemy URL of the regulator's index (default SQLite under --out)"
    )
    rep.add_argument(
        "--reporter",
        type=int,
        help="account index holding REPORTER, with a channel to each regulator (anchors the roots)",
    )
    rep.add_argument(
        "--keystore",
        dest="keystores",
        action="append",
        default=[],
        help="a regulator's V3 keystore ([0xREGULATOR=]PATH, repeatable): its report's HTML and "
        "CSV show its sealed fields and look-through records opened (report.json stays sealed)",
    )
    rep.add_argument("--passphrase-file", help="file whose first line is the keystores' passphrase")
    rep.set_defaults(func=cmd_report)
    ver = _with_network(
        sub.add_parser("verify", help="verify a report.json against the on-chain root"), rpc=True
    )
    ver.add_argument("path")
    ver.set_defaults(func=cmd_verify)
    _add_serve_command(sub)
    _add_watch_command(sub)
    cov = sub.add_parser("coverage-summary", help="print branch coverage from brownie's report")
    cov.add_argument("path", nargs="+", help="coverage.json of one or more runs on the same build")
    cov.add_argument("--build", help="build folder the report was measured on (default build/)")
    cov.add_argument("--missing", action="store_true", help="list each branch outcome never taken")
    cov.set_defaults(func=cmd_coverage_summary)


def cmd_watch(args: argparse.Namespace) -> int:
    from consortium.portal.serve import ServeOptions, watch

    opts = ServeOptions(
        network=args.network,
        rpc=args.rpc,
        deployments=args.deployments,
        keystores=args.keystores,
        passphrase_file=args.passphrase_file,
        homes=args.homes,
    )
    try:
        return watch(opts, args.regulator, args.from_block, args.once, args.interval)
    except KeyboardInterrupt:
        return 0


def _add_watch_command(sub: Any) -> None:
    w = _with_network(
        sub.add_parser("watch", help="a regulator's live look-through feed as blocks arrive"),
        rpc=True,
    )
    w.add_argument("--regulator", required=True, help="the regulator's address or id (--homes)")
    w.add_argument("--from-block", type=int, help="first block to read (default: recent blocks)")
    w.add_argument("--once", action="store_true", help="print what the chain holds, then stop")
    w.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    w.add_argument("--deployments", help="the deployment record (default the network's)")
    help_ = "the regulator's V3 keystore: its sealed records are opened ([0xREGULATOR=]PATH)"
    w.add_argument("--keystore", dest="keystores", action="append", default=[], help=help_)
    w.add_argument("--passphrase-file", help="file whose first line is the passphrase")
    w.add_argument("--homes", help="folder of agent homes (the regulator by its id)")
    w.set_defaults(func=cmd_watch)


def _add_serve_command(sub: Any) -> None:
    serve = _with_network(
        sub.add_parser("serve", help="the regulators' and institutions' web portal"), rpc=True
    )
    serve.add_argument("--reports", default="reports", help="the reports folder (default reports)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default local)")
    serve.add_argument("--port", type=int, default=8600)
    serve.add_argument("--deployments", help="the deployment record (default the network's)")
    keystore = "a regulator's V3 keystore: its reports' sealed fields are opened (repeatable)"
    serve.add_argument("--keystore", dest="keystores", action="append", default=[], help=keystore)
    serve.add_argument("--passphrase-file", help="file whose first line is the passphrase")
    serve.add_argument("--homes", help="folder of agent homes (institutions' inbox/outbox pages)")
    serve.add_argument("--consortium", default="config/consortium.yaml")
    serve.add_argument("--public-url", help="the URL people open, if a proxy stands in front")
    serve.set_defaults(func=cmd_serve)


def _add_agent_commands(sub: Any) -> None:
    """agent, agent init, decide."""
    agent = _with_network(
        sub.add_parser("agent", help="run an institution's agent (or `agent init` its home)"),
        rpc=True,
    )
    agent.set_defaults(network=None)  # agent.yaml's network unless given
    agent.add_argument("action", nargs="?", choices=("run", "init"), default="run")
    agent.add_argument("--institution", required=True, help="its id in the consortium file")
    agent.add_argument("--home", help="the agent's folder (default agents/<institution>)")
    agent.add_argument("--consortium", default="config/consortium.yaml", help="init: the file")
    agent.add_argument("--deployments", help="init: the deployment record the agent loads")
    agent.add_argument("--listen", help="init: host:port of the agent's HTTP endpoint")
    agent.add_argument("--passphrase-file", help="file whose first line is the passphrase")
    keys = agent.add_mutually_exclusive_group()
    keys.add_argument("--key-file", help="init: an existing V3 keystore to use")
    keys.add_argument(
        "--import", dest="import_key", metavar="FILE", help="init: a hex key file to encrypt"
    )
    keys.add_argument("--new", action="store_true", help="init: a new random key (the default)")
    agent.add_argument("--scrypt-n", type=int, help="init: scrypt cost (lower only for tests)")
    agent.set_defaults(func=cmd_agent)
    decide = sub.add_parser("decide", help="answer a decision an agent queued for a person")
    decide.add_argument("--institution", required=True)
    decide.add_argument("--home", help="the agent's folder (default agents/<institution>)")
    decide.add_argument("item", nargs="?", help="the decision (none: list the queued ones)")
    decide.add_argument("answer", nargs="?", choices=("accept", "reject"))
    decide.add_argument("--reason", help="why (kept with the answer)")
    decide.set_defaults(func=cmd_decide)
    member = _with_network(
        sub.add_parser("member", help="join the consortium (apply, channels) and answer joiners"),
        rpc=True,
    )
    member.add_argument(
        "action",
        choices=(
            "apply",
            "request-channel",
            "audit",
            "audit-qualification",
            "open-channel",
            "status",
            "fund",
        ),
    )
    member.add_argument(
        "members",
        nargs="*",
        help="audit, audit-qualification, status, fund: ADDRESS; open-channel: A B",
    )
    member.add_argument("--institution", help="apply, request-channel: its id (its agent home)")
    member.add_argument("--home", help="the agent's folder (default agents/<institution>)")
    member.add_argument("--dossier", help="apply: the application dossier's text (hashed)")
    member.add_argument("--with", dest="peer", help="request-channel: the peer's id")
    member.add_argument("--agreement", help="request-channel: the agreement's text (hashed)")
    member.add_argument(
        "--keystore",
        help="audit, open-channel, fund: the manager's keystore; audit-qualification: the "
        "auditing institution's (holding the role the audit is routed to)",
    )
    member.add_argument("--consortium", default="config/consortium.yaml")
    member.add_argument("--deployments", help="the deployment record (default the network's)")
    verdict = member.add_mutually_exclusive_group()
    verdict.add_argument("--approve", dest="approve", action="store_true", default=None)
    verdict.add_argument("--reject", dest="approve", action="store_false")
    report = member.add_mutually_exclusive_group()
    report.add_argument("--report", help="audit, audit-qualification: the report's text (hashed)")
    report.add_argument(
        "--report-file", help="audit, audit-qualification: the report's file (its bytes hashed)"
    )
    member.add_argument(
        "--role",
        help="audit-qualification: only this role (default: every routed role the pending "
        "application asks for); also an active member's later grant",
    )
    member.add_argument("--wei", type=int, default=10**20, help="fund: gas money for a local chain")
    member.add_argument("--passphrase-file", help="file whose first line is the passphrase")
    member.set_defaults(func=cmd_member)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consortium", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_setup_commands,
        _add_day_commands,
        _add_besu_commands,
        _add_report_commands,
        _add_agent_commands,
    ):
        add(sub)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:  # a malformed file, a chain without the deployment: no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
