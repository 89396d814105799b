"""A Chinese shopper pays with Alipay (支付宝), at desktop and phone widths, under /zh-hans/:
checkout offers 支付宝, "place order" sends the browser to Alipay's gateway (page pay on the
computer, wap pay on the phone; the gateway is intercepted by the browser and answered with
a stand-in page), Alipay's signed notification is posted to the shop over HTTP, the signed
return shows the payment as received and the order page shows it paid. Screenshots of each
step in e2e/artifacts/alipay-*.png."""

import json
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from orders.models import Order
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory
from payments.models import Payment
from payments.tests import alipay_fakes as fakes
from payments.tests.factories import enable_providers

APP = fakes.KeyPair.new()
ALIPAY = fakes.KeyPair.new()
GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
WIDE = {"width": 1366, "height": 900}
DEVICES = {
    "desktop": (WIDE, None, "alipay.trade.page.pay"),
    "phone": (
        PHONE,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
        "alipay.trade.wap.pay",
    ),
}
#: What the browser shows for Alipay's page: the offline stand-in for the cashier.
CASHIER = """<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width"><title>支付宝收银台（测试替身）</title></head>
<body><main><h1>支付宝收银台（测试替身）</h1><p>{method}</p><p>订单号 {trade}</p>
<p>应付金额 ¥{amount}</p></main></body></html>"""


@pytest.fixture
def alipay_shop(settings, transactional_db):
    settings.SHOP_CURRENCY = "CNY"
    enable_providers(settings, ["manual", "alipay"])
    settings.ALIPAY_APP_ID = fakes.APP_ID
    settings.ALIPAY_SELLER_ID = fakes.SELLER_ID
    settings.ALIPAY_APP_PRIVATE_KEY = APP.private_pem
    settings.ALIPAY_PUBLIC_KEY = ALIPAY.public_pem
    settings.ALIPAY_SANDBOX = True
    product = ProductFactory(name="真丝围巾", slug="silk-scarf", variants=False)
    VariantFactory(product=product, price=Decimal("199.00"), stock=5)
    ShippingMethodFactory(name="顺丰速运", price=Decimal("12.00"))
    return product


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"alipay-{name}.png", full_page=True)


@pytest.mark.parametrize("device", list(DEVICES))
def test_a_chinese_shopper_pays_with_alipay(live_server, browser, alipay_shop, device):
    viewport, agent, method = DEVICES[device]
    context = browser.new_context(
        locale="zh-CN", viewport=viewport, **({"user_agent": agent} if agent else {})
    )
    page = context.new_page()
    sent = []

    def cashier(route):
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(route.request.url).query))
        sent.append(params)
        biz = json.loads(params["biz_content"])
        route.fulfill(
            content_type="text/html; charset=utf-8",
            body=CASHIER.format(
                method=params["method"], trade=biz["out_trade_no"], amount=biz["total_amount"]
            ),
        )

    page.route(GATEWAY + "*", cashier)
    base = live_server.url + "/zh-hans"
    page.goto(base + alipay_shop.get_absolute_url())
    page.locator(".buy-form button[type=submit]").click()
    expect(page.get_by_role("dialog")).to_be_visible()  # the mini cart: it is added
    page.goto(base + "/checkout/")
    page.locator("#id_email").fill("hanmeimei@example.com")
    page.locator("#id_ship-country").select_option("CN")  # first: the fields follow it
    expect(page.locator('[data-address-row="region"]')).to_have_attribute("data-country", "CN")
    for name, value in {
        "full_name": "韩梅梅", "phone": "+8613800138000", "line1": "南京西路 1266 号",
        "city": "上海", "postcode": "200040",
    }.items():  # fmt: skip
        page.locator(f"#id_ship-{name}").fill(value)
    page.locator("#id_ship-region").select_option("上海市")
    page.locator("#id_shipping_method_0").check()
    page.get_by_label("支付宝").check()
    assert_accessible(page)
    shoot(page, f"checkout-{device}")
    page.locator(".checkout__form button[type=submit]").last.click()
    expect(page.locator(".checkout__summary .totals")).to_contain_text("¥211.00")
    page.locator(".place-order-form button").click()

    # The browser is at Alipay's gateway with our signed request.
    expect(page.get_by_role("heading", level=1)).to_have_text("支付宝收银台（测试替身）")
    shoot(page, f"cashier-{device}")
    [request] = sent
    assert request["method"] == method
    assert APP.verifies(fakes.content_to_sign(request, request=True), request["sign"])
    biz = json.loads(request["biz_content"])
    payment = Payment.objects.get()
    assert biz["out_trade_no"] == payment.reference and biz["total_amount"] == "211.00"
    assert biz["subject"].startswith("订单")  # in the shopper's language
    assert request["notify_url"] == live_server.url + "/payments/webhook/alipay/"

    # Alipay posts its signed notification to the shop.
    notification = fakes.notification(payment, key=ALIPAY)
    posted = urllib.request.Request(  # noqa: S310 (the live server's own http URL)
        request["notify_url"],
        data=fakes.form(notification).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    with urllib.request.urlopen(posted, timeout=30) as answer:  # noqa: S310
        assert answer.read() == b"success"

    # ... and sends the shopper back with a signed query.
    back = fakes.signed(
        {
            "charset": "utf-8",
            "out_trade_no": payment.reference,
            "method": method + ".return",
            "total_amount": "211.00",
            "trade_no": notification["trade_no"],
            "auth_app_id": fakes.APP_ID,
            "version": "1.0",
            "app_id": fakes.APP_ID,
            "seller_id": fakes.SELLER_ID,
            "timestamp": "2026-12-01 10:00:01",
        },
        ALIPAY,
    )
    separator = "&" if "?" in request["return_url"] else "?"
    page.goto(request["return_url"] + separator + urllib.parse.urlencode(back))
    expect(page.get_by_text("感谢您的付款：我们已收到 ¥211.00")).to_be_visible()
    assert_accessible(page)
    shoot(page, f"return-{device}")

    order = Order.objects.get()
    assert order.payment_status == "paid" and order.payment_method == "alipay"
    page.goto(f"{base}{order.get_absolute_url()}?key={guest_key(number=order.number)}")
    expect(page.locator(".order-state--paid")).to_contain_text("已付款")
    assert_accessible(page)
    shoot(page, f"order-{device}")
    context.close()
