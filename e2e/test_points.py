"""A signed-in shopper pays part of an order with points at checkout, sees them as their own
line on the review and order pages, then their points page; desktop and phone, axe on each."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, AddressFactory, UserFactory
from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import DESKTOP, PHONE, assert_accessible, scrolls_sideways
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory
from promotions import ledger
from promotions.selectors import points_balance


@pytest.fixture
def shopper(transactional_db, settings):
    settings.POINTS_VALUE = Decimal("0.01")
    settings.POINTS_MAX_SHARE = Decimal("50")
    product = ProductFactory(name="Linen Shirt", variants=False)
    VariantFactory(product=product, price=Decimal("39.00"), stock=5)
    ShippingMethodFactory(name="Standard", price=Decimal("4.95"))
    user = UserFactory(email="ada@example.com")
    AddressFactory(user=user)
    ledger.adjust_points(user=user, amount=1500, note="Welcome gift")
    return user, product


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_shopper_pays_with_points_to_a_placed_order(live_server, page, screenshot, shopper, size):
    user, product = shopper
    page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email or phone number").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + product.get_absolute_url())
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    page.goto(live_server.url + "/checkout/")

    page.get_by_label("Standard").check()
    points = page.get_by_label("Points to use")
    expect(page.get_by_text("You have 1500 points, worth $15.00.")).to_contain_text(
        "up to 50% of the items"
    )
    points.fill("99999")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_text("You have 1500 points: enter 1500 or fewer.").first).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Standard").check()
    page.get_by_label("Points to use").fill("1000")
    points.scroll_into_view_if_needed()
    screenshot(f"points-checkout-{size}")
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.locator(".totals").first).to_contain_text("Points (1000)")
    expect(page.locator(".totals__total dd").first).to_have_text("$33.95")  # 39 - 10 + 4.95
    assert_accessible(page)
    assert not scrolls_sideways(page)
    screenshot(f"points-review-{size}")
    page.get_by_role("button", name="Place order and pay $33.95").click()

    order = Order.objects.get()
    assert order.total == Decimal("33.95")
    assert points_balance(user=user) == 500
    page.goto(live_server.url + order.get_absolute_url())
    expect(page.get_by_text("Points (1000)")).to_be_visible()
    screenshot(f"points-order-{size}")

    page.goto(live_server.url + "/account/points/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your points")
    expect(page.locator(".points-balance__number")).to_have_text("500")
    expect(page.get_by_text("Paid for an order")).to_be_visible()
    assert_accessible(page)
    assert not scrolls_sideways(page)
    screenshot(f"points-account-{size}")
    page.goto(live_server.url + "/zh-hans/account/points/")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的积分")
    assert_accessible(page)
    screenshot(f"points-account-zh-{size}")
