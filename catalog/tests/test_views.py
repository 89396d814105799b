import json
import re
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.http import QueryDict
from django.urls import clear_script_prefix, reverse, set_script_prefix

from catalog import services
from catalog.forms import ListingForm, plain_sort_and_page
from catalog.models import Variant
from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    VariantFactory,
)
from catalog.views import CACHED_PAGES
from shop.tests.test_health import UNREACHABLE_REDIS

#: Category page on a cold cache, in a worker that has not loaded its listing index yet: the
#: category tree, option types, brand and tag names, the index (journal, products, facet
#: rows, tags), the page of products and their images.
LISTING_BUDGET = 10
#: Any listing once the index is loaded: its journal, the page of products, their images.
WARM_LISTING_BUDGET = 3
#: Product page on a cold cache: its id, the product, variants, option values, images,
#: specifications, tags, the tree, the recommended products with their images (for a
#: product the last rebuild of recommendations did not know: one more, its category's) and
#: the standard shipping method (the delivery estimate), the running group offer (groupbuys'
#: tag: its open groups and variants are two more only for a product that has one), the flash
#: sales' schedule (the flash block, a hole of the page: promotions.flash, cached after).
PRODUCT_BUDGET = 14


@pytest.fixture
def category():
    return CategoryFactory(name="Shirts")


def fill(category, count):
    brand = BrandFactory(name="Acme")
    colour = OptionValueFactory(value="Red")
    for n in range(count):
        product = ProductFactory(name=f"Shirt {n}", category=category, brand=brand, variants=False)
        VariantFactory(product=product, price=Decimal(10 + n), option_values=[colour])


@pytest.mark.django_db
@pytest.mark.parametrize("count", [24, 96])
def test_listing_queries_do_not_grow_with_the_page(
    client, category, count, django_assert_max_num_queries
):
    fill(category, count)
    with django_assert_max_num_queries(LISTING_BUDGET):
        response = client.get(category.get_absolute_url(), {"per_page": count})
    assert response.status_code == 200
    assert response.content.decode().count('class="product-card"') == count


@pytest.mark.django_db
def test_a_cached_listing_is_served_without_touching_the_database(
    client, category, django_assert_num_queries
):
    fill(category, 3)
    client.get(category.get_absolute_url())
    with django_assert_num_queries(0):
        response = client.get(category.get_absolute_url())
    assert "Shirt 2" in response.content.decode()


@pytest.mark.django_db
def test_a_price_change_shows_on_cached_pages_once_committed(
    client, category, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Oxford", category=category, variants__price=Decimal("30.00"))
    client.get(product.get_absolute_url())
    client.get(category.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        Variant.objects.filter(product=product).update(price=Decimal("24.50"))
        services.refresh_products(product_ids=[product.pk])
    assert "$24.50" in client.get(product.get_absolute_url()).content.decode()
    assert "$24.50" in client.get(category.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_cached_pages_never_show_one_visitors_header_to_another(client, django_user_model):
    product = ProductFactory()
    shopper = django_user_model.objects.create_user(email="ann@example.com", password="pw-ann-123")
    client.force_login(shopper)
    signed_in = client.get(product.get_absolute_url()).content.decode()
    assert "Sign out" in signed_in
    client.logout()
    anonymous = client.get(product.get_absolute_url()).content.decode()
    assert "Sign out" not in anonymous and "Sign in" in anonymous
    assert "Sign in to save this to your wishlist" in anonymous


@pytest.mark.django_db
def test_each_visitor_gets_their_own_csrf_token_in_cached_pages(client, settings):
    product = ProductFactory()
    first = client.get(product.get_absolute_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', first.content.decode())
    assert token and "placeholder" not in token.group(1)
    client.cookies.clear()
    second = client.get(product.get_absolute_url()).content.decode()
    assert token.group(1) not in second


@pytest.mark.django_db
def test_pages_render_uncached_when_redis_is_down(client, settings, category):
    fill(category, 2)
    settings.CACHES = UNREACHABLE_REDIS
    assert client.get("/").status_code == 200
    assert client.get(category.get_absolute_url()).status_code == 200


@pytest.mark.django_db
def test_product_page_shows_variants_with_price_and_stock(client, django_assert_max_num_queries):
    product = ProductFactory(name="Tee", variants=False)
    red, blue = OptionValueFactory(value="Red"), OptionValueFactory(value="Blue")
    VariantFactory(product=product, price=Decimal("20.00"), stock=3, option_values=[red])
    sold_out = VariantFactory(
        product=product, price=Decimal("22.00"), stock=0, option_values=[blue]
    )
    ProductFactory.create_batch(4, category=product.category)
    with django_assert_max_num_queries(PRODUCT_BUDGET):
        response = client.get(product.get_absolute_url())
    html = response.content.decode()
    assert "Only 3 left" in html and "Sold out" in html
    assert "$20.00" in html and "$22.00" in html
    chosen = client.get(product.get_absolute_url(), {"variant": sold_out.pk}).content.decode()
    assert f'name="variant" value="{sold_out.pk}"' in chosen
    assert re.search(rf'id="option-{blue.pk}"[^>]*checked', chosen.replace("\n", " "))


@pytest.mark.django_db
def test_variants_without_options_are_chosen_from_a_list(client, django_assert_max_num_queries):
    """Variants told apart only by their SKU: a list that reloads the page at the chosen one,
    whose price shows and whose id the cart form posts."""
    product = ProductFactory(name="Mug", variants=False)
    VariantFactory(product=product, sku="MUG-S", price=Decimal("9.00"), stock=4)
    large = VariantFactory(product=product, sku="MUG-L", price=Decimal("12.00"), stock=0)
    with django_assert_max_num_queries(PRODUCT_BUDGET):
        html = client.get(product.get_absolute_url()).content.decode()
    assert '<select id="variant-choice" name="variant">' in html
    assert "MUG-S · $9.00" in html and "MUG-L · $12.00 · Sold out" in html
    chosen = client.get(product.get_absolute_url(), {"variant": large.pk}).content.decode()
    assert f'<option value="{large.pk}" selected>' in chosen
    assert f'name="variant" value="{large.pk}"' in chosen
    assert '<span class="price__now">$12.00</span>' in chosen


@pytest.mark.django_db
def test_product_page_has_structured_data_safe_inside_script(client):
    product = ProductFactory(name="Evil </script><script>alert(1)</script>")
    html = client.get(product.get_absolute_url()).content.decode()
    payload = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    data = json.loads(payload)
    assert data["@type"] == "Product" and data["name"] == product.name
    assert data["offers"][0]["price"] == "10.00"
    assert "<script>alert(1)" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("published", [False])
def test_unpublished_and_unknown_products_are_404(client, published):
    hidden = ProductFactory(is_published=published)
    assert client.get(hidden.get_absolute_url()).status_code == 404
    assert client.get("/p/no-such-thing/").status_code == 404
    assert client.get("/c/no-such-category/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"price_min": "abc", "price_max": "-1"},
        {"price_min": "50", "price_max": "10"},
        {"page": "0"},
        {"page": "abc"},
        {"page": "99999999999999999999"},
        {"sort": "'; DROP TABLE catalog_product; --"},
        {"per_page": "100000"},
        {"brand": ["x" * 500] * 200},
    ],
)
def test_bad_listing_parameters_give_a_page_never_a_500(client, category, params):
    fill(category, 2)
    response = client.get(category.get_absolute_url(), params)
    assert response.status_code == 200
    assert "product-card" in response.content.decode() or "empty-state" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("", ("relevance", 1)),
        ("sort=price", ("price", 1)),
        ("sort=-price&page=2", ("-price", 2)),
        ("page=3&sort=newest", ("newest", 3)),
        ("page=1", ("relevance", 1)),
        ("sort=top-rated", ("top-rated", 1)),
        ("page=4", None),  # past CACHED_PAGES: not kept
        ("sort=bogus", None),
        ("sort=PRICE", None),
        ("sort=", None),
        ("page=", None),
        ("page=0", None),
        ("page=02", None),
        ("page=2.0", None),
        ("page=+2", None),
        ("page=%202", None),
        ("page=%EF%BC%92", None),  # a full-width 2
        ("sort=price&sort=newest", None),
        ("page=2&page=3", None),
        ("sort", None),
        ("per_page=24", None),
        ("colour=red&sort=price", None),
        ("q=shirt", None),
    ],
)
def test_a_kept_listing_page_is_known_without_the_form_as_the_form_reads_it(query, kept):
    """plain_sort_and_page() answers only for the kept pages (catalog.views.CACHED_PAGES),
    the sort and page the form gives; anything else is the form's to read and explain."""
    params = QueryDict(query)
    plain = plain_sort_and_page(params, default_sort="relevance", last_page=CACHED_PAGES)
    assert plain == kept
    if plain is not None:  # the page the full way keeps under the sort and page it reads
        form = ListingForm(params, option_slugs=["colour"])
        assert form.is_valid()
        assert (form.chosen_sort(default="relevance"), form.page_number()) == plain


@pytest.mark.django_db
def test_a_wrong_price_range_is_explained(client, category):
    fill(category, 1)
    html = client.get(category.get_absolute_url(), {"price_min": "50", "price_max": "10"}).content
    assert "The highest price is below the lowest." in html.decode()


@pytest.mark.django_db
def test_a_page_past_the_end_explains_itself(client, category):
    fill(category, 2)
    html = client.get(category.get_absolute_url(), {"page": 9}).content.decode()
    assert "past the end" in html


@pytest.mark.django_db
def test_empty_filter_result_explains_itself(client, category):
    fill(category, 2)
    html = client.get(category.get_absolute_url(), {"brand": "nobody"}).content.decode()
    assert "No product matches all of the filters you chose." in html


#: A search: the matching products' ids in order of relevance (also whether any matched),
#: then the listing. A query that matches nothing also loads the catalog's words once
#: (catalog.search: corrections are computed in memory, none costs a query) and asks for the
#: corrected query's ids.
SEARCH_BUDGET = 1 + LISTING_BUDGET
MISSED_SEARCH_BUDGET = SEARCH_BUDGET + 2
#: A search once the listing index is loaded: the ids, then the warm listing's three.
WARM_SEARCH_BUDGET = 1 + WARM_LISTING_BUDGET


@pytest.mark.django_db
def test_a_search_that_matches_stays_within_the_listing_budget(
    client, django_assert_max_num_queries
):
    ProductFactory(name="Lamp")
    with django_assert_max_num_queries(SEARCH_BUDGET):
        html = client.get("/search/", {"q": "lamp"}).content.decode()
    assert "<mark>Lamp</mark>" in html
    with django_assert_max_num_queries(WARM_SEARCH_BUDGET):
        html = client.get("/search/", {"q": "lamp", "sort": "price"}).content.decode()
    assert "<mark>Lamp</mark>" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "",
        " ",
        "x" * 10_000,
        "' OR 1=1; --",
        "💡🛒",
        "<script>alert(1)</script>",
        "&|!:*",
        " ".join(f"word{n}" for n in range(200)),
    ],
)
def test_any_search_query_gives_a_page(client, query, django_assert_max_num_queries):
    ProductFactory(name="Lamp")
    with django_assert_max_num_queries(MISSED_SEARCH_BUDGET):
        response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.django_db
def test_search_highlights_matches_and_corrects_typos(client):
    ProductFactory(name="iPhone 15 Pro")
    html = client.get("/search/", {"q": "iphone"}).content.decode()
    assert "<mark>iPhone</mark> 15 Pro" in html
    corrected = client.get("/search/", {"q": "iphnoe"}).content.decode()
    assert "Showing results for <strong>iphone</strong>" in corrected
    assert "<mark>iPhone</mark> 15 Pro" in corrected


@pytest.mark.django_db
def test_search_with_no_match_suggests_categories(client):
    ProductFactory(category=CategoryFactory(name="Kitchen"))
    html = client.get("/search/", {"q": "zzzzqqq"}).content.decode()
    assert "Nothing matches" in html and "Popular categories" in html and "Kitchen" in html


@pytest.mark.django_db
def test_home_shows_featured_and_new_products(client, django_assert_max_num_queries):
    ProductFactory(name="Star", is_featured=True)
    ProductFactory(name="Fresh")
    with django_assert_max_num_queries(6):
        html = client.get("/").content.decode()
    assert "Featured" in html and "Star" in html and "Fresh" in html


@pytest.mark.django_db
def test_seo_pages(client):
    product = ProductFactory(name="Lamp")
    robots = client.get("/robots.txt").content.decode()
    assert "Disallow: /cart/" in robots and "Sitemap: http://localhost:8000/sitemap.xml" in robots
    assert client.get("/sitemap.xml").status_code == 200
    products_sitemap = client.get("/sitemap-products.xml").content.decode()
    assert product.get_absolute_url() in products_sitemap
    html = client.get(product.get_absolute_url()).content.decode()
    shop = settings.SHOP_URL.rstrip("/")
    assert f'<link rel="canonical" href="{shop}{product.get_absolute_url()}">' in html
    assert '<meta property="og:title" content="Lamp">' in html


@pytest.mark.django_db
def test_a_guest_saving_from_a_listing_signs_in_and_comes_back(client):
    product = ProductFactory(name="Lamp")
    listing = product.category.get_absolute_url()
    assert "♡ Save" in client.get(listing).content.decode()
    add = reverse("catalog:wishlist-add", kwargs={"product_id": product.pk})
    response = client.post(add, {"next": listing})
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={listing}"
    assert not product.wishlist_items.exists()


@pytest.mark.django_db
def test_wishlist_needs_sign_in_and_post(client, django_user_model, django_assert_max_num_queries):
    product = ProductFactory(name="Lamp")
    add = reverse("catalog:wishlist-add", kwargs={"product_id": product.pk})
    assert client.post(add).status_code == 302
    assert not product.wishlist_items.exists()
    user = django_user_model.objects.create_user(email="w@example.com", password="pw-123-abc")
    client.force_login(user)
    assert client.get(add).status_code == 405
    response = client.post(add, {"next": "https://evil.example/"})
    assert response.url == product.get_absolute_url()
    with django_assert_max_num_queries(6):
        html = client.get(reverse("catalog:wishlist")).content.decode()
    assert "Lamp" in html
    assert "Saved in your wishlist" in client.get(product.get_absolute_url()).content.decode()
    client.post(reverse("catalog:wishlist-remove", kwargs={"product_id": product.pk}))
    assert not product.wishlist_items.exists()


@pytest.mark.django_db
def test_wishlist_is_private_and_unknown_products_404(client, django_user_model):
    product = ProductFactory()
    owner = django_user_model.objects.create_user(email="o@example.com", password="pw-123-abc")
    services.add_to_wishlist(user=owner, product=product)
    other = django_user_model.objects.create_user(email="x@example.com", password="pw-123-abc")
    client.force_login(other)
    assert product.name not in client.get(reverse("catalog:wishlist")).content.decode()
    client.post(reverse("catalog:wishlist-remove", kwargs={"product_id": product.pk}))
    assert owner.wishlist_items.count() == 1
    missing = reverse("catalog:wishlist-add", kwargs={"product_id": 999999})
    assert client.post(missing).status_code == 404


@pytest.mark.django_db
def test_filters_never_asked_before_cost_three_queries_once_the_index_is_loaded(
    client, category, django_assert_max_num_queries
):
    fill(category, 30)
    url = category.get_absolute_url()
    first = client.get(url, {"brand": "acme", "per_page": 24})
    assert "30 products" in first.content.decode()
    with django_assert_max_num_queries(WARM_LISTING_BUDGET):
        second = client.get(url, {"brand": "acme", "per_page": 24, "page": 2})
    assert second.content.decode().count('class="product-card"') == 6
    assert "30 products" in second.content.decode()
    with django_assert_max_num_queries(WARM_LISTING_BUDGET):
        other = client.get(url, {"colour": "red", "sort": "-price", "price_max": "30"})
    assert other.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_listing_over_the_statement_timeout_gives_a_page_and_frees_the_connection(
    client, monkeypatch
):
    """PostgreSQL cancels the statement (statement_timeout, as settings pass it to web
    connections); the shopper gets a page that says so, and the connection serves the next
    request. Here the facets "take" 10 s under a 200 ms timeout."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    from catalog import facets

    category = CategoryFactory(name="Shirts")
    fill(category, 3)
    real = facets.answer

    def slow(question):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(10)")
        return real(question)

    monkeypatch.setattr(facets, "answer", slow)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 200")
    try:
        started = time.monotonic()
        response = client.get(category.get_absolute_url(), {"colour": "red", "size": "m"})
        assert time.monotonic() - started < 5
        assert response.status_code == 503
        assert "These filters took too long" in response.content.decode()
        assert response["Retry-After"] == "30"
        with connection.cursor() as cursor:
            # Nothing of ours still runs in PostgreSQL, and the connection answers.
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE %s AND pid <> pg_backend_pid()",
                ["%pg_sleep(10)%"],
            )
            assert cursor.fetchone() == (0,)
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        monkeypatch.setattr(facets, "answer", real)
        again = client.get(category.get_absolute_url(), {"colour": "red"})
        assert again.status_code == 200
        assert "3 products" in again.content.decode()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


@pytest.mark.django_db(transaction=True)
def test_a_search_over_the_statement_timeout_gives_a_page(client, monkeypatch):
    """The search's own statement (its ids, asked before the listing) is cancelled as a
    listing's is: the shopper gets the page that says so, not an error."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    from catalog import selectors

    ProductFactory(name="Lamp")
    real = selectors.search_ids

    def slow(query):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(10)")
        return real(query)

    monkeypatch.setattr(selectors, "search_ids", slow)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 200")
    try:
        response = client.get("/search/", {"q": "lamp"})
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        monkeypatch.setattr(selectors, "search_ids", real)
        assert "<mark>Lamp</mark>" in client.get("/search/", {"q": "lamp"}).content.decode()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


@pytest.mark.django_db
def test_only_a_cancelled_statement_is_explained_other_errors_are_raised(
    client, category, monkeypatch
):
    from django.db import OperationalError

    from catalog import facets

    def broken(question):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(facets, "answer", broken)
    with pytest.raises(OperationalError):
        client.get(category.get_absolute_url(), {"colour": "red"})


#: A cached page for a guest, once rendered: no query at all (home, listing and product
#: pages; the product page's holes read the flash sales' schedule from the cache too).
CACHED_HIT_BUDGET = 0


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_a_cached_page_is_served_to_a_new_guest_without_a_query(
    client, category, page, django_assert_num_queries
):
    fill(category, 3)
    product = ProductFactory(name="Oxford", category=category)
    url = {"home": "/", "category": category.get_absolute_url()}.get(
        page, product.get_absolute_url()
    )
    client.get(url)
    client.cookies.clear()  # a visitor with no cookie: a new CSRF secret, no session
    with django_assert_num_queries(CACHED_HIT_BUDGET):
        response = client.get(url)
    assert response.status_code == 200
    assert "csrftoken" in response.cookies  # its forms work: the visitor's own secret


@pytest.mark.django_db
def test_a_page_rendered_at_old_versions_is_replaced_not_served(
    client, category, django_capture_on_commit_callbacks
):
    """The page's entry holds the versions it was rendered at: after a change it is read,
    found old, and rendered again (and kept in its place)."""
    product = ProductFactory(name="Oxford", category=category, variants__price=Decimal("30.00"))
    client.get(category.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        Variant.objects.filter(product=product).update(price=Decimal("24.50"))
        services.refresh_products(product_ids=[product.pk])
    assert "$24.50" in client.get(category.get_absolute_url()).content.decode()
    assert "$24.50" in client.get(category.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_a_sorted_listing_and_the_plain_one_are_kept_apart(client, category):
    fill(category, 3)  # Shirt 0 the cheapest, Shirt 2 the dearest
    url = category.get_absolute_url()

    def page(**params):  # each request's CSRF tokens are its own: left out
        html = client.get(url, params).content.decode()
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    plain, cheap_first, dear_first = page(), page(sort="price"), page(sort="-price")
    assert cheap_first.index("Shirt 0") < cheap_first.index("Shirt 2")
    assert dear_first.index("Shirt 2") < dear_first.index("Shirt 0")
    assert page(sort="price") == cheap_first
    assert page() == plain != cheap_first


@pytest.mark.django_db
def test_a_shoppers_message_shows_on_the_cached_page_once_and_to_nobody_else(
    client, django_user_model
):
    product = ProductFactory(name="Oxford")
    client.get(product.get_absolute_url())  # cached, without a message
    shopper = django_user_model.objects.create_user(email="ann@example.com", password="pw-ann-123")
    client.force_login(shopper)
    response = client.post(
        reverse("catalog:wishlist-add", kwargs={"product_id": product.pk}),
        {"next": product.get_absolute_url()},
        follow=True,
    )
    assert "is in your wishlist" in response.content.decode()
    assert "Saved in your wishlist" in response.content.decode()  # the hole is theirs
    assert "is in your wishlist" not in client.get(product.get_absolute_url()).content.decode()
    client.logout()
    guest = client.get(product.get_absolute_url()).content.decode()
    assert "Saved in your wishlist" not in guest and "Sign in to save this" in guest


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["", "/zh-hans"])
def test_a_guests_wishlist_link_comes_back_to_the_address_asked_under_its_script_prefix(
    client, language
):
    """A guest's button is made once per address: the script prefix, the path and the query
    string each give their own link back. (The script prefix is set as Django's WSGI
    handler sets it, which the test client does not.)"""
    product = ProductFactory(name="Kettle")
    path = f"{language}{product.get_absolute_url()}"
    for script_name, query in [("", ""), ("/shop", ""), ("", "utm=a b"), ("/shop", "utm=a b")]:
        for _ in range(2):  # made, then taken as made
            set_script_prefix(script_name or "/")
            try:
                response = client.get(path, QUERY_STRING=query, SCRIPT_NAME=script_name)
            finally:
                clear_script_prefix()
            html = response.content.decode()
            login = f"{script_name}{language}/accounts/login/"
            back = f"{script_name}{path}" + ("%3Futm%3Da%2520b" if query else "")
            assert f'<a href="{login}?next={back}">♡' in html, (script_name, query)
