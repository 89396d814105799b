import re

import pytest
from django.test import Client
from django.urls import reverse

from catalog.tests.factories import VariantFactory


@pytest.mark.django_db
def test_home_page_has_the_shop_frame(client, django_assert_max_num_queries, settings):
    with django_assert_max_num_queries(3):
        response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<title>{settings.SHOP_NAME}" in html
    assert '<meta name="description"' in html
    assert 'class="skip-link" href="#main"' in html
    assert 'role="search"' in html
    assert html.count("<main") == 1
    assert "/static/css/shop.css" in html


@pytest.mark.django_db
def test_unknown_page_gets_the_shops_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that page" in html
    assert 'class="site-header"' in html


@pytest.mark.django_db
@pytest.mark.urls("shop.tests.error_urls")
def test_a_failing_view_gets_the_shops_500_page(client):
    client.raise_request_exception = False
    response = client.get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert 'class="site-header"' in html


@pytest.mark.django_db
def test_chinese_is_served_under_its_prefix_and_english_unprefixed(client):
    """The URL decides the language, not the browser: a page keeps one language for
    every visitor (and crawler); the Chinese browser gets a link to the Chinese page."""
    chinese = client.get("/zh-hans/", headers={"accept-language": "en"})
    assert chinese.status_code == 200
    assert '<html lang="zh-Hans">' in chinese.content.decode()
    english = client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"})
    html = english.content.decode()
    assert '<html lang="en">' in html
    assert '<a href="/zh-hans/" hreflang="zh-Hans" lang="zh-Hans">简体中文</a>' in html


def test_robots_txt_opens_sign_in_and_registration_but_not_the_rest_of_accounts(client):
    """Longest match wins (RFC 9309): exactly /accounts/login/ and /accounts/register/ are
    crawlable; reset links, activation links and the shopper's pages are not."""
    response = client.get("/robots.txt")
    lines = response.content.decode().splitlines()
    assert response.status_code == 200
    assert "Allow: /accounts/login/$" in lines
    assert "Allow: /accounts/register/$" in lines
    assert "Allow: /zh-hans/accounts/login/$" in lines
    assert "Disallow: /accounts/" in lines and "Disallow: /account/" in lines
    assert not any(line.startswith("Allow:") and "password" in line for line in lines)


@pytest.mark.django_db
def test_the_language_links_follow_the_language_each_page_is_read_in(client):
    """The links are worked out once per path and kept: a path read in one language never
    hands its link to the same path read in another."""
    for _round in range(2):
        english = client.get("/cart/").content.decode()
        chinese = client.get("/zh-hans/cart/").content.decode()
        assert '<a href="/zh-hans/cart/" hreflang="zh-Hans"' in english
        assert '<a href="/cart/" hreflang="en"' in chinese


@pytest.mark.django_db
def test_the_header_links_are_each_visitors_own_on_uncached_pages(client, django_user_model):
    """A guest's header links are rendered once per language and cart count and shared
    between guests: a count, a language or a signed-in shopper's sign-out form never
    crosses over."""
    variant = VariantFactory(stock=5)
    cart = reverse("cart:detail")
    assert "data-cart-count>0<" in Client().get(cart).content.decode()
    client.post(reverse("cart:add"), {"variant": variant.pk, "quantity": 2})
    html = client.get(cart).content.decode()
    assert "data-cart-count>2<" in html and "Sign in" in html and "Sign out" not in html
    assert "data-cart-count>0<" in Client().get(cart).content.decode()
    assert (
        'class="cart-link" href="/zh-hans/cart/"' in Client().get("/zh-hans/cart/").content.decode()
    )
    shopper = django_user_model.objects.create_user(email="bo@example.com", password="pw-bo-1234")
    client.force_login(shopper)
    html = client.get(cart).content.decode()
    assert "Sign out" in html and "Sign in" not in html
    assert re.search(
        r'action="/accounts/logout/"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', html
    )
