from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils.formats import number_format

register = template.Library()

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "AUD": "A$", "CAD": "C$"}


@register.filter
def money(value) -> str:
    """An amount in the shop's currency: "$1,234.50", or "1,234.50 CHF" without a symbol."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    number = number_format(amount, decimal_pos=2, force_grouping=True)
    code = settings.SHOP_CURRENCY
    symbol = SYMBOLS.get(code)
    if symbol is None:
        return f"{number} {code}"
    return f"-{symbol}{number[1:]}" if amount < 0 else f"{symbol}{number}"
