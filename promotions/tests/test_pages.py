"""The membership summary on /account/ and the merchant's admin pages."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from promotions import services
from promotions.models import Coupon
from promotions.tests.factories import CouponFactory, MembershipTierFactory, OfferFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def tiers():
    MembershipTierFactory(name="Silver", min_spend=D("1000.00"), percent=D("5"))
    MembershipTierFactory(name="Gold", min_spend=D("5000.00"), percent=D("10"))


def test_the_account_page_shows_the_tier_and_the_spend_to_the_next(client, user, tiers):
    services.record_paid_spend(user=user, amount=D("1200.00"))
    client.force_login(user)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert "Silver: 5% off your orders" in html
    assert "Spend $3,800.00 more to reach Gold (10% off)." in html


def test_the_account_page_without_spend_shows_the_first_tier_to_reach(client, user, tiers):
    client.force_login(user)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert "Spend $1,000.00 more to reach Silver (5% off)." in html


def test_the_account_page_shows_no_membership_when_the_shop_has_no_tiers(client, user):
    client.force_login(user)
    assert "Membership" not in client.get(reverse("accounts:profile")).content.decode()


@pytest.fixture
def merchant(client):
    admin = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.mark.parametrize("count", [1, 30])
def test_promotion_lists_take_the_same_queries_for_1_and_30_rows(
    merchant, count, django_assert_max_num_queries
):
    for n in range(count):
        CouponFactory(max_uses=10)
        OfferFactory()
        MembershipTierFactory(min_spend=D(n))
    for name in ("coupon", "offer", "membershiptier"):
        # Session, user, the count, the page (and the filter's count).
        with django_assert_max_num_queries(7):
            response = merchant.get(reverse(f"admin:promotions_{name}_changelist"))
        assert response.status_code == 200


def test_a_coupons_page_lists_the_orders_that_used_it(merchant):
    coupon = CouponFactory(code="SAVE", max_uses=3)
    for number in ("A-100", "A-101"):
        services.redeem_coupon(
            code="SAVE", user=None, email="g@example.com", order_number=number, subtotal=D("50")
        )
    services.release_coupon(order_number="A-101")
    html = merchant.get(reverse("admin:promotions_coupon_change", args=[coupon.pk])).content
    assert b"A-100" in html and b"A-101" in html
    listing = merchant.get(reverse("admin:promotions_coupon_changelist")).content.decode()
    assert ">1<" in listing and ">2<" in listing  # used 1, 2 remaining


def test_the_deactivate_action_goes_through_the_service(merchant):
    coupon = CouponFactory()
    response = merchant.post(
        reverse("admin:promotions_coupon_changelist"),
        {"action": "deactivate", "_selected_action": [coupon.pk]},
    )
    assert response.status_code == 302
    assert Coupon.objects.get().is_active is False


def test_a_coupon_code_must_be_unique_in_any_case(merchant):
    CouponFactory(code="SUMMER")
    response = merchant.post(
        reverse("admin:promotions_coupon_add"),
        {
            "code": "summer",
            "kind": "percent",
            "value": "10",
            "minimum_subtotal": "0",
            "is_active": "on",
            "redemptions-TOTAL_FORMS": "0",
            "redemptions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Another coupon has this code" in response.content.decode()
    assert Coupon.objects.count() == 1


def test_saving_a_sale_in_the_admin_shows_it_on_pages_at_once(merchant):
    from catalog.tests.factories import ProductFactory

    product = ProductFactory(variants__price=D("80.00"))
    response = merchant.post(
        reverse("admin:promotions_offer_add"),
        {
            "name": "Flash sale",
            "kind": "sale",
            "percent": "25",
            "is_active": "on",
            "products": [product.pk],
            "tiers-TOTAL_FORMS": "0",
            "tiers-INITIAL_FORMS": "0",
            "uses-TOTAL_FORMS": "0",
            "uses-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.sale_price == D("60.00")
