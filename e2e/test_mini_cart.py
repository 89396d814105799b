"""Add to cart opens the mini cart (a modal <dialog>): what was added, the subtotal, the way
to checkout; the product page keeps the shopper's choice. Without JavaScript the same form
posts and comes back with a message. At 1366 and 390 px; axe with the drawer open."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.models import Variant
from catalog.tests.factories import (
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)
from e2e.conftest import PHONE, assert_accessible
from orders.tests.factories import ShippingMethodFactory

WIDE = {"width": 1366, "height": 900}
SIZES = {"desktop": WIDE, "phone": PHONE}


@pytest.fixture
def tee(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    product = ProductFactory(name="Organic Tee", variants=False)
    ProductImageFactory(product=product, alt_text="Organic Tee")
    red, blue = OptionValueFactory(value="Red"), OptionValueFactory(value="Blue")
    VariantFactory(product=product, price=Decimal("19.00"), stock=8, option_values=[red])
    VariantFactory(product=product, price=Decimal("21.00"), stock=8, option_values=[blue])
    ShippingMethodFactory(name="Standard", price=Decimal("4.95"), free_above=Decimal("50.00"))
    return product


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", SIZES)
def test_add_to_cart_opens_the_mini_cart_and_leads_to_checkout(
    live_server, page, screenshot, tee, size
):
    page.set_viewport_size(SIZES[size])
    page.goto(live_server.url + tee.get_absolute_url())
    page.get_by_label("Blue").check()
    url = page.url
    add = page.get_by_role("button", name="Add to cart", exact=True)
    add.click()

    drawer = page.get_by_role("dialog", name="Added to your cart")
    expect(drawer).to_be_visible()
    expect(drawer).to_contain_text("Organic Tee")
    expect(drawer).to_contain_text("Blue")
    expect(drawer).to_contain_text("Quantity in your cart: 1")
    expect(drawer).to_contain_text("$29.00 more for free shipping")
    expect(drawer.locator(".mini-cart__image")).to_be_visible()
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    assert page.evaluate(
        "document.querySelector('dialog.mini-cart').contains(document.activeElement)"
    )
    assert_accessible(page)
    no_sideways_scroll(page)
    screenshot(f"mini-cart-{size}")

    # Escape closes it: focus back on the button, the choice and the page as they were.
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(add).to_be_focused()
    expect(page.get_by_label("Blue")).to_be_checked()
    assert page.url == url

    add.click()
    expect(drawer).to_contain_text("Quantity in your cart: 2")
    expect(page.locator("[data-cart-count]")).to_have_text("2")
    page.get_by_role("button", name="Keep shopping").click()
    expect(drawer).to_be_hidden()
    expect(add).to_be_focused()

    add.click()
    drawer.get_by_role("link", name="Checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    expect(page.locator(".checkout-lines li")).to_contain_text("Blue")
    expect(page.locator(".checkout-lines__image img")).to_be_visible()
    assert_accessible(page)
    no_sideways_scroll(page)
    screenshot(f"mini-cart-to-checkout-{size}")


def test_the_mini_cart_says_when_nothing_could_be_added(live_server, page, screenshot, tee):
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + tee.get_absolute_url())
    page.get_by_label("Red").check()
    Variant.objects.filter(product=tee).update(stock=0)  # sold out while the page was open
    page.get_by_role("button", name="Add to cart", exact=True).click()
    drawer = page.get_by_role("dialog", name="Not added to your cart")
    expect(drawer).to_contain_text("is sold out")
    expect(page.locator("[data-cart-count]")).to_have_text("0")
    assert_accessible(page)
    screenshot("mini-cart-error-phone")


@pytest.mark.parametrize("size", SIZES)
def test_without_javascript_add_to_cart_posts_and_comes_back(live_server, browser, tee, size):
    context = browser.new_context(java_script_enabled=False, viewport=SIZES[size])
    page = context.new_page()
    page.goto(live_server.url + tee.get_absolute_url())
    page.get_by_label("Blue").check()
    page.get_by_role("button", name="Update").click()  # without JavaScript: reload at Blue
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Added 1 × “Organic Tee”")).to_be_visible()
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    page.goto(live_server.url + "/cart/")
    expect(page.get_by_text("$29.00 more for free shipping")).to_be_visible()
    context.close()
