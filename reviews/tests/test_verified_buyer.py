"""A "Verified buyer" mark on reviews whose author has a paid or completed order holding
the product, computed in the reviews' own query."""

import pytest

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory
from orders.models import FulfilmentStatus
from reviews import selectors, services
from reviews.tests.factories import ReviewFactory, order_holding
from reviews.tests.test_views import PRODUCT_PAGE_BUDGET, REVIEWS_PAGE_BUDGET, list_url

pytestmark = pytest.mark.django_db


def review_by(product, *, order=None, **order_fields):
    user = UserFactory()
    if order is not None or order_fields:
        placed = order_holding(order or product, user=user)
        type(placed).objects.filter(pk=placed.pk).update(**order_fields)
    return ReviewFactory(product=product, user=user)


@pytest.fixture
def kettle():
    return ProductFactory(name="Kettle")


def test_only_shoppers_with_a_paid_or_completed_order_of_the_product_are_verified(kettle):
    paid = review_by(kettle, payment_status="paid")
    partly_refunded = review_by(kettle, payment_status="partially_refunded")
    completed = review_by(kettle, status="completed", payment_status="refunded")
    unpaid = review_by(kettle, payment_status="unpaid")
    cancelled = review_by(kettle, payment_status="paid", status="cancelled")
    other_product = review_by(kettle, order=ProductFactory(), payment_status="paid")
    never = review_by(kettle)
    found = {r.pk: r.verified_buyer for r in selectors.approved_reviews(product=kettle)}
    assert found == {
        paid.pk: True,
        partly_refunded.pk: True,
        completed.pk: True,
        unpaid.pk: False,
        cancelled.pk: False,
        other_product.pk: False,
        never.pk: False,
    }


@pytest.mark.parametrize("n", [1, 30])
def test_the_mark_costs_no_query_per_review(client, kettle, n, django_assert_max_num_queries):
    for i in range(n):
        review_by(kettle, payment_status="paid" if i % 2 == 0 else "unpaid")
    review_by(kettle)
    services.refresh_ratings(product_ids=[kettle.pk])
    with django_assert_max_num_queries(PRODUCT_PAGE_BUDGET):
        html = client.get(kettle.get_absolute_url()).content.decode()
    # The newest five: the one without an order, then alternately unpaid and paid.
    assert html.count("Verified buyer") == sum(1 for i in range(n) if i % 2 == 0 and i >= n - 4)
    client.force_login(UserFactory())
    with django_assert_max_num_queries(REVIEWS_PAGE_BUDGET):
        html = client.get(list_url(kettle)).content.decode()
    assert html.count("Verified buyer") == sum(1 for i in range(n) if i % 2 == 0 and i >= n - 9)


def test_a_delivered_order_makes_the_reviewer_verified(client, kettle):
    user = UserFactory()
    order_holding(kettle, user=user, fulfilment=FulfilmentStatus.DELIVERED)
    ReviewFactory(product=kettle, user=user, title="Boils fast")
    services.refresh_ratings(product_ids=[kettle.pk])
    html = client.get(kettle.get_absolute_url()).content.decode()
    assert "Boils fast" in html and "✓ Verified buyer" in html
