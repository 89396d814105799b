"""The cart's body kept per state of the cart (cart.page_cache): never another shopper's,
never a price, stock, promotion or tax that is no longer true."""

import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cart.page_cache import cart_with_states
from cart.selectors import CART_SESSION_KEY, cart_for, item_count
from cart.tests.factories import CartFactory, CartLineFactory
from cart.tests.test_views import CART_KEPT_BUDGET, add, guest_cart
from catalog.models import Variant
from catalog.tests.factories import VariantFactory
from catalog.tests.test_kept_pages import round_trips  # noqa: F401 (a fixture)
from promotions.models import CustomerSpend
from promotions.tests.factories import MembershipTierFactory, OfferFactory
from taxes.tests.factories import TaxRateFactory

pytestmark = pytest.mark.django_db


def cart_page(client) -> str:
    return client.get(reverse("cart:detail")).content.decode()


def token_of(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_a_kept_cart_is_only_its_shoppers_with_their_own_token(django_assert_max_num_queries):
    variant = VariantFactory(price=Decimal("12.00"), stock=9)
    ann, bob = Client(), Client()
    add(ann, variant, 2)
    add(bob, variant, 1)
    cart_page(ann)
    with django_assert_max_num_queries(CART_KEPT_BUDGET):
        ann_html = cart_page(ann)
    ann_line = guest_cart(ann).lines.get().pk
    bob_line = guest_cart(bob).lines.get().pk
    # Bob in a browser that checks CSRF as the live site does, with his session.
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = bob.cookies
    bob_html = cart_page(strict)
    assert f'name="quantity-{ann_line}" value="2"' in ann_html
    assert f"quantity-{ann_line}" not in bob_html
    assert f'name="quantity-{bob_line}" value="1"' in bob_html
    assert "__csrf_token_placeholder__" not in ann_html + bob_html
    # The kept body's forms carry each visitor's own token: Bob's posts with his.
    data = {f"quantity-{bob_line}": "3", f"selected-{bob_line}": "on"}
    assert strict.post(reverse("cart:update"), data).status_code == 403  # no token
    response = strict.post(
        reverse("cart:update"), {**data, "csrfmiddlewaretoken": token_of(bob_html)}
    )
    assert response.status_code == 302
    assert f'name="quantity-{bob_line}" value="3"' in cart_page(strict)


def test_a_kept_cart_shows_a_new_price_and_a_shortage_at_once(client):
    variant = VariantFactory(price=Decimal("12.00"), stock=9)
    add(client, variant, 4)
    cart_page(client)
    assert "$48.00" in cart_page(client)  # kept
    # Written as a bulk edit would, with no version moved: the line's state tells.
    Variant.objects.filter(pk=variant.pk).update(price=Decimal("10.00"), stock=3)
    html = cart_page(client)
    assert "The price of" in html and "$30.00" in html
    assert 'value="3"' in html  # lowered to the stock
    assert "$30.00" in cart_page(client) and "The price of" not in cart_page(client)


def test_an_offer_is_on_the_kept_cart_from_its_first_second(client):
    variant = VariantFactory(price=Decimal("20.00"), stock=9)
    add(client, variant, 1)
    starts = timezone.now() + timedelta(hours=1)
    OfferFactory(name="Evening sale", percent=Decimal("50"), valid_from=starts)
    cart_page(client)
    assert "Evening sale" not in cart_page(client)
    # The clock, the one thing from outside the machine here.
    with mock.patch("django.utils.timezone.now", return_value=starts):
        html = cart_page(client)
    assert "Evening sale" in html and "$10.00" in html


def test_a_saved_offer_reprices_the_kept_cart(client, django_capture_on_commit_callbacks):
    variant = VariantFactory(price=Decimal("20.00"), stock=9)
    add(client, variant, 1)
    cart_page(client)
    assert "Storewide" not in cart_page(client)
    with django_capture_on_commit_callbacks(execute=True):
        OfferFactory(name="Storewide", percent=Decimal("25"))
    html = cart_page(client)
    assert "Storewide" in html and "$15.00" in html


def test_a_signed_in_shopper_s_kept_cart_follows_their_tier(client, django_user_model):
    user = django_user_model.objects.create_user(email="t@example.com", password="pw-tier-123")
    MembershipTierFactory(name="Gold", min_spend=Decimal("100.00"), percent=Decimal("10"))
    client.force_login(user)
    add(client, VariantFactory(price=Decimal("50.00"), stock=9), 1)
    cart_page(client)
    assert "Gold member discount" not in cart_page(client)
    CustomerSpend.objects.create(user=user, paid_total=Decimal("150.00"))
    html = cart_page(client)
    assert "Gold member discount" in html and "$45.00" in html


def test_the_kept_layout_shows_each_visitor_only_their_own_header_messages_and_token(
    django_user_model,
):
    """The page around the body is kept per address and language (cart.page_cache.page):
    built here for a signed-in shopper with a message, then shown to a guest."""
    variant = VariantFactory(stock=9)
    ann = Client()
    ann.force_login(django_user_model.objects.create_user(email="ann@example.com", password="pw"))
    add(ann, variant, 2)
    ann_html = cart_page(ann)
    assert "Added 2 ×" in ann_html and "data-cart-count>2<" in ann_html
    bob = Client()
    add(bob, variant, 1)
    cart_page(bob)  # his "Added" message, shown once
    bob_html = cart_page(bob)
    assert "Added" not in bob_html
    assert "data-cart-count>1<" in bob_html
    assert "ann@example.com" not in bob_html and reverse("accounts:logout") not in bob_html
    assert "__csrf_token_placeholder__" not in bob_html
    secret = bob.cookies["csrftoken"].value
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', bob_html)
    assert tokens and {_unmask_cipher_token(token) for token in tokens} == {secret}


def test_a_query_string_in_the_cart_address_is_never_kept_for_others(client):
    add(client, VariantFactory())
    assert "made-up" in client.get(reverse("cart:detail") + "?made-up=1").content.decode()
    other = Client()
    add(other, VariantFactory())
    assert "made-up" not in cart_page(other)


def test_a_kept_cart_page_is_one_statement_and_one_round_trip_after_the_session(
    client,
    round_trips,  # noqa: F811 (the fixture)
    django_assert_num_queries,
):
    """The cart with its lines' states in one statement; the catalog's, offers' and flash
    sales' versions, the tax rates' version, the kept body and the often-bought section in
    one MGET (it was 2 statements and 5 round trips)."""
    add(client, VariantFactory(stock=9), 2)
    cart_page(client)
    cart_page(client)
    round_trips.clear()
    with django_assert_num_queries(CART_KEPT_BUDGET):
        html = cart_page(client)
    assert 'value="2"' in html
    # The session's read (shop.sessions: a GET on the thread's own connection with Redis,
    # the cache's get() with local memory), then the page's one MGET.
    session_read = "own_round_trip" if hasattr(cache, "client") else "get"
    assert [name for name, _key in round_trips] == [session_read, "_get_many"]


def test_a_changed_tax_rate_reaches_the_kept_cart_at_once(client, settings):
    settings.TAX_SELLER_COUNTRY = "DE"
    rate = TaxRateFactory(country="DE", rate=Decimal("19"))
    add(client, VariantFactory(price=Decimal("100.00"), stock=9), 1)
    cart_page(client)
    assert "$119.00" in cart_page(client)  # kept
    rate.rate = Decimal("21")
    rate.save()  # moves the rates' version (taxes.receivers), read with the page's MGET
    html = cart_page(client)
    assert "$121.00" in html and "$119.00" not in html


def test_a_session_naming_a_shopper_s_cart_shows_a_guest_none_of_it(client, django_user_model):
    shopper = django_user_model.objects.create_user(email="s@example.com", password="pw")
    theirs = CartLineFactory(cart=CartFactory(user=shopper), variant__stock=9)
    add(client, VariantFactory(stock=9))
    session = client.session
    session[CART_SESSION_KEY] = theirs.cart_id  # only the server can write this
    session.save()
    html = cart_page(client)
    assert theirs.variant.product.name not in html
    assert f"quantity-{theirs.pk}" not in html


def test_every_read_of_the_visitors_cart_finds_the_same_cart(django_user_model):
    """cart_for, cart_with_states and item_count follow one rule (cart_owner): a shopper's
    cart by their user, a guest's only by their session's id and only a cart of no user."""
    user = django_user_model.objects.create_user(email="ann@example.com", password="x")
    shoppers = CartLineFactory(cart=CartFactory(user=user), quantity=2).cart
    guests = CartLineFactory(quantity=3).cart
    guest = AnonymousUser()
    visitors = [
        (user, {}, shoppers, 2),
        (user, {CART_SESSION_KEY: guests.pk}, shoppers, 2),
        (guest, {CART_SESSION_KEY: guests.pk}, guests, 3),
        (guest, {CART_SESSION_KEY: shoppers.pk}, None, 0),
        (guest, {CART_SESSION_KEY: str(guests.pk)}, None, 0),
        (guest, {}, None, 0),
    ]
    for visitor, session, expected, units in visitors:
        assert cart_for(user=visitor, session=session) == expected
        assert cart_with_states(user=visitor, session=session)[0] == expected
        assert item_count(user=visitor, session=session) == units
