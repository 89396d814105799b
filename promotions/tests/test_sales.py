"""Sales on cards and product pages: the catalog shows what promotions computed."""

from datetime import timedelta
from decimal import Decimal

import pytest

from catalog.models import Product, Variant
from catalog.tests.factories import CategoryFactory, ProductFactory, VariantFactory
from promotions import services
from promotions.tests.factories import OfferFactory
from promotions.tests.helpers import NOW, line_of

pytestmark = pytest.mark.django_db
D = Decimal
END = NOW + timedelta(days=2)


@pytest.fixture
def on_sale():
    category = CategoryFactory(name="Lamps")
    product = ProductFactory(name="Desk lamp", category=category, variants__price=D("33.33"))
    sale = OfferFactory(name="Lamp week", percent=D("15"), valid_from=NOW, valid_until=END)
    sale.categories.add(category)
    return product


def test_sync_sets_the_sale_price_price_cart_charges_and_clears_it_after_the_window(on_sale):
    variant = on_sale.variants.get()
    assert services.sync_sale_prices(now=NOW) == 1
    variant.refresh_from_db()
    on_sale.refresh_from_db()
    # 15% of 33.33 is 4.9995: 5.00 off.
    assert variant.sale_price == on_sale.sale_price == D("28.33")
    charged = services.price_cart(lines=[line_of(variant, quantity=3)], now=NOW)
    assert charged.lines[0].total == 3 * variant.sale_price
    assert services.sync_sale_prices(now=NOW) == 0  # nothing changed, nothing written
    assert services.sync_sale_prices(now=END) == 1
    variant.refresh_from_db()
    on_sale.refresh_from_db()
    assert variant.sale_price is None and on_sale.sale_price is None


def test_a_products_sale_price_is_the_lowest_of_its_active_variants(on_sale):
    VariantFactory(product=on_sale, price=D("20.00"))
    VariantFactory(product=on_sale, price=D("10.00"), is_active=False)
    services.sync_sale_prices(now=NOW)
    on_sale.refresh_from_db()
    assert on_sale.sale_price == D("17.00")
    assert Variant.objects.filter(is_active=False).get().sale_price is None


def test_a_sale_on_a_product_leaves_other_products_alone(on_sale):
    other = ProductFactory(variants__price=D("50.00"))
    sale = OfferFactory(percent=D("50"), valid_from=NOW, valid_until=END)
    sale.products.add(other)
    services.sync_sale_prices(now=NOW)
    assert dict(Product.objects.values_list("name", "sale_price")) == {
        "Desk lamp": D("28.33"),
        other.name: D("25.00"),
    }


def test_a_running_sale_shows_on_the_product_page_and_card_and_is_gone_after(
    client, on_sale, django_capture_on_commit_callbacks
):
    page, listing = on_sale.get_absolute_url(), on_sale.category.get_absolute_url()
    before = client.get(page).content.decode()  # cached before the sale starts
    assert "$28.33" not in before
    with django_capture_on_commit_callbacks(execute=True):  # pages move on commit
        services.sync_sale_prices(now=NOW)
    html = client.get(page).content.decode()
    assert '<span class="price__now">$28.33</span>' in html
    assert '<span class="price__was-amount">$33.33</span>' in html
    card = client.get(listing).content.decode()
    assert '<span class="price__now">$28.33</span>' in card and "$33.33</s>" in card
    with django_capture_on_commit_callbacks(execute=True):
        services.sync_sale_prices(now=END)
    assert "$28.33" not in client.get(page).content.decode()
    assert "$28.33" not in client.get(listing).content.decode()


def test_each_variant_on_the_product_page_shows_its_sale_price(client, on_sale):
    other = VariantFactory(product=on_sale, price=D("40.00"))
    services.sync_sale_prices(now=NOW)
    html = client.get(f"{on_sale.get_absolute_url()}?variant={other.pk}").content.decode()
    assert '<span class="price__now">$34.00</span>' in html
    assert '<span class="price__was-amount">$40.00</span>' in html
    html = client.get(on_sale.get_absolute_url()).content.decode()
    assert '<span class="price__now">$28.33</span>' in html
