"""The product page's options: a group per option type (colour swatches, size buttons), a
combination that does not exist shown disabled and one sold out crossed, the chosen
variant in the address (?variant=, or ?colour=&size= from the form without JavaScript,
redirected to it), bad addresses answered with the default variant; the delivery estimate
and the returns line beside the buy box."""

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache as django_cache

from catalog import cache, views
from catalog.tests.factories import (
    JACKET_STOCK,
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)
from catalog.tests.test_views import PRODUCT_BUDGET
from orders.models import ShippingMethod
from orders.selectors import standard_delivery
from orders.tests.factories import ShippingMethodFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def jacket():
    """A jacket in red (S, M, L sold out), navy (S, M sold out; no L) and sand (M, sold out),
    with a picture of the whole jacket, one of the red and one of the navy."""
    colour = OptionTypeFactory(name="Colour", position=0)
    size = OptionTypeFactory(name="Size", position=1)
    red = OptionValueFactory(option_type=colour, value="Red", position=0, swatch="#b22222")
    navy = OptionValueFactory(option_type=colour, value="Navy", position=1, swatch="#1f3a60")
    sand = OptionValueFactory(option_type=colour, value="Sand", position=2, swatch="#d6be96")
    sizes = {
        name: OptionValueFactory(option_type=size, value=name, position=i)
        for i, name in enumerate(["S", "M", "L"])
    }
    product = ProductFactory(name="Field Jacket", variants=False)
    colours = {"Red": red, "Navy": navy, "Sand": sand}
    variants = {
        key: VariantFactory(
            product=product,
            sku=f"JKT-{key[0]}-{key[1]}",
            price=Decimal("89.00") if key[0] == "Navy" else Decimal("79.00"),
            stock=units,
            option_values=[colours[key[0]], sizes[key[1]]],
        )
        for key, units in JACKET_STOCK.items()
    }
    ProductImageFactory(product=product, alt_text="The jacket", position=0)
    ProductImageFactory(product=product, alt_text="Red jacket", position=1).option_values.set([red])
    ProductImageFactory(product=product, alt_text="Navy jacket", position=2).option_values.set(
        [navy]
    )
    return product, variants, {"colour": colours, "size": sizes}


def _one_line(response) -> str:
    return response.content.decode().replace("\n", " ")


def _option(html: str, value) -> str:
    """The radio and label of one option value."""
    return re.search(rf'<input type="radio"[^>]*id="option-{value.pk}".*?</label>', html).group(0)


def test_options_are_swatches_and_buttons_marked_for_the_chosen_variant(
    client, jacket, django_assert_max_num_queries
):
    product, variants, values = jacket
    # The budget of a product page, plus the option values its pictures show: the same for
    # six variants and three pictures as for one (nothing per variant or picture).
    with django_assert_max_num_queries(PRODUCT_BUDGET + 1):
        response = client.get(product.get_absolute_url())
    html = _one_line(response)
    # The default: the first variant in stock, red S.
    assert f'name="variant" value="{variants["Red", "S"].pk}"' in html
    assert 'class="option-group option-group--swatches"' in html
    assert 'class="option-group option-group--buttons"' in html
    red, navy, sand = (values["colour"][name] for name in ("Red", "Navy", "Sand"))
    # A colour with a picture shows it; one without, its colour.
    assert "<img" in _option(html, red) and "<img" in _option(html, navy)
    assert 'fill="#d6be96"' in _option(html, sand)
    assert "checked" in _option(html, red)
    # Sand exists but is sold out in every size: crossed, still choosable.
    assert "option__label--sold_out" in _option(html, sand)
    assert "disabled" not in _option(html, sand)
    # Given red: S and M in stock, L sold out.
    small, medium, large = (values["size"][name] for name in ("S", "M", "L"))
    assert "option__label--available" in _option(html, small)
    assert "option__label--available" in _option(html, medium)
    assert "option__label--sold_out" in _option(html, large)
    assert "(sold out)" in _option(html, large)
    assert "Delivery" not in html  # no shipping method has delivery days


def test_the_chosen_variant_by_address_shows_its_price_pictures_and_missing_sizes(client, jacket):
    product, variants, values = jacket
    navy_s = variants["Navy", "S"]
    html = _one_line(client.get(product.get_absolute_url(), {"variant": navy_s.pk}))
    assert f'name="variant" value="{navy_s.pk}"' in html
    assert f'name="next" value="{product.get_absolute_url()}?variant={navy_s.pk}"' in html
    assert re.search(r'class="price__now">\$89\.00<', html)
    assert re.search(r'id="main-image"[^>]*alt="Navy jacket"', html)
    assert "checked" in _option(html, values["colour"]["Navy"])
    # Navy comes in no L: disabled; navy M exists but is sold out: crossed, choosable.
    large, medium = values["size"]["L"], values["size"]["M"]
    assert "disabled" in _option(html, large)
    assert "option__label--unavailable" in _option(html, large)
    assert "(not available)" in _option(html, large)
    assert "disabled" not in _option(html, medium)
    assert "option__label--sold_out" in _option(html, medium)
    # A sold-out variant can be looked at, not bought.
    navy_m = variants["Navy", "M"]
    html = _one_line(client.get(product.get_absolute_url(), {"variant": navy_m.pk}))
    assert re.search(r'<button type="submit" class="button buy-form__submit"[^>]*disabled', html)
    assert 'id="chosen-stock" class="stock stock--out"' in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"colour": "navy", "size": "m"}, ("Navy", "M")),  # exactly, even sold out
        ({"colour": "navy", "size": "l"}, ("Navy", "S")),  # no navy L: navy, in stock
        ({"colour": "sand"}, ("Sand", "M")),  # the only sand, sold out
        ({"size": "m"}, ("Red", "M")),  # the first colour in stock in M
        ({"colour": "navy", "size": "xxl"}, ("Navy", "S")),  # an unknown size is left out
        ({"colour": "navy", "variant": "1"}, ("Navy", "S")),  # options win over ?variant=
    ],
)
def test_the_option_form_without_javascript_redirects_to_the_variant(
    client, jacket, params, expected
):
    product, variants, _values = jacket
    response = client.get(product.get_absolute_url(), params)
    assert response.status_code == 302
    assert response["Location"] == f"{product.get_absolute_url()}?variant={variants[expected].pk}"


@pytest.mark.parametrize(
    "params",
    [
        {"variant": "abc"},
        {"variant": "-1"},
        {"variant": "9" * 40},
        {"variant": "999999"},  # no such variant
        {"variant": "1e3"},
        {"colour": "purple"},  # no such colour: nothing to resolve
        {"colour": ""},
        {"utm_source": "mail"},
    ],
)
def test_bad_addresses_show_the_default_variant(client, jacket, params):
    product, variants, _values = jacket
    response = client.get(product.get_absolute_url(), params)
    assert response.status_code == 200
    assert f'name="variant" value="{variants["Red", "S"].pk}"' in response.content.decode()


def test_another_products_variant_shows_the_default_and_is_not_cached(
    client, jacket, django_assert_max_num_queries
):
    product, variants, _values = jacket
    other = ProductFactory(name="Lamp").variants.get()
    url = product.get_absolute_url()
    for _ in range(2):
        with django_assert_max_num_queries(PRODUCT_BUDGET + 1) as queries:
            html = client.get(url, {"variant": other.pk}).content.decode()
        assert f'name="variant" value="{variants["Red", "S"].pk}"' in html
        assert len(queries) > 3  # rendered again: a made-up address is never kept
    # A real variant's page is kept: the second visit comes from the cache.
    client.get(url, {"variant": variants["Navy", "S"].pk})
    with django_assert_max_num_queries(3):  # the product's id and the holes
        html = client.get(url, {"variant": variants["Navy", "S"].pk}).content.decode()
    assert f'name="variant" value="{variants["Navy", "S"].pk}"' in html


def test_options_of_a_hidden_product_are_404(client, jacket):
    product, _variants, _values = jacket
    product.is_published = False
    product.save()
    django_cache.clear()
    cache.forget_versions()
    assert client.get(product.get_absolute_url(), {"colour": "navy"}).status_code == 404
    assert client.get("/p/no-such-thing/", {"colour": "navy"}).status_code == 404


def test_delivery_estimate_counts_working_days_of_the_cheapest_method_with_days():
    ShippingMethodFactory(name="Express", price=Decimal("12.00"), delivery_days_min=1)
    ShippingMethodFactory(name="Free", price=Decimal("0.00"), is_active=False, delivery_days_min=9)
    ShippingMethodFactory(name="Letter", price=Decimal("1.00"))  # no days: not an estimate
    ShippingMethodFactory(
        name="Standard", price=Decimal("4.95"), delivery_days_min=3, delivery_days_max=5
    )
    # From a Friday: Monday is the first working day.
    estimate = standard_delivery(today=date(2026, 12, 4))
    assert (estimate.days_min, estimate.days_max) == (3, 5)
    assert (estimate.earliest, estimate.latest) == (date(2026, 12, 9), date(2026, 12, 11))
    # From a Saturday: counted as from Monday.
    assert standard_delivery(today=date(2026, 12, 5)).earliest == date(2026, 12, 10)
    ShippingMethod.objects.all().delete()
    assert standard_delivery(today=date(2026, 12, 4)) is None


def test_the_page_shows_the_delivery_estimate_and_follows_the_merchants_change(
    client, jacket, django_capture_on_commit_callbacks
):
    product, _variants, _values = jacket
    method = ShippingMethodFactory(
        name="Standard", price=Decimal("4.95"), delivery_days_min=3, delivery_days_max=5
    )
    html = client.get(product.get_absolute_url()).content.decode()
    assert re.search(r"Delivery in 3–5 working days, \w+ \d+–\w+ \d+", html)
    method.delivery_days_min = method.delivery_days_max = 2
    with django_capture_on_commit_callbacks(execute=True):
        method.save()
    html = client.get(product.get_absolute_url()).content.decode()
    assert re.search(r"Delivery in 2 working days, \w+ \d+<", html)


def test_the_page_is_kept_per_the_shops_day_in_its_time_zone(settings):
    """The page's key names the shop's day (its delivery dates move at the shop's midnight,
    not UTC's), worked out once a second."""
    settings.TIME_ZONE = "Asia/Shanghai"
    midnight = int(datetime(2030, 3, 2, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
    assert views._shop_day(midnight - 1) == date(2030, 3, 1)
    assert views._shop_day(midnight) == date(2030, 3, 2)


def test_the_returns_line_comes_from_the_settings(client, jacket, settings):
    product, _variants, _values = jacket
    assert "Free returns within 30 days" in client.get(product.get_absolute_url()).content.decode()
    settings.RETURNS_DAYS, settings.RETURNS_FREE = 14, False
    django_cache.clear()
    cache.forget_versions()
    html = client.get(product.get_absolute_url()).content.decode()
    assert "Returns within 14 days" in html and "Free returns" not in html
    settings.RETURNS_DAYS = 0
    django_cache.clear()
    cache.forget_versions()
    assert "Returns within" not in client.get(product.get_absolute_url()).content.decode()


def test_a_product_without_options_has_no_option_form(client):
    product = ProductFactory(name="Lamp")
    html = client.get(product.get_absolute_url()).content.decode()
    assert 'id="options"' not in html and "variant-data" not in html
    assert f'name="variant" value="{product.variants.get().pk}"' in html
    assert f'name="next" value="{product.get_absolute_url()}"' in html


def test_the_merchant_sets_delivery_days_and_a_wrong_order_is_explained(admin_client):
    url = "/admin/orders/shippingmethod/add/"
    data = {"name_en": "Standard", "price": "4.95", "countries": "[]", "position": "0"}
    response = admin_client.post(url, {**data, "delivery_days_min": "5", "delivery_days_max": "3"})
    assert response.status_code == 200
    assert "At least the fewest days (5)." in response.content.decode()
    assert not ShippingMethod.objects.exists()
    response = admin_client.post(url, {**data, "delivery_days_min": "3", "delivery_days_max": "x"})
    assert response.status_code == 200 and not ShippingMethod.objects.exists()
    response = admin_client.post(url, {**data, "delivery_days_min": "3", "delivery_days_max": "5"})
    assert response.status_code == 302
    method = ShippingMethod.objects.get()
    assert (method.delivery_days_min, method.delivery_days_max) == (3, 5)


def test_the_merchant_sets_a_swatch_colour_and_a_wrong_one_is_explained(admin_client, jacket):
    _product, _variants, values = jacket
    red = values["colour"]["Red"]
    colour = red.option_type
    url = f"/admin/catalog/optiontype/{colour.pk}/change/"
    rows = list(colour.values.order_by("pk"))
    data = {
        "name_en": colour.name,
        "slug": colour.slug,
        "position": "0",
        "values-TOTAL_FORMS": str(len(rows)),
        "values-INITIAL_FORMS": str(len(rows)),
        "values-MIN_NUM_FORMS": "0",
        "values-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update(
            {
                f"values-{i}-id": str(row.pk),
                f"values-{i}-option_type": str(colour.pk),
                f"values-{i}-value_en": row.value,
                f"values-{i}-slug": row.slug,
                f"values-{i}-position": str(row.position),
                f"values-{i}-swatch": "crimson" if row == red else row.swatch,
            }
        )
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "A colour such as #1f3a60." in response.content.decode()
    data[f"values-{rows.index(red)}-swatch"] = "#dc143c"
    assert admin_client.post(url, data).status_code == 302
    red.refresh_from_db()
    assert red.swatch == "#dc143c"


def test_the_cached_page_names_new_dates_the_next_day(client, jacket, monkeypatch):
    product, _variants, _values = jacket
    ShippingMethodFactory(price=Decimal("4.95"), delivery_days_min=3, delivery_days_max=5)
    monkeypatch.setattr(views, "_shop_day", lambda second: date(2026, 12, 3))
    html = client.get(product.get_absolute_url()).content.decode()
    assert "Delivery in 3–5 working days, December 8–December 10" in html
    monkeypatch.setattr(views, "_shop_day", lambda second: date(2026, 12, 4))
    html = client.get(product.get_absolute_url()).content.decode()  # not yesterday's page
    assert "Delivery in 3–5 working days, December 9–December 11" in html
