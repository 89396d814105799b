"""A guest checks out and pays on the sandbox gateway; another is declined, tries again and
pays. Screenshots of the gateway page and the return page (processing, paid, not paid)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import DESKTOP, PHONE, assert_accessible
from e2e.test_checkout import choose_country, fill_london_address
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory


@pytest.fixture
def shop(transactional_db):
    product = ProductFactory(name="Linen Shirt", variants=False)
    VariantFactory(product=product, price=Decimal("39.00"), stock=5)
    ShippingMethodFactory(name="Standard", price=Decimal("4.95"))
    return product


def shoot(page, screenshot, name):
    screenshot(f"{name}-desktop")
    page.set_viewport_size(PHONE)
    screenshot(f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def checkout_with_sandbox(page, base_url, product):
    page.goto(base_url + product.get_absolute_url())
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    page.goto(base_url + "/checkout/")
    page.get_by_label("Email address").fill("guest@example.com")
    choose_country(page, "GB")  # first: the fields follow it
    fill_london_address(page)
    page.get_by_label("Standard").check()
    page.get_by_label("Card (sandbox gateway)").check()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("button", name="Place order and pay $43.95").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox payment")


def test_guest_pays_on_the_sandbox_and_the_order_shows_paid(
    live_server, page, screenshot, shop, settings
):
    settings.SANDBOX_LATE_CALLBACK_SECONDS = 3
    checkout_with_sandbox(page, live_server.url, shop)
    assert_accessible(page)
    shoot(page, screenshot, "payment-sandbox")
    page.get_by_label("Deliver the callback late").check()
    page.get_by_role("button", name="Pay $43.95").click()
    expect(page.get_by_text("Processing")).to_be_visible()
    assert_accessible(page)
    shoot(page, screenshot, "payment-return-pending")
    # The page reloads itself until the late callback has been processed.
    expect(page.get_by_text("Thank you: we received $43.95")).to_be_visible(timeout=15000)
    assert_accessible(page)
    shoot(page, screenshot, "payment-return-paid")
    page.get_by_role("link", name="View your order").click()
    order = Order.objects.get()
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)
    expect(page.locator(".order-state--paid")).to_have_text("Payment: Paid")


def test_declined_then_retried_and_paid(live_server, page, screenshot, shop):
    checkout_with_sandbox(page, live_server.url, shop)
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_role("alert")).to_contain_text("did not go through")
    assert_accessible(page)
    shoot(page, screenshot, "payment-return-failed")
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox payment")
    page.get_by_role("button", name="Pay $43.95").click()
    expect(page.get_by_text("Thank you: we received $43.95")).to_be_visible()
    order = Order.objects.get()
    assert order.payment_status == "paid" and order.payments.count() == 2
