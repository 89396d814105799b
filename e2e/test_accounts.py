import re

from django.core import mail
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD as FACTORY_PASSWORD
from accounts.tests.factories import AddressFactory, UserFactory
from e2e.conftest import DESKTOP, PHONE, assert_accessible, scrolls_sideways, small_tap_targets

PASSWORD = "a-long-shop-secret-42"


def _both_sizes(page, screenshot, name):
    screenshot(f"{name}-desktop")
    page.set_viewport_size(PHONE)
    screenshot(f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def test_register_activate_sign_in_add_address_sign_out(live_server, page, screenshot):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    assert_accessible(page)
    _both_sizes(page, screenshot, "accounts-register")

    # Bad input first: a clear message, and what was typed is kept.
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("This password is too short", exact=False)).to_be_visible()
    expect(page.get_by_label("Full name")).to_have_value("Grace Hopper")
    assert_accessible(page)
    screenshot("accounts-register-errors-desktop")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert_accessible(page)

    [message] = mail.outbox
    link = re.search(r"http://\S+/accounts/activate/\S+/", message.body).group(0)
    page.goto(link)
    assert_accessible(page)
    page.get_by_role("button", name="Activate my account").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_text("Your account is active")).to_be_visible()
    assert_accessible(page)
    _both_sizes(page, screenshot, "accounts-login")
    page.get_by_label("Email or phone number").fill("grace@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    assert_accessible(page)
    _both_sizes(page, screenshot, "accounts-account")

    page.get_by_role("navigation", name="Your account").get_by_role(
        "link", name="Addresses"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your addresses")
    assert_accessible(page)
    page.get_by_role("link", name="Add an address").click()
    assert_accessible(page)
    page.get_by_label("Country").select_option("US")  # first: the fields follow it
    expect(page.locator('[data-address-row="region"]')).to_have_attribute("data-country", "US")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Phone number").fill("+1 415 555 2671")
    page.get_by_label("Address line 1").fill("1 Navy Yard")
    page.get_by_label("City or town").fill("Arlington")
    page.get_by_label("ZIP code").fill("2220")
    page.get_by_role("button", name="Save address").click()
    # The browser refuses what it can check; the server explains the rest beside each field.
    assert page.get_by_label("ZIP code").evaluate("e => e.validity.patternMismatch")
    assert page.get_by_label("State").evaluate("e => e.validity.valueMissing")
    page.evaluate("document.querySelector('[data-address-form]').noValidate = true")
    page.get_by_role("button", name="Save address").click()
    expect(page.get_by_text("does not look right")).to_be_visible()
    expect(page.get_by_text("Choose the state.")).to_be_visible()
    assert_accessible(page)
    screenshot("accounts-address-errors-desktop")
    page.get_by_label("ZIP code").fill("22202")
    page.get_by_label("State").select_option("VA")
    page.get_by_role("button", name="Save address").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your addresses")
    expect(page.locator("address")).to_contain_text("1 Navy Yard")
    expect(page.get_by_text("Default shipping address")).to_be_visible()
    assert_accessible(page)
    _both_sizes(page, screenshot, "accounts-addresses")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert_accessible(page)


def test_phone_only_shopper_signs_up_and_deletes_the_account_with_codes(
    live_server, page, screenshot, settings
):
    from django.core.cache import cache

    from accounts import sms
    from accounts.models import User

    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.outbox.clear()

    def last_code() -> str:
        return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)

    page.goto(live_server.url + "/accounts/login/phone/")
    page.get_by_label("Phone number").fill("+86 138 0013 8000")
    page.get_by_role("button", name="Text me a code").click()
    page.get_by_label("Six-digit code").fill(last_code())
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Your account is ready")).to_be_visible()

    page.goto(live_server.url + "/account/delete/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete your account")
    expect(page.get_by_text("+8613*****8000")).to_be_visible()
    assert_accessible(page)
    # The sign-in code went out less than a minute ago: one text a minute per number.
    page.get_by_role("button", name="Text me a code").click()
    expect(page.get_by_text("less than a minute ago")).to_be_visible()
    assert_accessible(page)
    cache.delete("accounts:code-sent-recently:+8613800138000")  # a minute passes
    page.get_by_role("button", name="Text me a code").click()
    expect(page.get_by_text("We texted a code")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Six-digit code").fill("12")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Enter the six digits of the code.")).to_be_visible()
    assert_accessible(page)
    _both_sizes(page, screenshot, "accounts-delete-by-code")
    page.get_by_label("Six-digit code").fill(last_code())
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account has been deleted")).to_be_visible()
    assert not User.objects.filter(phone="+8613800138000").exists()
    sms.outbox.clear()


NARROW_PHONE = {"width": 360, "height": 780}


def _fits_a_phone(page, url: str) -> None:
    page.set_viewport_size(PHONE)
    page.goto(url)
    assert_accessible(page)
    assert small_tap_targets(page) == [], url
    page.set_viewport_size(NARROW_PHONE)
    assert not scrolls_sideways(page), url


def test_account_pages_fit_a_phone_with_44_px_targets(live_server, browser):
    """Issue 16's phone bars on the account pages: every link and control at least 44 x 44 px
    at 390 px, and nothing scrolls sideways at 360 px."""
    user = UserFactory(email="lin@example.com")
    AddressFactory(user=user)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    for path in [
        "/accounts/login/",
        "/accounts/register/",
        "/accounts/password/reset/",
        "/accounts/login/phone/",
        "/accounts/activate/resend/",
    ]:
        _fits_a_phone(page, live_server.url + path)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email or phone number").fill(user.email)
    page.get_by_label("Password").fill(FACTORY_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    for path in [
        "/account/",
        "/account/addresses/",
        "/account/addresses/add/",
        "/account/email/",
        "/account/phone/",
        "/account/delete/",
        "/account/orders/",
        "/accounts/password/change/",
    ]:
        _fits_a_phone(page, live_server.url + path)
    context.close()
