"""A Chinese shopper pays with WeChat Pay in the shop's offline demo (`SHOP_CURRENCY=CNY make
run`), in Chinese (/zh-hans/): on a computer the QR code page (the SDK's Native order placed
with the demo's API over HTTP; the code's target is the demo cashier), where a click stands
for a phone's scan: the cashier (DEMO · 沙箱) takes Pay, posts WeChat Pay's notification,
encrypted and signed, to the shop's notify endpoint, and the QR page moves on to the paid
order by itself. On a phone, H5 pay: the cashier, Pay, and back to the return page, paid.
Nothing leaves the machine."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, DESKTOP, PHONE, assert_accessible
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory
from payments.models import PaymentEvent
from payments.tests.factories import enable_wallets_demo

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(scope="session")
def demo_keys(tmp_path_factory):
    return tmp_path_factory.mktemp("wallets-demo") / "keys.json"


@pytest.fixture
def scarf(settings, transactional_db, demo_keys):
    enable_wallets_demo(settings, demo_keys)
    product = ProductFactory(name="真丝围巾", slug="silk-scarf", variants=False)
    VariantFactory(product=product, price=Decimal("113.00"), stock=5)
    ShippingMethodFactory(name="顺丰", price=Decimal("0.00"))
    return product


def checkout_with_wechat(page, base, product) -> None:
    page.goto(base + product.get_absolute_url())
    page.locator(".buy-form button[type=submit]").click()
    expect(page.get_by_role("dialog")).to_be_visible()  # the mini cart: it is added
    page.goto(base + "/checkout/")
    page.locator("#id_email").fill("lilei@example.com")
    page.locator("#id_ship-country").select_option("CN")  # first: the fields follow it
    expect(page.locator('[data-address-row="region"]')).to_have_attribute("data-country", "CN")
    for name, value in {
        "full_name": "李雷", "phone": "+8613800138000", "line1": "建国门外大街 1 号",
        "city": "北京", "postcode": "100004",
    }.items():  # fmt: skip
        page.locator(f"#id_ship-{name}").fill(value)
    page.locator("#id_ship-region").select_option("北京市")
    page.locator("#id_shipping_method_0").check()
    page.get_by_label("微信支付").check()
    page.locator(".checkout__form button[type=submit]").last.click()
    page.locator(".place-order-form button").click()


def pay_at_the_cashier(page, shot: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("微信支付（演示）")
    expect(page.get_by_text("DEMO · 沙箱")).to_be_visible()
    expect(page.locator(".wallet-demo__amount")).to_have_text("¥113.00")
    assert_accessible(page)
    page.screenshot(path=_artifact(shot), full_page=True)
    page.get_by_role("button", name="支付 ¥113.00").click()


def test_on_a_computer_the_qr_code_leads_to_the_cashier_and_the_page_moves_on(
    live_server, browser, scarf
):
    context = browser.new_context(locale="zh-CN", viewport=DESKTOP)
    page = context.new_page()
    checkout_with_wechat(page, live_server.url + "/zh-hans", scarf)
    expect(page.get_by_role("heading", level=1)).to_have_text("微信支付")
    expect(page.locator("svg.wechatpay__qr")).to_be_visible()
    expect(page.locator(".wechatpay__amount")).to_have_text("¥113.00")
    expect(page.get_by_text("打开手机微信")).to_be_visible()
    order = Order.objects.get()
    assert order.payments.get().qr_code.startswith(live_server.url + "/payments/demo/wechatpay/")
    assert_accessible(page)
    page.screenshot(path=_artifact("wechatpay-qr-desktop"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=_artifact("wechatpay-qr-narrow"), full_page=True)
    page.set_viewport_size(DESKTOP)
    # The demo's link stands for a phone scanning the code.
    page.get_by_role("link", name="演示：打开演示收银台（相当于用手机扫码）").click()
    pay_at_the_cashier(page, "wechatpay-cashier-desktop")
    # Back on the QR page, which sees the order paid and opens it by itself.
    expect(page.locator(".order-state--paid")).to_be_visible(timeout=15000)
    assert f"/zh-hans/orders/{order.number}/" in page.url
    assert PaymentEvent.objects.get(provider="wechatpay").signature_valid
    assert_accessible(page)
    page.screenshot(path=_artifact("wechatpay-paid-order-desktop"), full_page=True)
    context.close()


def test_on_a_phone_h5_pay_opens_the_cashier_and_comes_back_paid(live_server, browser, scarf):
    context = browser.new_context(
        locale="zh-CN", viewport=PHONE, user_agent=PHONE_UA, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    checkout_with_wechat(page, live_server.url + "/zh-hans", scarf)
    assert "/payments/demo/wechatpay/pay/" in page.url and "redirect_url=" in page.url
    pay_at_the_cashier(page, "wechatpay-cashier-phone")
    expect(page.locator(".payment-badge--paid")).to_be_visible()
    assert "/zh-hans/payments/return/" in page.url
    assert Order.objects.get().payment_status == "paid"
    assert_accessible(page)
    page.screenshot(path=_artifact("wechatpay-h5-return-phone"), full_page=True)
    context.close()


def _artifact(name: str):
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
