"""Writes to reviews. Each keeps the products' stored rating right in the same transaction.

`Product.rating_average` and `rating_count` count approved reviews only; they are recomputed
from the approved reviews of the touched products in one UPDATE (never incremented, so no
sequence of approvals, edits and deletions can make them drift), then the cached pages that
show those products are invalidated.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, DecimalField, F, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product
from catalog.services import invalidate_products
from promotions import ledger as points_ledger
from reviews.models import HelpfulVote, Review, ReviewStatus
from reviews.selectors import review_eligibility


class ReviewError(Exception):
    """A review write refused, with the sentence the page shows."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ReviewNotAllowed(ReviewError):
    """The shopper may not review this product (see selectors.review_eligibility)."""


class VoteNotAllowed(ReviewError):
    """A helpful vote on one's own review, or on a review not shown to shoppers."""


def _status_after_writing() -> str:
    return ReviewStatus.APPROVED if settings.REVIEWS_AUTO_APPROVE else ReviewStatus.PENDING


def refresh_ratings(*, product_ids: Iterable[int]) -> None:
    """Recompute the stored average and count of these products from their approved reviews
    (one UPDATE with two subqueries), and invalidate the pages that show them."""
    product_ids = sorted(set(product_ids))
    if not product_ids:
        return
    approved = Review.objects.approved().filter(product=OuterRef("pk")).order_by().values("product")
    Product.objects.filter(pk__in=product_ids).update(
        rating_count=Coalesce(Subquery(approved.annotate(n=Count("pk")).values("n")), Value(0)),
        rating_average=Coalesce(
            Subquery(
                approved.annotate(
                    average=Cast(Avg("rating"), DecimalField(max_digits=3, decimal_places=2))
                ).values("average")
            ),
            Value(0),
            output_field=DecimalField(max_digits=3, decimal_places=2),
        ),
    )
    _invalidate(product_ids)


def _invalidate(product_ids: list[int]) -> None:
    # The catalog bumps the pages' versions when this transaction commits.
    invalidate_products(product_ids=product_ids)


def _stored_status(review: Review) -> str | None:
    """The status in the table: the instance may predate a moderator's bulk action."""
    return Review.objects.filter(pk=review.pk).values_list("status", flat=True).first()


@transaction.atomic
def write_review(*, user, product: Product, rating: int, title: str, body: str) -> Review:
    """A shopper's first review of a product they received; pending unless auto-approved."""
    eligibility = review_eligibility(user=user, product=product)
    if not eligibility.can_review:
        raise ReviewNotAllowed(eligibility.reason)
    try:
        with transaction.atomic():
            review = Review.objects.create(
                user=user,
                product=product,
                rating=rating,
                title=title,
                body=body,
                status=_status_after_writing(),
            )
    except IntegrityError:  # the same shopper, twice at once
        raise ReviewNotAllowed(
            _("You have reviewed this product; you can edit your review.")
        ) from None
    if review.status == ReviewStatus.APPROVED:
        refresh_ratings(product_ids=[product.pk])
        _award_points(Review.objects.filter(pk=review.pk))
    return review


@transaction.atomic
def edit_review(*, review: Review, rating: int, title: str, body: str) -> Review:
    """Change a review; it goes back to moderation (unless auto-approved)."""
    was_approved = _stored_status(review) == ReviewStatus.APPROVED
    review.rating, review.title, review.body = rating, title, body
    review.status = _status_after_writing()
    review.save(update_fields=["rating", "title", "body", "status", "updated_at"])
    if was_approved or review.status == ReviewStatus.APPROVED:
        refresh_ratings(product_ids=[review.product_id])
    return review


@transaction.atomic
def delete_review(*, review: Review) -> None:
    was_approved = _stored_status(review) == ReviewStatus.APPROVED
    product_id = review.product_id
    review.delete()
    if was_approved:
        refresh_ratings(product_ids=[product_id])


def _set_status(review_ids: Iterable[int], status: str) -> int:
    review_ids = list(review_ids)
    rows = Review.objects.filter(pk__in=review_ids).exclude(status=status)
    product_ids = set(rows.values_list("product_id", flat=True))
    changed = rows.update(status=status, updated_at=timezone.now())
    refresh_ratings(product_ids=product_ids)
    return changed


@transaction.atomic
def approve_reviews(*, review_ids: Iterable[int]) -> int:
    """Show these reviews to shoppers; returns how many changed."""
    review_ids = list(review_ids)
    _award_points(Review.objects.filter(pk__in=review_ids).exclude(status=ReviewStatus.APPROVED))
    return _set_status(review_ids, ReviewStatus.APPROVED)


def _award_points(reviews) -> None:
    """The review bonus (settings.POINTS_REVIEW_BONUS; no query when there is none): once
    per review, even if it is approved again after a rejection."""
    if settings.POINTS_REVIEW_BONUS <= 0:
        return
    for pk, user_id in reviews.filter(user__isnull=False).values_list("pk", "user_id"):
        points_ledger.award_review_points(user_id=user_id, review_id=pk)


@transaction.atomic
def reject_reviews(*, review_ids: Iterable[int]) -> int:
    """Hide these reviews from shoppers; returns how many changed."""
    return _set_status(review_ids, ReviewStatus.REJECTED)


@transaction.atomic
def reply_to_review(*, review: Review, reply: str) -> Review:
    """The merchant's public answer, dated; an empty reply removes it."""
    reply = reply.strip()
    review.merchant_reply = reply
    review.replied_at = timezone.now() if reply else None
    review.save(update_fields=["merchant_reply", "replied_at", "updated_at"])
    if review.status == ReviewStatus.APPROVED:
        _invalidate([review.product_id])  # the product page shows replies
    return review


@transaction.atomic
def vote_helpful(*, review: Review, user) -> bool:
    """Count `user` as finding `review` helpful, once: True if this vote was new.

    The unique (review, user) row decides, so two clicks at once still count one vote.
    Votes do not invalidate cached pages: only the uncached reviews page shows them.
    """
    if review.user_id == user.pk:
        raise VoteNotAllowed(_("You cannot vote on your own review."))
    if review.status != ReviewStatus.APPROVED:
        raise VoteNotAllowed(_("This review is not shown any more."))
    try:
        with transaction.atomic():
            HelpfulVote.objects.create(review=review, user=user)
    except IntegrityError:
        return False
    Review.objects.filter(pk=review.pk).update(helpful_count=F("helpful_count") + 1)
    return True
