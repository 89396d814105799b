"""A Chinese shopper pays with WeChat Pay, in Chinese (/zh-hans/): on a computer the QR code
page, which moves on to the paid order by itself once WeChat Pay's signed notification has
arrived; on a phone the H5 redirect, and back to the return page. WeChat Pay's API is
answered by `responses` (signed with the test's platform key) and its H5 page by a stand-in:
nothing leaves the machine."""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.test import Client
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import DESKTOP, PHONE, assert_accessible
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory
from payments.tests.wechat import API, WeChatPaySide, deliver, paid_resource

CODE_URL = "weixin://wxpay/bizpayurl?pr=E2eTest01"
H5_URL = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx01&package=2"
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def side(settings, transactional_db):
    side = WeChatPaySide.make()
    side.configure(settings)
    return side


@pytest.fixture
def wechat_api(side):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add_callback(
            responses.POST,
            API + "/v3/pay/transactions/native",
            callback=side.answer(200, {"code_url": CODE_URL}),
        )
        api.add_callback(
            responses.POST,
            API + "/v3/pay/transactions/h5",
            callback=side.answer(200, {"h5_url": H5_URL}),
        )
        api.add_passthru("http://localhost")  # the live server, for nothing else
        yield api


@pytest.fixture
def scarf(side):
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


def notify_paid(side) -> Order:
    """WeChat Pay's notification for the order's payment, encrypted and signed."""
    order = Order.objects.get()
    payment = order.payments.get()
    response = deliver(Client(), *side.notification(paid_resource(payment)))
    assert response.status_code == 200
    return order


def test_on_a_computer_the_qr_page_moves_on_to_the_paid_order(
    live_server, browser, side, wechat_api, scarf
):
    context = browser.new_context(locale="zh-CN", viewport=DESKTOP)
    page = context.new_page()
    checkout_with_wechat(page, live_server.url + "/zh-hans", scarf)
    expect(page.get_by_role("heading", level=1)).to_have_text("微信支付")
    expect(page.locator("svg.wechatpay__qr")).to_be_visible()
    expect(page.locator(".wechatpay__amount")).to_have_text("¥113.00")
    expect(page.get_by_text("打开手机微信")).to_be_visible()
    assert_accessible(page)
    page.screenshot(path=_artifact("wechatpay-qr-desktop"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=_artifact("wechatpay-qr-narrow"), full_page=True)
    page.set_viewport_size(DESKTOP)
    order = notify_paid(side)
    # The page's script sees the order paid and opens the order by itself.
    expect(page.locator(".order-state--paid")).to_be_visible(timeout=15000)
    assert f"/zh-hans/orders/{order.number}/" in page.url
    assert_accessible(page)
    page.screenshot(path=_artifact("wechatpay-paid-order-desktop"), full_page=True)
    context.close()


def test_on_a_phone_h5_pay_opens_wechat_and_comes_back_paid(
    live_server, browser, side, wechat_api, scarf
):
    context = browser.new_context(
        locale="zh-CN", viewport=PHONE, user_agent=PHONE_UA, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    # WeChat Pay's H5 page (it would open the WeChat app): a stand-in on this machine.
    page.route(
        "https://wx.tenpay.com/**",
        lambda route: route.fulfill(
            content_type="text/html; charset=utf-8",
            body="<!DOCTYPE html><html lang='zh-Hans'><title>微信支付</title><h1>微信支付 H5</h1>",
        ),
    )
    checkout_with_wechat(page, live_server.url + "/zh-hans", scarf)
    expect(page.get_by_role("heading", level=1)).to_have_text("微信支付 H5")
    assert page.url.startswith(H5_URL)
    back = parse_qs(urlsplit(page.url).query)["redirect_url"][0]
    assert "/zh-hans/payments/return/" in back
    notify_paid(side)
    page.goto(back)  # WeChat sends the shopper back once paid
    expect(page.locator(".payment-badge--paid")).to_be_visible()
    assert_accessible(page)
    page.screenshot(path=_artifact("wechatpay-h5-return-phone"), full_page=True)
    context.close()


def _artifact(name: str):
    from e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
