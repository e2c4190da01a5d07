"""Amounts as people read them: `CNY 1,234.56` from the integer minor units the chain holds.

The ledger, the JSON reports and the CSV files keep integers of minor units (fen, cents; yen have
none); only what a person reads is formatted, here and nowhere else, with integer arithmetic: a
float would round 10**18 minor units. `parse_amount` reads the text back to the same integer, so a
shown amount can always be checked against the record it came from.
"""

from __future__ import annotations

import re

# ISO 4217 minor units of the currencies a consortium file may leave without `decimals`
ISO_DECIMALS: dict[str, int] = {"CNY": 2, "HKD": 2, "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0}
MAX_DECIMALS = 18  # a token's decimals at most; more is a typo in the consortium file

_AMOUNT = re.compile(
    r"(?P<ccy>[A-Z]{3}) (?P<sign>-?)(?P<int>[0-9]{1,3}(?:,[0-9]{3})*)(?:\.(?P<frac>[0-9]+))?"
)


class AmountFormatError(ValueError):
    """A text that is not an amount `format_amount` writes (`CCY [-]1,234.56`)."""


def format_amount(minor: int, currency: str, decimals: int) -> str:
    """`minor` units of `currency` with `decimals` digits after the point and thousands commas:
    format_amount(123456, "CNY", 2) == "CNY 1,234.56"; format_amount(-5, "JPY", 0) == "JPY -5"."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"an amount is a whole number of minor units, got {minor!r}")
    if not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"decimals must be 0 .. {MAX_DECIMALS}, got {decimals}")
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**decimals)
    text = f"{whole:,}" + (f".{frac:0{decimals}d}" if decimals else "")
    return f"{currency} {sign}{text}"


def parse_amount(text: str, decimals: int) -> tuple[str, int]:
    """(currency, minor units) of a text `format_amount(minor, currency, decimals)` wrote."""
    m = _AMOUNT.fullmatch(text)
    frac = (m.group("frac") or "") if m else ""
    if m is None or len(frac) != decimals:
        raise AmountFormatError(
            f"{text!r} is not an amount with {decimals} decimals (CCY 1,234.56)"
        )
    minor = int(m.group("int").replace(",", "")) * 10**decimals + int(frac or "0")
    return m.group("ccy"), -minor if m.group("sign") else minor
