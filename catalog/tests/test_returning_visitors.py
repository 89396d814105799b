"""Cached pages for visitors who come back with cookies (their CSRF secret, a session with a
cart, the products they viewed), as most shoppers do: what is theirs stays theirs, and the
pages cost what a new visitor's do plus the cart count."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse

from cart import selectors as cart_selectors
from cart.tests.factories import CartFactory, CartLineFactory
from catalog import cache, services
from catalog.models import Product, Variant
from catalog.tests.factories import CategoryFactory, ProductFactory

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
#: A returning guest with a cart on a cached page: the cart count, nothing else (the
#: recently viewed section is kept as HTML per list of products and catalog version).
RETURNING_GUEST_BUDGET = 1


def section(html: str) -> str:
    """The recently viewed section ('' when there is none)."""
    start = html.find('<h2 id="recently-viewed-title"')
    return html[start : html.find("</section>", start)] if start >= 0 else ""


def names_in(html: str) -> list[str]:
    return re.findall(r'class="product-card__name">([^<]+)</h3>', html)


@pytest.fixture
def shop():
    category = CategoryFactory(name="Shirts")
    return {
        name: ProductFactory(name=name, category=category, variants__price=Decimal("30.00"))
        for name in ("Oxford", "Linen", "Flannel")
    }


def returning_guest(shop) -> Client:
    """A guest who put a Linen in the cart and looked at the Oxford, then the Linen."""
    guest = Client()
    guest.get("/")
    linen = shop["Linen"].variants.get()
    guest.post(reverse("cart:add"), {"variant": linen.pk, "quantity": 2})
    guest.get(shop["Oxford"].get_absolute_url())
    guest.get(shop["Linen"].get_absolute_url())
    return guest


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_a_returning_guests_cached_page_costs_only_the_cart_count(
    shop, page, django_assert_num_queries
):
    guest = returning_guest(shop)
    flannel = shop["Flannel"]
    url = {"home": "/", "category": flannel.category.get_absolute_url()}.get(
        page, flannel.get_absolute_url()
    )
    guest.get(url)  # rendered and kept, the recently viewed section too
    with django_assert_num_queries(RETURNING_GUEST_BUDGET):
        html = guest.get(url).content.decode()
    assert "data-cart-count>2<" in html
    if page == "product":
        assert names_in(section(html)) == ["Linen", "Oxford"]


@pytest.mark.django_db
def test_the_kept_recently_viewed_section_is_the_one_rendered_for_the_visitor(shop):
    """Kept for everybody with the same history, it still comes back to the visitor's own
    page (the variant's address included) with the visitor's own token in its forms."""
    guest = returning_guest(shop)
    flannel = shop["Flannel"]
    url = f"{flannel.get_absolute_url()}?variant={flannel.variants.get().pk}"
    first = guest.get(url).content.decode()
    kept = guest.get(url).content.decode()
    assert section(first) and names_in(section(kept)) == ["Linen", "Oxford"]
    own = TOKEN.findall(kept)[0]
    assert set(TOKEN.findall(section(kept))) == {own}
    assert cache.CSRF_PLACEHOLDER not in kept and "<!--card:" not in kept
    assert section(kept).count(f'name="next" value="{url.replace("&", "&amp;")}"') == 4
    # Apart from each request's tokens, the kept section is the first rendering.
    assert TOKEN.sub("", section(kept)) == TOKEN.sub("", section(first))


@pytest.mark.django_db
def test_each_visitor_posts_the_kept_section_with_their_own_token(shop):
    ann, bob = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    for visitor in (ann, bob):  # the same history: the same kept section
        visitor.get(shop["Oxford"].get_absolute_url())
    url = shop["Linen"].get_absolute_url()
    anns = TOKEN.findall(section(ann.get(url).content.decode()))[0]
    bobs = TOKEN.findall(section(bob.get(url).content.decode()))[0]
    add = reverse("cart:add")
    data = {"variant": shop["Oxford"].variants.get().pk, "quantity": 1, "next": url}
    assert bob.post(add, {**data, "csrfmiddlewaretoken": anns}).status_code == 403
    assert bob.post(add, {**data, "csrfmiddlewaretoken": bobs}).status_code == 302
    assert ann.post(add, {**data, "csrfmiddlewaretoken": anns}).status_code == 302


@pytest.mark.django_db
def test_a_price_change_reaches_the_kept_recently_viewed_section(
    shop, django_capture_on_commit_callbacks
):
    guest = returning_guest(shop)
    url = shop["Flannel"].get_absolute_url()
    assert "$24.50" not in section(guest.get(url).content.decode())
    oxford = shop["Oxford"]
    with django_capture_on_commit_callbacks(execute=True):
        Variant.objects.filter(product=oxford).update(price=Decimal("24.50"))
        services.refresh_products(product_ids=[oxford.pk])
    assert "$24.50" in section(guest.get(url).content.decode())


@pytest.mark.django_db
def test_a_guests_count_is_of_their_own_guest_cart_only(django_user_model):
    shopper = django_user_model.objects.create_user(email="ann@example.com", password="pw-ann-123")
    anns = CartLineFactory(cart=CartFactory(user=shopper), quantity=3)
    guests = CartLineFactory(quantity=2)
    CartLineFactory(cart=guests.cart, quantity=1)
    guest = AnonymousUser()
    assert cart_selectors.item_count(user=guest, session={"cart_id": guests.cart_id}) == 3
    assert cart_selectors.item_count(user=shopper, session={}) == 3
    # A session naming a shopper's cart (only the server writes it) still counts nothing.
    assert cart_selectors.item_count(user=guest, session={"cart_id": anns.cart_id}) == 0
    assert cart_selectors.item_count(user=guest, session={"cart_id": 999_999}) == 0
    assert cart_selectors.item_count(user=guest, session={}) == 0


@pytest.mark.django_db
def test_a_product_id_held_by_the_process_gives_way_to_a_change_at_once(
    client, shop, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Product pages take the id this process found for their slug on trust, confirmed by the
    catalog's version read with the page: an unpublished product 404s at once, and a slug
    given to another product shows that product."""
    oxford, linen = shop["Oxford"], shop["Linen"]
    url = oxford.get_absolute_url()
    assert "Oxford" in client.get(url).content.decode()
    with django_assert_num_queries(0):  # the id held, the page cached
        assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.set_published(product_ids=[oxford.pk], published=False)
    assert client.get(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        Product.objects.filter(pk=oxford.pk).update(slug="oxford-retired")
        Product.objects.filter(pk=linen.pk).update(slug=oxford.slug, name="Linen at Oxford")
        services.refresh_products(product_ids=[oxford.pk, linen.pk])
    assert "Linen at Oxford" in client.get(url).content.decode()
    assert client.get("/p/oxford-retired/").status_code == 404
    # The page is kept under Linen's own version now: a change of Linen alone reaches it.
    with django_capture_on_commit_callbacks(execute=True):
        Product.objects.filter(pk=linen.pk).update(name="Linen, renamed")
        cache.bump([cache.product_scope(linen.pk)])
    assert "Linen, renamed" in client.get(url).content.decode()


@pytest.mark.django_db
def test_a_guests_message_in_a_cookie_shows_on_a_cached_page_once(shop):
    """A guest without a session gets a message in the messages cookie: the cached page's
    hole reads it (once), and pages of visitors without such a cookie read no storage."""
    guest = Client()
    url = shop["Oxford"].get_absolute_url()
    guest.get(url)  # cached
    save = reverse("catalog:wishlist-add", kwargs={"product_id": shop["Oxford"].pk})
    guest.post(save, {"next": url})
    assert "messages" in guest.cookies and "sessionid" not in guest.cookies
    assert "Sign in to keep products in your wishlist" in guest.get(url).content.decode()
    assert "Sign in to keep products in your wishlist" not in guest.get(url).content.decode()
    assert "Sign in to keep products" not in Client().get(url).content.decode()
