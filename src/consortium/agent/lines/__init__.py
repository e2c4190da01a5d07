"""The roles agents drive, one module per business line; ROLE_CLASSES lists every one."""

from __future__ import annotations

from consortium.agent.lines.annuity import ANNUITY_ROLES
from consortium.agent.lines.bills import BILLS_ROLES
from consortium.agent.lines.confirmations import CONFIRMATIONS_ROLES
from consortium.agent.lines.holding import HOLDING_ROLES
from consortium.agent.lines.settlement import SETTLEMENT_ROLES

ROLE_CLASSES = [
    *ANNUITY_ROLES,
    *BILLS_ROLES,
    *CONFIRMATIONS_ROLES,
    *SETTLEMENT_ROLES,
    *HOLDING_ROLES,
]
