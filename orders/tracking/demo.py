"""The built-in demo carrier: a parcel goes through every stage within minutes of being
shipped, computed from the shipped time alone, so the demo and the tests need no network
and a test moves time by setting shipped_at in the past."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from orders.models import TrackingStage
from orders.tracking.base import TrackedEvent

#: (minutes after shipping, stage, place, what happened), the place and text in English,
#: translated into the order's language when the scan is reported.
ROUTE = [
    (0, TrackingStage.ACCEPTED, gettext_noop("Shenzhen"), gettext_noop("Parcel collected")),
    (
        1,
        TrackingStage.IN_TRANSIT,
        gettext_noop("Shenzhen"),
        gettext_noop("Left the sorting centre"),
    ),
    (
        2,
        TrackingStage.IN_TRANSIT,
        gettext_noop("Shanghai"),
        gettext_noop("Arrived at the local depot"),
    ),
    (
        3,
        TrackingStage.OUT_FOR_DELIVERY,
        gettext_noop("Shanghai"),
        gettext_noop("Out for delivery with the courier"),
    ),
    (
        4,
        TrackingStage.DELIVERED,
        gettext_noop("Shanghai"),
        gettext_noop("Delivered, signed for by the recipient"),
    ),
]


class DemoCarrier:
    poll_every = timedelta(minutes=1)
    per_minute = 600  # nothing leaves the machine: the batch size alone bounds a run

    def query(self, shipment, *, now: datetime) -> list[TrackedEvent]:
        elapsed = now - shipment.shipped_at
        language = shipment.order.language or settings.LANGUAGE_CODE
        with translation.override(language):
            return [
                TrackedEvent(
                    occurred_at=shipment.shipped_at + timedelta(minutes=minutes),
                    stage=stage,
                    location=_(place),
                    description=_(text),
                )
                for minutes, stage, place, text in ROUTE
                if elapsed >= timedelta(minutes=minutes)
            ]

    def subscribe(self, shipment) -> bool:
        return False
