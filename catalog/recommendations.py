"""The products shown beside a product and a cart, precomputed into ProductRecommendation.

The catalog does not know orders: the app that does (orders.services.rebuild_recommendations)
hands replace_recommendations() the products bought together, best first, and the catalog
fills the rest of each product's rows with similar products, in one set-based statement.
Pages read the rows (catalog.selectors) and leave out what is unpublished or sold out then.
"""

from collections.abc import Iterable
from itertools import groupby

from django.db import connection, transaction

from catalog import cache, locks
from catalog.models import Category, Product, ProductRecommendation, RecommendationKind

#: Products a page shows beside a product or a cart.
SHOWN = 8
#: Rows kept per product: twice what a page shows, so that products selling out between two
#: nightly rebuilds still leave the section full.
KEPT = 2 * SHOWN
#: Points of likeness of a similar product: the same category, each tag shared, the same
#: brand, a price within 30 % (either way). The category weighs most: it is what the
#: shopper came to; two shared tags outweigh the brand alone.
SIMILARITY_POINTS = {"category": 4, "tag": 2, "brand": 2, "price": 1}
PRICE_BAND = 0.3
#: The candidates of a product are the best sellers (in stock first) of its category, of
#: its brand and of each of its tags, this many of each: the work stays linear in the number
#: of products (a whole category of 40,000 products is never compared with itself).
POOL = 24
BATCH = 2000


@transaction.atomic
def replace_recommendations(*, bought_together: Iterable[tuple[int, int, float]]) -> int:
    """Replace every product's recommendations; returns the number of rows.

    `bought_together` yields (product id, recommended product id, score) with each product's
    rows together and best first, as the orders app ranks them (it may be a stream: rows are
    written in batches of BATCH, never all held at once). Similar products fill each
    product's rows up to KEPT. Readers see the old rows until the new ones commit; two
    rebuilds queue on the table's lock. Cached pages that show them are invalidated on commit.
    """
    locks.recommendations_for_rebuild()
    ProductRecommendation.objects.all().delete()
    batch: list[ProductRecommendation] = []
    for product_id, rows in groupby(bought_together, key=lambda row: row[0]):
        for rank, (_product_id, recommended_id, score) in enumerate(rows, start=1):
            if rank > KEPT:
                break
            batch.append(
                ProductRecommendation(
                    product_id=product_id,
                    recommended_id=recommended_id,
                    kind=RecommendationKind.BOUGHT_TOGETHER,
                    score=score,
                    rank=rank,
                )
            )
        if len(batch) >= BATCH:
            ProductRecommendation.objects.bulk_create(batch)
            batch = []
    ProductRecommendation.objects.bulk_create(batch)
    _add_similar_products()
    cache.bump([cache.CATALOG])
    return ProductRecommendation.objects.count()


def _add_similar_products() -> None:
    """After each product's bought-together rows, its most similar products, up to KEPT.

    Written by hand in SQL (PostgreSQL and SQLite alike): a product against its candidates
    is a self-join that the ORM would express as a query per product.
    """
    tables = {
        "product": Product._meta.db_table,
        "category": Category._meta.db_table,
        "tags": Product.tags.through._meta.db_table,
        "recommendation": ProductRecommendation._meta.db_table,
    }
    params = {
        "yes": True,
        "pool": POOL,
        "kept": KEPT,
        "low": 1 - PRICE_BAND,
        "high": 1 + PRICE_BAND,
        "kind": RecommendationKind.SIMILAR.value,
        **SIMILARITY_POINTS,
    }
    with connection.cursor() as cursor:
        cursor.execute(_SIMILAR_SQL.format(**tables), params)


_SIMILAR_SQL = """
WITH listed AS (
    SELECT p.id, p.category_id, p.brand_id, p.price, p.sold_count,
           CASE WHEN p.stock > 0 THEN 1 ELSE 0 END AS in_stock
    FROM {product} p JOIN {category} c ON c.id = p.category_id
    WHERE p.is_published = %(yes)s AND c.is_active = %(yes)s
),
placed AS (
    SELECT id, category_id, brand_id,
           row_number() OVER (PARTITION BY category_id
                              ORDER BY in_stock DESC, sold_count DESC, id DESC) AS in_category,
           row_number() OVER (PARTITION BY brand_id
                              ORDER BY in_stock DESC, sold_count DESC, id DESC) AS in_brand
    FROM listed
),
tagged AS (
    SELECT t.tag_id, t.product_id,
           row_number() OVER (PARTITION BY t.tag_id
                              ORDER BY l.in_stock DESC, l.sold_count DESC, l.id DESC) AS in_tag
    FROM {tags} t JOIN listed l ON l.id = t.product_id
),
candidates AS (
    SELECT l.id AS product_id, p.id AS recommended_id
    FROM listed l JOIN placed p ON p.category_id = l.category_id AND p.in_category <= %(pool)s
    UNION
    SELECT l.id, p.id
    FROM listed l JOIN placed p ON p.brand_id = l.brand_id AND p.in_brand <= %(pool)s
    UNION
    SELECT mine.product_id, theirs.product_id
    FROM tagged mine JOIN tagged theirs
      ON theirs.tag_id = mine.tag_id AND theirs.in_tag <= %(pool)s
),
taken AS (
    SELECT product_id, MAX(rank) AS n FROM {recommendation} GROUP BY product_id
),
scored AS (
    SELECT c.product_id, c.recommended_id, r.in_stock, r.sold_count,
           CASE WHEN r.category_id = p.category_id THEN %(category)s ELSE 0 END
           + %(tag)s * (SELECT COUNT(*) FROM {tags} a JOIN {tags} b ON b.tag_id = a.tag_id
                        WHERE a.product_id = c.product_id AND b.product_id = c.recommended_id)
           + CASE WHEN r.brand_id = p.brand_id THEN %(brand)s ELSE 0 END
           + CASE WHEN r.price BETWEEN p.price * %(low)s AND p.price * %(high)s
                  THEN %(price)s ELSE 0 END AS score
    FROM candidates c
    JOIN listed p ON p.id = c.product_id
    JOIN listed r ON r.id = c.recommended_id
    WHERE c.recommended_id <> c.product_id
      AND NOT EXISTS (SELECT 1 FROM {recommendation} b
                      WHERE b.product_id = c.product_id AND b.recommended_id = c.recommended_id)
),
ranked AS (
    SELECT s.product_id, s.recommended_id, s.score,
           COALESCE(t.n, 0) + row_number() OVER (
               PARTITION BY s.product_id
               ORDER BY s.score DESC, s.in_stock DESC, s.sold_count DESC, s.recommended_id DESC
           ) AS rank
    FROM scored s LEFT JOIN taken t ON t.product_id = s.product_id
)
INSERT INTO {recommendation} (product_id, recommended_id, kind, score, rank)
SELECT product_id, recommended_id, %(kind)s, score, rank FROM ranked WHERE rank <= %(kept)s
"""
