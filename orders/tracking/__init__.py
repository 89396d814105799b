"""Carrier tracking, beside the payment providers: each provider turns a carrier's reports
into TrackedEvents in the shop's stages (TrackingStage); orders/services/tracking.py stores
them on the shipment and draws the consequences (mails, delivery, the merchant's to-do).

- demo.py: the built-in demo carrier, a parcel delivered within minutes, no network;
- kuaidi100.py: Kuaidi100 (快递100), real-time query and subscription push.
"""

from django.conf import settings

from orders.tracking.base import TrackedEvent, TrackingError, TrackingProvider
from orders.tracking.demo import DemoCarrier
from orders.tracking.kuaidi100 import COMPANIES, Kuaidi100


def provider_for(carrier: str) -> TrackingProvider | None:
    """Who tracks parcels of `carrier`: None when nobody does (a plain link stays)."""
    if carrier == "demo":
        return DemoCarrier()
    if carrier in COMPANIES and settings.KUAIDI100_KEY and settings.KUAIDI100_CUSTOMER:
        return Kuaidi100()
    return None


__all__ = ["TrackedEvent", "TrackingError", "TrackingProvider", "provider_for"]
