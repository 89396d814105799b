"""Personal data on orders when an account goes: closed orders lose it at once; open ones
keep the address and email they need to be delivered and mailed, and lose them once they
are completed or cancelled (anonymise_closed_orders, on a schedule)."""

from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderStatus

BLANK = {
    "email": "",
    "ship_name": "",
    "ship_phone": "",
    "ship_line1": "",
    "ship_line2": "",
    "ship_city": "",
    "ship_region": "",
    "ship_postcode": "",
    "anonymise_when_closed": False,
}


@transaction.atomic
def anonymise_orders(*, user) -> int:
    """Before an account is deleted: blank the personal data of its closed orders (keeping
    the country and the money for the merchant's books) and mark its open ones to be
    blanked once closed. Returns how many were blanked now."""
    orders = Order.objects.filter(user=user)
    now = timezone.now()
    orders.filter(status=OrderStatus.OPEN).update(
        user=None, anonymise_when_closed=True, updated_at=now
    )
    return orders.exclude(status=OrderStatus.OPEN).update(user=None, updated_at=now, **BLANK)


@transaction.atomic
def anonymise_closed_orders() -> int:
    """Blank orders of deleted accounts that have closed since; returns how many."""
    return (
        Order.objects.filter(anonymise_when_closed=True)
        .exclude(status=OrderStatus.OPEN)
        .update(updated_at=timezone.now(), **BLANK)
    )
