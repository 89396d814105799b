# ruff: noqa: S608, S611  (SQL is assembled from model table names, column names and "%s"
# placeholders only; every value the shopper sent is a parameter)
"""Filtering a listing and counting its facets from the facet rows (ProductOption).

What a listing means (README "Filters and counts"):

- Within a facet the chosen values are alternatives (red or blue); across facets every one
  must hold (red, size M, Fjell).
- Brand, tag and price are the product's: its brand, any of its tags, its listing price (the
  "from" price its card shows). Options and stock are a variant's: a product matches
  `colour=red&size=m&in_stock=1` when one active variant is red, in M and in stock.
- Each facet counts what the *other* active filters leave (disjunctive faceting): the sizes
  count products under the chosen colour, brand, price, tag and stock, but not under the
  chosen size, so a value's count is exactly what ticking it (alone in its facet) lists.

Every count reads the facet rows (one per product and option value, with a bit per variant)
and the product table, never variants: one statement for all the facets of a page.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from catalog.models import Brand, Product, ProductOption, ProductOptionPair, Tag

OPTIONS = ProductOption._meta.db_table
PAIRS = ProductOptionPair._meta.db_table
PRODUCT_TAGS = Product.tags.through._meta.db_table
TAGS = Tag._meta.db_table
BRANDS = Brand._meta.db_table


@dataclass(frozen=True)
class OptionChoice:
    """An option type the shopper filters on, with the ids of the values chosen (known ones;
    none known: nothing can match)."""

    type_id: int
    value_ids: tuple[int, ...]


@dataclass(frozen=True)
class Scope:
    """Which products a listing is about, for the facet rows: the categories in view, or
    (search) the listing's own product query."""

    category_ids: tuple[int, ...] | None
    base: QuerySet


def _in(column: str, values) -> tuple[str, list]:
    values = list(values)
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def _subquery(queryset: QuerySet) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _scope_sql(scope: Scope, alias: str) -> tuple[str, list]:
    if scope.category_ids is not None:
        return _in(f"{alias}.category_id", scope.category_ids)
    sql, params = _subquery(scope.base.order_by().values("pk"))
    return f"{alias}.product_id IN ({sql})", params


def _product_conditions(filters, alias: str) -> tuple[list[str], list]:
    """Brand, tag and price on facet rows (copied there from the product)."""
    where, params = [], []
    if filters.brands:
        sql, p = _in("slug", filters.brands)
        where.append(f"{alias}.brand_id IN (SELECT id FROM {BRANDS} WHERE {sql})")
        params += p
    if filters.tags:
        sql, p = _in("t.slug", filters.tags)
        where.append(
            f"{alias}.product_id IN (SELECT pt.product_id FROM {PRODUCT_TAGS} pt "
            f"JOIN {TAGS} t ON t.id = pt.tag_id WHERE {sql})"
        )
        params += p
    if filters.price_min is not None:
        where.append(f"{alias}.price >= %s")
        params.append(filters.price_min)
    if filters.price_max is not None:
        where.append(f"{alias}.price <= %s")
        params.append(filters.price_max)
    return where, params


def _combined(
    chosen: list[OptionChoice], *, in_stock: bool, first: str = "x"
) -> tuple[str, list[str], list]:
    """Joins of one facet row per chosen option type (after the row `first`) on the same
    product and block of variants, and the condition that one variant has them all (and is
    in stock if asked): the AND of their masks is not zero."""
    mask = "in_stock_variants" if in_stock else "variants"
    joins, params, masks = [], [], [f"{first}.{mask}"]
    for n, choice in enumerate(chosen):
        alias = f"j{n}"
        sql, p = _in(f"{alias}.option_value_id", choice.value_ids)
        joins.append(
            f"JOIN {OPTIONS} {alias} ON {alias}.product_id = {first}.product_id "
            f"AND {alias}.chunk = {first}.chunk AND {sql}"
        )
        params += p
        masks.append(f"{alias}.{mask}")
    condition = f"({' & '.join(masks)}) <> 0"
    return " ".join(joins), [condition], params


def matching_product_ids(scope: Scope, options: list[OptionChoice], *, in_stock: bool) -> RawSQL:
    """Ids of the products with one active variant offering a chosen value of every option
    in `options` (in stock if asked), as a subquery for `pk__in`."""
    first, *others = options
    value_sql, params = _in("x.option_value_id", first.value_ids)
    scope_sql, scope_params = _scope_sql(scope, "x")
    if len(others) == 1:
        # Two options: the rows of value pairs say it alone.
        partner_sql, partner_params = _in("x.partner_id", others[0].value_ids)
        where = [value_sql, partner_sql, scope_sql]
        if in_stock:
            where.append("x.in_stock = %s")
        sql = f"SELECT x.product_id FROM {PAIRS} x WHERE {' AND '.join(where)}"
        return RawSQL(sql, [*params, *partner_params, *scope_params, *([True] * in_stock)])
    joins, where, join_params = _combined(others, in_stock=in_stock)
    if not others and not in_stock:
        where = []  # a row at all means an active variant offers the value
    sql = (
        f"SELECT x.product_id FROM {OPTIONS} x {joins} "
        f"WHERE {' AND '.join([value_sql, scope_sql, *where])}"
    )
    return RawSQL(sql, [*join_params, *params, *scope_params])


def sorted_after_filtering(
    filtered: QuerySet, ordering: tuple[str, ...], *, offset: int, limit: int
) -> QuerySet | RawSQL:
    """The page's ids, sorting only the products that match (PostgreSQL).

    With options chosen, PostgreSQL would rather walk a sort index and test each product
    against the options, betting that matches are spread evenly; they are not (the most
    expensive products are phones, which have no sizes), and such a walk took seconds on
    `/products/?size=m&sort=-price`. Materialised first, the matching products are sorted
    in one pass whatever their order.
    """
    fields = list(dict.fromkeys(["pk", *(name.lstrip("-") for name in ordering)]))
    if any(name not in {"pk", *(f.name for f in Product._meta.concrete_fields)} for name in fields):
        return filtered.order_by(*ordering).values("pk")[offset : offset + limit]
    sql, params = filtered.order_by().values(*fields).query.sql_with_params()
    columns = [f"c{n}" for n in range(len(fields))]
    order = ", ".join(
        f"{columns[fields.index(name.lstrip('-'))]}{' DESC' if name.startswith('-') else ''}"
        for name in ordering
    )
    return RawSQL(
        f"WITH m ({', '.join(columns)}) AS MATERIALIZED ({sql}) "
        f"SELECT c0 FROM m ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, limit, offset],
    )


def _option_counts_sql(
    scope: Scope,
    filters,
    *,
    value_ids: list[int],
    others: list[OptionChoice],
) -> list[tuple[str, list]]:
    """Products per value in `value_ids` (the values of one or more option types), under the
    product filters, the stock filter and the chosen values of `others` (other option types):
    the parts of the facets statement."""
    where, params = [], []
    sql, p = _in("x.option_value_id", value_ids)
    where.append(sql)
    params += p
    sql, p = _scope_sql(scope, "x")
    where.append(sql)
    params += p
    product_where, product_params = _product_conditions(filters, "x")
    where += product_where
    params += product_params
    select = "SELECT 'option' AS kind, x.option_value_id AS key, NULL AS slug, NULL AS name"
    if len(others) == 1:
        # One other option chosen (sizes under the chosen colour): the rows of value pairs,
        # one per product, value and chosen value, so DISTINCT only for several chosen.
        (other,) = others
        sql, p = _in("x.partner_id", other.value_ids)
        pair_where = [*where, sql]
        pair_params = [*params, *p]
        if filters.in_stock:
            pair_where.append("x.in_stock = %s")
            pair_params.append(True)
        rows = f"{PAIRS} x WHERE {' AND '.join(pair_where)}"
        if len(other.value_ids) > 1:
            # Distinct (value, product) first: hashed, where COUNT(DISTINCT) would sort.
            rows = f"(SELECT DISTINCT x.option_value_id, x.product_id FROM {rows}) AS x WHERE 1 = 1"
        sql = f"{select}, COUNT(*) AS n FROM {rows} GROUP BY x.option_value_id"
        return [(sql, pair_params)]
    if not others:
        # One row per product and value is marked: no DISTINCT over what may be 100,000s.
        first = "x.is_first_in_stock = %s" if filters.in_stock else "x.is_first = %s"
        sql = (
            f"{select}, COUNT(*) AS n FROM {OPTIONS} x "
            f"WHERE {' AND '.join([*where, first])} GROUP BY x.option_value_id"
        )
        return [(sql, [*params, True])]
    # Two or more other options: a row counts when one variant of its block offers it and a
    # chosen value of every other option (and is in stock if asked): EXISTS, so that several
    # chosen values (red or blue) count a row once. A product's rows are one per value unless
    # it spans blocks of variants (more than 63): those few are counted apart, with DISTINCT.
    first, *rest = others
    joins, mask_where, join_params = _combined(rest, in_stock=filters.in_stock, first="j")
    mask = "in_stock_variants" if filters.in_stock else "variants"
    mask_where = [mask_where[0].replace("(j.", f"(x.{mask} & j.", 1)]
    value_sql, value_params = _in("j.option_value_id", first.value_ids)
    exists = (
        f"EXISTS (SELECT 1 FROM {OPTIONS} j {joins} WHERE j.product_id = x.product_id "
        f"AND j.chunk = x.chunk AND {' AND '.join([value_sql, *mask_where])})"
    )
    exists_params = [*join_params, *value_params]
    parts = []
    for spans, counted in ((False, "COUNT(*)"), (True, "COUNT(DISTINCT x.product_id)")):
        sql = (
            f"{select}, {counted} AS n FROM {OPTIONS} x "
            f"WHERE {' AND '.join([*where, 'x.spans_chunks = %s', exists])} "
            "GROUP BY x.option_value_id"
        )
        parts.append((sql, [*params, spans, *exists_params]))
    return parts


@dataclass
class FacetCounts:
    #: Products under every filter.
    total: int
    #: (slug, name) -> products, for brands and tags; option value id -> products.
    brands: dict[tuple[str, str], int]
    tags: dict[tuple[str, str], int]
    options: dict[int, int]


def count_facets(
    *,
    scope: Scope,
    filters,
    candidates: QuerySet,
    option_choices: list[OptionChoice],
    option_values: dict[int, list[int]],
) -> FacetCounts:
    """The listing's count and every facet's counts, in one statement.

    `candidates` are the products under every filter but brand and tag: read once (a CTE),
    they give the count (with brand and tag), the brand facet (with tag) and the tag facet
    (with brand). Each option facet reads the facet rows. `option_values` maps every option
    type's id to its value ids.
    """
    candidates_sql, candidates_params = _subquery(candidates.order_by().values("pk", "brand_id"))
    brand_ok, tag_ok, ok_params = "1 = 1", "1 = 1", {"brand": [], "tag": []}
    if filters.brands:
        sql, ok_params["brand"] = _in("slug", filters.brands)
        brand_ok = f"c.brand_id IN (SELECT id FROM {BRANDS} WHERE {sql})"
    if filters.tags:
        sql, ok_params["tag"] = _in("t.slug", filters.tags)
        tag_ok = (
            f"c.id IN (SELECT pt.product_id FROM {PRODUCT_TAGS} pt "
            f"JOIN {TAGS} t ON t.id = pt.tag_id WHERE {sql})"
        )
    parts: list[tuple[str, list]] = [
        (
            "SELECT 'count' AS kind, 0 AS key, NULL AS slug, NULL AS name, COUNT(*) AS n "
            f"FROM c WHERE {brand_ok} AND {tag_ok}",
            [*ok_params["brand"], *ok_params["tag"]],
        ),
        (
            f"SELECT 'brand', b.id, b.slug, b.name, COUNT(*) FROM c JOIN {BRANDS} b "
            f"ON b.id = c.brand_id WHERE {tag_ok} GROUP BY b.id, b.slug, b.name",
            ok_params["tag"],
        ),
        (
            f"SELECT 'tag', tg.id, tg.slug, tg.name, COUNT(*) FROM c "
            f"JOIN {PRODUCT_TAGS} ptg ON ptg.product_id = c.id JOIN {TAGS} tg "
            f"ON tg.id = ptg.tag_id WHERE {brand_ok} GROUP BY tg.id, tg.slug, tg.name",
            ok_params["brand"],
        ),
    ]
    active = {choice.type_id for choice in option_choices}
    for choice in option_choices:
        others = [c for c in option_choices if c.type_id != choice.type_id]
        parts += _option_counts_sql(
            scope, filters, value_ids=option_values[choice.type_id], others=others
        )
    inactive = [pk for type_id, ids in option_values.items() if type_id not in active for pk in ids]
    if inactive:
        parts += _option_counts_sql(scope, filters, value_ids=inactive, others=option_choices)
    union = " UNION ALL ".join(f"SELECT * FROM ({sql}) AS f{n}" for n, (sql, _) in enumerate(parts))
    sql = f"WITH c (id, brand_id) AS ({candidates_sql}) {union}"
    params = [*candidates_params, *(p for _, part_params in parts for p in part_params)]
    counts = FacetCounts(total=0, brands={}, tags={}, options={})
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, key, slug, name, n in cursor.fetchall():
            if kind == "count":
                counts.total = n
            elif kind == "brand":
                counts.brands[(slug, name)] = n
            elif kind == "tag":
                counts.tags[(slug, name)] = n
            else:
                counts.options[key] = counts.options.get(key, 0) + n
    return counts
