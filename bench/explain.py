"""EXPLAIN ANALYZE of the catalog's hot queries, written to bench/results/explain.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench100k \\
        .venv/bin/python bench/explain.py

Run it on a large demo catalog (`manage.py seed_demo --products 100000`) after
`VACUUM ANALYZE`: what to look for is index scans, and no sequential scan over products.
"""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from catalog import selectors  # noqa: E402
from catalog.models import Product  # noqa: E402


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    tree = selectors.category_tree()
    category = tree.roots[1] if len(tree.roots) > 1 else tree.roots[0]
    in_category = selectors.products_in_category(category, tree)
    found, order = selectors.search_products("wireless headphones")
    queries = {
        f"Category '{category.name}', newest first, first page": in_category.order_by(
            *selectors.SORTS["newest"]
        )[:24],
        # As selectors.listing() asks for a page: its ids first, then their cards.
        f"Category '{category.name}', cheapest first, page 40": in_category.filter(
            pk__in=in_category.order_by(*selectors.SORTS["price"]).values("pk")[936:960]
        ).order_by(*selectors.SORTS["price"]),
        f"Category '{category.name}', count": in_category.order_by().values("pk"),
        "Search 'wireless headphones', by rank": found.order_by(*order)[:24],
        "Product page by slug": Product.objects.published().filter(slug="demo-000010"),
    }
    lines = [
        "# EXPLAIN of the hot catalog queries",
        "",
        f"{Product.objects.count():,} products. Produced by `bench/explain.py`.",
        "",
    ]
    for title, queryset in queries.items():
        lines += [f"## {title}", "", "```", explain(queryset), "```", ""]
    out = BASE_DIR / "bench" / "results" / "explain.md"
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    main()
