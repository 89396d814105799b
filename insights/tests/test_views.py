"""The dashboard page (the admin index): who may see it, what it shows, its to-do links,
its period form's bad input, and a query budget that does not grow with the orders."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from orders.models import Order

URL = "/admin/"
#: session, user, 8 to-do counts, 3 for the figures by day, 2 for the top lists, the recent
#: actions (15); 2 more for a staff user's permissions, none per order.
BUDGET = 17


@pytest.fixture
def merchant_client(client, shop):
    client.force_login(shop.merchant)
    return client


def test_anonymous_goes_to_the_login_page(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_shopper_who_is_not_staff_gets_no_dashboard(client, db):
    client.force_login(UserFactory())
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert b"insights" not in client.get(response["Location"]).content


def test_dashboard_shows_the_figures_and_the_app_list(
    merchant_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(BUDGET):
        response = merchant_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "$75.00" in html and "$30.00" in html  # today, and yesterday before it
    assert "up 150.0 %" in html
    assert "$145.00" in html and "$200.00" in html
    assert "12 of 13 carts" in html
    assert 'id="content-main"' in html and "/admin/orders/order/" in html  # the app list
    assert 'role="img"' in html and 'src="http' not in html and "//fonts." not in html
    assert "Wool Scarf" in html and "Shirts" in html


def test_dashboard_in_chinese(merchant_client):
    response = merchant_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert "待办" in html and "$75.00" in html


def _changelist_pks(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    changelist = response.context["cl"]
    assert "e=1" not in response.request["QUERY_STRING"]  # the admin's "bad filter" redirect
    return {obj.pk for obj in changelist.queryset}


def test_each_to_do_link_lists_exactly_its_rows(merchant_client, shop):
    from insights import selectors
    from orders.models import TRANSFER_DUE_SOON

    counts = selectors.to_do_counts(transfers_due_before=timezone.now() + TRANSFER_DUE_SOON)
    html = merchant_client.get(URL).content.decode()
    links = dict(
        (label.strip(), href.replace("&amp;", "&"))
        for href, label in re.findall(
            r'<a href="([^"]+)"><span class="insights-count">\d+</span> <span>([^<]+)</span>',
            html,
        )
    )
    o = shop.orders
    expected = {
        "Orders to ship": {o[n].pk for n in "abcgi"},
        "Bank transfers due within 2 days": {o["f"].pk, o["k"].pk},
    }
    for label, pks in expected.items():
        assert _changelist_pks(merchant_client, links[label]) == pks
    sizes = {
        "Returns to handle": counts.returns_to_handle,
        "Refunds due": counts.refunds_due,
        "Payments flagged for review": counts.payments_flagged,
        "Reviews awaiting moderation": counts.reviews_pending,
        "Variants low on stock": counts.variants_low,
        "Orders with a delivery problem": counts.delivery_problems,
    }
    for label, size in sizes.items():
        assert len(_changelist_pks(merchant_client, links[label])) == size, label
    assert len(links) == 8


def _more_orders(shop, count):
    """`count` more paid orders, written in bulk (the budget must not move)."""
    source = shop.orders["a"]
    paid_at = timezone.now() - timedelta(hours=1)
    Order.objects.bulk_create(
        Order(
            number=f"BULK-{n}",
            email=f"bulk{n}@example.com",
            idempotency_key=f"bulk-{n}",
            status="open",
            payment_status="paid",
            payment_method="manual",
            ship_name="A",
            ship_line1="1 Road",
            ship_city="Town",
            ship_country="GB",
            shipping_method_name="Post",
            currency=source.currency,
            subtotal=Decimal("10.00"),
            total=Decimal("10.00"),
            total_paid=Decimal("10.00"),
            paid_at=paid_at - timedelta(days=n % 45),
        )
        for n in range(count)
    )


def test_query_budget_does_not_grow_with_the_orders(
    merchant_client, shop, django_assert_max_num_queries
):
    with django_assert_max_num_queries(BUDGET) as few:
        merchant_client.get(URL + "?days=90")
    _more_orders(shop, 300)
    with django_assert_max_num_queries(BUDGET) as many:
        response = merchant_client.get(URL + "?days=90")
    assert len(many.captured_queries) == len(few.captured_queries)
    assert response.context["overview"].comparisons[2].current.orders > 5 + 200  # all read


@pytest.mark.parametrize(
    "query, message",
    [
        ("days=13", "Select a valid choice"),
        ("days=abc", "Select a valid choice"),
        ("start=2026-02-30&end=2026-03-01", "Enter a valid date"),
        ("start=yesterday&end=today", "Enter a valid date"),
        ("start=2026-01-01", "Give both dates"),
        ("start=2026-02-01&end=2026-01-01", "The end date is before the start date"),
        ("start=2020-01-01&end=2026-01-01", "Choose at most 731 days"),
        ("start=2026-01-01&end=2999-01-01", "The end date is in the future"),
        ("start=" + "9" * 5000 + "&end=x", "Enter a valid date"),
    ],
)
def test_bad_period_gives_a_message_and_the_default_period(merchant_client, query, message):
    response = merchant_client.get(f"{URL}?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert response.context["top_period"].days == 30


def test_chosen_period_changes_the_top_lists(merchant_client, shop):
    first = (shop.today - timedelta(days=6)).isoformat()
    response = merchant_client.get(f"{URL}?start={first}&end={shop.today.isoformat()}")
    top = response.context["top"]
    assert [r.name for r in top.products_by_revenue] == ["Linen Shirt", "Wool Scarf"]
    response = merchant_client.get(f"{URL}?days=7")
    assert response.context["top_period"].days == 7


def test_staff_see_only_the_to_do_lists_they_may_open(client, shop, django_assert_max_num_queries):
    from django.contrib.auth.models import Permission

    moderator = UserFactory(is_staff=True)
    moderator.user_permissions.add(
        Permission.objects.get(codename="change_review", content_type__app_label="reviews")
    )
    client.force_login(moderator)
    with django_assert_max_num_queries(BUDGET - 5):  # no sales figures asked for
        response = client.get(URL)
    assert [item.label for item in response.context["to_do"]] == ["Reviews awaiting moderation"]
    html = response.content.decode()
    assert "insights-sales" not in html and "Top products" not in html and "$75.00" not in html


def test_staff_who_may_see_the_orders_see_the_sales(client, shop):
    from django.contrib.auth.models import Permission

    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_order", content_type__app_label="orders")
    )
    client.force_login(clerk)
    html = client.get(URL).content.decode()
    assert "insights-sales" in html and "$75.00" in html and "Top products" in html
