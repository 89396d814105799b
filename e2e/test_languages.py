"""A Chinese shopper: the home and product pages under /zh-hans/, and the switch between
languages that keeps the page, with and without JavaScript."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.models import Specification
from catalog.tests.factories import (
    CategoryFactory,
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    TagFactory,
    VariantFactory,
)
from e2e.conftest import PHONE, assert_accessible


@pytest.fixture
def tee(transactional_db):
    clothing = CategoryFactory(name="Clothing", name_zh_hans="服装", slug="clothing")
    colour = OptionTypeFactory(name="Colour", name_zh_hans="颜色")
    red = OptionValueFactory(option_type=colour, value="Red", value_zh_hans="红色")
    blue = OptionValueFactory(option_type=colour, value="Blue", value_zh_hans="蓝色", slug="blue")
    tee = ProductFactory(
        name="Organic Tee", slug="organic-tee", category=clothing, is_featured=True,
        variants=False, description="Soft organic cotton.",
    )  # fmt: skip
    for sku, price, value in (("TEE-RED", "1234.50", red), ("TEE-BLUE", "19.00", blue)):
        VariantFactory(product=tee, sku=sku, price=Decimal(price), stock=3, option_values=[value])
    tee.tags.set([TagFactory(name="New", name_zh_hans="新品")])
    Specification.objects.create(
        product=tee, name="Material", name_zh_hans="材质", value="Cotton", value_zh_hans="棉"
    )
    return tee


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, PHONE], ids=["1366", "390"])
def test_the_chinese_home_and_product_pages(live_server, page, screenshot, tee, viewport):
    page.set_viewport_size(viewport)
    page.goto(live_server.url + "/zh-hans/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("combobox", name="搜索商品")).to_be_visible()
    expect(page.locator(".category-menu").get_by_role("link", name="服装")).to_be_visible()
    assert_accessible(page)
    screenshot(f"zh-home-{viewport['width']}")

    page.goto(live_server.url + "/zh-hans/p/organic-tee/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    main = page.locator("main")
    expect(main.get_by_text("US$1,234.50").first).to_be_visible()
    expect(main.get_by_text("红色").first).to_be_visible()
    expect(main.get_by_role("rowheader", name="材质")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)
    screenshot(f"zh-product-{viewport['width']}")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_switching_language_keeps_the_page(live_server, browser, tee, javascript):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(live_server.url + "/p/organic-tee/")
    # The footer's form (the only way to set the language cookie as well).
    page.get_by_role("combobox", name="Language").select_option("zh-hans")
    page.get_by_role("button", name="Change").click()
    expect(page).to_have_url(live_server.url + "/zh-hans/p/organic-tee/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    # The header's link back.
    page.locator(".site-languages").get_by_role("link", name="English").click()
    expect(page).to_have_url(live_server.url + "/p/organic-tee/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.close()
