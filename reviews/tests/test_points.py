"""The review bonus (settings.POINTS_REVIEW_BONUS): points once per approved review."""

import pytest

from accounts.tests.factories import UserFactory
from promotions.models import PointsEntry
from promotions.selectors import points_balance
from reviews import services
from reviews.tests.factories import order_holding
from reviews.tests.test_services import product, write  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_an_approved_review_earns_its_bonus_once(product, settings):  # noqa: F811
    settings.POINTS_REVIEW_BONUS = 20
    user = UserFactory()
    order_holding(product, user=user)
    review = write(user, product)
    assert points_balance(user=user) == 0  # pending: nothing yet
    services.approve_reviews(review_ids=[review.pk])
    services.reject_reviews(review_ids=[review.pk])
    services.approve_reviews(review_ids=[review.pk])
    assert points_balance(user=user) == 20
    assert PointsEntry.objects.get(user=user).reason == PointsEntry.Reason.REVIEW


def test_an_auto_approved_review_earns_it_at_once_and_none_without_a_bonus(product, settings):  # noqa: F811
    settings.REVIEWS_AUTO_APPROVE = True
    settings.POINTS_REVIEW_BONUS = 0
    first = UserFactory()
    order_holding(product, user=first)
    write(first, product)
    assert points_balance(user=first) == 0
    settings.POINTS_REVIEW_BONUS = 5
    second = UserFactory()
    order_holding(product, user=second)
    write(second, product)
    assert points_balance(user=second) == 5
