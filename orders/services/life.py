"""The order's life after placing: payment, shipping, cancelling, refunds, returns."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import services as catalog_services
from orders import locks, mails, selectors
from orders.errors import (
    ForbiddenTransition,
    OrderError,
    RefundTooLarge,
)
from orders.models import (
    CARRIERS,
    Order,
    OrderEvent,
    OrderState,
    Shipment,
)
from orders.services import invoicing
from orders.services.placing import _quantities
from promotions import services as promotions

S = OrderState

#: The one table of allowed state changes. Anything not here raises ForbiddenTransition.
ORDER_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING_PAYMENT: {S.PAID, S.CANCELLED},
    S.PAID: {
        S.PROCESSING,
        S.SHIPPED,
        S.CANCELLED,
        S.REFUND_REQUESTED,
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
    },
    S.PROCESSING: {S.SHIPPED, S.CANCELLED, S.REFUND_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.SHIPPED: {S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.DELIVERED: {
        S.COMPLETED,
        S.RETURN_REQUESTED,
        S.REFUND_REQUESTED,
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
    },
    S.COMPLETED: {S.RETURN_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.REFUND_REQUESTED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    # A partial refund leaves the rest of the order to go on (or to be refunded later).
    S.PARTIALLY_REFUNDED: {
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
        S.PROCESSING,
        S.SHIPPED,
        S.DELIVERED,
        S.COMPLETED,
    },
    S.RETURN_REQUESTED: {S.RETURN_APPROVED, S.COMPLETED},
    S.RETURN_APPROVED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    # A paid order the shopper cancelled is then refunded through payments.
    S.CANCELLED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.REFUNDED: set(),
}

#: States in which the shopper may cancel (before anything has shipped).
SHOPPER_CANCELLABLE = {S.PENDING_PAYMENT, S.PAID, S.PROCESSING}
#: States in which the shopper may ask to send the goods back.
RETURNABLE = {S.DELIVERED, S.COMPLETED}

# --- The order's life ------------------------------------------------------------------


def _actor(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def transition(*, order: Order, to: str, actor=None, note: str = "") -> Order:
    """Move an order to state `to` if ORDER_TRANSITIONS allows it, else raise
    ForbiddenTransition and change nothing. Writes the event and queues the side effects
    (stock back, coupon released, mails). Returns the order as it is now."""
    locked = locks.order_for_update(pk=order.pk)
    _apply(locked, to=to, actor=actor, note=note)
    _copy(locked, order)
    return order


def _copy(source: Order, target: Order) -> None:
    if source is not target:
        for field in Order._meta.concrete_fields:
            setattr(target, field.attname, getattr(source, field.attname))


def _apply(order: Order, *, to: str, actor, note: str) -> None:
    """The transition itself, on an order row already locked."""
    from_state = order.state
    if to not in ORDER_TRANSITIONS.get(from_state, set()):
        raise ForbiddenTransition(
            number=order.number,
            from_state=S(from_state).label if from_state in S.values else from_state,
            to_state=S(to).label if to in S.values else to,
        )
    order.state = to
    order.save(update_fields=["state", "updated_at"])
    OrderEvent.objects.create(
        order=order, actor=_actor(actor), from_state=from_state, to_state=to, note=note[:500]
    )
    if to == S.CANCELLED:
        _return_stock(order)
        _release_promotions(order)
        mails.queue_order_mail(order=order, name="cancelled")
    elif to == S.PAID:
        mails.queue_order_mail(order=order, name="paid")
    elif to == S.SHIPPED:
        mails.queue_order_mail(order=order, name="shipped")
    elif to in (S.REFUNDED, S.PARTIALLY_REFUNDED):
        if to == S.REFUNDED:
            _release_promotions(order)
            if not order.shipments.exists():  # never shipped: the goods are still here
                _return_stock(order)
        mails.queue_order_mail(order=order, name="refunded")


def _return_stock(order: Order) -> None:
    if order.stock_returned:
        return
    catalog_services.return_stock(quantities=_quantities(order.lines.all()))
    order.stock_returned = True
    order.save(update_fields=["stock_returned", "updated_at"])


def _release_promotions(order: Order) -> None:
    promotions.release_coupon(order_number=order.number)
    promotions.release_order_promotions(order_number=order.number)


@transaction.atomic
def mark_paid(*, order: Order, amount: Decimal, actor=None, note: str = "") -> Order:
    """Record money received for an order (called by the payments app).

    The order becomes paid once what was received covers its total; a smaller amount is
    recorded with an event and the order keeps waiting. Adds to the shopper's lifetime
    spend and counts the units as sold. Raises ForbiddenTransition unless the order awaits
    payment.
    """
    amount = Decimal(amount)
    locked = locks.order_for_update(pk=order.pk)
    if locked.state != S.PENDING_PAYMENT:
        raise ForbiddenTransition(
            number=locked.number, from_state=locked.get_state_display(), to_state=S.PAID.label
        )
    if amount <= 0:
        raise OrderError(_("A payment must be more than zero."))
    locked.total_paid += amount
    locked.save(update_fields=["total_paid", "updated_at"])
    if locked.total_paid >= locked.total:
        locked.paid_at = timezone.now()
        locked.save(update_fields=["paid_at", "updated_at"])
        _apply(locked, to=S.PAID, actor=actor, note=note)
        invoicing.issue_invoice(order=locked)  # taxes (issue 15): the invoice, numbered now
        catalog_services.record_sales(quantities=_quantities(locked.lines.all()))
    else:
        OrderEvent.objects.create(
            order=locked,
            actor=_actor(actor),
            from_state=locked.state,
            to_state=locked.state,
            note=(note or _("Part payment received"))[:500],
        )
    if locked.user_id:
        promotions.record_paid_spend(user=locked.user, amount=amount)
    _copy(locked, order)
    return order


@transaction.atomic
def record_refund(*, order: Order, amount: Decimal, actor=None, note: str = "") -> Order:
    """Record money given back (called by the payments app once the provider refunded).

    The order becomes refunded when everything paid has been given back (its coupon is
    released; its stock goes back if it never shipped), else partially refunded. The
    shopper's lifetime spend goes down by `amount`.
    """
    amount = Decimal(amount)
    locked = locks.order_for_update(pk=order.pk)
    if amount <= 0 or amount > locked.refundable:
        raise RefundTooLarge
    to = S.REFUNDED if locked.total_refunded + amount >= locked.total_paid else S.PARTIALLY_REFUNDED
    if to not in ORDER_TRANSITIONS.get(locked.state, set()):
        raise ForbiddenTransition(
            number=locked.number, from_state=locked.get_state_display(), to_state=S(to).label
        )
    locked.total_refunded += amount
    locked.save(update_fields=["total_refunded", "updated_at"])
    _apply(locked, to=to, actor=actor, note=note)
    if locked.user_id:
        promotions.record_paid_spend(user=locked.user, amount=-amount)
    _copy(locked, order)
    return order


@transaction.atomic
def cancel_order(*, order: Order, actor=None, note: str = "", by_shopper: bool = False) -> Order:
    """Cancel an order: its stock goes back and its coupon is released. The shopper may
    cancel only before anything ships; the merchant wherever the table allows."""
    locked = locks.order_for_update(pk=order.pk)
    if by_shopper and locked.state not in SHOPPER_CANCELLABLE:
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_state_display(),
            to_state=S.CANCELLED.label,
        )
    _apply(locked, to=S.CANCELLED, actor=actor, note=note)
    _copy(locked, order)
    return order


@transaction.atomic
def mark_shipped(
    *, order: Order, carrier: str, tracking_number: str, actor=None, note: str = ""
) -> Shipment:
    """Hand the order to a carrier: a shipment row, the shipped state, the shopper's mail."""
    if carrier not in CARRIERS:
        raise OrderError(_("Choose a carrier."))
    locked = locks.order_for_update(pk=order.pk)
    shipment = Shipment.objects.create(
        order=locked,
        carrier=carrier,
        tracking_number=tracking_number.strip()[:64],
        shipped_at=timezone.now(),
    )
    _apply(locked, to=S.SHIPPED, actor=actor, note=note)
    _copy(locked, order)
    return shipment


@transaction.atomic
def mark_delivered(*, order: Order, actor=None, note: str = "") -> Order:
    locked = locks.order_for_update(pk=order.pk)
    _apply(locked, to=S.DELIVERED, actor=actor, note=note)
    Shipment.objects.filter(order=locked, delivered_at__isnull=True).update(
        delivered_at=timezone.now()
    )
    _copy(locked, order)
    return order


@transaction.atomic
def confirm_receipt(*, order: Order, actor=None) -> Order:
    """The shopper says the parcel arrived: shipped -> delivered -> completed."""
    locked = locks.order_for_update(pk=order.pk)
    if locked.state == S.SHIPPED:
        _apply(locked, to=S.DELIVERED, actor=actor, note=_("Receipt confirmed by the shopper"))
        Shipment.objects.filter(order=locked, delivered_at__isnull=True).update(
            delivered_at=timezone.now()
        )
    _apply(locked, to=S.COMPLETED, actor=actor, note=_("Receipt confirmed by the shopper"))
    _copy(locked, order)
    return order


@transaction.atomic
def request_return(*, order: Order, actor=None, note: str = "") -> Order:
    locked = locks.order_for_update(pk=order.pk)
    if locked.state not in RETURNABLE:
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_state_display(),
            to_state=S.RETURN_REQUESTED.label,
        )
    _apply(locked, to=S.RETURN_REQUESTED, actor=actor, note=note)
    _copy(locked, order)
    return order


def expire_unpaid_orders(*, minutes: int, batch: int = 100) -> int:
    """Cancel orders unpaid for more than `minutes` and put their stock back; returns how
    many. Each batch is locked with SKIP LOCKED and re-checked, so two runs at once cancel
    each order once."""
    before = timezone.now() - timedelta(minutes=minutes)
    cancelled = 0
    while True:
        with transaction.atomic():
            orders = locks.expired_orders_for_update(before=before, limit=batch)
            for order in orders:
                _apply(order, to=S.CANCELLED, actor=None, note=_("Not paid in time"))
        cancelled += len(orders)
        if len(orders) < batch:
            return cancelled


@transaction.atomic
def anonymise_orders(*, user) -> int:
    """Before an account is deleted: blank the personal data of its orders (name, phone,
    address lines, email), keeping the country and the money for the merchant's books."""
    return Order.objects.filter(user=user).update(
        user=None,
        email="",
        ship_name="",
        ship_phone="",
        ship_line1="",
        ship_line2="",
        ship_city="",
        ship_region="",
        ship_postcode="",
        updated_at=timezone.now(),
    )


@transaction.atomic
def set_payment_method(*, order: Order, payment_method: str, actor=None) -> Order:
    """The shopper pays an unpaid order another way than chosen at checkout (called by the
    payments app, e.g. after a declined card): the new method is recorded with an event."""
    if payment_method not in dict(selectors.payment_methods()):
        raise OrderError(_("Choose a payment method."))
    locked = locks.order_for_update(pk=order.pk)
    if locked.state != S.PENDING_PAYMENT:
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_state_display(),
            to_state=S.PENDING_PAYMENT.label,
        )
    if locked.payment_method != payment_method:
        old = locked.payment_method
        locked.payment_method = payment_method
        locked.save(update_fields=["payment_method", "updated_at"])
        OrderEvent.objects.create(
            order=locked,
            actor=_actor(actor),
            from_state=locked.state,
            to_state=locked.state,
            note=(
                _("Payment method changed from %(old)s to %(new)s")
                % {
                    "old": old,
                    "new": payment_method,
                }
            )[:500],
        )
    _copy(locked, order)
    return order
