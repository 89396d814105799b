"""Two shoppers buy together: the first starts a group from the product page and pays on the
sandbox gateway (desktop); the second opens the shared link on a phone, is asked to sign in,
joins and pays; the group completes and both orders may ship. Axe on each page, screenshots
of each at both widths."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, AddressFactory, UserFactory
from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, DESKTOP, PHONE, assert_accessible, scrolls_sideways
from groupbuys.models import Group, GroupState
from groupbuys.tests.factories import GroupOfferFactory
from orders.models import Order
from orders.services import may_ship
from orders.tests.factories import ShippingMethodFactory


@pytest.fixture
def offer(transactional_db):
    product = ProductFactory(name="Tea Set", variants=False)
    VariantFactory(product=product, price=Decimal("30.00"), stock=5)
    ShippingMethodFactory(name="Standard", price=Decimal("5.00"))
    for email, name in [("jonathan@example.com", "Jonathan"), ("mei@example.com", "Mei Li")]:
        AddressFactory(user=UserFactory(email=email, full_name=name))
    return GroupOfferFactory(product=product, group_price=Decimal("20.00"), group_size=2)


def shoot(page, name, size):
    """Both widths of the shopper's page (e2e/artifacts/, for a person to look at), then
    back to their own width. (The `screenshot` fixture shoots the first shopper's page.)"""
    ARTIFACTS.mkdir(exist_ok=True)
    for width_name, width in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(width)
        assert not scrolls_sideways(page), name
        page.screenshot(path=ARTIFACTS / f"{name}-{width_name}.png", full_page=True)
    page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)


def sign_in(page, base_url, email):
    page.get_by_label("Email or phone number").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def pay_at_the_group_price(page, name, size):
    expect(page.get_by_text("pay now to hold your seat")).to_be_visible()
    page.get_by_label("Standard").check()
    page.get_by_label("Card (sandbox gateway)").check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    assert_accessible(page)
    shoot(page, f"group-review-{name}", size)
    page.get_by_role("button", name="Place order and pay $25.00").click()  # 20 + 5 shipping
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox payment")
    page.get_by_role("button", name="Pay $25.00").click()
    expect(page.get_by_text("Thank you: we received $25.00")).to_be_visible(timeout=15000)


def test_two_shoppers_start_and_complete_a_group(live_server, page, offer):
    base = live_server.url
    product_url = base + offer.product.get_absolute_url()

    # Jonathan, on a desktop, starts a group from the product page and pays.
    page.goto(base + "/accounts/login/")
    sign_in(page, base, "jonathan@example.com")
    page.goto(product_url)
    start = page.get_by_role("button", name="Start a group at $20.00")
    expect(start).to_be_visible()
    assert_accessible(page)
    shoot(page, "group-product", "desktop")
    start.click()
    pay_at_the_group_price(page, "leader", "desktop")
    group = Group.objects.get()
    first = Order.objects.get()
    assert first.on_hold and first.payment_status == "paid" and not may_ship(first)

    page.goto(product_url)  # the open group is listed for others to join
    expect(page.get_by_role("link", name="1 seat left, until")).to_have_attribute(
        "href", group.get_absolute_url()
    )
    shoot(page, "group-product-open-group", "desktop")
    page.goto(base + group.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text("Group buy: Tea Set")
    expect(page.locator(".group-members__item")).to_have_text(["J***n paid"])
    expect(page.get_by_text("1 seat left.")).to_be_visible()
    expect(page.locator("#group-link")).to_have_value(base + group.get_absolute_url())
    assert_accessible(page)
    shoot(page, "group-page-one-paid", "desktop")

    # Mei opens the shared link on her phone, signs in when asked, joins and pays.
    phone = page.context.browser.new_context(viewport=PHONE, locale="en-US")
    other = phone.new_page()
    other.goto(base + group.get_absolute_url())
    other.get_by_role("button", name="Join this group at $20.00").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Sign in")
    sign_in(other, base, "mei@example.com")
    expect(other.get_by_role("heading", level=1)).to_have_text("Group buy: Tea Set")
    other.get_by_role("button", name="Join this group at $20.00").click()
    pay_at_the_group_price(other, "joiner", "phone")

    group.refresh_from_db()
    assert group.state == GroupState.COMPLETE
    for order in Order.objects.all():
        assert not order.on_hold and may_ship(order) and order.lines.get().unit_price == 20
    other.goto(base + group.get_absolute_url())
    expect(other.get_by_text("This group is complete")).to_be_visible()
    expect(other.locator(".group-members__item")).to_have_text(["J***n paid", "M***i paid"])
    assert_accessible(other)
    shoot(other, "group-page-complete", "phone")
    other.goto(base + "/zh-hans" + group.get_absolute_url())
    expect(other.get_by_role("heading", level=1)).to_have_text("拼团：Tea Set")
    assert_accessible(other)
    shoot(other, "group-page-complete-zh", "phone")
    phone.close()
