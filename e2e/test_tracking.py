"""A parcel of the demo carrier, from shipped to delivered to completed, on the shopper's
order page: the tracking timeline grows as the test moves the shipped time back (nothing
sleeps), the shopper confirms receipt, and the order completes. At 1366 px and 390 px, in
English and Chinese; axe and a screenshot at every step."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog.tests.factories import VariantFactory
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible, scrolls_sideways
from orders import services
from orders.models import Order, Shipment
from orders.selectors import guest_key
from orders.tests.factories import cart_with, place

WIDE = {"width": 1366, "height": 900}

WORDS = {
    "en": {
        "in_transit": "In transit",
        "scan": "Left the sorting centre",
        "delivered": "Delivered, signed for by the recipient",
        "waiting": "Not confirmed yet",
        "confirm": "I received my order",
        "completed": "Completed",
        "thanks": "Thank you for confirming that your order arrived.",
    },
    "zh": {
        "in_transit": "运输中",
        "scan": "已离开分拣中心",
        "delivered": "已签收，收件人本人签收",
        "waiting": "尚未确认收货",
        "confirm": "确认收货",
        "completed": "已完成",
        "thanks": "感谢您确认收货。",
    },
}


@pytest.fixture
def order(transactional_db):
    variant = VariantFactory(price=Decimal("39.00"), stock=5, product__name="Linen Shirt")
    order = place(cart_with((variant, 1)), email="grace@example.com")
    services.record_payment(order=order, amount=order.total)
    services.ship_lines(order=order, carrier="demo", tracking_number="DEMO-2026-0001")
    Shipment.objects.filter(order=order).update(shipped_at=timezone.now() - timedelta(minutes=10))
    return order


def poll_at(order, *, minutes_after_shipping=None):
    """One polling run at a moment of the parcel's life (None: now). The parcel left ten
    minutes ago, so the test moves through its route without waiting."""
    shipment = Shipment.objects.get(order=order)
    services.poll_tracking(
        now=None
        if minutes_after_shipping is None
        else shipment.shipped_at + timedelta(minutes=minutes_after_shipping)
    )


@pytest.mark.parametrize(("size", "language"), [("desktop", "en"), ("phone", "zh")])
def test_a_demo_parcel_goes_from_shipped_to_delivered_to_completed(
    live_server, browser, order, size, language
):
    words = WORDS[language]
    if language == "zh":
        Order.objects.filter(pk=order.pk).update(language="zh-hans")
    prefix = "/zh-hans" if language == "zh" else ""
    url = (
        f"{live_server.url}{prefix}{order.get_absolute_url()}?key={guest_key(number=order.number)}"
    )
    context = browser.new_context(viewport=WIDE if size == "desktop" else PHONE)
    page = context.new_page()
    ARTIFACTS.mkdir(exist_ok=True)

    def screenshot(step):
        page.screenshot(path=ARTIFACTS / f"tracking-{size}-{language}-{step}.png", full_page=True)

    poll_at(order, minutes_after_shipping=2.5)
    page.goto(url)
    timeline = page.locator(".tracking")
    expect(timeline.locator(".tracking__now")).to_contain_text(words["in_transit"])
    expect(timeline.locator("li")).to_have_count(3)
    expect(timeline).to_contain_text(words["scan"])
    assert not scrolls_sideways(page)
    assert_accessible(page)
    screenshot("1-in-transit")

    poll_at(order)
    page.reload()
    expect(timeline.locator("li")).to_have_count(5)
    expect(timeline.locator("li").first).to_contain_text(words["delivered"])
    expect(timeline).to_contain_text(words["waiting"])
    assert not scrolls_sideways(page)
    assert_accessible(page)
    screenshot("2-delivered")
    order.refresh_from_db()
    assert (order.status, order.fulfilment_status) == ("open", "delivered")

    page.get_by_role("button", name=words["confirm"]).click()
    expect(page.locator(".order-statuses")).to_contain_text(words["completed"])
    expect(page.get_by_text(words["thanks"])).to_be_visible()
    expect(page.get_by_role("button", name=words["confirm"])).to_have_count(0)
    expect(timeline).not_to_contain_text(words["waiting"])
    assert_accessible(page)
    screenshot("3-completed")
    order.refresh_from_db()
    assert order.status == "completed"
    context.close()
