"""`consortium serve`: the portal assembled from the command's options and run.

Where things come from: the suite's addresses from the deployment record (`deployments/<network>
.json`, or --deployments), checked against the node (its chain id, the registry's code); the node
from --rpc, else the lasting local chain (`consortium chain start`); the reports folder from
--reports; the regulators' opening keys from their V3 keystores (--keystore, unlocked once at start
with $CONSORTIUM_PASSPHRASE or --passphrase-file, held in memory only); institutions' names and
agent homes from --homes (each `<dir>/<id>/` with its agent.yaml and keystore.json) and the
consortium file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from consortium.inputs import CommandError
from consortium.keys import Keystore, passphrase_from
from consortium.portal.auth import Sessions, SignIn

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class ServeOptions:
    reports: Path = Path("reports")
    host: str = "127.0.0.1"
    port: int = 8600
    network: str = "development"
    rpc: str | None = None
    deployments: Path | None = None
    keystores: list[str] = field(default_factory=list)  # [0xREGULATOR=]PATH
    passphrase_file: Path | None = None
    homes: Path | None = None
    consortium: Path = Path("config/consortium.yaml")
    public_url: str | None = None  # the URL people type, when a proxy stands in front


def deployment_addresses(opts: ServeOptions) -> dict[str, str]:
    """{suite key: address} of the recorded deployment; CommandError naming the file otherwise."""
    base = Path(os.environ.get("CONSORTIUM_DEPLOYMENTS") or ROOT / "deployments")
    path = opts.deployments or base / f"{opts.network}.json"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        contracts = dict(data["contracts"])
        if "ConsortiumRegistry" not in contracts:
            raise KeyError("contracts.ConsortiumRegistry")
    except FileNotFoundError:
        raise CommandError(f"{path}: no deployment recorded; deploy first") from None
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: not a deployment record ({exc})") from None
    return {"__chain_id__": str(data.get("chain_id", "")), **contracts}


def node_url(opts: ServeOptions) -> str:
    if opts.rpc:
        return opts.rpc
    from consortium.localchain import ChainHome

    url = ChainHome().running()
    if url is None:
        raise CommandError(
            "no node: pass --rpc URL, or start the lasting local chain (`make chain`)"
        )
    return url


def opening_keys(opts: ServeOptions) -> dict[str, bytes]:
    """{regulator address (lower): private key} from the regulators' keystores.

    `--keystore PATH` opens for the keystore's own address (the channel key is the member's key);
    `--keystore 0xREGULATOR=PATH` for a regulator whose encryption key is a key of its own."""
    if not opts.keystores:
        return {}
    passphrase = passphrase_from(file=opts.passphrase_file)
    out = {}
    for item in opts.keystores:
        named, _, path = str(item).rpartition("=")
        account = Keystore(path).unlock(passphrase)
        out[(named or account.address).lower()] = bytes(account.key)
    return out


def homes_and_names(opts: ServeOptions) -> tuple[dict[str, Path], dict[str, str]]:
    """({address: agent home}, {address: name}) from the agent homes under --homes."""
    if opts.homes is None:
        return {}, {}
    from consortium.config import load_consortium

    names_by_id = {}
    if Path(opts.consortium).exists():
        names_by_id = {i.id: i.name for i in load_consortium(opts.consortium).institutions}
    homes, names = {}, {}
    for keystore in sorted(Path(opts.homes).glob("*/keystore.json")):
        address = Keystore(keystore).address().lower()
        homes[address] = keystore.parent
        names[address] = names_by_id.get(keystore.parent.name, keystore.parent.name)
    return homes, names


def build_portal(opts: ServeOptions):  # -> Portal
    from web3 import Web3

    from consortium.portal.app import Portal
    from consortium.portal.chainview import ChainView

    addresses = deployment_addresses(opts)
    recorded_chain = addresses.pop("__chain_id__")
    url = node_url(opts)
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    if recorded_chain and int(recorded_chain) != int(w3.eth.chain_id):
        raise CommandError(
            f"the deployment is on chain {recorded_chain}, the node at {url} is chain "
            f"{w3.eth.chain_id}: pass --rpc with the URL of the chain that holds it"
        )
    if len(w3.eth.get_code(addresses["ConsortiumRegistry"])) == 0:
        raise CommandError(f"no registry at {addresses['ConsortiumRegistry']} on the node at {url}")
    view = ChainView(w3, addresses)
    public = (opts.public_url or f"http://{opts.host}:{opts.port}").rstrip("/")
    homes, names = homes_and_names(opts)
    return Portal(
        view=view,
        reports=Path(opts.reports),
        sign_in=SignIn(public.split("://", 1)[1], public, view.chain_id),
        sessions=Sessions(os.environ.get("CONSORTIUM_PORTAL_SECRET")),
        keys=opening_keys(opts),
        names=names,
        homes=homes,
    )


def serve(opts: ServeOptions) -> int:
    from aiohttp import web

    from consortium.portal.app import create_app

    portal = build_portal(opts)
    regs = [m for m in portal.view.directory.regulators()]
    print(f"Consortium portal on http://{opts.host}:{opts.port}/ (reports from {opts.reports})")
    for r in regs:
        print(
            f"  regulator {r.jurisdiction}: http://{opts.host}:{opts.port}/regulators/{r.address}"
        )
    web.run_app(create_app(portal), host=opts.host, port=opts.port, print=None)
    return 0


# ------------------------------------------------------------------ `consortium watch`
def regulator_address(ident: str, homes: str | None) -> str:
    """A regulator named by address, or by its id in the consortium file with its agent home
    under `homes` (`<homes>/<id>/keystore.json`, read without the passphrase)."""
    if ident.startswith("0x") and len(ident) == 42:
        return ident.lower()
    keystore = Path(homes or "") / ident / "keystore.json"
    if homes is None or not keystore.exists():
        raise CommandError(
            f"regulator {ident!r}: pass its address (0x…), or --homes with its agent home "
            f"({keystore} not found)"
        )
    return Keystore(keystore).address().lower()


def watch(opts, regulator: str, from_block: int | None, once: bool, interval: float = 1.0) -> int:
    """Print the regulator's feed as blocks arrive (`--once`: what the chain holds now, then stop).

    `opts` are the portal's ServeOptions (deployment record, node, keystores, passphrase): the
    regulator's sealed records open with its keystore's key, as in the portal."""
    import time

    from web3 import Web3

    from consortium.portal.chainview import ChainView
    from consortium.portal.feed import RegulatorFeed, describe

    addresses = deployment_addresses(opts)
    addresses.pop("__chain_id__")
    w3 = Web3(Web3.HTTPProvider(node_url(opts), request_kwargs={"timeout": 30}))
    reg = regulator_address(regulator, None if opts.homes is None else str(opts.homes))
    keys = opening_keys(opts)
    feed = RegulatorFeed(ChainView(w3, addresses), reg, keys.get(reg))
    if from_block is not None:
        feed.start_at(from_block)
    opened = "opening its sealed records" if feed.private_key else "no key: records stay sealed"
    print(f"watching regulator {reg} ({opened})", flush=True)
    while True:
        for item in feed.poll():
            print(describe(item), flush=True)
        if once:
            return 0
        time.sleep(interval)
