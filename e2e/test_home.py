import re

from playwright.sync_api import expect

from e2e.conftest import PHONE, assert_accessible


def test_home_page_shows_the_shop_frame(live_server, page, screenshot, settings):
    page.goto(live_server.url + "/")
    expect(page).to_have_title(re.compile(settings.SHOP_NAME))
    header = page.locator("header.site-header")
    expect(header.get_by_role("link", name=settings.SHOP_NAME)).to_be_visible()
    expect(header.get_by_role("combobox", name="Search products")).to_be_visible()
    expect(page.locator("main h1")).to_be_visible()
    assert_accessible(page)
    screenshot("home-desktop")

    page.set_viewport_size(PHONE)
    expect(header.get_by_role("combobox", name="Search products")).to_be_visible()
    screenshot("home-phone")


def test_skip_link_moves_focus_to_the_content(live_server, page):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    skip.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))


def test_not_found_page_is_in_the_shops_look(live_server, page, screenshot):
    response = page.goto(live_server.url + "/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We could not find that page")
    assert_accessible(page)
    screenshot("404")
