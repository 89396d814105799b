from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from catalog.models import Product
from catalog.tests.factories import ProductFactory
from orders.models import FulfilmentStatus as F
from reviews import services
from reviews.models import HelpfulVote, Review, ReviewStatus
from reviews.selectors import review_eligibility
from reviews.tests.factories import ReviewFactory, order_holding

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return ProductFactory(name="Kettle")


def rating_of(product):
    row = Product.objects.get(pk=product.pk)
    return row.rating_average, row.rating_count


def write(user, product, rating=5, **kwargs):
    return services.write_review(
        user=user,
        product=product,
        rating=rating,
        title=kwargs.get("title", "Great"),
        body=kwargs.get("body", "Boils fast."),
    )


# --- Who may review -----------------------------------------------------------------------


def test_a_shopper_without_an_order_may_not_review(product):
    user = UserFactory()
    can, reason = review_eligibility(user=user, product=product)[:2]
    assert not can and "received" in reason
    with pytest.raises(services.ReviewNotAllowed):
        write(user, product)
    assert not Review.objects.exists()


@pytest.mark.parametrize("state", [F.UNFULFILLED, F.SHIPPED, F.PARTIALLY_SHIPPED])
def test_an_order_not_yet_delivered_does_not_allow_a_review(product, state):
    user = UserFactory()
    order_holding(product, user=user, fulfilment=state)
    eligibility = review_eligibility(user=user, product=product)
    assert not eligibility.can_review and eligibility.code == "not_delivered"
    assert "delivered" in eligibility.reason
    with pytest.raises(services.ReviewNotAllowed):
        write(user, product)


@pytest.mark.parametrize("state", [F.DELIVERED, F.RETURNED])
def test_a_delivered_or_completed_order_allows_one_review(product, state):
    user = UserFactory()
    order_holding(product, user=user, fulfilment=state)
    assert review_eligibility(user=user, product=product).can_review
    review = write(user, product)
    assert review.status == ReviewStatus.PENDING


def test_a_second_review_of_the_same_product_is_refused(product):
    user = UserFactory()
    order_holding(product, user=user)
    order_holding(product, user=user, fulfilment=F.DELIVERED)
    write(user, product)
    eligibility = review_eligibility(user=user, product=product)
    assert eligibility.code == "reviewed"
    with pytest.raises(services.ReviewNotAllowed, match="edit your review"):
        write(user, product)
    assert Review.objects.count() == 1


def test_another_shoppers_order_does_not_count(product):
    buyer, other = UserFactory(), UserFactory()
    order_holding(product, user=buyer)
    assert not review_eligibility(user=other, product=product).can_review


def test_an_order_of_another_product_does_not_count(product):
    user = UserFactory()
    order_holding(ProductFactory(), user=user)
    assert review_eligibility(user=user, product=product).code == "not_bought"


# --- Moderation and aggregates ------------------------------------------------------------


def test_new_reviews_wait_for_approval_and_do_not_count_until_then(product):
    user = UserFactory()
    order_holding(product, user=user)
    review = write(user, product, rating=4)
    assert rating_of(product) == (Decimal("0.00"), 0)
    assert services.approve_reviews(review_ids=[review.pk]) == 1
    review.refresh_from_db()
    assert review.status == ReviewStatus.APPROVED
    assert rating_of(product) == (Decimal("4.00"), 1)


def test_auto_approve_publishes_at_once(product, settings):
    settings.REVIEWS_AUTO_APPROVE = True
    user = UserFactory()
    order_holding(product, user=user)
    review = write(user, product, rating=3)
    assert review.status == ReviewStatus.APPROVED
    assert rating_of(product) == (Decimal("3.00"), 1)


def test_aggregates_follow_approve_edit_reject_and_delete(product):
    reviews = []
    for rating in (5, 4, 4):
        user = UserFactory()
        order_holding(product, user=user)
        reviews.append(write(user, product, rating=rating))
    services.approve_reviews(review_ids=[r.pk for r in reviews])
    assert rating_of(product) == (Decimal("4.33"), 3)

    # Editing sends the review back to moderation: it stops counting until approved again.
    services.edit_review(review=reviews[0], rating=1, title="Broke", body="After a week.")
    assert reviews[0].status == ReviewStatus.PENDING
    assert rating_of(product) == (Decimal("4.00"), 2)
    services.approve_reviews(review_ids=[reviews[0].pk])
    assert rating_of(product) == (Decimal("3.00"), 3)

    services.reject_reviews(review_ids=[reviews[1].pk])
    assert rating_of(product) == (Decimal("2.50"), 2)

    services.delete_review(review=Review.objects.get(pk=reviews[2].pk))
    assert rating_of(product) == (Decimal("1.00"), 1)
    services.reject_reviews(review_ids=[reviews[0].pk])
    assert rating_of(product) == (Decimal("0.00"), 0)


def test_bulk_approval_touches_each_product_once_and_counts_changes():
    first, second = ProductFactory(), ProductFactory()
    pending = [
        ReviewFactory(product=first, rating=5, status=ReviewStatus.PENDING),
        ReviewFactory(product=first, rating=2, status=ReviewStatus.PENDING),
        ReviewFactory(product=second, rating=3, status=ReviewStatus.PENDING),
    ]
    assert services.approve_reviews(review_ids=[r.pk for r in pending]) == 3
    assert services.approve_reviews(review_ids=[r.pk for r in pending]) == 0  # already
    assert rating_of(first) == (Decimal("3.50"), 2)
    assert rating_of(second) == (Decimal("3.00"), 1)


def test_a_change_invalidates_the_cached_product_page(
    client, product, django_capture_on_commit_callbacks
):
    review = ReviewFactory(product=product, rating=5, status=ReviewStatus.PENDING)
    assert "No reviews yet" in client.get(product.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # pages move on commit
        services.approve_reviews(review_ids=[review.pk])
    html = client.get(product.get_absolute_url()).content.decode()
    assert review.title in html and "5.0 out of 5" in html


def test_reply_is_dated_and_an_empty_reply_removes_it(product):
    review = ReviewFactory(product=product)
    services.reply_to_review(review=review, reply="  Thank you!  ")
    review.refresh_from_db()
    assert review.merchant_reply == "Thank you!" and review.replied_at is not None
    services.reply_to_review(review=review, reply="")
    review.refresh_from_db()
    assert review.merchant_reply == "" and review.replied_at is None


# --- Helpful votes ------------------------------------------------------------------------


def test_a_helpful_vote_counts_once_per_shopper(product):
    review = ReviewFactory(product=product)
    voter = UserFactory()
    assert services.vote_helpful(review=review, user=voter) is True
    assert services.vote_helpful(review=review, user=voter) is False
    assert services.vote_helpful(review=review, user=UserFactory()) is True
    review.refresh_from_db()
    assert review.helpful_count == 2
    assert HelpfulVote.objects.filter(review=review).count() == 2


def test_no_vote_on_ones_own_review_or_a_hidden_one(product):
    review = ReviewFactory(product=product)
    with pytest.raises(services.VoteNotAllowed):
        services.vote_helpful(review=review, user=review.user)
    pending = ReviewFactory(status=ReviewStatus.PENDING)
    with pytest.raises(services.VoteNotAllowed):
        services.vote_helpful(review=pending, user=UserFactory())
    assert not HelpfulVote.objects.exists()


def test_rating_outside_1_to_5_is_refused_by_the_database(product):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewFactory(product=product, rating=6)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewFactory(product=product, rating=0)
