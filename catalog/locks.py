"""Every row lock of the catalog, in one place, always in primary-key order.

Two checkouts that lock the same variants take the locks in the same order, so they queue
instead of deadlocking. Stock changes lock variants first, then their products.
"""

from collections.abc import Iterable

from catalog.models import Product, Variant


def variants_for_update(*, ids: Iterable[int]) -> dict[int, Variant]:
    """Lock these variants until the transaction ends; returns them by primary key."""
    rows = Variant.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return {variant.pk: variant for variant in rows}


def product_stock_for_update(*, ids: Iterable[int]) -> dict[int, int]:
    """Lock these products' rows until the transaction ends; returns their stock by id."""
    rows = (
        Product.objects.select_for_update()
        .filter(pk__in=sorted(set(ids)))
        .order_by("pk")
        .values_list("pk", "stock")
    )
    return dict(rows)


def products_for_update(*, ids: Iterable[int]) -> list[int]:
    """Lock these products until the transaction ends (their facet rows are rewritten);
    returns their ids. refresh_products() holds the same locks through its UPDATE."""
    rows = Product.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return list(rows.values_list("pk", flat=True))
