"""Rounding to the shop currency's minor units.

One small function, so that the shop's money module (shop/money.py, Babel-based, on its way)
can replace it: point `minor_units` and `quantize` at it and nothing else changes.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

#: ISO 4217 minor units of the currencies that do not have two (the rest have two).
_MINOR_UNITS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0,
    "TND": 3, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip


def minor_units(currency: str | None = None) -> int:
    """How many decimals an amount in `currency` (default: the shop's) has: 2 for USD."""
    return _MINOR_UNITS.get((currency or settings.SHOP_CURRENCY).upper(), 2)


def quantize(amount: Decimal, currency: str | None = None) -> Decimal:
    """`amount` rounded half up to the minor unit of `currency` (default: the shop's)."""
    return round_to(amount, minor_units(currency))


def round_to(amount: Decimal, places: int) -> Decimal:
    return Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
