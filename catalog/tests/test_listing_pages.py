"""Listing pages that help: chips, removal counts, swatches, the filtered colour's photo."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)
from catalog.tests.test_views import LISTING_BUDGET, WARM_LISTING_BUDGET

#: A listing the filters emptied, in a worker whose index is loaded: no more than any
#: listing (what each removal would list is counted by the index in memory).
EMPTIED_BUDGET = WARM_LISTING_BUDGET


@pytest.fixture
def shirts():
    """Shirts in red and blue (Acme) and green (Zen): 3 red, 2 blue, 1 green."""
    category = CategoryFactory(name="Shirts")
    colour = OptionTypeFactory(name="Colour")
    red = OptionValueFactory(option_type=colour, value="Red", swatch="#b22222")
    blue = OptionValueFactory(option_type=colour, value="Blue", swatch="#1f3a60")
    green = OptionValueFactory(option_type=colour, value="Green")
    acme, zen = BrandFactory(name="Acme"), BrandFactory(name="Zen")
    for n, (brand, values) in enumerate(
        [(acme, [red]), (acme, [red, blue]), (acme, [red, blue]), (zen, [green])]
    ):
        product = ProductFactory(name=f"Shirt {n}", category=category, brand=brand, variants=False)
        for value in values:
            VariantFactory(product=product, price=Decimal(10 + n), option_values=[value])
    return category


@pytest.mark.django_db
def test_chosen_filters_are_chips_that_remove_one_filter_each(
    client, shirts, django_assert_max_num_queries
):
    url = shirts.get_absolute_url()
    with django_assert_max_num_queries(LISTING_BUDGET):
        response = client.get(url, {"colour": ["red", "blue"], "brand": "acme", "sort": "price"})
    html = response.content.decode()
    chips = re.findall(r'class="chip chip--removable" href="([^"]+)"', html)
    assert [c.replace("&amp;", "&") for c in chips] == [
        f"{url}?colour=red&colour=blue&sort=price#results",  # brand removed
        f"{url}?colour=red&brand=acme&sort=price#results",  # blue removed
        f"{url}?colour=blue&brand=acme&sort=price#results",  # red removed
    ]
    assert "Colour: Red" in html and "Brand: Acme" in html
    assert f'class="chip chip--clear" href="{url}?sort=price#results"' in html


@pytest.mark.django_db
def test_filter_form_lands_on_the_results(client, shirts):
    html = client.get(shirts.get_absolute_url()).content.decode()
    assert f'id="listing-form" method="get" action="{shirts.get_absolute_url()}#results"' in html
    assert 'id="results"' in html


@pytest.mark.django_db
def test_a_listing_the_filters_emptied_offers_each_removal_with_its_count(
    client, shirts, django_assert_max_num_queries
):
    client.get(shirts.get_absolute_url())  # the index loaded, as in a running worker
    with django_assert_max_num_queries(EMPTIED_BUDGET):
        html = client.get(
            shirts.get_absolute_url(), {"colour": "green", "brand": "acme", "price_max": "11"}
        ).content.decode()
    assert "No product matches all of the filters you chose." in html
    found = dict(re.findall(r">Remove ([^<]+)</a> — (\d+) results?<", html))
    # Without Acme: the green Zen shirt costs 13, so still nothing; without green: 2 Acme
    # shirts up to 11; without the price: the green one is Zen's, nothing.
    assert found == {"Brand: Acme": "0", "Colour: Green": "2", "Price: up to $11.00": "0"}


@pytest.mark.django_db
def test_colour_filter_draws_swatches_where_the_merchant_gave_them(
    client, shirts, django_assert_max_num_queries
):
    with django_assert_max_num_queries(LISTING_BUDGET):
        html = client.get(shirts.get_absolute_url()).content.decode()
    assert html.count('<svg class="swatch"') == 2
    assert 'fill="#b22222"' in html and 'fill="#1f3a60"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 6])
def test_a_card_shows_the_photo_of_the_filtered_colour(
    client, settings, tmp_path, count, django_assert_max_num_queries
):
    settings.MEDIA_ROOT = tmp_path
    category = CategoryFactory(name="Tees")
    colour = OptionTypeFactory(name="Colour")
    red = OptionValueFactory(option_type=colour, value="Red")
    blue = OptionValueFactory(option_type=colour, value="Blue")
    for n in range(count):
        product = ProductFactory(name=f"Tee {n}", category=category, variants=False)
        for value in (blue, red):
            VariantFactory(product=product, option_values=[value])
            image = ProductImageFactory(product=product, alt_text=f"{value.value} {n}")
            image.option_values.set([value])
    client.get(category.get_absolute_url())
    with django_assert_max_num_queries(LISTING_BUDGET):
        html = client.get(category.get_absolute_url(), {"colour": "red"}).content.decode()
    red_files = [image.card.url for image in red.images.all()]
    blue_files = [image.card.url for image in blue.images.all()]
    assert all(url in html for url in red_files)
    assert not any(url in html for url in blue_files)
    unfiltered = client.get(category.get_absolute_url()).content.decode()
    assert all(url in unfiltered for url in blue_files)  # the first picture, as before


@pytest.mark.django_db
@pytest.mark.parametrize("swatch", ["red", "#b2222", "#gggggg", "b22222"])
def test_a_swatch_must_be_a_hex_colour(swatch):
    value = OptionValueFactory(value="Red")
    value.swatch = swatch
    with pytest.raises(ValidationError) as error:
        value.full_clean()
    assert "swatch" in error.value.message_dict
