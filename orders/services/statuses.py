"""The order's three statuses, each derived from rows and never typed in by hand.

- payment status from what was paid and given back (Order.total_paid, total_refunded,
  which the payments app moves through payment_status.record_payment and record_refund);
- fulfilment status from the lines' shipped, cancelled and returned units and the
  shipments' delivery;
- order status: cancelled once cancelled, completed when nothing is left to do (paid, every
  unit delivered or taken off the order, no return open), else open.

refresh_statuses() recomputes all three on a locked order after any change, writes an
event for each status that moved, and runs what a move implies (sold units counted on
payment, promotions released on a full refund).
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import services as catalog_services
from orders import mails, signals
from orders.errors import ForbiddenTransition
from orders.models import (
    ZERO,
    EventKind,
    FulfilmentStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    ReturnStatus,
)
from orders.services import invoicing
from promotions import flash
from promotions import ledger as points_ledger
from promotions import services as promotions
from shop import prepared

#: The one table of the order status's moves; the other two statuses follow their rows.
#: A completed order opens again while a return is under way.
ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.OPEN: {OrderStatus.COMPLETED, OrderStatus.CANCELLED},
    OrderStatus.COMPLETED: {OrderStatus.OPEN},
    OrderStatus.CANCELLED: set(),
}

#: Payment statuses in which the order holds the shopper's money for goods still owed.
PAID_STATUSES = {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED}


def derive_payment_status(*, total: Decimal, paid: Decimal, refunded: Decimal) -> str:
    if refunded > 0:
        return PaymentStatus.REFUNDED if refunded >= paid else PaymentStatus.PARTIALLY_REFUNDED
    if paid <= 0 and total > 0:
        return PaymentStatus.UNPAID
    if paid < total:
        return PaymentStatus.PARTIALLY_PAID
    return PaymentStatus.PAID


def derive_fulfilment_status(
    *, shippable: int, shipped: int, returned: int, undelivered_shipments: bool
) -> str:
    """`shippable` is what the lines still owe in all (ordered minus cancelled units)."""
    if shipped == 0:
        return FulfilmentStatus.UNFULFILLED
    if returned >= shipped:
        return FulfilmentStatus.RETURNED
    if shipped < shippable:
        return FulfilmentStatus.PARTIALLY_SHIPPED
    if undelivered_shipments:
        return FulfilmentStatus.SHIPPED
    return FulfilmentStatus.DELIVERED


def copy_order(source: Order, target: Order) -> Order:
    """Give the caller's instance the values of the locked row."""
    if source is not target:
        for field in Order._meta.concrete_fields:
            setattr(target, field.attname, getattr(source, field.attname))
    return target


def actor_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def record_event(
    order: Order, *, kind: str, from_status: str = "", to_status: str = "", actor=None, note=""
) -> OrderEvent:
    return prepared.create(
        OrderEvent,
        order=order,
        actor=actor_or_none(actor),
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=str(note)[:500],
    )


def line_totals(order: Order) -> dict[str, int]:
    """Sums of the lines' counters: one query."""
    sums = OrderLine.objects.filter(order=order).aggregate(
        quantity=Sum("quantity"),
        cancelled=Sum("quantity_cancelled"),
        shipped=Sum("quantity_shipped"),
        returned=Sum("quantity_returned"),
    )
    return {key: value or 0 for key, value in sums.items()}


def set_order_status(order: Order, *, to: str, actor=None, note: str = "") -> None:
    """Move the order status along ORDER_TRANSITIONS (order row locked), with its event."""
    from_status = order.status
    if from_status == to:
        return
    if to not in ORDER_TRANSITIONS[from_status]:
        raise ForbiddenTransition(
            number=order.number,
            from_state=OrderStatus(from_status).label,
            to_state=OrderStatus(to).label,
        )
    order.status = to
    now = timezone.now()
    if to == OrderStatus.CANCELLED:
        order.cancelled_at = now
    order.completed_at = now if to == OrderStatus.COMPLETED else None
    order.save(update_fields=["status", "cancelled_at", "completed_at", "updated_at"])
    record_event(
        order, kind=EventKind.ORDER, from_status=from_status, to_status=to, actor=actor, note=note
    )
    if to == OrderStatus.CANCELLED:
        mails.queue_order_mail(order=order, name="cancelled")


def refresh_statuses(order: Order, *, actor=None, note: str = "") -> Order:
    """Recompute the three statuses of a locked order from its rows; 2 to 3 queries, plus
    an event and the implied work for each status that moved."""
    old_payment, old_fulfilment = order.payment_status, order.fulfilment_status
    payment = derive_payment_status(
        total=order.total, paid=order.total_paid, refunded=order.total_refunded
    )
    sums = line_totals(order)
    shipped = sums["shipped"]
    undelivered = (
        shipped > 0
        and order.shipments.filter(delivered_at__isnull=True, lines__isnull=False).exists()
    )
    fulfilment = derive_fulfilment_status(
        shippable=sums["quantity"] - sums["cancelled"],
        shipped=shipped,
        returned=sums["returned"],
        undelivered_shipments=undelivered,
    )
    order.payment_status, order.fulfilment_status = payment, fulfilment
    order.save(update_fields=["payment_status", "fulfilment_status", "updated_at"])
    if payment != old_payment:
        record_event(
            order,
            kind=EventKind.PAYMENT,
            from_status=old_payment,
            to_status=payment,
            actor=actor,
            note=note,
        )
        _after_payment_moved(order, old=old_payment, new=payment)
    if fulfilment != old_fulfilment:
        record_event(
            order,
            kind=EventKind.FULFILMENT,
            from_status=old_fulfilment,
            to_status=fulfilment,
            actor=actor,
            note=note,
        )
    _refresh_order_status(order, sums=sums, actor=actor, note=note)
    settle_points(order)
    return order


def settle_points(order: Order) -> None:
    """Points follow the order's money (promotions.ledger): those spent come back on a
    refund or cancellation, those earned are given on completion and taken back in
    proportion to a refund. Skipped (no query) for guests and for open orders with nothing
    refunded, which have nothing to settle."""
    if order.user_id is None:
        return
    settled = order.status != OrderStatus.OPEN or order.total_refunded > 0
    if settled:
        points_ledger.settle_order_points(
            user=order.user,
            order_number=order.number,
            paid=order.total_paid,
            refunded=order.total_refunded,
            completed=order.status == OrderStatus.COMPLETED,
            cancelled=order.status == OrderStatus.CANCELLED,
        )


def _after_payment_moved(order: Order, *, old: str, new: str) -> None:
    if new == PaymentStatus.PAID and old in (PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID):
        order.paid_at = order.paid_at or timezone.now()
        order.save(update_fields=["paid_at", "updated_at"])
        invoicing.issue_invoice(order=order)  # numbered now, in the payment's transaction
        catalog_services.record_sales(
            quantities={
                variant_id: quantity
                for variant_id, quantity in order.lines.filter(variant__isnull=False).values_list(
                    "variant_id", "quantity"
                )
            }
        )
        mails.queue_order_mail(order=order, name="paid")
        order_id = order.pk
        transaction.on_commit(
            lambda: signals.order_paid.send_robust(sender=Order, order_id=order_id)
        )
    if new == PaymentStatus.REFUNDED:
        release_promotions(order)


def release_promotions(order: Order) -> None:
    promotions.release_coupon(order_number=order.number)
    promotions.release_order_promotions(order_number=order.number)
    flash.release_claims(order_number=order.number)


def _refresh_order_status(order: Order, *, sums: dict[str, int], actor, note: str = "") -> None:
    if order.status == OrderStatus.CANCELLED:
        return
    nothing_to_ship = sums["shipped"] >= sums["quantity"] - sums["cancelled"]
    if sums["shipped"] == 0 and nothing_to_ship:
        # Every unit came off the order before it shipped: once the money is back too, the
        # order is over, as if cancelled; until then it stays open.
        if order.held <= ZERO and order.total_paid > 0:
            set_order_status(
                order, to=OrderStatus.CANCELLED, actor=actor, note=_("Every item was refunded")
            )
        return
    done = (
        order.payment_status in (PAID_STATUSES | {PaymentStatus.REFUNDED})
        and nothing_to_ship
        and order.fulfilment_status in (FulfilmentStatus.DELIVERED, FulfilmentStatus.RETURNED)
        and not order.returns.filter(
            Q(status=ReturnStatus.REQUESTED)
            | Q(status=ReturnStatus.APPROVED)
            | Q(status=ReturnStatus.RECEIVED)
        ).exists()
        # A parcel the carrier delivered waits for the shopper's word or the auto-confirm
        # days (services/tracking.py).
        and not order.shipments.filter(confirm_by__isnull=False).exists()
    )
    target = OrderStatus.COMPLETED if done else OrderStatus.OPEN
    if target != order.status:
        set_order_status(order, to=target, actor=actor, note=note)
