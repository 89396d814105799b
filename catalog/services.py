"""Writes to the catalog that span rows: the category tree, product summaries, search, images.

Stock is written only by catalog.stock (movements); its functions are re-exported here.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Min,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import cache, facets, locks
from catalog.facet_rows import facet_rows
from catalog.images import make_thumbnails
from catalog.models import (
    Category,
    Product,
    ProductChange,
    ProductImage,
    ProductOption,
    SearchTerm,
    StockMovement,
    Variant,
    WishlistItem,
)

# Recommendations are written only by catalog.recommendations; other apps call it from here.
from catalog.recommendations import replace_recommendations  # noqa: F401 (re-exported)

# Stock moves only through catalog.stock; other apps call these from here.
from catalog.stock import (  # noqa: F401 (re-exported)
    InsufficientStock,
    StockChangedSinceLoaded,
    StockError,
    StockWouldGoNegative,
    adjust_stock,
    adjust_stocks,
    count_stock,
    count_stocks,
    record_opening_stock,
    record_sales,
    return_stock,
    take_locked_stock,
    take_stock,
)
from shop.money import format_money, quantize

#: PostgreSQL text search configuration: stems English words ("shirts" finds "shirt").
SEARCH_CONFIG = "english"
_WORD = re.compile(r"\w{3,40}", re.UNICODE)


class CategoryCycle(ValueError):
    """A category cannot be placed below itself."""


def options_changed() -> None:
    """An option type or value was added, renamed or translated: every listing's filters
    and every product page may name it."""
    scopes = [cache.category_scope(pk) for pk in Category.objects.values_list("pk", flat=True)]
    cache.bump([cache.CATALOG, *scopes])


@transaction.atomic
def save_category(*, category: Category) -> Category:
    """Save a category and keep the materialised paths of it and its subtree right."""
    old_subtree = None
    if category.pk:
        old_subtree = Category.objects.select_for_update().get(pk=category.pk).subtree_path
    parent = Category.objects.get(pk=category.parent_id) if category.parent_id else None
    check_category_parent(category=category, parent=parent)
    category.path = parent.subtree_path if parent else "/"
    category.save()
    if old_subtree and old_subtree != category.subtree_path:
        _move_subtree(old_prefix=old_subtree, new_prefix=category.subtree_path)
    cache.categories_changed(category_ids=Category.objects.values_list("pk", flat=True))
    return category


def _move_subtree(*, old_prefix: str, new_prefix: str) -> None:
    descendants = Category.objects.filter(path__startswith=old_prefix).only("pk", "path")
    moved = [
        Category(pk=row.pk, path=new_prefix + row.path[len(old_prefix) :]) for row in descendants
    ]
    Category.objects.bulk_update(moved, ["path"], batch_size=500)


@transaction.atomic
def refresh_products(*, product_ids: Iterable[int]) -> None:
    """Recompute what listings read from a product row after its variants, brand or tags
    changed: lowest price, its compare-at price, total stock and the search document.
    Then invalidate the pages that show these products.
    """
    product_ids = list(product_ids)
    if not product_ids:
        return
    cheapest = Variant.objects.active().filter(product=OuterRef("pk")).order_by("price", "pk")
    Product.objects.filter(pk__in=product_ids).update(
        price=Coalesce(Subquery(cheapest.values("price")[:1]), Value(0)),
        compare_at_price=Subquery(cheapest.values("compare_at_price")[:1]),
        stock=Coalesce(
            Subquery(
                Variant.objects.active()
                .filter(product=OuterRef("pk"))
                .values("product")
                .annotate(total=Sum("stock"))
                .values("total")
            ),
            Value(0),
        ),
    )
    _refresh_facets(product_ids)  # invalidate_products() notes them for the listing index
    _refresh_search_documents(product_ids)
    _add_search_terms(product_ids)
    invalidate_products(product_ids=product_ids)


#: Products whose facet rows are rebuilt per statement batch (bulk tools pass more).
FACET_CHUNK = 2000


@transaction.atomic
def refresh_product_facets(*, product_ids: Iterable[int]) -> None:
    """Rebuild the facet rows (ProductOption) of these products from their variants, and
    note them in the listing index's journal.

    Call after any change to what listings filter on: variants added, removed, activated or
    deactivated, their option values, their stock crossing zero, the product's publication.
    refresh_products() and set_published() do the same (their invalidate_products() notes
    them); it reads and writes a few rows per product, so the catalog's services call it for
    the products they touch, and `manage.py rebuild_facets` for all.
    """
    product_ids = _refresh_facets(product_ids)
    facets.note_changes(product_ids=product_ids)


def _refresh_facets(product_ids: Iterable[int]) -> list[int]:
    product_ids = sorted(set(product_ids))
    for start in range(0, len(product_ids), FACET_CHUNK):
        _refresh_facet_chunk(product_ids[start : start + FACET_CHUNK])
    return product_ids


def _refresh_facet_chunk(product_ids: list[int]) -> None:
    published = Product.objects.filter(pk__in=product_ids, is_published=True)
    variants = Variant.objects.filter(product_id__in=product_ids, is_active=True).values_list(
        "pk", "product_id", "stock"
    )
    links = Variant.option_values.through.objects.filter(
        variant__product_id__in=product_ids, variant__is_active=True
    ).values_list("variant_id", "optionvalue_id", "optionvalue__option_type_id")
    rows = facet_rows(
        product_ids=published.values_list("pk", flat=True), variants=variants, links=links
    )
    ProductOption.objects.filter(product_id__in=product_ids).delete()
    ProductOption.objects.bulk_create([ProductOption(**vars(row)) for row in rows], batch_size=5000)


@transaction.atomic
def rebuild_product_facets() -> int:
    """Rebuild every product's facet rows; returns the number of rows."""
    ProductOption.objects.all().delete()
    ids = list(Product.objects.filter(is_published=True).values_list("pk", flat=True))
    for start in range(0, len(ids), FACET_CHUNK):
        _refresh_facet_chunk(locks.products_for_update(ids=ids[start : start + FACET_CHUNK]))
    facets.note_changes(product_ids=None)
    return ProductOption.objects.count()


def invalidate_products(*, product_ids: Iterable[int]) -> None:
    """Invalidate the cached pages that show these products (after any change to them)."""
    product_ids = list(product_ids)
    facets.note_changes(product_ids=product_ids)
    paths = (
        Category.objects.filter(products__pk__in=product_ids).distinct().values_list("path", "pk")
    )
    cache.products_changed(
        product_ids=product_ids, category_paths=[f"{path}{pk}/" for path, pk in paths]
    )


#: Tags are found by their names in every language (catalog/translation.py). A document
#: that did not change is not written again (a stock or price change refreshes products too).
_SEARCH_DOCUMENT_SQL = """
INSERT INTO catalog_searchdocument (product_id, document)
SELECT p.id,
    setweight(to_tsvector(%(config)s::regconfig, coalesce(p.name, '')), 'A')
    || setweight(to_tsvector(%(config)s::regconfig, coalesce(
        (SELECT b.name FROM catalog_brand b WHERE b.id = p.brand_id), '')), 'B')
    || setweight(to_tsvector(%(config)s::regconfig, coalesce(
        (SELECT string_agg(concat_ws(' ', t.name_en, t.name_zh_hans), ' ')
         FROM catalog_product_tags pt
         JOIN catalog_tag t ON t.id = pt.tag_id WHERE pt.product_id = p.id), '')), 'B')
    || setweight(to_tsvector(%(config)s::regconfig, coalesce(p.description, '')), 'C')
FROM catalog_product AS p
WHERE p.id = ANY(%(ids)s)
ON CONFLICT (product_id) DO UPDATE SET document = EXCLUDED.document
    WHERE catalog_searchdocument.document IS DISTINCT FROM EXCLUDED.document
"""


def _refresh_search_documents(product_ids: list[int]) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite searches by substring and needs no document.
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_DOCUMENT_SQL, {"config": SEARCH_CONFIG, "ids": product_ids})


def words_of(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text) if not word.isdigit()}


def _search_term_counts(product_ids: list[int] | None = None) -> Counter:
    """Word -> how many of these products (None: all) name it in their name, brand or
    category."""
    rows = Product.objects.order_by()
    if product_ids is not None:
        rows = rows.filter(pk__in=product_ids)
    counts: Counter = Counter()
    for row in rows.values_list("name", "brand__name", "category__name").iterator(2000):
        counts.update(set().union(*(words_of(text or "") for text in row)))
    return counts


def _add_search_terms(product_ids: list[int]) -> None:
    """New words of these products, counted among them (recount_search_terms() makes every
    count exact)."""
    counts = _search_term_counts(product_ids)
    if counts:
        SearchTerm.objects.bulk_create(
            [SearchTerm(word=word, product_count=n) for word, n in sorted(counts.items())],
            ignore_conflicts=True,
            batch_size=1000,
        )


@transaction.atomic
def recount_search_terms() -> int:
    """Make the "did you mean" words exactly the catalog's, each with its product count;
    returns the number of words. Scheduled daily (one read of every product's names)."""
    counts = _search_term_counts()
    SearchTerm.objects.exclude(word__in=list(counts)).delete()
    terms = list(SearchTerm.objects.all())
    for term in terms:
        term.product_count = counts.pop(term.word)
    SearchTerm.objects.bulk_update(terms, ["product_count"], batch_size=1000)
    SearchTerm.objects.bulk_create(
        [SearchTerm(word=word, product_count=n) for word, n in sorted(counts.items())],
        batch_size=1000,
    )
    cache.bump([cache.CATALOG])
    return len(terms) + len(counts)


@transaction.atomic
def rebuild_search_index() -> int:
    """Recompute every product's search document and the "did you mean" words."""
    ids = list(Product.objects.values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        _refresh_search_documents(ids[start : start + 2000])
    recount_search_terms()
    return len(ids)


@transaction.atomic
def save_product_image(*, image: ProductImage, new_file: bool) -> ProductImage:
    """Save a product image; for a new file, make its thumbnails once, here, not per request."""
    image.save()
    if new_file:
        image.thumbnails = make_thumbnails(image.image)
        image.save(update_fields=["thumbnails"])
    invalidate_products(product_ids=[image.product_id])
    return image


@transaction.atomic
def add_to_wishlist(*, user, product: Product) -> WishlistItem:
    item, _created = WishlistItem.objects.get_or_create(user=user, product=product)
    return item


@transaction.atomic
def remove_from_wishlist(*, user, product_id: int) -> bool:
    # product__pk, not product_id: an id past 64 bits then matches nothing on SQLite too
    # (the raw column lookup overflowed there: a 500).
    deleted, _rows = WishlistItem.objects.filter(user=user, product__pk=product_id).delete()
    return bool(deleted)


# --- The merchant's bulk tools (admin actions, CSV import) ------------------------------


@transaction.atomic
def set_published(*, product_ids: Iterable[int], published: bool) -> int:
    """Publish or unpublish products in one UPDATE; returns how many rows changed."""
    # Locked first: the facet rows of a product are rewritten by one transaction at a time
    # (take_stock's refresh_products() waits on the same row locks).
    product_ids = locks.products_for_update(ids=product_ids)
    changed = _set_flag(product_ids=product_ids, field="is_published", value=published)
    _refresh_facets(product_ids)  # _set_flag()'s invalidate_products() notes the changed ones
    return changed


@transaction.atomic
def set_featured(*, product_ids: Iterable[int], featured: bool) -> int:
    """Feature or unfeature products in one UPDATE; returns how many rows changed."""
    return _set_flag(product_ids=product_ids, field="is_featured", value=featured)


def _set_flag(*, product_ids: Iterable[int], field: str, value: bool) -> int:
    # Only rows that actually change are touched, so `updated_at` and the cache versions of
    # products already in that state stay as they are.
    changing = list(
        Product.objects.filter(pk__in=list(product_ids))
        .exclude(**{field: value})
        .values_list("pk", flat=True)
    )
    if not changing:
        return 0
    updated = Product.objects.filter(pk__in=changing).update(
        **{field: value, "updated_at": timezone.now()}
    )
    invalidate_products(product_ids=changing)
    return updated


@transaction.atomic
def delete_products(*, product_ids: Iterable[int]) -> int:
    """Delete products and invalidate the pages that showed them (their categories' too)."""
    product_ids = list(product_ids)
    paths = list(
        Category.objects.filter(products__pk__in=product_ids).distinct().values_list("path", "pk")
    )
    deleted, _rows = Product.objects.filter(pk__in=product_ids).delete()
    cache.products_changed(
        product_ids=product_ids, category_paths=[f"{path}{pk}/" for path, pk in paths]
    )
    return deleted


def check_category_parent(*, category: Category, parent: Category | None) -> None:
    """Raise CategoryCycle if `parent` is `category` itself or one of its descendants.

    The same rule save_category() enforces, asked before saving so that a form can show it.
    """
    if parent is None or category.pk is None:
        return
    old_subtree = Category.objects.values_list("path", flat=True).get(pk=category.pk)
    old_subtree = f"{old_subtree}{category.pk}/"
    parent_path = Category.objects.values_list("path", flat=True).get(pk=parent.pk)
    if parent.pk == category.pk or parent_path.startswith(old_subtree):
        raise CategoryCycle(_("A category cannot be placed inside itself or its subcategories."))


# --- Sale prices (kept by the promotions app) -------------------------------------------


@transaction.atomic
def set_sale_prices(*, variant_prices: dict[int, Decimal | None]) -> int:
    """Set variants' sale prices (None: no sale) and their products' lowest sale price,
    then invalidate the pages showing them. The promotions app decides the prices (its
    sync_sale_prices()); the catalog only stores and shows them. Returns the number of
    products touched.
    """
    if not variant_prices:
        return 0
    Variant.objects.bulk_update(
        [Variant(pk=pk, sale_price=price) for pk, price in variant_prices.items()],
        ["sale_price"],
        batch_size=500,
    )
    product_ids = list(
        Variant.objects.filter(pk__in=list(variant_prices))
        .values_list("product_id", flat=True)
        .distinct()
    )
    lowest = (
        Variant.objects.active()
        .filter(product=OuterRef("pk"), sale_price__isnull=False)
        .order_by()
        .values("product")
        .annotate(lowest=Min("sale_price"))
        .values("lowest")
    )
    Product.objects.filter(pk__in=product_ids).update(sale_price=Subquery(lowest))
    invalidate_products(product_ids=product_ids)
    return len(product_ids)


def prune_product_changes(*, keep: timedelta = timedelta(days=1)) -> int:
    """Delete the listing index's journal rows older than `keep` (every worker has read them:
    each rebuilds its index at least hourly); returns how many."""
    deleted, _ = ProductChange.objects.filter(changed_at__lt=timezone.now() - keep).delete()
    return deleted


# --- Bulk edit of variants' prices and stock (the admin's "Edit prices and stock") ------

#: The highest price a variant's column holds (max_digits=12, decimal_places=2).
MAX_PRICE = Decimal("9999999999.99")


@dataclass(frozen=True)
class PriceChange:
    """How to change prices: `set` every price to `value`, change each by `percent` (-10:
    ten percent off), or by an `amount` (+2.50, -1). Results round to the currency's minor
    unit, half up (shop.money)."""

    SET = "set"
    PERCENT = "percent"
    AMOUNT = "amount"

    mode: str
    value: Decimal

    def apply(self, price: Decimal) -> Decimal:
        if self.mode == self.SET:
            return quantize(self.value)
        if self.mode == self.PERCENT:
            return quantize(price * (1 + self.value / 100))
        if self.mode == self.AMOUNT:
            return quantize(price + self.value)
        raise ValueError(f"unknown price change {self.mode!r}")


@dataclass(frozen=True)
class VariantEdit:
    """One row of a bulk edit: a variant's price and stock before and after, and why it
    cannot be done (`problem`, for the page), if it cannot."""

    variant: Variant
    price_before: Decimal
    price_after: Decimal
    stock_before: int
    stock_after: int
    problem: str = ""

    @property
    def price_changes(self) -> bool:
        return self.price_after != self.price_before

    @property
    def stock_changes(self) -> bool:
        return self.stock_after != self.stock_before


class BulkEditRefused(Exception):
    """A bulk edit that would break a rule for some variants (a negative price, stock below
    zero) or whose variants changed since its preview; nothing was written. `problems` are
    sentences for the page."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def plan_variant_edit(
    *, variants: Iterable[Variant], price: PriceChange | None, stock_delta: int
) -> list[VariantEdit]:
    """What a bulk edit would do to each variant, from the rows given; writes nothing. The
    confirmation page shows it, and edit_variants() checks it again under the row locks."""
    rows = []
    for variant in variants:
        price_after = price.apply(variant.price) if price else variant.price
        stock_after = variant.stock + stock_delta
        problem = ""
        if price_after < 0:
            problem = _("%(sku)s: the price would be %(price)s; a price cannot be negative.") % {
                "sku": variant.sku,
                "price": format_money(price_after),
            }
        elif price_after > MAX_PRICE:
            problem = _("%(sku)s: the price would be %(price)s, more than the shop can store.") % {
                "sku": variant.sku,
                "price": format_money(price_after),
            }
        elif stock_after < 0:
            problem = _(
                "%(sku)s has %(stock)d in stock: removing %(units)d would take it below zero."
            ) % {"sku": variant.sku, "stock": variant.stock, "units": -stock_delta}
        rows.append(
            VariantEdit(
                variant=variant,
                price_before=variant.price,
                price_after=price_after,
                stock_before=variant.stock,
                stock_after=stock_after,
                problem=problem,
            )
        )
    return rows


@transaction.atomic
def edit_variants(
    *,
    variant_ids: Iterable[int],
    price: PriceChange | None,
    stock_delta: int = 0,
    reason: str = StockMovement.Reason.CORRECTION,
    note: str = "",
    actor=None,
    expected_prices: dict[int, Decimal] | None = None,
) -> list[VariantEdit]:
    """Change the prices and adjust the stock of many variants, all or nothing.

    Locks the variants (primary-key order), plans again from the locked rows and refuses
    with BulkEditRefused, writing nothing, if any row has a problem, a variant is gone, or
    (for a price change given `expected_prices`, the prices the merchant's preview showed) a
    price moved since the preview: a percentage or amount would apply to another figure.
    Stock moves only as movements (catalog.stock, one per variant with
    `reason` and `note`); prices change by one UPDATE of the changed rows, then the
    products' summaries, facet rows, search documents and cached pages follow
    (refresh_products()). Returns the rows as done.
    """
    variant_ids = sorted(set(variant_ids))
    locked = locks.variants_for_update(ids=variant_ids)
    problems = []
    if len(locked) != len(variant_ids):
        problems.append(_("Some of the chosen variants were deleted meanwhile."))
    if price is not None and expected_prices is not None:
        moved = [
            variant.sku
            for pk, variant in locked.items()
            if pk not in expected_prices or expected_prices[pk] != variant.price
        ]
        if moved:
            problems.append(
                _(
                    "The price of %(skus)s changed since the preview; check the new "
                    "figures and apply again."
                )
                % {"skus": ", ".join(moved)}
            )
    rows = plan_variant_edit(variants=locked.values(), price=price, stock_delta=stock_delta)
    problems += [row.problem for row in rows if row.problem]
    if problems:
        raise BulkEditRefused(problems)
    if stock_delta:
        adjust_stocks(
            deltas={row.variant.pk: stock_delta for row in rows},
            reason=reason,
            actor=actor,
            note=note,
        )
    repriced = [row for row in rows if row.price_changes]
    if repriced:
        Variant.objects.bulk_update(
            [Variant(pk=row.variant.pk, price=row.price_after) for row in repriced],
            ["price"],
            batch_size=500,
        )
        refresh_products(product_ids={row.variant.product_id for row in repriced})
    return rows
