"""Rounding for the tax calculation, which works in a given number of decimals (so that it
stays pure: the caller says how many the shop's currency has, from shop.money, which reads
Babel's currency data)."""

from decimal import ROUND_HALF_UP, Decimal


def round_to(amount: Decimal, places: int) -> Decimal:
    """`amount` rounded half up to `places` decimals."""
    return Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
