"""The delivery estimate on product pages (catalog imports nothing of orders: its template
loads this tag). The page is cached whole: catalog's view keys it by the day, and a changed
shipping method bumps the catalog's version (orders.receivers)."""

from django import template
from django.utils import timezone

from orders import selectors

register = template.Library()


@register.inclusion_tag("orders/_delivery_estimate.html")
def delivery_estimate(today=None):
    """Counted from `today`, the day the page is kept for (the day its key names), else the
    shop's date now."""
    return {"estimate": selectors.standard_delivery(today=today or timezone.localdate())}
