"""A shopper on a product page in colours and sizes: swatches and size buttons, the photo,
price and address following the choice, sold-out and missing combinations, the zoom, the
phone's buy bar; and the same choice without JavaScript."""

import re
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from catalog.demo import _draw
from catalog.tests.factories import (
    JACKET_STOCK,
    BrandFactory,
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from e2e.test_merchant_products import serve_media
from orders.tests.factories import ShippingMethodFactory
from reviews import services as review_services
from reviews.tests.factories import ReviewFactory, order_holding

WIDE = {"width": 1366, "height": 900}
NARROW = {"width": 360, "height": 740}
COLOURS = {"Red": (178, 34, 34), "Navy": (31, 58, 96), "Sand": (214, 190, 150)}


@pytest.fixture
def jacket(transactional_db, settings, tmp_path):
    """A field jacket in red (S, M, L sold out), navy (S, M sold out, no L) and sand (M,
    sold out, no picture: a colour chip); a picture of the red and of the navy; a standard
    shipping method with delivery days; a review by a buyer."""
    settings.MEDIA_ROOT = tmp_path
    colour = OptionTypeFactory(name="Colour", position=0)
    size = OptionTypeFactory(name="Size", position=1)
    colours = {
        name: OptionValueFactory(
            option_type=colour, value=name, position=i, swatch="#{:02x}{:02x}{:02x}".format(*rgb)
        )
        for i, (name, rgb) in enumerate(COLOURS.items())
    }
    sizes = {
        name: OptionValueFactory(option_type=size, value=name, position=i)
        for i, name in enumerate(["S", "M", "L"])
    }
    product = ProductFactory(
        name="Fjell Field Jacket",
        brand=BrandFactory(name="Fjell"),
        description="Waxed cotton, four pockets, a hood that packs into the collar.",
        variants=False,
    )
    variants = {
        key: VariantFactory(
            product=product,
            sku=f"JKT-{key[0].upper()}-{key[1]}",
            price=Decimal("89.00") if key[0] == "Navy" else Decimal("79.00"),
            compare_at_price=Decimal("99.00") if key[0] == "Navy" else None,
            stock=units,
            option_values=[colours[key[0]], sizes[key[1]]],
        )
        for key, units in JACKET_STOCK.items()
    }
    for position, name in enumerate(["Red", "Navy"]):
        picture = ProductImageFactory(
            product=product,
            alt_text=f"{name} field jacket",
            position=position,
            image=ContentFile(_draw("Jacket", COLOURS[name]), name=f"{name}.png"),
        )
        picture.option_values.set([colours[name]])
    ShippingMethodFactory(
        name="Standard", price=Decimal("4.95"), delivery_days_min=3, delivery_days_max=5
    )
    buyer = ReviewFactory(product=product, title="Keeps the rain out", rating=5).user
    order_holding(product, user=buyer)
    ReviewFactory(product=product, title="Runs small", rating=4)
    review_services.refresh_ratings(product_ids=[product.pk])
    return product, variants


def _fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_choosing_a_colour_and_size_updates_the_page_in_place(live_server, page, jacket):
    product, variants = jacket
    serve_media(page)
    page.set_viewport_size(WIDE)
    page.goto(live_server.url + product.get_absolute_url())
    price = page.locator("#chosen-price .price__now")
    main = page.locator("#main-image")
    expect(price).to_have_text("$79.00")
    expect(main).to_have_attribute("alt", "Red field jacket")
    expect(page.get_by_text("Delivery in 3–5 working days")).to_be_visible()
    expect(page.get_by_text("Free returns within 30 days")).to_be_visible()
    expect(page.get_by_text("✓ Verified buyer")).to_have_count(1)
    expect(page.get_by_role("button", name="Update")).to_be_hidden()
    assert_accessible(page)
    page.screenshot(path=ARTIFACTS / "product-1366.png", full_page=True)

    page.get_by_label("Navy").check()
    expect(price).to_have_text("$89.00")
    expect(page.locator("#chosen-price .price__was")).to_contain_text("$99.00")
    expect(main).to_have_attribute("alt", "Navy field jacket")
    expect(page).to_have_url(re.compile(rf"\?variant={variants['Navy', 'S'].pk}$"))
    expect(page.locator("legend").first).to_have_text("Colour: Navy")
    # Navy comes in no L: shown, disabled; navy M is sold out: crossed, still choosable.
    expect(page.locator("input[name=size][value=l]")).to_be_disabled()
    medium = page.locator("input[name=size][value=m]")
    expect(medium).to_be_enabled()
    medium.check()
    expect(page.locator("#chosen-stock")).to_have_text("Sold out")
    expect(page.locator(".buy-form__submit")).to_be_disabled()
    expect(page.locator(".buy-form__submit")).to_have_text("Sold out")
    expect(page).to_have_url(re.compile(rf"\?variant={variants['Navy', 'M'].pk}$"))
    # Back to red: L is there again (sold out), and the red picture comes back.
    page.get_by_label("Red").check()
    expect(main).to_have_attribute("alt", "Red field jacket")
    expect(page.locator("input[name=size][value=l]")).to_be_enabled()
    expect(page.locator("#chosen-stock")).to_have_text("Only 2 left")
    assert_accessible(page)

    # The zoom opens on the page and closes with Escape.
    page.locator("#main-image-link").click()
    dialog = page.get_by_role("dialog", name="Large picture")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(r"/p/"))
    assert_accessible(page)
    page.screenshot(path=ARTIFACTS / "product-zoom-1366.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(
        page.get_by_role("status").filter(has_text="Added 1 × “Fjell Field Jacket”")
    ).to_be_visible()
    # Back on the page the shopper chose.
    expect(page).to_have_url(re.compile(rf"\?variant={variants['Red', 'M'].pk}$"))


def test_on_a_phone_the_buy_box_follows_the_photo_and_a_bar_stays_in_reach(
    live_server, page, jacket
):
    product, variants = jacket
    serve_media(page)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + product.get_absolute_url())
    page.screenshot(path=ARTIFACTS / "product-390.png", full_page=True)
    photo = page.locator("#main-image").bounding_box()
    title = page.get_by_role("heading", level=1).bounding_box()
    price = page.locator("#chosen-price").bounding_box()
    assert photo["y"] + photo["height"] <= title["y"]
    assert price["y"] + price["height"] < PHONE["height"], "the price is on the first screen"
    for box in page.locator(".option__label, .buy-form__submit, #quantity").all():
        size = box.bounding_box()
        assert size["width"] >= 44 and size["height"] >= 44, box.inner_text()
    bar = page.locator("#buy-bar")
    expect(bar).to_be_hidden()
    assert_accessible(page)

    page.get_by_role("link", name="See all 2 reviews").scroll_into_view_if_needed()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("$79.00")
    assert_accessible(page)
    page.screenshot(path=ARTIFACTS / "product-bar-390.png")
    bar.get_by_role("button", name="Add to cart").click()
    expect(
        page.get_by_role("status").filter(has_text="Added 1 × “Fjell Field Jacket”")
    ).to_be_visible()

    page.set_viewport_size(NARROW)
    assert _fits(page), "nothing scrolls sideways at 360 px"
    page.goto(live_server.url + product.get_absolute_url() + f"?variant={variants['Navy', 'M'].pk}")
    assert _fits(page)
    page.mouse.wheel(0, 3000)
    expect(bar).to_be_visible()
    # A sold-out choice: the bar takes the shopper back to the options instead.
    expect(bar.get_by_role("button")).to_have_text("Choose options")
    bar.get_by_role("button").click()
    expect(page.locator("#options")).to_be_in_viewport()


def test_without_javascript_the_form_reloads_at_the_chosen_variant_and_adds_it(
    live_server, browser, jacket
):
    product, variants = jacket
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    serve_media(page)
    page.goto(live_server.url + product.get_absolute_url())
    expect(page.get_by_role("button", name="Update")).to_be_visible()
    expect(page.locator("#buy-bar")).to_be_hidden()
    page.get_by_label("Navy").check()
    page.get_by_role("button", name="Update").click()
    expect(page).to_have_url(re.compile(rf"\?variant={variants['Navy', 'S'].pk}$"))
    expect(page.locator("#chosen-price .price__now")).to_have_text("$89.00")
    expect(page.locator("#main-image")).to_have_attribute("alt", "Navy field jacket")
    expect(page.locator("input[name=size][value=l]")).to_be_disabled()
    expect(page.locator("#chosen-label")).to_have_text("Navy / S")
    page.screenshot(path=ARTIFACTS / "product-nojs-390.png", full_page=True)
    # axe runs as a script, which this page does not allow: check the same markup in a page
    # that allows scripts but cannot load the shop's (no address to resolve them against).
    checked = browser.new_page(viewport=PHONE)
    checked.set_content(page.content())
    expect(checked.get_by_role("button", name="Update")).to_be_visible()
    assert_accessible(checked)
    checked.close()
    # The picture links to the large picture.
    expect(page.locator("#main-image-link")).to_have_attribute("href", re.compile(r"\.png$"))
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(
        page.get_by_role("status").filter(has_text="Added 1 × “Fjell Field Jacket”")
    ).to_be_visible()
    expect(page).to_have_url(re.compile(rf"\?variant={variants['Navy', 'S'].pk}$"))
    page.goto(live_server.url + "/cart/")
    expect(page.locator("main")).to_contain_text("Navy / S")
    context.close()
