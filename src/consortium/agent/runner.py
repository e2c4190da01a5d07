"""Starting an agent: settings, passphrase, logging, the chain connection, then `Agent.run`.

Why separate from base: this is the one place that touches brownie (through consortium.chain) and
the process (logging to agent.log, exit code), so base and the roles stay testable with fakes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from consortium.agent.base import Agent, Connected
from consortium.agent.home import AgentHome
from consortium.agent.settings import AgentSettings, load_settings
from consortium.inputs import CommandError
from consortium.keys import passphrase_from

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup_logging(home: AgentHome, echo: bool = True) -> None:
    """agent.log in the home (and stderr): what the agent did, never a key."""
    root = logging.getLogger("consortium")
    root.setLevel(logging.INFO)
    root.handlers.clear()
    handlers: list[logging.Handler] = [logging.FileHandler(home.log, encoding="utf-8")]
    if echo:
        handlers.append(logging.StreamHandler(sys.stderr))
    for h in handlers:
        h.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(h)


def deployment_record(settings: AgentSettings) -> Any:
    """The deployment record to load the suite from: agent.yaml `deployments` (a file), else the
    network's record (deployments/<network>.json, or under $CONSORTIUM_DEPLOYMENTS)."""
    from consortium import chain

    path = settings.deployments
    if path is None:
        return chain.DeploymentRecord.load(settings.network)
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise CommandError(
            f"{path}: no deployment record (agent.yaml 'deployments'); deploy first"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}: not a JSON deployment record ({exc})") from None
    chain._check_record(data, Path(path))  # the record's own checks, naming the field
    return chain.DeploymentRecord(**data)


def connect_chain(settings: AgentSettings, local: Any) -> Connected:
    """Attach to the agent's node (agent.yaml `rpc`, else the network's lasting local chain), load
    the recorded suite (checked against that chain) and add the key to brownie, in memory only."""
    from consortium import chain
    from consortium.deploy import suite_at

    chain.project()
    chain.connect(settings.network, rpc=settings.rpc, attach_local=True)
    chain.estimate_gas()  # institutions send side by side (see chain.estimate_gas)
    chain.ask_chain_id_once()
    record = deployment_record(settings)
    record.check_chain(chain.web3(), chain.rpc_url())
    suite = suite_at(record.contracts, record.block)
    account = chain.accounts().add(local.key.hex()) if local is not None else None  # None: reads
    return Connected(suite=suite, account=account, w3=chain.web3(), decode=chain.decode_logs)


def run_institution(
    institution: str, home: str | Path | None, network: str | None = None, rpc: str | None = None
) -> int:
    """`consortium agent --institution X`: run X's agent from its home, refusing another's home
    (its keystore would sign as someone else)."""
    path = AgentHome.of(institution, home).path
    settings = load_settings(path)
    if settings.institution != institution:
        raise CommandError(
            f"{path / 'agent.yaml'}: this home is the agent of {settings.institution!r}, "
            f"not {institution!r}"
        )
    return run_agent(path, network, rpc)


def run_agent(
    home: str | Path,
    network: str | None = None,
    rpc: str | None = None,
    echo: bool = True,
) -> int:
    """The life of one agent process: exit 0 after a clean stop (SIGTERM/SIGINT)."""
    settings = load_settings(home)
    if network is not None:
        settings.network = network
    if rpc is not None:
        settings.rpc = rpc
    passphrase = passphrase_from(file=settings.passphrase_file)
    home = AgentHome(settings.home)
    lock = home.lock()  # before anything is logged or sent: one process per home
    try:
        setup_logging(home, echo)
        from consortium.agent.lines import ROLE_CLASSES

        agent = Agent(settings, ROLE_CLASSES)
        # brownie prints every transaction to stdout whatever its settings (contract calls pass
        # silent=False); the agent's own account of what it did is its log
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            return agent.run(passphrase, connect_chain)
    finally:
        lock.close()
