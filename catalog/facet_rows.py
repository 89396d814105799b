"""The facet rows of products (catalog.models.ProductOption), computed from their variants.

Plain data in, plain data out, no models: catalog.services.refresh_product_facets() and the
migration that introduced the rows both call it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

#: Variants of a product that one facet row can describe: one bit each in a signed 64-bit
#: integer (PostgreSQL's and SQLite's largest). A product with more active variants has more
#: rows per option value, one per block ("chunk") of this many variants.
VARIANTS_PER_CHUNK = 63


@dataclass(frozen=True)
class FacetRow:
    product_id: int
    option_value_id: int
    option_type_id: int
    category_id: int
    brand_id: int | None
    price: Decimal
    chunk: int
    variants: int
    in_stock_variants: int
    is_first: bool
    is_first_in_stock: bool
    spans_chunks: bool


@dataclass(frozen=True)
class PairRow:
    product_id: int
    option_value_id: int
    partner_id: int
    category_id: int
    brand_id: int | None
    price: Decimal
    in_stock: bool


def facet_pairs(
    *,
    products: Iterable[tuple[int, int, int | None, Decimal]],
    variants: Iterable[tuple[int, int, int]],
    links: Iterable[tuple[int, int, int]],
) -> list[PairRow]:
    """One row per product and ordered pair of option values of different types that one
    of its active variants offers together (red with M, and M with red), in stock when one
    such variant is. Same arguments as facet_rows()."""
    product_info = {pk: (category, brand, price) for pk, category, brand, price in products}
    stock = {
        pk: (product_id, n > 0) for pk, product_id, n in variants if product_id in product_info
    }
    values: dict[int, list[tuple[int, int]]] = {}
    for variant_id, value_id, type_id in links:
        if variant_id in stock:
            values.setdefault(variant_id, []).append((value_id, type_id))
    pairs: dict[tuple[int, int, int], bool] = {}
    for variant_id, offered in values.items():
        product_id, in_stock = stock[variant_id]
        for value, value_type in offered:
            for partner, partner_type in offered:
                if partner_type != value_type:
                    key = (product_id, value, partner)
                    pairs[key] = pairs.get(key, False) or in_stock
    rows = []
    for (product_id, value, partner), in_stock in sorted(pairs.items()):
        category, brand, price = product_info[product_id]
        rows.append(PairRow(product_id, value, partner, category, brand, price, in_stock))
    return rows


def facet_rows(
    *,
    products: Iterable[tuple[int, int, int | None, Decimal]],
    variants: Iterable[tuple[int, int, int]],
    links: Iterable[tuple[int, int, int]],
) -> list[FacetRow]:
    """Rows for `products` (id, category id, brand id, price: the published ones), from
    their active `variants` (id, product id, stock) and the option `links` of those variants
    (variant id, option value id, option type id).

    A variant's slot is its place among its product's active variants by primary key; bit
    `slot % 63` of chunk `slot // 63`.
    """
    product_info = {pk: (category, brand, price) for pk, category, brand, price in products}
    slots: dict[int, tuple[int, int, bool]] = {}  # variant -> (product, slot, in stock)
    next_slot: dict[int, int] = {}
    for variant_id, product_id, stock in sorted(variants, key=lambda v: (v[1], v[0])):
        if product_id not in product_info:
            continue
        slot = next_slot.get(product_id, 0)
        next_slot[product_id] = slot + 1
        slots[variant_id] = (product_id, slot, stock > 0)
    masks: dict[tuple[int, int, int], list[int]] = {}  # (product, value, chunk) -> masks
    types: dict[int, int] = {}
    for variant_id, value_id, type_id in links:
        if variant_id not in slots:
            continue
        product_id, slot, in_stock = slots[variant_id]
        types[value_id] = type_id
        bit = 1 << (slot % VARIANTS_PER_CHUNK)
        mask = masks.setdefault((product_id, value_id, slot // VARIANTS_PER_CHUNK), [0, 0])
        mask[0] |= bit
        if in_stock:
            mask[1] |= bit
    rows = []
    seen: set[tuple[int, int]] = set()
    seen_in_stock: set[tuple[int, int]] = set()
    for (product_id, value_id, chunk), (variant_mask, stock_mask) in sorted(masks.items()):
        category, brand, price = product_info[product_id]
        first = (product_id, value_id) not in seen
        seen.add((product_id, value_id))
        first_in_stock = bool(stock_mask) and (product_id, value_id) not in seen_in_stock
        if stock_mask:
            seen_in_stock.add((product_id, value_id))
        rows.append(
            FacetRow(
                product_id=product_id,
                option_value_id=value_id,
                option_type_id=types[value_id],
                category_id=category,
                brand_id=brand,
                price=price,
                chunk=chunk,
                variants=variant_mask,
                in_stock_variants=stock_mask,
                is_first=first,
                is_first_in_stock=first_in_stock,
                spans_chunks=next_slot[product_id] > VARIANTS_PER_CHUNK,
            )
        )
    return rows
