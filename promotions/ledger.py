"""Every write to the points (积分) ledger. Each function locks the customer's row first
(promotions.locks), so a customer's entries are written one at a time and the balance read
under the lock is the balance the entry is judged against: it never goes below zero.

The orders app calls, inside its transactions:
    lock_customer(user=...)  # place_order, before price_cart() reads the balance
    record_redemption(user=..., order_number=..., points=price.points_used)
    settle_order_points(user=..., order_number=..., paid=..., refunded=...,
                        completed=..., cancelled=...)  # whenever an order's statuses move
and the reviews app award_review_points(user_id=..., review_id=...) when a review is approved.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from promotions import locks, points, selectors
from promotions.errors import PointsRejected
from promotions.models import PointsEntry

Reason = PointsEntry.Reason


def points_expiry(now: datetime) -> datetime | None:
    """When points earned at `now` expire (settings.POINTS_VALID_DAYS; None: never)."""
    days = settings.POINTS_VALID_DAYS
    return now + timedelta(days=days) if days > 0 else None


def lock_customer(*, user) -> None:
    """Hold the customer's ledger until the transaction ends (place_order, before it prices
    a redemption)."""
    locks.customer_for_update(user_id=user.pk)


def _balance(user) -> int:
    return selectors.points_balance(user=user)


def record_redemption(*, user, order_number: str, points: int, now: datetime | None = None):
    """Pay for an order with `points`: one entry in the caller's transaction.

    The caller (place_order) took lock_customer() before pricing, so the balance
    price_cart() capped the redemption at is still the balance now: no other entry of this
    customer can be written before the transaction ends. An order pays with points once (a
    unique constraint)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_redemption() runs inside place_order's transaction")
    return PointsEntry.objects.create(
        user=user,
        amount=-points,
        reason=Reason.REDEEMED,
        order_number=order_number,
        created_at=now or timezone.now(),
    )


@transaction.atomic
def settle_order_points(
    *,
    user,
    order_number: str,
    paid: Decimal,
    refunded: Decimal,
    completed: bool,
    cancelled: bool,
    now: datetime | None = None,
) -> list[PointsEntry]:
    """Bring an order's points in line with its money: idempotent, so it is called every
    time the order's statuses move.

    - Points spent on it come back in proportion to the money refunded (all of them when it
      is cancelled or fully refunded).
    - Once completed it earns settings.POINTS_PER_UNIT points per unit paid net of refunds
      (times the membership tier's points multiplier), once, plus the first-order bonus; a
      later refund takes back the same share of the earning, at most what the customer
      still holds.
    """
    if user is None:
        return []
    now = now or timezone.now()
    locks.customer_for_update(user_id=user.pk)
    moved = selectors.order_points(order_number=order_number)
    written = []

    def write(amount: int, reason: str, **fields) -> None:
        if amount:
            written.append(
                PointsEntry.objects.create(
                    user=user,
                    amount=amount,
                    reason=reason,
                    order_number=order_number,
                    created_at=now,
                    **fields,
                )
            )

    spent = -moved.get(Reason.REDEEMED, 0)
    if spent:
        due = spent if cancelled else points.share_of(spent, part=refunded, whole=paid)
        # Points given back are the shopper's afresh: they expire as newly earned ones do.
        write(due - moved.get(Reason.RETURNED, 0), Reason.RETURNED, expires_at=points_expiry(now))

    earning = PointsEntry.objects.filter(order_number=order_number, reason=Reason.EARNED).first()
    if earning is None and completed and not cancelled:
        basis = max(paid - refunded, Decimal(0))
        member = selectors.membership(user=user)
        earned = points.points_earned(
            paid=basis,
            per_unit=settings.POINTS_PER_UNIT,
            multiplier=member.tier.points_multiplier if member and member.tier else Decimal(1),
        )
        write(earned, Reason.EARNED, basis=basis, expires_at=points_expiry(now))
        bonus = settings.POINTS_FIRST_ORDER_BONUS
        if (
            earned
            and bonus > 0
            and not PointsEntry.objects.filter(user=user, reason=Reason.FIRST_ORDER).exists()
        ):
            write(bonus, Reason.FIRST_ORDER, expires_at=points_expiry(now))
    elif earning is not None and earning.basis:
        kept = points.share_of(
            earning.amount, part=max(paid - refunded, Decimal(0)), whole=earning.basis
        )
        owed = earning.amount + moved.get(Reason.TAKEN_BACK, 0) - kept
        if owed > 0:
            # What the customer already spent cannot be taken back: the ledger never goes
            # below zero, so the shop takes what is there.
            write(-min(owed, max(_balance(user), 0)), Reason.TAKEN_BACK)
    return written


@transaction.atomic
def award_review_points(*, user_id: int, review_id: int, now: datetime | None = None):
    """settings.POINTS_REVIEW_BONUS points for an approved review, once per review."""
    bonus = settings.POINTS_REVIEW_BONUS
    if bonus <= 0:
        return None
    locks.customer_for_update(user_id=user_id)
    if PointsEntry.objects.filter(reason=Reason.REVIEW, review_id=review_id).exists():
        return None
    now = now or timezone.now()
    return PointsEntry.objects.create(
        user_id=user_id,
        amount=bonus,
        reason=Reason.REVIEW,
        review_id=review_id,
        created_at=now,
        expires_at=points_expiry(now),
    )


@transaction.atomic
def adjust_points(*, user, amount: int, note: str, by=None, now: datetime | None = None):
    """A merchant's correction: an entry with the reason given, never an edit. Refused
    (PointsRejected) when it would take the customer below zero."""
    note = note.strip()
    if not note:
        raise PointsRejected(_("Say why the points are adjusted."))
    if amount == 0:
        raise PointsRejected(_("Enter a number of points other than zero."))
    locks.customer_for_update(user_id=user.pk)
    balance = _balance(user)
    if balance + amount < 0:
        raise PointsRejected(
            _("The customer has %(balance)s points: %(amount)s would take them below zero.")
            % {"balance": balance, "amount": amount}
        )
    now = now or timezone.now()
    return PointsEntry.objects.create(
        user=user,
        amount=amount,
        reason=Reason.ADJUSTED,
        note=note[:200],
        created_by=by,
        created_at=now,
        expires_at=points_expiry(now) if amount > 0 else None,
    )


@transaction.atomic
def expire_customer_points(*, user_id: int, now: datetime) -> int:
    """Write off what is left of the customer's points whose time is up (oldest first)."""
    locks.customer_for_update(user_id=user_id)
    lots = points.open_lots(selectors.points_movements(user=user_id))
    due = points.expired_by(lots, now=now)
    if due > 0:
        PointsEntry.objects.create(
            user_id=user_id, amount=-due, reason=Reason.EXPIRED, created_at=now
        )
    return due


def expire_points(*, now: datetime | None = None) -> int:
    """Expire every customer's points whose time is up; returns how many points expired.
    One transaction per customer, so a long run holds no lock for long; running it twice
    expires nothing more."""
    now = now or timezone.now()
    customers = (
        PointsEntry.objects.filter(amount__gt=0, expires_at__lte=now)
        .values_list("user_id", flat=True)
        .distinct()
        .order_by("user_id")
    )
    return sum(expire_customer_points(user_id=user_id, now=now) for user_id in customers)
