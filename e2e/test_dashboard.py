"""The merchant's dashboard in a browser: at 1366 px and at 390 px, checked with axe on
#content, screenshots under e2e/artifacts/, and "Orders to ship" followed to its list."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD
from e2e.conftest import ARTIFACTS, PHONE
from e2e.test_merchant_orders import WIDE, assert_admin_accessible
from insights.tests.fixtures import ZONE, build_shop


@pytest.fixture
def shop(transactional_db, settings):
    settings.TIME_ZONE = ZONE
    return build_shop()


def test_dashboard_at_desktop_and_phone_width_then_orders_to_ship(page, live_server, shop):
    page.set_viewport_size(WIDE)
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Email").fill(shop.merchant.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Sales")).to_be_visible()
    expect(page.locator(".insights-period").first).to_contain_text("$75.00")
    expect(page.locator("#content-main")).to_be_visible()  # the app list, below
    assert_admin_accessible(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "dashboard-desktop.png", full_page=True)

    page.get_by_text("The same figures as a table").click()
    expect(
        page.get_by_role("table", name="Revenue and orders per day, last 30 days")
    ).to_be_visible()
    assert_admin_accessible(page)

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_admin_accessible(page)
    page.screenshot(path=ARTIFACTS / "dashboard-phone.png", full_page=True)

    page.get_by_label("Period").select_option("7")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("table", name="Products by revenue")).to_contain_text("Linen Shirt")
    page.get_by_label("From", exact=True).fill("2026-02-01")
    page.get_by_label("To", exact=True).fill("2026-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("The end date is before the start date")
    assert_admin_accessible(page)
    page.set_viewport_size(WIDE)
    page.screenshot(path=ARTIFACTS / "dashboard-bad-period.png", full_page=True)

    page.get_by_role("link", name="5 Orders to ship").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(5)
    numbers = {shop.orders[name].number for name in "abcgi"}
    for number in numbers:
        expect(page.locator("#result_list")).to_contain_text(number)
    expect(page.locator("#changelist-filter")).to_contain_text("To ship")
    page.screenshot(path=ARTIFACTS / "dashboard-orders-to-ship.png", full_page=True)
