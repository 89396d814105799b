"""A shopper sees what others bought with a product, what they viewed, and what goes with
their cart: on a desktop and a phone, with and without JavaScript."""

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog.tests.factories import BrandFactory, CategoryFactory, ProductFactory, TagFactory
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from orders.models import Order
from orders.services import rebuild_recommendations
from orders.tests.factories import ShippingMethodFactory, cart_with, place

WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def kitchen(transactional_db):
    """Teapot is bought with Cups (3 orders) and a Tea Tin (1); the rest are similar."""
    kitchen = CategoryFactory(name="Kitchen")
    brand, tea = BrandFactory(name="Fjell"), TagFactory(name="Tea")
    products = {}
    for name, price in [
        ("Teapot", "40.00"),
        ("Cups", "18.00"),
        ("Tea Tin", "9.00"),
        ("Kettle", "45.00"),
        ("Strainer", "6.00"),
        ("Tray", "30.00"),
    ]:
        products[name] = ProductFactory(
            name=name, category=kitchen, brand=brand, variants__price=Decimal(price),
            variants__stock=40, description=f"A {name.lower()} for the tea table.",
        )  # fmt: skip
        products[name].tags.set([tea])
    method = ShippingMethodFactory()
    for basket in (("Teapot", "Cups"), ("Teapot", "Cups", "Tea Tin"), ("Teapot", "Cups")):
        order = place(cart_with(*((products[n].variants.get(), 1) for n in basket)), method=method)
        Order.objects.filter(pk=order.pk).update(payment_status="paid", paid_at=timezone.now())
    rebuild_recommendations()
    return products


def cards(section):
    return section.locator(".product-card__name")


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1366", "390"])
def test_recommendations_follow_the_shopper(live_server, browser, kitchen, viewport):
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    size = viewport["width"]
    page.goto(live_server.url + kitchen["Teapot"].get_absolute_url())
    bought = page.locator("section", has=page.get_by_role("heading", name="Frequently bought"))
    expect(cards(bought)).to_have_text(["Cups", "Tea Tin"])
    similar = page.locator("section", has=page.get_by_role("heading", name="You may also like"))
    expect(cards(similar)).to_have_count(3)
    expect(page.get_by_role("heading", name="Recently viewed")).to_have_count(0)
    assert_accessible(page)

    page.goto(live_server.url + kitchen["Kettle"].get_absolute_url())
    page.goto(live_server.url + kitchen["Cups"].get_absolute_url())
    recent = page.locator("section", has=page.get_by_role("heading", name="Recently viewed"))
    expect(cards(recent)).to_have_text(["Kettle", "Teapot"])
    recent.scroll_into_view_if_needed()
    assert_accessible(page)
    page.screenshot(path=_artifact(f"recommendations-product-{size}"), full_page=True)

    page.goto(live_server.url + kitchen["Teapot"].get_absolute_url())
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.locator("[data-cart-count]")).to_have_text("1")  # the mini cart has it
    page.goto(live_server.url + "/cart/")
    often = page.locator(
        "section", has=page.get_by_role("heading", name="Often bought with what is in your cart")
    )
    expect(cards(often).first).to_have_text("Cups")
    expect(cards(often)).not_to_contain_text(["Teapot"])
    recent = page.locator("section", has=page.get_by_role("heading", name="Recently viewed"))
    expect(cards(recent)).to_have_text(["Cups", "Kettle"])
    assert_accessible(page)
    page.screenshot(path=_artifact(f"recommendations-cart-{size}"), full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= size, "no sideways scroll of the page"
    context.close()


def test_recently_viewed_works_without_javascript(live_server, browser, kitchen):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url + kitchen["Tray"].get_absolute_url())
    page.goto(live_server.url + kitchen["Strainer"].get_absolute_url())
    recent = page.locator("section", has=page.get_by_role("heading", name="Recently viewed"))
    expect(cards(recent)).to_have_text(["Tray"])
    context.close()


def _artifact(name: str):
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
