from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

#: Lengths a shopper may type: a headline, and a text long enough for a thorough review.
TITLE_MAX = 120
BODY_MAX = 4000


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ReviewQuerySet(models.QuerySet):
    def approved(self):
        return self.filter(status=ReviewStatus.APPROVED)


class Review(models.Model):
    """One shopper's review of one product. Plain text: templates always escape it.

    Only approved reviews count towards the product's `rating_average`/`rating_count`, which
    reviews.services keeps right on every change.
    """

    Status = ReviewStatus

    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        related_name="reviews",
        on_delete=models.CASCADE,
    )
    #: The shopper's own content: it goes when their account goes.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        related_name="reviews",
        on_delete=models.CASCADE,
    )
    rating = models.PositiveSmallIntegerField(_("rating"))
    title = models.CharField(_("title"), max_length=TITLE_MAX, blank=True)
    body = models.TextField(_("review"), max_length=BODY_MAX, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    merchant_reply = models.TextField(_("merchant reply"), max_length=BODY_MAX, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True, editable=False)
    #: Votes of "this was helpful", kept by reviews.services.vote_helpful (one per shopper).
    helpful_count = models.PositiveIntegerField(_("found helpful"), default=0, editable=False)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created_at", "-pk"]
        #: Answering a shopper without moderating (approve, reject): the support role's.
        permissions = [("reply_review", _("Can reply to reviews"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"
            ),
            models.UniqueConstraint(fields=["user", "product"], name="review_one_per_product"),
        ]
        indexes = [
            # The product page and the reviews page: a product's approved reviews, newest first.
            models.Index(fields=["product", "status", "-created_at"], name="review_product_recent"),
            # The admin's pending-first list.
            models.Index(fields=["status", "-created_at"], name="review_status_recent"),
        ]

    def __str__(self):
        return f"{self.rating}★ {self.title or self.body[:40]}"


class HelpfulVote(models.Model):
    """A shopper found a review helpful; at most one per shopper and review."""

    review = models.ForeignKey(Review, related_name="helpful_votes", on_delete=models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, related_name="helpful_votes", on_delete=models.CASCADE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("helpful vote")
        verbose_name_plural = _("helpful votes")
        constraints = [models.UniqueConstraint(fields=["review", "user"], name="helpful_vote_once")]

    def __str__(self):
        return f"{self.user_id} → {self.review_id}"
