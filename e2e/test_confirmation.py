"""A guest buys, lands on the confirmation (items, address, delivery estimate, where the
mail went), creates an account from it, activates it and finds the order in their history.
At 1366 px with JavaScript and at 390 px without it; axe on every page."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from catalog.tests.factories import (
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
    png_bytes,
)
from e2e.conftest import PHONE, assert_accessible
from e2e.test_checkout import choose_country, fill_london_address
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory

WIDE = {"width": 1366, "height": 900}
PASSWORD = "a-long-shop-secret-42"


@pytest.fixture
def shop(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    product = ProductFactory(name="Linen Shirt", variants=False)
    VariantFactory(
        product=product,
        sku="SHIRT-NAV-M",
        price=Decimal("39.00"),
        stock=5,
        option_values=[
            OptionValueFactory(option_type=OptionTypeFactory(name="Colour"), value="Navy"),
            OptionValueFactory(option_type=OptionTypeFactory(name="Size"), value="M"),
        ],
    )
    ProductImageFactory(
        product=product,
        alt_text="Navy shirt",
        image=ContentFile(png_bytes(colour=(30, 40, 110)), name="navy.png"),
    )
    ShippingMethodFactory(
        name="Standard", price=Decimal("4.95"), delivery_days_min=2, delivery_days_max=4
    )
    return product


def buy_as_guest(page, base_url, product, *, payment="Bank transfer", js=True):
    page.goto(base_url + product.get_absolute_url())
    page.get_by_role("button", name="Add to cart", exact=True).click()
    # In the cart (the mini cart with JavaScript, a reload without) before moving on.
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    page.goto(base_url + "/checkout/")
    choose_country(page, "GB", js=js)
    page.get_by_label("Email address").fill("grace@example.com")
    fill_london_address(page)
    page.get_by_label("Standard").check()
    page.get_by_label(payment).check()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("button", name="Place order and pay $43.95").click()


@pytest.mark.parametrize(
    ("size", "javascript"), [("desktop", True), ("phone", True), ("phone-nojs", False)]
)
def test_guest_confirmation_then_an_account_that_keeps_the_order(
    live_server, browser, shop, size, javascript
):
    """Every step is a plain form, so the flow also runs without JavaScript (where axe,
    itself a script, cannot run)."""
    context = browser.new_context(
        viewport=WIDE if size == "desktop" else PHONE,
        java_script_enabled=javascript,
        locale="en-US",
    )
    context.set_default_timeout(15000)
    page = context.new_page()

    def check(page):
        if javascript:
            assert_accessible(page)

    def shoot(name):
        page.screenshot(path=f"e2e/artifacts/confirmation-{name}-{size}.png", full_page=True)

    buy_as_guest(page, live_server.url, shop, js=javascript)
    order = Order.objects.get()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"Thank you, your order {order.number} is placed")
    expect(page.get_by_text("Awaiting your payment: what to do now")).to_be_visible()
    expect(page.get_by_text("A confirmation was sent to grace@example.com.")).to_be_visible()
    items = page.get_by_role("table", name="Items in this order")
    expect(items).to_contain_text("Linen Shirt")
    expect(items).to_contain_text("Navy")
    expect(items.locator("img")).to_have_count(1)
    expect(page.locator("address")).to_contain_text("1 Compiler Street")
    expect(page.get_by_text("2–4 working days after your payment arrives")).to_be_visible()
    expect(page.locator(".totals__total dd")).to_have_text("$43.95")
    if javascript:
        assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    check(page)
    shoot("placed")
    page.emulate_media(media="print")
    shoot("print")
    page.emulate_media(media="screen")

    # Bad input: the two passwords differ; the page says so and nothing is created.
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD + "x")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_text("The two password fields didn’t match.")).to_be_visible()
    check(page)
    shoot("account-errors")

    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    check(page)
    shoot("account-asked")

    [message] = [m for m in mail.outbox if "/accounts/activate/" in m.body]
    page.goto(re.search(r"http://\S+/accounts/activate/\S+/", message.body).group(0))
    page.get_by_role("button", name="Activate my account").click()
    expect(page.get_by_text("Your account is active")).to_be_visible()
    page.get_by_label("Email or phone number").fill("grace@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/account/orders/")
    expect(page.get_by_role("link", name=order.number)).to_be_visible()
    check(page)
    shoot("history")
    page.get_by_role("link", name=order.number).click()
    expect(heading).to_contain_text(order.number)
    expect(page.get_by_role("button", name="Create my account")).to_have_count(0)
    context.close()


def test_a_card_payment_lands_on_a_confirmed_order_with_delivery_dates(live_server, page, shop):
    page.set_viewport_size(WIDE)
    buy_as_guest(page, live_server.url, shop, payment="Card (sandbox gateway)")
    page.get_by_role("button", name="Pay $43.95").click()
    page.get_by_role("link", name="View your order").click()
    order = Order.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Thank you, your order {order.number} is confirmed"
    )
    expect(page.get_by_text("Estimated delivery")).to_be_visible()
    expect(page.locator(".order-estimate time")).to_have_count(2)
    assert_accessible(page)
    page.screenshot(path="e2e/artifacts/confirmation-paid-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path="e2e/artifacts/confirmation-paid-phone.png", full_page=True)
