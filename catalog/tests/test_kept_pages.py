"""Cached pages as kept: UTF-8 bytes cut at each visitor's parts, held by the process that
served them last, one cache round trip a page for a new visitor (catalog.cache)."""

import json
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.cache import cache as django_cache
from django.test import Client

from catalog import cache, services
from catalog.models import Category, Variant
from catalog.tests.factories import (
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    VariantFactory,
)

#: What a cached page costs a visitor with no cookie once it is kept, while this process
#: does not trust the versions yet (catalog.cache._TrustedVersions): whether it holds the
#: page (the versions alone are asked) or not (the versions and the page, in one MGET).
ROUND_TRIPS = 1
#: Every call of the cache that goes to Redis.
CACHE_CALLS = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many")


@pytest.fixture
def shop():
    category = CategoryFactory(name="Shirts")
    CategoryFactory(name="Hats")
    product = ProductFactory(name="Oxford", category=category, variants__price=Decimal("30.00"))
    ProductFactory(name="Linen", category=category)
    url = category.get_absolute_url()
    return {
        "home": "/",
        "category": url,
        # Kept variations of the listing (catalog.views.CACHED_PAGES): as cheap as its own
        # address, the form not read.
        "sorted": f"{url}?sort=price",
        "second-page": f"{url}?page=2&sort=-price",
        "product": product,
    }


def url_of(shop, page: str) -> str:
    return shop["product"].get_absolute_url() if page == "product" else shop[page]


@pytest.fixture
def round_trips(monkeypatch):
    """The cache calls made, counted on the Django cache every module uses, on the cached
    pages' own read (catalog.cache._get_many: one MGET on Redis) and on the sessions' own
    round trips (catalog.cache.own_round_trip: a GET or SET); it still does the work:
    this only counts. A call made inside another (local memory's get_many asks get for each
    key, a failed MGET asks get_many) is not one more."""
    made, inside = [], []
    ours = [(cache, "_get_many"), (cache, "own_round_trip")]
    for owner, name in [(django_cache, name) for name in CACHE_CALLS] + ours:
        original = getattr(owner, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            if not inside:
                made.append((_name, args[0] if args else None))
            inside.append(_name)
            try:
                return _original(*args, **kwargs)
            finally:
                inside.pop()

        monkeypatch.setattr(owner, name, counted)
    return made


@pytest.fixture
def not_held(monkeypatch):
    """Empties what this process holds, as in another process that never served the page:
    its pages and the versions it trusts."""

    def forget():
        monkeypatch.setattr(cache, "_held_pages", cache._HeldPages(cache.HELD_PAGES_BYTES))
        monkeypatch.setattr(cache, "_trusted", cache._TrustedVersions())

    return forget


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["home", "category", "sorted", "second-page", "product"])
@pytest.mark.parametrize("held", [True, False], ids=["held", "not-held"])
def test_a_kept_page_costs_a_new_visitor_one_cache_round_trip(
    shop, page, held, round_trips, not_held, django_assert_num_queries
):
    url = url_of(shop, page)
    Client().get(url)  # rendered and kept
    if not held:
        not_held()
    round_trips.clear()
    with django_assert_num_queries(0):
        response = Client().get(url)
    assert response.status_code == 200
    assert len(round_trips) == ROUND_TRIPS, round_trips


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["home", "category", "sorted", "second-page", "product"])
def test_a_held_page_whose_versions_this_process_trusts_costs_no_round_trip(
    shop, page, round_trips, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(cache, "TRUST_SECONDS", 60.0)  # a slow machine's steps within it
    url = url_of(shop, page)
    rendered = Client().get(url)  # its versions started (from the clock: not trusted)
    Client().get(url)  # its versions read from the cache: trusted
    round_trips.clear()
    with django_assert_num_queries(0):
        response = Client().get(url)
    assert not round_trips
    assert without_tokens(response.content.decode()) == without_tokens(rendered.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["home", "category", "sorted", "second-page", "product"])
def test_a_kept_page_is_served_as_it_was_rendered(shop, page, not_held):
    url = url_of(shop, page)
    rendered = Client().get(url).content.decode()
    held = Client().get(url).content.decode()
    not_held()
    from_the_cache = Client().get(url).content.decode()
    assert without_tokens(held) == without_tokens(rendered) == without_tokens(from_the_cache)
    assert cache.CSRF_PLACEHOLDER not in held and "<!--hole:" not in held


@pytest.mark.django_db
def test_a_page_held_at_old_versions_is_not_served_after_a_price_change(
    shop, django_capture_on_commit_callbacks
):
    product = shop["product"]
    for url in (shop["home"], shop["category"], product.get_absolute_url()):
        assert "$30.00" in Client().get(url).content.decode()  # held by this process
    with django_capture_on_commit_callbacks(execute=True):
        Variant.objects.filter(product=product).update(price=Decimal("24.50"))
        services.refresh_products(product_ids=[product.pk])
    for url in (shop["home"], shop["category"], product.get_absolute_url()):
        html = Client().get(url).content.decode()
        assert "$24.50" in html and "$30.00" not in html


@pytest.mark.django_db
def test_a_page_held_at_old_versions_gives_way_to_the_one_another_process_kept(
    shop, monkeypatch, django_capture_on_commit_callbacks, django_assert_num_queries
):
    url = shop["product"].get_absolute_url()
    Client().get(url)  # this process holds it at the old versions
    held_here = cache._held_pages
    with django_capture_on_commit_callbacks(execute=True):
        Variant.objects.filter(product=shop["product"]).update(price=Decimal("24.50"))
        services.refresh_products(product_ids=[shop["product"].pk])
    monkeypatch.setattr(cache, "_held_pages", cache._HeldPages(cache.HELD_PAGES_BYTES))
    Client().get(url)  # another process renders it at the new versions and keeps it
    monkeypatch.setattr(cache, "_held_pages", held_here)
    with django_assert_num_queries(0):  # taken from the cache, not rendered again
        html = Client().get(url).content.decode()
    assert "$24.50" in html


def test_held_pages_stay_within_their_bytes_the_least_recently_served_given_up():
    held = cache._HeldPages(limit=100)
    held.keep("a", (1,), (b"x" * 40,))
    held.keep("b", (1,), (b"x" * 40,))
    assert held.get("a") == ((1,), (b"x" * 40,))  # served: now the most recent
    held.keep("c", (1,), (b"x" * 40,))
    assert held.get("b") is None and held.get("a") and held.get("c")
    assert held.size == 80
    held.keep("c", (2,), (b"y" * 10, "messages", b"y" * 10))  # replaced, counted once
    assert held.size == 60 and held.get("c") == ((2,), (b"y" * 10, "messages", b"y" * 10))


def test_a_page_is_cut_where_each_visitors_parts_go():
    html = f"<p>é</p><!--hole:site-actions--><form>{cache.CSRF_PLACEHOLDER}</form><!--hole:x-->"
    parts = cache.cut(html)
    assert parts == (
        "<p>é</p>".encode(),
        "site-actions",
        b"<form>",
        cache.CSRF_PLACEHOLDER,
        b"</form>",
        "x",
        b"",
    )


@pytest.mark.django_db
def test_a_filled_page_has_the_visitors_parts_and_one_token(rf):
    request = rf.get("/")
    parts = cache.cut(
        f"<!--hole:mine-->{cache.CSRF_PLACEHOLDER}|{cache.CSRF_PLACEHOLDER}<!--hole:unknown-->"
    )
    filled = cache.fill(
        request, parts, holes={"mine": lambda: f"<b>{cache.CSRF_PLACEHOLDER}</b>"}
    ).decode()
    tokens = re.findall(r"[A-Za-z0-9]{64}", filled)
    assert len(tokens) == 3 and len(set(tokens)) == 1  # one token a request, as Django's tag
    assert filled == f"<b>{tokens[0]}</b>{tokens[0]}|{tokens[0]}<!--hole:unknown-->"


@pytest.mark.django_db
def test_a_renamed_category_shows_in_every_listings_menu_at_once(
    shop, django_capture_on_commit_callbacks
):
    """Failed before: a category's listing, kept under its own version only, showed the old
    name in its header's menu until it timed out (15 minutes)."""
    assert "Hats" in Client().get(shop["category"]).content.decode()  # Shirts, kept
    hats = Category.objects.get(name="Hats")
    hats.name = "Caps"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_category(category=hats)
    html = Client().get(shop["category"]).content.decode()
    assert "Caps" in html and "Hats" not in html


# --- A product's stock labels: holes kept per its stock version, not the page's -----------


@pytest.fixture
def renders(monkeypatch):
    """The templates cached_page rendered (a page kept is served without any)."""
    rendered = []
    original = cache.render_to_string

    def counted(template, *args, **kwargs):
        rendered.append(template)
        return original(template, *args, **kwargs)

    monkeypatch.setattr(cache, "render_to_string", counted)
    return rendered


@pytest.fixture
def tee():
    """A product of two colours: red (3 left, the default variant) and blue (in stock)."""
    product = ProductFactory(name="Tee", variants=False)
    red = VariantFactory(product=product, stock=3, option_values=[OptionValueFactory(value="Red")])
    blue = VariantFactory(
        product=product, stock=7, option_values=[OptionValueFactory(value="Blue")]
    )
    return SimpleNamespace(product=product, red=red, blue=blue, url=product.get_absolute_url())


def stock_shown(html: str) -> tuple[str, dict[int, tuple[str, str]]]:
    """The chosen variant's label as the page shows it, and each variant's level and label
    as product.js reads them."""
    chosen = re.search(r'<p id="chosen-stock" class="([^"]+)">\s*(.*?)\s*</p>', html, re.S)
    data = json.loads(re.search(r'id="variant-data">(.*?)</script>', html, re.S).group(1))
    shown = {variant["id"]: (variant["level"], variant["stock"].strip()) for variant in data}
    return f"{chosen.group(1)}: {chosen.group(2)}", shown


@pytest.mark.django_db
def test_a_sale_that_relabels_a_variant_shows_on_the_next_view_without_rendering_the_page(
    tee, renders, round_trips, django_capture_on_commit_callbacks, django_assert_num_queries
):
    assert stock_shown(Client().get(tee.url).content.decode()) == (
        "stock stock--low: Only 3 left",
        {tee.red.pk: ("low", "Only 3 left"), tee.blue.pk: ("in", "In stock")},
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.take_stock(quantities={tee.red.pk: 1, tee.blue.pk: 2})
    renders.clear()
    round_trips.clear()
    with django_assert_num_queries(1):  # the variants' stock, not the page's 10 or more
        html = Client().get(tee.url).content.decode()
    assert renders == []
    assert stock_shown(html) == (
        "stock stock--low: Only 2 left",
        {tee.red.pk: ("low", "Only 2 left"), tee.blue.pk: ("low", "Only 5 left")},
    )
    # The versions (stale labels held), then the labels' entry (another process may have
    # made it), then the new labels kept.
    assert [name for name, _key in round_trips] == ["_get_many", "get", "set"]
    with django_assert_num_queries(0):
        again = Client().get(tee.url).content.decode()
    assert without_tokens(again) == without_tokens(html)


@pytest.mark.django_db
def test_relabelled_stock_made_by_one_process_is_served_by_another_in_one_round_trip(
    tee, not_held, round_trips, django_capture_on_commit_callbacks, django_assert_num_queries
):
    Client().get(tee.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.take_stock(quantities={tee.red.pk: 1})
    html = Client().get(tee.url).content.decode()  # this process makes the new labels
    not_held()
    round_trips.clear()
    with django_assert_num_queries(0):
        elsewhere = Client().get(tee.url).content.decode()
    assert len(round_trips) == ROUND_TRIPS, round_trips
    assert without_tokens(elsewhere) == without_tokens(html)
    assert "Only 2 left" in elsewhere and "Only 3 left" not in elsewhere


@pytest.mark.django_db
def test_a_variant_selling_out_renders_its_page_again(
    tee, renders, django_capture_on_commit_callbacks
):
    """Whether a variant is in stock is in the page itself: the default variant (the first
    in stock), the options marked sold out, the button, the structured data."""
    Client().get(tee.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.take_stock(quantities={tee.red.pk: 3})
    renders.clear()
    html = Client().get(tee.url).content.decode()
    assert renders == ["catalog/product.html"]
    assert stock_shown(html) == (
        "stock stock--in: In stock",  # blue is the default variant now
        {tee.red.pk: ("out", "Sold out"), tee.blue.pk: ("in", "In stock")},
    )
    assert f'name="variant" value="{tee.blue.pk}"' in html
    assert "https://schema.org/OutOfStock" in html
    red = Client().get(tee.url, {"variant": tee.red.pk}).content.decode()
    assert re.search(r'class="button buy-form__submit"[^>]* disabled>Sold out</button>', red)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_a_first_visit_gets_the_guests_header_without_its_user_made(shop, page, monkeypatch):
    """A visitor with no session is a guest with an empty cart: the header (and the wishlist
    button) are the guest's without making the user; the page still varies on Cookie."""
    url = url_of(shop, page)
    Client().get(url)  # rendered and kept

    def made(request):
        raise AssertionError("the user was made")

    monkeypatch.setattr("django.contrib.auth.get_user", made)
    response = Client().get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "data-cart-count>0<" in html and "/accounts/login/" in html
    assert "Cookie" in response["Vary"]


# --- Another product selling out: the page kept, its recommendations made again -------------


@pytest.mark.django_db
def test_another_product_selling_out_keeps_the_page_and_moves_its_recommendations(
    tee, renders, django_capture_on_commit_callbacks
):
    """The page shows no other product's stock but in its recommendations (a fragment kept
    per CATALOG's version): a sell-out elsewhere, many a minute in a flash sale, makes those
    again and keeps the page. The cards' forms carry the visitor's own token."""
    mug = ProductFactory(name="Mug", category=tee.product.category, variants__stock=1)
    html = Client().get(tee.url).content.decode()
    assert renders == ["catalog/product.html"]
    assert re.search(r'<article class="product-card"[^>]*>.*?Mug.*?</article>', html, re.S)
    assert "Sold out" not in _card_of(html, "Mug")
    with django_capture_on_commit_callbacks(execute=True):
        services.take_stock(quantities={mug.variants.get().pk: 1})
    renders.clear()
    visitor = Client()
    html = visitor.get(tee.url).content.decode()
    assert renders == []
    assert "Sold out" in _card_of(html, "Mug")
    assert cache.CSRF_PLACEHOLDER not in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _card_of(html, "Mug"))
    page_token = re.search(
        r'id="buy-form".*?name="csrfmiddlewaretoken" value="([^"]+)"', html, re.S
    ).group(1)
    assert token.group(1) == page_token  # one token a request, in the page and the cards
    assert token.group(1) not in Client().get(tee.url).content.decode()  # not kept


def _card_of(html: str, name: str) -> str:
    section = html.split('id="similar-title"')[1]
    cards = re.findall(r'<article class="product-card".*?</article>', section, re.S)
    return next(card for card in cards if name in card)


@pytest.mark.django_db
def test_a_sell_out_moves_catalog_but_not_catalog_except_stock(
    django_capture_on_commit_callbacks,
):
    with_stock = {}

    def moved(**kwargs):
        before = cache.versions([cache.CATALOG, cache.CATALOG_EXCEPT_STOCK])
        with django_capture_on_commit_callbacks(execute=True):
            cache.products_changed(product_ids=[1], category_paths=[], **kwargs)
        after = cache.versions([cache.CATALOG, cache.CATALOG_EXCEPT_STOCK])
        return {scope for scope in before if before[scope] != after[scope]}

    with_stock["sold out"] = moved(stock_only=True)
    with_stock["renamed"] = moved()
    assert with_stock == {
        "sold out": {cache.CATALOG},
        "renamed": {cache.CATALOG, cache.CATALOG_EXCEPT_STOCK},
    }


@pytest.mark.django_db
def test_the_recommendations_cards_lead_back_to_the_page_they_are_on(tee):
    """Kept per the page's ?variant= as the page is: a card's forms return to that page."""
    ProductFactory(name="Mug", category=tee.product.category)
    with_variant = f"{tee.url}?variant={tee.blue.pk}"
    pages = {url: Client().get(url).content.decode() for url in [with_variant, tee.url]}
    for url, html in pages.items():
        nexts = set(re.findall(r'name="next" value="([^"]*)"', _card_of(html, "Mug")))
        assert nexts == {url.replace("&", "&amp;")}


@pytest.mark.django_db
def test_a_product_pages_fragments_are_held_in_the_same_bytes_as_the_page(shop, not_held):
    """A product page's fragments (stock labels, recommendations: some 10 KB) are held with
    the pages, in their bytes: with a budget of their own a process going round the product
    pages it held read every page's recommendations from the cache."""
    not_held()
    Client().get(shop["product"].get_absolute_url())
    held = cache._held_pages
    kept = [key.split(":")[1] for key in held.entries]
    assert sorted(kept) == ["fragment", "fragment", "pages"]
    assert held.size == sum(cache._bytes_of(entry[1]) for entry in held.entries.values())
