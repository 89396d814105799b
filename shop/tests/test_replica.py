"""A read replica (DATABASE_REPLICA_URL): catalog pages read the catalog's rows from it; an
order, its cart and everything written stays on the primary.

A second real database (a second PostgreSQL database, or a second SQLite database) stands in
for the replica. Its rows are copies of the primary's with one difference the pages can
show: the product's name. So a page shows which database it was read from."""

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Category, Product, SearchDocument, Variant
from catalog.tests.factories import ProductFactory
from catalog.tests.test_views import LISTING_BUDGET, SEARCH_BUDGET
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory
from orders.tests.test_views import add, details, review_fields

# Transactional: a test inside one transaction would read the primary only, as a request
# inside a transaction does.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture
def replica(settings):
    """The router and its middleware on, as DATABASE_REPLICA_URL turns them on."""
    settings.DATABASE_ROUTERS = ["shop.replica.ReplicaRouter"]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "shop.replica.CatalogReadsFromReplica"]


@pytest.fixture
def lamp():
    """A lamp on the primary; on the replica the same rows, named "Replica Lamp"."""
    product = ProductFactory(
        name="Primary Lamp",
        slug="lamp",
        category__name="Lamps",
        variants__price=Decimal("20.00"),
        variants__stock=5,
    )
    for model in (Category, Product, Variant, SearchDocument):
        model.objects.using("replica").bulk_create(model.objects.using("default").all())
    Product.objects.using("replica").filter(pk=product.pk).update(name="Replica Lamp")
    return product


def test_the_product_page_is_read_from_the_replica(client, replica, lamp):
    page = client.get(reverse("catalog:product", kwargs={"slug": "lamp"}))
    assert page.status_code == 200
    assert "Replica Lamp" in page.text and "Primary Lamp" not in page.text


@pytest.mark.parametrize(
    ("url", "budget"),
    [
        (reverse("home"), LISTING_BUDGET),
        (reverse("catalog:products"), LISTING_BUDGET),
        (reverse("catalog:category", kwargs={"slug": "lamps"}), LISTING_BUDGET),
        (reverse("catalog:search") + "?q=lamp", SEARCH_BUDGET),
    ],
    ids=["home", "all products", "category", "search"],
)
def test_listings_are_read_from_the_replica(
    client, replica, lamp, url, budget, django_assert_max_num_queries
):
    """The home page, the listings and search read the catalog from the replica only: not
    one query of the catalog's tables on the primary (sessions and the like stay there)."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        django_assert_max_num_queries(budget, connection=connections["replica"]) as replica_q,
    ):
        page = client.get(url)
    assert page.status_code == 200
    assert "Replica Lamp" in page.text and "Primary Lamp" not in page.text
    assert replica_q.captured_queries  # the replica answered
    on_primary = [q["sql"] for q in primary.captured_queries if '"catalog_' in q["sql"]]
    assert on_primary == []


def test_a_product_only_on_the_replica_has_a_page(client, replica, lamp):
    Product.objects.using("replica").filter(pk=lamp.pk).update(slug="new-lamp")
    assert client.get("/p/new-lamp/").status_code == 200
    assert client.get("/p/lamp/").status_code == 404


def test_without_the_router_every_page_reads_the_primary(client, lamp):
    page = client.get(reverse("catalog:product", kwargs={"slug": "lamp"}))
    assert "Primary Lamp" in page.text and "Replica Lamp" not in page.text


def test_cart_checkout_and_the_order_stay_on_the_primary(client, replica, lamp):
    variant = lamp.variants.get()
    add(client, variant, 2)
    method = ShippingMethodFactory(price=Decimal("5.00"))
    assert details(client, method).status_code == 302
    fields, html = review_fields(client)
    assert "Primary Lamp" in html  # the cart prices what the primary holds
    client.post(reverse("orders:place"), fields)
    order = Order.objects.using("default").get()
    assert order.lines.get().product_name == "Primary Lamp"
    assert not Order.objects.using("replica").exists()
    assert Variant.objects.using("default").get(pk=variant.pk).stock == 3
    assert Variant.objects.using("replica").get(pk=variant.pk).stock == 5  # never written


def test_migrations_and_writes_never_go_to_the_replica(replica):
    from shop.replica import ReplicaRouter

    router = ReplicaRouter()
    assert router.db_for_write(Product) == "default"
    assert router.db_for_read(Product) == "default"  # outside a catalog page
    assert not router.allow_migrate("replica", "catalog")
    assert (
        connections["replica"].settings_dict["NAME"] != connections["default"].settings_dict["NAME"]
    )
