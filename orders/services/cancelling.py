"""Cancelling an order before anything has shipped: its units go back on the shelf, its
coupon is released, the shopper is told.

An order that holds money is cancelled by the payments app, which first gives the money back
by refunding every line (refunds.refund_lines): a refund of everything before shipping
cancels the order by itself. What could not go back at once (a bank transfer the merchant
must send back by hand) is passed as `refunds_due`, so no cancelled order holds money that
is not owed back.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import services as catalog_services
from catalog.models import StockMovement
from orders import locks
from orders.errors import ForbiddenTransition, OrderError
from orders.models import ZERO, Order, OrderLine, OrderStatus
from orders.services.statuses import (
    copy_order,
    refresh_statuses,
    release_promotions,
    set_order_status,
)


def shopper_may_cancel(order: Order, *, signed_in: bool, now=None) -> bool:
    """The shopper may cancel an open order before anything ships. Through a guest's
    signed link only in the first settings.GUEST_CANCEL_DAYS days: the link lives in mails
    for ever and may be forwarded."""
    if order.status != OrderStatus.OPEN or order.fulfilment_status != "unfulfilled":
        return False
    if signed_in:
        return True
    now = now or timezone.now()
    return now - order.created_at <= timedelta(days=settings.GUEST_CANCEL_DAYS)


def restock_units(*, quantities: dict[int, int], reference: str, returned: bool = False) -> None:
    """Put units back on the shelf: cancelled units never left; returned ones came back."""
    quantities = {variant_id: n for variant_id, n in quantities.items() if variant_id and n > 0}
    if quantities:
        reason = StockMovement.Reason.RETURN if returned else StockMovement.Reason.CANCEL
        catalog_services.return_stock(quantities=quantities, reason=reason, reference=reference)


def check_cancellable(order: Order) -> None:
    """Raise what cancelling `order` (row locked) is refused for whatever money it holds:
    ForbiddenTransition unless it is open, OrderError once anything has shipped (refund
    lines instead). The payments app asks before it gives any money back, so a cancel that
    is refused has refunded nothing at a provider."""
    if order.status != OrderStatus.OPEN:
        raise ForbiddenTransition(
            number=order.number,
            from_state=order.get_status_display(),
            to_state=OrderStatus.CANCELLED.label,
        )
    if OrderLine.objects.filter(order=order, quantity_shipped__gt=0).exists():
        raise OrderError(
            _("Order %(number)s has shipped: refund its lines or take a return instead.")
            % {"number": order.number}
        )


def cancel_locked_order(
    order: Order, *, actor=None, note: str = "", refunds_due: Decimal = ZERO
) -> Order:
    """Cancel `order` (row locked by the caller). Raises what check_cancellable() raises, and
    OrderError while it holds money not owed back."""
    check_cancellable(order)
    lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    if order.held != refunds_due:
        raise OrderError(
            _("Order %(number)s holds %(held)s of the shopper's money: refund it first.")
            % {"number": order.number, "held": order.held}
        )
    quantities: dict[int, int] = {}
    for line in lines:
        units = line.quantity_to_ship
        if units:
            line.quantity_cancelled += units
            line.quantity_restocked += units
            line.save(update_fields=["quantity_cancelled", "quantity_restocked"])
            if line.variant_id:
                quantities[line.variant_id] = quantities.get(line.variant_id, 0) + units
    restock_units(quantities=quantities, reference=order.number)
    set_order_status(order, to=OrderStatus.CANCELLED, actor=actor, note=note)
    release_promotions(order)
    refresh_statuses(order, actor=actor, note=note)
    return order


@transaction.atomic
def cancel_order(*, order: Order, actor=None, note: str = "", refunds_due: Decimal = ZERO) -> Order:
    """Cancel an order that holds none of the shopper's money (or only refunds due)."""
    locked = locks.order_for_update(pk=order.pk)
    cancel_locked_order(locked, actor=actor, note=note, refunds_due=refunds_due)
    return copy_order(locked, order)
