"""A guest and a signed-in shopper check out to a placed order, without JavaScript help:
details, review, place order, the order page and its invoice; axe on every page."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, AddressFactory, UserFactory
from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, DESKTOP, PHONE, assert_accessible
from orders.models import Order
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory


@pytest.fixture
def shop(transactional_db):
    product = ProductFactory(name="Linen Shirt", variants=False)
    VariantFactory(product=product, price=Decimal("39.00"), stock=5)
    ShippingMethodFactory(
        name="Standard", price=Decimal("4.95"), delivery_estimate="3–5 working days"
    )
    ShippingMethodFactory(name="Express", price=Decimal("12.00"), countries=["GB"])
    return product


def add_to_cart(page, base_url, product):
    page.goto(base_url + product.get_absolute_url())
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    page.goto(base_url + "/cart/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    page.get_by_role("link", name="Go to checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")


def choose_country(page, code: str, *, js: bool = True) -> None:
    """Pick the country first; the fields follow it: in place with JavaScript (address.js),
    through "Update" without. With JavaScript, the page's deferred scripts must have run
    first: a country chosen before address.js listens would change nothing (a click that
    leads here returns before the new page has loaded)."""
    if js:
        page.wait_for_load_state()
    page.get_by_label("Country").select_option(code)
    if not js:
        page.get_by_role("button", name="Update the fields for this country").click()
    row = page.locator('[data-address-row="region"]')
    expect(row).to_have_attribute("data-country", code)


def fill_london_address(page, *, name: str = "Grace Hopper") -> None:
    """A guest's name, phone and British address (the country chosen first)."""
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Phone number").fill("+442079460958")
    page.get_by_label("Address line 1").fill("1 Compiler Street")
    page.get_by_label("City or town").fill("London")
    page.get_by_label("Postcode").fill("SW1A 1AA")


def shoot(page, screenshot, name):
    screenshot(f"{name}-desktop")
    page.set_viewport_size(PHONE)
    screenshot(f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def test_guest_checks_out_to_a_placed_order(live_server, page, screenshot, shop):
    add_to_cart(page, live_server.url, shop)
    page.get_by_role("button", name="Continue to review").click()
    # The browser stops an empty form before it is sent ...
    assert page.get_by_label("Email address").evaluate("e => e.validity.valueMissing")
    # ... and the server explains each field where the browser cannot.
    page.evaluate("document.querySelector('.checkout__form').noValidate = true")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_text("Please correct the fields marked below.")).to_be_visible()
    assert_accessible(page)
    page.goto(live_server.url + "/checkout/")
    page.get_by_label("Email address").fill("guest@example.com")
    choose_country(page, "GB")
    fill_london_address(page)
    page.get_by_label("Standard").check()
    page.get_by_label("Bank transfer").check()
    shoot(page, screenshot, "checkout")
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.locator(".totals__total dd")).to_have_text("$43.95")
    assert_accessible(page)
    shoot(page, screenshot, "checkout-review")
    page.get_by_role("button", name="Place order and pay $43.95").click()

    order = Order.objects.get()
    # Placing leads to the payments app's page when it is installed; the mail's signed link
    # leads to the order.
    key = guest_key(number=order.number)
    page.goto(f"{live_server.url}{order.get_absolute_url()}?key={key}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)
    expect(page.get_by_text("Unpaid").first).to_be_visible()
    assert_accessible(page)
    shoot(page, screenshot, "order-detail")
    page.get_by_role("link", name="Pro forma invoice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pro forma invoice")
    assert_accessible(page)
    shoot(page, screenshot, "order-invoice")
    page.emulate_media(media="print")
    screenshot("order-invoice-print")


def test_signed_in_shopper_checks_out_with_a_saved_address(live_server, page, screenshot, shop):
    """The checkout and order pages load no script of their own: they are plain forms."""
    user = UserFactory(email="ada@example.com")
    AddressFactory(user=user)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email or phone number").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    add_to_cart(page, live_server.url, shop)
    assert_accessible(page)
    shoot(page, screenshot, "checkout-signed-in")
    page.get_by_label("Express").check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page.locator(".totals__total dd")).to_have_text("$51.00")
    page.get_by_role("button", name="Place order and pay $51.00").click()
    order = Order.objects.get()
    assert order.user == user
    page.goto(live_server.url + order.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)
    page.get_by_role("link", name="All your orders").click()
    expect(page.get_by_role("link", name=order.number)).to_be_visible()
    assert_accessible(page)
    screenshot("order-list-desktop")


SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": PHONE}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(
    ("size", "js"), [("desktop", True), ("phone", False)], ids=["desktop-js", "phone-no-js"]
)
def test_the_region_is_a_list_for_the_us_and_not_asked_in_singapore(
    live_server, browser, shop, js, size
):
    context = browser.new_context(java_script_enabled=js, viewport=SIZES[size])
    page = context.new_page()

    def screenshot(name):  # this context's page (a whole page needs scripts to measure it)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=js)

    add_to_cart(page, live_server.url, shop)
    page.get_by_label("Email address").fill("guest@example.com")
    choose_country(page, "US", js=js)
    page.get_by_label("Full name").fill("Grace Hopper")
    expect(page.get_by_label("State")).to_be_visible()
    expect(page.get_by_label("State").locator('option[value="VA"]')).to_have_text("Virginia")
    expect(page.get_by_label("ZIP code")).to_be_visible()
    page.get_by_label("ZIP code").fill("2220")
    if js:  # scripts cannot be run in a page without JavaScript (axe, evaluate)
        # The browser checks what it can before anything is sent: the US fields carry the
        # ZIP code's shape, which "2220" does not have (read from the field once it holds it).
        zip_code = page.get_by_label("ZIP code")
        expect(zip_code).to_have_value("2220")
        expect(zip_code).to_have_attribute("pattern", re.compile(".+"))
        assert not re.fullmatch(zip_code.get_attribute("pattern"), "2220")
        assert page.get_by_label("State").evaluate("e => e.validity.valueMissing")
        assert_accessible(page)
    screenshot(f"checkout-us-{'js' if js else 'no-js'}-{size}")

    choose_country(page, "SG", js=js)
    expect(page.get_by_label("State")).to_have_count(0)
    expect(page.get_by_label("City or town")).to_have_count(0)  # Singapore's post has none
    expect(page.get_by_label("Postcode")).to_be_visible()
    expect(page.get_by_label("Full name")).to_have_value("Grace Hopper")  # nothing typed lost
    expect(page.get_by_label("Email address")).to_have_value("guest@example.com")
    page.get_by_label("Phone number").fill("+6561234567")
    page.get_by_label("Address line 1").fill("1 Raffles Place")
    page.get_by_label("Postcode").fill("048616")
    page.get_by_label("Standard").check()
    if js:
        assert no_sideways_scroll(page)
        assert_accessible(page)
    screenshot(f"checkout-sg-{'js' if js else 'no-js'}-{size}")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.locator("address")).to_contain_text("048616")
    context.close()


def test_the_review_fits_a_phone_with_a_long_email(live_server, page, screenshot, shop):
    add_to_cart(page, live_server.url, shop)
    page.get_by_label("Email address").fill(
        "a.very.long.address.for.a.phone.screen@subdomain.example-company.com"
    )
    choose_country(page, "GB")
    fill_london_address(page, name="Maximiliana Wolfeschlegelsteinhausenbergerdorff")
    page.get_by_label("Standard").check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    for width in (360, 390):
        page.set_viewport_size({"width": width, "height": 800})
        assert no_sideways_scroll(page)
        assert_accessible(page)
        screenshot(f"checkout-review-long-email-{width}")


@pytest.mark.parametrize("size", SIZES)
def test_signing_in_mid_checkout_starts_on_the_default_address(
    live_server, page, screenshot, shop, size
):
    page.set_viewport_size(SIZES[size])
    user = UserFactory(email="ada@example.com")
    AddressFactory(user=user, line1="3 Old Lane")
    default = AddressFactory(user=user, line1="9 Default Road", is_default_shipping=True)
    add_to_cart(page, live_server.url, shop)
    page.get_by_label("Email address").fill("guest@example.com")
    choose_country(page, "GB")
    fill_london_address(page)
    page.get_by_label("Standard").check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")

    page.goto(live_server.url + "/accounts/login/?next=/checkout/")
    page.get_by_label("Email or phone number").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    expect(page.locator(f'input[name="address"][value="{default.pk}"]')).to_be_checked()
    expect(page.get_by_label("Address line 1")).to_have_value("")
    assert_accessible(page)
    screenshot(f"checkout-default-address-{size}")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.locator("address")).to_contain_text("9 Default Road")
