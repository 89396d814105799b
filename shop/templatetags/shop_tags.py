from decimal import Decimal, InvalidOperation

from django import template

from promotions.pricing import format_money

register = template.Library()


@register.filter
def money(value) -> str:
    """An amount in the shop's currency: "$1,234.50"; empty for no amount."""
    if value is None or value == "":
        return ""
    try:
        return format_money(Decimal(value))
    except (InvalidOperation, TypeError, ValueError):
        return ""
