"""Every row lock of the promotions app, in one place, always in primary-key order."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from promotions.models import Coupon, CouponRedemption


def coupon_for_update(*, code: str) -> Coupon | None:
    """Lock the coupon with this code (any case) until the transaction ends: redemptions of
    one coupon queue here, so its total and per-customer limits hold under concurrency."""
    return (
        Coupon.objects.select_for_update().filter(code__iexact=code.strip()).order_by("pk").first()
    )


def live_redemptions_for_update(*, order_number: str) -> QuerySet[CouponRedemption]:
    return (
        CouponRedemption.objects.select_for_update()
        .filter(order_number=order_number, released_at__isnull=True)
        .order_by("pk")
    )


def customer_for_update(*, user_id: int) -> None:
    """Lock the customer's row until the transaction ends: every write to a customer's points
    ledger queues here, so two checkouts spending the same points run one after the other
    and the second sees the first's entry (the balance never goes below zero)."""
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk"))
