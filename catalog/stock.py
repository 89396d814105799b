"""Stock moves only as movements: every change of a variant's stock is a StockMovement row
with its reason, written together with `Variant.stock` in one transaction, here and nowhere
else (catalog.services re-exports these for other apps).

Every write goes the same way (`_move`): lock the variant rows in primary-key order
(catalog.locks), check the new levels under the lock, change `Variant.stock` with a
conditional UPDATE (it never goes below zero, whatever the concurrency), write one movement
per variant with the stock after it, move the products' stock summary by the same units,
and invalidate only what shows a stock label that changed (catalog.models.stock_label):
a sale that leaves "In stock" as it was keeps every cached page; one that changes a label
without selling the variant out moves only the product page's stock labels; one that sells
a variant out (or brings it back) invalidates its product's page, and one that makes a
product sell out (or come back) its categories and the catalog-wide pages whose cards say
"Sold out" too.

So the sum of a variant's movements equals its stock after any sequence of these calls, and
a form loaded before a sale can never write back the stock it showed: the merchant enters an
adjustment or a counted quantity, refused if the stock moved since the page was loaded.
"""

from collections import defaultdict
from collections.abc import Iterable
from functools import cache as once

from django.db import connections, router, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.db.models.functions import Greatest
from django.utils.translation import gettext as _

from catalog import cache, facets, locks
from catalog.models import Category, Product, StockMovement, Variant, stock_label
from shop import prepared
from shop.sql import quoted

Reason = StockMovement.Reason

#: Reasons a merchant gives for an adjustment by a number of units.
ADJUSTMENT_REASONS = (Reason.RECEIVED, Reason.CORRECTION)
#: Reasons the orders app gives for units coming back.
RETURN_REASONS = (Reason.CANCEL, Reason.RETURN)


class StockError(Exception):
    """A stock change the shop refuses; nothing was written. `message` is for the page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InsufficientStock(StockError):
    """Some variants have fewer units than asked for; nothing was taken.

    `short` maps each such variant's id to the units it has (0 for one no longer sold).
    """

    def __init__(self, *, short: dict[int, int]):
        super().__init__(_("Some items do not have enough stock."))
        self.short = short


class StockWouldGoNegative(StockError):
    """An adjustment would take a variant's stock below zero."""

    def __init__(self, *, sku: str, stock: int, delta: int):
        super().__init__(
            _("%(sku)s has %(stock)d in stock: removing %(units)d would take it below zero.")
            % {"sku": sku, "stock": stock, "units": -delta}
        )
        self.sku, self.stock, self.delta = sku, stock, delta


class StockChangedSinceLoaded(StockError):
    """The stock is no longer what the merchant's page (or file) showed: a count or an
    adjustment made against it would be wrong, so nothing was written.

    `changed` maps each such variant's id to (the stock expected, the stock now).
    """

    def __init__(self, *, changed: dict[int, tuple[int, int]], skus: dict[int, str]):
        parts = [
            _("%(sku)s from %(expected)d to %(current)d")
            % {"sku": skus.get(pk, str(pk)), "expected": expected, "current": current}
            for pk, (expected, current) in sorted(changed.items())
        ]
        super().__init__(
            _(
                "The stock changed since this page was loaded (%(changes)s), by orders or "
                "another change. Nothing was saved: check the current stock and enter your "
                "change again."
            )
            % {"changes": "; ".join(parts)}
        )
        self.changed = changed


# --- What the orders app calls ------------------------------------------------------------


@transaction.atomic
def take_stock(*, quantities: dict[int, int], reference: str = "") -> None:
    """Take units of variants for an order (reason "sale"), all or nothing; raises
    InsufficientStock naming what is short. Inactive variants cannot be taken.

    `reference` is the order's number, kept on each movement.
    """
    quantities = {pk: n for pk, n in quantities.items() if n}
    if quantities:
        take_locked_stock(
            locked=locks.variants_for_update(ids=quantities),
            quantities=quantities,
            reference=reference,
        )


def take_locked_stock(
    *, locked: dict[int, Variant], quantities: dict[int, int], reference: str = ""
) -> None:
    """take_stock() for a caller that already holds the variants' row locks in its own
    transaction (`locked`, from locks.variants_for_update(): place_order). Neither locks
    again nor opens a savepoint: two round trips each, on every order. Raises
    InsufficientStock before writing anything, and the caller's transaction must then
    roll back."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("take_locked_stock() runs inside the transaction holding the locks")
    quantities = {pk: n for pk, n in quantities.items() if n}
    if not quantities:
        return
    if any(n < 0 for n in quantities.values()):
        raise ValueError("quantities must be positive")
    short = {
        pk: (locked[pk].stock if pk in locked and locked[pk].is_active else 0)
        for pk, n in quantities.items()
        if pk not in locked or not locked[pk].is_active or locked[pk].stock < n
    }
    if short:
        raise InsufficientStock(short=short)
    _move(
        locked=locked,
        deltas={pk: -n for pk, n in quantities.items()},
        reason=Reason.SALE,
        reference=reference,
    )


@transaction.atomic
def return_stock(
    *, quantities: dict[int, int], reason: str = Reason.CANCEL, reference: str = ""
) -> None:
    """Put units back: an order cancelled before shipping ("cancel"), or goods the customer
    sent back and that are fit to sell again ("return"). Variants deleted meanwhile are
    skipped. `reference` is the order's number."""
    if reason not in RETURN_REASONS:
        raise ValueError(f"a return is one of {RETURN_REASONS}, not {reason!r}")
    quantities = {pk: n for pk, n in quantities.items() if n > 0}
    if not quantities:
        return
    locked = locks.variants_for_update(ids=quantities)
    if not locked:
        return
    _move(
        locked=locked,
        deltas={pk: quantities[pk] for pk in locked},
        reason=reason,
        reference=reference,
    )


@transaction.atomic
def record_sales(*, quantities: dict[int, int]) -> None:
    """Add sold units to the products' `sold_count` (best-selling), in one UPDATE.

    Invalidates no cached page: the count is never printed, it only orders "best-selling"
    lists and related products, which may lag by up to cache.PAGE_TIMEOUT rather than every
    paid order emptying the listings' caches.
    """
    per_product: dict[int, int] = {}
    rows = Variant.objects.filter(pk__in=list(quantities)).values_list("pk", "product_id")
    for pk, product_id in rows:
        per_product[product_id] = per_product.get(product_id, 0) + quantities[pk]
    if not per_product:
        return
    sold = Case(
        *(When(pk=pk, then=Value(n)) for pk, n in per_product.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    Product.objects.filter(pk__in=list(per_product)).update(
        sold_count=Greatest(F("sold_count") + sold, Value(0))
    )
    facets.note_changes(product_ids=per_product)  # the listing index sorts by it


# --- The merchant's stock tools (admin, CSV import) ---------------------------------------


@transaction.atomic
def adjust_stock(
    *,
    variant_id: int,
    delta: int,
    reason: str,
    actor=None,
    note: str = "",
    expected: int | None = None,
    reference: str = "",
) -> StockMovement:
    """Add (`delta` > 0) or remove units: goods received, or a correction (damaged, lost,
    found). Refuses, writing nothing, to go below zero (StockWouldGoNegative) and, when
    `expected` is given (the stock the merchant's page showed), if the stock is no longer
    that (StockChangedSinceLoaded)."""
    if reason not in ADJUSTMENT_REASONS:
        raise ValueError(f"an adjustment is one of {ADJUSTMENT_REASONS}, not {reason!r}")
    if not delta:
        raise ValueError("an adjustment moves at least one unit")
    if reason == Reason.RECEIVED and delta < 0:
        raise StockError(
            _("Received units are a positive number; record units that left as a correction.")
        )
    variant = _locked_one(variant_id)
    if expected is not None and variant.stock != expected:
        raise StockChangedSinceLoaded(
            changed={variant.pk: (expected, variant.stock)}, skus={variant.pk: variant.sku}
        )
    if variant.stock + delta < 0:
        raise StockWouldGoNegative(sku=variant.sku, stock=variant.stock, delta=delta)
    [movement] = _move(
        locked={variant.pk: variant},
        deltas={variant.pk: delta},
        reason=reason,
        reference=reference,
        note=note,
        actor=actor,
    )
    return movement


@transaction.atomic
def adjust_stocks(
    *,
    deltas: dict[int, int],
    reason: str,
    actor=None,
    note: str = "",
    reference: str = "",
) -> list[StockMovement]:
    """adjust_stock() for many variants at once (the admin's bulk edit), all or nothing:
    one movement per variant with the same reason and note. Refuses, writing nothing, if
    any variant is gone (Variant.DoesNotExist) or would go below zero
    (StockWouldGoNegative, naming the first such SKU)."""
    if reason not in ADJUSTMENT_REASONS:
        raise ValueError(f"an adjustment is one of {ADJUSTMENT_REASONS}, not {reason!r}")
    deltas = {pk: delta for pk, delta in deltas.items() if delta}
    if not deltas:
        return []
    if reason == Reason.RECEIVED and any(delta < 0 for delta in deltas.values()):
        raise StockError(
            _("Received units are a positive number; record units that left as a correction.")
        )
    locked = locks.variants_for_update(ids=deltas)
    missing = set(deltas) - set(locked)
    if missing:
        raise Variant.DoesNotExist(f"no variants {sorted(missing)}")
    for pk, delta in sorted(deltas.items()):
        if locked[pk].stock + delta < 0:
            raise StockWouldGoNegative(sku=locked[pk].sku, stock=locked[pk].stock, delta=delta)
    return _move(
        locked=locked, deltas=deltas, reason=reason, reference=reference, note=note, actor=actor
    )


@transaction.atomic
def count_stock(
    *,
    variant_id: int,
    counted: int,
    expected: int,
    actor=None,
    note: str = "",
    reference: str = "",
) -> StockMovement:
    """A stocktake: the variant has `counted` units on the shelf. Writes a movement of
    counted - stock (0 when the count agrees: the count is still recorded).

    `expected` is the stock the merchant's page showed when they counted: if a sale or
    anything else moved the stock since, the count no longer says what to write, and
    StockChangedSinceLoaded is raised with nothing written.
    """
    return count_stocks(
        counted={variant_id: counted},
        expected={variant_id: expected},
        actor=actor,
        note=note,
        reference=reference,
    )[0]


@transaction.atomic
def count_stocks(
    *,
    counted: dict[int, int],
    expected: dict[int, int | None],
    actor=None,
    note: str = "",
    reference: str = "",
) -> list[StockMovement]:
    """count_stock() for many variants at once (a CSV import), all or nothing. A variant
    whose `expected` is None is counted whatever its stock now (a file that does not say
    what stock it was made from)."""
    if any(n < 0 for n in counted.values()):
        raise StockError(_("A counted quantity cannot be negative."))
    if not counted:
        return []
    locked = locks.variants_for_update(ids=counted)
    missing = set(counted) - set(locked)
    if missing:
        raise Variant.DoesNotExist(f"no variants {sorted(missing)}")
    changed = {
        pk: (expected[pk], locked[pk].stock)
        for pk in counted
        if expected.get(pk) is not None and expected[pk] != locked[pk].stock
    }
    if changed:
        raise StockChangedSinceLoaded(changed=changed, skus={pk: locked[pk].sku for pk in changed})
    return _move(
        locked=locked,
        deltas={pk: n - locked[pk].stock for pk, n in counted.items()},
        reason=Reason.COUNT,
        reference=reference,
        note=note,
        actor=actor,
    )


def record_opening_stock(
    *, variants: Iterable[Variant], reference: str = "", actor=None
) -> list[StockMovement]:
    """The first movement of variants just created with their stock (an import, the demo
    catalog): one "opening balance" per variant, in bulk. Call it in the transaction that
    created them; nothing else can have moved their stock yet."""
    movements = [
        StockMovement(
            variant_id=variant.pk,
            quantity=variant.stock,
            stock_after=variant.stock,
            reason=Reason.OPENING,
            reference=reference[:64],
            actor=_user(actor),
        )
        for variant in variants
    ]
    return StockMovement.objects.bulk_create(movements, batch_size=1000)


# --- How every change is written -----------------------------------------------------------


def _locked_one(variant_id: int) -> Variant:
    locked = locks.variants_for_update(ids=[variant_id])
    if variant_id not in locked:
        raise Variant.DoesNotExist(f"no variant {variant_id}")
    return locked[variant_id]


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _add_stock(model: type[Variant] | type[Product], deltas: dict[int, int]) -> int:
    """Add `deltas` (primary key -> signed units) to the `stock` of those rows, locked by the
    caller; how many rows moved. A variant's stock never goes below zero (a row that would
    is left as it is, and not counted: under the lock that cannot happen, and the database
    makes sure of it anyway); a product's summary stops at zero.

    On PostgreSQL one statement written once, whatever the rows (their ids and deltas as two
    arrays): the ORM built its UPDATE (a CASE on the primary key for several rows) anew on
    every order, which cost more than running it. Elsewhere the ORM's UPDATE."""
    using = router.db_for_write(model)
    if connections[using].vendor != "postgresql":
        rows = model.objects.filter(pk__in=list(deltas))
        added = F("stock") + _per_variant(deltas)
        if model is Product:
            return rows.update(stock=Greatest(added, Value(0)))
        return rows.filter(stock__gte=_per_variant({pk: -d for pk, d in deltas.items()})).update(
            stock=added
        )
    with connections[using].cursor() as cursor:
        cursor.execute(_add_stock_sql(using, model), [list(deltas), list(deltas.values())])
        return cursor.rowcount


@once
def _add_stock_sql(using: str, model: type[Variant] | type[Product]) -> str:
    """The UPDATE of _add_stock(): the model's own table and columns, every value a
    parameter (the ids, then the deltas, as arrays)."""
    table, pk, stock = quoted(using, model, "id", "stock")
    if model is Product:
        new, condition = f"GREATEST({table}.{stock} + moved.delta, 0)", ""
    else:
        new = f"{table}.{stock} + moved.delta"
        condition = f" AND {new} >= 0"
    return (
        f"UPDATE {table} SET {stock} = {new} "  # noqa: S608 # nosec B608
        "FROM unnest(%s::bigint[], %s::integer[]) AS moved(id, delta) "
        f"WHERE {table}.{pk} = moved.id{condition}"
    )


def _per_variant(values: dict[int, int]) -> Case | Value:
    """Each row's value in an UPDATE of exactly the rows of `values` (primary key -> value):
    a CASE on the primary key, or the value itself for one row (most orders move one
    variant of one product, and building the CASE cost the ORM more than running it)."""
    if len(values) == 1:
        return Value(next(iter(values.values())))
    return Case(
        *(When(pk=pk, then=Value(value)) for pk, value in values.items()),
        default=Value(0),
        output_field=IntegerField(),
    )


def _move(
    *,
    locked: dict[int, Variant],
    deltas: dict[int, int],
    reason: str,
    reference: str = "",
    note: str = "",
    actor=None,
) -> list[StockMovement]:
    """Apply signed `deltas` to variants already locked and checked by the caller: one
    conditional UPDATE, one movement per variant, the products' stock summary, the cache."""
    moving = {pk: delta for pk, delta in deltas.items() if delta}
    # Every row moves under the lock; the database makes sure no stock goes below zero anyway,
    # and a row it refused would never sell what is not there.
    if moving and _add_stock(Variant, moving) != len(moving):
        raise InsufficientStock(short={pk: locked[pk].stock for pk in moving})
    actor = _user(actor)
    movements = prepared.create_all(
        [
            StockMovement(
                variant_id=pk,
                quantity=delta,
                stock_after=locked[pk].stock + delta,
                reason=reason,
                reference=reference[:64],
                note=note[:255],
                actor=actor,
            )
            for pk, delta in sorted(deltas.items())
        ]
    )
    products = _move_product_stock(locked=locked, deltas=moving)
    _invalidate(locked=locked, deltas=moving, products=products)
    # A variant selling out or coming back changes what the "in stock" filter and facet
    # counts see: its product's facet rows follow, in this transaction.
    crossed = {
        locked[pk].product_id
        for pk, delta in moving.items()
        if (locked[pk].stock > 0) != (locked[pk].stock + delta > 0)
    }
    for pk, delta in moving.items():
        locked[pk].stock += delta
    if crossed:
        from catalog.services import refresh_product_facets  # services re-exports this module

        refresh_product_facets(product_ids=crossed)
    return movements


def _move_product_stock(
    *, locked: dict[int, Variant], deltas: dict[int, int]
) -> dict[int, tuple[int, int]]:
    """Move each product's `stock` (units over its active variants) by its variants' deltas;
    returns product id -> (stock before, stock after).

    By a delta under the product rows' locks rather than recomputed from the variants: two
    checkouts of different variants of one product then add up, where a recomputation
    could read the variants before the other one committed.
    """
    per_product: dict[int, int] = defaultdict(int)
    for pk, delta in deltas.items():
        if locked[pk].is_active:
            per_product[locked[pk].product_id] += delta
    per_product = {pk: delta for pk, delta in per_product.items() if delta}
    if not per_product:
        return {}
    before = locks.product_stock_for_update(ids=per_product)
    _add_stock(Product, {pk: per_product[pk] for pk in before})
    return {pk: (stock, max(stock + per_product[pk], 0)) for pk, stock in before.items()}


def _invalidate(
    *, locked: dict[int, Variant], deltas: dict[int, int], products: dict[int, tuple[int, int]]
) -> None:
    """Bump the cache versions of what shows a changed stock label (on commit).

    A product page shows each active variant's label ("Sold out", "Only 3 left", "In stock")
    in holes of its own (cache.stock_scope): a label that changes on the same side of zero
    ("Only 3 left" to "Only 2 left", most sales of the last units) moves only those. Whether
    a variant is in stock at all is in the page itself (its default variant, options marked
    sold out, the button, the structured data): a variant selling out or coming back moves
    the product's version. Cards, listings (their "in stock" filter), the home page and
    related products show only whether the product is in stock at all.
    """
    relabelled, crossed = set(), set()
    for pk, delta in deltas.items():
        variant = locked[pk]
        if variant.is_active and stock_label(variant.stock) != stock_label(variant.stock + delta):
            relabelled.add(variant.product_id)
            if (variant.stock > 0) != (variant.stock + delta > 0):
                crossed.add(variant.product_id)
    flipped = {pk for pk, (old, new) in products.items() if (old > 0) != (new > 0)}
    if flipped:
        paths = (
            Category.objects.filter(products__pk__in=flipped).distinct().values_list("path", "pk")
        )
        cache.products_changed(
            product_ids=flipped,
            category_paths=[f"{path}{pk}/" for path, pk in paths],
            stock_only=True,
        )
    cache.bump(
        [cache.product_scope(pk) for pk in crossed - flipped]
        + [cache.stock_scope(pk) for pk in relabelled - crossed]
    )
