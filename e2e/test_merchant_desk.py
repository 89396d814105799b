"""The order list and the order's page as the merchant's desk, at a laptop's 1366 px and a
phone's 390 px: every column of the list on screen, then a merchant's day: from the
dashboard's "Orders to ship" to an order shipped in part, a line refunded and the packing
slip printed from the buttons on the order itself; a bank transfer
recorded on another order. axe on every page (#content in the admin), screenshots in
e2e/artifacts/ for a person to look at."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from cart.tests.factories import CartLineFactory
from catalog.models import Variant
from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from e2e.test_merchant_orders import WIDE, assert_admin_accessible, sign_in_to_admin
from orders.tests.factories import ShippingMethodFactory, cart_with, place
from payments.tests.factories import deliver, start


@pytest.fixture
def orders(transactional_db):
    """Ada's paid order (2 shirts, 1 scarf), a bank-transfer order awaiting its money, and a
    dozen more so the list has rows to fit."""
    shopper = UserFactory(email="ada@example.com", full_name="Ada Lovelace")
    shirt = VariantFactory(
        product=ProductFactory(name="Linen Shirt", variants=False),
        sku="SHIRT-L",
        price=Decimal("39.00"),
        stock=50,
    )
    scarf = VariantFactory(
        product=ProductFactory(name="Wool Scarf", variants=False),
        sku="SCARF-1",
        price=Decimal("25.00"),
        stock=50,
    )
    method = ShippingMethodFactory(name="Standard", price=Decimal("4.95"))
    for n in range(12):
        other = place(
            cart_with((scarf, 1)),
            email=f"shopper{n}@a-rather-long-domain-name.example.com",
            payment="sandbox",
            method=method,
        )
        if n % 2:
            deliver(start(other))
    cart = cart_with((shirt, 1), user=shopper)
    transfer = place(
        cart,
        user=shopper,
        email=shopper.email,
        payment="manual",
        method=method,
    )
    start(transfer, provider="manual")
    CartLineFactory(cart=cart, variant=shirt, quantity=2)
    CartLineFactory(cart=cart, variant=scarf, quantity=1)
    paid = place(
        cart,
        user=shopper,
        email=shopper.email,
        payment="sandbox",
        method=method,
    )
    deliver(start(paid))
    paid.refresh_from_db()
    assert (paid.payment_status, paid.total) == ("paid", Decimal("107.95"))
    return paid, transfer


@pytest.fixture
def merchant(transactional_db):
    return UserFactory(
        email="mia@example.com", full_name="Mia Merchant", is_staff=True, is_superuser=True
    )


def shoot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def assert_within_viewport(page, locator):
    """On screen without scrolling: inside the window and inside the list's own box (the
    admin scrolls a table wider than its box sideways, hiding what sticks out)."""
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)
    results = page.locator("#changelist-form .results").bounding_box()
    if results is not None:
        assert box["x"] + box["width"] <= results["x"] + results["width"] + 0.5, (box, results)


def test_the_order_list_fits_a_laptop_and_a_phone(live_server, page, orders, merchant):
    paid, _transfer = orders
    page.set_viewport_size(WIDE)
    page.set_default_timeout(10_000)
    sign_in_to_admin(page, live_server.url, merchant)
    page.goto(f"{live_server.url}/admin/orders/order/")
    row = page.get_by_role("row").filter(has_text=paid.number)
    for header in ("Number", "Placed", "Customer", "Total", "Payment", "Fulfilment"):
        assert_within_viewport(page, page.get_by_role("columnheader", name=header))
    assert_within_viewport(page, row.locator("td.field-total_amount"))
    assert_within_viewport(page, row.locator("td.field-fulfilment"))
    expect(row.locator("td.field-total_amount")).to_have_text("$107.95")
    expect(row.locator("td.field-payment")).to_have_text("Paid")
    expect(row.locator("td.field-fulfilment")).to_have_text("Unfulfilled")
    # No horizontal scrolling: the page is no wider than the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDE["width"]
    assert_admin_accessible(page)
    shoot(page, "desk-order-list-1366")

    page.set_viewport_size(PHONE)
    row = page.get_by_role("row").filter(has_text=paid.number)
    assert_within_viewport(page, row.locator("td.field-total_amount"))
    assert_within_viewport(page, row.locator("td.field-fulfilment"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_admin_accessible(page)
    shoot(page, "desk-order-list-390")


def test_the_merchant_goes_from_the_dashboard_to_ship_part_refund_a_line_and_print_the_slip(
    live_server, page, orders, merchant
):
    order, _transfer = orders
    page.set_viewport_size(WIDE)
    page.set_default_timeout(10_000)
    base = live_server.url
    sign_in_to_admin(page, base, merchant)
    # A merchant's day starts on the dashboard: its to-do list leads to the orders to ship.
    page.goto(f"{base}/admin/")
    page.get_by_role("link", name=re.compile(r"^7 Orders to ship")).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(7)
    page.get_by_role("link", name=order.number).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    tools = page.get_by_role("navigation", name="What you can do with this order")
    for name in ("Ship items", "Packing slip", "Invoice", "Refund items", "Cancel order"):
        expect(tools.get_by_role("link", name=name)).to_be_visible()
    expect(tools.get_by_role("link", name="Mark delivered")).to_have_count(0)
    expect(tools.get_by_role("link", name="Record bank transfer")).to_have_count(0)
    timeline = page.locator(".desk-timeline")
    expect(timeline).to_contain_text("Payment of $107.95 received by card")
    expect(page.locator("#content")).not_to_contain_text("payment.captured")
    expect(page.get_by_role("region", name="Customer")).to_contain_text("2 orders")
    assert_admin_accessible(page)
    shoot(page, "desk-order-paid-1366")
    page.set_viewport_size(PHONE)
    assert_admin_accessible(page)
    shoot(page, "desk-order-paid-390")
    page.set_viewport_size(WIDE)

    # Ship one of the two shirts, without the mail.
    tools.get_by_role("link", name="Ship items").click()
    page.get_by_label("Linen Shirt (SHIRT-L)").select_option("1")
    page.get_by_label("Wool Scarf (SCARF-1)").select_option("0")
    page.get_by_label("Carrier").select_option(label="DHL")
    page.get_by_label("Tracking number").fill("JD014600006281")
    page.get_by_label("Email the customer that it has shipped").uncheck()
    assert_admin_accessible(page)
    shoot(page, "desk-ship")
    page.get_by_role("button", name="Record the shipment").click()
    expect(page.get_by_text("Shipment recorded.")).to_be_visible()
    expect(page.locator(".desk-badges")).to_contain_text("Partially shipped")
    expect(page.get_by_role("region", name="Parcels")).to_contain_text("1 × Linen Shirt")
    expect(tools.get_by_role("link", name="Mark delivered")).to_be_visible()
    expect(tools.get_by_role("link", name="Cancel order")).to_have_count(0)

    # Refund the scarf (not shipped: it goes back on the shelf by itself).
    tools.get_by_role("link", name="Refund items").click()
    page.get_by_label("Wool Scarf (SCARF-1)").select_option("1")
    page.get_by_role("button", name="Show the amount").click()
    confirm = page.get_by_role("button", name="Refund $25.00 now")
    expect(confirm).to_be_visible()
    assert_admin_accessible(page)
    confirm.click()
    expect(page.get_by_text("Refund recorded.")).to_be_visible()
    expect(page.locator(".desk-badges")).to_contain_text("Partially refunded")
    expect(timeline).to_contain_text("Refund of $25.00 sent back to the card")
    assert Variant.objects.get(sku="SCARF-1").stock == 50 - 12 - 1 + 1
    assert_admin_accessible(page)
    shoot(page, "desk-order-after-refund-1366")

    # The packing slip: the shirt still to ship, no prices.
    tools.get_by_role("link", name="Packing slip").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Packing slip")
    expect(page.get_by_role("main")).to_contain_text(order.number)
    row = page.get_by_role("row", name="Linen Shirt")
    expect(row).to_contain_text("SHIRT-L")
    expect(row.locator(".number")).to_have_text("1")
    expect(page.get_by_role("main")).not_to_contain_text("$")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    assert_accessible(page)
    shoot(page, "desk-packing-slip-1366")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    page.emulate_media(media="screen")
    page.set_viewport_size(PHONE)
    assert_accessible(page)
    shoot(page, "desk-packing-slip-390")


def test_the_merchant_records_a_bank_transfer(live_server, page, orders, merchant):
    _paid, order = orders
    page.set_viewport_size(WIDE)
    page.set_default_timeout(10_000)
    sign_in_to_admin(page, live_server.url, merchant)
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    tools = page.get_by_role("navigation", name="What you can do with this order")
    expect(tools.get_by_role("link", name="Ship items")).to_have_count(0)
    tools.get_by_role("link", name="Record bank transfer").click()
    page.get_by_label("Amount received").fill("40.00")
    page.get_by_label("Reference on the bank statement").fill("LOVELACE 7731")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".errornote, .errorlist").first).to_be_visible()
    expect(page.locator("#content")).to_contain_text("The order owes $43.95, not $40.00")
    page.get_by_label("Amount received").fill("43.95")
    page.get_by_role("button", name="Continue").click()
    confirm = page.get_by_role("button", name="Record $43.95 received")
    expect(confirm).to_be_visible()
    assert_admin_accessible(page)
    shoot(page, "desk-record-transfer")
    confirm.click()
    expect(page.get_by_text("Bank transfer recorded: the order is paid.")).to_be_visible()
    expect(page.locator(".desk-badges")).to_contain_text("Paid")
    expect(page.locator(".desk-timeline")).to_contain_text(
        "Payment of $43.95 received by bank transfer"
    )
    expect(page.locator(".desk-timeline")).to_contain_text("LOVELACE 7731")
    expect(tools.get_by_role("link", name="Ship items")).to_be_visible()
    assert_admin_accessible(page)
    shoot(page, "desk-order-transfer-recorded")
