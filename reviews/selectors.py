"""Reads of reviews that pages share. Each is one query, whatever the number of reviews."""

from typing import NamedTuple

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from catalog.models import Product
from orders.models import FulfilmentStatus, OrderLine, OrderStatus, PaymentStatus
from reviews.models import HelpfulVote, Review

#: Orders whose goods reached the shopper: only these make a shopper a reviewer.
#: Fulfilment statuses in which the shopper has had the goods in hand.
RECEIVED_STATES = (FulfilmentStatus.DELIVERED, FulfilmentStatus.RETURNED)

#: Sort name -> ordering of the reviews page; "pk" last makes every page deterministic.
SORTS = {
    "newest": ("-created_at", "-pk"),
    "highest": ("-rating", "-created_at", "-pk"),
    "lowest": ("rating", "-created_at", "-pk"),
    "helpful": ("-helpful_count", "-created_at", "-pk"),
}
DEFAULT_SORT = "newest"


class Eligibility(NamedTuple):
    can_review: bool
    reason: str
    #: "ok", "anonymous", "reviewed", "not_delivered", "not_bought": for templates and tests.
    code: str


def review_eligibility(*, user, product: Product) -> Eligibility:
    """Whether `user` may write a review of `product`, and in words why not.

    A shopper may review what a delivered or completed order of theirs holds, once.
    Two queries at most: their review of it, then the states of their orders holding it.
    """
    if not user.is_authenticated:
        return Eligibility(False, _("Sign in to write a review."), "anonymous")
    if Review.objects.filter(user=user, product=product).exists():
        return Eligibility(
            False, _("You have reviewed this product; you can edit your review."), "reviewed"
        )
    states = set(
        OrderLine.objects.filter(order__user=user, product=product)
        .values_list("order__fulfilment_status", flat=True)
        .distinct()
    )
    if states & set(RECEIVED_STATES):
        return Eligibility(True, "", "ok")
    if states:
        return Eligibility(
            False,
            _("You can review this product once your order of it has been delivered."),
            "not_delivered",
        )
    return Eligibility(
        False, _("Only shoppers who received this product can review it."), "not_bought"
    )


def rating_histogram(*, product: Product) -> list[dict]:
    """Rows for 5 stars down to 1: count and percentage of the approved reviews (one GROUP BY)."""
    counts = dict(
        Review.objects.approved()
        .filter(product=product)
        .order_by()
        .values_list("rating")
        .annotate(n=Count("pk"))
    )
    total = sum(counts.values())
    return [
        {
            "stars": stars,
            "count": counts.get(stars, 0),
            "percent": round(100 * counts.get(stars, 0) / total) if total else 0,
        }
        for stars in range(5, 0, -1)
    ]


#: An order that makes its shopper a verified buyer of what it holds: completed, or paid
#: (wholly or partly refunded since counts as paid) and not cancelled.
BOUGHT = Q(order__status=OrderStatus.COMPLETED) | (
    Q(order__payment_status__in=[PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED])
    & ~Q(order__status=OrderStatus.CANCELLED)
)


def approved_reviews(*, product: Product, sort: str = DEFAULT_SORT) -> QuerySet[Review]:
    """Approved reviews with `verified_buyer`: the author has a paid or completed order
    holding the product (a subquery in the same query, not one per review)."""
    bought = OrderLine.objects.filter(BOUGHT, order__user=OuterRef("user"), product=product)
    return (
        Review.objects.approved()
        .filter(product=product)
        .select_related("user")
        .annotate(verified_buyer=Exists(bought))
        .order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))
    )


def own_review(*, user, product: Product) -> Review | None:
    if not user.is_authenticated:
        return None
    return Review.objects.filter(user=user, product=product).first()


def voted_review_ids(*, user, review_ids: list[int]) -> set[int]:
    """Which of these reviews `user` already found helpful (one query for a whole page)."""
    if not user.is_authenticated or not review_ids:
        return set()
    return set(
        HelpfulVote.objects.filter(user=user, review_id__in=review_ids).values_list(
            "review_id", flat=True
        )
    )


def get_review_for_user(*, pk: int, user) -> Review:
    """The user's own review, with its product; 404 for anyone else's (or none)."""
    return get_object_or_404(Review.objects.select_related("product"), pk=pk, user=user)


def get_approved_review(*, pk: int) -> Review:
    return get_object_or_404(Review.objects.approved().select_related("product"), pk=pk)


def reviewable_product(*, slug: str) -> Product:
    """A published product by slug, 404 otherwise (reviews of hidden products are not shown)."""
    return get_object_or_404(
        Product.objects.published().only(
            "pk", "name", "slug", "rating_average", "rating_count", "category_id"
        ),
        slug=slug,
    )
