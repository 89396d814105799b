"""The listing index (catalog.facets) follows the catalog without being told twice: every
change the services make reaches each worker's index through the journal."""

from decimal import Decimal

import pytest

from catalog import facets, services
from catalog.models import Product, ProductChange
from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    TagFactory,
    VariantFactory,
)


def ask(category, **filters) -> facets.Answer:
    return facets.answer(facets.Question(category_ids=(category.pk,), **filters))


@pytest.fixture
def shop():
    category = CategoryFactory(name="Shirts")
    red = OptionValueFactory(option_type__name="Colour", value="Red")
    size_m = OptionValueFactory(option_type__name="Size", value="M")
    shirt = ProductFactory(name="Shirt", category=category, variants=False)
    variant = VariantFactory(
        product=shirt, price=Decimal("20.00"), stock=2, option_values=[red, size_m]
    )
    return category, shirt, variant, red, size_m


def red_m(red, size_m, **more) -> dict:
    return {
        "options": (
            facets.OptionChoice(red.option_type_id, (red.pk,)),
            facets.OptionChoice(size_m.option_type_id, (size_m.pk,)),
        ),
        **more,
    }


@pytest.mark.django_db
def test_the_index_follows_stock_prices_publication_tags_and_new_products(shop):
    category, shirt, variant, red, size_m = shop
    assert ask(category, **red_m(red, size_m, in_stock=True)).page == [shirt.pk]
    loaded = facets.current_index()

    services.take_stock(quantities={variant.pk: 2})  # sold out
    assert ask(category, **red_m(red, size_m, in_stock=True)).total == 0
    assert ask(category, **red_m(red, size_m)).options == {red.pk: 1, size_m.pk: 1}
    services.return_stock(quantities={variant.pk: 1})
    assert ask(category, **red_m(red, size_m, in_stock=True)).page == [shirt.pk]

    variant.price = Decimal("35.00")
    variant.save()
    services.refresh_products(product_ids=[shirt.pk])
    assert ask(category, price_max=Decimal("30")).total == 0
    assert ask(category, price_min=Decimal("35")).page == [shirt.pk]

    tag = TagFactory(name="Gift")
    shirt.tags.add(tag)
    shirt.brand = BrandFactory(name="Acme")
    shirt.save()
    services.refresh_products(product_ids=[shirt.pk])
    found = ask(category, tag_ids=(tag.pk,))
    assert found.page == [shirt.pk] and found.brands == {shirt.brand_id: 1}

    other = ProductFactory(name="Polo", category=category, variants=False)
    VariantFactory(product=other, price=Decimal("5.00"), stock=1, option_values=[red])
    assert ask(category, sort="price").page == [other.pk, shirt.pk]

    services.set_published(product_ids=[shirt.pk], published=False)
    assert ask(category).page == [other.pk]
    services.set_published(product_ids=[shirt.pk], published=True)
    assert ask(category, sort="-price").page == [shirt.pk, other.pk]

    Product.objects.get(pk=other.pk).delete()
    assert ask(category).page == [shirt.pk]
    # All of it by reading the changed products again, never the whole catalog.
    assert facets.current_index().built_at == loaded.built_at


@pytest.mark.django_db
def test_sales_and_ratings_move_the_sort_without_touching_the_rows(shop):
    category, shirt, variant, red, _size_m = shop
    other = ProductFactory(name="Polo", category=category, variants=False)
    VariantFactory(product=other, price=Decimal("5.00"), stock=5, option_values=[red])
    services.record_sales(quantities={variant.pk: 1})
    assert ask(category, sort="best-selling").page == [shirt.pk, other.pk]
    rows = facets.current_index().rows
    services.record_sales(quantities={other.variants.get().pk: 3})
    assert ask(category, sort="best-selling").page == [other.pk, shirt.pk]
    # Only the sort keys moved: the facet rows were kept as they were.
    assert facets.current_index().rows is rows


@pytest.mark.django_db
def test_a_rebuild_of_every_facet_row_reloads_the_whole_index(shop):
    category, shirt, *_ = shop
    before = facets.current_index()
    services.rebuild_product_facets()
    assert facets.current_index() is not before
    assert ask(category).page == [shirt.pk]


def test_journal_ids_of_transactions_still_open_are_asked_for_until_they_show_up():
    journal = facets.Journal(seen=10)
    assert journal.note([11, 14], now=0)
    assert journal.seen == 14 and set(journal.gaps) == {12, 13}
    assert journal.note([13], now=5)
    assert set(journal.gaps) == {12}
    # A transaction that never commits: forgotten after GAP_PATIENCE.
    assert journal.note([], now=facets.GAP_PATIENCE + 1)
    assert journal.gaps == {}
    # More missing than worth asking for one by one: rebuild instead.
    assert not journal.note([14 + facets.GAP_WINDOW + 2], now=0)


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_late_with_a_lower_journal_id_is_not_missed(shop):
    """Two transactions: the one holding the lower journal id commits second."""
    category, shirt, _variant, _red, _size_m = shop
    facets.current_index()
    first = ProductChange.objects.create(product_id=None).pk  # a "lower" id, still unread
    ProductChange.objects.filter(pk=first).delete()  # ... as if not committed yet
    later = ProductFactory(name="Later", category=category)
    assert later.pk in ask(category).page
    assert first in facets._state[1].gaps
    # The late transaction commits now: its change is read through the gap.
    Product.objects.filter(pk=shirt.pk).update(is_published=False)
    ProductChange.objects.create(pk=first, product_id=shirt.pk)
    assert ask(category).page == [later.pk]


@pytest.mark.django_db
def test_old_journal_rows_are_pruned():
    ProductChange.objects.create(product_id=1)
    old = ProductChange.objects.create(product_id=2)
    ProductChange.objects.filter(pk=old.pk).update(changed_at="2020-01-01T00:00:00Z")
    assert services.prune_product_changes() == 1
    assert list(ProductChange.objects.values_list("product_id", flat=True)) == [1]


@pytest.mark.django_db
def test_a_search_of_few_products_counts_from_their_own_rows_as_from_every_row(monkeypatch):
    category = CategoryFactory(name="Shirts")
    colours = [OptionValueFactory(option_type__name="Colour", value=v) for v in ("Red", "Blue")]
    sizes = [OptionValueFactory(option_type__name="Size", value=v) for v in ("S", "M", "L")]
    brands = [BrandFactory(name="Acme"), BrandFactory(name="Fjell")]
    tag = TagFactory(name="Gift")
    products = []
    for n in range(12):
        product = ProductFactory(
            name=f"Shirt {n}", category=category, brand=brands[n % 2], variants=False
        )
        for i, size in enumerate(sizes[: 1 + n % 3]):
            VariantFactory(
                product=product,
                price=Decimal(10 + n),
                stock=(n + i) % 3,
                option_values=[colours[(n + i) % 2], size],
            )
        if n % 4 == 0:
            product.tags.add(tag)
        products.append(product)
    services.refresh_products(product_ids=[p.pk for p in products])
    red_or_blue = facets.OptionChoice(colours[0].option_type_id, tuple(c.pk for c in colours))
    questions = [
        {},
        {"in_stock": True},
        {"options": (facets.OptionChoice(sizes[0].option_type_id, (sizes[1].pk,)),)},
        {"options": (red_or_blue,), "brand_ids": (brands[0].pk,), "price_max": Decimal(18)},
        {"tag_ids": (tag.pk,), "sort": "price"},
    ]

    def answers(few: int, candidates: list[Product]) -> list[facets.Answer]:
        monkeypatch.setattr(facets, "FEW_CANDIDATES", few)
        ids = [p.pk for p in candidates]
        return [
            facets.answer(
                facets.Question(category_ids=(category.pk,), candidate_ids=ids, **question)
            )
            for question in questions
        ]

    for candidates in (products[:1], products[3:5], products[::5], products[7:]):
        own_rows = answers(1, candidates)  # any number under the whole catalog is few
        every_row = answers(10**9, candidates)  # never few: every row, as before
        assert own_rows == every_row
        assert own_rows[0].total == len(candidates) and own_rows[0].options
