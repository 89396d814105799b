"""A shopper browses: home, a category, filters, a product and its variants, search."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    VariantFactory,
)
from e2e.conftest import PHONE, assert_accessible


@pytest.fixture
def catalog(transactional_db):
    clothing = CategoryFactory(name="Clothing")
    shirts = CategoryFactory(name="Shirts", parent=clothing)
    acme, zen = BrandFactory(name="Acme"), BrandFactory(name="Zen")
    red, blue = OptionValueFactory(value="Red"), OptionValueFactory(value="Blue")
    tee = ProductFactory(
        name="Organic Tee", category=shirts, brand=acme, is_featured=True, variants=False,
        description="Soft organic cotton.",
    )  # fmt: skip
    VariantFactory(product=tee, sku="TEE-RED", price=Decimal("19.00"), stock=3, option_values=[red])
    VariantFactory(
        product=tee, sku="TEE-BLUE", price=Decimal("21.00"), stock=0, option_values=[blue]
    )
    for n in range(5):
        ProductFactory(name=f"Zen Shirt {n}", category=shirts, brand=zen)
    ProductFactory(name="iPhone 15 Pro", category=CategoryFactory(name="Phones"))
    return tee


def test_shopper_browses_filters_and_picks_a_variant(live_server, page, screenshot, catalog):
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Featured")).to_be_visible()
    assert_accessible(page)
    screenshot("catalog-home")

    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Clothing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clothing")
    expect(page.get_by_role("heading", name="6 products")).to_be_visible()
    assert_accessible(page)
    # With JavaScript, ticking a brand applies the filter at once.
    page.get_by_label("Acme (1)").check()
    expect(page.get_by_role("heading", name="1 product")).to_be_visible()
    expect(page).to_have_url(re.compile(r"brand=acme"))
    screenshot("catalog-category-filtered")

    page.get_by_role("link", name="Organic Tee").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organic Tee")
    price = page.locator("#chosen-price .price__now")
    expect(price).to_have_text("$19.00")
    expect(page.locator("#chosen-stock")).to_have_text("Only 3 left")
    page.get_by_label("Blue").check()
    expect(price).to_have_text("$21.00")
    expect(page.locator("#chosen-stock")).to_have_text("Sold out")
    assert_accessible(page)
    screenshot("catalog-product")
    page.set_viewport_size(PHONE)
    screenshot("catalog-product-phone")


def test_search_corrects_a_typo(live_server, page, screenshot, catalog):
    page.goto(live_server.url + "/")
    page.get_by_role("combobox", name="Search products").fill("iphnoe")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Showing results for iphone instead")).to_be_visible()
    expect(page.get_by_role("link", name="iPhone 15 Pro")).to_be_visible()
    assert_accessible(page)
    screenshot("catalog-search")


def test_filters_and_variants_work_without_javascript(live_server, browser, catalog):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url + "/c/clothing/")
    page.get_by_role("link", name="Filter and sort").click()  # the drawer, by :target
    page.get_by_label("Zen (5)").check()
    page.get_by_role("button", name="Show results").click()
    expect(page.get_by_role("heading", name="5 products")).to_be_visible()
    page.goto(live_server.url + catalog.get_absolute_url())
    # The option form reloads the page at the chosen variant, with its price and stock.
    page.get_by_label("Blue").check()
    page.get_by_role("button", name="Update").click()
    expect(page.locator("#chosen-price .price__now")).to_have_text("$21.00")
    expect(page.locator("#chosen-stock")).to_have_text("Sold out")
    # No axe here: it runs as a script, which this page does not allow.
    context.close()
