"""Carrier tracking: the scans of each parcel, stored once, and what they mean for the
order. Out for delivery and delivered each send the shopper one mail; delivered marks the
parcel delivered and starts the wait for the shopper's confirmation (自动确认收货: the order
completes by itself TRACKING_AUTO_CONFIRM_DAYS later); a problem puts the order on the
merchant's to-do until the carrier reports progress."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import locks, mails
from orders.errors import OrderError
from orders.models import (
    CARRIERS,
    Order,
    OrderStatus,
    Shipment,
    TrackingEvent,
    TrackingStage,
)
from orders.services.statuses import copy_order, refresh_statuses
from orders.tracking import TrackedEvent, TrackingError, kuaidi100, provider_for
from orders.tracking import mails as tracking_mails

logger = logging.getLogger(__name__)

#: The stages that put the order on the merchant's to-do (admin filter "todo=tracking").
PROBLEM_STAGES = (TrackingStage.EXCEPTION, TrackingStage.RETURNED)


@transaction.atomic
def record_tracking(
    *, shipment: Shipment, events: list[TrackedEvent], now: datetime | None = None
) -> int:
    """Store the scans not seen before and act on them; returns how many were new.

    Runs under the order's row lock, so a push delivered twice at once stores its scans
    once and mails once; the same scans again change nothing."""
    order = locks.order_for_update(pk=shipment.order_id)
    shipment = Shipment.objects.get(pk=shipment.pk)
    seen = dict(TrackingEvent.objects.filter(shipment=shipment).values_list("fingerprint", "stage"))
    fresh = {}
    for event in events:
        if event.fingerprint not in seen:
            fresh.setdefault(event.fingerprint, event)
    TrackingEvent.objects.bulk_create(
        TrackingEvent(
            shipment=shipment,
            occurred_at=event.occurred_at,
            location=event.location,
            description=event.description,
            stage=event.stage,
            fingerprint=fingerprint,
        )
        for fingerprint, event in fresh.items()
    )
    now = now or timezone.now()
    shipment.tracking_checked_at = now
    latest = TrackingEvent.objects.filter(shipment=shipment).order_by("-occurred_at", "-pk").first()
    shipment.tracking_stage = latest.stage if latest else ""
    shipment.save(update_fields=["tracking_checked_at", "tracking_stage"])
    new_stages = {event.stage for event in fresh.values()} - set(seen.values())
    if TrackingStage.DELIVERED in new_stages and order.status != OrderStatus.CANCELLED:
        delivered_at = min(
            event.occurred_at for event in fresh.values() if event.stage == TrackingStage.DELIVERED
        )
        _deliver(order, shipment, at=min(delivered_at, now))
    for stage in tracking_mails.MAILS:  # the stages the shopper hears of, once each
        if stage in new_stages:
            mails.queue_order_mail(order=order, name=stage, shipment=shipment)
    return len(fresh)


def _deliver(order: Order, shipment: Shipment, *, at: datetime) -> None:
    """The carrier's "delivered": the parcel is delivered (as the merchant's "mark
    delivered" would), and the order waits for the shopper's confirmation."""
    if shipment.delivered_at is not None:
        return  # the merchant or the shopper said so first
    shipment.delivered_at = at
    shipment.confirm_by = at + timedelta(days=settings.TRACKING_AUTO_CONFIRM_DAYS)
    shipment.save(update_fields=["delivered_at", "confirm_by"])
    refresh_statuses(
        order,
        note=_("Delivered, as %(carrier)s reports") % {"carrier": CARRIERS[shipment.carrier][0]},
    )


def start_tracking(*, shipment_id: int) -> bool:
    """Right after shipping: ask the carrier to push the parcel's scans; True if it will.
    A shipment it does not push is polled (poll_tracking)."""
    shipment = Shipment.objects.select_related("order").get(pk=shipment_id)
    provider = provider_for(shipment.carrier)
    if provider is None or not shipment.tracking_number:
        return False
    try:
        pushed = provider.subscribe(shipment)
    except TrackingError as error:
        logger.warning("tracking subscription of shipment %s failed: %s", shipment_id, error)
        return False
    if pushed:
        Shipment.objects.filter(pk=shipment_id).update(tracking_pushed=True)
    return pushed


def record_kuaidi100_push(*, param: str) -> int:
    """A verified Kuaidi100 push: the scans of every shipment of that company and number
    (none: a parcel not ours, or deleted since; nothing to do). Raises TrackingError for a
    push that cannot be read."""
    status, company, number, events = kuaidi100.parse_push(param)
    carriers = [code for code, name in kuaidi100.COMPANIES.items() if name == company]
    stored = 0
    for shipment in Shipment.objects.filter(carrier__in=carriers, tracking_number=number).order_by(
        "pk"
    ):
        stored += record_tracking(shipment=shipment, events=events)
        if status == "abort":
            Shipment.objects.filter(pk=shipment.pk).update(tracking_pushed=False)
    return stored


def shipments_to_poll(*, now: datetime) -> list[Shipment]:
    """For each provider, the parcels it may be asked about now: on their way, not pushed,
    not asked lately, the longest unasked first, at most one minute's worth of the
    provider's queries (the polling run is once a minute)."""
    by_provider: dict[type, tuple] = {}
    for carrier in CARRIERS:
        provider = provider_for(carrier)
        if provider is not None:
            by_provider.setdefault(type(provider), (provider, []))[1].append(carrier)
    chosen = []
    for provider, carriers in by_provider.values():
        chosen += list(
            Shipment.objects.filter(
                carrier__in=carriers,
                tracking_pushed=False,
                delivered_at__isnull=True,
                order__status=OrderStatus.OPEN,
            )
            .exclude(tracking_number="")
            .exclude(tracking_stage=TrackingStage.RETURNED)
            .filter(
                Q(tracking_checked_at__isnull=True)
                | Q(tracking_checked_at__lte=now - provider.poll_every)
            )
            .select_related("order")
            .order_by(F("tracking_checked_at").asc(nulls_first=True), "pk")[: provider.per_minute]
        )
    return chosen


def poll_tracking(*, now: datetime | None = None) -> int:
    """One polling run (CELERY_BEAT_SCHEDULE, once a minute): asks each provider about
    its parcels within its rate limit; returns how many new scans were stored. `now` is
    the run's time (tests move it; the demo carrier's parcels follow it)."""
    now = now or timezone.now()
    stored = 0
    for shipment in shipments_to_poll(now=now):
        try:
            events = provider_for(shipment.carrier).query(shipment, now=now)
        except TrackingError as error:
            logger.warning("tracking query of shipment %s failed: %s", shipment.pk, error)
            # Asked: the next try waits its turn like the others.
            Shipment.objects.filter(pk=shipment.pk).update(tracking_checked_at=now)
            continue
        stored += record_tracking(shipment=shipment, events=events, now=now)
    return stored


def confirm_deliveries_due(*, now: datetime | None = None) -> int:
    """自动确认收货 (hourly): parcels delivered TRACKING_AUTO_CONFIRM_DAYS ago and not
    confirmed count as received; their orders complete unless a return is open (it
    completes when the return is settled). Returns how many orders were confirmed."""
    now = now or timezone.now()
    order_ids = list(
        Shipment.objects.filter(confirm_by__lte=now)
        .order_by("order_id")
        .values_list("order_id", flat=True)
        .distinct()
    )
    for order_id in order_ids:
        with transaction.atomic():
            order = locks.order_for_update(pk=order_id)
            Shipment.objects.filter(order=order, confirm_by__lte=now).update(confirm_by=None)
            refresh_statuses(
                order,
                note=_("Receipt confirmed automatically %(days)s days after delivery")
                % {"days": settings.TRACKING_AUTO_CONFIRM_DAYS},
            )
    return len(order_ids)


@transaction.atomic
def confirm_receipt(*, order: Order, actor=None) -> Order:
    """The shopper says the parcels arrived: every parcel counts as delivered and received,
    and the order completes at once (unless a return is open)."""
    locked = locks.order_for_update(pk=order.pk)
    if locked.status == OrderStatus.CANCELLED:
        raise OrderError(_("This order was cancelled: there is nothing to receive."))
    waiting = Shipment.objects.filter(order=locked).filter(
        Q(delivered_at__isnull=True) | Q(confirm_by__isnull=False)
    )
    if not waiting.exists():
        raise OrderError(_("Nothing of this order is waiting for your confirmation."))
    Shipment.objects.filter(order=locked, delivered_at__isnull=True).update(
        delivered_at=timezone.now()
    )
    Shipment.objects.filter(order=locked, confirm_by__isnull=False).update(confirm_by=None)
    refresh_statuses(locked, actor=actor, note=_("Receipt confirmed by the shopper"))
    return copy_order(locked, order)
