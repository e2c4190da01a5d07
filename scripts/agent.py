"""Run an institution's agent under brownie: `brownie run scripts/agent.py main <institution>
--network <id>` (the home is agents/<institution>, or $CONSORTIUM_AGENT_HOME).

brownie has connected already; the agent attaches to that network and runs until SIGTERM/SIGINT.
The passphrase comes from $CONSORTIUM_PASSPHRASE or agent.yaml `passphrase_file`.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from consortium.agent.runner import run_agent


def main(institution: str) -> int:
    from brownie import network

    home = os.environ.get("CONSORTIUM_AGENT_HOME") or f"agents/{institution}"
    return run_agent(home, network=network.show_active())
