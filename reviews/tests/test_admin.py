from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from reviews.models import Review, ReviewStatus
from reviews.tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:reviews_review_changelist")


def test_changelist_lists_pending_first_in_few_queries(admin_client, django_assert_max_num_queries):
    old_pending = ReviewFactory(status=ReviewStatus.PENDING, title="Old pending")
    ReviewFactory.create_batch(20, status=ReviewStatus.APPROVED)
    new_pending = ReviewFactory(status=ReviewStatus.PENDING, title="New pending")
    # session, user, the page of reviews with products and users, the filters' choices
    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST)
    listed = list(response.context["cl"].result_list)
    assert listed[:2] == [new_pending, old_pending]


def test_bulk_actions_approve_and_reject_through_the_services(admin_client):
    product = ProductFactory()
    reviews = ReviewFactory.create_batch(2, product=product, status=ReviewStatus.PENDING, rating=5)
    ids = [r.pk for r in reviews]
    response = admin_client.post(
        CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: ids}, follow=True
    )
    assert "2 reviews approved." in response.content.decode()
    assert Product.objects.get(pk=product.pk).rating_count == 2
    admin_client.post(CHANGELIST, {"action": "reject", ACTION_CHECKBOX_NAME: ids[:1]})
    row = Product.objects.get(pk=product.pk)
    assert (row.rating_count, row.rating_average) == (1, Decimal("5.00"))
    assert Review.objects.get(pk=ids[0]).status == ReviewStatus.REJECTED


def test_merchant_reply_is_saved_dated_and_shown(admin_client, client):
    review = ReviewFactory(rating=4)
    url = reverse("admin:reviews_review_change", args=[review.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"merchant_reply": "Thanks for the kind words"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.merchant_reply == "Thanks for the kind words" and review.replied_at
    assert review.rating == 4  # nothing else is editable here


def test_search_and_filters(admin_client):
    ReviewFactory(title="Rusty lid", status=ReviewStatus.PENDING)
    ReviewFactory(title="Shiny")
    response = admin_client.get(CHANGELIST, {"q": "rusty", "status__exact": "pending"})
    assert [r.title for r in response.context["cl"].result_list] == ["Rusty lid"]
    assert admin_client.get(reverse("admin:reviews_review_add")).status_code == 403
