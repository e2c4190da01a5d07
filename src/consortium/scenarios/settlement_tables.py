"""The settlement day's reference data, shared by the in-process day (scenarios.settlement) and the
day as files (scenarios.settlement_files) so both trade the same prices and charge the same rates.
"""

from __future__ import annotations

from consortium.domain.clearing import Charge, ChargeKind, Payer

# security id -> (code, currency, reference price in minor units per share)
SECURITIES: dict[int, tuple[str, str, int]] = {
    1: ("HK.0700", "HKD", 38_000),
    2: ("HK.0005", "HKD", 6_500),
    3: ("CN.600519", "CNY", 170_000),
    4: ("CN.601318", "CNY", 4_500),
}
TRADE_DATE = 20261123

F, T = ChargeKind.FEE, ChargeKind.TAX
# Charges per first party's role: commission, stamp duty (HK both sides, CN sells only), custody
# and exchange fees. The CCP and CSD clear each party's trades under that party's charges.
CHARGES: dict[str, list[Charge]] = {
    "broker_hk": [Charge(F, Payer.BOTH, 3, 500), Charge(T, Payer.BOTH, 10, 100)],
    "broker_cn": [Charge(F, Payer.BOTH, 3, 500), Charge(T, Payer.SELLER, 5, 0)],
    "custodian": [Charge(F, Payer.BOTH, 1, 100)],
    "exchange": [Charge(F, Payer.BOTH, 1, 0)],
}
