"""Reads that group pages, the product page and price_cart share."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from groupbuys.models import Group, GroupOffer, GroupState, Membership, MemberState, holds_seat

#: How many open groups the product page lists: the ones closest to filling.
OPEN_GROUPS_SHOWN = 5


def mask_name(user) -> str:
    """A member as other shoppers see them: first and last letter of their name (or of
    their email before the @), "J***n"; one letter: "J***"."""
    name = (getattr(user, "full_name", "") or user.email.split("@")[0] or "?").strip()
    return f"{name[0]}***{name[-1]}" if len(name) > 1 else f"{name}***"


def running_offer(*, product_id: int, now: datetime | None = None) -> GroupOffer | None:
    return (
        GroupOffer.objects.running(now=now)
        .filter(product_id=product_id)
        .prefetch_related("variants")
        .order_by("group_price", "pk")
        .first()
    )


def open_groups(*, offer: GroupOffer, now: datetime | None = None) -> list[Group]:
    """The offer's groups still open with a free seat, closest to filling first, each with
    `seats_left` (one query)."""
    now = now or timezone.now()
    groups = list(
        Group.objects.filter(offer=offer, state=GroupState.OPEN, deadline__gt=now)
        .annotate(seats_taken=Count("memberships", filter=_seat_filter(now)))
        .filter(seats_taken__lt=offer.group_size)
        .order_by("-seats_taken", "deadline", "pk")[:OPEN_GROUPS_SHOWN]
    )
    for group in groups:
        group.seats_left = offer.group_size - group.seats_taken
    return groups


def _seat_filter(now) -> Q:
    return Q(memberships__state=MemberState.PAID) | Q(
        memberships__state=MemberState.RESERVED, memberships__reserved_until__gt=now
    )


def group_for_page(*, code: str) -> Group | None:
    """A group by its link code, with its offer, product and members (3 queries)."""
    if not code or len(code) > 16:
        return None
    return (
        Group.objects.filter(code=code)
        .select_related("offer__product")
        .prefetch_related(
            "offer__variants",
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("user").order_by("joined_at", "pk"),
            ),
        )
        .first()
    )


def seats_taken(*, group: Group, now: datetime) -> int:
    return group.memberships.filter(holds_seat(now=now)).count()


def group_unit_prices(*, lines, user, now: datetime) -> dict[int, Decimal]:
    """price_cart's source (one query): each line's group price, for lines whose shopper
    holds an unpaid seat (joined, within their time to pay) in an open group, for the
    variant they joined with. A paid seat prices nothing more: one seat, one order."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    seats = (
        Membership.objects.filter(
            user=user,
            state=MemberState.RESERVED,
            reserved_until__gt=now,
            group_id__in={line.group_id for line in lines},
            group__state=GroupState.OPEN,
            group__deadline__gt=now,
        )
        .select_related("group__offer")
        .only("group_id", "variant_id", "group__offer__group_price")
    )
    price_of = {(m.group_id, m.variant_id): m.group.offer.group_price for m in seats}
    return {
        line.key: price_of[(line.group_id, line.variant_id)]
        for line in lines
        if (line.group_id, line.variant_id) in price_of
    }
