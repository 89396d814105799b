"""Every facet count under every combination of one and two filters, against brute force.

The rules (catalog/facets.py, README "Filters and counts"): values of one facet are
alternatives, facets combine with AND; brand, tag and price are the product's, options and
stock one variant's; each facet counts under every other active filter but its own.
"""

import itertools
from decimal import Decimal

import pytest

from catalog import selectors, services
from catalog.models import Product, ProductOption, Variant
from catalog.selectors import ListingFilters
from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    TagFactory,
    VariantFactory,
)

OPTION_TYPES = {
    "colour": ("Colour", ["Red", "Blue", "Green"]),
    "size": ("Size", ["S", "M", "L"]),
    "material": ("Material", ["Cotton", "Wool"]),
}


@pytest.fixture
def catalog():
    """Shirts with three option types, in a category tree with hidden corners."""
    values = {
        slug: {v.lower(): OptionValueFactory(option_type__name=name, value=v) for v in names}
        for slug, (name, names) in OPTION_TYPES.items()
    }
    colour, size, material = values["colour"], values["size"], values["material"]
    clothes = CategoryFactory(name="Clothes")
    shirts = CategoryFactory(name="Shirts", parent=clothes)
    other = CategoryFactory(name="Other")
    closed = CategoryFactory(name="Closed", parent=clothes, is_active=False)
    hidden_parent = CategoryFactory(name="Hidden parent", is_active=False)
    under_hidden = CategoryFactory(name="Under hidden", parent=hidden_parent)
    acme, zen = BrandFactory(name="Acme"), BrandFactory(name="Zen")
    gift, eco = TagFactory(name="Gift"), TagFactory(name="Eco")

    def product(name, category, brand, variants, *, tags=(), published=True):
        item = ProductFactory(
            name=name, category=category, brand=brand, variants=False, is_published=published
        )
        item.tags.set(tags)
        for price, stock, options, *active in variants:
            VariantFactory(
                product=item,
                price=Decimal(price),
                stock=stock,
                option_values=options,
                is_active=bool(active[0]) if active else True,
            )
        return item

    # Red in S and blue in M (out of stock): red M is not for sale here.
    product("Tee", shirts, acme, [(10, 5, [colour["red"], size["s"]]),
                                  (10, 0, [colour["blue"], size["m"]])])  # fmt: skip
    product("Polo", shirts, zen, [(20, 3, [colour["red"], size["m"], material["cotton"]]),
                                  (25, 0, [colour["red"], size["l"], material["wool"]])],
            tags=[gift])  # fmt: skip
    product("Oxford", clothes, acme, [(30, 2, [colour["green"], size["s"], material["cotton"]]),
                                      (30, 4, [colour["green"], size["m"], material["wool"]]),
                                      (35, 1, [colour["blue"], size["l"], material["cotton"]])],
            tags=[gift, eco])  # fmt: skip
    product("Scarf", clothes, None, [(15, 0, [])])
    product("Linen", shirts, zen, [(40, 2, [colour["red"], size["s"]]),
                                   (40, 2, [colour["red"], size["m"]]),
                                   (40, 9, [colour["red"], size["l"]]),
                                   (40, 9, [colour["blue"], size["s"]], False)],
            tags=[eco])  # fmt: skip
    product("Draft", shirts, acme, [(20, 5, [colour["red"], size["m"]])], published=False)
    product("Closed tee", closed, acme, [(20, 5, [colour["red"], size["m"]])])
    product("Mug", other, zen, [(12, 3, [colour["blue"]])], tags=[gift])
    product("Hidden tee", under_hidden, acme, [(18, 1, [colour["green"], size["l"]])])
    # 70 variants: more than one block of 63. Only variants 63 and up are in stock.
    big = ProductFactory(name="Big", category=shirts, brand=acme, variants=False)
    combos = list(itertools.product(colour.values(), size.values(), material.values()))
    made = Variant.objects.bulk_create(
        [
            Variant(product=big, sku=f"BIG-{n}", price=Decimal(50), stock=1 if n >= 63 else 0)
            for n in range(70)
        ]
    )
    Variant.option_values.through.objects.bulk_create(
        [
            Variant.option_values.through(variant=variant, optionvalue=value)
            for n, variant in enumerate(made)
            for value in combos[n % len(combos)]
        ]
    )
    services.refresh_products(product_ids=[big.pk])
    return clothes


ATOMS = [
    ("brand", "acme"),
    ("brand", "zen"),
    ("brand", "acme|zen"),
    ("colour", "red"),
    ("colour", "blue"),
    ("colour", "green"),
    ("colour", "red|blue"),
    ("size", "s"),
    ("size", "m"),
    ("size", "l"),
    ("size", "m|l"),
    ("material", "cotton"),
    ("material", "wool"),
    ("tag", "gift"),
    ("tag", "eco"),
    ("in_stock", ""),
    ("price_min", "20"),
    ("price_max", "30"),
]


def filters_of(atoms) -> ListingFilters:
    chosen: dict[str, set[str]] = {}
    price_min = price_max = None
    in_stock = False
    for param, value in atoms:
        if param == "in_stock":
            in_stock = True
        elif param == "price_min":
            price_min = Decimal(value)
        elif param == "price_max":
            price_max = Decimal(value)
        else:
            chosen.setdefault(param, set()).update(value.split("|"))
    return ListingFilters(
        brands=tuple(sorted(chosen.get("brand", ()))),
        tags=tuple(sorted(chosen.get("tag", ()))),
        options=tuple(
            (slug, tuple(sorted(chosen[slug]))) for slug in OPTION_TYPES if slug in chosen
        ),
        price_min=price_min,
        price_max=price_max,
        in_stock=in_stock,
    )


class BruteForce:
    """The rules, in plain Python over every product and variant."""

    def __init__(self, product_ids: set[int]):
        self.products = {}
        for product in Product.objects.filter(pk__in=product_ids).prefetch_related(
            "tags", "variants__option_values__option_type"
        ):
            variants = [
                (
                    v.stock > 0,
                    {ov.option_type.slug: ov.slug for ov in v.option_values.all()},
                )
                for v in product.variants.all()
                if v.is_active
            ]
            self.products[product.pk] = {
                "brand": product.brand.slug if product.brand else None,
                "brand_name": product.brand.name if product.brand else None,
                "tags": {t.slug: t.name for t in product.tags.all()},
                "price": product.price,
                "variants": variants,
            }

    def matches(self, p: dict, f: ListingFilters) -> bool:
        if f.brands and p["brand"] not in f.brands:
            return False
        if f.tags and not set(f.tags) & set(p["tags"]):
            return False
        if f.price_min is not None and p["price"] < f.price_min:
            return False
        if f.price_max is not None and p["price"] > f.price_max:
            return False
        if f.options or f.in_stock:
            return any(
                (in_stock or not f.in_stock)
                and all(values.get(slug) in chosen for slug, chosen in f.options)
                for in_stock, values in p["variants"]
            )
        return True

    def count(self, f: ListingFilters) -> int:
        return sum(self.matches(p, f) for p in self.products.values())

    def facets(self, f: ListingFilters) -> dict[str, dict[str, int]]:
        expected: dict[str, dict[str, int]] = {}
        brands = {p["brand"] for p in self.products.values() if p["brand"]} | set(f.brands)
        expected["brand"] = self._values(
            brands, f.brands, lambda b: self.count(_with(f, brands=(b,)))
        )
        tags = {t for p in self.products.values() for t in p["tags"]} | set(f.tags)
        expected["tag"] = self._values(tags, f.tags, lambda t: self.count(_with(f, tags=(t,))))
        chosen = dict(f.options)
        for slug in OPTION_TYPES:
            offered = {
                v[slug] for p in self.products.values() for _, v in p["variants"] if slug in v
            }
            options = {**chosen}
            expected[slug] = self._values(
                offered | set(chosen.get(slug, ())),
                chosen.get(slug, ()),
                lambda value, slug=slug, options=options: self.count(
                    _with(f, options=tuple({**options, slug: (value,)}.items()))
                ),
            )
        return {param: values for param, values in expected.items() if values}

    @staticmethod
    def _values(candidates, selected, count) -> dict[str, int]:
        counted = {value: count(value) for value in candidates}
        return {v: n for v, n in counted.items() if n or v in selected}


def _with(f: ListingFilters, **changes) -> ListingFilters:
    from dataclasses import replace

    return replace(f, **changes)


def shown(listing) -> dict[str, dict[str, int]]:
    return {facet.param: {v.slug: v.count for v in facet.values} for facet in listing.facets}


def check_every_combination(*, base, category_ids, expected: BruteForce, combinations):
    for atoms in combinations:
        filters = filters_of(atoms)
        listing = selectors.listing(
            base=base, filters=filters, sort="price", offset=0, limit=100, category_ids=category_ids
        )
        listed = {product.pk for product in listing.products}
        keys = [(product.price, product.pk) for product in listing.products]
        assert keys == sorted(keys), atoms
        wanted = {pk for pk, p in expected.products.items() if expected.matches(p, filters)}
        assert listed == wanted, atoms
        assert listing.count == len(wanted), atoms
        assert shown(listing) == expected.facets(filters), atoms


def one_and_two(atoms):
    return [(a,) for a in atoms] + list(itertools.combinations(atoms, 2))


@pytest.mark.django_db
def test_every_facet_count_under_one_and_two_filters_in_a_category(catalog):
    tree = selectors.category_tree()
    clothes = tree.by_slug["clothes"]
    base = selectors.products_in_category(clothes, tree)
    expected = BruteForce(set(base.values_list("pk", flat=True)))
    assert {p for p in expected.products} == set(
        Product.objects.filter(
            name__in=["Tee", "Polo", "Oxford", "Scarf", "Linen", "Big"]
        ).values_list("pk", flat=True)
    )
    check_every_combination(
        base=base,
        category_ids=tree.subtree_ids(clothes),
        expected=expected,
        combinations=one_and_two(ATOMS),
    )


@pytest.mark.django_db
def test_every_facet_count_under_one_and_two_filters_over_all_products(catalog):
    tree = selectors.category_tree()
    base = selectors.card_queryset()
    expected = BruteForce(set(base.values_list("pk", flat=True)))
    # An active category below an inactive one is still listed among all products.
    assert Product.objects.get(name="Hidden tee").pk in expected.products
    check_every_combination(
        base=base,
        category_ids=tree.active_ids,
        expected=expected,
        combinations=one_and_two(ATOMS),
    )


@pytest.mark.django_db
def test_facet_counts_of_a_search_read_its_own_products(catalog):
    base, _order = selectors.search_products("tee")
    expected = BruteForce(set(base.values_list("pk", flat=True)))
    assert len(expected.products) == 2  # Tee and Hidden tee
    check_every_combination(
        base=base, category_ids=None, expected=expected, combinations=[(a,) for a in ATOMS]
    )


@pytest.mark.django_db
def test_red_and_m_means_one_variant_both_red_and_m(catalog):
    tree = selectors.category_tree()
    clothes = tree.by_slug["clothes"]
    base = selectors.products_in_category(clothes, tree)
    red_m = filters_of([("colour", "red"), ("size", "m")])
    names = {p.name for p in selectors.listing(
        base=base, filters=red_m, sort="price", offset=0, limit=50,
        category_ids=tree.subtree_ids(clothes),
    ).products}  # fmt: skip
    # Tee is red in S and blue in M: not listed.
    assert names == {"Polo", "Linen", "Big"}
    in_stock = filters_of([("colour", "red"), ("size", "m"), ("in_stock", "")])
    listing = selectors.listing(
        base=base, filters=in_stock, sort="price", offset=0, limit=50,
        category_ids=tree.subtree_ids(clothes),
    )  # fmt: skip
    # Big's red M variants are all in its first 63, none in stock.
    assert {p.name for p in listing.products} == {"Polo", "Linen"}


@pytest.mark.django_db
def test_a_product_with_more_than_63_variants_has_a_row_per_block(catalog):
    big = Product.objects.get(name="Big")
    rows = ProductOption.objects.filter(product=big)
    assert set(rows.values_list("chunk", flat=True)) == {0, 1}
    assert all(rows.values_list("spans_chunks", flat=True))
    # Only variants 63 and up are in stock: the second block's.
    in_stock = rows.exclude(in_stock_variants=0)
    assert set(in_stock.values_list("chunk", flat=True)) == {1}


@pytest.mark.django_db
def test_facet_rows_follow_stock_options_prices_and_publication():
    red = OptionValueFactory(value="Red")
    size_m = OptionValueFactory(option_type__name="Size", value="M")
    shirt = ProductFactory(name="Shirt", variants=False)
    variant = VariantFactory(product=shirt, price=Decimal("20.00"), option_values=[red, size_m])

    def rows():
        return set(
            ProductOption.objects.filter(product=shirt).values_list(
                "option_value__slug", "in_stock_variants"
            )
        )

    assert rows() == {("red", 1), ("m", 1)}
    variant.refresh_from_db()
    services.count_stock(variant_id=variant.pk, counted=0, expected=variant.stock)
    assert rows() == {("red", 0), ("m", 0)}
    services.return_stock(quantities={variant.pk: 2})
    assert {n for _, n in rows()} == {1}
    services.take_stock(quantities={variant.pk: 2})
    assert {n for _, n in rows()} == {0}
    Variant.objects.filter(pk=variant.pk).update(price=Decimal("15.00"))
    variant.option_values.remove(size_m)
    services.refresh_products(product_ids=[shirt.pk])
    assert rows() == {("red", 0)}
    services.set_published(product_ids=[shirt.pk], published=False)
    assert rows() == set()
    services.set_published(product_ids=[shirt.pk], published=True)
    assert rows() == {("red", 0)}
    Variant.objects.filter(pk=variant.pk).update(is_active=False)
    services.refresh_products(product_ids=[shirt.pk])
    assert rows() == set()


@pytest.mark.django_db
def test_rebuild_makes_the_same_rows_as_the_services(catalog):
    def snapshot():
        return sorted(
            ProductOption.objects.values_list(
                "product_id",
                "option_value_id",
                "chunk",
                "variants",
                "in_stock_variants",
                "spans_chunks",
            )
        )

    before = snapshot()
    ProductOption.objects.all().delete()
    assert services.rebuild_product_facets() == len(before)
    assert snapshot() == before
