"""What a search lists: the shown products matching the query, most relevant first, counted
exactly; ranked by PostgreSQL, by substring on SQLite."""

import numpy as np
import pytest
from django.db import connection

from catalog import selectors, services
from catalog.models import Product, SearchDocument
from catalog.tests.factories import BrandFactory, CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def search(client, query: str, **params):
    response = client.get("/search/", {"q": query, "per_page": 96, **params})
    assert response.status_code == 200
    return response.context["listing"]


def ids(listing) -> list[int]:
    return [product.pk for product in listing.products]


@pytest.fixture
def kettles():
    """Kettles of every kind of relevance (in the name, the brand, the description once or
    twice), ties that only sales or age tell apart, and kettles no shopper may see."""
    kitchen = CategoryFactory(name="Kitchen")
    beside = {"description": "Beside the kettle.", "category": kitchen, "sold_count": 9}
    closed = CategoryFactory(name="Closed", is_active=False)
    kettle_brand = BrandFactory(name="Kettle Works")
    shown = [
        ProductFactory(name="Kettle", category=kitchen, sold_count=3),
        ProductFactory(name="Steel Kettle", category=kitchen, sold_count=3),
        ProductFactory(name="Teapot", brand=kettle_brand, category=kitchen),
        ProductFactory(name="Mug", **{**beside, "sold_count": 20}),  # the best seller
        ProductFactory(name="Cup", description="Kettle? Kettle!", category=kitchen),
        ProductFactory(name="Jug", **beside),
        ProductFactory(name="Tray", **beside),
    ]
    hidden = [
        ProductFactory(name="Old Kettle", category=kitchen, is_published=False),
        ProductFactory(name="Closed Kettle", category=closed),
    ]
    return shown, hidden


def test_a_search_lists_the_shown_matches_in_the_databases_order_of_relevance(
    client, kettles, postgres_only
):
    """Rank, then the best-selling, then the newest, as ORDER BY did when PostgreSQL sorted:
    the ranks now come as integers and the listing sorts them in memory."""
    shown, _hidden = kettles
    products, order = selectors.search_products("kettle", base=Product.objects.published())
    expected = list(products.order_by(*order).values_list("pk", flat=True))
    assert sorted(expected) == sorted(p.pk for p in shown)
    ranks = dict(products.values_list("pk", "rank"))
    assert len(set(ranks.values())) >= 4  # name, brand, twice and once in a description
    listing = search(client, "kettle")
    assert ids(listing) == expected
    assert listing.count == len(shown)
    # Page by page, the same order.
    first = search(client, "kettle", per_page=24)
    assert ids(first)[:3] == expected[:3]


def test_a_search_never_lists_hidden_products(client, kettles, django_assert_max_num_queries):
    """Unpublished products and those of an inactive category match the words, and are kept
    out by the listing (their documents are searched like any other)."""
    shown, hidden = kettles
    listing = search(client, "kettle")
    assert set(ids(listing)) == {p.pk for p in shown}
    assert listing.count == len(shown)
    assert not set(ids(search(client, "old kettle"))) & {p.pk for p in hidden}
    assert search(client, "closed").count == 0


def test_a_searchs_brand_counts_are_those_of_its_matches(client, kettles):
    listing = search(client, "kettle")
    brands = {v.slug: v.count for f in listing.facets if f.param == "brand" for v in f.values}
    assert brands == {"kettle-works": 1}
    filtered = search(client, "kettle", brand="kettle-works")
    assert [p.name for p in filtered.products] == ["Teapot"] and filtered.count == 1


def test_other_sorts_of_a_search_keep_its_matches(client, kettles):
    shown, _hidden = kettles
    listing = search(client, "kettle", sort="best-selling")
    expected = sorted(shown, key=lambda p: (-p.sold_count, -p.pk))
    assert ids(listing) == [p.pk for p in expected]


def test_a_searchs_ranks_travel_exactly_as_postgresqls_float4(postgres_only):
    """The ranks travel as PostgreSQL's float4 bytes (float4send): two ranks a float4 step
    apart stay apart, and each is the very value ts_rank gave."""
    given = [0.6079271, 0.60792714, 0.0000001, 1.0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(float4send(x), '' ORDER BY n) "
            "FROM unnest(%s::real[]) WITH ORDINALITY AS t(x, n)",
            [given],
        )
        (sent,) = cursor.fetchone()
    ranks = np.frombuffer(sent, dtype=">f4").astype(np.float32)
    assert ranks.tolist() == np.array(given, dtype=np.float32).tolist()
    assert ranks[0] < ranks[1] and 0 < ranks[2] < ranks[0] < ranks[3]


def test_a_searchs_ids_and_ranks_are_those_of_the_database(kettles, postgres_only):
    """search_ids() reads the binary strings back to the very ids and ranks ts_rank gave."""
    shown, hidden = kettles
    products, _order = selectors.search_products("kettle", base=Product.objects.all())
    expected = {pk: np.float32(rank) for pk, rank in products.values_list("pk", "rank")}
    found = selectors.search_ids("kettle")
    assert set(expected) == {p.pk for p in [*shown, *hidden]}  # the listing hides some
    assert dict(zip(found.ids.tolist(), found.ranks.tolist(), strict=True)) == expected
    assert found.ids.dtype == np.int64 and found.ranks.dtype == np.float32
    nothing = selectors.search_ids("zebra")
    assert len(nothing) == 0 and len(nothing.ranks) == 0


def test_the_search_document_follows_the_product_and_goes_with_it(client, postgres_only):
    product = ProductFactory(name="Kettle")
    assert ids(search(client, "kettle")) == [product.pk]
    product.name = "Teapot"
    product.save()
    services.refresh_products(product_ids=[product.pk])
    assert search(client, "kettle").count == 0
    assert ids(search(client, "teapot")) == [product.pk]
    product.delete()
    assert not SearchDocument.objects.filter(product_id=product.pk).exists()
