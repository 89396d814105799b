"""When an order arrives: a shipping method's working days turned into dates."""

from dataclasses import dataclass
from datetime import date

import numpy as np
from django.utils import timezone


@dataclass(frozen=True)
class DeliveryEstimate:
    earliest: date
    latest: date


def working_days(method) -> tuple[int, int] | None:
    """(fewest, most) working days `method` takes to deliver; one of the two fields alone
    stands for both. None when it promises none, or there is no method."""
    if method is None:
        return None
    low, high = method.delivery_days_min, method.delivery_days_max
    if low is None and high is None:
        return None
    return (high if low is None else low), (low if high is None else high)


def _working_days_after(start: date, days: int) -> date:
    # numpy's business-day calendar (Monday to Friday): a start on a weekend rolls forward
    # to Monday first, so an order of Saturday counts from Monday.
    return np.busday_offset(start, days, roll="forward").astype(date)


def delivery_estimate(method, *, start: date) -> DeliveryEstimate | None:
    """The earliest and latest delivery dates of `method` for an order dispatched from
    `start`, counting working days only (weekends skipped); None when it promises no days."""
    days = working_days(method)
    if days is None:
        return None
    return DeliveryEstimate(
        earliest=_working_days_after(start, days[0]), latest=_working_days_after(start, days[1])
    )


def estimate_for_order(order) -> DeliveryEstimate | None:
    """The delivery dates to show on an order still to ship, counted from the day it was
    paid (None before payment: the page says "after your payment arrives" instead)."""
    if order.paid_at is None:
        return None
    return delivery_estimate(order.shipping_method, start=timezone.localdate(order.paid_at))
