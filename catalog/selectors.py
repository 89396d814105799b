"""Read queries shared by the catalog's pages."""

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache as cache_per_process
from functools import cached_property

import numpy as np
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.cache import cache as django_cache
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from catalog import cache, facets, search
from catalog.images import Thumbnail
from catalog.models import (
    Brand,
    Category,
    OptionType,
    OptionValue,
    Product,
    ProductImage,
    ProductRecommendation,
    RecommendationKind,
    SearchDocument,
    Tag,
    Variant,
    WishlistItem,
)
from catalog.recommendations import SHOWN
from catalog.services import SEARCH_CONFIG
from shop.money import format_money

# --- The category tree (small, read on every page: cached under the catalog's version) ----


@dataclass
class CategoryTree:
    categories: list[Category]
    #: Every active category, visible or not (below an inactive one): what
    #: Product.objects.published() admits, for listings of all products.
    active_ids: list[int] = field(default_factory=list)
    by_slug: dict[str, Category] = field(init=False)
    by_id: dict[int, Category] = field(init=False)
    children: dict[int | None, list[Category]] = field(init=False)

    def __post_init__(self):
        self.by_slug = {c.slug: c for c in self.categories}
        self.by_id = {c.pk: c for c in self.categories}
        self.children = {}
        for category in self.categories:
            self.children.setdefault(category.parent_id, []).append(category)

    @property
    def roots(self) -> list[Category]:
        return self.children.get(None, [])

    def ancestors(self, category: Category) -> list[Category]:
        return [self.by_id[pk] for pk in category.ancestor_ids if pk in self.by_id]

    def subtree_ids(self, category: Category) -> list[int]:
        prefix = category.subtree_path
        return [category.pk, *(c.pk for c in self.categories if c.path.startswith(prefix))]


def category_tree() -> CategoryTree:
    """Every active category whose ancestors are active too, in menu order."""
    return cache.shared("category-tree", _build_category_tree)


def held_category_tree() -> tuple[CategoryTree, int] | None:
    """The category tree this process read last and the catalog's version it was for: a
    guess, right while that version stands (None before this process read one)."""
    return cache.held_shared("category-tree")


def _build_category_tree() -> CategoryTree:
    rows = list(Category.objects.active().order_by("path", "position", "name"))
    active_ids = {c.pk for c in rows}
    visible = [c for c in rows if all(pk in active_ids for pk in c.ancestor_ids)]
    return CategoryTree(
        sorted(visible, key=lambda c: (c.depth, c.position, c.name)),
        active_ids=sorted(active_ids),
    )


@dataclass
class OptionChoices:
    option_type: OptionType
    values: list[OptionValue]


def option_types() -> list[OptionChoices]:
    """Option types with their values in order, for filters; shared like the tree."""
    return cache.shared("option-types", _build_option_types)


def _build_option_types() -> list[OptionChoices]:
    by_type: dict[int, OptionChoices] = {}
    for value in OptionValue.objects.select_related("option_type"):
        entry = by_type.setdefault(value.option_type_id, OptionChoices(value.option_type, []))
        entry.values.append(value)
    return list(by_type.values())


# --- Listings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingFilters:
    brands: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: Option type slug -> chosen value slugs; values of one type are alternatives.
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock: bool = False

    @property
    def active(self) -> bool:
        return bool(
            self.brands
            or self.tags
            or self.options
            or self.price_min is not None
            or self.price_max is not None
            or self.in_stock
        )


@dataclass
class FacetValue:
    slug: str
    label: str
    count: int
    selected: bool
    #: A colour to draw beside the label ("#b22222"), if the merchant gave one.
    swatch: str = ""


@dataclass
class Facet:
    param: str
    label: str
    values: list[FacetValue]


@dataclass
class ActiveFilter:
    """A filter the shopper chose, as a removable chip: `param`=`value` leaves the query
    string when it is removed (for price and stock, the parameter whatever its value)."""

    param: str
    value: str
    label: str
    value_label: str
    #: Products listed without this filter: counted only when the filters emptied the list.
    count_without: int | None = None
    #: The listing's URL without this filter (set by the view).
    remove_url: str = ""


@dataclass
class PageOfCards:
    """A page's products by id, in order, for their cards (catalog_tags.product_cards): the
    rows are read only for the cards the cache does not keep, or when code asks for
    `products`. A page of kept cards, most pages, costs no query and no queryset."""

    #: The page's product ids, in order.
    ids: list[int]
    #: The cards' queryset (built when rows are read: building one costs about 1 ms).
    queryset: Callable[[], QuerySet[Product]]
    #: Option values whose pictures the cards show first (a listing filtered on Red).
    preferring: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ids)

    def read(self, ids: Iterable[int]) -> dict[int, Product]:
        """The products of `ids` that the queryset holds (still shown), by id."""
        rows = self.queryset()
        if self.preferring:
            # The cards' picture again, one showing a chosen value (the red one) first.
            rows = with_first_image(rows, product="pk", preferring=self.preferring)
        return {product.pk: product for product in rows.filter(pk__in=list(ids))}

    @cached_property
    def products(self) -> list[Product]:
        found = self.read(self.ids)
        return [found[pk] for pk in self.ids if pk in found]


@dataclass
class Listing:
    cards: PageOfCards
    count: int
    facets: list[Facet]
    active_filters: list[ActiveFilter] = field(default_factory=list)

    @property
    def products(self) -> list[Product]:
        return self.cards.products


@dataclass(frozen=True)
class SearchMatches:
    """The products a query matches: their ids, and where the database ranks them
    (PostgreSQL) their relevance, higher first (None: SQLite, the listing's usual sorts)."""

    ids: np.ndarray
    ranks: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ids)


def with_first_image(
    queryset: QuerySet, *, product: str, preferring: tuple[int, ...] = ()
) -> QuerySet:
    """Annotate each row with the first picture of the product at lookup `product`, in the
    same query: `first_image` then gives its thumbnails (see first_image()). With
    `preferring` (option values a listing is filtered on, e.g. Colour: Red), the first of
    the pictures showing one of them, if any.
    """
    images = ProductImage.objects.filter(product=OuterRef(product))
    order = ["position", "pk"]
    if preferring:
        shows = ProductImage.option_values.through.objects.filter(
            productimage_id=OuterRef("pk"), optionvalue_id__in=preferring
        )
        images = images.annotate(preferred=Exists(shows))
        order = ["-preferred", *order]
    images = images.order_by(*order)
    return queryset.annotate(
        first_image_name=Subquery(images.values("image")[:1]),
        first_image_thumbnails=Subquery(images.values("thumbnails")[:1]),
    )


def first_image(row, size: str) -> Thumbnail | None:
    """The `size` thumbnail of a row annotated by with_first_image(), or None."""
    if not row.first_image_name:
        return None
    thumbnails = row.first_image_thumbnails or {}
    if isinstance(thumbnails, str):  # SQLite hands a subquery's JSON back as text
        thumbnails = json.loads(thumbnails)
    record = thumbnails.get(size)
    if record:
        return Thumbnail(default_storage.url(record["name"]), record["width"], record["height"])
    return Thumbnail(default_storage.url(row.first_image_name), None, None)


def card_queryset() -> QuerySet[Product]:
    """Products with what a card shows, its picture included: one query for a page of cards
    (the first picture in the same statement rather than every picture in a second one: a
    card shows one, and a round trip to the database is a wait for a core under load).

    `sole_variant_id` is set for a product sold in one variant only: its card can add it to
    the cart directly. Built once per process and copied: building it (three subqueries)
    cost more than running it, on every listing whose cards were not all kept.
    """
    return _card_queryset().all()


@cache_per_process
def _card_queryset() -> QuerySet[Product]:
    active = Variant.objects.active().filter(product=OuterRef("pk")).order_by()
    sole = active.values("product").annotate(n=Count("pk"), pk_=Min("pk")).filter(n=1)
    return with_first_image(
        Product.objects.published()
        .select_related("brand")
        .defer("description")
        .annotate(sole_variant_id=Subquery(sole.values("pk_"))),
        product="pk",
    )


def _option_choices(
    filters: ListingFilters, types: list[OptionChoices] | None = None
) -> tuple[facets.OptionChoice, ...]:
    """The chosen option values as ids (from the shared option types: no query)."""
    by_slug = {choices.option_type.slug: choices for choices in types or option_types()}
    chosen = []
    for type_slug, value_slugs in filters.options:
        choices = by_slug.get(type_slug)
        if choices is None:
            continue  # the form only passes known types; a type deleted since: ignored
        ids = tuple(value.pk for value in choices.values if value.slug in value_slugs)
        chosen.append(facets.OptionChoice(choices.option_type.pk, ids))
    return tuple(chosen)


@dataclass(frozen=True)
class FacetNames:
    """Brands and tags by id and by slug, for facets: shared like the option types."""

    brands: dict[int, tuple[str, str]]
    tags: dict[int, tuple[str, str]]

    def ids(self, names: dict[int, tuple[str, str]], slugs) -> tuple[int, ...]:
        wanted = set(slugs)
        return tuple(pk for pk, (slug, _name) in names.items() if slug in wanted)


def facet_names() -> FacetNames:
    return cache.shared("facet-names", _build_facet_names)


def _build_facet_names() -> FacetNames:
    def named(model) -> dict[int, tuple[str, str]]:
        rows = model.objects.order_by("pk").values_list("pk", "slug", "name")
        return {pk: (slug, name) for pk, slug, name in rows}

    return FacetNames(brands=named(Brand), tags=named(Tag))


def listing(
    *,
    base: QuerySet[Product] | Callable[[], QuerySet[Product]],
    filters: ListingFilters,
    sort: str,
    offset: int,
    limit: int,
    order: tuple[str, ...] | None = None,
    category_ids: list[int] | None = None,
    matches: SearchMatches | None = None,
) -> Listing:
    """One page of products with facet counts: the index's journal, then (for the cards the
    cache does not keep) the page's products and their images, three queries at most
    whatever the filters. `base` (or a function giving it) is the cards' queryset.

    The listing index (catalog.facets) filters, counts and picks the page in memory. Each
    facet counts with every other filter applied but its own, so a value's count is what
    choosing it lists. `category_ids`, the categories `base` is limited to, scope the index;
    without them and without `matches`, `base`'s own products do, in the order `order` if
    given (one more query). `matches` (a search's, from search_ids()) are the products in
    view, within `category_ids` if given, ordered by their ranks for sort "relevance".
    When the filters leave nothing, each chosen filter says what removing it would list (in
    memory too).
    """
    names = facet_names()
    # Read once: each read of a shared value asks the cache for the catalog's version.
    types = option_types()
    cards_of = base if callable(base) else lambda: base
    candidates, ranks = (matches.ids, matches.ranks) if matches is not None else (None, None)
    if category_ids is None and candidates is None:
        candidates = ranked_ids(cards_of(), order)

    def question(chosen: ListingFilters) -> facets.Question:
        return facets.Question(
            category_ids=tuple(category_ids) if category_ids is not None else None,
            candidate_ids=candidates,
            candidate_ranks=ranks,
            brand_ids=names.ids(names.brands, chosen.brands) if chosen.brands else None,
            tag_ids=names.ids(names.tags, chosen.tags) if chosen.tags else None,
            options=_option_choices(chosen, types),
            price_min=chosen.price_min,
            price_max=chosen.price_max,
            in_stock=chosen.in_stock,
            sort=sort,
            candidate_order=order is not None,
            offset=offset,
            limit=limit,
        )

    answer = facets.answer(question(filters))
    chosen_values = tuple(v for choice in _option_choices(filters, types) for v in choice.value_ids)
    cards = PageOfCards(answer.page, cards_of, preferring=chosen_values)
    chips = active_filters(filters, names, types)
    if not answer.total and chips:
        counts = facets.totals(question(_without(filters, chip)) for chip in chips)
        for chip, count in zip(chips, counts, strict=True):
            chip.count_without = count
    return Listing(
        cards=cards,
        count=answer.total,
        facets=_facets(filters, answer, names, types),
        active_filters=chips,
    )


def ranked_ids(queryset: QuerySet, order: tuple[str, ...] | None) -> tuple[int, ...]:
    """The queryset's primary keys in `order` (e.g. search_products()'s, by relevance), or
    as they come when `order` is None: one query, read straight off the cursor.

    The database finds the rows and computes their fields of `order` (a search's rank); the
    sort is done here, with numpy: sorting a broad search's thousands of rows (tens of
    thousands at 100,000 products) by rank was more of PostgreSQL's time than finding them.
    A broad search has that many ids, and the ORM's work per row was a few milliseconds.
    """
    fields = [name.lstrip("-") for name in order or ()]
    columns = ["pk", *(name for name in fields if name != "pk")]
    sql, params = queryset.order_by().values_list(*columns).query.sql_with_params()
    # The queryset's own database: a replica when the router sends catalog reads there.
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not order or not rows:
        return tuple(row[0] for row in rows)
    # One conversion of the whole result (ids and counts are exact as float64 below 2**53).
    table = np.array(rows, dtype=np.float64)
    # np.lexsort sorts by its last key first; a descending field sorts by its negation.
    keys = [
        -table[:, columns.index(name.lstrip("-"))]
        if name.startswith("-")
        else table[:, columns.index(name)]
        for name in reversed(order)
    ]
    return tuple(table[np.lexsort(keys), 0].astype(np.int64).tolist())


def active_filters(
    filters: ListingFilters, names: FacetNames, types: list[OptionChoices] | None = None
) -> list[ActiveFilter]:
    """The chosen filters in the order of the filter panel, named for chips."""
    chips = []
    brand_names = {slug: name for slug, name in names.brands.values()}
    for slug in filters.brands:
        if slug in brand_names:
            chips.append(ActiveFilter("brand", slug, Brand._meta.verbose_name, brand_names[slug]))
    chosen = dict(filters.options)
    for choices in types or option_types():
        for value in choices.values:
            if value.slug in chosen.get(choices.option_type.slug, ()):
                chips.append(
                    ActiveFilter(
                        choices.option_type.slug, value.slug, choices.option_type.name, value.value
                    )
                )
    tag_names = {slug: name for slug, name in names.tags.values()}
    for slug in filters.tags:
        if slug in tag_names:
            chips.append(ActiveFilter("tag", slug, Tag._meta.verbose_name, tag_names[slug]))
    if filters.price_min is not None:
        chips.append(
            ActiveFilter(
                "price_min",
                "",
                _("price"),
                _("from %(amount)s") % {"amount": format_money(filters.price_min)},
            )
        )
    if filters.price_max is not None:
        chips.append(
            ActiveFilter(
                "price_max",
                "",
                _("price"),
                _("up to %(amount)s") % {"amount": format_money(filters.price_max)},
            )
        )
    if filters.in_stock:
        chips.append(ActiveFilter("in_stock", "", "", _("In stock only")))
    return chips


def _without(filters: ListingFilters, chip: ActiveFilter) -> ListingFilters:
    """The filters with this chip's removed."""
    if chip.param == "brand":
        return replace(filters, brands=tuple(b for b in filters.brands if b != chip.value))
    if chip.param == "tag":
        return replace(filters, tags=tuple(t for t in filters.tags if t != chip.value))
    if chip.param == "in_stock":
        return replace(filters, in_stock=False)
    if chip.param in ("price_min", "price_max"):
        return replace(filters, **{chip.param: None})
    options = tuple(
        (slug, rest)
        for slug, values in filters.options
        if (rest := tuple(v for v in values if slug != chip.param or v != chip.value))
    )
    return replace(filters, options=options)


def _facets(
    filters: ListingFilters, answer: facets.Answer, names: FacetNames, types: list[OptionChoices]
) -> list[Facet]:
    chosen = dict(filters.options)
    found = [
        _named_facet("brand", Brand, names.brands, answer.brands, filters.brands),
        *(
            _option_facet(choices, answer.options, chosen.get(choices.option_type.slug, ()))
            for choices in types
        ),
        _named_facet("tag", Tag, names.tags, answer.tags, filters.tags),
    ]
    return [facet for facet in found if facet.values]


def _named_facet(param: str, model, names, counts: dict[int, int], chosen) -> Facet:
    """Brands or tags with products, and the chosen ones even at zero (so they can be
    unticked)."""
    values = {}
    for pk, (slug, name) in names.items():
        if counts.get(pk) or slug in chosen:
            values[slug] = FacetValue(slug, name, counts.get(pk, 0), slug in chosen)
    ordered = sorted(values.values(), key=lambda value: value.label.lower())
    return Facet(param, model._meta.verbose_name, ordered)


def _option_facet(choices: OptionChoices, counts: dict[int, int], chosen) -> Facet:
    values = [
        FacetValue(
            value.slug, value.value, counts.get(value.pk, 0), value.slug in chosen, value.swatch
        )
        for value in choices.values
        if value.pk in counts or value.slug in chosen
    ]
    return Facet(choices.option_type.slug, choices.option_type.name, values)


#: Popular categories change slowly: counted again at most this often (seconds).
POPULAR_TIMEOUT = 60 * 60


def popular_categories(*, limit: int = 8) -> list[Category]:
    """The categories whose products sold most (the top of the menu when nothing sold yet),
    for pages that found nothing. One query an hour; the cached tree names them, so a
    category hidden since drops out at once."""
    tree = category_tree()
    ids = django_cache.get("catalog:popular-category-ids")
    if ids is None:
        sold = (
            Product.objects.published()
            .order_by()
            .values("category_id")
            .annotate(sold=Sum("sold_count"))
            .filter(sold__gt=0)
            .order_by("-sold", "category_id")
        )
        ids = list(sold.values_list("category_id", flat=True)[: limit * 2])
        django_cache.set("catalog:popular-category-ids", ids, timeout=POPULAR_TIMEOUT)
    found = [tree.by_id[pk] for pk in ids if pk in tree.by_id][:limit]
    return found or tree.roots[:limit]


def products_in_category(category: Category, tree: CategoryTree) -> QuerySet[Product]:
    return card_queryset().filter(category_id__in=tree.subtree_ids(category))


# --- Search ---------------------------------------------------------------------------------

#: Longer queries are cut: nobody types more, and a 10 kB query must not cost 10 kB of work.
MAX_QUERY_LENGTH = 100


def clean_query(raw: str) -> str:
    """A query any bytes can come in as (NUL, control characters, kilobytes) made searchable."""
    printable = "".join(ch if ch.isprintable() else " " for ch in raw)
    return " ".join(printable.split())[:MAX_QUERY_LENGTH]


def _search_query(query: str) -> SearchQuery:
    return SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)


def search_products(
    query: str, *, base: QuerySet[Product] | None = None
) -> tuple[QuerySet[Product], tuple[str, ...] | None]:
    """Products matching `query` (among `base`, by default the cards') and the ordering by
    relevance (None: the usual sorts only)."""
    base = card_queryset() if base is None else base
    if connection.vendor == "postgresql":
        search = _search_query(query)
        ranked = base.filter(search_document__document=search).annotate(
            rank=SearchRank(F("search_document__document"), search)
        )
        return ranked, ("-rank", "-sold_count", "-pk")
    matched = base
    for word in query.split():
        matched = matched.filter(
            Q(name__icontains=word)
            | Q(brand__name__icontains=word)
            | Q(description__icontains=word)
            | Q(tags__name__icontains=word)
        )
    return matched.distinct(), None


def search_ids(query: str) -> SearchMatches:
    """The ids of the products matching `query` with their relevance: one query, on the
    search documents alone (PostgreSQL); published and shown products are kept, and the
    order made, by the listing in memory (facets, with the ranks). The ids and the ranks
    come as one binary string each rather than a row each (a common word matches 33,000
    products at 100,000): PostgreSQL's own 8-byte integers and 4-byte floats (ts_rank's
    float4, exact: the order its ORDER BY gave), read by numpy without parsing text.

    SQLite: the published products whose texts hold every word, no ranks.
    """
    if connection.vendor != "postgresql":
        products, _order = search_products(query, base=Product.objects.published())
        return SearchMatches(np.array(ranked_ids(products, None), dtype=np.int64), None)
    # The queryset's own database: a replica when the router sends catalog reads there.
    using = SearchDocument.objects.all().db
    sql, params = _search_statement(using)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [query if param is _QUERY else param for param in params])
        ids, ranks = cursor.fetchone()
    if not ids:
        return SearchMatches(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    # Network byte order (int8send, float4send), made native for the index's arithmetic.
    return SearchMatches(
        np.frombuffer(ids, dtype=">i8").astype(np.int64),
        np.frombuffer(ranks, dtype=">f4").astype(np.float32),
    )


#: Where the typed query goes among the search statement's parameters.
_QUERY = object()


@cache_per_process
def _search_statement(using: str) -> tuple[str, tuple]:
    """search_ids()'s statement, built by the ORM once per database (building it cost a
    third of the CPU of a search's own work), with _QUERY where the query goes."""
    marker = "\x00query"
    search = _search_query(marker)
    found = (
        SearchDocument.objects.using(using)
        .filter(document=search)
        .annotate(rank=SearchRank(F("document"), search))
        .values_list("product_id", "rank")
    )
    sql, params = found.query.sql_with_params()
    # The ORM's own statement, its values as parameters: nothing typed is in the text. Binary
    # rather than text: formatting 19-digit integers was a fifth of the statement's time.
    aggregated = (
        "SELECT string_agg(int8send(product_id), ''), "  # noqa: S608 # nosec B608
        f"string_agg(float4send(rank), '') FROM ({sql}) found"
    )
    return aggregated, tuple(_QUERY if param == marker else param for param in params)


def did_you_mean(query: str) -> str | None:
    """The query with unknown words replaced by the closest catalog words, if any changed."""
    return search.corrected_query(query)


#: Suggestions while typing: this many products and categories at most.
SUGGESTED_PRODUCTS = 6
SUGGESTED_CATEGORIES = 4
_PREFIX_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Suggestions:
    products: list[Product]
    categories: list[Category]
    #: The corrected query the products were found with, when the typed one found none.
    corrected: str | None = None


def search_suggestions(query: str) -> Suggestions:
    """Products and categories for a query being typed: its last word counts as the start
    of a word ("lant" suggests lanterns). One query: the products with their first pictures
    (categories come from the cached tree). A query that finds no product is corrected as a
    search is (catalog.search) and tried again."""
    # Single letters ("t" of "t-sh") match too much to help.
    words = [w.lower() for w in _PREFIX_WORD.findall(query) if len(w) > 1]
    if not words:
        return Suggestions(products=[], categories=[])
    products = _prefix_products(words)
    corrected = None
    if not products:
        corrected = search.corrected_query(" ".join(words))
        if corrected:
            products = _prefix_products(_PREFIX_WORD.findall(corrected))
    return Suggestions(products=products, categories=_prefix_categories(words), corrected=corrected)


def _prefix_products(words: list[str]) -> list[Product]:
    rows = with_first_image(
        Product.objects.published()
        .select_related(None)
        .only("name", "slug", "price", "sale_price"),
        product="pk",
    )
    if connection.vendor == "postgresql":
        # Whole words then the last as a prefix, in names, brands and tags only (weights A
        # and B: a description's words only get in the way here); the words are \w+ only,
        # so the raw tsquery cannot be malformed.
        terms = " & ".join([*(f"{w}:AB" for w in words[:-1]), f"{words[-1]}:*AB"])
        found = SearchQuery(terms, search_type="raw", config=SEARCH_CONFIG)
        rows = rows.filter(search_document__document=found).annotate(
            rank=SearchRank(F("search_document__document"), found)
        )
        return list(rows.order_by("-rank", "-sold_count", "-pk")[:SUGGESTED_PRODUCTS])
    for word in words:
        rows = rows.filter(Q(name__icontains=word) | Q(brand__name__icontains=word))
    return list(rows.order_by("-sold_count", "-pk")[:SUGGESTED_PRODUCTS])


def _prefix_categories(words: list[str]) -> list[Category]:
    """Categories with a word starting with each typed word (the cached tree: no query)."""
    found = []
    for category in category_tree().categories:
        names = [w.lower() for w in _PREFIX_WORD.findall(category.name)]
        if all(any(name.startswith(word) for name in names) for word in words):
            found.append(category)
    return found[:SUGGESTED_CATEGORIES]


# --- Product page ---------------------------------------------------------------------------


def product_for_page(*, slug: str) -> Product:
    """A published product with everything its page shows; 404 for anything else."""
    variants = (
        Variant.objects.active()
        .prefetch_related(
            Prefetch(
                "option_values",
                queryset=OptionValue.objects.select_related("option_type").order_by(
                    "option_type__position", "option_type__name", "position"
                ),
            )
        )
        .order_by("position", "pk")
    )
    return get_object_or_404(
        Product.objects.published()
        .select_related("brand", "category")
        .prefetch_related(
            Prefetch("variants", queryset=variants),
            Prefetch(
                "images",
                queryset=ProductImage.objects.order_by("position", "pk").prefetch_related(
                    Prefetch("option_values", queryset=OptionValue.objects.only("pk"))
                ),
            ),
            "specifications",
            "tags",
        ),
        slug=slug,
    )


def variant_stocks(*, product_id: int) -> list[Variant]:
    """The stock of each variant the product's page shows (its active ones): the page's
    stock labels, read apart from the page (catalog.views._stock_holes)."""
    return list(Variant.objects.active().filter(product_id=product_id).only("pk", "stock"))


def gallery_for(images: list[ProductImage], variant: Variant | None) -> list[ProductImage]:
    """The product's pictures with those of `variant` (its colour, say) first, each group in
    the merchant's order; all in their order when none shows it or no variant is chosen."""
    if variant is None:
        return list(images)
    return sorted(images, key=lambda image: not image.shows(variant))


# Options of the product page, as Shopify's Dawn shows them: one group per option type, a
# value available when a variant with it exists given the values chosen in the groups above
# (colour first, then size), so every colour stays reachable whatever size is chosen.


@dataclass
class OptionChoice:
    value: OptionValue
    #: "available", "sold_out" (such a variant exists, none in stock: crossed but reachable)
    #: or "unavailable" (no such variant: disabled).
    state: str
    checked: bool
    #: The picture of this value (its colour) for the swatch, if the product has one.
    image: ProductImage | None = None


@dataclass
class OptionGroup:
    option_type: OptionType
    choices: list[OptionChoice]

    @property
    def swatches(self) -> bool:
        """Shown as swatches (a colour's picture or colour), else as buttons (sizes)."""
        return any(choice.image or choice.value.swatch for choice in self.choices)

    @property
    def checked(self) -> OptionChoice | None:
        return next((choice for choice in self.choices if choice.checked), None)


def _values_by_type(variant: Variant) -> dict[int, OptionValue]:
    return {value.option_type_id: value for value in variant.option_values.all()}


def option_groups(
    *, variants: list[Variant], images: list[ProductImage], chosen: Variant | None
) -> list[OptionGroup]:
    """The product's option types with their values, each marked for `chosen`: no query,
    from the variants and pictures product_for_page() prefetched."""
    by_variant = [(variant, _values_by_type(variant)) for variant in variants]
    types: dict[int, OptionType] = {}
    values: dict[int, dict[int, OptionValue]] = {}
    for _variant, named in by_variant:
        for type_id, value in named.items():
            types.setdefault(type_id, value.option_type)
            values.setdefault(type_id, {})[value.pk] = value
    order = sorted(types.values(), key=lambda t: (t.position, t.name))
    current = _values_by_type(chosen) if chosen else {}
    pictures = _pictures_by_value(images)
    groups = []
    for level, option_type in enumerate(order):
        above = [t.pk for t in order[:level]]
        choices = []
        for value in sorted(values[option_type.pk].values(), key=lambda v: (v.position, v.value)):
            matching = [
                variant
                for variant, named in by_variant
                if named.get(option_type.pk) == value
                and all(named.get(pk) == current.get(pk) for pk in above)
            ]
            state = "unavailable"
            if matching:
                state = "available" if any(v.stock > 0 for v in matching) else "sold_out"
            checked = current.get(option_type.pk) == value
            choices.append(OptionChoice(value, state, checked, pictures.get(value.pk)))
        groups.append(OptionGroup(option_type, choices))
    return groups


def _pictures_by_value(images: list[ProductImage]) -> dict[int, ProductImage]:
    """Each option value's picture: the first naming it alone, else the first naming it."""
    found: dict[int, ProductImage] = {}
    for image in sorted(images, key=lambda image: len(image.option_values.all()) != 1):
        for value in image.option_values.all():
            found.setdefault(value.pk, image)
    return found


def variant_for_options(*, variants: list[Variant], wanted: dict[int, int]) -> Variant | None:
    """The variant a shopper means by option values (option type id -> value id), as the
    page's script resolves it: each option type in order narrows the variants to those with
    the wanted value, unless none has it; the first in stock of what is left wins."""
    candidates = [(variant, _values_by_type(variant)) for variant in variants]
    if not candidates:
        return None
    types = sorted(
        {value.option_type for _v, named in candidates for value in named.values()},
        key=lambda t: (t.position, t.name),
    )
    for option_type in types:
        if option_type.pk not in wanted:
            continue
        narrowed = [
            (variant, named)
            for variant, named in candidates
            if (value := named.get(option_type.pk)) and value.pk == wanted[option_type.pk]
        ]
        candidates = narrowed or candidates
    return next((v for v, _named in candidates if v.stock > 0), candidates[0][0])


#: Published products' ids by slug as this process found them, for one catalog version
#: (every change of a product, its slug or its publishing moves it): {"version", "ids"}.
_held_ids: dict = {"version": None, "ids": {}}
#: Most slugs held for one version (a product page's address that 404s is never held).
HELD_IDS = 20_000


def held_product_id(*, slug: str) -> tuple[int, int] | None:
    """(id, catalog version) of the product at `slug` as this process last found it: a
    guess, right while that version stands (the product page checks it against the version
    its page read), None if this process has not seen the slug at its last version."""
    product_id = _held_ids["ids"].get(slug)
    return None if product_id is None else (product_id, _held_ids["version"])


def published_product_id(*, slug: str) -> int:
    """The id of the published product at `slug` (404 if none) at the catalog's current
    version: held in this process, else from the cache (read with the versions, in one
    round trip), else 1 query. Page keys use it.

    A slug longer than the field holds names nothing, and is not made a cache key.
    """
    if len(slug) > Product._meta.get_field("slug").max_length:
        raise Http404
    # (id, the catalog's version it was found at): not the bare id earlier code kept under
    # "catalog:product-id:", so that old and new processes sharing a cache never mix them.
    key = f"catalog:product-id-at:{slug}"
    found, versions = cache.read_with_versions(key, [cache.CATALOG_EXCEPT_STOCK])
    version = versions[cache.CATALOG_EXCEPT_STOCK]
    if isinstance(found, tuple) and len(found) == 2 and found[1] == version:
        product_id = found[0]
    else:
        product_id = get_object_or_404(
            Product.objects.published().values_list("pk", flat=True), slug=slug
        )
        django_cache.set(key, (product_id, version), timeout=cache.PAGE_TIMEOUT)
    if _held_ids["version"] != version or len(_held_ids["ids"]) >= HELD_IDS:
        _held_ids.update(version=version, ids={})
    _held_ids["ids"][slug] = product_id
    return product_id


def related_products(product: Product, *, limit: int = 4) -> list[Product]:
    """Best sellers of the same category, in stock first."""
    return list(
        card_queryset()
        .filter(category_id=product.category_id)
        .exclude(pk=product.pk)
        .order_by("-is_featured", "-sold_count", "-pk")[:limit]
    )


# --- Recommendations (catalog.recommendations) ----------------------------------------------


@dataclass
class Recommendations:
    bought_together: list[Product]
    similar: list[Product]


def product_with_category(*, product_id: int) -> Product:
    """The product's id and category alone: what recommendations_for() reads of it."""
    return Product.objects.only("pk", "category_id").get(pk=product_id)


def recommendations_for(*, product: Product, limit: int = SHOWN) -> Recommendations:
    """The products bought with `product`, then similar ones, `limit` in all, published and
    in stock now: one query and the cards' images. A product added since the last rebuild
    (no rows yet) gets the best sellers of its category (one more query)."""
    rows = list(
        card_queryset()
        .filter(recommended_in__product_id=product.pk, stock__gt=0)
        .annotate(recommendation_kind=F("recommended_in__kind"))
        .order_by("recommended_in__rank")[:limit]
    )
    if not rows:
        return Recommendations([], related_products(product, limit=limit))
    bought = RecommendationKind.BOUGHT_TOGETHER
    return Recommendations(
        [p for p in rows if p.recommendation_kind == bought],
        [p for p in rows if p.recommendation_kind != bought],
    )


def recommended_with(*, product_ids: list[int], limit: int = SHOWN) -> list[Product]:
    """Products recommended beside any of `product_ids` (a cart's), not among them, published
    and in stock: those bought with the most of them in the most orders first, then by their
    best rank. One query and the cards' images, however many products are given."""
    if not product_ids:
        return []
    rows = ProductRecommendation.objects.filter(
        product_id__in=product_ids, recommended=OuterRef("pk")
    ).order_by()
    together = (
        rows.filter(kind=RecommendationKind.BOUGHT_TOGETHER)
        .values("recommended")
        .annotate(total=Sum("score"))
        .values("total")
    )
    best_rank = rows.values("recommended").annotate(best=Min("rank")).values("best")
    return list(
        card_queryset()
        .filter(
            pk__in=ProductRecommendation.objects.filter(product_id__in=product_ids).values(
                "recommended_id"
            ),
            stock__gt=0,
        )
        .exclude(pk__in=product_ids)
        .annotate(together=Coalesce(Subquery(together), 0.0), best_rank=Subquery(best_rank))
        .order_by("-together", "best_rank", "-pk")[:limit]
    )


def recently_viewed(
    *, product_ids: list[int], exclude: Iterable[int] = (), limit: int = SHOWN
) -> list[Product]:
    """The first `limit` published products among `product_ids`, in that order, without
    `exclude`."""
    excluded = set(exclude)
    wanted = [pk for pk in product_ids if pk not in excluded]
    if not wanted:
        return []
    found = {p.pk: p for p in card_queryset().filter(pk__in=wanted)}
    return [found[pk] for pk in wanted if pk in found][:limit]


# --- Home -----------------------------------------------------------------------------------


def featured_products(*, limit: int = 8) -> list[Product]:
    return list(card_queryset().filter(is_featured=True).order_by("-sold_count", "-pk")[:limit])


def new_arrivals(*, limit: int = 8) -> list[Product]:
    return list(card_queryset().order_by("-created_at", "-pk")[:limit])


# --- Wishlist -------------------------------------------------------------------------------


def wishlist_for(*, user) -> list[WishlistItem]:
    return list(
        WishlistItem.objects.filter(user=user)
        .select_related("product", "product__brand")
        .prefetch_related(
            Prefetch("product__images", queryset=ProductImage.objects.order_by("position", "pk")),
            Prefetch("product__variants", queryset=Variant.objects.active().order_by("price")),
        )
    )


def wishlisted_product_ids(*, user, product_ids: list[int]) -> set[int]:
    if not user.is_authenticated or not product_ids:
        return set()
    return set(
        WishlistItem.objects.filter(user=user, product_id__in=product_ids).values_list(
            "product_id", flat=True
        )
    )


def get_category(slug: str, tree: CategoryTree) -> Category:
    """An active category (below active ones) from the cached tree; 404 for anything else."""
    try:
        return tree.by_slug[slug]
    except KeyError:
        raise Http404("No such category") from None


# --- The merchant's lists ----------------------------------------------------------------


def with_admin_list_columns(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Products with what the admin's product list shows beside their own columns: the first
    image (see with_first_image()), and the number and highest price of the active
    variants. Each is a correlated subquery on an index (images by product, variants by
    product and activity), so a page of 50 products stays one statement."""
    active = Variant.objects.active().filter(product=OuterRef("pk")).order_by().values("product")
    return with_first_image(queryset, product="pk").annotate(
        variant_count=Coalesce(Subquery(active.annotate(n=Count("pk")).values("n")), 0),
        price_high=Subquery(active.annotate(high=Max("price")).values("high")),
    )
