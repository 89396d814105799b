"""The listing index alone (catalog.facets), without HTTP or templates: how long a worker
takes to load it, how much memory it holds, and the CPU time of each of the 1,000 filter
combinations bench/filters.py asks (count, every facet and the page's ids).

CPU time (time.process_time) rather than the clock: on a machine shared with other work the
clock measures the neighbours too.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench100k \\
        .venv/bin/python bench/listing_index.py

Figures go to bench/results/listing-index-<products>.md.
"""

import datetime
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.http import QueryDict  # noqa: E402

from bench.filters import combinations  # noqa: E402
from catalog import facets, selectors  # noqa: E402
from catalog.forms import ListingForm  # noqa: E402
from catalog.models import Product  # noqa: E402


def question_of(url: str) -> facets.Question:
    """The Question the listing at `url` asks (as catalog.views and selectors.listing do)."""
    path, _, query = url.partition("?")
    tree = selectors.category_tree()
    slug = path.strip("/").split("/")[-1] if path.startswith("/c/") else None
    category_ids = tree.subtree_ids(tree.by_slug[slug]) if slug else tree.active_ids
    types = [choices.option_type.slug for choices in selectors.option_types()]
    form = ListingForm(QueryDict(query), option_slugs=types)
    form.is_valid()
    filters = form.filters()
    names = selectors.facet_names()
    return facets.Question(
        category_ids=tuple(category_ids),
        brand_ids=names.ids(names.brands, filters.brands) if filters.brands else None,
        tag_ids=names.ids(names.tags, filters.tags) if filters.tags else None,
        options=selectors._option_choices(filters),
        price_min=filters.price_min,
        price_max=filters.price_max,
        in_stock=filters.in_stock,
        sort=form.chosen_sort(default="relevance"),
    )


def main() -> int:
    products = Product.objects.count()
    started, cpu = time.perf_counter(), time.process_time()
    index = facets.current_index()
    load_s, load_cpu = time.perf_counter() - started, time.process_time() - cpu
    # Memory from a second load: tracemalloc slows every allocation, so not the timed one.
    facets.forget()
    tracemalloc.start()
    index = facets.current_index()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    questions = [question_of(url) for url in combinations(1000)]
    times = []
    for question in questions:
        cpu = time.process_time()
        facets._answer(index, question)
        times.append((time.process_time() - cpu) * 1000)
    times.sort()
    percentile = lambda p: times[min(len(times) - 1, int(len(times) * p / 100))]  # noqa: E731
    arrays = len(index.rows.slot)
    lines = [
        f"# The listing index at {products:,} products",
        "",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, `bench/listing_index.py`, "
        f"load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| products in the index | {len(index.products):,} |",
        f"| facet rows | {arrays:,} |",
        f"| load (clock) | {load_s * 1000:,.0f} ms |",
        f"| load (CPU) | {load_cpu * 1000:,.0f} ms |",
        f"| memory held after loading (tracemalloc) | {held / 1e6:,.1f} MB |",
        f"| 1,000 combinations: CPU p50 | {statistics.median(times):.1f} ms |",
        f"| CPU p99 | {percentile(99):.1f} ms |",
        f"| CPU max | {times[-1]:.1f} ms |",
        "",
    ]
    out = BASE_DIR / "bench" / "results" / f"listing-index-{products // 1000}k.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
