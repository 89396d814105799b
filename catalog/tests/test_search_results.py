"""What a search lists: the shown products matching the query, most relevant first, counted
exactly; ranked by PostgreSQL, by substring on SQLite."""

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


def test_a_searchs_ranks_keep_their_order_as_integers(postgres_only):
    """The ranks travel as integers (times 2**60): two ranks a float4 step apart stay apart."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (x::float8 * %s)::bigint FROM unnest(ARRAY[0.6079271::real, "
            "0.60792714::real, 0.0000001::real, 1::real]) x",
            [selectors._RANK_SCALE],
        )
        scaled = [row[0] for row in cursor.fetchall()]
    assert scaled[0] < scaled[1] and 0 < scaled[2] < scaled[0] < scaled[3]


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
