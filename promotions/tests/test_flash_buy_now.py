"""Buy now (立即抢购): the cheap step in front of checkout that holds a flash sale unit for a
signed-in shopper, answers everyone else at once, and hands the winner a checkout of that
one item. Through the real views, Redis and database (Redis tests skip without REDIS_URL)."""

import dataclasses
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cart.models import CartLine
from cart.tests.factories import CartLineFactory
from catalog.tests.factories import VariantFactory
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory
from orders.tests.test_views import NEW_ADDRESS
from promotions import flash
from promotions.models import FlashClaim, FlashSale
from promotions.tests.helpers import line_of
from promotions.tests.test_flash import buy, flash_sale, shopper
from shop.held import held_per_version

pytestmark = pytest.mark.django_db

#: A sold-out (or over-the-limit) answer, signed in: the user's row, the shopper's cart
#: count in the header, and the category menu and flash schedule when their cache is cold;
#: with Redis away, also the unlocked reads of `taken` and the shopper's claims.
REFUSED_BUDGET = 6


def needs_redis():
    if flash._redis() is None:
        pytest.skip("needs Redis (REDIS_URL)")


def buy_now(client, sale, **data):
    return client.post(
        reverse("cart:flash-buy", kwargs={"sale_id": sale.pk}), {"quantity": 1, **data}
    )


def signed_in(client, email="ada@example.com"):
    user = shopper(email)
    client.force_login(user)
    return user


def left(sale) -> int:
    return flash.remaining_of([flash.sale_of(sale)])[sale.pk]


def checkout_and_place(client, method):
    """The winner's checkout: details, review, place (the usual pages); a review that sends
    the shopper back is returned as it is."""
    details = {
        "email": "ada@example.com",
        "shipping_method": method.pk,
        "payment_method": "manual",
        **NEW_ADDRESS,
    }
    assert client.post(reverse("orders:checkout"), details).status_code == 302
    response = client.get(reverse("orders:review"))
    if response.status_code != 200:
        return response
    html = response.content.decode()
    fields = {
        name: re.search(rf'name="{name}" value="([^"]+)"', html).group(1)
        for name in ("idempotency_key", "fingerprint")
    }
    return client.post(reverse("orders:place"), fields)


def test_buy_now_holds_a_unit_and_checkout_buys_that_item_alone_at_the_flash_price(
    client, django_capture_on_commit_callbacks
):
    sale = flash_sale(cap=3)
    method = ShippingMethodFactory()
    user = signed_in(client)
    other = CartLineFactory(cart__user=user, variant=VariantFactory(price=Decimal("50.00")))
    response = buy_now(client, sale)
    assert response.status_code == 302 and response.url == reverse("orders:checkout")
    line = CartLine.objects.get(variant=sale.variant)
    assert line.is_selected and line.quantity == 1
    other.refresh_from_db()
    assert not other.is_selected  # waits in the cart, out of this checkout's pricing
    # Held, not yet claimed: the database knows nothing until the order is placed.
    assert FlashSale.objects.get().taken == 0 and not FlashClaim.objects.exists()
    if flash._redis() is not None:
        assert left(sale) == 2
        assert "is yours at $9.90 until" in client.get(reverse("orders:checkout")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the hold becomes the claim
        response = checkout_and_place(client, method)
    order = Order.objects.get()
    assert response.status_code == 302
    assert [(li.variant_id, li.unit_price) for li in order.lines.all()] == [
        (sale.variant_id, Decimal("9.90"))
    ]
    assert FlashSale.objects.get().taken == 1
    assert FlashClaim.objects.get().order_number == order.number
    assert left(sale) == 2  # the hold became the claim: counted once
    if flash._redis() is not None:
        assert flash._held_units(sale, customer=f"u:{user.pk}", now=timezone.now()) == 0


def test_pressing_buy_now_twice_holds_one_unit(client):
    needs_redis()
    sale = flash_sale(cap=3)
    signed_in(client)
    assert buy_now(client, sale).status_code == 302
    assert buy_now(client, sale).status_code == 302
    assert left(sale) == 2
    assert CartLine.objects.get(variant=sale.variant).quantity == 1


def test_sold_out_is_answered_at_once_with_409_no_pricing_and_no_write(
    client, django_assert_max_num_queries
):
    sale = flash_sale(cap=1)
    buy(sale, email="first@example.com")
    signed_in(client)
    with (
        CaptureQueriesContext(connection) as queries,
        django_assert_max_num_queries(REFUSED_BUDGET),
    ):
        response = buy_now(client, sale, next="/flash/")
    assert response.status_code == 409
    html = response.content.decode()
    assert "Sold out: every unit of the flash sale" in html
    assert 'href="/flash/"' in html  # back where the shopper pressed it
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []
    assert not CartLine.objects.filter(variant=sale.variant, cart__user__email="ada@example.com")


def test_once_sold_out_the_crowd_is_answered_without_a_query_and_a_holder_goes_on(
    client, django_assert_num_queries
):
    needs_redis()
    sale = flash_sale(cap=1)
    holder = Client()
    signed_in(holder, "holder@example.com")
    assert buy_now(holder, sale).status_code == 302  # the last unit, held
    signed_in(client)
    with django_assert_num_queries(0):  # the session from the cache, one Lua call
        response = buy_now(client, sale)
    assert response.status_code == 409
    assert "Sold out: every unit of the flash sale" in response.content.decode()
    # A guest is told the same, rather than sent to sign in for nothing.
    assert buy_now(Client(), sale).status_code == 409
    # The holder pressing again (a double click) is not told "sold out": the unit is theirs.
    assert buy_now(holder, sale).status_code == 302
    assert left(sale) == 0


def test_a_shopper_over_the_limit_is_answered_409(client):
    sale = flash_sale(cap=5, per_customer=1)
    user = signed_in(client)
    buy(sale, user=user, email="ada@example.com")
    response = buy_now(client, sale)
    assert response.status_code == 409
    assert "allows 1 per customer, and you have reached it" in response.content.decode()
    assert buy_now(client, sale, quantity=2).status_code == 409  # more than the limit at once
    assert FlashSale.objects.get().taken == 1


def test_a_sale_not_started_or_ended_is_answered_409_and_an_unknown_one_404(
    client, django_capture_on_commit_callbacks
):
    later = flash_sale(starts_in=timedelta(hours=1), name="Later")
    over = flash_sale(name="Over")
    signed_in(client)
    # Ended a moment ago, and still in the schedule held for the current version.
    ended = timezone.now() - timedelta(seconds=1)
    FlashSale.objects.filter(pk=over.pk).update(ends_at=ended)
    with django_capture_on_commit_callbacks(execute=True):
        flash.schedule_changed()  # a new version, for which nothing is held yet
    held_per_version(
        flash.SCHEDULE_NAME,
        flash.schedule_version(),
        lambda: [flash.sale_of(later), dataclasses.replace(flash.sale_of(over), ends_at=ended)],
        timeout=60,
    )
    response = buy_now(client, later)
    assert response.status_code == 409 and "has not started yet" in response.content.decode()
    response = buy_now(client, over)
    assert response.status_code == 409 and "has ended" in response.content.decode()
    assert client.post(reverse("cart:flash-buy", kwargs={"sale_id": 99999})).status_code == 404
    assert not CartLine.objects.exists()


def test_a_guest_is_sent_to_sign_in_and_back(client):
    sale = flash_sale()
    product_url = sale.variant.product.get_absolute_url()
    response = buy_now(client, sale, next=product_url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert response.url.endswith("?next=" + product_url)
    assert not CartLine.objects.exists() and left(sale) == sale.cap
    # Somewhere else is not where a guest is sent back to.
    response = buy_now(client, sale, next="https://evil.example.com/")
    assert "evil" not in response.url


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("", "Enter a quantity."), ("two", "Enter a whole number."), ("0", "Choose at least 1")],
)
def test_bad_input_is_a_400_page_that_says_why(client, quantity, message):
    sale = flash_sale()
    signed_in(client)
    response = buy_now(client, sale, quantity=quantity)
    assert response.status_code == 400 and message in response.content.decode()
    assert left(sale) == sale.cap and not CartLine.objects.exists()


def test_buy_now_answers_only_post_with_a_csrf_token():
    sale = flash_sale()
    client = Client(enforce_csrf_checks=True)
    signed_in(client)
    url = reverse("cart:flash-buy", kwargs={"sale_id": sale.pk})
    assert client.get(url).status_code == 405
    assert client.post(url, {"quantity": 1}).status_code == 403
    assert left(sale) == sale.cap and not CartLine.objects.exists()


def test_an_abandoned_hold_lapses_and_its_unit_goes_to_the_next_shopper(client):
    """The holder who never placed the order is told "sold out" when they come back."""
    needs_redis()
    sale = flash_sale(cap=1)
    method = ShippingMethodFactory()
    early = signed_in(client, "early@example.com")
    assert buy_now(client, sale).status_code == 302
    late = Client()
    signed_in(late, "late@example.com")
    assert buy_now(late, sale).status_code == 409  # held by the early shopper
    # FLASH_HOLD_MINUTES later, by the sale's clock: the hold lapsed.
    later = timezone.now() + flash.hold_window() + timedelta(seconds=1)
    flash.hold(sale=flash.sale_of(sale), user=shopper("late@example.com"), quantity=1, now=later)
    assert flash._held_units(sale, customer=f"u:{early.pk}", now=later) == 0
    response = checkout_and_place(client, method)
    assert response.status_code == 302 and response.url == reverse("cart:detail")
    assert "Sold out" in client.get(response.url).content.decode()
    assert not Order.objects.exists() and FlashSale.objects.get().taken == 0


@override_settings(FLASH_REDIS_URL="redis://127.0.0.1:1/0")
def test_with_redis_down_buy_now_sends_to_checkout_and_placing_never_oversells(client):
    """Nothing can be held: the first to place get the units, the rest are told at place."""
    sale = flash_sale(cap=1)
    method = ShippingMethodFactory()
    signed_in(client)
    assert buy_now(client, sale).status_code == 302
    buy(sale, email="quicker@example.com")  # placed first
    response = checkout_and_place(client, method)
    assert response.url == reverse("cart:detail")
    assert FlashSale.objects.get().taken == 1 and Order.objects.count() == 1
    assert buy_now(client, sale).status_code == 409  # sold out now, read from the database


def test_add_to_cart_of_a_variant_in_a_running_flash_sale_points_to_buy_now(client):
    sale = flash_sale()
    signed_in(client)
    response = client.post(
        reverse("cart:add"), {"variant": sale.variant.pk, "quantity": 1}, follow=True
    )
    assert "is in a flash sale: press “Buy now” on its page" in response.content.decode()
    assert not CartLine.objects.exists()


def test_reconcile_keeps_held_units_and_drops_only_a_drifted_counter(client):
    needs_redis()
    sale = flash_sale(cap=3)
    signed_in(client)
    buy(sale, email="b@example.com")
    assert buy_now(client, sale).status_code == 302
    assert flash.reconcile_counters() == 0  # 1 claimed + 1 held agrees with taken = 1
    assert left(sale) == 1
    flash._redis().incr(flash._keys(sale.pk)[0])  # a process died between reserve and commit
    assert flash.reconcile_counters() == 0  # seen once: it may be an order being placed
    assert left(sale) == 0
    assert flash.reconcile_counters() == 1  # still there a minute later: it drifted
    assert left(sale) == 2  # reloaded from the database (the hold is gone with it)


def test_reconcile_does_not_drop_live_holds_for_an_order_being_placed(client):
    """An order between its gate (Redis counted its unit) and its commit is no drift: the
    counters, and every shopper's hold in them, stay."""
    needs_redis()
    sale = flash_sale(cap=3)
    user = signed_in(client)
    assert buy_now(client, sale).status_code == 302
    other = shopper("b@example.com")
    reserved = flash.reserve(lines=[line_of(sale.variant)], user=other, email=other.email)
    assert flash.reconcile_counters() == 0
    assert flash._held_units(sale, customer=f"u:{user.pk}", now=timezone.now()) == 1
    flash.cancel_reservations(reserved)  # that order was refused after the gate
    assert flash.reconcile_counters() == 0
    assert flash._held_units(sale, customer=f"u:{user.pk}", now=timezone.now()) == 1
    assert left(sale) == 2


def test_the_product_page_offers_buy_now_at_the_flash_price_and_the_nav_links_to_flash(client):
    sale = flash_sale()
    product = sale.variant.product
    product.is_published = True
    product.save()
    client.get(product.get_absolute_url())  # loads the schedule the header reads
    html = client.get(product.get_absolute_url()).content.decode()
    assert reverse("cart:flash-buy", kwargs={"sale_id": sale.pk}) in html
    assert "Buy now at $9.90" in html
    assert f'data-flash-variant="{sale.variant_id}"' in html  # flash.js hides Add to cart
    assert 'class="flash-link" href="/flash/"' in html


def test_the_nav_has_no_flash_link_without_a_sale(client):
    flash_sale(starts_in=timedelta(hours=-3))  # over
    flash.schedule()
    html = client.get(reverse("cart:detail")).content.decode()
    assert "flash-link" not in html


def test_every_counter_of_a_sale_expires_with_it(client):
    """Loaded before any claim (the start of a sale), the counters still all expire after
    the sale: no Redis key outlives it."""
    needs_redis()
    sale = flash_sale(cap=3)
    signed_in(client)
    assert buy_now(client, sale).status_code == 302
    redis_client = flash._redis()
    ttls = [redis_client.ttl(key) for key in flash._keys(sale.pk)]
    assert all(ttl > 0 for ttl in ttls), ttls


@pytest.mark.parametrize(("pressed", "ordered"), [(1, 2), (2, 1)])
def test_an_order_of_more_or_fewer_units_than_held_leaves_redis_counting_the_claim(
    client, django_capture_on_commit_callbacks, pressed, ordered
):
    """Buy now of `pressed` units, then the cart's quantity edited to `ordered`: once the
    order is placed Redis counts exactly the units claimed (no drift for reconcile to find,
    which would drop every shopper's hold with it)."""
    needs_redis()
    sale = flash_sale(cap=5, per_customer=3)
    method = ShippingMethodFactory()
    user = signed_in(client)
    assert buy_now(client, sale, quantity=pressed).status_code == 302
    CartLine.objects.filter(cart__user=user, variant=sale.variant).update(quantity=ordered)
    with django_capture_on_commit_callbacks(execute=True):
        assert checkout_and_place(client, method).status_code == 302
    assert FlashSale.objects.get().taken == ordered
    assert flash._held_units(sale, customer=f"u:{user.pk}", now=timezone.now()) == 0
    assert left(sale) == 5 - ordered
