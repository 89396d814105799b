"""Stock moves only as movements (issue 12, item 8), and a sale invalidates only the cached
pages whose stock label it changes (item 9)."""

import contextlib
import importlib
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection, connections
from django.db.models import Sum

from catalog import cache, services, stock
from catalog.models import Product, StockMovement, Variant
from catalog.tests.factories import CategoryFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

Reason = StockMovement.Reason


def _ledger(variant) -> list[tuple[str, int, int, str]]:
    return list(
        StockMovement.objects.filter(variant=variant)
        .order_by("pk")
        .values_list("reason", "quantity", "stock_after", "reference")
    )


def assert_ledger_adds_up(*variants):
    for variant in variants:
        stock = Variant.objects.values_list("stock", flat=True).get(pk=variant.pk)
        total = StockMovement.objects.filter(variant=variant).aggregate(n=Sum("quantity"))["n"]
        last = StockMovement.objects.filter(variant=variant).order_by("-pk").first()
        assert (total, last.stock_after) == (stock, stock), variant.sku


# --- The orders app's calls -----------------------------------------------------------------


def test_take_stock_writes_a_sale_movement_per_variant_with_the_order_number():
    shirt, mug = VariantFactory(stock=5), VariantFactory(stock=2)
    services.take_stock(quantities={shirt.pk: 2, mug.pk: 2}, reference="ORDER-1")
    assert _ledger(shirt)[-1] == ("sale", -2, 3, "ORDER-1")
    assert _ledger(mug)[-1] == ("sale", -2, 0, "ORDER-1")
    assert Product.objects.get(pk=mug.product_id).stock == 0
    assert_ledger_adds_up(shirt, mug)


@contextlib.contextmanager
def _statements():
    """The statements sent in the block, as written (values apart)."""
    sent = []

    def note(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        yield sent


def _stock_updates(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.startswith("UPDATE") and '"stock"' in sql]


@pytest.mark.postgres
def test_the_stock_updates_are_the_same_statements_for_one_variant_and_for_several():
    """Written once (catalog.stock._add_stock): the ORM built a value for one row and a
    CASE for several, anew on every order."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    product = ProductFactory(variants=False)
    one, two, three = (VariantFactory(product=product, stock=9, sku=f"S-{n}") for n in "123")
    with _statements() as single:
        services.take_stock(quantities={one.pk: 1}, reference="ORDER-1")
    with _statements() as several:
        services.take_stock(quantities={one.pk: 2, two.pk: 1, three.pk: 4}, reference="ORDER-2")
    assert len(single) == len(several)
    assert _stock_updates(single) == _stock_updates(several)
    assert len(_stock_updates(single)) == 2  # the variants', the product's
    stocks = dict(Variant.objects.filter(product=product).values_list("sku", "stock"))
    assert stocks == {"S-1": 6, "S-2": 8, "S-3": 5}
    assert Product.objects.get(pk=product.pk).stock == 19
    assert_ledger_adds_up(one, two, three)


def test_the_stock_update_never_takes_a_variant_below_zero_even_unchecked():
    """The UPDATE's own condition, behind the check made under the lock: a row whose stock
    would go negative is not moved, and not counted as moved."""
    plenty, scarce = VariantFactory(stock=5), VariantFactory(stock=1)
    assert stock._add_stock(Variant, {plenty.pk: -2, scarce.pk: -2}) == 1
    assert dict(
        Variant.objects.filter(pk__in=[plenty.pk, scarce.pk]).values_list("pk", "stock")
    ) == {
        plenty.pk: 3,
        scarce.pk: 1,
    }
    product = Product.objects.get(pk=scarce.product_id)
    stock._add_stock(Product, {product.pk: -(product.stock + 7)})
    assert Product.objects.get(pk=product.pk).stock == 0


def test_take_stock_that_falls_short_writes_nothing():
    plenty, scarce = VariantFactory(stock=5), VariantFactory(stock=1)
    with pytest.raises(services.InsufficientStock) as short:
        services.take_stock(quantities={plenty.pk: 2, scarce.pk: 2})
    assert short.value.short == {scarce.pk: 1}
    assert StockMovement.objects.filter(reason=Reason.SALE).count() == 0
    assert_ledger_adds_up(plenty, scarce)


def test_return_stock_records_a_cancellation_or_a_return():
    variant = VariantFactory(stock=5)
    services.take_stock(quantities={variant.pk: 3}, reference="ORDER-2")
    services.return_stock(quantities={variant.pk: 1, 999_999: 4}, reference="ORDER-2")
    services.return_stock(quantities={variant.pk: 2}, reason=Reason.RETURN, reference="ORDER-2")
    assert [row[:3] for row in _ledger(variant)] == [
        ("opening", 5, 5),
        ("sale", -3, 2),
        ("cancel", 1, 3),
        ("return", 2, 5),
    ]
    with pytest.raises(ValueError):
        services.return_stock(quantities={variant.pk: 1}, reason=Reason.RECEIVED)
    assert_ledger_adds_up(variant)


# --- The merchant's tools ---------------------------------------------------------------------


def test_adjust_stock_records_goods_received_and_corrections_with_who_and_why(
    django_user_model,
):
    merchant = django_user_model.objects.create_user(email="m@example.com", password="pw-m-123")
    variant = VariantFactory(stock=2)
    services.adjust_stock(
        variant_id=variant.pk, delta=10, reason=Reason.RECEIVED, actor=merchant, note="PO 17"
    )
    services.adjust_stock(variant_id=variant.pk, delta=-1, reason=Reason.CORRECTION)
    received = StockMovement.objects.get(reason=Reason.RECEIVED)
    assert (received.quantity, received.actor, received.note) == (10, merchant, "PO 17")
    variant.refresh_from_db()
    assert variant.stock == 11
    assert Product.objects.get(pk=variant.product_id).stock == 11
    assert_ledger_adds_up(variant)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"delta": -3, "reason": Reason.CORRECTION}, services.StockWouldGoNegative),
        ({"delta": -1, "reason": Reason.RECEIVED}, services.StockError),
        ({"delta": 1, "reason": Reason.RECEIVED, "expected": 3}, services.StockChangedSinceLoaded),
        ({"delta": 1, "reason": Reason.SALE}, ValueError),
        ({"delta": 0, "reason": Reason.CORRECTION}, ValueError),
    ],
)
def test_adjust_stock_refuses_and_writes_nothing(kwargs, error):
    variant = VariantFactory(stock=2)
    with pytest.raises(error):
        services.adjust_stock(variant_id=variant.pk, **kwargs)
    variant.refresh_from_db()
    assert variant.stock == 2 and variant.stock_movements.count() == 1


def test_count_stock_sets_the_counted_quantity_and_records_even_a_matching_count():
    variant = VariantFactory(stock=8)
    movement = services.count_stock(variant_id=variant.pk, counted=5, expected=8, note="shelf")
    assert (movement.reason, movement.quantity, movement.stock_after) == ("count", -3, 5)
    services.count_stock(variant_id=variant.pk, counted=5, expected=5)
    assert [row[:3] for row in _ledger(variant)][-1] == ("count", 0, 5)
    assert_ledger_adds_up(variant)


def test_count_stock_refuses_a_count_made_before_the_stock_moved():
    variant = VariantFactory(stock=8, sku="CUP-1")
    services.take_stock(quantities={variant.pk: 1})
    with pytest.raises(services.StockChangedSinceLoaded) as changed:
        services.count_stock(variant_id=variant.pk, counted=12, expected=8)
    assert changed.value.changed == {variant.pk: (8, 7)}
    assert "CUP-1 from 8 to 7" in changed.value.message
    variant.refresh_from_db()
    assert variant.stock == 7
    assert_ledger_adds_up(variant)


def test_an_inactive_variants_stock_is_not_the_products():
    product = ProductFactory(variants__stock=4)
    hidden = VariantFactory(product=product, stock=0, is_active=False)
    services.adjust_stock(variant_id=hidden.pk, delta=6, reason=Reason.RECEIVED)
    assert Product.objects.get(pk=product.pk).stock == 4
    assert_ledger_adds_up(hidden)


def test_opening_movements_migration_opens_the_ledger_of_variants_without_one():
    migration = importlib.import_module("catalog.migrations.0007_opening_stock_movements")
    product = ProductFactory(variants=False)
    bare = [
        Variant.objects.create(product=product, sku=f"OLD-{n}", price=Decimal(1), stock=n)
        for n in (0, 7)
    ]
    opened = VariantFactory(product=product, stock=3)
    migration.open_ledger(apps, SimpleNamespace(connection=connection))
    assert [_ledger(v) for v in bare] == [[("opening", 0, 0, "")], [("opening", 7, 7, "")]]
    assert len(_ledger(opened)) == 1
    assert_ledger_adds_up(*bare, opened)


# --- A sale invalidates only what it changes on screen (item 9) -----------------------------


@pytest.fixture
def shop():
    parent = CategoryFactory(name="Clothing")
    shirts = CategoryFactory(name="Shirts", parent=parent)
    books = CategoryFactory(name="Books")
    shirt = ProductFactory(name="Shirt", category=shirts, variants__stock=20)
    other = ProductFactory(name="Other shirt", category=shirts, variants__stock=20)
    novel = ProductFactory(name="Novel", category=books, variants__stock=20)
    return SimpleNamespace(
        parent=parent,
        shirts=shirts,
        books=books,
        shirt=shirt,
        variant=shirt.variants.get(),
        other=other,
        novel=novel,
    )


def _scopes(shop) -> dict[str, str]:
    return {
        "shirt": cache.product_scope(shop.shirt.pk),
        "shirt's labels": cache.stock_scope(shop.shirt.pk),
        "other": cache.product_scope(shop.other.pk),
        "novel": cache.product_scope(shop.novel.pk),
        "shirts": cache.category_scope(shop.shirts.pk),
        "parent": cache.category_scope(shop.parent.pk),
        "books": cache.category_scope(shop.books.pk),
        "catalog": cache.CATALOG,
    }


def _bumped(shop, capture, change) -> set[str]:
    """The names of the scopes whose version `change` moves once its transaction commits."""
    scopes = _scopes(shop)
    before = cache.versions(scopes.values())
    with capture(execute=True):
        change()
    after = cache.versions(scopes.values())
    return {name for name, scope in scopes.items() if before[scope] != after[scope]}


def test_an_order_leaving_plenty_of_stock_keeps_every_cached_page(
    shop, django_capture_on_commit_callbacks
):
    def sale():  # what placing and paying an order does to the catalog
        services.take_stock(quantities={shop.variant.pk: 2}, reference="ORDER-3")
        services.record_sales(quantities={shop.variant.pk: 2})

    assert _bumped(shop, django_capture_on_commit_callbacks, sale) == set()


def test_an_order_bringing_a_variant_to_its_last_units_invalidates_only_its_stock_labels(
    shop, django_capture_on_commit_callbacks
):
    """The product page is kept: its stock labels are holes kept per their own version."""

    def sale():
        services.take_stock(quantities={shop.variant.pk: 17})  # 20 -> 3: "Only 3 left"

    assert _bumped(shop, django_capture_on_commit_callbacks, sale) == {"shirt's labels"}

    def another():
        services.take_stock(quantities={shop.variant.pk: 1})  # "Only 2 left"

    assert _bumped(shop, django_capture_on_commit_callbacks, another) == {"shirt's labels"}


def test_an_order_that_sells_a_product_out_invalidates_it_its_categories_and_the_catalog(
    shop, django_capture_on_commit_callbacks
):
    def sell_out():
        services.take_stock(quantities={shop.variant.pk: 20})

    assert _bumped(shop, django_capture_on_commit_callbacks, sell_out) == {
        "shirt",
        "shirts",
        "parent",
        "catalog",
    }

    def back_in_stock():
        services.return_stock(quantities={shop.variant.pk: 1})

    assert _bumped(shop, django_capture_on_commit_callbacks, back_in_stock) == {
        "shirt",
        "shirts",
        "parent",
        "catalog",
    }


def test_a_variant_selling_out_while_another_is_in_stock_leaves_the_listings(
    shop, django_capture_on_commit_callbacks
):
    VariantFactory(product=shop.shirt, stock=4)

    def sell_out_one():
        services.take_stock(quantities={shop.variant.pk: 20})

    assert _bumped(shop, django_capture_on_commit_callbacks, sell_out_one) == {"shirt"}


def test_an_inactive_variants_stock_changes_no_page(shop, django_capture_on_commit_callbacks):
    hidden = VariantFactory(product=shop.shirt, stock=0, is_active=False)

    def receive():
        services.adjust_stock(variant_id=hidden.pk, delta=5, reason=Reason.RECEIVED)

    assert _bumped(shop, django_capture_on_commit_callbacks, receive) == set()


def test_the_cached_product_page_shows_the_last_units_after_a_sale(
    client, shop, django_capture_on_commit_callbacks
):
    page = shop.shirt.get_absolute_url()
    assert "In stock" in client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.take_stock(quantities={shop.variant.pk: 17})
    html = client.get(page).content.decode()
    assert "Only 3 left" in html and "data-stock-level" not in html  # one variant: no picker
    with django_capture_on_commit_callbacks(execute=True):
        services.take_stock(quantities={shop.variant.pk: 3})
    assert "Sold out" in client.get(shop.shirts.get_absolute_url()).content.decode()


# --- Concurrency (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sales_of_two_variants_of_one_product_keep_its_stock_exact():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    product = ProductFactory(variants=False)
    variants = [VariantFactory(product=product, stock=30, sku=f"PAIR-{n}") for n in (1, 2)]
    buyers = 20
    barrier = threading.Barrier(buyers)
    errors = []

    def buy(index):
        try:
            barrier.wait()
            services.take_stock(quantities={variants[index % 2].pk: 1})
        except Exception as error:  # asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert Product.objects.get(pk=product.pk).stock == 60 - buyers
    assert_ledger_adds_up(*variants)
