"""A Chinese shopper pays with Alipay (支付宝) in the shop's offline demo (`SHOP_CURRENCY=CNY
make run`), at desktop and phone widths, under /zh-hans/: checkout offers 支付宝 first,
"place order" sends the browser to the demo's Alipay gateway (page pay on the computer, wap
pay on the phone: the SDK's own signed request), its cashier (marked DEMO · 沙箱) takes the
shopper's Pay, posts Alipay's signed notification to the shop's notify endpoint over HTTP
(verified by the SDK), and sends the shopper back with Alipay's signed return: paid, and the
order page says so. Nothing leaves the machine. Screenshots in e2e/artifacts/alipay-*.png."""

import json
import urllib.parse
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from orders.models import Order
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory
from payments.models import Payment, PaymentEvent
from payments.tests.factories import enable_wallets_demo
from payments.wallet_demo import gateways

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


@pytest.fixture(scope="session")
def demo_keys(tmp_path_factory):
    return tmp_path_factory.mktemp("wallets-demo") / "keys.json"


@pytest.fixture
def alipay_shop(settings, transactional_db, demo_keys):
    enable_wallets_demo(settings, demo_keys)
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
    expect(page.get_by_label("支付宝")).to_be_checked()  # the wallets come first
    assert_accessible(page)
    shoot(page, f"checkout-{device}")
    page.locator(".checkout__form button[type=submit]").last.click()
    expect(page.locator(".checkout__summary .totals")).to_contain_text("¥211.00")
    page.locator(".place-order-form button").click()

    # The browser is at the demo's Alipay gateway with the SDK's signed request.
    expect(page.get_by_role("heading", level=1)).to_have_text("支付宝收银台（演示）")
    expect(page.get_by_text("DEMO · 沙箱")).to_be_visible()
    expect(page.locator(".wallet-demo__amount")).to_have_text("¥211.00")
    assert page.url.startswith(live_server.url + "/payments/demo/alipay/gateway.do?")
    request = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
    assert gateways.alipay_request_valid(request) and request["method"] == method
    assert request["notify_url"] == live_server.url + "/payments/webhook/alipay/"
    payment = Payment.objects.get()
    assert json.loads(request["biz_content"])["out_trade_no"] == payment.reference
    assert_accessible(page)
    shoot(page, f"cashier-{device}")

    # Pay: Alipay's notification reaches the shop, then the signed return.
    page.get_by_role("button", name="支付 ¥211.00").click()
    expect(page.get_by_text("感谢您的付款：我们已收到 ¥211.00")).to_be_visible()
    assert "sign=" in page.url and "/zh-hans/payments/return/" in page.url
    assert PaymentEvent.objects.get(provider="alipay").signature_valid
    assert_accessible(page)
    shoot(page, f"return-{device}")

    order = Order.objects.get()
    assert order.payment_status == "paid" and order.payment_method == "alipay"
    page.goto(f"{base}{order.get_absolute_url()}?key={guest_key(number=order.number)}")
    expect(page.locator(".order-state--paid")).to_contain_text("已付款")
    assert_accessible(page)
    shoot(page, f"order-{device}")
    context.close()
