"""Product cards are rendered once and kept (catalog_tags.product_cards): what differs
between two showings of a card (the search's highlighted words, the page the forms come back
to, the shopper's CSRF token) is filled in for each request, and a change to the product
shows at once."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache as page_cache
from django.test import Client

from catalog import cache, services
from catalog.tests.factories import CategoryFactory, ProductFactory


def card_of(html: str, name_part: str) -> str:
    """The <article> of the card whose name holds `name_part`."""
    cards = re.findall(r'<article class="product-card">.*?</article>', html, re.S)
    return next(card for card in cards if name_part in card)


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "TOKEN", html)


@pytest.mark.django_db
def test_a_kept_card_is_the_card_a_fresh_render_gives(client):
    ProductFactory(name="Desk Lamp", price=Decimal("40.00"))
    fresh = client.get("/search/", {"q": "lamp"}).content.decode()
    kept = client.get("/search/", {"q": "lamp"}).content.decode()
    page_cache.clear()
    cache.forget_versions()  # as every process finds the mark gone
    again = client.get("/search/", {"q": "lamp"}).content.decode()
    assert without_tokens(card_of(kept, "Lamp")) == without_tokens(card_of(fresh, "Lamp"))
    assert without_tokens(card_of(again, "Lamp")) == without_tokens(card_of(fresh, "Lamp"))
    assert "<!--card:" not in kept


@pytest.mark.django_db
def test_each_search_highlights_its_own_words_on_a_kept_card(client):
    ProductFactory(name="Desk Lamp")
    lamp = card_of(client.get("/search/", {"q": "lamp"}).content.decode(), "Lamp")
    desk = card_of(client.get("/search/", {"q": "desk"}).content.decode(), "Lamp")
    plain = card_of(client.get("/products/").content.decode(), "Lamp")
    assert "Desk <mark>Lamp</mark></h3>" in lamp
    assert "<mark>Desk</mark> Lamp</h3>" in desk
    assert ">Desk Lamp</h3>" in plain


@pytest.mark.django_db
def test_a_kept_cards_forms_come_back_to_the_page_they_are_on(client):
    ProductFactory(name="Desk Lamp", category=CategoryFactory(name="Lights", slug="lights"))
    searched = client.get("/search/", {"q": "lamp", "sort": "price"}).content.decode()
    search = card_of(searched, "Lamp")
    listing = card_of(client.get("/c/lights/").content.decode(), "Lamp")
    assert 'name="next" value="/search/?q=lamp&amp;sort=price"' in search
    assert 'name="next" value="/c/lights/"' in listing


@pytest.mark.django_db
def test_each_shopper_posts_a_kept_card_with_their_own_token():
    lamp = ProductFactory(name="Desk Lamp", stock=5)
    for _ in range(2):
        shopper = Client(enforce_csrf_checks=True)
        html = card_of(shopper.get("/search/", {"q": "lamp"}).content.decode(), "Lamp")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        data = {"variant": lamp.variants.get().pk, "quantity": 1, "csrfmiddlewaretoken": token}
        assert shopper.post("/cart/add/", data).status_code == 302  # 403 with another's token


@pytest.mark.django_db
def test_a_changed_price_shows_on_the_next_search(client, django_capture_on_commit_callbacks):
    lamp = ProductFactory(name="Desk Lamp")
    before = card_of(client.get("/search/", {"q": "lamp"}).content.decode(), "Lamp")
    assert "$35.75" not in before
    lamp.variants.update(price=Decimal("35.75"))
    with django_capture_on_commit_callbacks(execute=True):  # the versions move on commit
        services.refresh_products(product_ids=[lamp.pk])
    after = card_of(client.get("/search/", {"q": "lamp"}).content.decode(), "Lamp")
    assert '<span class="price__now">$35.75</span>' in after


@pytest.mark.django_db
def test_a_page_of_kept_cards_reads_no_product(client, django_assert_num_queries):
    """A listing's products are read for the cards the cache does not keep, only: a search
    asked again is its ids and the index's journal."""
    for n in range(30):
        ProductFactory(name=f"Desk Lamp {n}")
    first = client.get("/search/", {"q": "lamp"}).content.decode()
    with django_assert_num_queries(2):
        again = client.get("/search/", {"q": "lamp"}).content.decode()
    assert without_tokens(again) == without_tokens(first)
    assert again.count('class="product-card"') == 24
    # Page 2 has cards never shown: read, six of them, with their pictures in one query.
    with django_assert_num_queries(3):
        second = client.get("/search/", {"q": "lamp", "page": 2}).content.decode()
    assert second.count('class="product-card"') == 6
