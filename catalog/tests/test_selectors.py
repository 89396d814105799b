from decimal import Decimal

import pytest

from catalog import selectors
from catalog.selectors import ListingFilters
from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    TagFactory,
    VariantFactory,
)

NO_FILTERS = ListingFilters()


def page(base, filters=NO_FILTERS, sort="newest", limit=50):
    return selectors.listing(base=base, filters=filters, sort=sort, offset=0, limit=limit)


def names(listing):
    return [product.name for product in listing.products]


@pytest.fixture
def shirts():
    """Two shirts in different colours and sizes, and a mug."""
    red = OptionValueFactory(value="Red")
    blue = OptionValueFactory(value="Blue")
    size_s = OptionValueFactory(option_type__name="Size", value="S")
    size_m = OptionValueFactory(option_type__name="Size", value="M")
    acme, zen = BrandFactory(name="Acme"), BrandFactory(name="Zen")
    # Red in S and blue in M: no red M.
    tee = ProductFactory(name="Tee", brand=acme, variants=False)
    VariantFactory(product=tee, price=Decimal("20.00"), option_values=[red, size_s])
    VariantFactory(product=tee, price=Decimal("20.00"), option_values=[blue, size_m])
    polo = ProductFactory(name="Polo", brand=zen, variants=False)
    VariantFactory(product=polo, price=Decimal("40.00"), option_values=[red, size_m])
    mug = ProductFactory(name="Mug", brand=zen, variants__price=Decimal("8.00"), variants__stock=0)
    mug.tags.add(TagFactory(name="Gift"))
    return tee, polo, mug


@pytest.mark.django_db
def test_filters_narrow_by_brand_price_stock_and_tag(shirts):
    base = selectors.card_queryset()
    assert names(page(base, ListingFilters(brands=("zen",)), sort="price")) == ["Mug", "Polo"]
    assert names(page(base, ListingFilters(price_min=Decimal("10"), price_max=Decimal("30")))) == [
        "Tee"
    ]
    assert set(names(page(base, ListingFilters(in_stock=True)))) == {"Tee", "Polo"}
    assert names(page(base, ListingFilters(tags=("gift",)))) == ["Mug"]


@pytest.mark.django_db
def test_chosen_options_must_meet_in_one_variant(shirts):
    red_m = ListingFilters(options=(("colour", ("red",)), ("size", ("m",))))
    assert names(page(selectors.card_queryset(), red_m)) == ["Polo"]
    red_or_blue_in_m = ListingFilters(options=(("colour", ("red", "blue")), ("size", ("m",))))
    assert set(names(page(selectors.card_queryset(), red_or_blue_in_m))) == {"Tee", "Polo"}


@pytest.mark.django_db
def test_facet_counts_apply_every_other_filter_but_their_own(shirts):
    listing = page(selectors.card_queryset(), ListingFilters(brands=("acme",)))
    facets = {
        facet.param: {v.slug: (v.count, v.selected) for v in facet.values}
        for facet in listing.facets
    }
    # Brands count as if no brand were chosen, and say which is chosen.
    assert facets["brand"] == {"acme": (1, True), "zen": (2, False)}
    # Colours count products of the chosen brand only.
    assert facets["colour"] == {"red": (1, False), "blue": (1, False)}


@pytest.mark.django_db
def test_sorts_are_stable_and_ordered(shirts):
    base = selectors.card_queryset()
    assert names(page(base, sort="price")) == ["Mug", "Tee", "Polo"]
    assert names(page(base, sort="-price")) == ["Polo", "Tee", "Mug"]
    first = page(base, sort="best-selling", limit=2)
    second = selectors.listing(
        base=base, filters=ListingFilters(), sort="best-selling", offset=2, limit=2
    )
    # Ties (everything sold 0) are broken by id: pages never repeat or skip a product.
    assert len({*names(first), *names(second)}) == 3


@pytest.mark.django_db
def test_unpublished_products_and_inactive_categories_are_never_listed():
    ProductFactory(name="Hidden", is_published=False)
    ProductFactory(name="Closed", category=CategoryFactory(is_active=False))
    ProductFactory(name="Shown")
    assert names(page(selectors.card_queryset())) == ["Shown"]


@pytest.mark.django_db
def test_category_listing_includes_all_descendants():
    clothing = CategoryFactory(name="Clothing")
    shirts = CategoryFactory(name="Shirts", parent=clothing)
    ProductFactory(name="Oxford", category=shirts)
    ProductFactory(name="Scarf", category=clothing)
    ProductFactory(name="Pan", category=CategoryFactory(name="Kitchen"))
    tree = selectors.category_tree()
    listed = page(selectors.products_in_category(tree.by_slug["clothing"], tree))
    assert set(names(listed)) == {"Oxford", "Scarf"}


@pytest.mark.django_db
def test_category_tree_hides_categories_below_an_inactive_one():
    closed = CategoryFactory(name="Closed", is_active=False)
    CategoryFactory(name="Inside", parent=closed)
    tree = selectors.category_tree()
    assert "inside" not in tree.by_slug and "closed" not in tree.by_slug


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  iphone   15  ", "iphone 15"),
        ("a\x00b\x1fc", "a b c"),
        ("x" * 10_000, "x" * selectors.MAX_QUERY_LENGTH),
        ("💡 lamp", "💡 lamp"),
    ],
)
def test_queries_are_cleaned_of_what_cannot_be_searched(raw, clean):
    assert selectors.clean_query(raw) == clean


@pytest.mark.django_db
def test_search_finds_name_brand_and_description_words():
    ProductFactory(name="Linen Shirt", brand=BrandFactory(name="Fjell"), description="Cool")
    ProductFactory(name="Teapot", description="Holds four cups")
    for query, expected in [("linen", "Linen Shirt"), ("fjell", "Linen Shirt"), ("cups", "Teapot")]:
        products, _order = selectors.search_products(query)
        assert [p.name for p in products] == [expected]


@pytest.mark.django_db
def test_a_misspelt_query_is_corrected_to_a_catalog_word():
    ProductFactory(name="iPhone 15 Pro")
    assert selectors.did_you_mean("iphnoe") == "iphone"
    assert selectors.did_you_mean("iphone") is None


@pytest.mark.django_db
def test_search_ranks_name_matches_first(postgres_only):
    ProductFactory(name="Teapot", description="goes with a kettle")
    ProductFactory(name="Kettle", description="boils water")
    products, order = selectors.search_products("kettle")
    assert [p.name for p in products.order_by(*order)] == ["Kettle", "Teapot"]


@pytest.mark.django_db
def test_ranked_ids_give_the_databases_order_of_relevance(postgres_only):
    """ranked_ids() sorts in memory what the database ordered before: rank, then the best
    selling, then the newest id; ties included."""
    for n in range(6):
        ProductFactory(name=f"Kettle {n}", description="kettle " * (n % 3), sold_count=n % 2)
    ProductFactory(name="Teapot", description="goes with a kettle")
    products, order = selectors.search_products("kettle")
    expected = list(products.order_by(*order).values_list("pk", flat=True))
    assert list(selectors.ranked_ids(products, order)) == expected
    assert sorted(selectors.ranked_ids(products, None)) == sorted(expected)
