"""The facet rows of products (catalog.models.ProductOption), computed from their variants.

Plain data in, plain data out, no models: catalog.services.refresh_product_facets() calls it.
"""

from collections.abc import Iterable
from dataclasses import dataclass

#: Variants of a product that one facet row can describe: one bit each in a signed 64-bit
#: integer (PostgreSQL's and SQLite's largest). A product with more active variants has more
#: rows per option value, one per block ("chunk") of this many variants.
VARIANTS_PER_CHUNK = 63


@dataclass(frozen=True)
class FacetRow:
    product_id: int
    option_value_id: int
    option_type_id: int
    chunk: int
    variants: int
    in_stock_variants: int
    spans_chunks: bool


def facet_rows(
    *,
    product_ids: Iterable[int],
    variants: Iterable[tuple[int, int, int]],
    links: Iterable[tuple[int, int, int]],
) -> list[FacetRow]:
    """Rows for the products `product_ids` (the published ones), from their active
    `variants` (id, product id, stock) and the option `links` of those variants (variant id,
    option value id, option type id).

    A variant's slot is its place among its product's active variants by primary key; bit
    `slot % 63` of chunk `slot // 63`.
    """
    published = set(product_ids)
    slots: dict[int, tuple[int, int, bool]] = {}  # variant -> (product, slot, in stock)
    next_slot: dict[int, int] = {}
    for variant_id, product_id, stock in sorted(variants, key=lambda v: (v[1], v[0])):
        if product_id not in published:
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
    return [
        FacetRow(
            product_id=product_id,
            option_value_id=value_id,
            option_type_id=types[value_id],
            chunk=chunk,
            variants=variant_mask,
            in_stock_variants=stock_mask,
            spans_chunks=next_slot[product_id] > VARIANTS_PER_CHUNK,
        )
        for (product_id, value_id, chunk), (variant_mask, stock_mask) in sorted(masks.items())
    ]
