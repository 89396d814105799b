"""A shopper's guest orders join their account once they prove they own the address the
orders were placed with (accounts.signals.email_verified)."""

from django.db import transaction
from django.utils.translation import gettext as _

from orders import locks
from orders.models import EventKind, Order, OrderEvent


@transaction.atomic
def attach_guest_orders(*, user, email: str) -> int:
    """Give `user` every guest order placed with `email`; returns how many joined.

    Only for an address accounts has verified (its signal says so): attaching to an address
    anyone may type would let them read a stranger's orders. Only guest orders: an order
    of an account never moves to another. Running it again changes nothing.
    """
    if not email or user.pk is None:
        return 0
    ids = locks.guest_orders_for_update(email=email)
    if not ids:
        return 0
    Order.objects.filter(pk__in=ids).update(user=user)
    note = _("Joined the account of %(email)s (email verified)") % {"email": email}
    OrderEvent.objects.bulk_create(
        OrderEvent(order_id=pk, actor=user, kind=EventKind.NOTE, note=note) for pk in ids
    )
    return len(ids)
