"""Every row lock of the catalog, in one place, always in primary-key order.

Two checkouts that lock the same variants take the locks in the same order, so they queue
instead of deadlocking. Stock changes lock variants first, then their products.
"""

from collections.abc import Iterable

from django.db import connection

from catalog.models import Product, ProductRecommendation, Variant
from shop.prepared import Prepared

#: The two locks every order takes, built once per number of rows (shop.prepared).
_VARIANTS_FOR_UPDATE = Prepared(
    lambda ids: Variant.objects.select_for_update().filter(pk__in=ids).order_by("pk"), "ids"
)
_PRODUCT_STOCK_FOR_UPDATE = Prepared(
    lambda ids: (
        Product.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "stock")
    ),
    "ids",
)


def variants_for_update(*, ids: Iterable[int]) -> dict[int, Variant]:
    """Lock these variants until the transaction ends; returns them by primary key."""
    ids = sorted(set(ids))
    rows = _VARIANTS_FOR_UPDATE.objects(ids=ids) if ids else []
    return {variant.pk: variant for variant in rows}


def product_stock_for_update(*, ids: Iterable[int]) -> dict[int, int]:
    """Lock these products' rows until the transaction ends; returns their stock by id."""
    ids = sorted(set(ids))
    return dict(_PRODUCT_STOCK_FOR_UPDATE.rows(ids=ids)) if ids else {}


def products_for_update(*, ids: Iterable[int]) -> list[int]:
    """Lock these products until the transaction ends (their facet rows are rewritten);
    returns their ids. refresh_products() holds the same locks through its UPDATE."""
    rows = Product.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return list(rows.values_list("pk", flat=True))


def recommendations_for_rebuild() -> None:
    """Hold the recommendations table against other writers until the transaction ends;
    readers go on reading the old rows. Two rebuilds at once would each delete only the rows
    they saw and insert theirs beside the other's."""
    if connection.vendor == "postgresql":  # SQLite writes one transaction at a time anyway
        table = connection.ops.quote_name(ProductRecommendation._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
