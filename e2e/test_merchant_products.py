"""The merchant's product list and bulk edit of prices and stock, in the Django admin: the
list at a laptop's and a phone's width, two products' variants chosen, a bad adjustment
refused with its reason, then a price cut and goods received previewed and applied.
Screenshots of every page at 1366 and 390 px for a person to look at."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from catalog.models import StockMovement, Variant
from catalog.tests.factories import (
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
    png_bytes,
)
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from e2e.test_merchant_orders import WIDE, assert_admin_accessible, sign_in_to_admin

COLOURS = {"Red": (200, 40, 40), "Navy": (30, 40, 110), "Sand": (210, 190, 150)}


@pytest.fixture
def catalog(transactional_db, settings, tmp_path):
    """A small shop: a shirt in three colours and two sizes with a picture per colour, a mug
    running low, a sold-out lamp without a picture and a few plain products."""
    settings.MEDIA_ROOT = tmp_path
    colour, size = OptionTypeFactory(name="Colour"), OptionTypeFactory(name="Size")
    shirt = ProductFactory(name="Linen Shirt", variants=False)
    for name, rgb in COLOURS.items():
        value = OptionValueFactory(option_type=colour, value=name)
        for label, price in (("M", "39.00"), ("L", "42.00")):
            VariantFactory(
                product=shirt,
                sku=f"SHIRT-{name[:3].upper()}-{label}",
                price=Decimal(price),
                stock=4,
                option_values=[value, OptionValueFactory(option_type=size, value=label)],
            )
        picture = ProductImageFactory(
            product=shirt, alt_text=f"{name} shirt", image=_file(rgb, name)
        )
        picture.option_values.set([value])
    mug = ProductFactory(name="Stoneware Mug", variants__price=Decimal("14.50"), variants__stock=3)
    ProductImageFactory(product=mug, alt_text="Mug", image=_file((60, 130, 120), "mug"))
    ProductFactory(name="Brass Desk Lamp", variants__price=Decimal("129.00"), variants__stock=0)
    for n, name in enumerate(["Wool Scarf", "Canvas Tote", "Notebook A5"]):
        ProductFactory(name=name, variants__price=Decimal(12 + 7 * n), variants__stock=25)
    return shirt, mug


def _file(rgb, name: str) -> ContentFile:
    return ContentFile(png_bytes(colour=rgb), name=f"{name}.png")


@pytest.fixture
def merchant(transactional_db):
    return UserFactory(email="mia@example.com", is_staff=True, is_superuser=True)


def serve_media(page):
    """Uploaded pictures are served by the proxy in production, by nobody in tests: the
    browser gets them straight from MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT)

    def fulfil(route):
        name = route.request.url.split(settings.MEDIA_URL, 1)[1]
        path = root / name
        if path.is_file():
            route.fulfill(path=str(path))
        else:
            route.fulfill(status=404)

    page.route(f"**{settings.MEDIA_URL}**", fulfil)


def shoot(page, name):
    """Screenshots at 1366 and 390 px; at both the page fits its width (nothing to scroll
    sideways, every column of the lists on the screen)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for size, suffix in ((WIDE, "1366"), (PHONE, "390")):
        page.set_viewport_size(size)
        page.screenshot(path=ARTIFACTS / f"{name}-{suffix}.png", full_page=True)
        assert page.evaluate(FITS), f"{name} is wider than {suffix} px"
    page.set_viewport_size(WIDE)


FITS = """() => document.documentElement.scrollWidth <= window.innerWidth &&
    [...document.querySelectorAll('#changelist .results, .bulk-edit__table')]
        .every(box => box.scrollWidth <= box.clientWidth + 1)"""


def test_merchant_edits_prices_and_stock_of_chosen_products(live_server, page, catalog, merchant):
    page.set_viewport_size(WIDE)
    page.set_default_timeout(10_000)
    serve_media(page)
    sign_in_to_admin(page, live_server.url, merchant)

    page.goto(live_server.url + "/admin/catalog/product/")
    shirt_row = page.get_by_role("row").filter(has_text="Linen Shirt")
    expect(shirt_row).to_contain_text("from $39.00")
    expect(shirt_row).to_contain_text("6 variants, 24 in stock")
    expect(page.get_by_role("row").filter(has_text="Stoneware Mug")).to_contain_text("low")
    expect(page.get_by_role("row").filter(has_text="Brass Desk Lamp")).to_contain_text("sold out")
    # The pictures load (served from MEDIA_ROOT above), none is broken.
    assert page.evaluate(
        "[...document.querySelectorAll('img.list-thumb')].every(i => i.naturalWidth > 0)"
    )
    assert_admin_accessible(page)
    shoot(page, "admin-product-list")

    shirt_row.get_by_role("checkbox").check()
    page.get_by_role("row").filter(has_text="Stoneware Mug").get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Edit prices and stock of their variants")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit prices and stock")
    expect(page.get_by_text("7 variants selected:")).to_be_visible()
    assert_admin_accessible(page)
    shoot(page, "admin-bulk-edit")

    # Taking away more than the mug has is refused, with its reason, and nothing changes.
    page.get_by_label("Adjust stock by").fill("-4")
    page.get_by_role("button", name="Preview the changes").click()
    expect(page.get_by_text("has 3 in stock: removing 4 would take it below zero")).to_be_visible()
    assert_admin_accessible(page)
    shoot(page, "admin-bulk-edit-refused")

    page.get_by_label("Change by a percentage (e.g. 10 or -15)").check()
    page.get_by_label("Price, percentage or amount").fill("-10")
    page.get_by_label("Adjust stock by").fill("6")
    page.get_by_label("Reason").select_option(label="Received")
    page.get_by_label("Note").fill("Delivery 1187")
    page.get_by_role("button", name="Preview the changes").click()
    preview = page.locator("#bulk-edit-preview")
    expect(preview.get_by_role("row").filter(has_text="SHIRT-RED-M")).to_contain_text(
        "$39.00 → becomes $35.10"
    )
    expect(preview.get_by_role("row").filter(has_text="Stoneware Mug")).to_contain_text(
        "3 → becomes 9"
    )
    assert Variant.objects.get(sku="SHIRT-RED-M").price == Decimal("39.00")  # not yet
    assert_admin_accessible(page)
    shoot(page, "admin-bulk-edit-preview")

    page.get_by_role("button", name="Yes, apply these changes").click()
    expect(page.get_by_text("7 variants changed.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Linen Shirt")).to_contain_text("from $35.10")
    assert Variant.objects.get(sku="SHIRT-RED-M").stock == 10
    assert StockMovement.objects.filter(reason="received", note="Delivery 1187").count() == 7
    shoot(page, "admin-product-list-after")


def test_choosing_a_colour_brings_its_pictures_first(live_server, page, catalog):
    shirt, _mug = catalog
    serve_media(page)
    page.goto(live_server.url + shirt.get_absolute_url())
    main = page.locator("#main-image")
    expect(main).to_have_attribute("alt", "Red shirt")  # the first in stock: red, M
    page.get_by_label("Navy").check()
    page.get_by_label("L", exact=True).check()
    expect(main).to_have_attribute("alt", "Navy shirt")
    thumbnails = page.locator(".product__thumbnails .js-thumbnail")
    expect(thumbnails.first).to_have_attribute("data-alt", "Navy shirt")
    assert "variant=" in page.url  # the address says which, and serves the same order
    page.reload()
    expect(main).to_have_attribute("alt", "Navy shirt")
    assert_accessible(page)
