"""What every agent needs before it knows who it is, imported once by the day's fork server.

`consortium.dayrun.launcher` starts the one-machine day's agents as forks of a server that has
imported this module: brownie, the compiled project and the business roles are then in memory once,
shared copy-on-write, instead of once per agent (about 260 MB each). `gc.freeze()` moves them out
of the collector's reach: a collection writes to every object it visits, which would copy the
shared pages into each agent one by one.
"""

from __future__ import annotations

import gc

from consortium import chain
from consortium.agent import runner  # noqa: F401 - the agent's own modules, loaded once
from consortium.agent.lines import ROLE_CLASSES  # noqa: F401

chain.project()
gc.freeze()
