"""The merchant's side of an order's life, in the Django admin: a partial shipment, a refund
by line with its confirmation page, the rest shipped and delivered, then the shopper's return
approved, received with restock and refunded. Screenshots of every page for a person."""

from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from catalog.models import Variant
from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from orders.tests.factories import ShippingMethodFactory, cart_with, place
from payments.tests.factories import deliver, start

WIDE = {"width": 1366, "height": 900}

_axe = Axe()

# axe on Django admin pages runs on #content, the page's own content (our object tools, inlines,
# action pages and confirmation tables included). Outside it, Django's admin markup fails a
# rule we cannot fix from this project: the breadcrumbs are white links on a light blue bar
# with no underline (link-in-text-block, 1.42:1 against the bar's text).
ADMIN_AXE_CONTEXT = "#content"


def assert_admin_accessible(page) -> None:
    results = _axe.run(page, context=ADMIN_AXE_CONTEXT)
    assert results.violations_count == 0, results.generate_report()


@pytest.fixture
def paid_order(transactional_db):
    """Ada's order of 2 shirts and 1 scarf, paid on the sandbox: 2 x $39 + $25 + $4.95."""
    shopper = UserFactory(email="ada@example.com", full_name="Ada Lovelace")
    shirt = VariantFactory(
        product=ProductFactory(name="Linen Shirt", variants=False),
        sku="SHIRT-L",
        price=Decimal("39.00"),
        stock=5,
    )
    scarf = VariantFactory(
        product=ProductFactory(name="Wool Scarf", variants=False),
        sku="SCARF-1",
        price=Decimal("25.00"),
        stock=3,
    )
    order = place(
        cart_with((shirt, 2), (scarf, 1), user=shopper),
        user=shopper,
        email=shopper.email,
        payment="sandbox",
        method=ShippingMethodFactory(name="Standard", price=Decimal("4.95")),
    )
    deliver(start(order))
    order.refresh_from_db()
    assert (order.payment_status, order.total) == ("paid", Decimal("107.95"))
    return order


@pytest.fixture
def merchant(transactional_db):
    return UserFactory(
        email="mia@example.com", full_name="Mia Merchant", is_staff=True, is_superuser=True
    )


def shoot(page, name, *, phone=False):
    """A full-page screenshot at 1366 px (and 390 px for the shopper's pages) under
    e2e/artifacts/, as the harness's `screenshot` takes them, for whichever browser tab."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}-desktop.png", full_page=True)
    if phone:
        page.set_viewport_size(PHONE)
        page.screenshot(path=ARTIFACTS / f"{name}-phone.png", full_page=True)
        page.set_viewport_size(WIDE)


def sign_in_to_admin(page, base_url, user):
    page.goto(base_url + "/admin/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_merchant_ships_refunds_and_handles_a_return(
    live_server, browser, page, paid_order, merchant
):
    order = paid_order
    page.set_viewport_size(WIDE)
    page.set_default_timeout(10_000)
    base = live_server.url
    order_url = f"{base}/admin/orders/order/{order.pk}/change/"
    sign_in_to_admin(page, base, merchant)

    # 1. Ship one of the two shirts.
    page.goto(order_url)
    assert_admin_accessible(page)
    shoot(page, "admin-order-paid")
    # The cancel page says what cancelling would do; keep the order.
    page.get_by_role("link", name="Cancel order").click()
    expect(page.get_by_text("$107.95 goes back to the shopper.")).to_be_visible()
    assert_admin_accessible(page)
    shoot(page, "admin-order-cancel")
    page.get_by_role("link", name="Keep the order").click()
    page.get_by_role("link", name="Ship items").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ship items of order {order.number}")
    page.get_by_label("Linen Shirt (SHIRT-L)").select_option("1")
    page.get_by_label("Wool Scarf (SCARF-1)").select_option("0")
    page.get_by_label("Carrier").select_option(label="Royal Mail")
    page.get_by_label("Tracking number").fill("RM123456785GB")
    assert_admin_accessible(page)
    shoot(page, "admin-order-ship")
    page.get_by_role("button", name="Record the shipment").click()
    expect(page.get_by_text("Shipment recorded.")).to_be_visible()
    expect(page.locator(".desk-badges")).to_contain_text("Partially shipped")

    # 2. Refund the scarf. It has not shipped, so it goes back on the shelf by itself: its
    # row offers no restock checkbox (the shirt's, with a unit shipped, does).
    page.get_by_role("link", name="Refund items").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Refund items of order {order.number}"
    )
    expect(
        page.get_by_label("Put shipped units of Linen Shirt (SHIRT-L) back on the shelf")
    ).not_to_be_checked()
    scarf_row = page.get_by_role("row", name="Wool Scarf (SCARF-1)")
    expect(scarf_row).to_contain_text("Not shipped: goes back by itself")
    expect(scarf_row.get_by_role("checkbox")).to_have_count(0)
    page.get_by_label("Wool Scarf (SCARF-1)").select_option("1")
    page.get_by_label("Reason (the shopper reads it)").fill("Out of this colour")
    assert_admin_accessible(page)
    shoot(page, "admin-order-refund")
    page.get_by_role("button", name="Show the amount").click()
    confirm = page.get_by_role("button", name="Refund $25.00 now")
    expect(confirm).to_be_visible()
    table = page.get_by_role("table")
    expect(table.get_by_role("row", name="Wool Scarf (SCARF-1)")).to_contain_text("1 1 $25.00")
    expect(table.get_by_role("row", name="Refund in all")).to_contain_text("$25.00")
    assert not order.refunds.exists()  # nothing decided before the confirmation
    assert Variant.objects.get(sku="SCARF-1").stock == 2
    assert_admin_accessible(page)
    shoot(page, "admin-order-refund-confirm")
    confirm.click()
    expect(page.get_by_text("Refund recorded.")).to_be_visible()
    expect(page.locator(".desk-badges")).to_contain_text("Partially refunded")
    expect(page.get_by_role("row", name="Refunded −$25.00", exact=True)).to_be_visible()
    assert Variant.objects.get(sku="SCARF-1").stock == 3  # 3 - 1 sold + 1 back
    shoot(page, "admin-order-refunded")

    # 3. Ship the other shirt, then mark the order delivered from the list.
    page.get_by_role("link", name="Ship items").click()
    expect(page.get_by_label("Linen Shirt (SHIRT-L)")).to_have_value("1")
    page.get_by_label("Carrier").select_option(label="Royal Mail")
    page.get_by_role("button", name="Record the shipment").click()
    expect(page.locator(".desk-badges")).to_contain_text("Shipped")
    page.goto(f"{base}/admin/orders/order/")
    page.get_by_role("checkbox", name="Select this object for an action").check()
    page.get_by_label("Action:").select_option(label="Mark delivered")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 order marked delivered.")).to_be_visible()
    assert_admin_accessible(page)
    shoot(page, "admin-order-list")

    # The shopper, signed in on her own browser, asks to return one shirt.
    shopper = browser.new_context(viewport=WIDE, locale="en-US")
    own = shopper.new_page()
    own.set_default_timeout(10_000)
    own.goto(base + "/accounts/login/")
    own.get_by_label("Email or phone number").fill("ada@example.com")
    own.get_by_label("Password").fill(PASSWORD)
    own.get_by_role("button", name="Sign in").click()
    own.goto(f"{base}/orders/{order.number}/")
    own.get_by_role("link", name="Return items").click()
    expect(own.get_by_role("heading", level=1)).to_have_text(
        f"Return items of order {order.number}"
    )
    own.get_by_label("How many of Linen Shirt").select_option("1")
    own.get_by_label("Why are you returning them?").select_option(label="It does not fit")
    own.get_by_label("Anything we should know? (optional)").fill("Too tight at the shoulders.")
    assert_accessible(own)
    shoot(own, "shopper-return", phone=True)
    own.get_by_role("button", name="Request a return").click()
    # A page with <meta name="referrer" content="no-referrer"> makes Chromium post its forms
    # with "Origin: null", which Django's CSRF check refuses (403).
    expect(
        own.get_by_text("Your return request is sent"),
        "the shopper's return form did not go through (a 403 from the CSRF check?)",
    ).to_be_visible()
    assert_accessible(own)
    shoot(own, "shopper-order-return-requested", phone=True)
    return_request = order.returns.get()

    # The merchant approves it from the list, receives the parcel and refunds it.
    page.goto(f"{base}/admin/orders/returnrequest/")
    page.get_by_role("checkbox", name="Select this object for an action").check()
    page.get_by_label("Action:").select_option(
        label="Approve (the shopper may send the items back)"
    )
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 return approved.")).to_be_visible()
    assert_admin_accessible(page)
    shoot(page, "admin-return-list")
    page.goto(f"{base}/admin/orders/returnrequest/{return_request.pk}/change/")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)  # nothing to edit
    assert_admin_accessible(page)
    shoot(page, "admin-return-approved")
    # The reject page asks for the answer the shopper reads; go back without rejecting.
    page.get_by_role("link", name="Reject").click()
    expect(page.get_by_label("Why is it rejected? (the shopper reads this)")).to_be_empty()
    assert_admin_accessible(page)
    shoot(page, "admin-return-reject")
    page.get_by_role("link", name="Back to the return").click()
    page.get_by_role("link", name="Parcel received").click()
    expect(page.get_by_label("Restock 1 × Linen Shirt")).to_be_checked()
    assert_admin_accessible(page)
    shoot(page, "admin-return-receive")
    page.get_by_role("button", name="Record the parcel as received").click()
    expect(page.get_by_text("Return received.")).to_be_visible()
    assert Variant.objects.get(sku="SHIRT-L").stock == 4  # 5 - 2 sold + 1 back
    page.get_by_role("link", name="Refund", exact=True).click()
    expect(page.get_by_role("row", name="Linen Shirt (SHIRT-L)")).to_contain_text("1 yes")
    expect(page.get_by_label("Refund the shipping")).not_to_be_checked()
    shoot(page, "admin-return-refund")
    page.get_by_role("button", name="Show the amount").click()
    confirm = page.get_by_role("button", name="Refund $39.00 now")
    expect(confirm).to_be_visible()
    expect(page.get_by_role("row", name="Linen Shirt (SHIRT-L)")).to_contain_text(
        "yes (on receipt)"
    )
    assert_admin_accessible(page)
    shoot(page, "admin-return-refund-confirm")
    confirm.click()
    expect(page.get_by_text("Refund recorded.")).to_be_visible()
    expect(page.locator(".field-status .readonly")).to_have_text("Refunded")
    assert_admin_accessible(page)
    shoot(page, "admin-return-refunded")
    page.goto(order_url)
    expect(page.locator(".desk-badges")).to_contain_text("Partially refunded")
    expect(page.get_by_role("row", name="Refunded −$64.00", exact=True)).to_be_visible()
    shoot(page, "admin-order-after-return")
    # The read-only inlines keep their formsets whole: the page still saves.
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")

    own.reload()
    expect(own.locator(".order-state--refunded").first).to_be_visible()
    assert_accessible(own)
    shoot(own, "shopper-order-return-refunded", phone=True)
    shopper.close()
    order.refresh_from_db()
    assert (order.payment_status, order.total_refunded) == ("partially_refunded", Decimal("64.00"))
