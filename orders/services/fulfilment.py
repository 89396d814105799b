"""Shipping and delivery: parcels of chosen lines and quantities, and their arrival."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import locks, mails
from orders.errors import OrderError
from orders.models import CARRIERS, EventKind, Order, OrderLine, OrderStatus, Shipment, ShipmentLine
from orders.services.statuses import PAID_STATUSES, copy_order, record_event, refresh_statuses


def may_ship(order: Order) -> bool:
    """Only a paid, open order not on hold ships (the admin offers "Ship items" on the same
    rule)."""
    return (
        order.status == OrderStatus.OPEN
        and order.payment_status in PAID_STATUSES
        and not order.on_hold
    )


@transaction.atomic
def release_hold(*, order: Order, note: str, actor=None) -> Order:
    """The order may ship now (its group buy filled): the hold goes, with an event. Releasing
    an order not on hold changes nothing."""
    locked = locks.order_for_update(pk=order.pk)
    if locked.on_hold:
        locked.on_hold = False
        locked.save(update_fields=["on_hold", "updated_at"])
        record_event(
            locked,
            kind=EventKind.FULFILMENT,
            from_status="on_hold",
            to_status=locked.fulfilment_status,
            actor=actor,
            note=note,
        )
    return copy_order(locked, order)


@transaction.atomic
def ship_lines(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    quantities: dict[int, int] | None = None,
    actor=None,
    note: str = "",
    notify: bool = True,
) -> Shipment:
    """Hand a parcel to a carrier: `quantities` (order line id -> units) or, when None,
    everything still to ship. Only a paid, open order ships. The shopper is mailed unless
    `notify` is False (the merchant told them otherwise, or a parcel of replacements)."""
    if carrier not in CARRIERS:
        raise OrderError(_("Choose a carrier."))
    locked = locks.order_for_update(pk=order.pk)
    if not may_ship(locked):
        if locked.on_hold:
            raise OrderError(
                _("Order %(number)s cannot ship yet: it waits for its group buy to fill.")
                % {"number": locked.number}
            )
        raise OrderError(
            _("Order %(number)s cannot ship: it is %(status)s and %(payment)s.")
            % {
                "number": locked.number,
                "status": locked.get_status_display().lower(),
                "payment": locked.get_payment_status_display().lower(),
            }
        )
    lines = {line.pk: line for line in OrderLine.objects.filter(order=locked).order_by("pk")}
    if quantities is None:
        quantities = {pk: line.quantity_to_ship for pk, line in lines.items()}
    chosen = {pk: units for pk, units in quantities.items() if units}
    if not chosen:
        raise OrderError(_("Choose at least one item to ship."))
    for pk, units in chosen.items():
        line = lines.get(pk)
        if line is None or units < 0 or units > line.quantity_to_ship:
            raise OrderError(
                _("%(name)s: at most %(max)s left to ship.")
                % {
                    "name": line.product_name if line else "?",
                    "max": line.quantity_to_ship if line else 0,
                }
            )
    shipment = Shipment.objects.create(
        order=locked,
        carrier=carrier,
        tracking_number=tracking_number.strip()[:64],
        shipped_at=timezone.now(),
    )
    for pk, units in sorted(chosen.items()):
        line = lines[pk]
        ShipmentLine.objects.create(shipment=shipment, line=line, quantity=units)
        line.quantity_shipped += units
        line.save(update_fields=["quantity_shipped"])
    refresh_statuses(locked, actor=actor, note=note or str(shipment))
    if notify:
        mails.queue_order_mail(order=locked, name="shipped", shipment=shipment)
    transaction.on_commit(lambda: _start_tracking(shipment.pk))
    copy_order(locked, order)
    return shipment


@transaction.atomic
def mark_delivered(*, order: Order, actor=None, note: str = "") -> Order:
    """Every parcel of the order has arrived."""
    locked = locks.order_for_update(pk=order.pk)
    pending = Shipment.objects.filter(order=locked, delivered_at__isnull=True)
    if not pending.exists():
        raise OrderError(_("Nothing of this order is on its way."))
    pending.update(delivered_at=timezone.now())
    refresh_statuses(locked, actor=actor, note=note)
    return copy_order(locked, order)


def _start_tracking(shipment_id: int) -> None:
    from orders.tasks import start_tracking

    start_tracking.delay(shipment_id=shipment_id)
