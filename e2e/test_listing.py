"""A shopper narrows a listing: chips, the phone's filter drawer, search suggestions and a
no-results page that helps (issue 16)."""

import re
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
    png_bytes,
)
from e2e.conftest import PHONE, assert_accessible

WIDE = {"width": 1366, "height": 768}
COLOURS = {"Red": ("#b22222", (178, 34, 34)), "Navy": ("#1f3a60", (31, 58, 96))}


@pytest.fixture
def shop(transactional_db, settings, tmp_path):
    """Twelve lanterns and jackets in red and navy, each with a picture per colour."""
    settings.MEDIA_ROOT = tmp_path
    outdoors = CategoryFactory(name="Outdoors")
    colour = OptionTypeFactory(name="Colour")
    values = {
        name: OptionValueFactory(option_type=colour, value=name, swatch=hex_)
        for name, (hex_, _rgb) in COLOURS.items()
    }
    brands = [BrandFactory(name="Fjell"), BrandFactory(name="Summit")]
    for n in range(12):
        noun = "Lantern" if n % 2 else "Rain Jacket"
        product = ProductFactory(
            name=f"{brands[n % 2].name} {noun} {n}",
            category=outdoors,
            brand=brands[n % 2],
            variants=False,
        )
        shown = ["Navy", "Red"] if n % 3 else ["Navy"]
        for name in shown:
            VariantFactory(product=product, price=Decimal(20 + n), option_values=[values[name]])
            image = ProductImageFactory(
                product=product,
                alt_text=f"{product.name} in {name}",
                image=ContentFile(png_bytes(colour=COLOURS[name][1]), name=f"{name}.png"),
            )
            image.option_values.set([values[name]])
    return outdoors


def test_chips_remove_a_filter_and_clear_all_on_a_wide_screen(live_server, page, screenshot, shop):
    page.set_viewport_size(WIDE)
    page.goto(live_server.url + shop.get_absolute_url())
    expect(page.get_by_role("heading", name="12 products")).to_be_visible()
    page.get_by_label("Red (8)").check()  # applies at once, landing on the results
    expect(page.get_by_role("heading", name="8 products")).to_be_visible()
    expect(page).to_have_url(re.compile(r"colour=red#results$"))
    # Every card shows its red picture.
    first_card = page.locator(".product-card img").first
    expect(first_card).to_have_attribute("src", re.compile(r"Red"))
    page.get_by_label("Fjell (4)").check()
    expect(page.get_by_role("heading", name="4 products")).to_be_visible()
    chips = page.locator(".active-filters")
    expect(chips.get_by_role("link", name="Remove filter Colour: Red")).to_be_visible()
    assert_accessible(page)
    screenshot("listing-chips-wide")

    chips.get_by_role("link", name="Remove filter Colour: Red").click()
    expect(page.get_by_role("heading", name="6 products")).to_be_visible()
    expect(page.get_by_label("Red (4)")).not_to_be_checked()
    page.locator(".active-filters").get_by_role("link", name="Clear all").click()
    expect(page.get_by_role("heading", name="12 products")).to_be_visible()
    expect(page.locator(".active-filters")).to_have_count(0)


def test_the_filter_drawer_on_a_phone(live_server, page, screenshot, shop):
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + shop.get_absolute_url())
    # Products start on the first screen; the filters wait behind a button.
    expect(page.get_by_label("Red (8)")).to_be_hidden()
    card = page.locator(".product-card").first.bounding_box()
    assert card["y"] < PHONE["height"] / 2, card
    screenshot("listing-phone")
    assert_accessible(page)

    page.get_by_role("link", name="Filter and sort").click()
    drawer = page.get_by_role("dialog", name="Filter and sort")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_role("link", name="Close filters")).to_be_focused()
    drawer.get_by_label("Red (8)").check()  # the page reloads with the drawer open
    drawer = page.get_by_role("dialog", name="Filter and sort")
    expect(drawer.get_by_role("button", name="Show 8 results")).to_be_visible()
    assert_accessible(page)
    screenshot("listing-phone-drawer")
    drawer.get_by_role("button", name="Show 8 results").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("heading", name="8 products")).to_be_in_viewport()
    expect(page.get_by_role("link", name="Filter and sort (1)")).to_be_visible()

    page.get_by_role("link", name="Filter and sort (1)").click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("link", name="Filter and sort (1)")).to_be_focused()
    screenshot("listing-phone-filtered")


def test_filters_apply_without_javascript_on_a_phone(live_server, browser, shop):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url + shop.get_absolute_url())
    page.get_by_role("link", name="Filter and sort").click()
    page.get_by_label("Summit (6)").check()
    page.get_by_role("button", name="Show results").click()
    expect(page.get_by_role("heading", name="6 products")).to_be_visible()
    expect(page).to_have_url(re.compile(r"brand=summit.*#results$"))
    expect(page.get_by_label("Summit (6)")).to_be_hidden()  # the drawer closed
    page.get_by_role("link", name="Remove filter Brand: Summit").click()
    expect(page.get_by_role("heading", name="12 products")).to_be_visible()
    context.close()


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_search_suggestions_with_the_keyboard(live_server, page, screenshot, shop, viewport):
    page.set_viewport_size(viewport)
    page.goto(live_server.url + "/")
    box = page.get_by_role("combobox", name="Search products")
    box.fill("lant")
    listbox = page.get_by_role("listbox")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("option").first).to_contain_text("Lantern")
    assert_accessible(page)
    screenshot(f"search-suggestions-{viewport['width']}")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    box.press("ArrowDown")
    expect(listbox).to_be_visible()
    box.press("ArrowDown")
    first = listbox.get_by_role("option").first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    name = first.locator(".site-search__name").inner_text()
    box.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_a_no_results_page_that_helps(live_server, page, screenshot, shop, viewport):
    page.set_viewport_size(viewport)
    # A typo is corrected; a filter that empties the list can be removed, with its count.
    page.goto(live_server.url + "/search/?q=Lanetrn&brand=fjell")
    expect(page.get_by_text("Showing results for lantern instead")).to_be_visible()
    expect(page.get_by_text("No product matches all of the filters you chose.")).to_be_visible()
    removal = page.locator(".no-results__removals li").filter(has_text="Brand: Fjell")
    expect(removal).to_contain_text("6 results")
    assert_accessible(page)
    screenshot(f"search-no-results-filtered-{viewport['width']}")
    removal.get_by_role("link").click()
    expect(page.get_by_role("heading", name="6 products")).to_be_visible()

    page.goto(live_server.url + "/search/?q=qwxyzzy")
    expect(page.get_by_text("Nothing matches “qwxyzzy”.")).to_be_visible()
    popular = page.get_by_role("region", name="Popular categories")
    expect(popular.get_by_role("link", name="Outdoors")).to_be_visible()
    assert_accessible(page)
    screenshot(f"search-no-results-{viewport['width']}")


def test_filters_apply_without_javascript_on_a_wide_screen(live_server, browser, shop):
    context = browser.new_context(java_script_enabled=False, viewport=WIDE)
    page = context.new_page()
    page.goto(live_server.url + shop.get_absolute_url())
    expect(page.get_by_role("link", name="Filter and sort")).to_be_hidden()  # a sidebar here
    page.get_by_label("Red (8)").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", name="8 products")).to_be_visible()
    expect(page).to_have_url(re.compile(r"colour=red.*#results$"))
    page.locator("#sort-select").select_option("price")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page).to_have_url(re.compile(r"colour=red.*sort=price|sort=price.*colour=red"))
    expect(page.locator(".product-card h3").first).to_have_text("Summit Lantern 1")
    context.close()
