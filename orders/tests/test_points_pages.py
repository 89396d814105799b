"""Points on the shopper's pages (checkout, review, order page, invoice, /account/points/)
and in the merchant's admin: every total shows them, bad input gets a message."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.tests.factories import AddressFactory, UserFactory
from catalog.tests.factories import VariantFactory
from orders.models import Order, ShippingMethod
from orders.tests.factories import ShippingMethodFactory
from orders.tests.test_views import CHECKOUT_BUDGET, ORDER_BUDGET, add, review_fields
from promotions import ledger
from promotions.models import PointsEntry
from promotions.selectors import points_balance

pytestmark = pytest.mark.django_db

#: The points page: session, user, the ledger (balance and expiry), the history's count and
#: page, the header's cart count and menu; the same for 1 entry or 60.
POINTS_BUDGET = 8


@pytest.fixture(autouse=True)
def _points_settings(settings):
    settings.POINTS_VALUE = Decimal("0.01")
    settings.POINTS_MAX_SHARE = Decimal("50")
    settings.POINTS_VALID_DAYS = 365


@pytest.fixture
def shopper(client):
    # The shop's shipping method exists before any page is shown, as in a running shop: a
    # method made later in a test's transaction never moves the catalog's version (it moves
    # on commit), so the checkout would go on offering the methods it read first.
    ShippingMethodFactory(price=Decimal("5.00"))
    user = UserFactory()
    AddressFactory(user=user, country="GB")
    ledger.adjust_points(user=user, amount=1500, note="Welcome gift")
    client.force_login(user)
    return user


def details(client, user, **extra):
    data = {
        "address": user.addresses.get().pk,
        "shipping_method": ShippingMethod.objects.get().pk,
        "payment_method": "manual",
        **extra,
    }
    return client.post(reverse("orders:checkout"), data)


def test_a_shopper_pays_part_of_an_order_with_points_shown_in_every_total(client, shopper):
    add(client, VariantFactory(price=Decimal("40.00"), stock=5))
    checkout = client.get(reverse("orders:checkout")).content.decode()
    assert "You have 1500 points, worth $15.00" in checkout
    assert details(client, shopper, points="1000").status_code == 302
    fields, review = review_fields(client)
    assert "Points (1000)" in review and "-$10.00" in review
    assert "Points (1000)" in client.get(reverse("orders:checkout")).content.decode()
    client.post(reverse("orders:place"), fields)
    order = Order.objects.get()
    assert order.total == Decimal("35.00")
    assert points_balance(user=shopper) == 500
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Points (1000)" in page
    invoice = client.get(reverse("orders:invoice", kwargs={"number": order.number}))
    assert "Paid with points" in invoice.content.decode()


def test_asking_for_more_than_the_cap_uses_what_the_order_can_take(client, shopper):
    add(client, VariantFactory(price=Decimal("20.00"), stock=5))
    details(client, shopper, points="1500")
    response = client.get(reverse("orders:review"))
    html = response.content.decode()
    assert "Points (1000)" in html  # half of 20.00
    assert "This order takes 1000 of your points" in html


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("1501", "You have 1500 points: enter 1500 or fewer."),
        ("-5", "Enter a number of points: 0 or more."),
        ("lots", "Enter a whole number of points, such as 500."),
        ("1.5", "Enter a whole number of points, such as 500."),
        ("9" * 40, "You have 1500 points: enter 1500 or fewer."),
    ],
)
def test_bad_points_get_a_message_and_keep_what_was_typed(client, shopper, points, message):
    add(client, VariantFactory(price=Decimal("40.00"), stock=5))
    response = details(client, shopper, points=points, coupon_code="KEEPME")
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'value="KEEPME"' in html
    assert not PointsEntry.objects.filter(reason=PointsEntry.Reason.REDEEMED).exists()


def test_a_shopper_without_points_or_a_guest_is_not_offered_them(client):
    add(client, VariantFactory())
    assert 'name="points"' not in client.get(reverse("orders:checkout")).content.decode()
    client.force_login(UserFactory())
    add(client, VariantFactory())
    assert 'name="points"' not in client.get(reverse("orders:checkout")).content.decode()


def test_checkout_with_points_stays_within_its_budget(
    client, shopper, django_assert_max_num_queries
):
    """The balance is one more query on checkout and review, for a signed-in shopper."""
    for _i in range(5):
        add(client, VariantFactory())
    with django_assert_max_num_queries(CHECKOUT_BUDGET + 1):
        assert client.get(reverse("orders:checkout")).status_code == 200
    details(client, shopper, points="100")
    with django_assert_max_num_queries(CHECKOUT_BUDGET + 1):
        assert client.get(reverse("orders:review")).status_code == 200


def test_the_order_page_with_points_stays_within_its_budget(
    client, shopper, django_assert_max_num_queries
):
    add(client, VariantFactory(price=Decimal("40.00"), stock=5))
    details(client, shopper, points="100")
    fields, _html = review_fields(client)
    client.post(reverse("orders:place"), fields)
    with django_assert_max_num_queries(ORDER_BUDGET):
        assert client.get(Order.objects.get().get_absolute_url()).status_code == 200


@pytest.mark.parametrize("entries", [1, 60])
def test_points_page_shows_balance_expiry_and_history(
    client, shopper, entries, django_assert_max_num_queries
):
    now = timezone.now()
    for i in range(entries):
        ledger.adjust_points(
            user=shopper, amount=10, note=f"gift {i}", now=now - timedelta(days=300)
        )
    with django_assert_max_num_queries(POINTS_BUDGET):
        response = client.get(reverse("promotions:points"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f">{1500 + 10 * entries}<" in html
    assert "When your points expire" in html and "Welcome gift" in html
    assert "gift 0" in html or entries > 50


def test_points_page_in_chinese(client, shopper):
    with translation.override("zh-hans"):
        url = reverse("promotions:points")
    assert url.startswith("/zh-hans/")
    html = client.get(url).content.decode()
    assert "我的积分" in html and "积分到期时间" in html


def test_points_page_needs_signing_in_and_a_bad_page_number_is_not_an_error(client, shopper):
    assert client.get(reverse("promotions:points") + "?page=x9").status_code == 200
    client.logout()
    response = client.get(reverse("promotions:points"))
    assert response.status_code == 302 and "login" in response.url


# --- The merchant's admin ---------------------------------------------------------------


@pytest.fixture
def merchant(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    return staff


def adjust(client, customer, **data):
    url = reverse("admin:promotions_customerpoints_change", args=[customer.pk])
    return client.post(url, {"adjust_by": "", "adjust_note": "", **data, **_inline_management()})


def _inline_management():
    prefix = "points_entries"
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_the_merchant_adjusts_points_with_a_reason_as_a_new_entry(client, merchant):
    customer = UserFactory()
    ledger.adjust_points(user=customer, amount=100, note="start")
    response = adjust(client, customer, adjust_by="-40", adjust_note="Damaged parcel goodwill")
    assert response.status_code == 302
    entry = PointsEntry.objects.filter(user=customer).first()
    assert (entry.amount, entry.note) == (-40, "Damaged parcel goodwill")
    assert entry.created_by == merchant
    assert points_balance(user=customer) == 60
    listing = client.get(reverse("admin:promotions_customerpoints_changelist")).content.decode()
    assert customer.email in listing
    page = client.get(reverse("admin:promotions_customerpoints_change", args=[customer.pk]))
    assert "Damaged parcel goodwill" in page.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"adjust_by": "-101", "adjust_note": "x"}, "they cannot go below zero"),
        ({"adjust_by": "50", "adjust_note": " "}, "Say why the points are adjusted."),
        ({"adjust_by": "ten", "adjust_note": "x"}, "Enter a whole number."),
    ],
)
def test_a_bad_adjustment_says_why_and_changes_nothing(client, merchant, data, message):
    customer = UserFactory()
    ledger.adjust_points(user=customer, amount=100, note="start")
    response = adjust(client, customer, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert points_balance(user=customer) == 100


def test_the_order_desk_shows_the_points_an_order_moved(client, shopper, merchant):
    from orders.tests.factories import cart_with, place

    cart = cart_with((VariantFactory(price=Decimal("40.00"), stock=5), 1), user=shopper)
    order = place(cart, user=shopper, email=shopper.email, points=500)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Points (500)" in page
    assert "Paid for an order" in page and "-500" in page
