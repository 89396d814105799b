"""A flash sale from countdown to sold out, at desktop and phone widths in one walk: the
product page counts down (flash.js) and reloads at the start, "Buy now at <flash price>"
replaces Add to cart, a guest pressing it signs in and comes back, buys the last unit
through checkout, then the page and /flash/ say "sold out"; axe on each."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import DESKTOP, PHONE, assert_accessible, scrolls_sideways
from e2e.test_checkout import choose_country, fill_london_address
from e2e.test_group_buys import sign_in
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory
from promotions import flash
from promotions.models import FlashSale

#: Seconds before the sale starts once the countdown is moved close: the page's JavaScript
#: reloads it at zero (on a busy machine the reload may already find the sale on).
STARTS_IN = 3


@pytest.fixture
def method(transactional_db):
    return ShippingMethodFactory(name="Standard", price=Decimal("4.95"))


def _sale(name: str) -> FlashSale:
    product = ProductFactory(name=f"{name} Teapot", variants=False)
    variant = VariantFactory(product=product, price=Decimal("80.00"), stock=5)
    now = timezone.now()
    sale = FlashSale.objects.create(
        name=f"{name} flash",
        variant=variant,
        price=Decimal("19.90"),
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
        cap=1,
        per_customer=1,
    )
    flash.schedule_changed()  # as the admin does when it saves one
    return sale


def test_a_flash_sale_from_countdown_to_sold_out(live_server, page, screenshot, method):
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.context.clear_cookies()
        page.set_viewport_size(viewport)
        sale = _sale(size.title())
        product_url = live_server.url + sale.variant.product.get_absolute_url()

        page.goto(product_url)
        block = page.locator(".flash-block")
        expect(block).to_contain_text("Flash sale · coming soon")
        expect(block.locator(".flash-sale__countdown")).to_contain_text("Starts in 00:5")
        expect(block.get_by_role("button", name="Buy now")).to_have_count(0)
        assert_accessible(page)
        assert not scrolls_sideways(page)
        screenshot(f"flash-countdown-{size}")

        # The merchant moves the start close; at zero flash.js reloads the page: the sale is
        # on, with what is left.
        FlashSale.objects.filter(pk=sale.pk).update(
            starts_at=timezone.now() + timedelta(seconds=STARTS_IN)
        )
        flash.schedule_changed()
        page.reload()
        expect(block).to_contain_text("Flash sale · on now", timeout=(STARTS_IN + 15) * 1000)
        expect(block).to_contain_text("1 of 1 left")
        expect(block.locator(".price__now")).to_have_text("$19.90")
        expect(page.locator("#buy-form")).to_be_hidden()  # Buy now replaces Add to cart
        screenshot(f"flash-on-{size}")
        block.get_by_role("button", name="Buy now at $19.90").click()

        # Flash sales sell to signed-in shoppers: sign in, and back to the product page.
        user = UserFactory(email=f"{size}@example.com")
        sign_in(page, live_server.url, user.email)
        expect(block).to_contain_text("1 of 1 left")
        block.get_by_role("button", name="Buy now at $19.90").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
        if flash._redis() is not None:  # held for the shopper (without Redis nothing is)
            expect(page.get_by_text("is yours at $19.90 until")).to_be_visible()
        choose_country(page, "GB")
        fill_london_address(page)
        page.get_by_label("Standard").check()
        page.get_by_label("Bank transfer").check()
        page.get_by_role("button", name="Continue to review").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
        page.get_by_role("button", name="Place order and pay $24.85").click()  # 19.90 + 4.95
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        order = Order.objects.get(user=user)
        assert order.lines.get().unit_price == Decimal("19.90")

        page.goto(product_url)
        expect(block).to_contain_text("Flash sale · sold out")
        expect(block.get_by_role("button", name="Buy now")).to_have_count(0)
        assert_accessible(page)
        screenshot(f"flash-sold-out-{size}")

        page.goto(live_server.url + "/flash/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Flash sales")
        expect(page.locator(".flash-sale--sold_out").filter(has_text=sale.name)).to_contain_text(
            "Sold out"
        )
        assert_accessible(page)
        assert not scrolls_sideways(page)
        screenshot(f"flash-list-{size}")
