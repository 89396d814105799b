"""Pictures of a variant: an image names the options it shows (a colour), the merchant sets
them on the product page, and the product page puts the chosen variant's pictures first."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.tests.factories import (
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)
from catalog.tests.test_admin import _inline, _variant_row
from catalog.tests.test_views import PRODUCT_BUDGET

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def tee():
    """A tee in red and blue, each in S and M, with a picture of the whole tee, one of the
    blue and one of the red."""
    colour, size = OptionTypeFactory(name="Colour"), OptionTypeFactory(name="Size")
    red = OptionValueFactory(option_type=colour, value="Red")
    blue = OptionValueFactory(option_type=colour, value="Blue")
    small = OptionValueFactory(option_type=size, value="S")
    medium = OptionValueFactory(option_type=size, value="M")
    product = ProductFactory(name="Tee", variants=False)
    variants = {
        (c.value, s.value): VariantFactory(
            product=product, price=Decimal("20.00"), option_values=[c, s]
        )
        for c in (red, blue)
        for s in (small, medium)
    }
    whole = ProductImageFactory(product=product, alt_text="The tee", position=0)
    of_blue = ProductImageFactory(product=product, alt_text="Blue tee", position=1)
    of_blue.option_values.set([blue])
    of_red = ProductImageFactory(product=product, alt_text="Red tee", position=2)
    of_red.option_values.set([red])
    return product, variants, {"whole": whole, "blue": of_blue, "red": of_red}


def _gallery(html: str) -> list[str]:
    main = re.search(r'id="main-image"[^>]*alt="([^"]*)"', html).group(1)
    thumbs = re.findall(r'class="js-thumbnail" data-alt="([^"]*)"', html)
    return [main, *thumbs]


def test_the_chosen_variants_pictures_come_first(client, tee, django_assert_max_num_queries):
    product, variants, _images = tee
    url = product.get_absolute_url()
    # The budget of a product page, plus the option values its pictures show.
    with django_assert_max_num_queries(PRODUCT_BUDGET + 1):
        blue_m = client.get(url, {"variant": variants["Blue", "M"].pk}).content.decode()
    assert _gallery(blue_m) == ["Blue tee", "Blue tee", "The tee", "Red tee"]
    red_s = client.get(url, {"variant": variants["Red", "S"].pk}).content.decode()
    assert _gallery(red_s) == ["Red tee", "Red tee", "The tee", "Blue tee"]
    # The default choice (the first in stock: red S) too; og:image stays the first picture.
    default = client.get(url).content.decode()
    assert _gallery(default)[0] == "Red tee"
    og = re.search(r'property="og:image" content="([^"]*)"', default).group(1)
    assert og.endswith(_images["whole"].large.url)


def test_pictures_naming_no_option_keep_the_merchants_order(client):
    product = ProductFactory(name="Lamp")
    for n in range(3):
        ProductImageFactory(product=product, alt_text=f"Lamp {n}", position=n)
    html = client.get(product.get_absolute_url()).content.decode()
    assert _gallery(html) == ["Lamp 0", "Lamp 0", "Lamp 1", "Lamp 2"]


def test_the_page_says_which_options_each_picture_shows_for_the_script(client, tee):
    product, variants, images = tee
    html = client.get(product.get_absolute_url()).content.decode()
    blue = images["blue"].option_values.get()
    assert f'data-shows="{blue.pk} "' in html
    values = ", ".join(str(v.pk) for v in variants["Blue", "M"].option_values.all())
    assert f'{{"id": {variants["Blue", "M"].pk}, "values": [{values}]' in html


def test_the_merchant_names_the_colour_a_picture_shows_and_the_page_follows(
    admin_client, tee, django_capture_on_commit_callbacks
):
    product, variants, images = tee
    url = product.get_absolute_url()
    blue_m = variants["Blue", "M"]
    html = admin_client.get(url, {"variant": blue_m.pk}).content.decode()  # cached now
    assert _gallery(html)[0] == "Blue tee"
    red = images["red"].option_values.get()
    variant_rows = [
        _variant_row(
            v.sku,
            "20.00",
            loaded="10",
            id=str(v.pk),
            product=str(product.pk),
            option_values=[str(o.pk) for o in v.option_values.all()],
        )
        for v in variants.values()
    ]
    image_rows = [
        {
            "id": str(image.pk),
            "product": str(product.pk),
            "alt_text": image.alt_text,
            "position": str(image.position),
            # The "whole tee" picture now shows red; the blue one names nothing any more.
            "option_values": [str(red.pk)] if key == "whole" else [],
        }
        for key, image in images.items()
        if key != "red"
    ]
    data = {
        "name": product.name,
        "slug": product.slug,
        "category": str(product.category_id),
        "description": "",
        "is_published": "on",
        **_inline("variants", variant_rows, initial=len(variant_rows)),
        **_inline("images", image_rows, initial=len(image_rows)),
        **_inline("specifications", []),
    }
    data = {key: value for key, value in data.items() if value != []}
    with django_capture_on_commit_callbacks(execute=True):  # the cache bumps on commit
        response = admin_client.post(
            reverse("admin:catalog_product_change", args=[product.pk]), data
        )
    assert response.status_code == 302, response.context["errors"]
    assert list(images["whole"].option_values.all()) == [red]
    assert not images["blue"].option_values.exists()
    # The cached page of the blue variant was invalidated: the blue picture is no longer first.
    html = admin_client.get(url, {"variant": blue_m.pk}).content.decode()
    assert _gallery(html)[:2] == ["The tee", "The tee"]  # nothing shows blue now
    html = admin_client.get(url, {"variant": variants["Red", "M"].pk}).content.decode()
    assert _gallery(html)[:2] == ["The tee", "The tee"]


def test_the_image_inline_offers_option_values_by_autocomplete(admin_client, tee):
    product, _variants, _images = tee
    page = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    html = page.content.decode()
    assert 'name="images-0-option_values"' in html and "admin-autocomplete" in html
