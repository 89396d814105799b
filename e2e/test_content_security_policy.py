"""The enforced Content-Security-Policy breaks nothing: a shopper's whole visit and the
merchant's product, category and order pages raise not one `securitypolicyviolation`.

The listener is installed in every document before the page's own scripts run, and Chromium's
"Refused to ..." console messages are collected too. A control at the start shows that the
listener hears a violation when there is one."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from e2e.conftest import assert_accessible
from e2e.test_checkout import choose_country, fill_london_address
from e2e.test_merchant_orders import sign_in_to_admin
from e2e.test_merchant_products import serve_media
from e2e.test_product_page import jacket  # noqa: F401 (a fixture)
from orders.models import Order

LISTEN = """document.addEventListener('securitypolicyviolation', event => window.cspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || 'inline'} on ${location.pathname}`
    + ` (${event.sourceFile}:${event.lineNumber})`));"""


@pytest.fixture
def violations(page):
    seen: list[str] = []
    page.expose_function("cspViolation", lambda text: seen.append(text))
    page.add_init_script(LISTEN)
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_the_shoppers_pages_and_the_admin_raise_no_policy_violation(
    live_server,
    page,
    violations,
    jacket,  # noqa: F811
):
    product, _variants = jacket
    base = live_server.url
    serve_media(page)
    shopper = UserFactory(email="ada@example.com")

    # The control: an inline style is refused and heard.
    page.goto(base + "/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<b style=\"color:red\">x</b>')")
    page.wait_for_function("document.querySelector('b[style]') !== null")
    page.wait_for_timeout(200)
    assert any("style-src" in v for v in violations), violations
    violations.clear()

    # Signed in, as most shoppers who order are.
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email or phone number").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")

    # Home, a category and the whole listing with a filter.
    page.goto(base + "/")
    page.goto(base + product.category.get_absolute_url())
    expect(page.get_by_role("link", name="Fjell Field Jacket").first).to_be_visible()
    page.goto(base + "/products/?brand=fjell&sort=price")
    expect(page.get_by_role("link", name="Fjell Field Jacket").first).to_be_visible()

    # Search suggestions while typing (a fetch, pictures in the list).
    box = page.get_by_role("combobox", name="Search products")
    box.fill("fjel")
    expect(page.get_by_role("listbox").get_by_role("option").first).to_contain_text("Fjell")
    box.press("Escape")

    # The product page: gallery, a colour, the zoom, the reviews' histogram, the mini-cart.
    page.goto(base + product.get_absolute_url())
    page.get_by_label("Navy").check()
    expect(page.locator("#main-image")).to_have_attribute("alt", "Navy field jacket")
    page.get_by_label("Red").check()
    page.locator("#main-image-link").click()
    zoom = page.get_by_role("dialog", name="Large picture")
    expect(zoom).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".histogram meter").first).to_be_visible()
    page.get_by_role("button", name="Add to cart", exact=True).click()
    drawer = page.get_by_role("dialog", name="Added to your cart")
    expect(drawer).to_be_visible()
    drawer.get_by_role("link", name="View cart").click()

    # The cart (its quantity form updates in place), then checkout with the country switch.
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    page.get_by_role("link", name="Go to checkout").click()
    choose_country(page, "CA")
    choose_country(page, "GB")
    fill_london_address(page, name="Ada Lovelace")
    page.get_by_label("Standard").check()
    page.get_by_label("Card (sandbox gateway)").check()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("button", name="Place order and pay").click()

    # The payment page (the shop's own sandbox) posts back to the shop; then the order page.
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox payment")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_text("Thank you: we received")).to_be_visible()
    page.get_by_role("link", name="View your order").click()
    order = Order.objects.get(user=shopper)
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)

    # The account.
    page.goto(base + "/account/")
    page.goto(base + "/account/orders/")
    expect(page.get_by_role("link", name=order.number)).to_be_visible()
    assert_accessible(page)
    assert violations == [], "\n".join(sorted(set(violations)))

    # The merchant: the product's change page (inlines, picture previews, autocompletes), the
    # category tree and the order's desk.
    page.context.clear_cookies()
    merchant = UserFactory(email="mia@example.com", is_staff=True, is_superuser=True)
    sign_in_to_admin(page, base, merchant)
    page.goto(f"{base}/admin/catalog/product/{product.pk}/change/")
    expect(page.locator("img.image-preview").first).to_be_visible()
    page.locator(".field-brand .select2-selection").click()
    expect(page.locator(".select2-results__option").first).to_be_visible()
    page.keyboard.press("Escape")
    page.goto(f"{base}/admin/catalog/product/")
    page.goto(f"{base}/admin/catalog/category/")
    page.goto(f"{base}/admin/orders/order/{order.pk}/change/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)
    page.goto(f"{base}/admin/")
    assert violations == [], "\n".join(sorted(set(violations)))
