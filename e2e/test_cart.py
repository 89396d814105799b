"""A shopper fills a cart: two variants, a quantity change, a removal; totals and the header
count follow, with JavaScript (in place) and without (plain forms)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import OptionValueFactory, ProductFactory, VariantFactory
from e2e.conftest import PHONE, assert_accessible


@pytest.fixture
def tee(transactional_db):
    product = ProductFactory(name="Organic Tee", variants=False)
    red, blue = OptionValueFactory(value="Red"), OptionValueFactory(value="Blue")
    VariantFactory(product=product, price=Decimal("19.00"), stock=8, option_values=[red])
    VariantFactory(product=product, price=Decimal("21.00"), stock=8, option_values=[blue])
    return product


def fill_cart(page, base_url, product, *, js: bool = True):
    """Two adds from the product page: with JavaScript each opens the mini cart, closed
    with "Keep shopping"; without, each posts and comes back."""
    page.goto(base_url + product.get_absolute_url())
    page.get_by_label("Red").check()
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Added")).to_contain_text(
        "Added 1 × “Organic Tee”"
    )
    if js:
        page.get_by_role("button", name="Keep shopping").click()
    page.get_by_label("Blue").check()
    update = page.get_by_role("button", name="Update")
    if update.is_visible():  # without JavaScript the page reloads at the chosen variant
        update.click()
    page.get_by_label("Quantity", exact=True).fill("2")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.locator("[data-cart-count]")).to_have_text("3")
    if js:
        page.get_by_role("dialog").get_by_role("link", name="View cart").click()
    else:
        page.get_by_role("link", name=re.compile("^Cart")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")


def test_cart_updates_in_place_with_javascript(live_server, page, screenshot, tee):
    fill_cart(page, live_server.url, tee)
    total = page.locator(".totals__total dd")
    expect(total).to_have_text("$61.00")
    assert_accessible(page)
    screenshot("cart-desktop")

    page.get_by_label("Quantity of Organic Tee").first.fill("3")
    expect(total).to_have_text("$99.00")
    expect(page.locator("[data-cart-count]")).to_have_text("5")
    page.get_by_role("button", name="Remove Organic Tee").first.click()
    expect(total).to_have_text("$42.00")
    expect(page.locator("[data-cart-count]")).to_have_text("2")
    page.get_by_label("Buy Organic Tee now").uncheck()
    expect(page.get_by_text("Tick at least one item to check out.")).to_be_visible()
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    screenshot("cart-phone")


def test_cart_works_without_javascript(live_server, browser, tee):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    fill_cart(page, live_server.url, tee, js=False)
    page.get_by_label("Quantity of Organic Tee").first.fill("3")
    page.get_by_role("button", name="Update cart").click()
    expect(page.locator(".totals__total dd")).to_have_text("$99.00")
    expect(page.locator("[data-cart-count]")).to_have_text("5")
    page.get_by_role("button", name="Remove Organic Tee").first.click()
    expect(page.locator(".totals__total dd")).to_have_text("$42.00")
    expect(page.locator("[data-cart-count]")).to_have_text("2")
    context.close()
