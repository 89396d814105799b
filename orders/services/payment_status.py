"""Money in and out of an order, as the payments app reports it, and the deadline of an
unpaid order.

The payments app is above this one: it calls record_payment() when a payment captured and
record_refund() when money went back; payment status follows (statuses.py). An unpaid
order's deadline depends on how it is paid: days for a bank transfer, with a reminder
halfway, minutes for a card paid on a provider's page; an open payment at a provider
extends it to the provider's own expiry (extend_payment_deadline), so an order is never
cancelled under a payment the shopper may still complete.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import locks, mails, selectors
from orders.errors import ForbiddenTransition, OrderError, RefundTooLarge
from orders.models import EventKind, Order, OrderStatus, PaymentStatus
from orders.services.cancelling import cancel_locked_order
from orders.services.statuses import copy_order, record_event, refresh_statuses
from promotions import services as promotions


def payment_window(payment_method: str) -> timedelta:
    """How long an order paid this way may stay unpaid (settings.ORDER_PAYMENT_WINDOWS)."""
    windows = settings.ORDER_PAYMENT_WINDOWS
    return windows.get(payment_method, windows["default"])


def deadline_for(*, payment_method: str, placed_at: datetime) -> datetime:
    return placed_at + payment_window(payment_method)


@transaction.atomic
def record_payment(*, order: Order, amount: Decimal, actor=None, note: str = "") -> Order:
    """Money captured for an open order (called by the payments app). At most what the
    order still owes: anything more is the payments app's surplus, never the order's."""
    amount = Decimal(amount)
    locked = locks.order_for_update(pk=order.pk)
    if locked.status != OrderStatus.OPEN or locked.payment_status not in (
        PaymentStatus.UNPAID,
        PaymentStatus.PARTIALLY_PAID,
    ):
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_payment_status_display(),
            to_state=PaymentStatus.PAID.label,
        )
    if amount <= 0 or amount > locked.amount_due:
        raise OrderError(
            _("A payment must be more than zero and at most the %(due)s still owed.")
            % {"due": locked.amount_due}
        )
    locked.total_paid += amount
    locked.save(update_fields=["total_paid", "updated_at"])
    refresh_statuses(locked, actor=actor, note=note or _("Payment received"))
    if locked.user_id:
        promotions.record_paid_spend(user=locked.user, amount=amount)
    return copy_order(locked, order)


@transaction.atomic
def record_refund(*, order: Order, amount: Decimal, actor=None, note: str = "") -> Order:
    """Money given back to the shopper (called by the payments app once it went back).
    What was given back is decided before, by lines (refunds.refund_lines) or by a
    cancellation; this records the money and moves the payment status."""
    amount = Decimal(amount)
    locked = locks.order_for_update(pk=order.pk)
    if amount <= 0 or amount > locked.held:
        raise RefundTooLarge
    locked.total_refunded += amount
    locked.save(update_fields=["total_refunded", "updated_at"])
    refresh_statuses(locked, actor=actor, note=note or _("Refund"))
    mails.queue_order_mail(order=locked, name="refunded")
    if locked.user_id:
        promotions.record_paid_spend(user=locked.user, amount=-amount)
    return copy_order(locked, order)


@transaction.atomic
def extend_payment_deadline(*, order: Order, until: datetime) -> Order:
    """A payment opened at a provider expires at `until`: the order waits at least that long
    (never shortened)."""
    locked = locks.order_for_update(pk=order.pk)
    if locked.payment_deadline is None or locked.payment_deadline < until:
        locked.payment_deadline = until
        locked.save(update_fields=["payment_deadline", "updated_at"])
    return copy_order(locked, order)


@transaction.atomic
def set_payment_method(*, order: Order, payment_method: str, actor=None) -> Order:
    """The shopper pays an unpaid order another way than chosen at checkout (called by the
    payments app, e.g. after a declined card): the new method is recorded with an event, and
    the deadline becomes the new method's, counted from now, if that is later."""
    if payment_method not in dict(selectors.payment_methods()):
        raise OrderError(_("Choose a payment method."))
    locked = locks.order_for_update(pk=order.pk)
    if locked.status != OrderStatus.OPEN or locked.payment_status != PaymentStatus.UNPAID:
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_payment_status_display(),
            to_state=PaymentStatus.UNPAID.label,
        )
    if locked.payment_method != payment_method:
        old = locked.payment_method
        locked.payment_method = payment_method
        deadline = deadline_for(payment_method=payment_method, placed_at=timezone.now())
        locked.payment_deadline = max(locked.payment_deadline or deadline, deadline)
        locked.save(update_fields=["payment_method", "payment_deadline", "updated_at"])
        record_event(
            locked,
            kind=EventKind.NOTE,
            actor=actor,
            note=_("Payment method changed from %(old)s to %(new)s")
            % {
                "old": selectors.payment_method_label(old),
                "new": selectors.payment_method_label(payment_method),
            },
        )
    return copy_order(locked, order)


def expire_unpaid_orders(*, now: datetime | None = None, batch: int = 100) -> int:
    """Cancel open orders still unpaid after their deadline and put their stock back;
    returns how many.

    One order per transaction: cancelling locks the order's variants in primary-key order,
    as a checkout does, so the job never holds the locks of many orders at once and cannot
    deadlock a checkout. Rows another process holds are skipped (SKIP LOCKED), so two runs
    at once cancel each order once.
    """
    now = now or timezone.now()
    cancelled = 0
    while True:
        ids = selectors.expired_order_ids(now=now, limit=batch)
        for order_id in ids:
            with transaction.atomic():
                order = locks.expired_order_for_update(pk=order_id, now=now)
                if order is not None:
                    cancel_locked_order(order, actor=None, note=_("Not paid in time"))
                    cancelled += 1
        if len(ids) < batch:
            return cancelled


def send_payment_reminders(*, now: datetime | None = None, batch: int = 100) -> int:
    """Remind shoppers paying by bank transfer halfway to their deadline (once per order);
    returns how many mails were queued."""
    now = now or timezone.now()
    sent = 0
    for order_id, deadline, method in selectors.orders_due_a_reminder(now=now, limit=batch):
        halfway = deadline - payment_window(method) / 2
        if halfway > now:
            continue
        with transaction.atomic():
            order = locks.order_for_update(pk=order_id)
            if order.payment_reminder_sent_at or order.payment_status != PaymentStatus.UNPAID:
                continue
            order.payment_reminder_sent_at = now
            order.save(update_fields=["payment_reminder_sent_at", "updated_at"])
            record_event(order, kind=EventKind.NOTE, note=_("Payment reminder sent"))
            mails.queue_order_mail(order=order, name="payment_reminder")
            sent += 1
    return sent


@transaction.atomic
def record_refund_reversed(*, order: Order, amount: Decimal, actor=None) -> Order:
    """A refund recorded as sent failed at the provider: the order holds that money again
    (owed back to the shopper as a refund due, which the payments app keeps)."""
    amount = Decimal(amount)
    locked = locks.order_for_update(pk=order.pk)
    if amount <= 0 or amount > locked.total_refunded:
        raise RefundTooLarge
    locked.total_refunded -= amount
    locked.save(update_fields=["total_refunded", "updated_at"])
    refresh_statuses(locked, actor=actor, note=_("Refund failed at the provider"))
    return copy_order(locked, order)


@transaction.atomic
def note_on_order(*, order: Order, note: str, actor=None) -> None:
    """A line on the order's timeline that moves no status (e.g. a surplus payment)."""
    record_event(order, kind=EventKind.NOTE, actor=actor, note=note)
