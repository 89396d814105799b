from decimal import Decimal, InvalidOperation

from django import template

from shop.money import format_money

register = template.Library()


@register.filter
def money(value, currency=None) -> str:
    """An amount in the shop's currency ("$1,234.50"), or in `currency` when given
    (`{{ amount|money:order.currency }}`); empty for no amount."""
    if value is None or value == "":
        return ""
    try:
        return format_money(Decimal(value), currency or None)
    except (InvalidOperation, TypeError, ValueError):
        return ""
