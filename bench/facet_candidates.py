# ruff: noqa: S608  (the SQL holds only ids read from the database itself)
"""The facet models considered for issue 14, measured with EXPLAIN ANALYZE on one catalog.

Builds the candidates beside the real tables (schema `facet_candidates`, dropped at the
end), asks each the questions a clothing listing asks, and writes the execution times
(median of 3) to bench/results/facet-candidates.md, with the plans of the chosen model.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_facets_bench100k \\
        .venv/bin/python bench/facet_candidates.py

Candidates:
- before: the code before issue 14, a product-level option table and, with two options, an
  EXISTS over variants and their option values per candidate product;
- variant array: one row per active variant, its option value ids in an int[] (GIN index);
- variant value: one row per active variant and option value (normalised), joined per option;
- product value: one row per product and option value with an in-stock flag (no combinations:
  alone it cannot tell "one variant red and M" from "one red, another M");
- chosen: product value rows with a bit per variant (catalog_productoption), combinations by
  AND of masks, and rows of value pairs offered by one variant (catalog_productoptionpair)
  for the common one-other-option question; "chosen, masks" is what three options use.
"""

import os
import statistics
import sys
from pathlib import Path

import psycopg2

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "bench" / "results" / "facet-candidates.md"

BUILD = """
DROP SCHEMA IF EXISTS facet_candidates CASCADE;
CREATE SCHEMA facet_candidates;
CREATE TABLE facet_candidates.variant_array AS
SELECT v.id variant_id, v.product_id, p.category_id, p.brand_id, p.price, (v.stock > 0) in_stock,
  coalesce(array_agg(vo.optionvalue_id::int ORDER BY vo.optionvalue_id)
           FILTER (WHERE vo.optionvalue_id IS NOT NULL), '{}') value_ids
FROM catalog_variant v JOIN catalog_product p ON p.id = v.product_id AND p.is_published
LEFT JOIN catalog_variant_option_values vo ON vo.variant_id = v.id
WHERE v.is_active GROUP BY v.id, p.id;
CREATE INDEX ON facet_candidates.variant_array USING gin (value_ids);
CREATE INDEX ON facet_candidates.variant_array (category_id);
CREATE TABLE facet_candidates.variant_value AS
SELECT a.variant_id, a.product_id, a.category_id, a.brand_id, a.in_stock, x.value_id
FROM facet_candidates.variant_array a CROSS JOIN LATERAL unnest(a.value_ids) x(value_id);
CREATE INDEX ON facet_candidates.variant_value (value_id, category_id)
  INCLUDE (variant_id, product_id, in_stock);
CREATE TABLE facet_candidates.product_value AS
SELECT product_id, category_id, brand_id, value_id, bool_or(in_stock) in_stock
FROM facet_candidates.variant_value GROUP BY 1, 2, 3, 4;
CREATE INDEX ON facet_candidates.product_value (category_id, value_id)
  INCLUDE (product_id, in_stock, brand_id);
ANALYZE facet_candidates.variant_array;
ANALYZE facet_candidates.variant_value;
ANALYZE facet_candidates.product_value;
"""


def questions(ids: dict) -> dict[str, dict[str, str]]:
    cats = ",".join(map(str, ids["clothing"]))
    colours = ",".join(map(str, ids["colour"]))
    sizes = ",".join(map(str, ids["size"]))
    red, m = ids["red"], ids["m"]
    fc = "facet_candidates"
    return {
        "colour facet, no other filter": {
            "before": f"""SELECT o.option_value_id, count(*) FROM catalog_productoption o
                JOIN catalog_product p ON p.id = o.product_id
                WHERE p.is_published AND p.category_id IN ({cats})
                AND o.option_value_id IN ({colours}) GROUP BY 1""",
            "variant array": f"""SELECT x, count(DISTINCT product_id) FROM {fc}.variant_array,
                unnest(value_ids) x WHERE category_id IN ({cats}) AND x IN ({colours})
                GROUP BY x""",
            "variant value": f"""SELECT value_id, count(DISTINCT product_id)
                FROM {fc}.variant_value WHERE category_id IN ({cats})
                AND value_id IN ({colours}) GROUP BY 1""",
            "product value": f"""SELECT value_id, count(*) FROM {fc}.product_value
                WHERE category_id IN ({cats}) AND value_id IN ({colours}) GROUP BY 1""",
            "chosen": f"""SELECT option_value_id, count(*) FROM catalog_productoption x
                WHERE category_id IN ({cats}) AND option_value_id IN ({colours})
                AND is_first GROUP BY 1""",
        },
        "colour facet under size=m": {
            "variant array": f"""SELECT x, count(DISTINCT product_id) FROM {fc}.variant_array,
                unnest(value_ids) x WHERE category_id IN ({cats}) AND value_ids && '{{{m}}}'
                AND x IN ({colours}) GROUP BY x""",
            "chosen": f"""SELECT x.option_value_id, count(*) FROM catalog_productoptionpair x
                WHERE x.partner_id = {m} AND x.category_id IN ({cats})
                AND x.option_value_id IN ({colours}) GROUP BY 1""",
        },
        "size facet under colour=red": {
            "before (wrong: ignores colour)": f"""SELECT o.option_value_id, count(*)
                FROM catalog_productoption o JOIN catalog_product p ON p.id = o.product_id
                WHERE p.is_published AND p.category_id IN ({cats})
                AND o.option_value_id IN ({sizes}) GROUP BY 1""",
            "variant array": f"""SELECT x, count(DISTINCT product_id) FROM {fc}.variant_array,
                unnest(value_ids) x WHERE category_id IN ({cats}) AND value_ids && '{{{red}}}'
                AND x IN ({sizes}) GROUP BY x""",
            "variant value": f"""SELECT a.value_id, count(DISTINCT a.product_id)
                FROM {fc}.variant_value a JOIN {fc}.variant_value b
                ON b.variant_id = a.variant_id AND b.value_id = {red}
                WHERE a.category_id IN ({cats}) AND a.value_id IN ({sizes}) GROUP BY 1""",
            "chosen": f"""SELECT x.option_value_id, count(*) FROM catalog_productoptionpair x
                WHERE x.partner_id = {red} AND x.category_id IN ({cats})
                AND x.option_value_id IN ({sizes}) GROUP BY 1""",
            "chosen, masks": f"""SELECT x.option_value_id, count(*) FROM catalog_productoption x
                WHERE x.option_value_id IN ({sizes}) AND x.category_id IN ({cats})
                AND NOT x.spans_chunks AND EXISTS (SELECT 1 FROM catalog_productoption j
                WHERE j.product_id = x.product_id AND j.chunk = x.chunk
                AND j.option_value_id = {red} AND (x.variants & j.variants) <> 0)
                GROUP BY 1""",
        },
        "count of colour=red & size=m": {
            "before": f"""SELECT count(DISTINCT p.id) FROM catalog_product p
                WHERE p.is_published AND p.category_id IN ({cats})
                AND p.id IN (SELECT product_id FROM catalog_productoption
                             WHERE option_value_id = {red})
                AND p.id IN (SELECT product_id FROM catalog_productoption
                             WHERE option_value_id = {m})
                AND EXISTS (SELECT 1 FROM catalog_variant v
                  JOIN catalog_variant_option_values a ON a.variant_id = v.id
                  JOIN catalog_variant_option_values b ON b.variant_id = v.id
                  WHERE v.product_id = p.id AND v.is_active
                  AND a.optionvalue_id = {red} AND b.optionvalue_id = {m})""",
            "variant array": f"""SELECT count(DISTINCT product_id) FROM {fc}.variant_array
                WHERE category_id IN ({cats}) AND value_ids && '{{{red}}}'
                AND value_ids && '{{{m}}}'""",
            "variant value": f"""SELECT count(DISTINCT a.product_id) FROM {fc}.variant_value a
                JOIN {fc}.variant_value b ON b.variant_id = a.variant_id AND b.value_id = {m}
                WHERE a.value_id = {red} AND a.category_id IN ({cats})""",
            "chosen": f"""SELECT count(*) FROM catalog_product p WHERE p.is_published
                AND p.category_id IN ({cats}) AND p.id IN (SELECT x.product_id
                FROM catalog_productoptionpair x WHERE x.option_value_id = {red}
                AND x.partner_id = {m} AND x.category_id IN ({cats}))""",
            "chosen, masks": f"""SELECT count(*) FROM catalog_product p WHERE p.is_published
                AND p.category_id IN ({cats}) AND p.id IN (SELECT x.product_id
                FROM catalog_productoption x JOIN catalog_productoption j
                ON j.product_id = x.product_id AND j.chunk = x.chunk
                AND j.option_value_id = {m} WHERE x.option_value_id = {red}
                AND x.category_id IN ({cats}) AND (x.variants & j.variants) <> 0)""",
        },
        "brand facet under colour=red & size=m": {
            "before": f"""SELECT p.brand_id, count(DISTINCT p.id) FROM catalog_product p
                WHERE p.is_published AND p.category_id IN ({cats})
                AND p.id IN (SELECT product_id FROM catalog_productoption
                             WHERE option_value_id = {red})
                AND p.id IN (SELECT product_id FROM catalog_productoption
                             WHERE option_value_id = {m})
                AND EXISTS (SELECT 1 FROM catalog_variant v
                  JOIN catalog_variant_option_values a ON a.variant_id = v.id
                  JOIN catalog_variant_option_values b ON b.variant_id = v.id
                  WHERE v.product_id = p.id AND v.is_active
                  AND a.optionvalue_id = {red} AND b.optionvalue_id = {m}) GROUP BY 1""",
            "variant array": f"""SELECT brand_id, count(DISTINCT product_id)
                FROM {fc}.variant_array WHERE category_id IN ({cats})
                AND value_ids && '{{{red}}}' AND value_ids && '{{{m}}}' GROUP BY 1""",
            "chosen": f"""SELECT p.brand_id, count(*) FROM catalog_product p
                WHERE p.is_published AND p.category_id IN ({cats}) AND p.id IN (
                SELECT x.product_id FROM catalog_productoptionpair x
                WHERE x.option_value_id = {red} AND x.partner_id = {m}
                AND x.category_id IN ({cats})) GROUP BY 1""",
            "chosen, masks": f"""SELECT p.brand_id, count(*) FROM catalog_product p
                WHERE p.is_published AND p.category_id IN ({cats}) AND p.id IN (
                SELECT x.product_id FROM catalog_productoption x JOIN catalog_productoption j
                ON j.product_id = x.product_id AND j.chunk = x.chunk
                AND j.option_value_id = {m} WHERE x.option_value_id = {red}
                AND x.category_id IN ({cats}) AND (x.variants & j.variants) <> 0)
                GROUP BY 1""",
        },
    }


def execution_ms(cursor, sql: str) -> tuple[float, str]:
    times, plan = [], ""
    for _ in range(3):
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
        times.append(float(lines[-1].split(":")[1].split()[0]))
        plan = "\n".join(lines)
    return statistics.median(times), plan


def main() -> None:
    connection = psycopg2.connect(os.environ["DATABASE_URL"])
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute("SET jit = off; SET statement_timeout = 0")
    cursor.execute("SELECT count(*) FROM catalog_product")
    products = cursor.fetchone()[0]
    print("building the candidates...", flush=True)
    cursor.execute(BUILD)
    cursor.execute("SELECT id FROM catalog_category WHERE slug = 'clothing'")
    clothing = cursor.fetchone()[0]
    cursor.execute(
        "SELECT id FROM catalog_category WHERE id = %s OR path LIKE %s",
        [clothing, f"/{clothing}/%"],
    )
    ids = {"clothing": [row[0] for row in cursor.fetchall()]}
    cursor.execute(
        "SELECT t.slug, v.slug, v.id FROM catalog_optionvalue v "
        "JOIN catalog_optiontype t ON t.id = v.option_type_id"
    )
    for type_slug, value_slug, pk in cursor.fetchall():
        ids.setdefault(type_slug, []).append(pk)
        ids[value_slug] = pk
    lines = [
        "# Facet models measured (issue 14)",
        "",
        f"{products:,} products; the Clothing category and its subcategories; "
        "`bench/facet_candidates.py`, EXPLAIN ANALYZE execution time, median of 3, on a "
        "2-core machine shared with other work (figures move with its load).",
        "",
    ]
    plans = []
    for question, candidates in questions(ids).items():
        lines += [f"## {question}", "", "| model | ms |", "| --- | ---: |"]
        for name, sql in candidates.items():
            ms, plan = execution_ms(cursor, sql)
            print(f"{question} / {name}: {ms:.1f} ms", flush=True)
            lines.append(f"| {name} | {ms:.1f} |")
            if name == "chosen":
                plans += [f"### {question}", "", "```", plan, "```", ""]
        lines.append("")
    cursor.execute("DROP SCHEMA facet_candidates CASCADE")
    lines += ["## Plans of the chosen model", "", *plans]
    OUT.write_text("\n".join(lines))
    print(OUT)


if __name__ == "__main__":
    sys.exit(main())
